/* Pin directory per control socket (see pin_path.h). */
#include "control/pin_path.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "relayd/fastpath_abi.h"

/* well below NAME_MAX (255): one directory name per daemon */
#define MAX_NAME 200

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static bool plain(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

void pin_path_for(const char *ctl_path, char *out, size_t cap)
{
	bool changed = false;
	size_t n;

	if (!cap)
		return;
	if (strlen(ctl_path) > MAX_NAME) {
		snprintf(out, cap, "%s/ctl-%016" PRIx64, FP_PIN_DIR, fnv1a(ctl_path));
		return;
	}
	/* the BPF filesystem refuses names with a dot; '/' cannot be in one */
	n = (size_t)snprintf(out, cap, "%s/", FP_PIN_DIR);
	for (const char *p = ctl_path; *p && n + 1 < cap; p++) {
		changed |= !plain(*p) && *p != '/';
		out[n++] = plain(*p) ? *p : '_';
	}
	out[n < cap ? n : cap - 1] = 0;
	/* keep "a.sock" and "a_sock" apart */
	if (changed && n < cap)
		snprintf(out + n, cap - n, "-%08" PRIx32, (uint32_t)fnv1a(ctl_path));
}

/* Pin directory per control socket (see pin_path.h). */
#include "control/pin_path.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "relayd/fastpath_abi.h"

/* well below NAME_MAX (255): one directory name per daemon */
#define MAX_NAME 200

void pin_path_for(const char *ctl_path, char *out, size_t cap)
{
	size_t n;

	if (!cap)
		return;
	if (strlen(ctl_path) > MAX_NAME) {
		uint64_t h = 0xcbf29ce484222325ull;     /* FNV-1a */

		for (const char *p = ctl_path; *p; p++)
			h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
		snprintf(out, cap, "%s/ctl-%016" PRIx64, FP_PIN_DIR, h);
		return;
	}
	n = (size_t)snprintf(out, cap, "%s/", FP_PIN_DIR);
	for (const char *p = ctl_path; *p && n + 1 < cap; p++)
		out[n++] = *p == '/' ? '_' : *p;
	out[n < cap ? n : cap - 1] = 0;
}

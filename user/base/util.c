/* Helpers shared by every module (see util.h). */
#include "base/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

void util_oom(const char *what)
{
	log_write(LOG_FATAL, NULL, NULL, 0, "out of memory (%s), aborting", what);
	abort();
}

bool util_strcpy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (!cap)
		return false;
	if (n >= cap) {
		memcpy(dst, src, cap - 1);
		dst[cap - 1] = 0;
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

uint64_t util_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

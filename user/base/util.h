/* Small helpers shared by every module: time, out-of-memory policy, string
 * copies with truncation checks. */
#ifndef RELAYD_BASE_UTIL_H
#define RELAYD_BASE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CONTAINER_OF(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* Where the daemon cannot continue without memory (timer heap, registries):
 * log and abort rather than run with a silently broken invariant. */
_Noreturn void util_oom(const char *what);

/* strlcpy-style copy; returns false (and still NUL-terminates) on truncation. */
bool util_strcpy(char *dst, size_t cap, const char *src);

uint64_t util_wall_ms(void);

#endif

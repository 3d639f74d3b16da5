/* Minimal unit-test harness: each tests/unit/test_*.c is one binary whose main()
 * calls RUN() for every test; a failed CHECK prints file:line and marks the test
 * failed, and the binary exits non-zero when any test failed. */
#ifndef RELAYD_TESTS_UNIT_H
#define RELAYD_TESTS_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failed_checks;
static int unit_failed_tests;
static int unit_run_tests;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, \
				__LINE__, #cond);                                \
			unit_failed_checks++;                                    \
		}                                                                \
	} while (0)

#define CHECK_INT(a, b)                                                           \
	do {                                                                      \
		long long a_ = (long long)(a), b_ = (long long)(b);               \
		if (a_ != b_) {                                                   \
			fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", \
				__FILE__, __LINE__, #a, a_, #b, b_);              \
			unit_failed_checks++;                                     \
		}                                                                 \
	} while (0)

#define CHECK_STR(a, b)                                                          \
	do {                                                                     \
		const char *a_ = (a), *b_ = (b);                                 \
		if (!a_ || !b_ || strcmp(a_, b_)) {                              \
			fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a, a_ ? a_ : "(null)",      \
				b_ ? b_ : "(null)");                             \
			unit_failed_checks++;                                    \
		}                                                                \
	} while (0)

#define CHECK_MEM(a, alen, b, blen)                                               \
	do {                                                                      \
		size_t al_ = (alen), bl_ = (blen);                                \
		if (al_ != bl_ || memcmp((a), (b), al_)) {                        \
			fprintf(stderr, "  %s:%d: %s (%zu bytes) differs from %s (%zu bytes)\n", \
				__FILE__, __LINE__, #a, al_, #b, bl_);            \
			unit_failed_checks++;                                     \
		}                                                                 \
	} while (0)

#define RUN(fn)                                                          \
	do {                                                             \
		int before_ = unit_failed_checks;                        \
		unit_run_tests++;                                        \
		fn();                                                    \
		if (unit_failed_checks != before_) {                     \
			unit_failed_tests++;                             \
			fprintf(stderr, "FAIL %s\n", #fn);               \
		} else {                                                 \
			printf("ok   %s\n", #fn);                        \
		}                                                        \
	} while (0)

#define UNIT_DONE()                                                              \
	(printf("%d tests, %d failed\n", unit_run_tests, unit_failed_tests),    \
	 unit_failed_tests ? 1 : 0)

/* Path of a file in ../shared-style vector folders: RELAYD_VECTORS overrides. */
static inline const char *unit_vectors_dir(void)
{
	const char *d = getenv("RELAYD_VECTORS");

	return d && *d ? d : "tests/vectors";
}

#endif

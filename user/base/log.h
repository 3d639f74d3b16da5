/* Logging: GOST-style JSON lines (or plain text) on stderr or a file.  One
 * write(2) per line so lines from different threads never interleave. */
#ifndef RELAYD_BASE_LOG_H
#define RELAYD_BASE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };

/* Who a line is about; any field may be NULL. */
struct log_ctx {
	const char *service;
	const char *kind;       /* "service", "handler", "fastpath", "control" ... */
	const char *remote;
	const char *local;
	const char *user;
	const char *dst;
};

/* Extra numeric fields for connection summaries. */
struct log_num {
	const char *key;
	int64_t val;
};

int log_parse_level(const char *s, enum log_level *out);
/* format: "json" (default) or "text"; output: "stderr", "stdout", "none"/"null" or a file path. */
int log_configure(enum log_level level, const char *format, const char *output);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

void log_write(enum log_level level, const struct log_ctx *ctx, const struct log_num *nums,
	       int n_nums, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_trace(ctx, ...) \
	do { if (log_enabled(LOG_TRACE)) log_write(LOG_TRACE, ctx, NULL, 0, __VA_ARGS__); } while (0)
#define log_debug(ctx, ...) \
	do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, ctx, NULL, 0, __VA_ARGS__); } while (0)
#define log_info(ctx, ...) log_write(LOG_INFO, ctx, NULL, 0, __VA_ARGS__)
#define log_warn(ctx, ...) log_write(LOG_WARN, ctx, NULL, 0, __VA_ARGS__)
#define log_error(ctx, ...) log_write(LOG_ERROR, ctx, NULL, 0, __VA_ARGS__)

#endif

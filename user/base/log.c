/* Logging: formats one line into a stack buffer (JSON like GOST's logger, or
 * text) and writes it with a single write(2).  Level and destination are
 * process-wide and may change on reload. */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static _Atomic int g_level = LOG_INFO;
static _Atomic int g_fd = 2;
static _Atomic bool g_json = true;

static const char *const level_names[] = { "trace", "debug", "info", "warn", "error", "fatal" };

int log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_FATAL; i++) {
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(s, "warning")) {
		*out = LOG_WARN;
		return 0;
	}
	return -1;
}

int log_configure(enum log_level level, const char *format, const char *output)
{
	int fd = 2, old;

	if (format && strcmp(format, "json") && strcmp(format, "text"))
		return -EINVAL;
	if (output && *output && strcmp(output, "stderr")) {
		if (!strcmp(output, "stdout")) {
			fd = 1;
		} else if (!strcmp(output, "none") || !strcmp(output, "null")) {
			fd = -1;
		} else {
			fd = open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
			if (fd < 0)
				return -errno;
		}
	}
	atomic_store(&g_level, level);
	atomic_store(&g_json, !format || !strcmp(format, "json"));
	old = atomic_exchange(&g_fd, fd);
	if (old > 2)
		close(old);
	return 0;
}

void log_set_level(enum log_level level)
{
	atomic_store(&g_level, level);
}

bool log_enabled(enum log_level level)
{
	return (int)level >= atomic_load_explicit(&g_level, memory_order_relaxed) &&
	       atomic_load_explicit(&g_fd, memory_order_relaxed) >= 0;
}

struct line {
	char buf[LINE_MAX_BYTES];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - 2 - l->len)
		n = sizeof(l->buf) - 2 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void put_json_str(struct line *l, const char *s)
{
	char esc[8];

	put(l, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(l, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(l, esc, 6);
		} else {
			put(l, (const char *)&c, 1);
		}
	}
	put(l, "\"", 1);
}

static void put_field(struct line *l, bool json, const char *k, const char *v)
{
	if (!v)
		return;
	if (json) {
		put(l, ",", 1);
		put_json_str(l, k);
		put(l, ":", 1);
		put_json_str(l, v);
	} else {
		put(l, " ", 1);
		puts_(l, k);
		put(l, "=", 1);
		puts_(l, v);
	}
}

void log_write(enum log_level level, const struct log_ctx *ctx, const struct log_num *nums,
	       int n_nums, const char *fmt, ...)
{
	struct line l = { .len = 0 };
	char msg[2048], ts[64], num[32];
	bool json = atomic_load_explicit(&g_json, memory_order_relaxed);
	int fd = atomic_load_explicit(&g_fd, memory_order_relaxed);
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (fd < 0 || (int)level < atomic_load_explicit(&g_level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 now.tv_nsec / 1000000);
	if (json) {
		puts_(&l, "{\"level\":");
		put_json_str(&l, level_names[level]);
		puts_(&l, ",\"msg\":");
		put_json_str(&l, msg);
		put_field(&l, true, "time", ts);
	} else {
		puts_(&l, ts);
		put(&l, " ", 1);
		puts_(&l, level_names[level]);
		put(&l, " ", 1);
		puts_(&l, msg);
	}
	if (ctx) {
		put_field(&l, json, "kind", ctx->kind);
		put_field(&l, json, "service", ctx->service);
		put_field(&l, json, "remote", ctx->remote);
		put_field(&l, json, "local", ctx->local);
		put_field(&l, json, "user", ctx->user);
		put_field(&l, json, "dst", ctx->dst);
	}
	for (int i = 0; i < n_nums; i++) {
		snprintf(num, sizeof(num), "%lld", (long long)nums[i].val);
		if (json) {
			put(&l, ",", 1);
			put_json_str(&l, nums[i].key);
			put(&l, ":", 1);
			puts_(&l, num);
		} else {
			put_field(&l, false, nums[i].key, num);
		}
	}
	if (json)
		put(&l, "}", 1);
	l.buf[l.len++] = '\n';
	/* best effort: a full pipe or closed stderr must not take the daemon down */
	while (write(fd, l.buf, l.len) < 0 && errno == EINTR)
		;
}

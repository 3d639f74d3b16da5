/* Relay connection wrapper (see relay_conn.h). */
#include "proxy/relay_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/stream.h"
#include "proxy/relay_proto.h"

#define MERGE_MAX (64 * 1024)

struct relay_conn {
	struct stream s;
	struct stream *lower;
	uint8_t *prefix;                /* unsent part of the prefix */
	size_t prefix_off, prefix_len;
	bool parse;                     /* response still to read */
	uint8_t hdr[RELAY_HDR_LEN];
	size_t hdr_got;
	size_t skip;                    /* feature bytes still to discard */
	char err[64];
};

static void lower_cb(struct stream *lower, unsigned events, void *ud)
{
	struct relay_conn *c = ud;

	(void)lower;
	if (c->s.cb)
		c->s.cb(&c->s, events, c->s.ud);
}

static bool prefix_pending(const struct relay_conn *c)
{
	return c->prefix && c->prefix_off < c->prefix_len;
}

static void drop_prefix(struct relay_conn *c)
{
	free(c->prefix);
	c->prefix = NULL;
	c->prefix_off = c->prefix_len = 0;
}

static int fail(struct relay_conn *c, const char *text, int err)
{
	util_strcpy(c->err, sizeof(c->err), text);
	return err;
}

int relay_conn_read_response(struct stream *s)
{
	struct relay_conn *c = (struct relay_conn *)s;
	uint8_t sink[512];

	if (c->err[0])
		return -EPROTO;
	while (c->parse) {
		ssize_t r;

		if (c->hdr_got < RELAY_HDR_LEN) {
			r = stream_read(c->lower, c->hdr + c->hdr_got, RELAY_HDR_LEN - c->hdr_got);
		} else {
			r = stream_read(c->lower, sink, c->skip < sizeof(sink) ? c->skip : sizeof(sink));
		}
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return (int)r;
		if (r == 0)
			return fail(c, c->hdr_got ? "unexpected EOF" : "EOF", -EPROTO);
		if (c->hdr_got < RELAY_HDR_LEN) {
			c->hdr_got += (size_t)r;
			if (c->hdr_got < RELAY_HDR_LEN)
				continue;
			if (c->hdr[0] != RELAY_VERSION)
				return fail(c, "bad version", -EPROTO);
			c->skip = (size_t)c->hdr[2] << 8 | c->hdr[3];
		} else {
			c->skip -= (size_t)r;
		}
		if (c->hdr_got == RELAY_HDR_LEN && !c->skip) {
			c->parse = false;
			if (c->hdr[1] != RELAY_STATUS_OK) {
				char text[64];

				snprintf(text, sizeof(text), "%u %s", c->hdr[1],
					 relay_status_text(c->hdr[1]));
				return fail(c, text, -ECONNREFUSED);
			}
		}
	}
	return 1;
}

static ssize_t rc_read(struct stream *s, void *buf, size_t len)
{
	struct relay_conn *c = (struct relay_conn *)s;

	if (c->parse) {
		int r = relay_conn_read_response(s);

		if (r <= 0)
			return r ? r : -EAGAIN;
	}
	return stream_read(c->lower, buf, len);
}

static ssize_t rc_write(struct stream *s, const void *buf, size_t len)
{
	struct relay_conn *c = (struct relay_conn *)s;
	size_t plen, n;
	uint8_t *tmp;
	ssize_t w;

	if (c->err[0] && c->parse)
		return -EPROTO;
	if (!prefix_pending(c))
		return stream_write(c->lower, buf, len);
	/* the prefix and the first payload go out in one write, as GOST does */
	plen = c->prefix_len - c->prefix_off;
	n = len < MERGE_MAX ? len : MERGE_MAX;
	tmp = malloc(plen + n);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, c->prefix + c->prefix_off, plen);
	if (n)
		memcpy(tmp + plen, buf, n);
	w = stream_write(c->lower, tmp, plen + n);
	free(tmp);
	if (w < 0)
		return w;
	if ((size_t)w < plen) {
		c->prefix_off += (size_t)w;
		return -EAGAIN;         /* progress was made; the caller retries on WR */
	}
	drop_prefix(c);
	/* len 0 is a flush of the prefix alone (used before waiting for a response) */
	if (!len)
		return 0;
	return (size_t)w == plen ? -EAGAIN : w - (ssize_t)plen;
}

static int rc_shutdown(struct stream *s)
{
	struct relay_conn *c = (struct relay_conn *)s;

	/* a prefix never sent stays unsent: GOST's peer then reads EOF, not a
	 * status (server nodelay=false with a target that closed silently) */
	return stream_shutdown(c->lower);
}

static void rc_want(struct stream *s, unsigned events)
{
	stream_want(((struct relay_conn *)s)->lower, events);
}

static void rc_close(struct stream *s, bool abort)
{
	struct relay_conn *c = (struct relay_conn *)s;

	stream_close(c->lower, abort);
	free(c->prefix);
	free(c);
}

static int rc_raw_fd(struct stream *s)
{
	struct relay_conn *c = (struct relay_conn *)s;

	if (prefix_pending(c) || c->parse)
		return -1;
	return stream_raw_fd(c->lower);
}

static int rc_detach(struct stream *s)
{
	struct relay_conn *c = (struct relay_conn *)s;
	int fd = stream_detach(c->lower);

	free(c->prefix);
	free(c);
	return fd;
}

static void rc_describe(struct stream *s, char *out, size_t cap)
{
	struct relay_conn *c = (struct relay_conn *)s;
	char lower[48];

	stream_describe(c->lower, lower, sizeof(lower));
	snprintf(out, cap, "relay>%s", lower);
}

static const char *rc_error_text(struct stream *s)
{
	struct relay_conn *c = (struct relay_conn *)s;

	return c->err[0] ? c->err : stream_error_text(c->lower);
}

static const char *rc_tls_info(struct stream *s)
{
	return stream_tls_info(((struct relay_conn *)s)->lower);
}

static int rc_local_addr(struct stream *s, struct sockaddr_storage *ss)
{
	return stream_local_addr(((struct relay_conn *)s)->lower, ss);
}

static const struct stream_ops relay_conn_ops = {
	.read = rc_read,
	.write = rc_write,
	.shutdown = rc_shutdown,
	.want = rc_want,
	.close = rc_close,
	.raw_fd = rc_raw_fd,
	.detach = rc_detach,
	.describe = rc_describe,
	.error_text = rc_error_text,
	.local_addr = rc_local_addr,
	.tls_info = rc_tls_info,
};

struct stream *relay_conn_new(struct stream *lower, const struct relay_conn_opts *o)
{
	struct relay_conn *c = calloc(1, sizeof(*c));

	if (!c || (o->prefix_len && !(c->prefix = malloc(o->prefix_len)))) {
		free(c);
		stream_close(lower, false);
		return NULL;
	}
	c->s.ops = &relay_conn_ops;
	c->s.loop = lower->loop;
	c->lower = lower;
	c->parse = o->parse_response;
	if (o->prefix_len) {
		memcpy(c->prefix, o->prefix, o->prefix_len);
		c->prefix_len = o->prefix_len;
	}
	stream_set_cb(lower, lower_cb, c);
	if (o->send_now && prefix_pending(c)) {
		ssize_t w = stream_write(lower, c->prefix, c->prefix_len);

		if (w > 0)
			c->prefix_off = (size_t)w;
		if (!prefix_pending(c))
			drop_prefix(c);
	}
	return &c->s;
}

bool relay_conn_prefix_sent(struct stream *s)
{
	return !prefix_pending((struct relay_conn *)s);
}

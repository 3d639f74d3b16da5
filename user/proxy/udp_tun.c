/* UDP frames over a stream (see udp_tun.h). */
#include "proxy/udp_tun.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/relay_proto.h"

#define FRAME_MAX (4 + 1 + 255 + 2 + 65535)
#define OUT_CAP (1024 * 1024)

struct udp_tun {
	struct stream *s;
	struct udp_tun_callbacks cbs;
	void *ud;
	uint8_t *in;
	size_t ilen;
	uint8_t *out;
	size_t ooff, olen, ocap;
	bool failed, notified;
	char why[96];
	struct loop_task fail_task, pending_task;
};

static void fail_task_cb(struct loop_task *lt)
{
	struct udp_tun *t = CONTAINER_OF(lt, struct udp_tun, fail_task);

	if (!t->notified) {
		t->notified = true;
		t->cbs.closed(t->ud, t->why);
	}
}

static void fail(struct udp_tun *t, const char *why)
{
	if (t->failed)
		return;
	t->failed = true;
	util_strcpy(t->why, sizeof(t->why), why);
	stream_want(t->s, 0);
	loop_defer(t->s->loop, &t->fail_task);
}

static void set_interest(struct udp_tun *t)
{
	if (!t->failed)
		stream_want(t->s, STREAM_RD | (t->olen > t->ooff ? STREAM_WR : 0));
}

static void flush(struct udp_tun *t)
{
	while (!t->failed && t->olen > t->ooff) {
		ssize_t w = stream_write(t->s, t->out + t->ooff, t->olen - t->ooff);

		if (w == -EAGAIN)
			break;
		if (w < 0) {
			char why[96];

			snprintf(why, sizeof(why), "write: %s", strerror((int)-w));
			fail(t, why);
			return;
		}
		t->ooff += (size_t)w;
	}
	if (t->ooff == t->olen)
		t->ooff = t->olen = 0;
}

/* Delivers every complete frame in the input buffer. */
static void parse(struct udp_tun *t)
{
	size_t off = 0;

	while (!t->failed) {
		struct relay_addr a;
		size_t dlen = 0;
		int h = relay_udpbind_decode_hdr(t->in + off, t->ilen - off, &a, &dlen);

		if (h < 0) {
			fail(t, relay_strerror(h));
			break;
		}
		if (!h)
			break;
		if (!dlen) {
			/* GOST would read the rest unframed: nothing sane follows */
			fail(t, "frame with RSV 0 (no length): framing lost");
			break;
		}
		if (t->ilen - off < (size_t)h + dlen)
			break;
		t->cbs.datagram(t->ud, &a, t->in + off + h, dlen);
		off += (size_t)h + dlen;
	}
	if (off) {
		memmove(t->in, t->in + off, t->ilen - off);
		t->ilen -= off;
	}
}

static void stream_cb_(struct stream *s, unsigned events, void *ud)
{
	struct udp_tun *t = ud;

	(void)s;
	if (events & STREAM_RD) {
		for (int round = 0; round < 16 && !t->failed; round++) {
			ssize_t r = stream_read(t->s, t->in + t->ilen, FRAME_MAX - t->ilen);

			if (r == -EAGAIN)
				break;
			if (r <= 0) {
				char why[96];

				snprintf(why, sizeof(why), "read: %s",
					 r ? strerror((int)-r) : t->ilen ? "unexpected EOF" : "EOF");
				fail(t, why);
				return;
			}
			t->ilen += (size_t)r;
			parse(t);
		}
	}
	flush(t);
	set_interest(t);
}

static void pending_task_cb(struct loop_task *lt)
{
	struct udp_tun *t = CONTAINER_OF(lt, struct udp_tun, pending_task);

	parse(t);
	set_interest(t);
}

struct udp_tun *udp_tun_new(struct stream *s, const struct udp_tun_callbacks *cbs, void *ud,
			    const uint8_t *pending, size_t pending_len)
{
	struct udp_tun *t = calloc(1, sizeof(*t));

	if (!t || pending_len > FRAME_MAX || !(t->in = malloc(FRAME_MAX))) {
		free(t);
		stream_close(s, false);
		return NULL;
	}
	t->s = s;
	t->cbs = *cbs;
	t->ud = ud;
	loop_task_init(&t->fail_task, fail_task_cb);
	loop_task_init(&t->pending_task, pending_task_cb);
	if (pending_len) {
		memcpy(t->in, pending, pending_len);
		t->ilen = pending_len;
	}
	stream_set_cb(s, stream_cb_, t);
	/* pending frames are delivered on the first callback, not under the caller */
	stream_want(s, STREAM_RD);
	if (pending_len)
		loop_defer(s->loop, &t->pending_task);
	return t;
}

int udp_tun_send(struct udp_tun *t, const struct relay_addr *a, const uint8_t *data, size_t len)
{
	uint8_t hdr[4 + 1 + 255 + 2];
	int h;

	if (t->failed)
		return -EPIPE;
	h = relay_udpbind_encode_hdr(hdr, sizeof(hdr), a, len);
	if (h < 0)
		return -EMSGSIZE;
	if (t->olen + (size_t)h + len > OUT_CAP)
		return -ENOBUFS;
	if (t->olen + (size_t)h + len > t->ocap) {
		size_t ncap = t->ocap ? t->ocap : 16384;
		uint8_t *nb;

		while (ncap < t->olen + (size_t)h + len)
			ncap *= 2;
		nb = realloc(t->out, ncap);
		if (!nb)
			return -ENOBUFS;
		t->out = nb;
		t->ocap = ncap;
	}
	memcpy(t->out + t->olen, hdr, (size_t)h);
	memcpy(t->out + t->olen + h, data, len);
	t->olen += (size_t)h + len;
	set_interest(t);
	return 0;
}

void udp_tun_free(struct udp_tun *t)
{
	if (!t)
		return;
	loop_cancel(t->s->loop, &t->fail_task);
	loop_cancel(t->s->loop, &t->pending_task);
	stream_close(t->s, false);
	free(t->in);
	free(t->out);
	free(t);
}

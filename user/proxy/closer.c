/* Lingering close after a final message (see closer.h). */
#include "proxy/closer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/loop.h"
#include "net/stream.h"

struct closer {
	struct loop_obj obj;
	struct stream *s;
	struct loop_timer timer;
	size_t off, len;
	bool shut;
	uint8_t msg[];
};

static void closer_free(struct closer *c)
{
	loop_obj_del(c->s->loop, &c->obj);
	loop_timer_stop(c->s->loop, &c->timer);
	stream_close(c->s, false);
	free(c);
}

static void run(struct closer *c)
{
	uint8_t sink[4096];

	while (c->off < c->len) {
		ssize_t w = stream_write(c->s, c->msg + c->off, c->len - c->off);

		if (w == -EAGAIN) {
			stream_want(c->s, STREAM_WR);
			return;
		}
		if (w < 0) {
			closer_free(c);
			return;
		}
		c->off += (size_t)w;
	}
	if (!c->shut) {
		int e = stream_shutdown(c->s);

		if (e == -EAGAIN) {
			stream_want(c->s, STREAM_WR);
			return;
		}
		if (e) {
			closer_free(c);
			return;
		}
		c->shut = true;
	}
	for (int i = 0; i < 16; i++) {
		ssize_t r = stream_read(c->s, sink, sizeof(sink));

		if (r == -EAGAIN) {
			stream_want(c->s, STREAM_RD);
			return;
		}
		if (r <= 0) {
			closer_free(c);
			return;
		}
	}
	stream_want(c->s, STREAM_RD);
}

static void cb(struct stream *s, unsigned events, void *ud)
{
	(void)s;
	(void)events;
	run(ud);
}

static void timeout_cb(struct loop_timer *t)
{
	closer_free(CONTAINER_OF(t, struct closer, timer));
}

static void close_obj(struct loop_obj *o)
{
	closer_free(CONTAINER_OF(o, struct closer, obj));
}

void closer_start(struct stream *s, const void *msg, size_t len)
{
	struct closer *c = malloc(sizeof(*c) + len);

	if (!c) {
		stream_close(s, false);
		return;
	}
	c->s = s;
	c->off = 0;
	c->len = len;
	c->shut = false;
	if (len)
		memcpy(c->msg, msg, len);
	loop_obj_add(s->loop, &c->obj, close_obj);
	loop_timer_init(&c->timer, timeout_cb);
	loop_timer_start(s->loop, &c->timer, CLOSER_GRACE_MS);
	stream_set_cb(s, cb, c);
	run(c);
}

/* The datagram pump (see dgram_pipe.h). */
#include "proxy/dgram_pipe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "control/conns.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/udp_framer.h"

#define BATCH 64                /* datagrams per direction per wake-up */
#define DROP_LOG_MS 1000

struct dgram_side {
	struct stream *s;
	bool framed;
	struct udp_framer f;
};

struct dgram_pipe {
	struct loop_obj obj;
	struct loop *loop;
	struct dgram_side side[2];
	bool blocked[2];                /* direction i waits for room on side !i */
	struct conn_info *ci;
	struct log_ctx lc;
	char service[64];
	uint32_t idle_ms;
	bool end_after_reply, replied;
	struct loop_timer idle;
	struct loop_task again;         /* frames left in a framer when a batch ended */
	uint64_t drops[2], drops_logged[2], last_drop_log;
	uint64_t too_big[2], too_big_logged[2];
};

/* one datagram read from a raw side, consumed before the next read */
static _Thread_local uint8_t g_scratch[UDP_MAX_DGRAM + 1];

static void dp_free(struct dgram_pipe *p)
{
	loop_obj_del(p->loop, &p->obj);
	loop_timer_stop(p->loop, &p->idle);
	loop_cancel(p->loop, &p->again);
	for (int i = 0; i < 2; i++)
		if (p->side[i].framed)
			udp_framer_fini(&p->side[i].f);
	free(p);
}

static void log_drops(struct dgram_pipe *p, bool force)
{
	uint64_t now = loop_now(p->loop);

	if (!force && now - p->last_drop_log < DROP_LOG_MS)
		return;
	for (int i = 0; i < 2; i++) {
		uint64_t n = p->drops[i] - p->drops_logged[i];
		uint64_t b = p->too_big[i] - p->too_big_logged[i];

		if (n)
			log_warn(&p->lc, "udp: dropped %llu datagram%s to the %s (it cannot take more now)",
				 (unsigned long long)n, n == 1 ? "" : "s", i ? "target" : "client");
		if (b)
			log_warn(&p->lc, "udp: dropped %llu datagram%s too large for the %s's network "
				 "(message too long)", (unsigned long long)b, b == 1 ? "" : "s",
				 i ? "target" : "client");
		p->drops_logged[i] = p->drops[i];
		p->too_big_logged[i] = p->too_big[i];
	}
	p->last_drop_log = now;
}

static void dp_end(struct dgram_pipe *p, const char *why)
{
	if (why) {
		conns_set_error(p->ci, "%s", why);
		log_info(&p->lc, "udp: %s", why);
	}
	log_drops(p, true);
	conns_set_path(p->ci, CONN_PATH_CLOSING);
	for (int i = 0; i < 2; i++)
		stream_close(p->side[i].s, false);
	conns_done(p->ci);
	dp_free(p);
}

static void side_error(struct dgram_pipe *p, int i, int err)
{
	const char *who = i ? "target" : "client";
	const char *text = stream_error_text(p->side[i].s);
	char why[160];

	if (err == UDP_FRAMER_EOF) {
		dp_end(p, NULL);
		return;
	}
	if (err == UDP_FRAMER_TRUNC)
		snprintf(why, sizeof(why), "%s: stream ended inside a frame (truncated datagram)", who);
	else
		snprintf(why, sizeof(why), "%s: %s", who, text ? text : strerror(-err));
	dp_end(p, why);
}

static void count(struct dgram_pipe *p, int dir, size_t len)
{
	conns_add_user(p->ci, dir == PIPE_CLIENT, len);
	atomic_fetch_add_explicit(dir == PIPE_CLIENT ? &p->ci->dgrams_up : &p->ci->dgrams_down, 1,
				  memory_order_relaxed);
	atomic_store_explicit(&p->ci->last_mono_ms, loop_now(p->loop), memory_order_relaxed);
	conns_add_path_bytes(CONN_PATH_USER, len);
}

/* One datagram to side d: 0 delivered, 1 dropped, or a -errno that ends the session. */
static int deliver(struct dgram_pipe *p, int d, const uint8_t *dg, size_t len)
{
	struct dgram_side *dst = &p->side[d];
	ssize_t w;

	if (dst->framed)
		return udp_framer_put(&dst->f, dg, len);       /* room was checked */
	w = stream_write(dst->s, dg, len);
	if (w >= 0)
		return 0;
	if (w == -EAGAIN || w == -ENOBUFS)
		p->drops[d]++;
	else if (w == -EMSGSIZE)
		p->too_big[d]++;
	else
		return (int)w;
	log_drops(p, false);
	return 1;
}

/* Moves datagrams from side i to side !i: 0, or < 0 with *failed set. */
static int pump(struct dgram_pipe *p, int i, int *failed)
{
	struct dgram_side *src = &p->side[i], *dst = &p->side[!i];

	p->blocked[i] = false;
	for (int n = 0; n < BATCH; n++) {
		const uint8_t *dg;
		size_t len;
		int r;

		if (dst->framed && !udp_framer_room(&dst->f, UDP_MAX_DGRAM)) {
			r = udp_framer_flush(&dst->f);
			if (r < 0 && r != -EAGAIN) {
				*failed = !i;
				return r;
			}
			if (!udp_framer_room(&dst->f, UDP_MAX_DGRAM)) {
				p->blocked[i] = true;
				return 0;
			}
		}
		if (src->framed) {
			r = udp_framer_next(&src->f, &dg, &len);
			if (r == 0)
				break;
		} else {
			ssize_t rd = stream_read(src->s, g_scratch, sizeof(g_scratch));

			if (rd == -EAGAIN)
				break;
			r = rd < 0 ? (int)rd : 1;
			dg = g_scratch;
			len = rd < 0 ? 0 : (size_t)rd;
		}
		if (r < 0) {
			*failed = i;
			return r;
		}
		r = deliver(p, !i, dg, len);
		if (r < 0) {
			*failed = !i;
			return r;
		}
		if (r)
			continue;
		count(p, i, len);
		if (i == PIPE_TARGET)
			p->replied = true;
	}
	if (dst->framed && udp_framer_pending(&dst->f)) {
		int r = udp_framer_flush(&dst->f);

		if (r < 0 && r != -EAGAIN) {
			*failed = !i;
			return r;
		}
	}
	return 0;
}

static void run(struct dgram_pipe *p)
{
	for (int i = 0; i < 2; i++) {
		int failed = 0, r = pump(p, i, &failed);

		if (r < 0) {
			side_error(p, failed, r);
			return;
		}
	}
	if (p->end_after_reply && p->replied && !udp_framer_pending(&p->side[PIPE_CLIENT].f)) {
		dp_end(p, NULL);
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct dgram_side *sd = &p->side[i];
		unsigned ev = p->blocked[i] ? 0 : STREAM_RD;

		if (sd->framed && udp_framer_pending(&sd->f))
			ev |= STREAM_WR;
		stream_want(sd->s, ev);
		/* buffered frames raise no readiness: come back for them */
		if (!p->blocked[i] && sd->framed && udp_framer_has_frame(&sd->f))
			loop_defer(p->loop, &p->again);
	}
}

static void again_cb(struct loop_task *t)
{
	run(CONTAINER_OF(t, struct dgram_pipe, again));
}

static void stream_event(struct stream *s, unsigned events, void *ud)
{
	(void)s;
	(void)events;
	run(ud);
}

static void idle_cb(struct loop_timer *t)
{
	struct dgram_pipe *p = CONTAINER_OF(t, struct dgram_pipe, idle);
	uint64_t last = atomic_load(&p->ci->last_mono_ms), now = loop_now(p->loop);

	if (now - last >= p->idle_ms) {
		char why[64];

		snprintf(why, sizeof(why), "idle for %u ms (ttl)", p->idle_ms);
		conns_set_error(p->ci, "%s", why);
		log_debug(&p->lc, "udp: %s", why);
		dp_end(p, NULL);
		return;
	}
	loop_timer_start(p->loop, &p->idle, p->idle_ms - (now - last));
}

/* daemon shutdown, or relayctl kill */
static void close_obj(struct loop_obj *o)
{
	struct dgram_pipe *p = CONTAINER_OF(o, struct dgram_pipe, obj);

	conns_set_error(p->ci, "closed");
	dp_end(p, NULL);
}

int dgram_pipe_start(struct stream *client, struct stream *target, struct conn_info *ci,
		     const struct dgram_pipe_opts *o)
{
	struct dgram_pipe *p = calloc(1, sizeof(*p));
	struct stream *s[2] = { client, target };
	int e = 0;

	if (!p) {
		e = -ENOMEM;
	} else {
		p->loop = client->loop;
		p->ci = ci;
		for (int i = 0; i < 2; i++) {
			p->side[i].s = s[i];
			p->side[i].framed = o->framed[i];
			if (o->framed[i] && !e)
				e = udp_framer_init(&p->side[i].f, s[i], i ? NULL : o->pending,
						    i ? 0 : o->pending_len);
			if (e)
				p->side[i].framed = false;
		}
	}
	if (e) {
		conns_set_error(ci, "out of memory");
		stream_close(client, false);
		stream_close(target, false);
		conns_done(ci);
		if (p)
			dp_free(p);
		return e;
	}
	util_strcpy(p->service, sizeof(p->service), o->service ? o->service : ci->service);
	p->lc.kind = "handler";
	p->lc.service = p->service;
	p->lc.remote = ci->client;
	p->lc.dst = ci->target;
	p->idle_ms = o->idle_ms;
	p->end_after_reply = o->end_after_reply;
	ci->datagram = true;
	atomic_store(&ci->last_mono_ms, loop_now(p->loop));
	conns_set_path(ci, CONN_PATH_USER);
	loop_obj_add(p->loop, &p->obj, close_obj);
	loop_obj_tag(&p->obj, ci->id);
	loop_timer_init(&p->idle, idle_cb);
	loop_task_init(&p->again, again_cb);
	if (p->idle_ms)
		loop_timer_start(p->loop, &p->idle, p->idle_ms);
	for (int i = 0; i < 2; i++)
		stream_set_cb(s[i], stream_event, p);
	run(p);
	return 0;
}

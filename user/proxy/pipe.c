/* The userspace copy pump and the hand-over to splice or the kernel fast path
 * (see pipe.h).  Each direction has one bounded buffer; back-pressure is
 * read interest switched off, never a growing buffer. */
#include "proxy/pipe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/leftover.h"
#include "base/log.h"
#include "base/util.h"
#include "control/conns.h"
#include "control/metrics.h"
#include "fastpath/fp.h"
#include "net/loop.h"
#include "net/stream.h"

#define PIPE_BUF_SIZE (64 * 1024)
#define PUMP_ROUNDS 16

struct pipe_dir {
	uint8_t *buf;
	size_t off, len;
	bool eof;               /* source returned end of stream */
	bool shut;              /* destination half-closed */
};

struct pipe {
	struct loop_obj obj;
	struct loop *loop;
	struct stream *s[2];
	struct pipe_dir d[2];   /* d[i]: s[i] → s[!i] */
	struct conn_info *ci;
	bool accel_failed;
	uint64_t flush_after, up_bytes;
};

static enum pipe_accel g_accel = PIPE_ACCEL_KERNEL;
static unsigned g_test_delay_ms;

void pipe_set_accel(enum pipe_accel a)
{
	g_accel = a;
}

void pipe_set_test_delay(unsigned ms)
{
	g_test_delay_ms = ms;
}

static void pipe_free(struct pipe *p)
{
	loop_obj_del(p->loop, &p->obj);
	for (int i = 0; i < 2; i++)
		free(p->d[i].buf);
	free(p);
}

static void pipe_end(struct pipe *p, int failed_side, int err)
{
	bool rst = err == -ECONNRESET || err == -EPIPE;

	if (err) {
		const char *why = p->s[failed_side] ? stream_error_text(p->s[failed_side]) : NULL;

		conns_set_error(p->ci, "%s: %s", failed_side ? "target" : "client",
				why ? why : strerror(-err));
	}
	conns_set_path(p->ci, CONN_PATH_CLOSING);
	for (int i = 0; i < 2; i++)
		if (p->s[i])
			stream_close(p->s[i], rst && i != failed_side);
	conns_done(p->ci);
	pipe_free(p);
}

/* Moves what it can in direction i; returns 0 or the error of the side that failed. */
static int pump_dir(struct pipe *p, int i, int *failed_side)
{
	struct pipe_dir *d = &p->d[i];
	struct stream *src = p->s[i], *dst = p->s[!i];

	for (int round = 0; round < PUMP_ROUNDS; round++) {
		if (d->len > d->off) {
			ssize_t w = stream_write(dst, d->buf + d->off, d->len - d->off);

			if (w == -EAGAIN)
				return 0;
			if (w < 0) {
				*failed_side = !i;
				return (int)w;
			}
			d->off += (size_t)w;
			if (i == PIPE_CLIENT)
				p->up_bytes += (uint64_t)w;
			conns_add_user(p->ci, i == PIPE_CLIENT, (uint64_t)w);
			conns_add_path_bytes(CONN_PATH_USER, (uint64_t)w);
			if (d->off < d->len)
				continue;
			d->off = d->len = 0;
		}
		if (d->eof) {
			if (!d->shut) {
				int err = stream_shutdown(dst);

				if (err && err != -ENOTCONN && err != -EAGAIN) {
					*failed_side = !i;
					return err;
				}
				if (err == -EAGAIN)
					return 0;
				d->shut = true;
			}
			return 0;
		}
		if (!d->buf && !(d->buf = malloc(PIPE_BUF_SIZE))) {
			*failed_side = i;
			return -ENOMEM;
		}
		{
			ssize_t r = stream_read(src, d->buf, PIPE_BUF_SIZE);

			if (r == -EAGAIN)
				return 0;
			if (r < 0) {
				*failed_side = i;
				return (int)r;
			}
			if (r == 0)
				d->eof = true;
			d->len = (size_t)r;
			d->off = 0;
		}
	}
	return 0;
}

static void set_interest(struct pipe *p)
{
	unsigned want[2] = { 0, 0 };

	for (int i = 0; i < 2; i++) {
		struct pipe_dir *d = &p->d[i];

		if (d->len > d->off || (d->eof && !d->shut))
			want[!i] |= STREAM_WR;
		else if (!d->eof)
			want[i] |= STREAM_RD;
	}
	for (int i = 0; i < 2; i++)
		stream_want(p->s[i], want[i]);
}

static void stream_cb_(struct stream *s, unsigned events, void *ud);

static struct leftover take_buf(struct pipe_dir *d)
{
	struct leftover lo = { .buf = d->buf, .off = d->off, .len = d->len };

	d->buf = NULL;
	d->off = d->len = 0;
	return lo;
}

static void give_buf(struct pipe_dir *d, struct leftover *lo)
{
	free(d->buf);
	d->buf = lo->buf;
	d->off = lo->off;
	d->len = lo->len;
	*lo = (struct leftover){ 0 };
	if (!d->buf)
		d->off = d->len = 0;
}

/* Both ends bare TCP sockets: leave the copying to the kernel (or splice).
 * Bytes still buffered here travel with the hand-over and go out first.
 * Returns true when the pipe is gone (handed over). */
static bool try_accelerate(struct pipe *p)
{
	bool kernel = g_accel == PIPE_ACCEL_KERNEL && fp_ready();
	struct leftover lo[2];
	int fd[2], err;

	if (g_accel == PIPE_ACCEL_NONE || p->accel_failed)
		return false;
	for (int i = 0; i < 2; i++)
		if (p->d[i].eof || p->d[i].shut || stream_raw_fd(p->s[i]) < 0)
			return false;
	if (kernel) {
		/* the verdict sees whole skbs: none may be left partly read */
		for (int i = 0; i < 2; i++) {
			int rc;

			lo[i] = take_buf(&p->d[i]);
			rc = fp_read_to_boundary(stream_raw_fd(p->s[i]), &lo[i]);
			give_buf(&p->d[i], &lo[i]);
			if (rc < 0) {
				pipe_end(p, i, rc);
				return true;
			}
			if (!rc)
				return false;   /* still streaming in: next round */
		}
	}
	if (g_accel == PIPE_ACCEL_KERNEL && !kernel)
		metrics_fallback(METRICS_FB_BPF_UNAVAILABLE);
	if (g_test_delay_ms)
		usleep(g_test_delay_ms * 1000u);
	for (int i = 0; i < 2; i++) {
		lo[i] = take_buf(&p->d[i]);
		fd[i] = stream_detach(p->s[i]);
		p->s[i] = NULL;
	}
	if (kernel) {
		err = fp_adopt(fd[0], fd[1], p->ci, lo);
		if (!err)
			goto handed_over;
		metrics_fallback(METRICS_FB_REFUSED);
		{
			struct log_ctx lc = { .kind = "fastpath", .service = p->ci->service };

			log_debug(&lc, "conn %llu: kernel fast path refused (%s)%s; using splice",
				  (unsigned long long)p->ci->id, strerror(-err),
				  err == -EOPNOTSUPP ? ": a side closed before pairing" : "");
		}
	}
	err = splice_pump_start(p->loop, fd[0], fd[1], p->ci, lo);
	if (!err)
		goto handed_over;
	p->accel_failed = true;
	metrics_fallback(METRICS_FB_SPLICE_FAILED);
	for (int i = 0; i < 2; i++)
		give_buf(&p->d[i], &lo[i]);
	p->s[0] = tcp_stream_new(p->loop, fd[0]);
	p->s[1] = tcp_stream_new(p->loop, fd[1]);
	if (!p->s[0] || !p->s[1]) {
		pipe_end(p, 0, -ENOMEM);
		return true;
	}
	stream_set_cb(p->s[0], stream_cb_, p);
	stream_set_cb(p->s[1], stream_cb_, p);
	return false;
handed_over:
	pipe_free(p);
	return true;
}

static void run(struct pipe *p)
{
	int failed_side = 0, err;

	for (int i = 0; i < 2; i++) {
		err = pump_dir(p, i, &failed_side);
		if (err) {
			pipe_end(p, failed_side, err);
			return;
		}
	}
	if (p->d[0].shut && p->d[1].shut) {
		pipe_end(p, 0, 0);
		return;
	}
	if (p->flush_after && p->up_bytes >= p->flush_after) {
		ssize_t w = stream_write(p->s[PIPE_CLIENT], NULL, 0);

		if (w == 0)
			p->flush_after = 0;
		else if (w != -EAGAIN) {
			pipe_end(p, PIPE_CLIENT, (int)w);
			return;
		}
	}
	if (try_accelerate(p))
		return;
	set_interest(p);
}

static void stream_cb_(struct stream *s, unsigned events, void *ud)
{
	(void)s;
	(void)events;
	run(ud);
}

static void close_obj(struct loop_obj *o)
{
	struct pipe *p = CONTAINER_OF(o, struct pipe, obj);

	conns_set_error(p->ci, "relayd shutting down");
	pipe_end(p, 0, 0);
}

int pipe_start(struct stream *client, struct stream *target, struct conn_info *ci,
	       const struct pipe_opts *o)
{
	struct pipe *p = calloc(1, sizeof(*p));

	if (!p) {
		stream_close(client, false);
		stream_close(target, false);
		conns_set_error(ci, "out of memory");
		conns_done(ci);
		return -ENOMEM;
	}
	p->loop = client->loop;
	loop_obj_add(p->loop, &p->obj, close_obj);
	loop_obj_tag(&p->obj, ci->id);
	p->s[0] = client;
	p->s[1] = target;
	p->ci = ci;
	conns_set_path(ci, CONN_PATH_USER);
	if (g_accel == PIPE_ACCEL_KERNEL && (stream_raw_fd(client) < 0 || stream_raw_fd(target) < 0))
		metrics_fallback(METRICS_FB_TRANSPORT);
	if (o)
		p->flush_after = o->flush_client_after;
	for (int i = 0; o && i < 2; i++) {
		if (!o->pending_len[i])
			continue;
		p->d[i].buf = malloc(o->pending_len[i] > PIPE_BUF_SIZE ? o->pending_len[i]
								       : PIPE_BUF_SIZE);
		if (!p->d[i].buf) {
			p->s[0] = client;
			pipe_end(p, i, -ENOMEM);
			return -ENOMEM;
		}
		memcpy(p->d[i].buf, o->pending[i], o->pending_len[i]);
		p->d[i].len = o->pending_len[i];
	}
	stream_set_cb(client, stream_cb_, p);
	stream_set_cb(target, stream_cb_, p);
	run(p);
	return 0;
}

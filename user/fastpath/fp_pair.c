/* Fast-path pairs: insertion (on the worker thread) and everything after it
 * (on the fast-path thread).  The kernel does not propagate FIN or RST between
 * redirected sockets, so this file does, and only once every byte redirected
 * before it has reached the peer's send queue (FIN) or been acknowledged (RST).
 * Redirected skbs are not memory-accounted and nothing pushes back on the
 * sender, so a direction whose destination drains slower than its source
 * fills is throttled: the verdict passes its skbs to the source socket's own
 * queue, which TCP flow-controls, this file copies them once the earlier
 * redirected bytes are out, and the kernel takes over again once the copy
 * has caught up (see fp_pair.h for the modes).  The verdict throttles itself
 * when a direction's allowance runs out, so the unaccounted queue never
 * exceeds the limit by more than what the thread lets through between two
 * checks. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "base/leftover.h"
#include "base/log.h"
#include "base/u64map.h"
#include "base/util.h"
#include "control/conns.h"
#include "fastpath/fp_internal.h"
#include "fastpath/fp_pair.h"
#include "relayd/fastpath_abi.h"

/* large reads and writes: a throttled direction must outpace its sender to
 * catch up and go back to the kernel; freed when it does */
#define COPY_BUF (512 * 1024)
/* enough rounds to empty a full receive buffer in one go: catching up needs
 * one moment with nothing left to read */
#define COPY_ROUNDS 256
#define POLL_MAX_MS 64
#define ABORT_WAIT_MS 2000

static struct u64map g_pairs;           /* cookie → pair, fast-path thread only */
static const struct log_ctx lc = { .kind = "fastpath" };

/* ---- insertion (worker thread) ---- */

static void put_ctl(uint32_t slot, uint64_t word, uint64_t allow)
{
	atomic_store_explicit(&fp_g.ctls[slot].allow, allow, memory_order_release);
	atomic_store_explicit(&fp_g.ctls[slot].word, word, memory_order_release);
}

static void undo_insert(struct fp_pair *p)
{
	for (int i = 0; i < 2; i++) {
		bpf_map_delete_elem(fp_g.rx_fd, &p->cookie[i]);
		bpf_map_delete_elem(fp_g.tx_fd, &p->cookie[i]);
		bpf_map_delete_elem(fp_g.conns_fd, &p->cookie[i]);
		if (p->have_slot[i])
			fp_slot_free(p->slot[i]);
		p->have_slot[i] = false;
	}
}

int fp_adopt(int fd_client, int fd_target, struct conn_info *ci, struct leftover pre[2])
{
	struct fp_pair *p;
	int one = 1, err = 0;

	if (!fp_g.ready)
		return -ENODEV;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd[0] = fd_client;
	p->fd[1] = fd_target;
	p->error_side = -1;
	p->ci = ci;
	for (int i = 0; i < 2; i++) {
		struct fp_qstate q;

		err = fp_sock_cookie(p->fd[i], &p->cookie[i]);
		if (!err)
			err = fp_sock_qstate(p->fd[i], &q);
		if (err)
			goto fail;
		/* tcpi_bytes_acked counts the SYN on the connect() side, and bytes
		 * userspace wrote may still be queued: compare against this baseline */
		p->base[i] = q.acked + q.outq;
	}
	/* a bigger send buffer keeps the psock worker from stalling a tick on a
	 * full one; it is a limit, not an allocation (best effort) */
	for (int i = 0; i < 2; i++)
		setsockopt(p->fd[i], SOL_SOCKET, SO_SNDBUFFORCE, &fp_g.opts.sndbuf,
			   sizeof(fp_g.opts.sndbuf));
	for (int i = 0; i < 2; i++) {
		struct fp_conn c = { .peer_cookie = p->cookie[!i] };

		err = fp_slot_alloc(&p->slot[i]);
		if (err)
			goto fail_undo;
		p->have_slot[i] = true;
		c.ctl_slot = p->slot[i];
		/* bytes already read must go first: the verdict passes this
		 * direction until the fast-path thread has written them */
		put_ctl(p->slot[i], leftover_size(&pre[i]) ? FP_CTL_THROTTLED : 0,
			fp_g.opts.queue_limit);
		if (bpf_map_update_elem(fp_g.conns_fd, &p->cookie[i], &c, BPF_NOEXIST))
			goto fail_errno;
	}
	/* both into tx before either into rx: no redirect can target a socket that
	 * is not in the map yet */
	for (int m = 0; m < 2; m++) {
		int mfd = m ? fp_g.rx_fd : fp_g.tx_fd;

		for (int i = 0; i < 2; i++) {
			uint64_t v = (uint64_t)p->fd[i];

			if (bpf_map_update_elem(mfd, &p->cookie[i], &v, BPF_NOEXIST))
				goto fail_errno;
		}
	}
	/* bytes queued before insertion wait for the next segment unless the
	 * verdict is kicked: raising the low-water mark runs data_ready */
	for (int i = 0; i < 2; i++) {
		if (setsockopt(p->fd[i], SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one))) {
			err = -errno;
			/* the sockets are live in the maps: let the thread own and close them */
			log_warn(&lc, "conn %llu: SO_RCVLOWAT kick failed: %s",
				 (unsigned long long)ci->id, strerror(-err));
		}
	}
	for (int i = 0; i < 2; i++) {
		if (!leftover_size(&pre[i])) {
			leftover_free(&pre[i]);        /* an empty buffer: ours to drop */
			continue;
		}
		p->d[i].mode = FP_THROTTLED;
		p->d[i].buf = pre[i].buf;
		p->d[i].off = pre[i].off;
		p->d[i].len = pre[i].len;
		p->d[i].pre_left = pre[i].len - pre[i].off;
		p->d[i].cap = malloc_usable_size(pre[i].buf);
		pre[i] = (struct leftover){ 0 };
	}
	atomic_store(&ci->cookie_client, p->cookie[0]);
	atomic_store(&ci->cookie_target, p->cookie[1]);
	conns_set_path(ci, CONN_PATH_KERNEL);
	atomic_fetch_add(&fp_g.pairs_active, 1);
	atomic_fetch_add(&fp_g.pairs_total, 1);
	fp_thread_adopt(p);
	return 0;
fail_errno:
	err = -errno;
fail_undo:
	undo_insert(p);
	if (err == -EOPNOTSUPP)
		atomic_fetch_add(&fp_g.insert_refused, 1);
fail:
	free(p);
	return err ? err : -EIO;
}

/* ---- the pair on the fast-path thread ---- */

static void update_interest(struct fp_pair *p);
static void start_abort(struct fp_pair *p, int side, int err);
static bool cut_repeats(struct fp_pair *p, int i);

static int conn_stats(const struct fp_pair *p, int i, struct fp_conn *c)
{
	if (bpf_map_lookup_elem(fp_g.conns_fd, &p->cookie[i], c)) {
		memset(c, 0, sizeof(*c));
		return -errno;
	}
	return 0;
}

/* Where direction i's bytes are.  queued: redirected or copied but not yet
 * in fd[!i]'s send queue (the peer's unaccounted psock queue); unacked: not
 * yet acknowledged by the far end (psock queue plus send queue).  A socket
 * that failed reads as empty: its error event handles it. */
struct dir_q {
	struct fp_conn c;
	int64_t queued, unacked;
};

static void dir_queue(const struct fp_pair *p, int i, struct dir_q *dq)
{
	int o = !i;
	struct fp_qstate q;
	uint64_t want;

	conn_stats(p, i, &dq->c);
	want = dq->c.bytes + p->post_user[o];
	dq->queued = dq->unacked = 0;
	if (fp_sock_qstate(p->fd[o], &q))
		return;
	dq->unacked = (int64_t)want - (int64_t)(q.acked - p->base[o]);
	dq->queued = (int64_t)want - (int64_t)(q.acked + q.outq - p->base[o]);
}

static int64_t in_flight(const struct fp_pair *p, int i)
{
	struct dir_q dq;

	dir_queue(p, i, &dq);
	return dq.queued;
}

/* Publish consumed and the throttle bit, and a fresh allowance: the verdict
 * may redirect until the peer's psock queue holds queue_limit bytes. */
static void set_ctl(struct fp_pair *p, int i, bool throttled)
{
	struct dir_q dq;
	int64_t room;

	dir_queue(p, i, &dq);
	room = (int64_t)fp_g.opts.queue_limit - dq.queued;
	put_ctl(p->slot[i], (p->d[i].consumed & FP_CTL_CONSUMED_MASK) |
			    (throttled ? FP_CTL_THROTTLED : 0),
		dq.c.bytes + (uint64_t)(room > 0 ? room : 0));
}

static void arm_poll(struct fp_pair *p)
{
	if (loop_timer_armed(&p->timer))
		return;
	if (!p->poll_ms)
		p->poll_ms = 1;
	loop_timer_start(fp_g.loop, &p->timer, p->poll_ms);
	if (p->poll_ms < POLL_MAX_MS)
		p->poll_ms *= 2;
}

static void pair_free(struct fp_pair *p, bool abort_side[2])
{
	struct conn_info *ci = p->ci;
	struct fp_conn c[2];

	conn_stats(p, 0, &c[0]);
	conn_stats(p, 1, &c[1]);
	for (int i = 0; i < 2; i++) {
		loop_io_stop(fp_g.loop, &p->io[i].io);
		if (abort_side && abort_side[i]) {
			struct linger lg = { 1, 0 };

			setsockopt(p->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		/* closing removes the socket from both sockhashes */
		close(p->fd[i]);
		bpf_map_delete_elem(fp_g.conns_fd, &p->cookie[i]);
		/* the sockets are closed: no verdict reads the word any more */
		fp_slot_free(p->slot[i]);
		u64map_del(&g_pairs, p->cookie[i]);
		free(p->d[i].buf);
	}
	loop_timer_stop(fp_g.loop, &p->timer);
	loop_obj_del(fp_g.loop, &p->obj);
	log_debug(&lc, "conn %llu: kernel pair closed: %llu/%llu bytes redirected, %llu/%llu "
		  "copied while throttled, deepest queue %lld/%lld", (unsigned long long)ci->id,
		  (unsigned long long)c[0].bytes, (unsigned long long)c[1].bytes,
		  (unsigned long long)c[0].passed, (unsigned long long)c[1].passed,
		  (long long)p->max_queued[0], (long long)p->max_queued[1]);
	for (int i = 0; i < 2; i++) {
		if (c[i].dup_bytes)
			log_info(&lc, "conn %llu: %llu bytes the kernel delivered twice (retransmitted "
				 "segments) were dropped from the %s stream",
				 (unsigned long long)ci->id, (unsigned long long)c[i].dup_bytes,
				 i == 0 ? "client->target" : "target->client");
	}
	atomic_store(&ci->up_kernel, c[0].bytes);
	atomic_store(&ci->down_kernel, c[1].bytes);
	conns_add_path_bytes(CONN_PATH_KERNEL, c[0].bytes + c[1].bytes);
	atomic_fetch_sub(&fp_g.pairs_active, 1);
	free(p);
	conns_done(ci);
}

/* An error (usually RST) on fd[e]: deliver what e already sent, then reset the
 * other side so the reset propagates.  Bounded: the peer may never ACK. */
static void try_abort(struct fp_pair *p)
{
	int e = p->error_side, o = !e;
	struct dir_q dq;
	bool abort_side[2];

	dir_queue(p, e, &dq);
	if (dq.unacked > 0 && !p->d[e].shut && loop_now(fp_g.loop) < p->abort_deadline) {
		arm_poll(p);
		return;
	}
	abort_side[e] = false;
	abort_side[o] = true;
	pair_free(p, abort_side);
}

static void start_abort(struct fp_pair *p, int side, int err)
{
	if (p->error_side >= 0)
		return;
	p->error_side = side;
	p->abort_deadline = loop_now(fp_g.loop) + ABORT_WAIT_MS;
	conns_set_error(p->ci, "%s side: %s", side ? "target" : "client", strerror(err));
	loop_io_stop(fp_g.loop, &p->io[side].io);
}

/* Throttled or copying direction i: move the passed bytes in userspace.
 * Returns false when it must be polled rather than woken by epoll. */
static bool pump(struct fp_pair *p, int i)
{
	struct fp_dir *d = &p->d[i];
	int o = !i;

	if (d->mode == FP_KERNEL)
		return true;
	/* the redirected backlog must reach fd[o] first, or copied bytes would
	 * overtake it (after that only we write to fd[o] until we catch up) */
	if (d->mode == FP_THROTTLED && in_flight(p, i) > 0)
		return false;
	for (int round = 0; round < COPY_ROUNDS && p->error_side < 0; round++) {
		if (d->len > d->off) {
			ssize_t w = send(p->fd[o], d->buf + d->off, d->len - d->off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0) {
				if (errno != EAGAIN)
					start_abort(p, o, errno);
				return true;
			}
			d->off += (size_t)w;
			{
				size_t pre = (size_t)w < d->pre_left ? (size_t)w : d->pre_left;

				d->pre_left -= pre;
				d->consumed += (uint64_t)w - pre;
			}
			p->post_user[o] += (uint64_t)w;
			conns_add_user(p->ci, i == 0, (uint64_t)w);
			conns_add_path_bytes(CONN_PATH_USER, (uint64_t)w);
			if (d->off < d->len)
				return true;    /* EPOLLOUT */
			d->off = d->len = 0;
			/* published only once the bytes are in fd[o]'s send queue */
			set_ctl(p, i, true);
		}
		d->mode = FP_COPYING;
		if (d->cap < COPY_BUF) {        /* still the small buffer of the pre-pairing bytes */
			uint8_t *nb = realloc(d->buf, COPY_BUF);

			if (nb) {
				d->buf = nb;
				d->cap = COPY_BUF;
			}
		}
		{
			ssize_t r = recv(p->fd[i], d->buf, d->cap, MSG_DONTWAIT);
			struct fp_conn c;

			if (r > 0) {
				d->len = (size_t)r;
				if (!cut_repeats(p, i))
					return true;
				continue;
			}
			if (r < 0 && errno != EAGAIN) {
				start_abort(p, i, errno);
				return true;
			}
			/* nothing left to read: caught up once every passed byte is
			 * consumed (read after publishing, so a racing pass shows) */
			if (conn_stats(p, i, &c) || c.passed != d->consumed)
				return true;
			set_ctl(p, i, false);
			/* a verdict that read the word before that store passed: copy on */
			if (conn_stats(p, i, &c) || c.passed != d->consumed) {
				set_ctl(p, i, true);
				d->mode = FP_THROTTLED;
				return false;
			}
			d->mode = FP_KERNEL;
			/* a kernel direction holds no copy buffer */
			free(d->buf);
			d->buf = NULL;
			d->cap = 0;
			atomic_fetch_add(&fp_g.resumes, 1);
			log_debug(&lc, "conn %llu: %s direction back on the kernel path",
				  (unsigned long long)p->ci->id,
				  i == 0 ? "client->target" : "target->client");
			return true;
		}
	}
	return true;
}

/* The kernel lost bytes before the verdict (FP_SKIPS in the ABI header): the
 * stream cannot be repaired, so reset both sides rather than corrupt it. */
static bool stream_broken(struct fp_pair *p, int i, const struct fp_conn *c)
{
	if (!c->gap_bytes && c->skips - p->d[i].skip.done <= FP_SKIPS)
		return false;
	log_error(&lc, "conn %llu: %s stream damaged in the kernel (%llu bytes never reached "
		  "the verdict, %u repair records pending): resetting the connection",
		  (unsigned long long)p->ci->id, i == 0 ? "client->target" : "target->client",
		  (unsigned long long)c->gap_bytes, c->skips - p->d[i].skip.done);
	start_abort(p, i, EPROTO);
	return true;
}

/* d->len bytes were just read into d->buf: cut out the ones the verdict had
 * already handled, counting them as consumed.  False when the stream is
 * damaged (the pair aborts). */
static bool cut_repeats(struct fp_pair *p, int i)
{
	struct fp_dir *d = &p->d[i];
	uint64_t start = d->received;
	struct fp_conn c;
	long cut;

	d->received += d->len;
	if (conn_stats(p, i, &c))
		return true;
	if (stream_broken(p, i, &c))
		return false;
	cut = fp_cut_skips(&d->skip, &c, start, d->buf, &d->len);
	if (cut < 0) {
		c.skips = d->skip.done + FP_SKIPS + 1;  /* report it as an overrun */
		stream_broken(p, i, &c);
		return false;
	}
	d->consumed += (uint64_t)cut;
	return true;
}

static void throttle(struct fp_pair *p, int i, int64_t queued)
{
	struct fp_dir *d = &p->d[i];

	if (!d->buf) {
		d->buf = malloc(COPY_BUF);
		if (!d->buf) {
			log_warn(&lc, "conn %llu: cannot throttle (out of memory)",
				 (unsigned long long)p->ci->id);
			return;
		}
		d->cap = COPY_BUF;
	}
	set_ctl(p, i, true);
	d->mode = FP_THROTTLED;
	atomic_store(i == 0 ? &p->ci->demoted_up : &p->ci->demoted_down, true);
	atomic_fetch_add(&fp_g.throttles, 1);
	log_debug(&lc, "conn %llu: %s direction throttled to userspace (%lld bytes queued in the kernel)",
		  (unsigned long long)p->ci->id, i == 0 ? "client->target" : "target->client",
		  (long long)queued);
	p->poll_ms = 1;
	arm_poll(p);
}

/* FIN seen on fd[i]: shut fd[!i] once everything before it has been handed on. */
static bool try_drain(struct fp_pair *p, int i)
{
	struct fp_dir *d = &p->d[i];
	int o = !i;
	struct fp_qstate q;
	struct fp_conn c;

	if (d->shut)
		return true;
	pump(p, i);
	if (p->error_side >= 0 || d->mode == FP_THROTTLED || d->len > d->off)
		return false;
	if (conn_stats(p, i, &c))
		return false;
	if (c.passed != d->consumed) {
		/* the verdict began passing and its event is not here (yet) */
		if (d->mode == FP_KERNEL)
			throttle(p, i, 0);
		return false;
	}
	if (fp_sock_qstate(p->fd[i], &q) || q.inq || in_flight(p, i) > 0)
		return false;
	if (shutdown(p->fd[o], SHUT_WR) && errno != ENOTCONN) {
		start_abort(p, o, errno);
		return false;
	}
	d->shut = true;
	p->poll_ms = 1;
	return true;
}

void fp_pair_check_queue(uint64_t cookie)
{
	struct fp_pair *p = u64map_get(&g_pairs, cookie);
	struct dir_q dq;
	int i;

	if (!p || p->error_side >= 0)
		return;
	i = p->cookie[0] == cookie ? 0 : 1;
	dir_queue(p, i, &dq);
	if (stream_broken(p, i, &dq.c) || p->d[i].mode != FP_KERNEL)
		return;
	if (dq.queued > p->max_queued[i])
		p->max_queued[i] = dq.queued;
	if (dq.c.passed == p->d[i].consumed) {
		set_ctl(p, i, false);   /* a fresh allowance */
		return;
	}
	/* the verdict ran out of allowance and passes: copy from here */
	throttle(p, i, dq.queued);
	update_interest(p);
}

static void update_interest(struct fp_pair *p)
{
	for (int s = 0; s < 2; s++) {
		uint32_t ev = EPOLLERR;
		struct fp_dir *in = &p->d[s], *out = &p->d[!s];
		bool reading = in->mode == FP_COPYING && in->len == in->off;
		bool writing = out->mode == FP_COPYING && out->len > out->off;

		if (p->error_side >= 0)
			break;
		/* shut both ways: EPOLLHUP would fire on every wait, and nothing
		 * more can arrive that matters; the poll timer covers the rest */
		if (in->rd_eof && out->shut && !reading && !writing) {
			loop_io_stop(fp_g.loop, &p->io[s].io);
			continue;
		}
		if (!in->rd_eof)
			ev |= EPOLLRDHUP;
		if (reading)
			ev |= EPOLLIN;
		if (writing)
			ev |= EPOLLOUT;
		if (loop_io_set(fp_g.loop, &p->io[s].io, ev))
			arm_poll(p);    /* epoll refused: fall back to polling */
	}
}

static void progress(struct fp_pair *p)
{
	bool waiting = false;

	for (int i = 0; i < 2 && p->error_side < 0; i++) {
		if (p->d[i].rd_eof && !p->d[i].shut)
			waiting |= !try_drain(p, i);
		else
			waiting |= !pump(p, i);
		waiting |= p->d[i].mode == FP_THROTTLED;
	}
	if (p->error_side >= 0) {
		try_abort(p);
		return;
	}
	if (p->d[0].shut && p->d[1].shut) {
		pair_free(p, NULL);
		return;
	}
	if (waiting)
		arm_poll(p);
	update_interest(p);
}

static void io_cb(struct loop_io *io, uint32_t events)
{
	struct fp_io *fio = CONTAINER_OF(io, struct fp_io, io);
	struct fp_pair *p = fio->p;
	int side = fio->side;

	if (events & EPOLLERR) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(p->fd[side], SOL_SOCKET, SO_ERROR, &err, &l);
		start_abort(p, side, err ? err : ECONNRESET);
		try_abort(p);
		return;
	}
	if (events & (EPOLLRDHUP | EPOLLHUP))
		p->d[side].rd_eof = true;
	p->poll_ms = 1;
	progress(p);
}

static void timer_cb(struct loop_timer *t)
{
	progress(CONTAINER_OF(t, struct fp_pair, timer));
}

static void close_obj(struct loop_obj *o)
{
	struct fp_pair *p = CONTAINER_OF(o, struct fp_pair, obj);

	conns_set_error(p->ci, "relayd shutting down");
	pair_free(p, NULL);
}

void fp_pair_start(struct fp_pair *p)
{
	loop_obj_add(fp_g.loop, &p->obj, close_obj);
	loop_obj_tag(&p->obj, p->ci->id);
	loop_timer_init(&p->timer, timer_cb);
	for (int i = 0; i < 2; i++) {
		loop_io_init(&p->io[i].io, p->fd[i], io_cb);
		p->io[i].p = p;
		p->io[i].side = i;
		if (u64map_put(&g_pairs, p->cookie[i], p))
			log_warn(&lc, "conn %llu: no memory for the cookie index; queue checks off",
				 (unsigned long long)p->ci->id);
	}
	/* check events the verdict posted before the pair was indexed were
	 * dropped: catch up on them (a spent allowance would stall otherwise) */
	for (int i = 0; i < 2; i++)
		fp_pair_check_queue(p->cookie[i]);
	/* bytes read before pairing are waiting to go out (may free p) */
	progress(p);
}

void fp_pair_close_all(void)
{
	loop_close_objs(fp_g.loop);
	u64map_free(&g_pairs);
}

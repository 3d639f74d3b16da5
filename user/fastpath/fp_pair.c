/* Fast-path pairs: insertion (on the worker thread) and everything after it
 * (on the fast-path thread).  The kernel does not propagate FIN or RST between
 * redirected sockets, so this file does, and only once every byte redirected
 * before it has reached the peer's send queue (FIN) or been acknowledged (RST).
 * Redirected skbs are not memory-accounted and nothing pushes back on the
 * sender, so a direction whose destination drains slower than its source
 * fills is throttled: the verdict passes its skbs to the source socket's own
 * queue, which TCP flow-controls, this file copies them once the earlier
 * redirected bytes are out, and the kernel takes over again once the copy
 * has caught up (see fp_pair.h for the modes). */
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

#define COPY_BUF (64 * 1024)
/* enough rounds to empty a full receive buffer in one go: catching up needs
 * one moment with nothing left to read */
#define COPY_ROUNDS 256
#define POLL_MAX_MS 64
#define ABORT_WAIT_MS 2000

static struct u64map g_pairs;           /* cookie → pair, fast-path thread only */
static const struct log_ctx lc = { .kind = "fastpath" };

/* ---- insertion (worker thread) ---- */

static void undo_insert(const uint64_t cookie[2])
{
	for (int i = 0; i < 2; i++) {
		bpf_map_delete_elem(fp_g.rx_fd, &cookie[i]);
		bpf_map_delete_elem(fp_g.tx_fd, &cookie[i]);
		bpf_map_delete_elem(fp_g.conns_fd, &cookie[i]);
		bpf_map_delete_elem(fp_g.ctls_fd, &cookie[i]);
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
	for (int i = 0; i < 2; i++) {
		struct fp_conn c = { .peer_cookie = p->cookie[!i] };
		/* bytes already read must go first: the verdict passes this
		 * direction until the fast-path thread has written them */
		struct fp_ctl ctl = { .flags = FP_FLAG_THROTTLED };

		if (bpf_map_update_elem(fp_g.conns_fd, &p->cookie[i], &c, BPF_NOEXIST))
			goto fail_errno;
		if (leftover_size(&pre[i]) &&
		    bpf_map_update_elem(fp_g.ctls_fd, &p->cookie[i], &ctl, BPF_ANY))
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
	/* a bigger send buffer keeps the psock worker from stalling a tick on a
	 * full one; it is a limit, not an allocation (best effort) */
	for (int i = 0; i < 2; i++)
		setsockopt(p->fd[i], SOL_SOCKET, SO_SNDBUFFORCE, &fp_g.opts.sndbuf,
			   sizeof(fp_g.opts.sndbuf));
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
	undo_insert(p->cookie);
	if (err == -EOPNOTSUPP)
		atomic_fetch_add(&fp_g.insert_refused, 1);
fail:
	free(p);
	return err ? err : -EIO;
}

/* ---- the pair on the fast-path thread ---- */

static void update_interest(struct fp_pair *p);
static void start_abort(struct fp_pair *p, int side, int err);

static int conn_stats(const struct fp_pair *p, int i, struct fp_conn *c)
{
	if (bpf_map_lookup_elem(fp_g.conns_fd, &p->cookie[i], c)) {
		memset(c, 0, sizeof(*c));
		return -errno;
	}
	return 0;
}

/* Bytes of direction i redirected or copied but not yet in fd[!i]'s send
 * queue: what sits in the peer's unaccounted psock queue.  acked_gap, if
 * asked, gets what the far end has not acknowledged yet. */
static int64_t in_flight(const struct fp_pair *p, int i, int64_t *acked_gap)
{
	int o = !i;
	struct fp_qstate q;
	struct fp_conn c;
	uint64_t want;

	conn_stats(p, i, &c);
	want = c.bytes + p->post_user[o];
	if (fp_sock_qstate(p->fd[o], &q))
		return 0;       /* the socket failed: its error event handles it */
	if (acked_gap)
		*acked_gap = (int64_t)want - (int64_t)(q.acked - p->base[o]);
	return (int64_t)want - (int64_t)(q.acked + q.outq - p->base[o]);
}

static int set_ctl(struct fp_pair *p, int i, uint32_t flags)
{
	struct fp_ctl ctl = { .flags = flags, .consumed = p->d[i].consumed };

	return bpf_map_update_elem(fp_g.ctls_fd, &p->cookie[i], &ctl, BPF_ANY) ? -errno : 0;
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
		bpf_map_delete_elem(fp_g.ctls_fd, &p->cookie[i]);
		u64map_del(&g_pairs, p->cookie[i]);
		free(p->d[i].buf);
	}
	loop_timer_stop(fp_g.loop, &p->timer);
	log_debug(&lc, "conn %llu: kernel pair closed: %llu/%llu bytes redirected, %llu/%llu "
		  "copied while throttled, deepest queue %lld/%lld", (unsigned long long)ci->id,
		  (unsigned long long)c[0].bytes, (unsigned long long)c[1].bytes,
		  (unsigned long long)c[0].passed, (unsigned long long)c[1].passed,
		  (long long)p->max_queued[0], (long long)p->max_queued[1]);
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
	int64_t unacked = 0;
	bool abort_side[2];

	in_flight(p, e, &unacked);
	if (unacked > 0 && !p->d[e].shut && loop_now(fp_g.loop) < p->abort_deadline) {
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

/* Throttled or copying direction i: move the passed bytes in userspace. */
static void pump(struct fp_pair *p, int i)
{
	struct fp_dir *d = &p->d[i];
	int o = !i;

	if (d->mode == FP_KERNEL)
		return;
	/* the redirected backlog must reach fd[o] first, or copied bytes would
	 * overtake it (after that only we write to fd[o] until we catch up) */
	if (d->mode == FP_THROTTLED && in_flight(p, i, NULL) > 0)
		return;
	for (int round = 0; round < COPY_ROUNDS && p->error_side < 0; round++) {
		if (d->len > d->off) {
			ssize_t w = send(p->fd[o], d->buf + d->off, d->len - d->off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0) {
				if (errno != EAGAIN)
					start_abort(p, o, errno);
				return;
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
				return;
			d->off = d->len = 0;
			/* published only once the bytes are in fd[o]'s send queue */
			set_ctl(p, i, d->mode == FP_THROTTLED ? FP_FLAG_THROTTLED : 0);
		}
		if (d->mode == FP_THROTTLED) {
			/* lift the throttle; the verdict keeps passing until we catch up */
			if (set_ctl(p, i, 0))
				return;
			d->mode = FP_COPYING;
		}
		{
			ssize_t r = recv(p->fd[i], d->buf, d->cap, MSG_DONTWAIT);
			struct fp_conn c;

			if (r > 0) {
				d->len = (size_t)r;
				continue;
			}
			if (r < 0 && errno != EAGAIN) {
				start_abort(p, i, errno);
				return;
			}
			/* nothing left to read: caught up once every passed byte is
			 * consumed (read after publishing, so a racing pass shows) */
			if (!conn_stats(p, i, &c) && c.passed == d->consumed) {
				d->mode = FP_KERNEL;
				atomic_fetch_add(&fp_g.resumes, 1);
				log_debug(&lc, "conn %llu: %s direction back on the kernel path",
					  (unsigned long long)p->ci->id,
					  i == 0 ? "client->target" : "target->client");
			}
			return;
		}
	}
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
	if (set_ctl(p, i, FP_FLAG_THROTTLED)) {
		log_warn(&lc, "conn %llu: cannot throttle: %s", (unsigned long long)p->ci->id,
			 strerror(errno));
		return;
	}
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
	if (conn_stats(p, i, &c) || c.passed != d->consumed)
		return false;
	if (fp_sock_qstate(p->fd[i], &q) || q.inq || in_flight(p, i, NULL) > 0)
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
	int i;
	int64_t queued;

	if (!p || p->error_side >= 0)
		return;
	i = p->cookie[0] == cookie ? 0 : 1;
	if (p->d[i].mode != FP_KERNEL || p->d[i].rd_eof)
		return;
	queued = in_flight(p, i, NULL);
	if (queued > p->max_queued[i])
		p->max_queued[i] = queued;
	if (queued > (int64_t)fp_g.opts.queue_limit) {
		throttle(p, i, queued);
		update_interest(p);
	}
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
			pump(p, i);
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

void fp_pair_start(struct fp_pair *p)
{
	loop_timer_init(&p->timer, timer_cb);
	for (int i = 0; i < 2; i++) {
		loop_io_init(&p->io[i].io, p->fd[i], io_cb);
		p->io[i].p = p;
		p->io[i].side = i;
		if (u64map_put(&g_pairs, p->cookie[i], p))
			log_warn(&lc, "conn %llu: no memory for the cookie index; queue checks off",
				 (unsigned long long)p->ci->id);
	}
	/* bytes read before pairing are waiting to go out */
	progress(p);
}

void fp_pair_close_all(void)
{
	for (size_t s = 0; s < g_pairs.cap; s++) {
		if (!g_pairs.keys || !g_pairs.keys[s])
			continue;
		pair_free(g_pairs.vals[s], NULL);
		s = (size_t)-1;         /* the table changed under us: rescan */
	}
	u64map_free(&g_pairs);
}

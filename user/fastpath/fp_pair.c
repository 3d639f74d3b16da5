/* Fast-path pairs: insertion (on the worker thread) and everything after it
 * (on the fast-path thread).  The kernel does not propagate FIN or RST between
 * redirected sockets, so this file does, and only once every byte redirected
 * before it has reached the peer's send queue (FIN) or been acknowledged (RST).
 * A direction whose destination stops draining is demoted: the verdict passes
 * its skbs to the source socket's own queue, which TCP flow-controls, and this
 * file copies them once the earlier redirected bytes are out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "base/log.h"
#include "base/u64map.h"
#include "base/util.h"
#include "control/conns.h"
#include "fastpath/fp_internal.h"
#include "fastpath/fp_pair.h"
#include "relayd/fastpath_abi.h"

#define DEMOTE_BUF (64 * 1024)
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
	}
}

int fp_adopt(int fd_client, int fd_target, struct conn_info *ci)
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
static void pump_demoted(struct fp_pair *p, int i);

static uint64_t redirected(const struct fp_pair *p, int i)
{
	struct fp_conn c;

	if (bpf_map_lookup_elem(fp_g.conns_fd, &p->cookie[i], &c))
		return 0;
	return c.bytes;
}

/* Bytes of direction i redirected or copied but not yet in fd[!i]'s send
 * queue (< 0 cannot happen, but a FIN counted by the queue would look like it). */
static int64_t in_flight(const struct fp_pair *p, int i, int64_t *acked_gap)
{
	int o = !i;
	struct fp_qstate q;
	uint64_t want = redirected(p, i) + p->post_user[o];

	if (fp_sock_qstate(p->fd[o], &q))
		return 0;       /* the socket failed: its error event handles it */
	if (acked_gap)
		*acked_gap = (int64_t)want - (int64_t)(q.acked - p->base[o]);
	return (int64_t)want - (int64_t)(q.acked + q.outq - p->base[o]);
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
	uint64_t up = redirected(p, 0), down = redirected(p, 1);

	for (int i = 0; i < 2; i++) {
		loop_io_stop(fp_g.loop, &p->io[i].io);
		if (abort_side && abort_side[i]) {
			struct linger lg = { 1, 0 };

			setsockopt(p->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		/* closing removes the socket from both sockhashes */
		close(p->fd[i]);
		bpf_map_delete_elem(fp_g.conns_fd, &p->cookie[i]);
		if (p->d[i].demoted)
			bpf_map_delete_elem(fp_g.flags_fd, &p->cookie[i]);
		u64map_del(&g_pairs, p->cookie[i]);
		free(p->d[i].buf);
	}
	loop_timer_stop(fp_g.loop, &p->timer);
	atomic_store(&ci->up_kernel, up);
	atomic_store(&ci->down_kernel, down);
	conns_add_path_bytes(CONN_PATH_KERNEL, up + down);
	atomic_fetch_sub(&fp_g.pairs_active, 1);
	free(p);
	conns_done(ci);
}

static void maybe_finish(struct fp_pair *p)
{
	if (p->d[0].shut && p->d[1].shut)
		pair_free(p, NULL);
}

/* An error (usually RST) on fd[e]: deliver what e already sent, then reset the
 * other side so the reset propagates.  Bounded: the peer may never ACK. */
static bool try_abort(struct fp_pair *p)
{
	int e = p->error_side, o = !e;
	int64_t unacked = 0;
	bool abort_side[2];

	in_flight(p, e, &unacked);
	if (unacked > 0 && !p->d[e].shut && loop_now(fp_g.loop) < p->abort_deadline) {
		arm_poll(p);
		return false;
	}
	abort_side[e] = false;
	abort_side[o] = true;
	pair_free(p, abort_side);
	return true;
}

static void start_abort(struct fp_pair *p, int side, int err)
{
	if (p->error_side >= 0)
		return;
	p->error_side = side;
	p->abort_deadline = loop_now(fp_g.loop) + ABORT_WAIT_MS;
	conns_set_error(p->ci, "%s side: %s", side ? "target" : "client", strerror(err));
	loop_io_stop(fp_g.loop, &p->io[side].io);
	try_abort(p);
}

/* FIN seen on fd[i]: shut fd[!i] once everything before it has been handed on. */
static bool try_drain(struct fp_pair *p, int i)
{
	struct fp_dir *d = &p->d[i];
	int o = !i;
	struct fp_qstate q;

	if (d->shut)
		return true;
	if (d->demoted) {
		pump_demoted(p, i);
		if (p->error_side >= 0 || !d->ueof || d->len > d->off || in_flight(p, i, NULL) > 0)
			return false;
	} else {
		if (fp_sock_qstate(p->fd[i], &q) || q.inq || in_flight(p, i, NULL) > 0)
			return false;
	}
	if (shutdown(p->fd[o], SHUT_WR) && errno != ENOTCONN) {
		start_abort(p, o, errno);
		return false;
	}
	d->shut = true;
	p->poll_ms = 1;
	return true;
}

static void pump_demoted(struct fp_pair *p, int i)
{
	struct fp_dir *d = &p->d[i];
	int o = !i;

	if (!d->demoted || p->error_side >= 0)
		return;
	/* everything redirected before the demotion must leave the peer's psock
	 * queue first, or the copied bytes would overtake it; our own sends are
	 * counted at once, so once drained it stays drained */
	if (!d->drained) {
		if (in_flight(p, i, NULL) > 0) {
			arm_poll(p);
			return;
		}
		d->drained = true;
	}
	for (int round = 0; round < 16; round++) {
		if (d->len > d->off) {
			ssize_t w = send(p->fd[o], d->buf + d->off, d->len - d->off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0) {
				if (errno != EAGAIN)
					start_abort(p, o, errno);
				break;
			}
			d->off += (size_t)w;
			p->post_user[o] += (uint64_t)w;
			conns_add_user(p->ci, i == 0, (uint64_t)w);
			conns_add_path_bytes(CONN_PATH_USER, (uint64_t)w);
			if (d->off < d->len)
				break;
			d->off = d->len = 0;
		}
		if (d->ueof)
			break;
		{
			ssize_t r = recv(p->fd[i], d->buf, DEMOTE_BUF, MSG_DONTWAIT);

			if (r < 0) {
				if (errno != EAGAIN)
					start_abort(p, i, errno);
				break;
			}
			if (r == 0) {
				d->ueof = true;
				break;
			}
			d->len = (size_t)r;
		}
	}
}

static void demote(struct fp_pair *p, int i, int64_t queued)
{
	uint32_t flags = FP_FLAG_DEMOTED;
	struct fp_dir *d = &p->d[i];

	d->buf = malloc(DEMOTE_BUF);
	if (!d->buf) {
		log_warn(&lc, "conn %llu: cannot demote (out of memory)",
			 (unsigned long long)p->ci->id);
		return;
	}
	if (bpf_map_update_elem(fp_g.flags_fd, &p->cookie[i], &flags, BPF_ANY)) {
		log_warn(&lc, "conn %llu: cannot demote: %s", (unsigned long long)p->ci->id,
			 strerror(errno));
		free(d->buf);
		d->buf = NULL;
		return;
	}
	d->demoted = true;
	atomic_store(i == 0 ? &p->ci->demoted_up : &p->ci->demoted_down, true);
	atomic_fetch_add(&fp_g.demotions, 1);
	log_debug(&lc, "conn %llu: %s direction demoted to userspace (%lld bytes queued in the kernel)",
		  (unsigned long long)p->ci->id, i == 0 ? "client->target" : "target->client",
		  (long long)queued);
	pump_demoted(p, i);
}

void fp_pair_check_queue(uint64_t cookie)
{
	struct fp_pair *p = u64map_get(&g_pairs, cookie);
	int i;
	int64_t queued;

	if (!p || p->error_side >= 0)
		return;
	i = p->cookie[0] == cookie ? 0 : 1;
	if (p->d[i].demoted || p->d[i].rd_eof)
		return;
	queued = in_flight(p, i, NULL);
	if (queued > (int64_t)fp_g.opts.queue_limit) {
		demote(p, i, queued);
		update_interest(p);
	}
}

static void update_interest(struct fp_pair *p)
{
	for (int s = 0; s < 2; s++) {
		uint32_t ev = EPOLLERR;
		struct fp_dir *in = &p->d[s], *out = &p->d[!s];
		bool reading = in->demoted && in->drained && !in->ueof && in->len == in->off;
		bool writing = out->demoted && out->len > out->off;

		if (p->error_side >= 0)
			break;
		/* shut both ways: EPOLLHUP would fire on every wait, and nothing more
		 * can arrive that matters; the poll timer covers the rest */
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
	if (p->error_side >= 0) {
		try_abort(p);
		return;
	}
	for (int i = 0; i < 2; i++) {
		if (p->d[i].demoted)
			pump_demoted(p, i);
		if (p->error_side >= 0) {
			try_abort(p);
			return;
		}
		if (p->d[i].rd_eof && !p->d[i].shut && !try_drain(p, i)) {
			if (p->error_side >= 0) {
				try_abort(p);
				return;
			}
			arm_poll(p);
		}
	}
	if (p->d[0].shut && p->d[1].shut) {
		maybe_finish(p);
		return;
	}
	if ((p->d[0].demoted && !p->d[0].ueof) || (p->d[1].demoted && !p->d[1].ueof))
		arm_poll(p);    /* belt and braces: psock readiness is not always signalled */
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
		return;
	}
	if ((events & (EPOLLRDHUP | EPOLLHUP)) && !p->d[side].rd_eof)
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
	update_interest(p);
}

void fp_pair_close_all(void)
{
	for (size_t s = 0; s < g_pairs.cap; s++) {
		struct fp_pair *p;

		if (!g_pairs.keys || !g_pairs.keys[s])
			continue;
		p = g_pairs.vals[s];
		pair_free(p, NULL);
		s = (size_t)-1;         /* the table changed under us: rescan */
	}
	u64map_free(&g_pairs);
}

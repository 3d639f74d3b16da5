/* The splice(2) pump: moves bytes between two TCP sockets through a kernel
 * pipe per direction, without copying them to userspace.  Used when the BPF
 * fast path is off or refused a connection; same half-close and reset
 * semantics as the copy pump. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/leftover.h"
#include "base/util.h"
#include "control/conns.h"
#include "net/loop.h"
#include "proxy/pipe.h"

#define SPLICE_CHUNK (256 * 1024)
#define SPLICE_ROUNDS 16

struct splice_dir {
	struct leftover pre;    /* bytes the copy pump had already read */
	int pipe[2];
	size_t inpipe;
	bool eof, shut;
};

struct splice_pump;

struct splice_io {
	struct loop_io io;
	struct splice_pump *sp;
};

struct splice_pump {
	struct loop_obj obj;
	struct loop *loop;
	int fd[2];
	struct splice_io io[2];
	struct splice_dir d[2];         /* d[i]: fd[i] → fd[!i] */
	struct conn_info *ci;
};

static void sp_free(struct splice_pump *sp, int failed_side, int err)
{
	bool rst = err == -ECONNRESET || err == -EPIPE;

	if (err)
		conns_set_error(sp->ci, "%s: %s", failed_side ? "target" : "client", strerror(-err));
	conns_set_path(sp->ci, CONN_PATH_CLOSING);
	for (int i = 0; i < 2; i++) {
		loop_io_stop(sp->loop, &sp->io[i].io);
		if (rst && i != failed_side) {
			struct linger lg = { 1, 0 };

			setsockopt(sp->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(sp->fd[i]);
		for (int k = 0; k < 2; k++)
			if (sp->d[i].pipe[k] >= 0)
				close(sp->d[i].pipe[k]);
		leftover_free(&sp->d[i].pre);
	}
	loop_obj_del(sp->loop, &sp->obj);
	conns_done(sp->ci);
	free(sp);
}

static void close_obj(struct loop_obj *o)
{
	struct splice_pump *sp = CONTAINER_OF(o, struct splice_pump, obj);

	conns_set_error(sp->ci, "relayd shutting down");
	sp_free(sp, 0, 0);
}

static int pump_dir(struct splice_pump *sp, int i, int *failed_side)
{
	struct splice_dir *d = &sp->d[i];
	int o = !i;

	while (leftover_size(&d->pre)) {
		ssize_t w = send(sp->fd[o], d->pre.buf + d->pre.off, leftover_size(&d->pre),
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EAGAIN)
				return 0;
			*failed_side = o;
			return -errno;
		}
		d->pre.off += (size_t)w;
		conns_add_user(sp->ci, i == 0, (uint64_t)w);
		conns_add_path_bytes(CONN_PATH_USER, (uint64_t)w);
		if (!leftover_size(&d->pre))
			leftover_free(&d->pre);
	}
	for (int round = 0; round < SPLICE_ROUNDS; round++) {
		ssize_t n;

		if (d->inpipe) {
			n = splice(d->pipe[0], NULL, sp->fd[o], NULL, d->inpipe,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0) {
				if (errno == EAGAIN)
					return 0;
				*failed_side = o;
				return -errno;
			}
			d->inpipe -= (size_t)n;
			conns_add_user(sp->ci, i == 0, (uint64_t)n);
			conns_add_path_bytes(CONN_PATH_SPLICE, (uint64_t)n);
			if (d->inpipe)
				continue;
		}
		if (d->eof) {
			if (!d->shut) {
				if (shutdown(sp->fd[o], SHUT_WR) && errno != ENOTCONN) {
					*failed_side = o;
					return -errno;
				}
				d->shut = true;
			}
			return 0;
		}
		n = splice(sp->fd[i], NULL, d->pipe[1], NULL, SPLICE_CHUNK,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0) {
			if (errno == EAGAIN)
				return 0;
			*failed_side = i;
			return -errno;
		}
		if (n == 0)
			d->eof = true;
		d->inpipe = (size_t)n;
	}
	return 0;
}

static void run(struct splice_pump *sp)
{
	uint32_t ev[2] = { 0, 0 };
	int failed_side = 0, err;

	for (int i = 0; i < 2; i++) {
		err = pump_dir(sp, i, &failed_side);
		if (err) {
			sp_free(sp, failed_side, err);
			return;
		}
	}
	if (sp->d[0].shut && sp->d[1].shut) {
		sp_free(sp, 0, 0);
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct splice_dir *d = &sp->d[i];

		if (leftover_size(&d->pre) || d->inpipe || (d->eof && !d->shut))
			ev[!i] |= EPOLLOUT;
		else if (!d->eof)
			ev[i] |= EPOLLIN | EPOLLRDHUP;
	}
	for (int i = 0; i < 2; i++) {
		/* a side with nothing to wait for still reports errors */
		err = loop_io_set(sp->loop, &sp->io[i].io, ev[i] ? ev[i] : EPOLLERR);
		if (err) {
			sp_free(sp, i, err);
			return;
		}
	}
}

static void io_cb(struct loop_io *io, uint32_t events)
{
	(void)events;
	run(CONTAINER_OF(io, struct splice_io, io)->sp);
}

int splice_pump_start(struct loop *l, int fd_client, int fd_target, struct conn_info *ci,
		      struct leftover pre[2])
{
	struct splice_pump *sp = calloc(1, sizeof(*sp));

	if (!sp)
		return -ENOMEM;
	sp->loop = l;
	sp->fd[0] = fd_client;
	sp->fd[1] = fd_target;
	sp->ci = ci;
	for (int i = 0; i < 2; i++) {
		if (pipe2(sp->d[i].pipe, O_NONBLOCK | O_CLOEXEC)) {
			int err = -errno;

			if (i == 1) {
				close(sp->d[0].pipe[0]);
				close(sp->d[0].pipe[1]);
			}
			free(sp);
			return err;
		}
		/* a bigger pipe means fewer wake-ups; the default 64 KiB still works */
		fcntl(sp->d[i].pipe[1], F_SETPIPE_SZ, SPLICE_CHUNK);
		loop_io_init(&sp->io[i].io, sp->fd[i], io_cb);
		sp->io[i].sp = sp;
	}
	for (int i = 0; i < 2; i++) {
		sp->d[i].pre = pre[i];
		pre[i] = (struct leftover){ 0 };
	}
	conns_set_path(ci, CONN_PATH_SPLICE);
	loop_obj_add(l, &sp->obj, close_obj);
	loop_obj_tag(&sp->obj, ci->id);
	run(sp);
	return 0;
}

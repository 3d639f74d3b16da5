/* A TCP socket as a stream: read/write map to recv/send, readiness to epoll
 * (EPOLLRDHUP included so a half-close wakes a reader).  A connected UDP
 * socket shares all of it but writes, shutdown and the fast-path fd. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "net/loop.h"
#include "net/stream.h"

struct tcp_stream {
	struct stream s;
	struct loop_io io;
	unsigned want;
	int fail;                       /* epoll refused the fd: report on next call */
	struct loop_task kick;
};

static void io_cb(struct loop_io *io, uint32_t events)
{
	struct tcp_stream *t = CONTAINER_OF(io, struct tcp_stream, io);
	unsigned ev = 0;

	/* errors and hangups wake whichever side is waiting: its call reports them */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		ev |= STREAM_RD;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		ev |= STREAM_WR;
	ev &= t->want;
	if (ev && t->s.cb)
		t->s.cb(&t->s, ev, t->s.ud);
}

static ssize_t t_read(struct stream *s, void *buf, size_t len)
{
	struct tcp_stream *t = (struct tcp_stream *)s;
	ssize_t r;

	if (t->fail)
		return t->fail;
	r = recv(t->io.fd, buf, len, MSG_DONTWAIT);

	return r < 0 ? -errno : r;
}

static ssize_t t_write(struct stream *s, const void *buf, size_t len)
{
	struct tcp_stream *t = (struct tcp_stream *)s;
	ssize_t w;

	if (t->fail)
		return t->fail;
	if (!len)
		return 0;
	w = send(t->io.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	return w < 0 ? -errno : w;
}

static int t_shutdown(struct stream *s)
{
	struct tcp_stream *t = (struct tcp_stream *)s;

	return shutdown(t->io.fd, SHUT_WR) ? -errno : 0;
}

static void t_want(struct stream *s, unsigned events)
{
	struct tcp_stream *t = (struct tcp_stream *)s;
	uint32_t ep = 0;

	t->want = events;
	if (events & STREAM_RD)
		ep |= EPOLLIN | EPOLLRDHUP;
	if (events & STREAM_WR)
		ep |= EPOLLOUT;
	/* epoll_ctl on a live socket fails only on ENOMEM: turn that into an error
	 * the owner sees on its next call instead of a connection that hangs */
	if (!t->fail)
		t->fail = loop_io_set(s->loop, &t->io, ep);
	if (t->fail && ep)
		loop_defer(s->loop, &t->kick);
}

static void kick_cb(struct loop_task *k)
{
	struct tcp_stream *t = CONTAINER_OF(k, struct tcp_stream, kick);

	if (t->want && t->s.cb)
		t->s.cb(&t->s, t->want, t->s.ud);
}

static void t_close(struct stream *s, bool abort)
{
	struct tcp_stream *t = (struct tcp_stream *)s;

	loop_io_stop(s->loop, &t->io);
	loop_cancel(s->loop, &t->kick);
	if (abort) {
		struct linger lg = { 1, 0 };

		setsockopt(t->io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(t->io.fd);
	free(t);
}

static int t_raw_fd(struct stream *s)
{
	return ((struct tcp_stream *)s)->io.fd;
}

static int t_detach(struct stream *s)
{
	struct tcp_stream *t = (struct tcp_stream *)s;
	int fd = t->io.fd;

	loop_io_stop(s->loop, &t->io);
	loop_cancel(s->loop, &t->kick);
	free(t);
	return fd;
}

static void t_describe(struct stream *s, char *out, size_t cap)
{
	(void)s;
	util_strcpy(out, cap, "tcp");
}

static int t_local_addr(struct stream *s, struct sockaddr_storage *ss)
{
	socklen_t l = sizeof(*ss);

	return getsockname(((struct tcp_stream *)s)->io.fd, (struct sockaddr *)ss, &l) ? -errno : 0;
}

static const struct stream_ops tcp_ops = {
	.read = t_read,
	.write = t_write,
	.shutdown = t_shutdown,
	.want = t_want,
	.close = t_close,
	.raw_fd = t_raw_fd,
	.detach = t_detach,
	.describe = t_describe,
	.local_addr = t_local_addr,
};

/* connected UDP: a write of 0 bytes is an empty datagram, not a flush */
static ssize_t d_write(struct stream *s, const void *buf, size_t len)
{
	struct tcp_stream *t = (struct tcp_stream *)s;
	ssize_t w;

	if (t->fail)
		return t->fail;
	w = send(t->io.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	return w < 0 ? -errno : w;
}

static int d_shutdown(struct stream *s)
{
	(void)s;
	return 0;
}

static int d_raw_fd(struct stream *s)
{
	(void)s;
	return -1;
}

static void d_describe(struct stream *s, char *out, size_t cap)
{
	(void)s;
	util_strcpy(out, cap, "udp");
}

static const struct stream_ops dgram_ops = {
	.read = t_read,
	.write = d_write,
	.shutdown = d_shutdown,
	.want = t_want,
	.close = t_close,
	.raw_fd = d_raw_fd,
	.detach = t_detach,
	.describe = d_describe,
	.local_addr = t_local_addr,
};

static struct stream *sock_stream_new(struct loop *l, int fd, const struct stream_ops *ops)
{
	struct tcp_stream *t = calloc(1, sizeof(*t));

	if (!t) {
		close(fd);
		return NULL;
	}
	t->s.ops = ops;
	t->s.loop = l;
	loop_io_init(&t->io, fd, io_cb);
	loop_task_init(&t->kick, kick_cb);
	return &t->s;
}

struct stream *tcp_stream_new(struct loop *l, int fd)
{
	return sock_stream_new(l, fd, &tcp_ops);
}

struct stream *dgram_stream_new(struct loop *l, int fd)
{
	return sock_stream_new(l, fd, &dgram_ops);
}

/* One request per connection (see oneshot_srv.h). */
#include "control/oneshot_srv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

struct oneshot_client {
	struct oneshot_srv *srv;
	struct loop_io io;
	struct loop_timer timer;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	struct oneshot_client *next, **pprev;
};

static void client_free(struct oneshot_client *c)
{
	struct loop *l = c->srv->loop;

	loop_io_stop(l, &c->io);
	loop_timer_stop(l, &c->timer);
	close(c->io.fd);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	free(c->in);
	free(c->out);
	free(c);
}

/* Reads what is there; true once a reply is ready to write. */
static bool read_request(struct oneshot_client *c)
{
	struct oneshot_srv *s = c->srv;
	ssize_t r = recv(c->io.fd, c->in + c->in_len, s->max_request - c->in_len, 0);
	int rc;

	if (r < 0 && errno == EAGAIN)
		return false;
	if (r <= 0) {
		client_free(c);
		return false;
	}
	c->in_len += (size_t)r;
	c->in[c->in_len] = 0;
	rc = s->handle(s, c->in, c->in_len, c->in_len == s->max_request, &c->out, &c->out_len);
	if (rc == 0 && c->in_len < s->max_request)
		return false;
	if (rc <= 0 || loop_io_set(s->loop, &c->io, EPOLLOUT)) {
		client_free(c);
		return false;
	}
	return true;
}

static void client_cb(struct loop_io *io, uint32_t events)
{
	struct oneshot_client *c = CONTAINER_OF(io, struct oneshot_client, io);

	(void)events;
	if (!c->out && !read_request(c))
		return;
	while (c->out_off < c->out_len) {
		ssize_t w = send(io->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno != EAGAIN)
				client_free(c);
			return;
		}
		c->out_off += (size_t)w;
	}
	client_free(c);
}

static void client_timeout(struct loop_timer *t)
{
	client_free(CONTAINER_OF(t, struct oneshot_client, timer));
}

static void accept_cb(struct loop_io *io, uint32_t events)
{
	struct oneshot_srv *s = CONTAINER_OF(io, struct oneshot_srv, lio);

	(void)events;
	for (;;) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct oneshot_client *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				struct log_ctx lc = { .kind = s->what };

				log_warn(&lc, "accept: %s", strerror(errno));
			}
			return;
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->in = malloc(s->max_request + 1);
		if (!c || !c->in) {
			free(c);
			close(fd);
			continue;
		}
		c->srv = s;
		loop_io_init(&c->io, fd, client_cb);
		loop_timer_init(&c->timer, client_timeout);
		c->next = s->clients;
		if (s->clients)
			s->clients->pprev = &c->next;
		c->pprev = &s->clients;
		s->clients = c;
		loop_timer_start(s->loop, &c->timer, s->timeout_ms);
		if (loop_io_set(s->loop, &c->io, EPOLLIN))
			client_free(c);
	}
}

int oneshot_srv_start(struct oneshot_srv *s, struct loop *l, int fd)
{
	int e;

	s->loop = l;
	s->clients = NULL;
	loop_io_init(&s->lio, fd, accept_cb);
	e = loop_io_set(l, &s->lio, EPOLLIN);
	if (e) {
		close(fd);
		s->loop = NULL;
		return e;
	}
	return 0;
}

void oneshot_srv_stop(struct oneshot_srv *s)
{
	if (!s->loop)
		return;
	while (s->clients)
		client_free(s->clients);
	loop_io_stop(s->loop, &s->lio);
	close(s->lio.fd);
	s->loop = NULL;
}

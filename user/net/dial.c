/* Outbound connections (see dial.h).  A dial is a small state machine:
 * RESOLVING (on the pool) → CONNECTING (one address at a time) → done; a
 * timer bounds the whole attempt. */
#include "net/dial.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "net/addr.h"
#include "net/loop.h"

#define MAX_ADDRS 8

struct dial {
	struct loop *loop;
	char host[256];
	uint16_t port;
	int socktype;
	uint32_t timeout_ms;
	dial_cb cb;
	void *ud;
	struct sockaddr_storage addrs[MAX_ADDRS];
	socklen_t lens[MAX_ADDRS];
	int naddr, next;
	int fd;
	int err;
	bool resolving, cancelled;
	int gai_err;
	struct loop_io io;
	struct loop_timer timer;
	struct loop_task task;          /* deferred start, or resolver completion */
	struct dial *qnext;             /* resolver queue */
};

/* ---- resolver pool ---- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct dial *head, *tail;
	int threads;
	bool stop;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, false };

static void resolve_one(struct dial *d)
{
	struct addrinfo hints = { .ai_socktype = d->socktype, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL, *ai;
	int n = 0;

	d->gai_err = getaddrinfo(d->host, NULL, &hints, &res);
	if (d->gai_err)
		return;
	/* IPv4 first, then IPv6 (GOST resolves preferring IPv4) */
	for (int pass = 0; pass < 2; pass++) {
		for (ai = res; ai && n < MAX_ADDRS; ai = ai->ai_next) {
			if ((pass == 0) != (ai->ai_family == AF_INET))
				continue;
			if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
				continue;
			memcpy(&d->addrs[n], ai->ai_addr, ai->ai_addrlen);
			d->lens[n] = ai->ai_addrlen;
			if (ai->ai_family == AF_INET)
				((struct sockaddr_in *)&d->addrs[n])->sin_port = htons(d->port);
			else
				((struct sockaddr_in6 *)&d->addrs[n])->sin6_port = htons(d->port);
			n++;
		}
	}
	d->naddr = n;
	freeaddrinfo(res);
	if (!n)
		d->gai_err = EAI_NONAME;
}

static void *resolver_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		struct dial *d;

		while (!pool.head && !pool.stop)
			pthread_cond_wait(&pool.cond, &pool.lock);
		if (pool.stop)
			break;
		d = pool.head;
		pool.head = d->qnext;
		if (!pool.head)
			pool.tail = NULL;
		pthread_mutex_unlock(&pool.lock);
		resolve_one(d);
		loop_post(d->loop, &d->task);
		pthread_mutex_lock(&pool.lock);
	}
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

int net_resolver_start(int threads)
{
	int err = 0;

	pthread_mutex_lock(&pool.lock);
	while (pool.threads < threads) {
		pthread_t th;

		err = pthread_create(&th, NULL, resolver_main, NULL);
		if (err)
			break;
		pthread_detach(th);
		pool.threads++;
	}
	pthread_mutex_unlock(&pool.lock);
	return -err;
}

void net_resolver_stop(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.stop = true;
	pthread_cond_broadcast(&pool.cond);
	pthread_mutex_unlock(&pool.lock);
}

/* ---- connecting ---- */

static void dial_free(struct dial *d)
{
	loop_io_stop(d->loop, &d->io);
	loop_timer_stop(d->loop, &d->timer);
	loop_cancel(d->loop, &d->task);
	if (d->fd >= 0)
		close(d->fd);
	free(d);
}

static void finish(struct dial *d, int fd, int err, const char *why)
{
	char msg[384], hp[300];
	dial_cb cb = d->cb;
	void *ud = d->ud;

	net_join_hostport(hp, sizeof(hp), d->host, d->port);
	if (fd < 0)
		snprintf(msg, sizeof(msg), "dial %s %s: %s",
			 d->socktype == SOCK_STREAM ? "tcp" : "udp", hp, why);
	d->fd = -1;             /* ownership of fd goes to the callback */
	dial_free(d);
	cb(ud, fd >= 0 ? fd : err, fd >= 0 ? NULL : msg);
}

static void try_next(struct dial *d);

static void connected(struct dial *d)
{
	int fd = d->fd;

	loop_io_stop(d->loop, &d->io);
	if (d->socktype == SOCK_STREAM)
		net_set_nodelay(fd, true);
	d->fd = -1;
	finish(d, fd, 0, NULL);
}

static void io_cb(struct loop_io *io, uint32_t events)
{
	struct dial *d = CONTAINER_OF(io, struct dial, io);
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	(void)events;
	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
		soerr = errno;
	if (!soerr) {
		connected(d);
		return;
	}
	d->err = -soerr;
	loop_io_stop(d->loop, io);
	close(d->fd);
	d->fd = -1;
	try_next(d);
}

static void try_next(struct dial *d)
{
	while (d->next < d->naddr) {
		struct sockaddr_storage *sa = &d->addrs[d->next];
		socklen_t len = d->lens[d->next++];
		int fd = socket(sa->ss_family, d->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			d->err = -errno;
			continue;
		}
		d->fd = fd;
		if (!connect(fd, (struct sockaddr *)sa, len)) {
			connected(d);
			return;
		}
		if (errno == EINPROGRESS) {
			loop_io_init(&d->io, fd, io_cb);
			if (!loop_io_set(d->loop, &d->io, EPOLLOUT))
				return;
		}
		d->err = -errno;
		close(fd);
		d->fd = -1;
	}
	finish(d, -1, d->err ? d->err : -EHOSTUNREACH,
	       strerror(d->err ? -d->err : EHOSTUNREACH));
}

static void timeout_cb(struct loop_timer *t)
{
	struct dial *d = CONTAINER_OF(t, struct dial, timer);

	if (d->resolving) {
		/* the pool still holds d and frees it when it reports back */
		char msg[384], hp[300];

		d->cancelled = true;
		net_join_hostport(hp, sizeof(hp), d->host, d->port);
		snprintf(msg, sizeof(msg), "dial %s %s: lookup timeout",
			 d->socktype == SOCK_STREAM ? "tcp" : "udp", hp);
		d->cb(d->ud, -ETIMEDOUT, msg);
		return;
	}
	finish(d, -1, -ETIMEDOUT, "i/o timeout");
}

static void start_task(struct loop_task *t)
{
	struct dial *d = CONTAINER_OF(t, struct dial, task);

	if (d->resolving) {
		/* back from the pool */
		d->resolving = false;
		if (d->cancelled) {
			dial_free(d);
			return;
		}
		if (d->gai_err) {
			char why[300];

			snprintf(why, sizeof(why), "lookup %s: %s", d->host, gai_strerror(d->gai_err));
			finish(d, -1, -EHOSTUNREACH, why);
			return;
		}
	}
	try_next(d);
}

static void set_local(struct dial *d)
{
	/* Go dials an empty or unspecified host as the local system */
	struct sockaddr_in *s4 = (struct sockaddr_in *)&d->addrs[0];
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&d->addrs[1];

	memset(d->addrs, 0, sizeof(d->addrs[0]) * 2);
	s4->sin_family = AF_INET;
	s4->sin_port = htons(d->port);
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d->lens[0] = sizeof(*s4);
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(d->port);
	s6->sin6_addr = in6addr_loopback;
	d->lens[1] = sizeof(*s6);
	d->naddr = 2;
}

struct dial *net_dial(struct loop *l, const char *host, uint16_t port, int socktype,
		      uint32_t timeout_ms, dial_cb cb, void *ud)
{
	struct dial *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->loop = l;
	util_strcpy(d->host, sizeof(d->host), host);
	d->port = port;
	d->socktype = socktype;
	d->timeout_ms = timeout_ms ? timeout_ms : DIAL_DEFAULT_TIMEOUT_MS;
	d->cb = cb;
	d->ud = ud;
	d->fd = -1;
	loop_io_init(&d->io, -1, io_cb);
	loop_timer_init(&d->timer, timeout_cb);
	loop_task_init(&d->task, start_task);
	loop_timer_start(l, &d->timer, d->timeout_ms);
	if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !*host) {
		set_local(d);
	} else if (net_parse_ip(host, port, &d->addrs[0], &d->lens[0])) {
		d->naddr = 1;
	} else {
		if (net_resolver_start(4)) {
			loop_timer_stop(l, &d->timer);
			free(d);
			return NULL;
		}
		d->resolving = true;
		pthread_mutex_lock(&pool.lock);
		if (pool.tail)
			pool.tail->qnext = d;
		else
			pool.head = d;
		pool.tail = d;
		pthread_cond_signal(&pool.cond);
		pthread_mutex_unlock(&pool.lock);
		return d;
	}
	loop_defer(l, &d->task);
	return d;
}

void net_dial_cancel(struct dial *d)
{
	if (d->resolving) {
		d->cancelled = true;
		loop_timer_stop(d->loop, &d->timer);
		return;
	}
	dial_free(d);
}

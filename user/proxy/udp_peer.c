/* A UDP listener's client address as a stream (see udp_peer.h). */
#include "proxy/udp_peer.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/udp_sendq.h"

struct dgram {
	size_t len;
	uint8_t data[];
};

struct udp_peer {
	struct stream s;
	struct udp_peer_table *t;
	struct udp_peer *next;          /* bucket chain */
	struct sockaddr_storage addr;
	socklen_t alen;
	int fd;
	unsigned want;
	struct loop_task kick;
	struct dgram **q;               /* ring of queued datagrams */
	size_t qcap, qhead, qlen;
	void (*on_close)(void *ud);
	void *ud;
};

static socklen_t addr_len(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

	return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static size_t bucket(const struct sockaddr_storage *a)
{
	const uint8_t *p;
	size_t n;
	uint32_t h = 2166136261u;       /* FNV-1a over port and address */

	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a;

		h = (h ^ x->sin6_port) * 16777619u;
		p = x->sin6_addr.s6_addr;
		n = sizeof(x->sin6_addr);
	} else {
		const struct sockaddr_in *x = (const void *)a;

		h = (h ^ x->sin_port) * 16777619u;
		p = (const uint8_t *)&x->sin_addr;
		n = sizeof(x->sin_addr);
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % UDP_PEER_BUCKETS;
}

struct udp_peer *udp_peer_find(struct udp_peer_table *t, const struct sockaddr_storage *addr)
{
	for (struct udp_peer *p = t->b[bucket(addr)]; p; p = p->next)
		if (same_addr(&p->addr, addr))
			return p;
	return NULL;
}

static void unlink_peer(struct udp_peer *p)
{
	struct udp_peer **pp = &p->t->b[bucket(&p->addr)];

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = p->next;
		p->t->n--;
	}
}

static void kick_cb(struct loop_task *k)
{
	struct udp_peer *p = CONTAINER_OF(k, struct udp_peer, kick);
	unsigned ev = p->want & (STREAM_WR | (p->qlen ? STREAM_RD : 0));

	if (ev && p->s.cb)
		p->s.cb(&p->s, ev, p->s.ud);
}

static ssize_t p_read(struct stream *s, void *buf, size_t len)
{
	struct udp_peer *p = (struct udp_peer *)s;
	struct dgram *d;
	size_t n;

	if (!p->qlen)
		return -EAGAIN;
	d = p->q[p->qhead];
	p->qhead = (p->qhead + 1) % p->qcap;
	p->qlen--;
	n = d->len < len ? d->len : len;
	memcpy(buf, d->data, n);
	free(d);
	return (ssize_t)n;
}

static ssize_t p_write(struct stream *s, const void *buf, size_t len)
{
	struct udp_peer *p = (struct udp_peer *)s;
	ssize_t w;

	if (p->t->sq) {
		int e = udp_sendq_put(p->t->sq, &p->addr, p->alen, buf, len);

		return e ? e : (ssize_t)len;
	}
	w = sendto(p->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&p->addr,
		   p->alen);
	return w < 0 ? -errno : w;
}

static int p_shutdown(struct stream *s)
{
	(void)s;
	return 0;
}

static void p_want(struct stream *s, unsigned events)
{
	struct udp_peer *p = (struct udp_peer *)s;

	p->want = events;
	/* the socket is always writable for a datagram (a full one drops it) */
	if ((events & STREAM_WR) || ((events & STREAM_RD) && p->qlen))
		loop_defer(s->loop, &p->kick);
	else
		loop_cancel(s->loop, &p->kick);
}

static void p_close(struct stream *s, bool abort)
{
	struct udp_peer *p = (struct udp_peer *)s;

	(void)abort;
	unlink_peer(p);
	/* nothing stays queued once a peer is gone: the table may go next */
	if (p->t->sq)
		udp_sendq_flush(p->t->sq);
	loop_cancel(s->loop, &p->kick);
	while (p->qlen) {
		free(p->q[p->qhead]);
		p->qhead = (p->qhead + 1) % p->qcap;
		p->qlen--;
	}
	free(p->q);
	if (p->on_close)
		p->on_close(p->ud);
	free(p);
}

static int p_raw_fd(struct stream *s)
{
	(void)s;
	return -1;
}

static int p_detach(struct stream *s)
{
	(void)s;
	return -EOPNOTSUPP;
}

static void p_describe(struct stream *s, char *out, size_t cap)
{
	(void)s;
	util_strcpy(out, cap, "udp");
}

static int p_local_addr(struct stream *s, struct sockaddr_storage *ss)
{
	socklen_t l = sizeof(*ss);

	return getsockname(((struct udp_peer *)s)->fd, (struct sockaddr *)ss, &l) ? -errno : 0;
}

static const struct stream_ops peer_ops = {
	.read = p_read,
	.write = p_write,
	.shutdown = p_shutdown,
	.want = p_want,
	.close = p_close,
	.raw_fd = p_raw_fd,
	.detach = p_detach,
	.describe = p_describe,
	.local_addr = p_local_addr,
};

struct udp_peer *udp_peer_new(struct udp_peer_table *t, struct loop *l, int fd,
			      const struct sockaddr_storage *addr, size_t queue_len,
			      void (*on_close)(void *ud), void *ud)
{
	struct udp_peer *p = calloc(1, sizeof(*p));
	size_t b;

	if (!p || !(p->q = calloc(queue_len ? queue_len : 1, sizeof(*p->q)))) {
		free(p);
		return NULL;
	}
	p->s.ops = &peer_ops;
	p->s.loop = l;
	p->t = t;
	p->fd = fd;
	p->addr = *addr;
	p->alen = addr_len(addr);
	p->qcap = queue_len ? queue_len : 1;
	p->on_close = on_close;
	p->ud = ud;
	loop_task_init(&p->kick, kick_cb);
	b = bucket(addr);
	p->next = t->b[b];
	t->b[b] = p;
	t->n++;
	return p;
}

struct stream *udp_peer_stream(struct udp_peer *p)
{
	return &p->s;
}

int udp_peer_push(struct udp_peer *p, const void *dg, size_t len)
{
	struct dgram *d;

	if (p->qlen == p->qcap)
		return -ENOBUFS;
	d = malloc(sizeof(*d) + len);
	if (!d)
		return -ENOMEM;
	d->len = len;
	memcpy(d->data, dg, len);
	p->q[(p->qhead + p->qlen) % p->qcap] = d;
	p->qlen++;
	if (!(p->want & STREAM_RD))
		return 0;
	if (p->qlen < p->qcap) {
		loop_defer(p->s.loop, &p->kick);
		return 0;
	}
	/* full: let the session drain it now rather than drop what comes next */
	loop_cancel(p->s.loop, &p->kick);
	kick_cb(&p->kick);
	return 0;
}

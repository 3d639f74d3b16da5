/* UDP BIND on the relay server (see relay_bind.h): a UDP socket on the
 * requested address; frames from the client go to their ADDR, datagrams
 * received go back framed with their source as ADDR.  The socket is read
 * with udp.bufferSize bytes (longer datagrams are truncated, as in GOST). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "control/conns.h"
#include "net/addr.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/relay_bind.h"
#include "proxy/relay_proto.h"
#include "proxy/service.h"
#include "proxy/udp_tun.h"

#define READ_BATCH 32
#define MAX_PEERS 256                   /* listed in relayctl; more are relayed unlisted */
#define PEER_IDLE_MS 60000
#define SWEEP_MS 5000

/* One remote address the BIND exchanged datagrams with, for relayctl. */
struct udp_peer {
	struct udp_peer *next;
	struct sockaddr_storage sa;
	struct conn_info *ci;
	uint64_t last;
};

struct udp_bind {
	struct relay_bind_common c;
	struct udp_tun *tun;
	struct loop_io uio;
	uint8_t *buf;
	size_t bufsize;
	uint64_t dropped;
	struct udp_peer *peers;
	size_t n_peers;
	struct loop_timer sweep;
};

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (b->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}

/* The registry entry of a peer (created on first use), or NULL past the cap. */
static struct conn_info *peer_ci(struct udp_bind *b, const struct sockaddr *sa, socklen_t len)
{
	struct udp_peer *p;
	char link[NET_ADDRSTRLEN + 32];

	for (p = b->peers; p; p = p->next)
		if (same_addr(&p->sa, sa))
			break;
	if (!p) {
		if (b->n_peers >= MAX_PEERS || len > sizeof(p->sa) || !(p = calloc(1, sizeof(*p))))
			return NULL;
		p->ci = conns_new(b->c.svc->cfg->name, "bind-udp", sa);
		if (!p->ci) {
			free(p);
			return NULL;
		}
		memcpy(&p->sa, sa, len);
		conns_set_user(p->ci, b->c.ci->user);
		relay_bind_link(&b->c, link, sizeof(link));
		conns_set_target(p->ci, link);
		conns_set_path(p->ci, CONN_PATH_USER);
		util_strcpy(p->ci->stack, sizeof(p->ci->stack), "udp|relay");
		p->next = b->peers;
		b->peers = p;
		b->n_peers++;
	}
	p->last = loop_now(b->c.loop);
	return p->ci;
}

static void peers_sweep(struct udp_bind *b, bool all)
{
	struct udp_peer **pp = &b->peers;
	uint64_t now = loop_now(b->c.loop);

	while (*pp) {
		struct udp_peer *p = *pp;

		if (all || now - p->last >= PEER_IDLE_MS) {
			*pp = p->next;
			conns_done(p->ci);
			free(p);
			b->n_peers--;
		} else {
			pp = &p->next;
		}
	}
}

static void sweep_cb(struct loop_timer *t)
{
	struct udp_bind *b = CONTAINER_OF(t, struct udp_bind, sweep);

	peers_sweep(b, false);
	loop_timer_start(b->c.loop, &b->sweep, SWEEP_MS);
}

static void count(struct udp_bind *b, const struct sockaddr *sa, socklen_t len, int up,
		  size_t n)
{
	const struct sockaddr_in6 *s6 = (const void *)sa;
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct conn_info *pci;

	/* the dual-stack socket reports IPv4 peers v4-mapped: one peer, one entry */
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		v4.sin_port = s6->sin6_port;
		memcpy(&v4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		sa = (const struct sockaddr *)&v4;
		len = sizeof(v4);
	}
	pci = peer_ci(b, sa, len);

	conns_add_user(b->c.ci, up, n);
	if (pci)
		conns_add_user(pci, up, n);
}

static void bind_end(struct udp_bind *b, const char *why)
{
	log_info(&b->c.lc, "bind: %s/udp closed: %s (%llu datagrams dropped)", b->c.bound, why,
		 (unsigned long long)b->dropped);
	conns_set_error(b->c.ci, "%s", why);
	loop_timer_stop(b->c.loop, &b->sweep);
	peers_sweep(b, true);
	loop_io_stop(b->c.loop, &b->uio);
	close(b->uio.fd);
	udp_tun_free(b->tun);
	relay_bind_unregister(&b->c);
	free(b->buf);
	free(b);
}

static void tun_closed(void *ud, const char *why)
{
	bind_end(ud, why);
}

static int addr_to_sockaddr(const struct relay_addr *a, struct sockaddr_storage *ss,
			    socklen_t *len)
{
	char text[300], host[256];
	uint16_t port;

	if (relay_addr_format(a, text, sizeof(text)) < 0 ||
	    net_split_hostport(text, host, sizeof(host), &port))
		return -EINVAL;
	if (!host[0])
		util_strcpy(host, sizeof(host), "127.0.0.1");   /* ":53" is the local host */
	return net_parse_ip(host, port, ss, len) ? 0 : -EAFNOSUPPORT;
}

/* client → destination */
static void tun_datagram(void *ud, const struct relay_addr *a, const uint8_t *data, size_t len)
{
	struct udp_bind *b = ud;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int rc = addr_to_sockaddr(a, &ss, &sl);

	if (rc) {
		char text[300] = "?";

		relay_addr_format(a, text, sizeof(text));
		log_debug(&b->c.lc, "bind: %s/udp: drop datagram to %s: %s", b->c.bound, text,
			  rc == -EAFNOSUPPORT ? "only IP destinations are supported"
					      : "bad address");
		b->dropped++;
		return;
	}
	if (sendto(b->uio.fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) {
		log_debug(&b->c.lc, "bind: %s/udp: sendto: %s", b->c.bound, strerror(errno));
		b->dropped++;
		return;
	}
	count(b, (struct sockaddr *)&ss, sl, 1, len);
}

/* destination → client */
static void udp_cb(struct loop_io *io, uint32_t events)
{
	struct udp_bind *b = CONTAINER_OF(io, struct udp_bind, uio);

	(void)events;
	for (int i = 0; i < READ_BATCH; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct relay_addr a;
		ssize_t n = recvfrom(io->fd, b->buf, b->bufsize, MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &fl);

		if (n < 0)
			return;         /* EAGAIN, or an ICMP error for an earlier send */
		if ((size_t)n > b->bufsize)
			n = (ssize_t)b->bufsize;
		if (!n || relay_addr_from_sockaddr(&a, (struct sockaddr *)&from) ||
		    udp_tun_send(b->tun, &a, b->buf, (size_t)n)) {
			b->dropped++;
			continue;
		}
		count(b, (struct sockaddr *)&from, fl, 0, (size_t)n);
	}
}

static void close_obj(struct loop_obj *o)
{
	bind_end(CONTAINER_OF(o, struct udp_bind, c.obj), "relayd shutting down");
}

void relay_bind_udp(struct relay_bind_req *r)
{
	static const struct udp_tun_callbacks cbs = { .datagram = tun_datagram,
						      .closed = tun_closed };
	struct stream *conn;
	struct udp_bind *b;
	char why[160];
	int fd;

	fd = net_listen(r->addr, SOCK_DGRAM, 0, why, sizeof(why));
	if (fd < 0) {
		relay_bind_refuse(r, RELAY_STATUS_OK, why);     /* GOST: no response */
		return;
	}
	b = calloc(1, sizeof(*b));
	if (!b || !(b->buf = malloc(r->o->udp_buffer_size))) {
		free(b);
		close(fd);
		relay_bind_refuse(r, RELAY_STATUS_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	b->bufsize = r->o->udp_buffer_size;
	conn = relay_bind_answer(r, fd, &b->c);
	loop_io_init(&b->uio, fd, udp_cb);
	loop_timer_init(&b->sweep, sweep_cb);
	b->tun = conn ? udp_tun_new(conn, &cbs, b, r->pending, r->pending_len) : NULL;
	if (!b->tun || loop_io_set(b->c.loop, &b->uio, EPOLLIN)) {
		udp_tun_free(b->tun);
		close(fd);
		conns_set_error(b->c.ci, "bind: out of memory");
		conns_done(b->c.ci);
		free(b->buf);
		free(b);
		return;
	}
	relay_bind_register(&b->c, "/udp", close_obj);
	loop_timer_start(b->c.loop, &b->sweep, SWEEP_MS);
	log_info(&b->c.lc, "bind on %s/udp OK", b->c.bound);
}

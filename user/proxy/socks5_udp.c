/* SOCKS5 UDP association over a relay UDP BIND (see socks5_udp.h).
 * States: BINDING (route in flight, nothing answered yet) → RELAYING (success
 * sent, datagrams flow, the control connection is drained until it ends). */
#include "proxy/socks5_udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "control/conns.h"
#include "net/addr.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/closer.h"
#include "proxy/relay_proto.h"
#include "proxy/router.h"
#include "proxy/service.h"
#include "proxy/socks_parse.h"
#include "proxy/udp_tun.h"

#define READ_BATCH 32
#define SOCKS5_UDP_HDR_MAX (3 + 1 + 1 + 255 + 2)

struct assoc {
	struct loop_obj obj;
	struct loop *loop;
	struct service *svc;
	struct stream *client;          /* the TCP control connection */
	struct conn_info *ci;
	struct sockaddr_storage peer;   /* the control connection's peer: only its IP may send */
	struct sockaddr_storage udp_client;
	socklen_t udp_client_len;       /* 0 until the client's first datagram */
	struct loop_io uio;             /* the client-facing UDP socket */
	struct route *route;
	struct udp_tun *tun;
	uint8_t *buf;                   /* client datagrams in */
	size_t bufsize;
	uint8_t *out;                   /* datagrams to the client: header + up to 65535 */
	struct relay_addr bound;        /* BND.ADDR / BND.PORT of the reply */
	struct log_ctx lc;
};

static void assoc_end(struct assoc *a, const uint8_t *reply, size_t n, const char *why)
{
	if (why) {
		log_info(&a->lc, "socks5: udp: %s", why);
		conns_set_error(a->ci, "%s", why);
	}
	if (a->route)
		route_cancel(a->route);
	udp_tun_free(a->tun);
	loop_io_stop(a->loop, &a->uio);
	if (a->uio.fd >= 0)
		close(a->uio.fd);
	if (reply)
		closer_start(a->client, reply, n);
	else
		stream_close(a->client, false);
	loop_obj_del(a->loop, &a->obj);
	conns_done(a->ci);
	service_put(a->svc);
	free(a->buf);
	free(a->out);
	free(a);
}

static void fail(struct assoc *a, const char *why)
{
	uint8_t r[32];
	int n = socks5_reply(r, sizeof(r), SOCKS5_REP_FAILURE, NULL);

	atomic_fetch_add(&a->svc->errors, 1);
	assoc_end(a, r, n > 0 ? (size_t)n : 0, why);
}

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	char x[NET_ADDRSTRLEN], y[NET_ADDRSTRLEN];

	net_format_ip((const struct sockaddr *)a, x, sizeof(x));
	net_format_ip((const struct sockaddr *)b, y, sizeof(y));
	return !strcmp(x, y);
}

/* client → chain: strip the SOCKS5 header, frame with the destination */
static void udp_cb(struct loop_io *io, uint32_t events)
{
	struct assoc *a = CONTAINER_OF(io, struct assoc, uio);

	(void)events;
	for (int i = 0; i < READ_BATCH && a->tun; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct relay_addr dst;
		uint8_t frag;
		ssize_t n = recvfrom(io->fd, a->buf, a->bufsize, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fl);
		int h;

		if (n < 0)
			return;
		if (!same_ip(&from, &a->peer))
			continue;       /* RFC 1928: only the control connection's host */
		h = socks5_udp_parse(a->buf, (size_t)n, &dst, &frag);
		if (h <= 0 || frag || (size_t)h == (size_t)n)
			continue;       /* malformed, fragmented or empty: dropped, as GOST */
		a->udp_client = from;
		a->udp_client_len = fl;
		if (udp_tun_send(a->tun, &dst, a->buf + h, (size_t)n - (size_t)h) == 0)
			conns_add_user(a->ci, 1, (uint64_t)n - (uint64_t)h);
	}
}

/* chain → client: SOCKS5 header with the source, then the data */
static void tun_datagram(void *ud, const struct relay_addr *src, const uint8_t *data, size_t len)
{
	struct assoc *a = ud;
	int h;

	if (!a->udp_client_len)
		return;
	h = socks5_udp_encode(a->out, SOCKS5_UDP_HDR_MAX, src);
	if (h <= 0)
		return;
	memcpy(a->out + h, data, len);
	if (sendto(a->uio.fd, a->out, (size_t)h + len, MSG_DONTWAIT,
		   (struct sockaddr *)&a->udp_client, a->udp_client_len) >= 0)
		conns_add_user(a->ci, 0, len);
}

static void tun_closed(void *ud, const char *why)
{
	struct assoc *a = ud;
	char text[128];

	snprintf(text, sizeof(text), "relay association ended: %s", why);
	assoc_end(a, NULL, 0, text);
}

/* The control connection: discard what it sends, end with it. */
static void control_cb(struct stream *st, unsigned events, void *ud)
{
	struct assoc *a = ud;
	uint8_t sink[512];

	(void)st;
	(void)events;
	for (;;) {
		ssize_t r = stream_read(a->client, sink, sizeof(sink));

		if (r == -EAGAIN)
			return;
		if (r <= 0) {
			assoc_end(a, NULL, 0, r ? "control connection failed" : NULL);
			return;
		}
	}
}

static void bound(void *ud, struct stream *s, const char *err)
{
	static const struct udp_tun_callbacks cbs = { .datagram = tun_datagram,
						      .closed = tun_closed };
	struct assoc *a = ud;
	uint8_t r[64];
	char stack[48];
	int n;

	a->route = NULL;
	if (!s) {
		fail(a, err);
		return;
	}
	stream_describe(s, stack, sizeof(stack));
	snprintf(a->ci->stack, sizeof(a->ci->stack), "tcp+udp|%s", stack);
	a->tun = udp_tun_new(s, &cbs, a, NULL, 0);
	n = socks5_reply(r, sizeof(r), SOCKS5_REP_OK, &a->bound);
	if (!a->tun || n <= 0 || stream_write(a->client, r, (size_t)n) != n ||
	    loop_io_set(a->loop, &a->uio, EPOLLIN)) {
		fail(a, "cannot start the association");
		return;
	}
	conns_set_path(a->ci, CONN_PATH_USER);
	stream_set_cb(a->client, control_cb, a);
	stream_want(a->client, STREAM_RD);
	log_debug(&a->lc, "socks5: udp association via %s", router_name(a->svc->router));
}

static void close_obj(struct loop_obj *o)
{
	assoc_end(CONTAINER_OF(o, struct assoc, obj), NULL, 0, "relayd shutting down");
}

void socks5_udp_start(struct service *svc, struct loop *l, struct stream *client,
		      struct conn_info *ci, const struct sockaddr_storage *peer,
		      size_t udp_buffer_size)
{
	struct assoc *a = calloc(1, sizeof(*a));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NET_ADDRSTRLEN], laddr[NET_ADDRSTRLEN + 8], why[160];
	int fd = -1;

	service_get(svc);
	if (!a || !(a->buf = malloc(udp_buffer_size)) ||
	    !(a->out = malloc(SOCKS5_UDP_HDR_MAX + 65535))) {
		uint8_t r[32];
		int n = socks5_reply(r, sizeof(r), SOCKS5_REP_FAILURE, NULL);

		if (a)
			free(a->buf);
		free(a);
		conns_set_error(ci, "socks5: udp: out of memory");
		closer_start(client, r, n > 0 ? (size_t)n : 0);
		conns_done(ci);
		service_put(svc);
		return;
	}
	a->loop = l;
	a->svc = svc;
	a->client = client;
	a->ci = ci;
	a->peer = *peer;
	a->bufsize = udp_buffer_size;
	a->lc = (struct log_ctx){ .kind = "handler", .service = svc->cfg->name,
				  .remote = ci->client };
	loop_io_init(&a->uio, -1, udp_cb);
	loop_obj_add(l, &a->obj, close_obj);
	loop_obj_tag(&a->obj, ci->id);
	stream_set_cb(client, NULL, NULL);
	stream_want(client, 0);
	conns_set_target(ci, "udp associate");
	/* the client-facing socket on the IP the client reached us at (RFC 1928 §6) */
	if (stream_local_addr(client, &ss)) {
		fail(a, "cannot read the control connection's local address");
		return;
	}
	net_format_ip((struct sockaddr *)&ss, host, sizeof(host));
	net_join_hostport(laddr, sizeof(laddr), host, 0);
	fd = net_listen(laddr, SOCK_DGRAM, 0, why, sizeof(why));
	if (fd < 0) {
		fail(a, why);
		return;
	}
	a->uio.fd = fd;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) ||
	    relay_addr_from_sockaddr(&a->bound, (struct sockaddr *)&ss)) {
		fail(a, "cannot read the UDP socket's address");
		return;
	}
	/* GOST checks the chain before answering (RFC 1928 §7) */
	a->route = router_bind(svc->router, l, "udp", ":0", 0, bound, a);
	if (!a->route)
		fail(a, "UDP ASSOCIATE needs a relay chain in relayd (-F relay://...)");
}

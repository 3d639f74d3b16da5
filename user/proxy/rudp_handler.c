/* The rudp service (GOST's rudp listener + remote forward handler):
 * `-L rudp://:10053/:53 -F relay://srv:8420` keeps a UDP BIND for :10053 open
 * on srv.  Datagrams arrive framed with their sender's address; each sender
 * gets its own UDP socket connected to the target (so replies find their way
 * back) that closes after `ttl` (default 5 s) without traffic. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "control/conns.h"
#include "net/addr.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/rbind_agent.h"
#include "proxy/relay_proto.h"
#include "proxy/service.h"
#include "proxy/udp_tun.h"

#define DEFAULT_TTL_MS 5000
#define DEFAULT_READ_BUFFER 8192
#define MAX_PEERS 4096
#define READ_BATCH 32

struct rudp_peer;

struct rudp {
	struct service *svc;
	struct rbind_agent *agent;
	struct udp_tun *tun;
	struct rudp_peer *peers;
	size_t n_peers;
	long ttl_ms;
	size_t bufsize;
	uint8_t *buf;
	struct sockaddr_storage target;
	socklen_t target_len;
	struct loop_timer sweep;
};

struct rudp_peer {
	struct rudp *ru;
	struct rudp_peer *prev, *next;
	struct relay_addr addr;
	struct loop_io io;
	uint64_t last;
	struct conn_info *ci;
};

static struct loop *ru_loop(struct rudp *ru)
{
	return rbind_agent_loop(ru->agent);
}

static void peer_free(struct rudp_peer *p, const char *why)
{
	struct rudp *ru = p->ru;

	if (p->prev)
		p->prev->next = p->next;
	else
		ru->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	ru->n_peers--;
	loop_io_stop(ru_loop(ru), &p->io);
	close(p->io.fd);
	if (why && *why)
		conns_set_error(p->ci, "%s", why);
	conns_done(p->ci);
	free(p);
}

/* target → peer */
static void peer_readable(struct loop_io *io, uint32_t events)
{
	struct rudp_peer *p = CONTAINER_OF(io, struct rudp_peer, io);
	struct rudp *ru = p->ru;

	(void)events;
	for (int i = 0; i < READ_BATCH; i++) {
		ssize_t n = recv(io->fd, ru->buf, ru->bufsize, MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0)
			return;
		if ((size_t)n > ru->bufsize)
			n = (ssize_t)ru->bufsize;
		p->last = loop_now(ru_loop(ru));
		if (n && udp_tun_send(ru->tun, &p->addr, ru->buf, (size_t)n) == 0)
			conns_add_user(p->ci, 0, (uint64_t)n);
	}
}

static struct rudp_peer *peer_find(struct rudp *ru, const struct relay_addr *a)
{
	for (struct rudp_peer *p = ru->peers; p; p = p->next)
		if (p->addr.atyp == a->atyp && p->addr.port == a->port &&
		    !memcmp(p->addr.ip, a->ip, sizeof(a->ip)) && !strcmp(p->addr.domain, a->domain))
			return p;
	return NULL;
}

static struct rudp_peer *peer_new(struct rudp *ru, const struct relay_addr *a)
{
	struct rudp_peer *p;
	char text[300] = "?";
	int fd;

	if (ru->n_peers >= MAX_PEERS)
		return NULL;
	fd = socket(ru->target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p || connect(fd, (struct sockaddr *)&ru->target, ru->target_len) ||
	    !(p->ci = conns_new(ru->svc->cfg->name, "rudp", NULL))) {
		free(p);
		close(fd);
		return NULL;
	}
	relay_addr_format(a, text, sizeof(text));
	conns_set_client(p->ci, text);
	conns_set_target(p->ci, ru->svc->cfg->forwarder.nodes[0].addr);
	conns_set_path(p->ci, CONN_PATH_USER);
	util_strcpy(p->ci->stack, sizeof(p->ci->stack), "udp>relay|udp");
	p->ru = ru;
	p->addr = *a;
	loop_io_init(&p->io, fd, peer_readable);
	if (loop_io_set(ru_loop(ru), &p->io, EPOLLIN)) {
		conns_done(p->ci);
		free(p);
		close(fd);
		return NULL;
	}
	p->next = ru->peers;
	if (ru->peers)
		ru->peers->prev = p;
	ru->peers = p;
	ru->n_peers++;
	return p;
}

/* peer → target */
static void tun_datagram(void *ud, const struct relay_addr *a, const uint8_t *data, size_t len)
{
	struct rudp *ru = ud;
	struct rudp_peer *p = peer_find(ru, a);

	if (!p && !(p = peer_new(ru, a))) {
		log_debug(rbind_agent_log(ru->agent), "rudp: no socket for a new peer: dropped");
		return;
	}
	p->last = loop_now(ru_loop(ru));
	if (send(p->io.fd, data, len, MSG_DONTWAIT) >= 0)
		conns_add_user(p->ci, 1, len);
}

static void tun_closed(void *ud, const char *why)
{
	struct rudp *ru = ud;

	rbind_agent_lost(ru->agent, why);
}

static void sweep_cb(struct loop_timer *t)
{
	struct rudp *ru = CONTAINER_OF(t, struct rudp, sweep);
	uint64_t now = loop_now(ru_loop(ru));
	struct rudp_peer *p = ru->peers, *next;

	for (; p; p = next) {
		next = p->next;
		if (now - p->last >= (uint64_t)ru->ttl_ms)
			peer_free(p, "");
	}
	loop_timer_start(ru_loop(ru), &ru->sweep, 1000);
}

static int up(struct rbind_agent *a, struct stream *s)
{
	static const struct udp_tun_callbacks cbs = { .datagram = tun_datagram,
						      .closed = tun_closed };
	struct rudp *ru = rbind_agent_ud(a);

	ru->tun = udp_tun_new(s, &cbs, ru, NULL, 0);
	if (!ru->tun)
		return -ENOMEM;
	loop_timer_start(ru_loop(ru), &ru->sweep, 1000);
	return 0;
}

static void down(struct rbind_agent *a)
{
	struct rudp *ru = rbind_agent_ud(a);

	while (ru->peers)
		peer_free(ru->peers, "the BIND ended");
	loop_timer_stop(ru_loop(ru), &ru->sweep);
	udp_tun_free(ru->tun);
	ru->tun = NULL;
}

static const struct rbind_agent_ops agent_ops = { .up = up, .down = down };

/* ---- handler ops ---- */

static int rudp_init(struct service *svc, char *err, size_t errlen)
{
	const struct cfg_service *c = svc->cfg;
	const char *taddr = c->forwarder.n_nodes ? c->forwarder.nodes[0].addr : "";
	struct rudp *ru;
	char host[256];
	uint16_t port;
	long rb;

	if (!rbind_check_service(c, err, errlen))
		return -EINVAL;
	ru = calloc(1, sizeof(*ru));
	if (!ru) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	svc->hdata = ru;
	ru->svc = svc;
	loop_timer_init(&ru->sweep, sweep_cb);
	if (cfg_md_duration_ms(&c->listener_md, "ttl", DEFAULT_TTL_MS, &ru->ttl_ms, err, errlen) ||
	    cfg_md_int(&c->listener_md, "readBufferSize", DEFAULT_READ_BUFFER, &rb, err, errlen))
		return -EINVAL;
	if (ru->ttl_ms <= 0)
		ru->ttl_ms = DEFAULT_TTL_MS;
	if (rb <= 0 || rb > 65535) {
		snprintf(err, errlen, "readBufferSize: %ld is out of range (1..65535)", rb);
		return -EINVAL;
	}
	ru->bufsize = (size_t)rb;
	ru->buf = malloc(ru->bufsize);
	if (!ru->buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (net_split_hostport(taddr, host, sizeof(host), &port)) {
		snprintf(err, errlen, "rudp target '%s': no valid port", taddr);
		return -EINVAL;
	}
	/* an empty host is this machine, as GOST dials it */
	if (!net_parse_ip(host[0] ? (!strcmp(host, "localhost") ? "127.0.0.1" : host)
				  : "127.0.0.1",
			  port, &ru->target, &ru->target_len)) {
		snprintf(err, errlen, "rudp target '%s': relayd needs an IP address here", taddr);
		return -EINVAL;
	}
	return 0;
}

static void rudp_fini(struct service *svc)
{
	struct rudp *ru = svc->hdata;

	if (ru)
		free(ru->buf);
	free(ru);
	svc->hdata = NULL;
}

static void rudp_start(struct service *svc, struct worker *w)
{
	struct rudp *ru = svc->hdata;

	ru->agent = rbind_agent_start(svc, w->loop, "udp", &agent_ops, ru);
	if (!ru->agent) {
		struct log_ctx lc = { .kind = "service", .service = svc->cfg->name };

		log_error(&lc, "rudp: cannot start (out of memory)");
	}
}

static void rudp_stop(struct service *svc, struct worker *w)
{
	struct rudp *ru = svc->hdata;

	(void)w;
	rbind_agent_stop(ru->agent);
	ru->agent = NULL;
}

const struct handler_ops rudp_handler_ops = {
	.name = "rudp",
	.init = rudp_init,
	.fini = rudp_fini,
	.start = rudp_start,
	.stop = rudp_stop,
};

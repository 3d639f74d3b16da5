/* Routing through a chain (see router.h).  A route is a small state machine:
 * DIAL the first hop's node, then for every hop CONNECT through its
 * connector (relay: a request written now or with the first payload, and a
 * response waited for now or read lazily, per the node's nodelay), with one
 * timer bounding the whole attempt. */
#include "proxy/router.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "control/metrics.h"
#include "net/addr.h"
#include "net/dial.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/relay_conn.h"
#include "proxy/relay_proto.h"
#include "proxy/selector.h"
#include "proxy/transport.h"

enum connector_type { CONN_RELAY, CONN_FORWARD };

struct node_rt {
	const struct cfg_node *cfg;
	char host[256];
	uint16_t port;
	enum connector_type connector;
	const char *user, *pass;        /* NULL user: no USER_AUTH */
	bool nodelay;
	long connect_timeout_ms;
	struct transport *tp;           /* the node's dialer (NULL: tcp) */
};

struct hop_rt {
	size_t n;
	struct node_rt *nodes;
	struct selector sel;
};

struct router {
	char name[64];
	size_t n_hops;
	struct hop_rt *hops;
};

struct route {
	struct router *r;
	struct loop *loop;
	char network[8];
	char addr[300];
	route_cb cb;
	void *ud;
	struct dial *dial;
	struct stream *s;
	size_t hop;                     /* hop whose connector runs next */
	size_t shaken;                  /* hops whose dialer handshake is done */
	struct node_rt *node[16];       /* node picked per hop */
	int node_idx[16];
	bool waiting;                   /* nodelay: waiting for a relay response */
	bool bind;                      /* the last hop asks for a BIND */
	struct loop_timer timer;
	struct loop_task done_task;
	char err[256];
};

#define MAX_HOPS 16

/* ---- building ---- */

static int node_init(struct node_rt *n, const struct cfg_node *cfg, char *err, size_t errlen)
{
	char mdErr[CFG_ERR_MAX];
	bool nodelay = false;
	long cto = 0;

	n->cfg = cfg;
	if (net_split_hostport(cfg->addr, n->host, sizeof(n->host), &n->port)) {
		snprintf(err, errlen, "node %s: bad address '%s'", cfg->name, cfg->addr);
		return -EINVAL;
	}
	if (!strcmp(cfg->connector, "relay")) {
		n->connector = CONN_RELAY;
	} else if (!strcmp(cfg->connector, "forward")) {
		n->connector = CONN_FORWARD;
	} else {
		snprintf(err, errlen, "node %s: connector '%s' is not supported (relay, forward)",
			 cfg->name, cfg->connector);
		return -EINVAL;
	}
	if (transport_dialer_new(cfg, &n->tp, mdErr, sizeof(mdErr))) {
		snprintf(err, errlen, "node %s: %s", cfg->name, mdErr);
		return -EINVAL;
	}
	if (cfg_md_bool(&cfg->connector_md, "nodelay", false, &nodelay, mdErr, sizeof(mdErr)) ||
	    cfg_md_duration_ms(&cfg->connector_md, "connectTimeout", 0, &cto, mdErr,
			       sizeof(mdErr))) {
		snprintf(err, errlen, "node %s: %s", cfg->name, mdErr);
		return -EINVAL;
	}
	n->nodelay = nodelay;
	n->connect_timeout_ms = cto;
	if (cfg->connector_auth && cfg->connector_auth->username &&
	    cfg->connector_auth->username[0]) {
		n->user = cfg->connector_auth->username;
		n->pass = cfg->connector_auth->password ? cfg->connector_auth->password : "";
	}
	return 0;
}

struct router *router_new(const struct cfg_chain *chain, char *err, size_t errlen)
{
	struct router *r = calloc(1, sizeof(*r));

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!chain)
		return r;
	util_strcpy(r->name, sizeof(r->name), chain->name);
	if (chain->n_hops > MAX_HOPS) {
		snprintf(err, errlen, "chain %s: more than %d hops", chain->name, MAX_HOPS);
		goto fail;
	}
	r->hops = calloc(chain->n_hops ? chain->n_hops : 1, sizeof(*r->hops));
	if (!r->hops)
		goto oom;
	r->n_hops = chain->n_hops;
	for (size_t h = 0; h < chain->n_hops; h++) {
		const struct cfg_hop *ch = &chain->hops[h];
		struct hop_rt *hop = &r->hops[h];

		if (!ch->n_nodes) {
			snprintf(err, errlen, "chain %s: hop %s has no nodes", chain->name, ch->name);
			goto fail;
		}
		hop->nodes = calloc(ch->n_nodes, sizeof(*hop->nodes));
		if (!hop->nodes || selector_init(&hop->sel, &ch->selector, ch->n_nodes))
			goto oom;
		hop->n = ch->n_nodes;
		for (size_t k = 0; k < ch->n_nodes; k++)
			if (node_init(&hop->nodes[k], &ch->nodes[k], err, errlen))
				goto fail;
	}
	return r;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	router_free(r);
	return NULL;
}

void router_free(struct router *r)
{
	if (!r)
		return;
	for (size_t h = 0; h < r->n_hops; h++) {
		selector_fini(&r->hops[h].sel);
		for (size_t k = 0; r->hops[h].nodes && k < r->hops[h].n; k++)
			transport_free(r->hops[h].nodes[k].tp);
		free(r->hops[h].nodes);
	}
	free(r->hops);
	free(r);
}

bool router_udp_framed(const struct router *r)
{
	return r && r->n_hops > 0;
}

const char *router_name(const struct router *r)
{
	return r ? r->name : "";
}

/* ---- routing ---- */

static void route_free(struct route *rt)
{
	if (rt->dial)
		net_dial_cancel(rt->dial);
	if (rt->s)
		stream_close(rt->s, false);
	loop_timer_stop(rt->loop, &rt->timer);
	loop_cancel(rt->loop, &rt->done_task);
	free(rt);
}

static void finish(struct route *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finish(struct route *rt, const char *fmt, ...)
{
	route_cb cb = rt->cb;
	void *ud = rt->ud;
	struct stream *s = NULL;
	char err[256];

	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err, sizeof(err), fmt, ap);
		va_end(ap);
		metrics_chain_error(router_name(rt->r));
	} else {
		s = rt->s;
		rt->s = NULL;
		stream_set_cb(s, NULL, NULL);
		stream_want(s, 0);
	}
	route_free(rt);
	cb(ud, s, fmt ? err : NULL);
}

static void advance(struct route *rt);

/* BIND as GOST's connector/relay/bind.go builds it: [USER_AUTH] NETWORK ADDR,
 * a host-less address sent as 0.0.0.0:port */
static int build_bind(const struct node_rt *n, bool udp, const char *addr, uint8_t *out,
		      size_t cap)
{
	struct relay_writer w;
	struct relay_addr a;
	char host[256], text[300];
	uint16_t port;
	int err;

	if (net_split_hostport(addr, host, sizeof(host), &port))
		return RELAY_E_BAD_ADDR_TEXT;
	if (!host[0])
		snprintf(text, sizeof(text), "0.0.0.0:%u", (unsigned)port);
	else
		util_strcpy(text, sizeof(text), addr);
	err = relay_addr_parse(&a, text);
	if (err)
		return err;
	relay_w_begin(&w, out, cap, RELAY_CMD_BIND | (udp ? RELAY_FLAG_UDP : 0));
	if (n->user)
		relay_w_user(&w, n->user, n->pass);
	relay_w_network(&w, udp ? RELAY_NET_UDP : RELAY_NET_TCP);
	relay_w_addr(&w, &a);
	return relay_w_finish(&w);
}

/* relay request for `addr` as GOST's connector builds it: [NETWORK] [USER_AUTH] [ADDR] */
static int build_request(const struct node_rt *n, const char *network, const char *addr,
			 bool bind, uint8_t *out, size_t cap)
{
	struct relay_writer w;
	bool udp = !strcmp(network, "udp");

	if (bind)
		return build_bind(n, udp, addr, out, cap);
	relay_w_begin(&w, out, cap, RELAY_CMD_CONNECT | (udp ? RELAY_FLAG_UDP : 0));
	if (udp)
		relay_w_network(&w, RELAY_NET_UDP);
	if (n->user)
		relay_w_user(&w, n->user, n->pass);
	if (*addr) {
		struct relay_addr a;
		int err = relay_addr_parse(&a, addr);

		if (err)
			return err;
		relay_w_addr(&w, &a);
	}
	return relay_w_finish(&w);
}

static void stream_event(struct stream *s, unsigned events, void *ud)
{
	struct route *rt = ud;
	int r;

	(void)s;
	(void)events;
	if (!relay_conn_prefix_sent(rt->s)) {
		ssize_t w = stream_write(rt->s, NULL, 0);

		if (w < 0 && w != -EAGAIN) {
			finish(rt, "connect via %s: %s", rt->node[rt->hop - 1]->cfg->addr,
			       strerror((int)-w));
			return;
		}
		if (!relay_conn_prefix_sent(rt->s)) {
			stream_want(rt->s, STREAM_WR);
			return;
		}
	}
	r = relay_conn_read_response(rt->s);
	if (r == 0) {
		stream_want(rt->s, STREAM_RD);
		return;
	}
	if (r < 0) {
		const char *t = stream_error_text(rt->s);

		finish(rt, "relay node %s: %s", rt->node[rt->hop - 1]->cfg->addr,
		       t ? t : strerror(-r));
		return;
	}
	rt->waiting = false;
	advance(rt);
}

/* Wrap rt->s with hop h's connector asking for addr. */
static int connect_through(struct route *rt, size_t h, const char *network, const char *addr)
{
	struct node_rt *n = rt->node[h];
	uint8_t req[RELAY_MAX_MSG];
	struct relay_conn_opts o = { 0 };
	bool bind = rt->bind && h + 1 == rt->r->n_hops;
	int len;

	if (n->connector == CONN_FORWARD) {
		if (!bind)
			return 0;
		snprintf(rt->err, sizeof(rt->err), "node %s: BIND needs a relay connector",
			 n->cfg->name);
		return -EINVAL;
	}
	len = build_request(n, network, addr, bind, req, sizeof(req));
	if (len < 0) {
		snprintf(rt->err, sizeof(rt->err), "relay request for %s: %s", addr,
			 relay_strerror(len));
		return -EINVAL;
	}
	o.prefix = req;
	o.prefix_len = (size_t)len;
	/* a BIND waits for its response whatever nodelay says (GOST's Bind does) */
	o.send_now = n->nodelay || bind;
	o.parse_response = true;
	rt->s = relay_conn_new(rt->s, &o);
	if (!rt->s) {
		snprintf(rt->err, sizeof(rt->err), "out of memory");
		return -ENOMEM;
	}
	if (o.send_now) {
		/* GOST's connector with nodelay writes the request and waits for the
		 * response before Connect returns */
		rt->waiting = true;
		stream_set_cb(rt->s, stream_event, rt);
		stream_event(rt->s, 0, rt);
		return 1;
	}
	return 0;
}

static void handshake_event(struct stream *s, unsigned events, void *ud)
{
	struct route *rt = ud;
	int rc;

	(void)s;
	(void)events;
	rc = stream_handshake(rt->s);
	if (rc == 0) {
		stream_want(rt->s, STREAM_RD | STREAM_WR);
		return;
	}
	if (rc < 0) {
		const char *t = stream_error_text(rt->s);

		selector_mark_failed(&rt->r->hops[rt->shaken].sel, rt->node_idx[rt->shaken]);
		finish(rt, "node %s: %s", rt->node[rt->shaken]->cfg->addr, t ? t : strerror(-rc));
		return;
	}
	rt->shaken++;
	advance(rt);
}

/* GOST's dialer Handshake: put hop h's data channel (TLS, WebSocket) on the
 * stream that reaches its node, before its connector speaks.  Returns 1
 * while waiting for the peer, 0 when done, -1 when finished with an error. */
static int dialer_handshake(struct route *rt, size_t h)
{
	if (!rt->node[h]->tp) {
		rt->shaken++;
		return 0;
	}
	rt->s = transport_wrap(rt->node[h]->tp, rt->s);
	if (!rt->s) {
		finish(rt, "out of memory");
		return -1;
	}
	stream_set_cb(rt->s, handshake_event, rt);
	handshake_event(rt->s, 0, rt);
	return 1;
}

static void advance(struct route *rt)
{
	while (rt->hop < rt->r->n_hops) {
		size_t h = rt->hop;
		bool last = h + 1 == rt->r->n_hops;
		char next[300];
		int rc;

		if (rt->shaken == h) {
			if (dialer_handshake(rt, h))
				return;
			continue;
		}
		rt->hop++;

		if (last) {
			util_strcpy(next, sizeof(next), rt->addr);
		} else {
			struct hop_rt *nh = &rt->r->hops[h + 1];
			int idx = selector_pick(&nh->sel);

			if (idx < 0) {
				finish(rt, "chain %s: no available node in hop %zu", rt->r->name, h + 1);
				return;
			}
			rt->node_idx[h + 1] = idx;
			rt->node[h + 1] = &nh->nodes[idx];
			util_strcpy(next, sizeof(next), rt->node[h + 1]->cfg->addr);
		}
		rc = connect_through(rt, h, last ? rt->network : "tcp", next);
		if (rc < 0) {
			finish(rt, "%s", rt->err);
			return;
		}
		if (rc > 0)
			return;         /* waiting for a response */
	}
	finish(rt, NULL);
}

static void dialed(void *ud, int fd, const char *msg)
{
	struct route *rt = ud;
	struct hop_rt *h0;

	rt->dial = NULL;
	if (!rt->r->n_hops) {
		if (fd < 0) {
			finish(rt, "%s", msg);
			return;
		}
		rt->s = strcmp(rt->network, "udp") ? tcp_stream_new(rt->loop, fd)
						   : dgram_stream_new(rt->loop, fd);
		if (!rt->s) {
			finish(rt, "out of memory");
			return;
		}
		finish(rt, NULL);
		return;
	}
	h0 = &rt->r->hops[0];
	if (fd < 0) {
		selector_mark_failed(&h0->sel, rt->node_idx[0]);
		finish(rt, "chain %s: %s", rt->r->name, msg);
		return;
	}
	selector_mark_ok(&h0->sel, rt->node_idx[0]);
	rt->s = tcp_stream_new(rt->loop, fd);
	if (!rt->s) {
		finish(rt, "out of memory");
		return;
	}
	advance(rt);
}

static void timeout_cb(struct loop_timer *t)
{
	struct route *rt = CONTAINER_OF(t, struct route, timer);

	finish(rt, "connect %s: i/o timeout", rt->addr);
}

struct route *router_bind(struct router *r, struct loop *l, const char *network, const char *addr,
			  uint32_t timeout_ms, route_cb cb, void *ud)
{
	struct route *rt;

	if (!r->n_hops)
		return NULL;
	rt = router_dial(r, l, network, addr, timeout_ms, cb, ud);
	if (rt)
		rt->bind = true;
	return rt;
}

struct route *router_dial(struct router *r, struct loop *l, const char *network, const char *addr,
			  uint32_t timeout_ms, route_cb cb, void *ud)
{
	struct route *rt = calloc(1, sizeof(*rt));
	int socktype = !strcmp(network, "udp") ? SOCK_DGRAM : SOCK_STREAM;
	const char *dial_host;
	uint16_t dial_port;
	char host[256];

	if (!rt)
		return NULL;
	rt->r = r;
	rt->loop = l;
	util_strcpy(rt->network, sizeof(rt->network), network);
	util_strcpy(rt->addr, sizeof(rt->addr), addr);
	rt->cb = cb;
	rt->ud = ud;
	loop_timer_init(&rt->timer, timeout_cb);
	loop_task_init(&rt->done_task, NULL);
	if (r->n_hops) {
		struct hop_rt *h0 = &r->hops[0];
		int idx = selector_pick(&h0->sel);

		if (idx < 0) {
			free(rt);
			return NULL;
		}
		rt->node_idx[0] = idx;
		rt->node[0] = &h0->nodes[idx];
		dial_host = rt->node[0]->host;
		dial_port = rt->node[0]->port;
		socktype = SOCK_STREAM;
		if (rt->node[0]->connect_timeout_ms > 0 && !timeout_ms)
			timeout_ms = (uint32_t)rt->node[0]->connect_timeout_ms;
	} else {
		if (net_split_hostport(addr, host, sizeof(host), &dial_port)) {
			free(rt);
			return NULL;
		}
		dial_host = host;
	}
	loop_timer_start(l, &rt->timer, timeout_ms ? timeout_ms : DIAL_DEFAULT_TIMEOUT_MS);
	rt->dial = net_dial(l, dial_host, dial_port, socktype, timeout_ms, dialed, rt);
	if (!rt->dial) {
		loop_timer_stop(l, &rt->timer);
		free(rt);
		return NULL;
	}
	return rt;
}

void route_cancel(struct route *rt)
{
	route_free(rt);
}

/* The rtcp service (GOST's rtcp listener + remote forward handler):
 * `-L rtcp://:2222/:22 -F relay://srv:8420` keeps a TCP BIND for :2222 open on
 * srv (rbind_agent), runs the smux server over it, and for every stream the
 * server opens reads its relay header (the remote peer's address), dials the
 * forwarder target (:22, here) and pipes.  As in GOST, a stream whose header
 * is bad drops the whole BIND, which is then opened again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "control/conns.h"
#include "net/addr.h"
#include "net/loop.h"
#include "net/smux_session.h"
#include "net/stream.h"
#include "proxy/pipe.h"
#include "proxy/rbind_agent.h"
#include "proxy/relay_proto.h"
#include "proxy/router.h"
#include "proxy/service.h"
#include "proxy/smux_md.h"

/* a peer header is one or two ADDRs (GOST sends one, ~14 bytes) */
#define HDR_MAX 1024

struct rtcp_stream;

struct rtcp {
	struct service *svc;
	struct smux_config mux;
	struct rbind_agent *agent;
	struct smux_session *ss;
	struct rtcp_stream *pending;    /* streams still reading their header or dialing */
};

/* One stream from its SYN until it is piped. */
struct rtcp_stream {
	struct rtcp *rt;
	struct rtcp_stream *prev, *next;
	struct stream *st;
	struct conn_info *ci;
	struct route *route;
	int fwd_idx;
	uint8_t hdr[HDR_MAX];
	size_t got, need;
};

static void pending_del(struct rtcp_stream *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		p->rt->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
}

static void stream_free(struct rtcp_stream *p, const char *why)
{
	pending_del(p);
	if (p->route)
		route_cancel(p->route);
	if (p->st)
		stream_close(p->st, false);
	if (p->ci) {
		conns_set_error(p->ci, "%s", why);
		conns_done(p->ci);
	}
	free(p);
}

static void dialed(void *ud, struct stream *target, const char *err)
{
	struct rtcp_stream *p = ud;
	struct stream *st = p->st;
	struct conn_info *ci = p->ci;

	p->route = NULL;
	if (!target) {
		selector_mark_failed(&p->rt->svc->fwd_sel, p->fwd_idx);
		log_info(rbind_agent_log(p->rt->agent), "rtcp: %s: %s", ci->target, err);
		atomic_fetch_add(&p->rt->svc->errors, 1);
		stream_free(p, err);
		return;
	}
	selector_mark_ok(&p->rt->svc->fwd_sel, p->fwd_idx);
	p->st = NULL;
	p->ci = NULL;
	stream_free(p, "");
	pipe_start(st, target, ci, NULL);
}

/* The header is in: a relay response, status 0, ADDR = the remote peer. */
static int header_done(struct rtcp_stream *p)
{
	struct service *svc = p->rt->svc;
	const struct cfg_fnode *n;
	struct relay_msg m;
	char peer[300] = "";
	int rc = relay_decode(p->hdr, p->got, RELAY_DECODE_TOLERANT, &m, NULL);

	if (rc <= 0 || m.code != RELAY_STATUS_OK || !m.n_addr)
		return -EPROTO;
	relay_addr_format(&m.addr_first, peer, sizeof(peer));
	p->ci = conns_new(svc->cfg->name, "rtcp", NULL);
	if (!p->ci)
		return -ENOMEM;
	conns_set_client(p->ci, peer);
	n = service_pick_target(svc, &p->fwd_idx);
	if (!n)
		return -EHOSTUNREACH;
	conns_set_target(p->ci, n->addr);
	snprintf(p->ci->stack, sizeof(p->ci->stack), "smux#%u>relay|tcp",
		 (unsigned)smux_stream_id(p->st));
	stream_want(p->st, 0);
	p->route = router_dial(svc->router, rbind_agent_loop(p->rt->agent), "tcp", n->addr, 0,
			       dialed, p);
	return p->route ? 0 : -ENOMEM;
}

static void stream_readable(struct stream *s, unsigned events, void *ud)
{
	struct rtcp_stream *p = ud;
	struct rtcp *rt = p->rt;

	(void)s;
	(void)events;
	/* exact reads: the header, never a byte of the payload behind it */
	while (p->got < p->need) {
		ssize_t r = stream_read(p->st, p->hdr + p->got, p->need - p->got);
		int rc;

		if (r == -EAGAIN)
			return;
		if (r <= 0) {
			stream_free(p, "stream ended before its header");
			return;
		}
		p->got += (size_t)r;
		if (p->got == RELAY_HDR_LEN && p->need == RELAY_HDR_LEN)
			p->need += (size_t)p->hdr[2] << 8 | p->hdr[3];
		if (p->got < p->need && p->need <= HDR_MAX)
			continue;
		rc = p->need <= HDR_MAX ? header_done(p) : -EPROTO;
		if (rc == -EPROTO) {
			/* GOST: Accept fails, and the listener drops the whole BIND */
			stream_free(p, "bad stream header");
			rbind_agent_lost(rt->agent, "a stream came with a bad relay header");
			return;
		}
		if (rc) {
			stream_free(p, rc == -EHOSTUNREACH ? "no target available" : "out of memory");
			return;
		}
	}
}

static void session_accept(void *ud, struct stream *st)
{
	struct rtcp *rt = ud;
	struct rtcp_stream *p = calloc(1, sizeof(*p));

	if (!p) {
		stream_close(st, false);
		return;
	}
	p->rt = rt;
	p->st = st;
	p->need = RELAY_HDR_LEN;
	p->next = rt->pending;
	if (rt->pending)
		rt->pending->prev = p;
	rt->pending = p;
	stream_set_cb(st, stream_readable, p);
	stream_want(st, STREAM_RD);
}

static void session_closed(void *ud, const char *why)
{
	struct rtcp *rt = ud;

	rbind_agent_lost(rt->agent, why);
}

static int up(struct rbind_agent *a, struct stream *s)
{
	static const struct smux_callbacks cbs = { .accept = session_accept,
						   .closed = session_closed };
	struct rtcp *rt = rbind_agent_ud(a);

	/* relayd is the smux server here: the relay server opens the streams */
	rt->ss = smux_session_new(s, false, &rt->mux, &cbs, rt, NULL, 0, rt->svc->cfg->name);
	return rt->ss ? 0 : -ENOMEM;
}

static void down(struct rbind_agent *a)
{
	struct rtcp *rt = rbind_agent_ud(a);

	while (rt->pending)
		stream_free(rt->pending, "the BIND ended");
	smux_session_free(rt->ss);
	rt->ss = NULL;
}

static const struct rbind_agent_ops agent_ops = { .up = up, .down = down };

/* ---- handler ops ---- */

static int rtcp_init(struct service *svc, char *err, size_t errlen)
{
	const struct cfg_node *n = rbind_check_service(svc->cfg, err, errlen);
	struct rtcp *rt;

	if (!n)
		return -EINVAL;
	rt = calloc(1, sizeof(*rt));
	if (!rt) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	svc->hdata = rt;
	rt->svc = svc;
	return smux_config_from_md(&n->connector_md, &rt->mux, err, errlen);
}

static void rtcp_fini(struct service *svc)
{
	free(svc->hdata);
	svc->hdata = NULL;
}

static void rtcp_start(struct service *svc, struct worker *w)
{
	struct rtcp *rt = svc->hdata;

	rt->agent = rbind_agent_start(svc, w->loop, "tcp", &agent_ops, rt);
	if (!rt->agent) {
		struct log_ctx lc = { .kind = "service", .service = svc->cfg->name };

		log_error(&lc, "rtcp: cannot start (out of memory)");
	}
}

static void rtcp_stop(struct service *svc, struct worker *w)
{
	struct rtcp *rt = svc->hdata;

	(void)w;
	rbind_agent_stop(rt->agent);
	rt->agent = NULL;
}

const struct handler_ops rtcp_handler_ops = {
	.name = "rtcp",
	.init = rtcp_init,
	.fini = rtcp_fini,
	.start = rtcp_start,
	.stop = rtcp_stop,
};

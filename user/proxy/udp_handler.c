/* UDP port forwarding (GOST's udp listener with the forward handler,
 * `-L udp://:1053/:53`): the listener's socket is read in batches
 * (recvmmsg) by the one worker that owns it, every client address gets a
 * session, and each session dials the service's next forwarder node (":0"
 * without one, which a relay server in forward mode replaces) with network
 * udp: through a relay chain that is one relay connection per client
 * address carrying length-framed datagrams, directly a connected UDP socket.
 *
 * Listener metadata as GOST's (x: listener/udp): ttl (5 s) ends a session
 * idle that long; keepalive (false) ends it once a reply reached the client;
 * readQueueSize (128) datagrams wait per session; backlog (128) sessions
 * may be dialing at once.  readBufferSize defaults to 65535, not GOST's
 * 1500, so datagrams are never truncated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "control/conns.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/dgram_pipe.h"
#include "proxy/router.h"
#include "proxy/service.h"
#include "proxy/udp_framer.h"
#include "proxy/udp_peer.h"
#include "proxy/udp_sendq.h"

#define RECV_BATCH 16
#define DROP_LOG_MS 1000

struct udp_opts {
	long ttl_ms;
	bool keepalive;
	long read_buf, queue, backlog;
	struct udp_peer_table peers;
	long dialing;
	/* recvmmsg buffers, used only on the owning worker */
	uint8_t *bufs;
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct sockaddr_storage from[RECV_BATCH];
	uint8_t cmsg[RECV_BATCH][CMSG_SPACE(sizeof(uint32_t))];
	bool setup, ovfl_seen;
	uint32_t ovfl_last;
	uint64_t dropped_full, dropped_backlog, dropped_trunc, dropped_send, dropped_kernel;
	uint64_t last_drop_log;
};

/* A session from its first datagram until the dial is done. */
struct udp_sess {
	struct loop_obj obj;
	struct loop *loop;
	struct service *svc;
	struct udp_peer *peer;
	struct stream *ps;              /* the peer's stream, NULL once handed to the pipe */
	struct conn_info *ci;
	struct route *route;
	int idx;
};

static int udp_init(struct service *svc, char *err, size_t errlen)
{
	const struct cfg_md *md = &svc->cfg->listener_md;
	struct udp_opts *o = calloc(1, sizeof(*o));

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	svc->hdata = o;
	if (cfg_md_duration_ms(md, "ttl", 5000, &o->ttl_ms, err, errlen) ||
	    cfg_md_bool(md, "keepalive", false, &o->keepalive, err, errlen) ||
	    cfg_md_int(md, "readBufferSize", UDP_MAX_DGRAM, &o->read_buf, err, errlen) ||
	    cfg_md_int(md, "readQueueSize", 128, &o->queue, err, errlen) ||
	    cfg_md_int(md, "backlog", 128, &o->backlog, err, errlen))
		return -EINVAL;
	/* GOST: 0 or less means the default */
	if (o->ttl_ms <= 0)
		o->ttl_ms = 5000;
	if (o->read_buf <= 0 || o->read_buf > UDP_MAX_DGRAM)
		o->read_buf = UDP_MAX_DGRAM;
	if (o->queue <= 0)
		o->queue = 128;
	if (o->backlog <= 0)
		o->backlog = 128;
	/* one byte more than asked, so a longer datagram shows as truncated */
	o->bufs = malloc((size_t)RECV_BATCH * (size_t)(o->read_buf + 1));
	if (!o->bufs) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static void udp_fini(struct service *svc)
{
	struct udp_opts *o = svc->hdata;

	if (!o)
		return;
	if (o->peers.sq)
		udp_sendq_free(o->peers.sq);
	free(o->bufs);
	free(o);
	svc->hdata = NULL;
}

static void log_drops(struct service *svc, struct loop *l, bool force)
{
	struct udp_opts *o = svc->hdata;
	struct log_ctx lc = { .kind = "service", .service = svc->cfg->name };
	uint64_t now = loop_now(l);

	if (!force && now - o->last_drop_log < DROP_LOG_MS)
		return;
	if (o->dropped_full)
		log_warn(&lc, "udp: dropped %llu datagrams: a client's queue is full "
			 "(readQueueSize %ld; it sends faster than its session drains)",
			 (unsigned long long)o->dropped_full, o->queue);
	if (o->dropped_backlog)
		log_warn(&lc, "udp: dropped %llu datagrams from new clients: %ld sessions are "
			 "already dialing (backlog)", (unsigned long long)o->dropped_backlog,
			 o->backlog);
	if (o->dropped_trunc)
		log_warn(&lc, "udp: dropped %llu datagrams longer than readBufferSize %ld",
			 (unsigned long long)o->dropped_trunc, o->read_buf);
	if (o->dropped_send)
		log_warn(&lc, "udp: dropped %llu replies the socket refused (send buffer full)",
			 (unsigned long long)o->dropped_send);
	if (o->dropped_kernel)
		log_warn(&lc, "udp: the kernel dropped %llu datagrams: the listening socket's buffer "
			 "was full (clients send faster than relayd reads)",
			 (unsigned long long)o->dropped_kernel);
	o->dropped_full = o->dropped_backlog = o->dropped_trunc = o->dropped_send = 0;
	o->dropped_kernel = 0;
	o->last_drop_log = now;
}

/* ---- sessions ---- */

static void peer_closed(void *ud)
{
	service_put(ud);
}

static void sess_free(struct udp_sess *s)
{
	struct udp_opts *o = s->svc->hdata;

	o->dialing--;
	loop_obj_del(s->loop, &s->obj);
	if (s->route)
		route_cancel(s->route);
	free(s);
}

static void sess_fail(struct udp_sess *s, const char *why)
{
	struct log_ctx lc = { .kind = "handler", .service = s->svc->cfg->name,
			      .remote = s->ci->client, .dst = s->ci->target };

	struct stream *ps = s->ps;

	log_info(&lc, "udp: %s", why);
	conns_set_error(s->ci, "%s", why);
	atomic_fetch_add(&s->svc->errors, 1);
	conns_done(s->ci);
	sess_free(s);
	stream_close(ps, false);        /* drops what was queued, leaves the table */
}

/* daemon shutdown while dialing */
static void close_obj(struct loop_obj *o)
{
	struct udp_sess *s = CONTAINER_OF(o, struct udp_sess, obj);

	struct stream *ps = s->ps;

	conns_set_error(s->ci, "relayd shutting down");
	conns_done(s->ci);
	sess_free(s);
	stream_close(ps, false);
}

static void dialed(void *ud, struct stream *target, const char *err)
{
	struct udp_sess *s = ud;
	struct udp_opts *o = s->svc->hdata;
	struct dgram_pipe_opts po = { 0 };
	char stack[48];

	s->route = NULL;
	if (!target) {
		if (s->idx >= 0)
			selector_mark_failed(&s->svc->fwd_sel, s->idx);
		sess_fail(s, err);
		return;
	}
	if (s->idx >= 0)
		selector_mark_ok(&s->svc->fwd_sel, s->idx);
	stream_describe(target, stack, sizeof(stack));
	snprintf(s->ci->stack, sizeof(s->ci->stack), "udp|%s", stack);
	po.framed[PIPE_TARGET] = router_udp_framed(s->svc->router);
	po.idle_ms = (uint32_t)o->ttl_ms;
	po.end_after_reply = !o->keepalive;
	dgram_pipe_start(s->ps, target, s->ci, &po);
	s->ps = NULL;
	sess_free(s);
}

static struct udp_peer *sess_new(struct service *svc, struct worker *w,
				 const struct sockaddr_storage *from)
{
	struct udp_opts *o = svc->hdata;
	struct udp_sess *s;
	const char *addr = ":0";

	if (o->dialing >= o->backlog) {
		o->dropped_backlog++;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->svc = svc;
	s->loop = w->loop;
	s->idx = -1;
	s->ci = conns_new(svc->cfg->name, "udp", (const struct sockaddr *)from);
	if (s->ci)
		s->peer = udp_peer_new(&o->peers, w->loop, svc->lfd, from, (size_t)o->queue,
				       peer_closed, svc);
	if (!s->peer) {
		if (s->ci)
			conns_done(s->ci);
		free(s);
		return NULL;
	}
	service_get(svc);               /* the peer's, dropped when it closes */
	atomic_fetch_add(&svc->requests, 1);
	s->ps = udp_peer_stream(s->peer);
	o->dialing++;
	loop_obj_add(w->loop, &s->obj, close_obj);
	loop_obj_tag(&s->obj, s->ci->id);
	if (svc->cfg->forwarder.n_nodes) {
		const struct cfg_fnode *n = service_pick_target(svc, &s->idx);

		if (!n) {
			sess_fail(s, "no target node available");
			return NULL;
		}
		addr = n->addr;
	}
	conns_set_target(s->ci, addr);
	s->route = router_dial(svc->router, w->loop, "udp", addr, 0, dialed, s);
	if (!s->route) {
		sess_fail(s, "cannot start the dial (bad address or out of memory)");
		return NULL;
	}
	return s->peer;
}

/* ---- the listener ---- */

/* First call on the owning worker: reply batching, and the kernel's count of
 * datagrams it dropped because the socket's buffer was full (SO_RXQ_OVFL). */
static void listener_setup(struct service *svc, struct worker *w)
{
	struct udp_opts *o = svc->hdata;
	int on = 1;

	o->setup = true;
	o->peers.sq = udp_sendq_new(w->loop, svc->lfd);  /* NULL: replies use sendto */
	if (setsockopt(svc->lfd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on))) {
		struct log_ctx lc = { .kind = "service", .service = svc->cfg->name };

		log_warn(&lc, "udp: SO_RXQ_OVFL: %s (drops in the socket buffer go unlogged)",
			 strerror(errno));
	}
}

static void prepare_batch(struct udp_opts *o)
{
	size_t cap = (size_t)o->read_buf + 1;

	for (int i = 0; i < RECV_BATCH; i++) {
		struct msghdr *h = &o->msgs[i].msg_hdr;

		o->iov[i].iov_base = o->bufs + (size_t)i * cap;
		o->iov[i].iov_len = cap;
		memset(h, 0, sizeof(*h));
		h->msg_iov = &o->iov[i];
		h->msg_iovlen = 1;
		h->msg_name = &o->from[i];
		h->msg_namelen = sizeof(o->from[i]);
		h->msg_control = o->cmsg[i];
		h->msg_controllen = sizeof(o->cmsg[i]);
	}
}

/* The kernel's running count of datagrams the socket dropped, as of this one. */
static void note_overflow(struct udp_opts *o, struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		uint32_t v;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL)
			continue;
		memcpy(&v, CMSG_DATA(c), sizeof(v));
		/* the first count seen is the baseline: a reload shares the socket */
		if (o->ovfl_seen)
			o->dropped_kernel += v - o->ovfl_last;
		o->ovfl_last = v;
		o->ovfl_seen = true;
	}
}

static void udp_readable(struct service *svc, struct worker *w)
{
	struct udp_opts *o = svc->hdata;

	if (!o->setup)
		listener_setup(svc, w);
	if (o->peers.sq)
		o->dropped_send += udp_sendq_take_drops(o->peers.sq);
	for (int round = 0; round < 8; round++) {
		int n;

		prepare_batch(o);
		n = recvmmsg(svc->lfd, o->msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			size_t len = o->msgs[i].msg_len;
			struct udp_peer *p;

			note_overflow(o, &o->msgs[i].msg_hdr);
			if (len > (size_t)o->read_buf) {
				o->dropped_trunc++;
				continue;
			}
			p = udp_peer_find(&o->peers, &o->from[i]);
			if (!p)
				p = sess_new(svc, w, &o->from[i]);
			if (p && udp_peer_push(p, o->iov[i].iov_base, len))
				o->dropped_full++;
		}
		if (n < RECV_BATCH)
			break;
	}
	if (o->dropped_full || o->dropped_backlog || o->dropped_trunc || o->dropped_send ||
	    o->dropped_kernel)
		log_drops(svc, w->loop, false);
}

const struct handler_ops udp_handler_ops = {
	.name = "udp",
	.init = udp_init,
	.fini = udp_fini,
	.readable = udp_readable,
};

/* The relay server handler (GOST's handler/relay): read one request under a
 * deadline, authenticate, then CONNECT (dial the client's target) or, on a
 * service with a forwarder, dial the service's own target; answer with GOST's
 * status codes and timing (nodelay), and hand both ends to the pipe.
 * Per connection: HEADER → AUTH → DIAL → PIPE, or a status and a close. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "control/conns.h"
#include "net/addr.h"
#include "net/cidr.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/closer.h"
#include "proxy/conn_stack.h"
#include "proxy/dgram_pipe.h"
#include "proxy/pipe.h"
#include "proxy/relay_bind.h"
#include "proxy/relay_conn.h"
#include "proxy/relay_proto.h"
#include "proxy/router.h"
#include "proxy/service.h"

#define HDR_BUF 16384
#define DEFAULT_READ_TIMEOUT_MS 15000
/* nodelay=false holds the OK until the target speaks (GOST's timing); after
 * this much upload to a silent target it goes out alone, which GOST clients
 * accept (they read exactly the header), so bulk uploads reach the fast path */
#define HELD_RESPONSE_FLUSH_BYTES (256u * 1024)

struct relay_opts {
	long read_timeout_ms;
	bool nodelay;
	bool bind;
	struct cidr_list skipauth;
	struct relay_bind_opts bind_opts;
};

struct relay_sess {
	struct loop_obj obj;
	struct loop *loop;
	struct service *svc;
	struct relay_opts *o;
	struct stream *client;
	struct conn_info *ci;
	struct sockaddr_storage peer;
	struct log_ctx lc;
	uint8_t *buf;
	size_t len, cap;
	size_t hdr_len;
	bool last_full;
	struct loop_timer timer;
	struct route *route;
	int fwd_idx;
	bool udp;                       /* network udp: frames, not bytes */
	struct relay_msg msg;
};

/* ---- options ---- */

static int relay_init(struct service *svc, char *err, size_t errlen)
{
	const struct cfg_md *md = &svc->cfg->handler_md;
	struct relay_opts *o = calloc(1, sizeof(*o));
	char **skip = NULL;

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	svc->hdata = o;
	if (cfg_md_duration_ms(md, "readTimeout", DEFAULT_READ_TIMEOUT_MS, &o->read_timeout_ms,
			       err, errlen) ||
	    cfg_md_bool(md, "nodelay", false, &o->nodelay, err, errlen) ||
	    cfg_md_bool(md, "bind", false, &o->bind, err, errlen) ||
	    cfg_md_strlist(md, "skipauth", &skip, err, errlen))
		return -EINVAL;
	if (o->read_timeout_ms <= 0)    /* GOST: 0 or less means the default */
		o->read_timeout_ms = DEFAULT_READ_TIMEOUT_MS;
	if (o->bind && relay_bind_opts_parse(md, &o->bind_opts, err, errlen)) {
		cfg_strv_free(skip);
		return -EINVAL;
	}
	if (cidr_list_parse(&o->skipauth, skip, err, errlen)) {
		cfg_strv_free(skip);
		return -EINVAL;
	}
	cfg_strv_free(skip);
	return 0;
}

static void relay_fini(struct service *svc)
{
	struct relay_opts *o = svc->hdata;

	if (!o)
		return;
	cidr_list_free(&o->skipauth);
	relay_bind_opts_free(&o->bind_opts);
	free(o);
	svc->hdata = NULL;
}

/* ---- per connection ---- */

static void sess_free(struct relay_sess *s)
{
	service_put(s->svc);
	loop_obj_del(s->loop, &s->obj);
	loop_timer_stop(s->loop, &s->timer);
	if (s->route)
		route_cancel(s->route);
	free(s->buf);
	free(s);
}

/* Silent close (GOST: read or parse errors get no response). */
static void drop(struct relay_sess *s, const char *why)
{
	log_info(&s->lc, "relay: %s", why);
	conns_set_error(s->ci, "%s", why);
	atomic_fetch_add(&s->svc->errors, 1);
	loop_timer_stop(s->loop, &s->timer);
	stream_close(s->client, false);
	s->client = NULL;
	conns_done(s->ci);
	sess_free(s);
}

/* Answer with a status and close. */
static void refuse(struct relay_sess *s, uint8_t status, const char *why)
{
	uint8_t resp[RELAY_HDR_LEN] = { RELAY_VERSION, status, 0, 0 };

	log_info(&s->lc, "relay: %s (status %u %s)", why, status, relay_status_text(status));
	conns_set_error(s->ci, "%s", why);
	atomic_fetch_add(&s->svc->errors, 1);
	loop_timer_stop(s->loop, &s->timer);
	closer_start(s->client, resp, sizeof(resp));
	s->client = NULL;
	conns_done(s->ci);
	sess_free(s);
}

static void dialed(void *ud, struct stream *target, const char *err)
{
	struct relay_sess *s = ud;
	struct relay_conn_opts ro = { 0 };
	static const uint8_t ok[RELAY_HDR_LEN] = { RELAY_VERSION, RELAY_STATUS_OK, 0, 0 };
	struct pipe_opts po = { 0 };
	struct stream *client;

	s->route = NULL;
	if (!target) {
		bool fwd = s->svc->cfg->forwarder.n_nodes > 0;

		if (fwd)
			selector_mark_failed(&s->svc->fwd_sel, s->fwd_idx);
		refuse(s, fwd ? RELAY_STATUS_HOST_UNREACHABLE : RELAY_STATUS_NETWORK_UNREACHABLE, err);
		return;
	}
	if (s->svc->cfg->forwarder.n_nodes)
		selector_mark_ok(&s->svc->fwd_sel, s->fwd_idx);
	/* nodelay=false: the OK goes out with the target's first bytes (GOST's timing) */
	conn_note_streams(s->ci, s->client, target);
	ro.prefix = ok;
	ro.prefix_len = sizeof(ok);
	ro.send_now = s->o->nodelay;
	client = relay_conn_new(s->client, &ro);
	s->client = NULL;
	if (!client) {
		stream_close(target, false);
		conns_set_error(s->ci, "out of memory");
		conns_done(s->ci);
		sess_free(s);
		return;
	}
	log_debug(&s->lc, "relay: %s <-> %s", s->ci->client, s->ci->target);
	if (s->udp) {
		struct dgram_pipe_opts dpo = {
			.framed = { true, router_udp_framed(s->svc->router) },
			.pending = s->buf + s->hdr_len,
			.pending_len = s->len - s->hdr_len,
		};

		dgram_pipe_start(client, target, s->ci, &dpo);
		sess_free(s);
		return;
	}
	po.pending[PIPE_CLIENT] = s->buf + s->hdr_len;
	po.pending_len[PIPE_CLIENT] = s->len - s->hdr_len;
	po.flush_client_after = s->o->nodelay ? 0 : HELD_RESPONSE_FLUSH_BYTES;
	pipe_start(client, target, s->ci, &po);
	sess_free(s);
}

static void start_dial(struct relay_sess *s, const char *network, const char *addr)
{
	s->udp = !strcmp(network, "udp");
	conns_set_target(s->ci, addr);
	s->lc.dst = s->ci->target;
	s->route = router_dial(s->svc->router, s->loop, network, addr, 0, dialed, s);
	if (!s->route)
		refuse(s, s->svc->cfg->forwarder.n_nodes ? RELAY_STATUS_HOST_UNREACHABLE
							 : RELAY_STATUS_NETWORK_UNREACHABLE,
		       "cannot start the dial (bad address or out of memory)");
}

static bool authenticate(struct relay_sess *s)
{
	const struct cfg_users *u = &s->svc->cfg->handler_users;
	const struct relay_msg *m = &s->msg;

	if (!u->enabled || cidr_list_match(&s->o->skipauth, (struct sockaddr *)&s->peer))
		return true;
	/* a missing USER_AUTH counts as user "" with password "" */
	return cfg_users_check(u, m->has_user ? m->user : "", m->has_user ? m->pass : "");
}

/* relayd's rule on top of GOST's: where users are configured, a BIND needs
 * real credentials (skipauth addresses may CONNECT, not listen) */
static void start_bind(struct relay_sess *s, const char *network, const char *addr)
{
	const struct cfg_users *u = &s->svc->cfg->handler_users;
	struct relay_bind_req r = {
		.svc = s->svc, .loop = s->loop, .client = s->client, .ci = s->ci,
		.network = network, .addr = addr, .pending = s->buf + s->hdr_len,
		.pending_len = s->len - s->hdr_len, .o = &s->o->bind_opts,
	};

	if (u->enabled && !cfg_users_check(u, s->msg.has_user ? s->msg.user : "",
					   s->msg.has_user ? s->msg.pass : "")) {
		refuse(s, RELAY_STATUS_UNAUTHORIZED, "bind: needs a user's credentials");
		return;
	}
	relay_bind_start(&r);
	s->client = NULL;
	s->ci = NULL;
	sess_free(s);
}

static void handle_request(struct relay_sess *s)
{
	const struct relay_msg *m = &s->msg;
	const char *network = relay_msg_network(m);
	char addr[300] = "";
	uint8_t cmd = m->code & RELAY_CMD_MASK;

	if (m->has_user && m->ulen) {
		conns_set_user(s->ci, m->user);
		s->lc.user = s->ci->user;
	}
	if (!authenticate(s)) {
		char why[320];

		snprintf(why, sizeof(why), "authentication failed for user '%s'",
			 m->has_user ? m->user : "");
		refuse(s, RELAY_STATUS_UNAUTHORIZED, why);
		return;
	}
	if (m->n_addr && relay_addr_format(&m->addr, addr, sizeof(addr)) < 0)
		addr[0] = 0;
	if (s->svc->cfg->forwarder.n_nodes) {
		/* forward mode: the client's CMD and ADDR are ignored */
		const struct cfg_fnode *n = service_pick_target(s->svc, &s->fwd_idx);

		if (!n) {
			refuse(s, RELAY_STATUS_SERVICE_UNAVAILABLE, "forward: no target node available");
			return;
		}
		if (strcmp(network, "tcp") && strcmp(network, "udp")) {
			char why[64];

			snprintf(why, sizeof(why), "forward: network '%s' is not supported", network);
			refuse(s, RELAY_STATUS_HOST_UNREACHABLE, why);
			return;
		}
		start_dial(s, network, n->addr);
		return;
	}
	switch (cmd) {
	case 0:
	case RELAY_CMD_CONNECT:
		if (!addr[0]) {
			refuse(s, RELAY_STATUS_BAD_REQUEST, "connect: target not specified");
			return;
		}
		if (strcmp(network, "tcp") && strcmp(network, "udp")) {
			char why[64];

			snprintf(why, sizeof(why), "connect: network '%s' is not supported", network);
			refuse(s, RELAY_STATUS_BAD_REQUEST, why);
			return;
		}
		start_dial(s, network, addr);
		return;
	case RELAY_CMD_BIND:
		if (!s->o->bind) {
			refuse(s, RELAY_STATUS_FORBIDDEN, "bind: not enabled on this service (bind=true)");
			return;
		}
		start_bind(s, network, addr);
		return;
	default: {
		char why[64];

		snprintf(why, sizeof(why), "unsupported command 0x%02x", cmd);
		refuse(s, RELAY_STATUS_BAD_REQUEST, why);
		return;
	}
	}
}

static void on_readable(struct stream *st, unsigned events, void *ud)
{
	struct relay_sess *s = ud;
	size_t need = RELAY_HDR_LEN;
	int rc;

	(void)st;
	(void)events;
	for (;;) {
		ssize_t r;

		if (s->len == s->cap) {
			size_t ncap = s->cap * 2 > RELAY_MAX_MSG + HDR_BUF ? RELAY_MAX_MSG + HDR_BUF
									   : s->cap * 2;
			uint8_t *nb = ncap > s->cap ? realloc(s->buf, ncap) : NULL;

			if (!nb) {
				drop(s, "request too large or out of memory");
				return;
			}
			s->buf = nb;
			s->cap = ncap;
		}
		r = stream_read(s->client, s->buf + s->len, s->cap - s->len);
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			const char *t = stream_error_text(s->client);
			char why[200];

			snprintf(why, sizeof(why), "read request: %s", t ? t : strerror((int)-r));
			drop(s, why);
			return;
		}
		if (r == 0) {
			drop(s, s->len ? "read request: unexpected EOF" : "read request: EOF");
			return;
		}
		s->last_full = (size_t)r == s->cap - s->len;
		s->len += (size_t)r;
		rc = relay_decode(s->buf, s->len, RELAY_DECODE_TOLERANT, &s->msg, &need);
		if (rc < 0) {
			char why[96];

			snprintf(why, sizeof(why), "bad request: %s", relay_strerror(rc));
			drop(s, why);
			return;
		}
		if (rc > 0) {
			s->hdr_len = (size_t)rc;
			loop_timer_stop(s->loop, &s->timer);
			stream_want(s->client, 0);
			handle_request(s);
			return;
		}
		if (!s->last_full)
			break;
	}
	stream_want(s->client, STREAM_RD);
}

static void timeout_cb(struct loop_timer *t)
{
	struct relay_sess *s = CONTAINER_OF(t, struct relay_sess, timer);

	drop(s, "read request: i/o timeout");
}

/* daemon shutdown while the request is still being handled */
static void close_obj(struct loop_obj *o)
{
	struct relay_sess *s = CONTAINER_OF(o, struct relay_sess, obj);

	conns_set_error(s->ci, "relayd shutting down");
	stream_close(s->client, false);
	conns_done(s->ci);
	sess_free(s);
}

static void relay_accept(struct service *svc, struct worker *w, struct stream *client,
			 const struct sockaddr_storage *peer)
{
	struct relay_sess *s = calloc(1, sizeof(*s));

	if (!s || !(s->buf = malloc(HDR_BUF))) {
		free(s);
		stream_close(client, false);
		service_put(svc);
		return;
	}
	s->cap = HDR_BUF;
	s->loop = w->loop;
	s->svc = svc;
	s->o = svc->hdata;
	s->peer = *peer;
	s->client = client;
	s->ci = conns_new(svc->cfg->name, "relay", (const struct sockaddr *)peer);
	if (!s->ci) {
		stream_close(s->client, false);
		free(s->buf);
		free(s);
		service_put(svc);
		return;
	}
	conns_set_local(s->ci, client);
	s->lc.kind = "handler";
	s->lc.service = svc->cfg->name;
	s->lc.remote = s->ci->client;
	loop_obj_add(w->loop, &s->obj, close_obj);
	loop_obj_tag(&s->obj, s->ci->id);
	loop_timer_init(&s->timer, timeout_cb);
	loop_timer_start(w->loop, &s->timer, (uint64_t)s->o->read_timeout_ms);
	stream_set_cb(s->client, on_readable, s);
	stream_want(s->client, STREAM_RD);
}

const struct handler_ops relay_handler_ops = {
	.name = "relay",
	.init = relay_init,
	.fini = relay_fini,
	.accept = relay_accept,
};

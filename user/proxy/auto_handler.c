/* The auto handler (GOST's auto, http, socks4 and socks5 handlers): the first
 * byte picks the protocol — 0x04 SOCKS4/4a, 0x05 SOCKS5, a TLS handshake is
 * forwarded to its SNI on port 443, anything else is an HTTP proxy request
 * (CONNECT, or an absolute-URI request relayed with "Connection: close").
 * After the protocol's handshake the target is dialed through the router and
 * both ends go to the pipe; the protocol's success reply is the first thing
 * the pipe writes to the client. */
#include <errno.h>
#include <stdarg.h>
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
#include "proxy/conn_stack.h"
#include "proxy/http_parse.h"
#include "proxy/pipe.h"
#include "proxy/relay_proto.h"
#include "proxy/router.h"
#include "proxy/service.h"
#include "proxy/socks5_udp.h"
#include "proxy/socks_parse.h"
#include "proxy/tls_sni.h"

#define AUTO_BUF HTTP_HEAD_MAX
#define HANDSHAKE_TIMEOUT_MS 15000

enum auto_allow { ALLOW_HTTP = 1, ALLOW_SOCKS4 = 2, ALLOW_SOCKS5 = 4, ALLOW_TLS = 8 };

struct auto_opts {
	unsigned allow;
	bool udp;                       /* udp=true: SOCKS5 UDP ASSOCIATE (GOST's enableUDP) */
	long udp_buffer_size;           /* udpBufferSize, default 4096 */
};

enum auto_state {
	ST_PEEK,
	ST_HTTP,
	ST_SOCKS4,
	ST_SOCKS5_GREETING,
	ST_SOCKS5_AUTH,
	ST_SOCKS5_REQUEST,
	ST_TLS,
	ST_DIAL,
};

enum proto { P_HTTP, P_SOCKS4, P_SOCKS5, P_TLS };

struct auto_sess {
	struct loop_obj obj;
	struct loop *loop;
	struct service *svc;
	struct auto_opts *o;
	struct stream *client;
	struct conn_info *ci;
	struct sockaddr_storage peer;
	struct log_ctx lc;
	enum auto_state st;
	enum proto proto;
	uint8_t buf[AUTO_BUF];
	size_t len, off;                /* buffered input; off = consumed */
	bool last_full;
	struct loop_timer timer;
	struct route *route;
	/* what to send when the dial succeeds / fails, and what to forward */
	struct http_req http;
	uint8_t reply[512];
	size_t reply_len;
	uint8_t *fwd;                   /* bytes for the target (HTTP rewrite + body) */
	size_t fwd_len;
	int http_minor;
};

/* ---- options ---- */

static int auto_init(struct service *svc, char *err, size_t errlen)
{
	struct auto_opts *o = calloc(1, sizeof(*o));
	const char *h = svc->cfg->handler;
	const struct cfg_md *md = &svc->cfg->handler_md;

	if (!o)
		return -ENOMEM;
	svc->hdata = o;
	if (cfg_md_bool(md, "udp", false, &o->udp, err, errlen) ||
	    cfg_md_int(md, "udpBufferSize", 4096, &o->udp_buffer_size, err, errlen))
		return -EINVAL;
	if (o->udp_buffer_size <= 0 || o->udp_buffer_size > 65535) {
		snprintf(err, errlen, "udpBufferSize: %ld is out of range (1..65535)",
			 o->udp_buffer_size);
		return -EINVAL;
	}
	if (!strcmp(h, "http"))
		o->allow = ALLOW_HTTP;
	else if (!strcmp(h, "socks4"))
		o->allow = ALLOW_SOCKS4;
	else if (!strcmp(h, "socks") || !strcmp(h, "socks5"))
		o->allow = ALLOW_SOCKS5;
	else
		o->allow = ALLOW_HTTP | ALLOW_SOCKS4 | ALLOW_SOCKS5 | ALLOW_TLS;
	return 0;
}

static void auto_fini(struct service *svc)
{
	free(svc->hdata);
	svc->hdata = NULL;
}

/* ---- endings ---- */

static void sess_free(struct auto_sess *s)
{
	service_put(s->svc);
	loop_obj_del(s->loop, &s->obj);
	loop_timer_stop(s->loop, &s->timer);
	if (s->route)
		route_cancel(s->route);
	free(s->fwd);
	free(s);
}

static void finish_err(struct auto_sess *s, const void *msg, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void finish_err(struct auto_sess *s, const void *msg, size_t len, const char *fmt, ...)
{
	char why[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_info(&s->lc, "%s: %s", s->ci->proto, why);
	conns_set_error(s->ci, "%s", why);
	atomic_fetch_add(&s->svc->errors, 1);
	if (len)
		closer_start(s->client, msg, len);
	else
		stream_close(s->client, false);
	s->client = NULL;
	conns_done(s->ci);
	sess_free(s);
}

static void http_fail(struct auto_sess *s, const char *resp, int n, const char *why)
{
	finish_err(s, resp, n > 0 ? (size_t)n : 0, "%s", why);
}

static void socks5_fail(struct auto_sess *s, uint8_t rep, const char *why)
{
	uint8_t r[32];
	int n = socks5_reply(r, sizeof(r), rep, NULL);

	finish_err(s, r, n > 0 ? (size_t)n : 0, "%s (reply %u)", why, rep);
}

/* UDP ASSOCIATE: the association takes the connection over. */
static void start_udp(struct auto_sess *s)
{
	loop_timer_stop(s->loop, &s->timer);
	socks5_udp_start(s->svc, s->loop, s->client, s->ci, &s->peer,
			 (size_t)s->o->udp_buffer_size);
	s->client = NULL;
	s->ci = NULL;
	sess_free(s);
}

static void socks4_fail(struct auto_sess *s, uint8_t code, const char *why)
{
	uint8_t r[8];
	int n = socks4_reply(r, code);

	finish_err(s, r, n > 0 ? (size_t)n : 0, "%s (reply 0x%02x)", why, code);
}

/* ---- dialing ---- */

static void dialed(void *ud, struct stream *target, const char *err)
{
	struct auto_sess *s = ud;
	struct pipe_opts po = { 0 };
	struct stream *client = s->client;
	struct conn_info *ci = s->ci;

	s->route = NULL;
	if (!target) {
		char resp[256];

		switch (s->proto) {
		case P_HTTP:
			/* CONNECT: GOST's handler answers; a forwarded request: its transport */
			http_fail(s, resp, s->http.kind == HTTP_REQ_CONNECT
					   ? http_error_response(resp, sizeof(resp), 503, NULL)
					   : http_empty_response(resp, sizeof(resp), s->http.minor, 503),
				  err);
			return;
		case P_SOCKS5:
			socks5_fail(s, SOCKS5_REP_NET_UNREACHABLE, err);
			return;
		case P_SOCKS4:
			socks4_fail(s, SOCKS4_FAILED, err);
			return;
		case P_TLS:
		default:
			finish_err(s, NULL, 0, "%s", err);
			return;
		}
	}
	conn_note_streams(ci, client, target);
	if (s->proto == P_SOCKS5) {
		/* GOST puts the upstream connection's local address in BND */
		struct sockaddr_storage ss;
		struct relay_addr bnd;
		bool have = !stream_local_addr(target, &ss) &&
			    relay_addr_from_sockaddr(&bnd, (struct sockaddr *)&ss) >= 0;
		int m = socks5_reply(s->reply, sizeof(s->reply), SOCKS5_REP_OK, have ? &bnd : NULL);

		s->reply_len = m > 0 ? (size_t)m : 0;
	}
	/* the success reply goes to the client first; the rest of what the
	 * client sent (or the rewritten request) goes to the target first */
	po.pending[PIPE_TARGET] = s->reply;
	po.pending_len[PIPE_TARGET] = s->reply_len;
	if (s->fwd_len) {
		po.pending[PIPE_CLIENT] = s->fwd;
		po.pending_len[PIPE_CLIENT] = s->fwd_len;
	} else {
		po.pending[PIPE_CLIENT] = s->buf + s->off;
		po.pending_len[PIPE_CLIENT] = s->len - s->off;
	}
	s->client = NULL;
	loop_timer_stop(s->loop, &s->timer);
	pipe_start(client, target, ci, &po);
	sess_free(s);
}

static void start_dial(struct auto_sess *s, const char *target)
{
	s->st = ST_DIAL;
	stream_want(s->client, 0);
	conns_set_target(s->ci, target);
	s->lc.dst = s->ci->target;
	s->route = router_dial(s->svc->router, s->loop, "tcp", target, 0, dialed, s);
	if (!s->route)
		dialed(s, NULL, "cannot start the dial (bad address or out of memory)");
}

static bool check_user(struct auto_sess *s, bool have, const char *user, const char *pass)
{
	const struct cfg_users *u = &s->svc->cfg->handler_users;

	if (have && *user) {
		conns_set_user(s->ci, user);
		s->lc.user = s->ci->user;
	}
	if (!u->enabled)
		return true;
	return have && cfg_users_check(u, user, pass);
}

static void addr_text(const struct relay_addr *a, char *out, size_t cap)
{
	if (relay_addr_format(a, out, cap) < 0)
		out[0] = 0;
}

/* ---- HTTP ---- */

static int step_http(struct auto_sess *s)
{
	struct http_req *r = &s->http;
	char resp[256];
	int n = http_parse_request((const char *)s->buf + s->off, s->len - s->off, r);

	if (n == 0)
		return 0;       /* a full buffer without a head ends as "too large" */
	if (n < 0) {
		/* GOST closes without a reply on anything Go cannot read */
		finish_err(s, NULL, 0, n == -2 ? "request head too large" : "malformed request");
		return -1;
	}
	if (s->svc->cfg->handler_users.enabled &&
	    (r->auth_bad || !check_user(s, true, r->user, r->pass))) {
		http_fail(s, resp, http_auth_required(resp, sizeof(resp), NULL, r->proxy_keepalive),
			  "proxy authentication required or wrong credentials (HTTP 407)");
		return -1;
	}
	if (r->has_proxy_auth && r->user[0]) {
		conns_set_user(s->ci, r->user);
		s->lc.user = s->ci->user;
	}
	switch (r->kind) {
	case HTTP_REQ_NOT_PROXY:
		http_fail(s, resp, http_error_response(resp, sizeof(resp), 400, NULL),
			  "not a proxy request (HTTP 400)");
		return -1;
	case HTTP_REQ_NO_ROUNDTRIP:
		http_fail(s, resp, http_empty_response(resp, sizeof(resp), r->minor, 503),
			  "request cannot be forwarded (HTTP 503)");
		return -1;
	case HTTP_REQ_UDP:
		http_fail(s, resp, http_empty_response(resp, sizeof(resp), 1, 403),
			  "UDP over HTTP is not enabled (HTTP 403)");
		return -1;
	case HTTP_REQ_CONNECT: {
		int m = http_connect_ok((char *)s->reply, sizeof(s->reply), NULL);

		if (m < 0)
			return -1;
		s->reply_len = (size_t)m;
		s->off += (size_t)n;
		break;
	}
	case HTTP_REQ_FORWARD: {
		/* origin-form head for the server, then whatever body bytes followed */
		size_t body = s->len - s->off - (size_t)n;
		size_t cap = (size_t)n + 64 + sizeof(r->hostport) + body;
		int m;

		s->fwd = malloc(cap);
		if (!s->fwd) {
			finish_err(s, NULL, 0, "out of memory");
			return -1;
		}
		m = http_rewrite_request((const char *)s->buf + s->off, r, (char *)s->fwd, cap - body);
		if (m < 0) {
			finish_err(s, NULL, 0, "cannot rewrite the request");
			return -1;
		}
		memcpy(s->fwd + m, s->buf + s->off + n, body);
		s->fwd_len = (size_t)m + body;
		s->off = s->len;
		break;
	}
	}
	if (!r->hostport[0]) {
		dialed(s, NULL, "target address too long");
		return -1;
	}
	start_dial(s, r->hostport);
	return 1;
}

/* ---- SOCKS4 ---- */

static int step_socks4(struct auto_sess *s)
{
	struct socks4_req r;
	char target[300];
	int n = socks4_parse_request(s->buf + s->off, s->len - s->off, &r);

	if (n == 0)
		return 0;
	if (n < 0) {
		finish_err(s, NULL, 0, "malformed SOCKS4 request");
		return -1;
	}
	s->off += (size_t)n;
	/* GOST's socks4 handler authenticates the userid with an empty password */
	if (s->svc->cfg->handler_users.enabled && !check_user(s, true, r.userid, "")) {
		socks4_fail(s, SOCKS4_BAD_USERID, "SOCKS4 userid rejected");
		return -1;
	}
	if (r.cmd != SOCKS4_CMD_CONNECT) {
		finish_err(s, NULL, 0, "SOCKS4 BIND is not supported");
		return -1;
	}
	addr_text(&r.addr, target, sizeof(target));
	if (socks4_reply(s->reply, SOCKS4_GRANTED) < 0)
		return -1;
	s->reply_len = 8;
	start_dial(s, target);
	return 1;
}

/* ---- SOCKS5 ---- */

static int send_now(struct auto_sess *s, const uint8_t *b, size_t n)
{
	/* handshake replies are a few bytes on a fresh socket: one write or failure */
	ssize_t w = stream_write(s->client, b, n);

	return w == (ssize_t)n ? 0 : -1;
}

static int step_socks5(struct auto_sess *s)
{
	const struct cfg_users *u = &s->svc->cfg->handler_users;
	uint8_t rep[2];
	int n;

	if (s->st == ST_SOCKS5_GREETING) {
		uint8_t methods[256], m;
		int nm = 0;

		n = socks5_parse_greeting(s->buf + s->off, s->len - s->off, methods, &nm);
		if (n <= 0) {
			if (n < 0)
				finish_err(s, NULL, 0, "malformed SOCKS5 greeting");
			return n;
		}
		s->off += (size_t)n;
		m = socks5_select_method(methods, u->enabled);
		socks5_method_reply(rep, m);
		if (m == SOCKS5_METHOD_NO_ACCEPTABLE) {
			finish_err(s, rep, 2, "SOCKS5: no acceptable authentication method");
			return -1;
		}
		if (send_now(s, rep, 2)) {
			finish_err(s, NULL, 0, "SOCKS5: cannot write the method reply");
			return -1;
		}
		s->st = m == SOCKS5_METHOD_USERPASS ? ST_SOCKS5_AUTH : ST_SOCKS5_REQUEST;
		return 1;
	}
	if (s->st == ST_SOCKS5_AUTH) {
		char user[256], pass[256];

		n = socks5_parse_userpass(s->buf + s->off, s->len - s->off, user, pass);
		if (n == 0)
			return 0;
		if (n == -1) {
			finish_err(s, NULL, 0, "malformed SOCKS5 username/password");
			return -1;
		}
		socks5_userpass_reply(rep, false);
		if (n < 0 || !check_user(s, true, user, pass)) {
			finish_err(s, rep, 2, "SOCKS5 authentication failed for user '%s'",
				   n < 0 ? "" : user);
			return -1;
		}
		s->off += (size_t)n;
		socks5_userpass_reply(rep, true);
		if (send_now(s, rep, 2)) {
			finish_err(s, NULL, 0, "SOCKS5: cannot write the auth reply");
			return -1;
		}
		s->st = ST_SOCKS5_REQUEST;
		return 1;
	}
	{
		struct socks5_req r;
		char target[300];

		n = socks5_parse_request(s->buf + s->off, s->len - s->off, &r);
		if (n == 0)
			return 0;
		if (n < 0) {
			finish_err(s, NULL, 0, "malformed SOCKS5 request");
			return -1;
		}
		s->off += (size_t)n;
		switch (r.cmd) {
		case SOCKS5_CMD_CONNECT:
			break;
		case SOCKS5_CMD_UDP:
			if (s->o->udp) {
				start_udp(s);
				return -1;
			}
			/* fall through */
		case SOCKS5_CMD_BIND:
		case 0xf2:
		case 0xf3:
			/* GOST answers "not allowed" while bind and udp are off */
			socks5_fail(s, SOCKS5_REP_NOT_ALLOWED, "SOCKS5 BIND/UDP is not enabled");
			return -1;
		default:
			socks5_fail(s, SOCKS5_REP_CMD_UNSUPPORTED, "SOCKS5 command not supported");
			return -1;
		}
		addr_text(&r.addr, target, sizeof(target));
		start_dial(s, target);
		return 1;
	}
}

/* ---- TLS to SNI ---- */

static int step_tls(struct auto_sess *s)
{
	char sni[256], target[300];
	int n = tls_sni_parse(s->buf + s->off, s->len - s->off, sni, sizeof(sni));

	if (n == 0) {
		if (s->len == sizeof(s->buf)) {
			finish_err(s, NULL, 0, "TLS ClientHello too large");
			return -1;
		}
		return 0;
	}
	if (n < 0 || !sni[0]) {
		finish_err(s, NULL, 0, "TLS ClientHello without a server name");
		return -1;
	}
	net_join_hostport(target, sizeof(target), sni, 443);
	start_dial(s, target);
	return 1;
}

/* ---- dispatch ---- */

static int pick_protocol(struct auto_sess *s)
{
	uint8_t b = s->buf[s->off];
	unsigned allow = s->o->allow;

	if (b == 0x04 && (allow & ALLOW_SOCKS4)) {
		s->st = ST_SOCKS4;
		s->proto = P_SOCKS4;
		util_strcpy(s->ci->proto, sizeof(s->ci->proto), "socks4");
	} else if (b == 0x05 && (allow & ALLOW_SOCKS5)) {
		s->st = ST_SOCKS5_GREETING;
		s->proto = P_SOCKS5;
		util_strcpy(s->ci->proto, sizeof(s->ci->proto), "socks5");
	} else if (b == 0x16 && (allow & ALLOW_TLS)) {
		s->st = ST_TLS;
		s->proto = P_TLS;
		util_strcpy(s->ci->proto, sizeof(s->ci->proto), "tls");
	} else if (allow & ALLOW_HTTP) {
		s->st = ST_HTTP;
		s->proto = P_HTTP;
		util_strcpy(s->ci->proto, sizeof(s->ci->proto), "http");
	} else {
		finish_err(s, NULL, 0, "unexpected first byte 0x%02x for a %s service", b,
			   s->svc->cfg->handler);
		return -1;
	}
	return 1;
}

static void on_readable(struct stream *st, unsigned events, void *ud)
{
	struct auto_sess *s = ud;

	(void)st;
	(void)events;
	for (;;) {
		int rc = 1;

		/* parse everything buffered first: clients may pipeline messages */
		while (rc > 0 && s->off < s->len && s->st != ST_DIAL) {
			switch (s->st) {
			case ST_PEEK:
				rc = pick_protocol(s);
				break;
			case ST_HTTP:
				rc = step_http(s);
				break;
			case ST_SOCKS4:
				rc = step_socks4(s);
				break;
			case ST_SOCKS5_GREETING:
			case ST_SOCKS5_AUTH:
			case ST_SOCKS5_REQUEST:
				rc = step_socks5(s);
				break;
			case ST_TLS:
				rc = step_tls(s);
				break;
			case ST_DIAL:
				break;
			}
		}
		if (rc < 0 || s->st == ST_DIAL)
			return;
		if (s->off == s->len)
			s->off = s->len = 0;
		if (s->len == sizeof(s->buf)) {
			finish_err(s, NULL, 0, "handshake too large");
			return;
		}
		{
			ssize_t r = stream_read(s->client, s->buf + s->len, sizeof(s->buf) - s->len);

			if (r == -EAGAIN)
				break;
			if (r <= 0) {
				finish_err(s, NULL, 0, "client closed during the handshake%s%s",
					   r ? ": " : "", r ? strerror((int)-r) : "");
				return;
			}
			s->last_full = (size_t)r == sizeof(s->buf) - s->len;
			s->len += (size_t)r;
		}
	}
	stream_want(s->client, STREAM_RD);
}

static void timeout_cb(struct loop_timer *t)
{
	struct auto_sess *s = CONTAINER_OF(t, struct auto_sess, timer);

	finish_err(s, NULL, 0, "handshake timeout");
}

/* daemon shutdown during the handshake */
static void close_obj(struct loop_obj *o)
{
	struct auto_sess *s = CONTAINER_OF(o, struct auto_sess, obj);

	conns_set_error(s->ci, "relayd shutting down");
	stream_close(s->client, false);
	conns_done(s->ci);
	sess_free(s);
}

static void auto_accept(struct service *svc, struct worker *w, struct stream *client,
			const struct sockaddr_storage *peer)
{
	struct auto_sess *s = calloc(1, sizeof(*s));

	if (!s) {
		stream_close(client, false);
		service_put(svc);
		return;
	}
	s->loop = w->loop;
	s->svc = svc;
	s->o = svc->hdata;
	s->http_minor = 1;
	s->client = client;
	s->peer = *peer;
	s->ci = conns_new(svc->cfg->name, "auto", (const struct sockaddr *)peer);
	if (!s->ci) {
		stream_close(s->client, false);
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
	loop_timer_start(w->loop, &s->timer, HANDSHAKE_TIMEOUT_MS);
	stream_set_cb(s->client, on_readable, s);
	stream_want(s->client, STREAM_RD);
}

const struct handler_ops auto_handler_ops = {
	.name = "auto",
	.init = auto_init,
	.fini = auto_fini,
	.accept = auto_accept,
};

/* Listener and dialer data channels (see transport.h). */
#include "proxy/transport.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "net/stream.h"
#include "net/tls_ctx.h"
#include "net/tls_stream.h"
#include "net/ws_stream.h"

/* a client that never finishes its TLS handshake is dropped after this */
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define DEFAULT_WS_KEEPALIVE_MS 15000

enum tp_kind { TP_TLS, TP_WS, TP_WSS };

struct transport {
	enum tp_kind kind;
	bool server;
	SSL_CTX *ctx;
	char sni[256];
	bool verify_name;
	long hs_timeout_ms;
	/* ws, wss */
	char path[256];
	char host[300];                 /* dialer: Host header */
	long keepalive_ms;              /* dialer: ping period, 0 = off */
};

static int kind_of(const char *type, enum tp_kind *k)
{
	if (!strcmp(type, "tls"))
		*k = TP_TLS;
	else if (!strcmp(type, "ws"))
		*k = TP_WS;
	else if (!strcmp(type, "wss"))
		*k = TP_WSS;
	else
		return -1;
	return 0;
}

static struct transport *tp_alloc(const char *type, bool server, char *err, size_t errlen)
{
	enum tp_kind k;
	struct transport *tp;

	if (kind_of(type, &k)) {
		snprintf(err, errlen, "%s '%s' is not supported (tcp, tls, ws, wss)",
			 server ? "listener" : "dialer", type);
		return NULL;
	}
	tp = calloc(1, sizeof(*tp));
	if (!tp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tp->kind = k;
	tp->server = server;
	return tp;
}

/* GOST's ws listener/dialer metadata: path (default /ws); the dialer's host
 * (default: the node address as written) and keepAlive with its period ttl. */
static int ws_opts_parse(struct transport *tp, const struct cfg_md *md, const char *addr,
			 char *err, size_t errlen)
{
	const char *path = cfg_md_get(md, "path"), *host = cfg_md_get(md, "host");
	bool ka = false;

	if (tp->kind == TP_TLS)
		return 0;
	if (!util_strcpy(tp->path, sizeof(tp->path), path ? path : "/ws") ||
	    !util_strcpy(tp->host, sizeof(tp->host), host ? host : addr ? addr : "")) {
		snprintf(err, errlen, "ws: path or host too long");
		return -1;
	}
	if (tp->server)
		return 0;
	if (cfg_md_bool(md, "keepAlive", false, &ka, err, errlen) ||
	    cfg_md_duration_ms(md, "ttl", 0, &tp->keepalive_ms, err, errlen))
		return -1;
	if (!ka)
		tp->keepalive_ms = 0;
	else if (tp->keepalive_ms <= 0)
		tp->keepalive_ms = DEFAULT_WS_KEEPALIVE_MS;
	return 0;
}

static bool has_files(const struct cfg_tls *t)
{
	return (t->cert_file && *t->cert_file) || (t->key_file && *t->key_file) ||
	       (t->ca_file && *t->ca_file);
}

int transport_listener_new(const struct cfg *root, const struct cfg_service *c,
			   struct transport **out, char *err, size_t errlen)
{
	struct log_ctx lc = { .kind = "service", .service = c->name };
	struct tls_files f = { 0 };
	const struct cfg_tls *src = NULL;
	const char *source = "";
	struct transport *tp;
	char why[CFG_ERR_MAX];

	*out = NULL;
	if (!strcmp(c->listener, "tcp"))
		return 0;
	tp = tp_alloc(c->listener, true, err, errlen);
	if (!tp)
		return -EINVAL;
	if (cfg_md_duration_ms(&c->listener_md, "handshakeTimeout", DEFAULT_HANDSHAKE_TIMEOUT_MS,
			       &tp->hs_timeout_ms, err, errlen))
		goto fail;
	if (tp->hs_timeout_ms <= 0)
		tp->hs_timeout_ms = DEFAULT_HANDSHAKE_TIMEOUT_MS;
	if (ws_opts_parse(tp, &c->listener_md, NULL, err, errlen))
		goto fail;
	if (tp->kind == TP_WS) {
		*out = tp;
		return 0;
	}
	/* GOST: the listener's own files when it names a certificate, else the
	 * top-level tls section, else cert.pem/key.pem, else a generated one */
	if (c->listener_tls.cert_file && *c->listener_tls.cert_file)
		src = &c->listener_tls;
	else if (has_files(&root->tls))
		src = &root->tls;
	if (src) {
		f.cert_file = src->cert_file;
		f.key_file = src->key_file;
		f.ca_file = src->ca_file;
	}
	tp->ctx = tls_ctx_server(&f, &source, why, sizeof(why));
	if (!tp->ctx) {
		snprintf(err, errlen, "listener %s: %s", c->listener, why);
		goto fail;
	}
	log_info(&lc, "%s listener certificate: %s%s", c->listener, source,
		 f.ca_file && *f.ca_file ? ", client certificates required" : "");
	*out = tp;
	return 0;
fail:
	transport_free(tp);
	return -EINVAL;
}

int transport_dialer_new(const struct cfg_node *n, struct transport **out, char *err,
			 size_t errlen)
{
	const struct cfg_tls *t = &n->dialer_tls;
	struct tls_files f = { t->cert_file, t->key_file, t->ca_file };
	struct transport *tp;
	char why[CFG_ERR_MAX];

	*out = NULL;
	if (!strcmp(n->dialer, "tcp"))
		return 0;
	tp = tp_alloc(n->dialer, false, err, errlen);
	if (!tp)
		return -EINVAL;
	if (cfg_md_duration_ms(&n->dialer_md, "handshakeTimeout", 0, &tp->hs_timeout_ms, err,
			       errlen))
		goto fail;
	if (ws_opts_parse(tp, &n->dialer_md, n->addr, err, errlen))
		goto fail;
	if (tp->kind == TP_WS) {
		*out = tp;
		return 0;
	}
	util_strcpy(tp->sni, sizeof(tp->sni), t->server_name ? t->server_name : "");
	tp->verify_name = t->secure;
	tp->ctx = tls_ctx_client(&f, t->secure, why, sizeof(why));
	if (!tp->ctx) {
		snprintf(err, errlen, "dialer %s: %s", n->dialer, why);
		goto fail;
	}
	*out = tp;
	return 0;
fail:
	transport_free(tp);
	return -EINVAL;
}

void transport_free(struct transport *tp)
{
	if (!tp)
		return;
	SSL_CTX_free(tp->ctx);
	free(tp);
}

struct stream *transport_wrap(const struct transport *tp, struct stream *lower)
{
	uint32_t hs_ms = tp->hs_timeout_ms > 0 ? (uint32_t)tp->hs_timeout_ms : 0;
	struct tls_stream_opts to = {
		.server = tp->server,
		.sni = tp->sni,
		.verify_name = tp->verify_name,
		.handshake_timeout_ms = hs_ms,
	};
	struct ws_opts wo = {
		.server = tp->server,
		.path = tp->path,
		.host = tp->host,
		.handshake_timeout_ms = hs_ms,
		.keepalive_ms = (uint32_t)tp->keepalive_ms,
	};

	if (tp->kind != TP_WS) {
		lower = tls_stream_new(lower, tp->ctx, &to);
		if (!lower)
			return NULL;
	}
	return tp->kind == TP_TLS ? lower : ws_stream_new(lower, &wo);
}

/* One -F value -> one hop of chain-0 (x/config/cmd/cmd.go BuildConfigFromCmd's
 * node loop and buildNodeConfig): scheme to connector+dialer with GOST's
 * fallbacks, credentials, dialer TLS with serverName defaulting to the URL
 * host, query parameters split between hop, node, connector and dialer
 * metadata, and comma-separated hosts as several nodes of the hop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_flags.h"

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/* Hop-level parameters: the selector, bypass/resolver/hosts objects, socket
 * options renamed to hop.*, then hop metadata.  GOST builds the hop metadata
 * before the node takes the auth and TLS keys out, so those stay in it. */
static json_t *build_hop(struct cfg_fb *b, json_t *m, size_t i)
{
	static const char *const k_bypass[] = { "bypass", NULL };
	static const char *const k_resolver[] = { "resolver", NULL };
	static const char *const k_hosts[] = { "hosts", NULL };
	static const char *const k_ifce[] = { "interface", NULL };
	static const char *const k_mark[] = { "so_mark", NULL };
	static const char *const k_pp[] = { "proxyProtocol", NULL };
	json_t *md = cfg_jmd_snapshot(m), *hop = json_object(), *hmd = json_object(), *sel, *v;
	char name[32], *s = NULL, *obj;
	const char *k;
	void *tmp;
	long long n;

	if (!md || !hop || !hmd) {
		b->oom = true;
		goto out;
	}
	snprintf(name, sizeof(name), "hop-%zu", i);
	cfg_fb_set(b, hop, "name", cfg_fb_str(b, name));
	sel = cfg_fb_selector(b, m);
	if (sel)
		cfg_fb_set(b, hop, "selector", sel);

	s = cfg_fb_get_str(b, md, k_bypass);
	if (s && (obj = cfg_fb_bypass(b, "bypasses", "bypass", s))) {
		cfg_fb_set(b, hop, "bypass", cfg_fb_str(b, obj));
		json_object_del(m, "bypass");
		free(obj);
	}
	free(s);
	s = cfg_fb_get_str(b, md, k_resolver);
	if (s && (obj = cfg_fb_resolver(b, s, NULL))) {
		cfg_fb_set(b, hop, "resolver", cfg_fb_str(b, obj));
		json_object_del(m, "resolver");
		free(obj);
	}
	free(s);
	s = cfg_fb_get_str(b, md, k_hosts);
	if (s && (obj = cfg_fb_hosts(b, s))) {
		cfg_fb_set(b, hop, "hosts", cfg_fb_str(b, obj));
		json_object_del(m, "hosts");
		free(obj);
	}
	free(s);
	s = cfg_fb_get_str(b, md, k_ifce);
	if (s && *s) {
		cfg_fb_set(b, m, "hop.interface", cfg_fb_str(b, s));
		json_object_del(m, "interface");
	}
	free(s);
	s = NULL;
	if ((n = cfg_jmd_int(md, k_mark)) > 0) {
		cfg_fb_set(b, m, "hop.so_mark", json_integer(n));
		json_object_del(m, "so_mark");
	}
	if ((n = cfg_jmd_int(md, k_pp)) > 0) {
		cfg_fb_set(b, m, "hop.proxyProtocol", json_integer(n));
		json_object_del(m, "proxyProtocol");
	}

	json_object_foreach_safe(m, tmp, k, v) {
		if (has_prefix(k, "node.") || has_prefix(k, "connector.") || has_prefix(k, "dialer."))
			continue;
		if (has_prefix(k, "hop.")) {
			cfg_fb_set(b, hmd, k + 4, json_incref(v));
			json_object_del(m, k);
			continue;
		}
		cfg_fb_set(b, hmd, k, json_incref(v));
	}
	cfg_fb_set(b, hop, "metadata", hmd);
	hmd = NULL;
out:
	json_decref(md);
	json_decref(hmd);
	if (b->oom) {
		json_decref(hop);
		return NULL;
	}
	return hop;
}

static bool path_based(char **schemes, size_t n, const char *connector, const char *dialer)
{
	if (!strcmp(dialer, "unix") || !strcmp(dialer, "serial") || !strcmp(connector, "unix") ||
	    !strcmp(connector, "serial"))
		return true;
	for (size_t i = 0; i < n && i < CFG_FB_MAX_SCHEMES; i++) {
		if (!strcmp(schemes[i], "unix") || !strcmp(schemes[i], "serial") ||
		    !strcmp(schemes[i], "runix"))
			return true;
	}
	return false;
}

/* The dialer's TLS (x/config/cmd buildNodeConfig): certificates, secure and
 * serverName, which defaults to the URL's host.  NULL when all are empty. */
static json_t *node_tls(struct cfg_fb *b, const struct cfg_url *u, json_t *m, const json_t *md)
{
	static const char *const k_cert[] = { "tls.certFile", "certFile", "cert", NULL };
	static const char *const k_key[] = { "tls.keyFile", "keyFile", "key", NULL };
	static const char *const k_ca[] = { "tls.caFile", "caFile", "ca", NULL };
	static const char *const k_secure[] = { "tls.secure", "secure", NULL };
	static const char *const k_sni[] = { "tls.servername", "servername", NULL };
	/* GOST deletes these spellings only: "tls.serverName" stays in the metadata */
	static const char *const k_del[] = {
		"tls.certFile", "certFile", "cert", "tls.keyFile", "keyFile", "key", "tls.caFile",
		"caFile", "ca", "tls.secure", "secure", "tls.servername", "serverName", NULL,
	};
	char *cert = cfg_fb_get_str(b, md, k_cert), *key = cfg_fb_get_str(b, md, k_key);
	char *ca = cfg_fb_get_str(b, md, k_ca), *sni = cfg_fb_get_str(b, md, k_sni);
	bool secure = cfg_jmd_bool(md, k_secure);
	json_t *tls = NULL;

	if (sni && !*sni) {
		free(sni);
		sni = cfg_url_hostname(u->host);
		if (!sni)
			b->oom = true;
	}
	cfg_fb_del(m, k_del);
	if (!cert || !key || !ca || !sni)
		goto out;
	if (!secure && !*cert && !*ca && !*sni)
		goto out;
	tls = json_object();
	if (!tls) {
		b->oom = true;
		goto out;
	}
	cfg_fb_set(b, tls, "certFile", cfg_fb_str(b, cert));
	cfg_fb_set(b, tls, "keyFile", cfg_fb_str(b, key));
	cfg_fb_set(b, tls, "caFile", cfg_fb_str(b, ca));
	cfg_fb_set(b, tls, "secure", json_boolean(secure));
	cfg_fb_set(b, tls, "serverName", cfg_fb_str(b, sni));
out:
	free(cert);
	free(key);
	free(ca);
	free(sni);
	return tls;
}

/* buildNodeConfig: the node every host of this -F shares, without a name.
 * *addr is the host list (or the socket path of unix/serial URLs). */
static int build_node(struct cfg_fb *b, const struct cfg_url *u, json_t *m, json_t **out,
		      const char **addr)
{
	char *scheme = cfg_strdup(u->scheme), *schemes[CFG_FB_MAX_SCHEMES];
	const char *connector = "", *dialer = "";
	json_t *md = NULL, *node = NULL, *auth = NULL, *tls = NULL, *v;
	json_t *nmd = json_object(), *cmd = json_object(), *dmd = json_object();
	json_t *conn = json_object(), *dial = json_object();
	size_t n = 0;
	const char *k;
	int rc = 0;

	*out = NULL;
	if (!scheme || !nmd || !cmd || !dmd || !conn || !dial) {
		b->oom = true;
		goto out;
	}
	n = cfg_fb_split_scheme(scheme, schemes);
	if (n == 1) {
		connector = dialer = schemes[0];
	} else if (n == 2) {
		connector = schemes[0];
		dialer = schemes[1];
	}
	*addr = path_based(schemes, n, connector, dialer) && !*u->host ? u->escaped_path : u->host;

	md = cfg_jmd_snapshot(m);
	if (!md) {
		b->oom = true;
		goto out;
	}
	if (!cfg_type_registered(CFG_T_CONNECTOR, connector))
		connector = "http";
	if (!cfg_type_registered(CFG_T_DIALER, dialer))
		dialer = !strcmp(connector, "ssu") ? "udp" : "tcp";
	rc = cfg_fb_auth(b, u, md, &auth);
	if (rc)
		goto out;
	json_object_del(m, "auth");
	tls = node_tls(b, u, m, md);

	json_object_foreach(m, k, v) {
		if (!strncmp(k, "node.", 5))
			cfg_fb_set(b, nmd, k + 5, json_incref(v));
		else if (!strncmp(k, "connector.", 10))
			cfg_fb_set(b, cmd, k + 10, json_incref(v));
		else if (!strncmp(k, "dialer.", 7))
			cfg_fb_set(b, dmd, k + 7, json_incref(v));
		else {
			cfg_fb_set(b, cmd, k, json_incref(v));
			cfg_fb_set(b, dmd, k, json_incref(v));
			cfg_fb_set(b, nmd, k, json_incref(v));
		}
	}
	cfg_fb_set(b, conn, "type", cfg_fb_str(b, connector));
	cfg_fb_set(b, dial, "type", cfg_fb_str(b, dialer));
	if (auth) {     /* ssh and sshd dialers carry the credentials themselves */
		bool ssh = !strcmp(dialer, "ssh") || !strcmp(dialer, "sshd");

		cfg_fb_set(b, ssh ? dial : conn, "auth", auth);
		auth = NULL;
	}
	if (tls)
		cfg_fb_set(b, dial, "tls", tls);
	tls = NULL;
	cfg_fb_set(b, conn, "metadata", cmd);
	cfg_fb_set(b, dial, "metadata", dmd);
	cmd = dmd = NULL;
	node = json_object();
	if (!node) {
		b->oom = true;
		goto out;
	}
	cfg_fb_set(b, node, "connector", conn);
	cfg_fb_set(b, node, "dialer", dial);
	cfg_fb_set(b, node, "metadata", nmd);
	conn = dial = nmd = NULL;
out:
	json_decref(md);
	json_decref(auth);
	json_decref(tls);
	json_decref(nmd);
	json_decref(cmd);
	json_decref(dmd);
	json_decref(conn);
	json_decref(dial);
	free(scheme);
	if (rc || b->oom) {
		json_decref(node);
		return -1;
	}
	*out = node;
	return 0;
}

/* https:// means http over tls; no scheme means auto (x/config/cmd Norm). */
int cfg_fb_norm_url(struct cfg_fb *b, const char *raw, struct cfg_url *u)
{
	char why[CFG_ERR_MAX];
	struct cfg_buf s = { 0 };
	char *text, *t;
	int rc;

	text = cfg_strdup(raw);
	if (!text) {
		b->oom = true;
		return -1;
	}
	t = cfg_go_trim(text);
	if (!*t) {
		free(text);
		return cfg_fb_fail(b, "empty value");
	}
	if (t[0] == ':' || !strstr(t, "://"))
		cfg_buf_str(&s, "auto://");
	cfg_buf_str(&s, t);
	free(text);
	text = cfg_buf_take(&s);
	if (!text) {
		b->oom = true;
		return -1;
	}
	rc = cfg_url_parse(text, u, why, sizeof(why));
	free(text);
	if (rc)
		return cfg_fb_fail(b, "%s", why);
	if (!strcmp(u->scheme, "https")) {
		free(u->scheme);
		u->scheme = cfg_strdup("http+tls");
		if (!u->scheme) {
			cfg_url_free(u);
			b->oom = true;
			return -1;
		}
	}
	return 0;
}

int cfg_fb_node(struct cfg_fb *b, json_t *chain, size_t i)
{
	struct cfg_url u;
	json_t *m = NULL, *hop = NULL, *node = NULL, *nodes = NULL, *hops;
	const char *addr = NULL;
	char *hosts = NULL, *tok, *save = NULL;
	char src[CFG_ERR_MAX];
	int rc = -1;

	if (cfg_fb_norm_url(b, b->arg, &u))
		return -1;
	m = cfg_url_query(u.raw_query);
	if (!m) {
		b->oom = true;
		goto out;
	}
	hop = build_hop(b, m, i);
	if (!hop)
		goto out;
	if (build_node(b, &u, m, &node, &addr))
		goto out;
	hosts = cfg_strdup(addr);
	nodes = json_array();
	if (!hosts || !nodes) {
		b->oom = true;
		goto out;
	}
	for (tok = strtok_r(hosts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		json_t *n = json_deep_copy(node);
		char name[32];

		if (!n) {
			b->oom = true;
			break;
		}
		snprintf(name, sizeof(name), "node-%zu", json_array_size(nodes));
		cfg_fb_set(b, n, "name", cfg_fb_str(b, name));
		cfg_fb_set(b, n, "addr", cfg_fb_str(b, tok));
		cfg_fb_append(b, nodes, n);
	}
	if (json_array_size(nodes))
		cfg_fb_set(b, hop, "nodes", json_incref(nodes));
	snprintf(src, sizeof(src), "%s '%s'", b->flag, b->arg);
	cfg_fb_set(b, hop, CFG_SRC_KEY, cfg_fb_str(b, src));
	hops = json_object_get(chain, "hops");
	cfg_fb_append(b, hops, json_incref(hop));
	if (!b->oom)
		rc = 0;
out:
	if (b->oom)
		rc = cfg_errf(b->err, b->errlen, "%s '%s': out of memory", b->flag, b->arg);
	free(hosts);
	json_decref(nodes);
	json_decref(node);
	json_decref(hop);
	json_decref(m);
	cfg_url_free(&u);
	return rc;
}

/* One -L value -> one or more services (x/config/cmd/cmd.go cutHost and
 * buildServiceConfig): scheme to handler+listener with GOST's fallbacks, port
 * ranges, forward targets and the handler rewrite they cause, credentials,
 * listener TLS, query parameters split between handler, listener and service
 * metadata; then the per-service pass over handler metadata that turns
 * retries, admission, bypass, resolver, hosts and limiter parameters into
 * fields and named objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_flags.h"

static bool is_one_of(const char *s, const char *const *set)
{
	for (; *set; set++) {
		if (!strcmp(s, *set))
			return true;
	}
	return false;
}

/* cutHost: the host part (a port range is not a valid URL host) and the URL
 * without it, userinfo kept. */
static int cut_host(const char *s, char **host, char **remain)
{
	size_t start = (size_t)(strchr(s, ':') - s) + 3;
	size_t end = start + strcspn(s + start, "/?");
	struct cfg_buf b = { 0 };

	for (size_t i = end; i > start; i--) {
		if (s[i - 1] == '@') {
			start = i;
			break;
		}
	}
	*host = cfg_strndup(s + start, end - start);
	cfg_buf_add(&b, s, start);
	cfg_buf_str(&b, s + end);
	*remain = cfg_buf_take(&b);
	if (!*host || !*remain) {
		free(*host);
		free(*remain);
		return -1;
	}
	return 0;
}

static json_t *target(struct cfg_fb *b, size_t i, const char *addr)
{
	json_t *t = json_object();
	char name[32];

	if (!t) {
		b->oom = true;
		return NULL;
	}
	snprintf(name, sizeof(name), "target-%zu", i);
	cfg_fb_set(b, t, "name", cfg_fb_str(b, name));
	cfg_fb_set(b, t, "addr", cfg_fb_str(b, addr));
	return t;
}

/* Forward targets from the path: comma-separated, each a port range or not. */
static int targets(struct cfg_fb *b, const char *remotes, json_t *nodes)
{
	char *copy = cfg_strdup(remotes), *p = copy;
	size_t i = 0;
	int rc = 0;

	if (!copy) {
		b->oom = true;
		return -1;
	}
	for (;;) {
		char *comma = strchr(p, ',');
		char **addrs;
		size_t n;

		if (comma)
			*comma = '\0';
		if (cfg_fb_port_range(b, p, &addrs, &n)) {
			rc = -1;
			break;
		}
		if (!n)
			cfg_fb_append(b, nodes, target(b, i++, p));
		for (size_t k = 0; k < n; k++) {
			cfg_fb_append(b, nodes, target(b, i++, addrs[k]));
			free(addrs[k]);
		}
		free(addrs);
		if (!comma)
			break;
		p = comma + 1;
	}
	free(copy);
	return rc;
}

static json_t *forwarder(struct cfg_fb *b, json_t *nodes)
{
	json_t *f = json_object();

	if (!f) {
		json_decref(nodes);
		b->oom = true;
		return NULL;
	}
	cfg_fb_set(b, f, "nodes", nodes);
	return f;
}

/* TLS keys go to listener.tls, and only when a certificate is given. */
static json_t *listener_tls(struct cfg_fb *b, json_t *m, const json_t *md)
{
	static const char *const k_cert[] = { "tls.certFile", "certFile", "cert", NULL };
	static const char *const k_key[] = { "tls.keyFile", "keyFile", "key", NULL };
	static const char *const k_ca[] = { "tls.caFile", "caFile", "ca", NULL };
	static const char *const k_del[] = {
		"tls.certFile", "certFile", "cert", "tls.keyFile", "keyFile", "key", "tls.caFile",
		"caFile", "ca", NULL,
	};
	char *cert = cfg_fb_get_str(b, md, k_cert), *key = cfg_fb_get_str(b, md, k_key);
	char *ca = cfg_fb_get_str(b, md, k_ca);
	json_t *tls = NULL;

	cfg_fb_del(m, k_del);
	if (cert && key && ca && *cert) {
		tls = json_object();
		if (!tls)
			b->oom = true;
		cfg_fb_set(b, tls, "certFile", cfg_fb_str(b, cert));
		cfg_fb_set(b, tls, "keyFile", cfg_fb_str(b, key));
		cfg_fb_set(b, tls, "caFile", cfg_fb_str(b, ca));
	}
	free(cert);
	free(key);
	free(ca);
	return tls;
}

/* dns becomes a list; interface, so_mark, proxyProtocol, netns and netns.out
 * become service.* keys. */
static void service_keys(struct cfg_fb *b, json_t *m, const json_t *md)
{
	static const char *const k_dns[] = { "dns", NULL };
	static const char *const k_ifce[] = { "interface", NULL };
	static const char *const k_mark[] = { "so_mark", NULL };
	static const char *const k_pp[] = { "proxyProtocol", NULL };
	static const char *const k_netns[] = { "netns", NULL };
	static const char *const k_netns_out[] = { "netns.out", NULL };
	char *s = cfg_fb_get_str(b, md, k_dns);
	long long n;

	if (s && *s) {
		json_t *list = json_array();
		char *p = s;

		if (!list)
			b->oom = true;
		for (;;) {
			char *comma = strchr(p, ',');

			if (comma)
				*comma = '\0';
			cfg_fb_append(b, list, cfg_fb_str(b, p));
			if (!comma)
				break;
			p = comma + 1;
		}
		cfg_fb_set(b, m, "dns", list);
	}
	free(s);
	s = cfg_fb_get_str(b, md, k_ifce);
	if (s && *s) {
		cfg_fb_set(b, m, "service.interface", cfg_fb_str(b, s));
		json_object_del(m, "interface");
	}
	free(s);
	if ((n = cfg_jmd_int(md, k_mark)) > 0) {
		cfg_fb_set(b, m, "service.so_mark", json_integer(n));
		json_object_del(m, "so_mark");
	}
	if ((n = cfg_jmd_int(md, k_pp)) > 0) {
		cfg_fb_set(b, m, "service.proxyProtocol", json_integer(n));
		json_object_del(m, "proxyProtocol");
	}
	s = cfg_fb_get_str(b, md, k_netns);
	if (s && *s) {
		cfg_fb_set(b, m, "service.netns", cfg_fb_str(b, s));
		json_object_del(m, "netns");
	}
	free(s);
	s = cfg_fb_get_str(b, md, k_netns_out);
	if (s && *s) {
		cfg_fb_set(b, m, "service.netns.out", cfg_fb_str(b, s));
		json_object_del(m, "netns.out");
	}
	free(s);
}

/* Everything of one service that does not depend on its address. */
struct svc_parts {
	const char *handler, *listener;
	json_t *auth, *tls, *selector, *hmd, *lmd, *smd;
};

static void parts_free(struct svc_parts *p)
{
	json_decref(p->auth);
	json_decref(p->tls);
	json_decref(p->selector);
	json_decref(p->hmd);
	json_decref(p->lmd);
	json_decref(p->smd);
}

static int query_parts(struct cfg_fb *b, const struct cfg_url *u, struct svc_parts *p)
{
	json_t *m = cfg_url_query(u->raw_query), *md = NULL, *v;
	const char *k;
	int rc = -1;

	p->hmd = json_object();
	p->lmd = json_object();
	p->smd = json_object();
	if (!m || !p->hmd || !p->lmd || !p->smd || !(md = cfg_jmd_snapshot(m))) {
		b->oom = true;
		goto out;
	}
	if (cfg_fb_auth(b, u, md, &p->auth))
		goto out;
	json_object_del(m, "auth");
	p->tls = listener_tls(b, m, md);
	service_keys(b, m, md);
	p->selector = cfg_fb_selector(b, m);
	json_object_foreach(m, k, v) {
		if (!strncmp(k, "service.", 8))
			cfg_fb_set(b, p->smd, k + 8, json_incref(v));
		else if (!strncmp(k, "handler.", 8))
			cfg_fb_set(b, p->hmd, k + 8, json_incref(v));
		else if (!strncmp(k, "listener.", 9))
			cfg_fb_set(b, p->lmd, k + 9, json_incref(v));
		else {
			cfg_fb_set(b, p->hmd, k, json_incref(v));
			cfg_fb_set(b, p->lmd, k, json_incref(v));
			cfg_fb_set(b, p->smd, k, json_incref(v));
		}
	}
	rc = 0;
out:
	json_decref(md);
	json_decref(m);
	return rc;
}

static json_t *service(struct cfg_fb *b, const char *addr, const struct svc_parts *p,
		       json_t *fwd)
{
	static const char *const ssh[] = { "ssh", "sshd", NULL };
	json_t *s = json_object(), *h = json_object(), *l = json_object();

	if (!s || !h || !l) {
		json_decref(s);
		json_decref(h);
		json_decref(l);
		json_decref(fwd);
		b->oom = true;
		return NULL;
	}
	cfg_fb_set(b, s, "addr", cfg_fb_str(b, addr));
	cfg_fb_set(b, h, "type", cfg_fb_str(b, p->handler));
	cfg_fb_set(b, l, "type", cfg_fb_str(b, p->listener));
	if (p->auth)    /* ssh and sshd listeners carry the credentials themselves */
		cfg_fb_set(b, is_one_of(p->listener, ssh) ? l : h, "auth", cfg_fb_copy(b, p->auth));
	if (p->tls)
		cfg_fb_set(b, l, "tls", cfg_fb_copy(b, p->tls));
	cfg_fb_set(b, h, "metadata", cfg_fb_copy(b, p->hmd));
	cfg_fb_set(b, l, "metadata", cfg_fb_copy(b, p->lmd));
	cfg_fb_set(b, s, "handler", h);
	cfg_fb_set(b, s, "listener", l);
	if (fwd) {
		if (p->selector)
			cfg_fb_set(b, fwd, "selector", cfg_fb_copy(b, p->selector));
		cfg_fb_set(b, s, "forwarder", fwd);
	}
	cfg_fb_set(b, s, "metadata", cfg_fb_copy(b, p->smd));
	return s;
}

static int build(struct cfg_fb *b, struct cfg_url *u, json_t *services)
{
	static const char *const path_schemes[] = { "unix", "runix", "serial", NULL };
	static const char *const listener_handlers[] = {
		"tcp", "udp", "rtcp", "rudp", "tun", "tap", "dns", "unix", "runix", "serial", NULL,
	};
	char *scheme = cfg_strdup(u->scheme), *schemes[CFG_FB_MAX_SCHEMES], **addrs = NULL;
	char *remotes = NULL, *single[1];
	struct svc_parts p = { "", "", NULL, NULL, NULL, NULL, NULL, NULL };
	json_t *nodes = json_array();
	bool path_addr = false;
	size_t n, naddrs = 0;
	int rc = -1;

	if (!scheme || !nodes) {
		b->oom = true;
		goto out;
	}
	n = cfg_fb_split_scheme(scheme, schemes);
	if (n == 1) {
		p.handler = p.listener = schemes[0];
	} else if (n == 2) {
		p.handler = schemes[0];
		p.listener = schemes[1];
	}
	path_addr = is_one_of(p.listener, path_schemes);
	for (size_t i = 0; i < n && i < CFG_FB_MAX_SCHEMES; i++)
		path_addr = path_addr || is_one_of(schemes[i], path_schemes);
	path_addr = path_addr && !*u->host;

	if (path_addr) {
		single[0] = *u->escaped_path ? u->escaped_path : u->host;
	} else {
		if (cfg_fb_port_range(b, u->host, &addrs, &naddrs))
			goto out;
		single[0] = u->host;
	}
	if (!cfg_type_registered(CFG_T_HANDLER, p.handler))
		p.handler = "auto";
	if (!cfg_type_registered(CFG_T_LISTENER, p.listener))
		p.listener = !strcmp(p.handler, "ssu") ? "udp" : "tcp";

	remotes = cfg_strdup(u->escaped_path);
	if (!remotes) {
		b->oom = true;
		goto out;
	}
	{       /* strings.Trim(path, "/") */
		char *r = remotes + strspn(remotes, "/");
		size_t rl = strlen(r);

		while (rl && r[rl - 1] == '/')
			r[--rl] = '\0';
		memmove(remotes, r, rl + 1);
	}
	if (*remotes && !path_addr) {
		if (targets(b, remotes, nodes))
			goto out;
		if (strcmp(p.handler, "relay"))
			p.handler = is_one_of(p.listener, listener_handlers) ? p.listener : "forward";
	}
	if (!strcmp(p.listener, "stdio") && !json_array_size(nodes) && *u->host) {
		cfg_fb_append(b, nodes, target(b, 0, u->host));
		if (!strcmp(p.handler, "auto"))
			p.handler = "tcp";
	}
	if (query_parts(b, u, &p))
		goto out;

	for (size_t i = 0; i < (naddrs ? naddrs : 1); i++) {
		size_t nn = json_array_size(nodes);
		json_t *fwd = NULL;

		/* one service: all targets; several: one each, or the single one shared */
		if (nn && (naddrs <= 1 || nn == 1))
			fwd = forwarder(b, cfg_fb_copy(b, nodes));
		else if (nn && i < nn)
			fwd = forwarder(b, json_pack("[O]", json_array_get(nodes, i)));
		cfg_fb_append(b, services, service(b, naddrs ? addrs[i] : single[0], &p, fwd));
	}
	rc = b->oom ? -1 : 0;
out:
	for (size_t i = 0; i < naddrs; i++)
		free(addrs[i]);
	free(addrs);
	free(remotes);
	parts_free(&p);
	json_decref(nodes);
	free(scheme);
	if (b->oom)
		rc = cfg_errf(b->err, b->errlen, "%s '%s': out of memory", b->flag, b->arg);
	return rc;
}

int cfg_fb_services(struct cfg_fb *b, json_t *services)
{
	char *text = cfg_strdup(b->arg), *t, *host = NULL, *remain = NULL;
	struct cfg_buf s = { 0 };
	struct cfg_url u;
	int rc = -1;

	if (!text)
		goto oom;
	t = cfg_go_trim(text);
	if (!*t) {              /* GOST skips empty -L values */
		free(text);
		return 0;
	}
	if (t[0] == ':' || !strstr(t, "://"))
		cfg_buf_str(&s, "auto://");
	cfg_buf_str(&s, t);
	free(text);
	text = cfg_buf_take(&s);
	if (!text || cut_host(text, &host, &remain))
		goto oom;
	if (cfg_fb_norm_url(b, remain, &u))
		goto out;
	free(u.host);
	u.host = host;
	host = NULL;
	rc = build(b, &u, services);
	cfg_url_free(&u);
out:
	free(text);
	free(host);
	free(remain);
	return rc;
oom:
	free(text);
	return cfg_errf(b->err, b->errlen, "%s '%s': out of memory", b->flag, b->arg);
}

static char *take_str(struct cfg_fb *b, json_t *md, const char *key)
{
	const char *const keys[] = { key, NULL };

	return cfg_fb_get_str(b, md, keys);
}

/* The loop after naming in BuildConfigFromCmd, over handler metadata only. */
int cfg_fb_service_objects(struct cfg_fb *b, json_t *svc)
{
	static const char *const k_limits[] = {
		"limiter.in", "limiter.out", "limiter.conn.in", "limiter.conn.out", NULL,
	};
	json_t *h = json_object_get(svc, "handler"), *mh = json_object_get(h, "metadata");
	json_t *md = cfg_jmd_snapshot(mh);
	char *v = NULL, *name, *in = NULL, *out = NULL, *cin = NULL, *cout = NULL;
	const char *const k_retries[] = { "retries", NULL };
	const char *const k_climit[] = { "climiter", NULL };
	const char *const k_rlimit[] = { "rlimiter", NULL };
	long long n;
	double f;

	if (!md) {
		b->oom = true;
		return -1;
	}
	if ((n = cfg_jmd_int(md, k_retries)) > 0) {
		cfg_fb_set(b, h, "retries", json_integer(n));
		json_object_del(mh, "retries");
	}
	v = take_str(b, md, "admission");
	if (v && (name = cfg_fb_bypass(b, "admissions", "admission", v))) {
		cfg_fb_set(b, svc, "admission", cfg_fb_str(b, name));
		json_object_del(mh, "admission");
		free(name);
	}
	free(v);
	v = take_str(b, md, "bypass");
	if (v && (name = cfg_fb_bypass(b, "bypasses", "bypass", v))) {
		cfg_fb_set(b, svc, "bypass", cfg_fb_str(b, name));
		json_object_del(mh, "bypass");
		free(name);
	}
	free(v);
	v = take_str(b, md, "resolver");
	if (v && *v) {
		char *prefer = take_str(b, md, "prefer");

		if (prefer && (name = cfg_fb_resolver(b, v, prefer))) {
			cfg_fb_set(b, svc, "resolver", cfg_fb_str(b, name));
			json_object_del(mh, "resolver");
			free(name);
		}
		free(prefer);
	}
	free(v);
	v = take_str(b, md, "hosts");
	if (v && (name = cfg_fb_hosts(b, v))) {
		cfg_fb_set(b, svc, "hosts", cfg_fb_str(b, name));
		json_object_del(mh, "hosts");
		free(name);
	}
	free(v);

	in = take_str(b, md, "limiter.in");
	out = take_str(b, md, "limiter.out");
	cin = take_str(b, md, "limiter.conn.in");
	cout = take_str(b, md, "limiter.conn.out");
	if (in && out && cin && cout && (*in || *out || *cin || *cout)) {
		json_t *lim = json_object(), *limits = json_array();
		char buf[64];

		snprintf(buf, sizeof(buf), "limiter-%zu", cfg_fb_top_len(b, "limiters"));
		cfg_fb_set(b, lim, "name", cfg_fb_str(b, buf));
		if (*in || *out)
			cfg_fb_append(b, limits, json_sprintf("$ %s %s", in, out));
		if (*cin || *cout)
			cfg_fb_append(b, limits, json_sprintf("$$ %s %s", cin, cout));
		cfg_fb_set(b, lim, "limits", limits);
		cfg_fb_add_top(b, "limiters", lim);
		cfg_fb_set(b, svc, "limiter", cfg_fb_str(b, buf));
		cfg_fb_del(mh, k_limits);
	}
	if ((n = cfg_jmd_int(md, k_climit)) > 0) {
		json_t *lim = json_object();
		char buf[64];

		snprintf(buf, sizeof(buf), "climiter-%zu", cfg_fb_top_len(b, "climiters"));
		cfg_fb_set(b, lim, "name", cfg_fb_str(b, buf));
		cfg_fb_set(b, lim, "limits", json_pack("[o]", json_sprintf("$ %lld", n)));
		cfg_fb_add_top(b, "climiters", lim);
		cfg_fb_set(b, svc, "climiter", cfg_fb_str(b, buf));
		json_object_del(mh, "climiter");
	}
	if ((f = cfg_jmd_float(md, k_rlimit)) > 0) {
		json_t *lim = json_object();
		char buf[64], num[64];

		cfg_go_fmt_float(f, num, sizeof(num));
		snprintf(buf, sizeof(buf), "rlimiter-%zu", cfg_fb_top_len(b, "rlimiters"));
		cfg_fb_set(b, lim, "name", cfg_fb_str(b, buf));
		cfg_fb_set(b, lim, "limits", json_pack("[o]", json_sprintf("$ %s", num)));
		cfg_fb_add_top(b, "rlimiters", lim);
		cfg_fb_set(b, svc, "rlimiter", cfg_fb_str(b, buf));
		json_object_del(mh, "rlimiter");
	}
	free(in);
	free(out);
	free(cin);
	free(cout);
	json_decref(md);
	return b->oom ? -1 : 0;
}

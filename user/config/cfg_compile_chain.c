/* Compiling chains: chains[] with their hops (inline, or a hop without nodes
 * naming a top-level hops[] entry, as x/config/parsing/chain does), each
 * hop's selector and nodes, each node's connector and dialer with GOST's
 * defaults (http, tcp, TLS serverName = host of addr) and the hop's socket
 * options passed down as x/config/parsing/hop does.  Also the pieces other
 * compile steps share: selectors, TLS blocks, address checks, refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_internal.h"

void cfg_loc_child(struct cfg_loc *child, const struct cfg_loc *parent, const char *fmt, ...)
{
	char part[CFG_PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(part, sizeof(part), fmt, ap);
	va_end(ap);
	child->src = parent ? parent->src : NULL;
	if (parent && *parent->path)
		cfg_pathf(child->path, sizeof(child->path), "%s.%s", parent->path, part);
	else
		cfg_pathf(child->path, sizeof(child->path), "%s", part);
}

void cfg_loc_elem(struct cfg_loc *loc, const json_t *el, const char *list, size_t i,
		  const struct cfg_loc *parent)
{
	const char *src = json_string_value(json_object_get(el, CFG_SRC_KEY));
	json_t *idx = json_object_get(el, CFG_IDX_KEY);

	if (json_is_integer(idx))
		i = (size_t)json_integer_value(idx);
	cfg_loc_child(loc, parent, "%s[%zu]", list, i);
	if (src)
		loc->src = src;
}

int cfg_loc_err(char *err, size_t errlen, const struct cfg_loc *loc, const char *field,
		const char *fmt, ...)
{
	char msg[CFG_ERR_MAX], path[CFG_PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (field && *field && *loc->path)
		cfg_pathf(path, sizeof(path), "%s.%s", loc->path, field);
	else
		cfg_pathf(path, sizeof(path), "%s", field && *field ? field : loc->path);
	if (loc->src)
		return cfg_errf(err, errlen, "%s: %s: %s", loc->src, path, msg);
	return cfg_errf(err, errlen, "%s: %s", path, msg);
}

int cfg_refuse(const json_t *obj, const struct cfg_refusal *fields, const struct cfg_loc *loc,
	       char *err, size_t errlen)
{
	for (; fields->field; fields++) {
		const json_t *v = json_object_get(obj, fields->field);

		if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)) ||
		    (json_is_array(v) && !json_array_size(v)))
			continue;
		return cfg_loc_err(err, errlen, loc, fields->field,
				   "%s are a GOST feature relayd does not implement", fields->what);
	}
	return 0;
}

int cfg_check_addr(const char *addr, const struct cfg_loc *loc, const char *field, char *err,
		   size_t errlen)
{
	char why[128], *host = NULL, *port = NULL;
	long long p;
	int rc = 0;

	if (!addr || !*addr)
		return cfg_loc_err(err, errlen, loc, field, "missing");
	if (cfg_go_split_host_port(addr, &host, &port, why, sizeof(why)))
		return cfg_loc_err(err, errlen, loc, field, "'%s' is not host:port (%s)", addr, why);
	if (!*port || strspn(port, "0123456789") != strlen(port) || cfg_go_atoi(port, &p))
		rc = cfg_loc_err(err, errlen, loc, field, "bad port '%s' in '%s'", port, addr);
	else if (p > 65535)
		rc = cfg_loc_err(err, errlen, loc, field, "port %lld out of range in '%s'", p, addr);
	free(host);
	free(port);
	return rc;
}

/* A copy of a string member, def when it is absent or empty (NULL stays
 * NULL); -1 on OOM. */
static int dup_field(char **dst, const json_t *obj, const char *key, const char *def)
{
	const char *v = cfg_obj_str(obj, key);

	if (!v || !*v)
		v = def;
	*dst = cfg_strdup(v);
	return v && !*dst ? -1 : 0;
}

int cfg_compile_tls(const json_t *tls, struct cfg_tls *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(tls))
		return 0;
	out->present = true;
	out->secure = json_is_true(json_object_get(tls, "secure"));
	if (dup_field(&out->cert_file, tls, "certFile", NULL) ||
	    dup_field(&out->key_file, tls, "keyFile", NULL) ||
	    dup_field(&out->ca_file, tls, "caFile", NULL) ||
	    dup_field(&out->server_name, tls, "serverName", NULL)) {
		cfg_tls_free(out);
		return cfg_errf(err, errlen, "out of memory");
	}
	return 0;
}

int cfg_compile_selector(const json_t *sel, const struct cfg_loc *loc, const char *field,
			 struct cfg_selector *out, char *err, size_t errlen)
{
	static const struct {
		const char *name, *canon;
	} strategies[] = {
		{ "round", "round" }, { "rr", "round" }, { "random", "random" }, { "rand", "random" },
		{ "fifo", "fifo" }, { "ha", "fifo" }, { "hash", "hash" },
		{ "parallel", NULL }, { "lowestlatency", NULL }, { "lowest", NULL }, { "ll", NULL },
	};
	const char *s = cfg_obj_str(sel, "strategy"), *canon = "round";
	json_int_t fails = json_integer_value(json_object_get(sel, "maxFails"));
	json_int_t timeout = json_integer_value(json_object_get(sel, "failTimeout"));
	char sub[CFG_PATH_MAX];

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; s && i < sizeof(strategies) / sizeof(strategies[0]); i++) {
		if (strcmp(s, strategies[i].name))
			continue;
		canon = strategies[i].canon;
		if (!canon) {
			cfg_pathf(sub, sizeof(sub), "%s.strategy", field);
			return cfg_loc_err(err, errlen, loc, sub, "'%s' is a GOST selector strategy "
					   "that relayd does not implement", s);
		}
	}
	/* anything else is round-robin in GOST too */
	out->strategy = cfg_strdup(canon);
	if (!out->strategy)
		return cfg_errf(err, errlen, "out of memory");
	out->max_fails = fails > 0 ? (long)fails : 1;
	out->fail_timeout_ms = timeout > 0 ? (long)(timeout / 1000000) : 10000;
	return 0;
}

const json_t *cfg_find_hop(const json_t *doc, const char *name, size_t *idx)
{
	const json_t *hops = json_object_get(doc, "hops"), *h;
	size_t i;

	json_array_foreach(hops, i, h) {
		const char *n = cfg_obj_str(h, "name");

		if (n && !strcmp(n, name)) {
			*idx = i;
			return h;
		}
	}
	return NULL;
}

/* The socket options a hop hands to nodes that do not set their own
 * (x/config/parsing/hop ParseHop). */
struct hop_defaults {
	char *ifce, *netns;
	long long so_mark, proxy_protocol;
};

static void hop_defaults_free(struct hop_defaults *d)
{
	free(d->ifce);
	free(d->netns);
}

static int hop_defaults(const json_t *hop, struct hop_defaults *d)
{
	static const char *const k_ifce[] = { "interface", NULL };
	static const char *const k_mark[] = { "so_mark", NULL };
	static const char *const k_pp[] = { "proxyProtocol", NULL };
	static const char *const k_netns[] = { "netns", NULL };
	const json_t *hmd = json_object_get(hop, "metadata");
	json_t *md = hmd ? cfg_jmd_snapshot(hmd) : json_object();
	const char *dep = cfg_obj_str(hop, "interface");

	memset(d, 0, sizeof(*d));
	if (!md)
		return -1;
	d->ifce = cfg_jmd_string(md, k_ifce);
	d->netns = cfg_jmd_string(md, k_netns);
	if (d->ifce && !*d->ifce && dep) {
		free(d->ifce);
		d->ifce = cfg_strdup(dep);
	}
	d->so_mark = json_integer_value(json_object_get(json_object_get(hop, "sockopts"), "mark"));
	if (cfg_jmd_int(md, k_mark) > 0)
		d->so_mark = cfg_jmd_int(md, k_mark);
	d->proxy_protocol = cfg_jmd_int(md, k_pp);
	json_decref(md);
	if (!d->ifce || !d->netns) {
		hop_defaults_free(d);
		return -1;
	}
	return 0;
}

static int set_num(struct cfg_md *md, const char *key, long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", v);
	return cfg_md_set(md, key, num);
}

/* Node metadata with the hop's and the node's deprecated socket options
 * filled in where the node's metadata does not set them. */
static int node_md(const json_t *node, const struct hop_defaults *d, struct cfg_md *md)
{
	const char *ifce = cfg_obj_str(node, "interface"), *netns = cfg_obj_str(node, "netns");
	long long mark = json_integer_value(json_object_get(json_object_get(node, "sockopts"),
							    "mark"));

	if (!cfg_md_get(md, "interface")) {
		const char *v = ifce && *ifce ? ifce : *d->ifce ? d->ifce : NULL;

		if (v && cfg_md_set(md, "interface", v))
			return -1;
	}
	if (!cfg_md_get(md, "so_mark") && (mark || d->so_mark) &&
	    set_num(md, "so_mark", mark ? mark : d->so_mark))
		return -1;
	if (!cfg_md_get(md, "proxyProtocol") && d->proxy_protocol > 0 &&
	    set_num(md, "proxyProtocol", d->proxy_protocol))
		return -1;
	if (!cfg_md_get(md, "netns")) {
		const char *v = netns && *netns ? netns : *d->netns ? d->netns : NULL;

		if (v && cfg_md_set(md, "netns", v))
			return -1;
	}
	return 0;
}

static const struct cfg_refusal node_refused[] = {
	{ "bypass", "bypass rules" },
	{ "bypasses", "bypass rules" },
	{ "resolver", "custom resolvers" },
	{ "hosts", "host mappings" },
	{ NULL, NULL },
};

/* connector or dialer: type (with GOST's default), type check, credentials,
 * metadata. */
static int compile_end(const json_t *o, enum cfg_tkind kind, const char *field,
		       const char *def, const struct cfg_loc *loc, char **type,
		       struct cfg_auth **auth, struct cfg_md *md, char *err, size_t errlen)
{
	const char *t = cfg_obj_str(o, "type");
	char msg[CFG_ERR_MAX], sub[CFG_PATH_MAX];

	if (!t || strspn(t, " \t\r\n\v\f") == strlen(t))  /* strings.TrimSpace(type) == "" */
		t = def;
	cfg_pathf(sub, sizeof(sub), "%s.type", field);
	if (cfg_type_check(kind, t, msg, sizeof(msg)))
		return cfg_loc_err(err, errlen, loc, sub, "%s", msg);
	*type = cfg_strdup(t);
	if (!*type)
		return cfg_errf(err, errlen, "out of memory");
	cfg_pathf(sub, sizeof(sub), "%s.auth", field);
	if (cfg_auth_client(json_object_get(o, "auth"), loc, sub, auth, err, errlen))
		return -1;
	cfg_pathf(sub, sizeof(sub), "%s.metadata", field);
	return cfg_md_from_json(md, json_object_get(o, "metadata"), loc, sub, err, errlen);
}

static int compile_node(const json_t *node, const struct hop_defaults *d,
			const struct cfg_loc *loc, struct cfg_node *out, char *err, size_t errlen)
{
	const json_t *dialer = json_object_get(node, "dialer");
	char *host = NULL, *port = NULL;

	if (cfg_refuse(node, node_refused, loc, err, errlen))
		return -1;
	if (dup_field(&out->name, node, "name", "") || dup_field(&out->addr, node, "addr", ""))
		return cfg_errf(err, errlen, "out of memory");
	if (cfg_check_addr(out->addr, loc, "addr", err, errlen))
		return -1;
	if (compile_end(json_object_get(node, "connector"), CFG_T_CONNECTOR, "connector", "http",
			loc, &out->connector, &out->connector_auth, &out->connector_md, err,
			errlen) ||
	    compile_end(dialer, CFG_T_DIALER, "dialer", "tcp", loc, &out->dialer,
			&out->dialer_auth, &out->dialer_md, err, errlen) ||
	    cfg_compile_tls(json_object_get(dialer, "tls"), &out->dialer_tls, err, errlen))
		return -1;
	/* TLS serverName defaults to the host of addr (x/config/parsing/node) */
	if (!out->dialer_tls.server_name || !*out->dialer_tls.server_name) {
		free(out->dialer_tls.server_name);
		out->dialer_tls.server_name = NULL;
		if (!cfg_go_split_host_port(out->addr, &host, &port, NULL, 0)) {
			out->dialer_tls.server_name = host;
			free(port);
		} else {
			out->dialer_tls.server_name = cfg_strdup("");
		}
		if (!out->dialer_tls.server_name)
			return cfg_errf(err, errlen, "out of memory");
	}
	if (cfg_md_from_json(&out->md, json_object_get(node, "metadata"), loc, "metadata", err,
			     errlen))
		return -1;
	if (node_md(node, d, &out->md))
		return cfg_errf(err, errlen, "out of memory");
	return 0;
}

static int compile_hop(const json_t *hop, const struct cfg_loc *loc, struct cfg_hop *out,
		       char *err, size_t errlen)
{
	static const struct cfg_refusal refused[] = {
		{ "bypass", "bypass rules" },
		{ "bypasses", "bypass rules" },
		{ "resolver", "custom resolvers" },
		{ "hosts", "host mappings" },
		{ "file", "hop node files" },
		{ "redis", "redis node loaders" },
		{ "http", "HTTP node loaders" },
		{ "plugin", "hop plugins" },
		{ NULL, NULL },
	};
	const json_t *nodes = json_object_get(hop, "nodes"), *n;
	struct hop_defaults d;
	struct cfg_loc nloc;
	size_t i;
	int rc = -1;

	if (cfg_refuse(hop, refused, loc, err, errlen))
		return -1;
	if (dup_field(&out->name, hop, "name", ""))
		return cfg_errf(err, errlen, "out of memory");
	if (!json_array_size(nodes))
		return cfg_loc_err(err, errlen, loc, "nodes", "empty (a hop needs at least one node)");
	if (cfg_compile_selector(json_object_get(hop, "selector"), loc, "selector", &out->selector,
				 err, errlen) ||
	    cfg_md_from_json(&out->md, json_object_get(hop, "metadata"), loc, "metadata", err,
			     errlen))
		return -1;
	out->nodes = calloc(json_array_size(nodes), sizeof(*out->nodes));
	if (!out->nodes || hop_defaults(hop, &d))
		return cfg_errf(err, errlen, "out of memory");
	json_array_foreach(nodes, i, n) {
		cfg_loc_child(&nloc, loc, "nodes[%zu]", i);
		out->n_nodes++;
		if (compile_node(n, &d, &nloc, &out->nodes[i], err, errlen))
			goto out;
	}
	rc = 0;
out:
	hop_defaults_free(&d);
	return rc;
}

/* A chain's hop: inline when it has nodes, else the top-level hop it names. */
static int chain_hop(const json_t *doc, const json_t *hop, const struct cfg_loc *loc,
		     struct cfg_hop *out, char *err, size_t errlen)
{
	const char *name = cfg_obj_str(hop, "name");
	const json_t *top;
	struct cfg_loc tloc;
	size_t idx = 0;

	if (json_object_get(hop, "nodes") || json_object_get(hop, "plugin"))
		return compile_hop(hop, loc, out, err, errlen);
	top = name && *name ? cfg_find_hop(doc, name, &idx) : NULL;
	if (!top)
		return cfg_loc_err(err, errlen, loc, "", "no hop named '%s' in hops[] (a hop "
				   "without nodes refers to a top-level hop by name)",
				   name ? name : "");
	cfg_loc_elem(&tloc, top, "hops", idx, NULL);
	return compile_hop(top, &tloc, out, err, errlen);
}

static int compile_chain(const json_t *doc, const json_t *ch, const struct cfg_loc *loc,
			 struct cfg_chain *out, char *err, size_t errlen)
{
	const json_t *hops = json_object_get(ch, "hops"), *h;
	struct cfg_loc hloc;
	size_t i;

	if (dup_field(&out->name, ch, "name", ""))
		return cfg_errf(err, errlen, "out of memory");
	if (!*out->name)
		return cfg_loc_err(err, errlen, loc, "name", "missing");
	if (cfg_md_from_json(&out->md, json_object_get(ch, "metadata"), loc, "metadata", err,
			     errlen))
		return -1;
	if (!json_array_size(hops))
		return 0;
	out->hops = calloc(json_array_size(hops), sizeof(*out->hops));
	if (!out->hops)
		return cfg_errf(err, errlen, "out of memory");
	json_array_foreach(hops, i, h) {
		cfg_loc_elem(&hloc, h, "hops", i, loc);
		out->n_hops++;
		if (chain_hop(doc, h, &hloc, &out->hops[i], err, errlen))
			return -1;
	}
	return 0;
}

int cfg_compile_chains(const json_t *doc, struct cfg *c, char *err, size_t errlen)
{
	const json_t *chains = json_object_get(doc, "chains"), *ch;
	struct cfg_loc loc;
	size_t i;

	if (!json_array_size(chains))
		return 0;
	c->chains = calloc(json_array_size(chains), sizeof(*c->chains));
	if (!c->chains)
		return cfg_errf(err, errlen, "out of memory");
	json_array_foreach(chains, i, ch) {
		cfg_loc_elem(&loc, ch, "chains", i, NULL);
		c->n_chains++;
		if (compile_chain(doc, ch, &loc, &c->chains[i], err, errlen))
			return -1;
		for (size_t k = 0; k < i; k++) {
			if (!strcmp(c->chains[k].name, c->chains[i].name))
				return cfg_loc_err(err, errlen, &loc, "name",
						   "duplicate chain name '%s'", c->chains[i].name);
		}
	}
	return 0;
}

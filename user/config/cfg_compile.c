/* cfg_compile: the document into struct cfg.  Services with GOST's defaults
 * (listener tcp, handler auto), types checked against what relayd
 * implements, chains resolved by name, users resolved, forwarders from inline
 * nodes or a named hop; then the top-level tls, log and metrics.  Every error
 * names the source and the field path; GOST features that would silently
 * change who may connect or where traffic goes are refused, not ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_internal.h"

static bool blank(const char *s)
{
	return !s || strspn(s, " \t\r\n\v\f") == strlen(s);
}

static const struct cfg_chain *find_chain(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_chains; i++) {
		if (!strcmp(c->chains[i].name, name))
			return &c->chains[i];
	}
	return NULL;
}

/* handler/listener type, defaulted and checked. */
static int end_type(const json_t *o, enum cfg_tkind kind, const char *field, const char *def,
		    const struct cfg_loc *loc, char **out, char *err, size_t errlen)
{
	const char *t = cfg_obj_str(o, "type");
	char msg[CFG_ERR_MAX], sub[CFG_PATH_MAX];

	if (blank(t))
		t = def;
	cfg_pathf(sub, sizeof(sub), "%s.type", field);
	if (cfg_type_check(kind, t, msg, sizeof(msg)))
		return cfg_loc_err(err, errlen, loc, sub, "%s", msg);
	*out = cfg_strdup(t);
	return *out ? 0 : cfg_errf(err, errlen, "out of memory");
}

static int end_chain(const struct cfg *c, const json_t *o, const char *field,
		     const struct cfg_loc *loc, const struct cfg_chain **out, char *err,
		     size_t errlen)
{
	static const struct cfg_refusal refused[] = {
		{ "chainGroup", "chain groups" },
		{ NULL, NULL },
	};
	const char *name = cfg_obj_str(o, "chain");
	char sub[CFG_PATH_MAX];
	struct cfg_loc eloc;

	cfg_loc_child(&eloc, loc, "%s", field);
	if (cfg_refuse(o, refused, &eloc, err, errlen))
		return -1;
	*out = NULL;
	if (!name || !*name)
		return 0;
	*out = find_chain(c, name);
	cfg_pathf(sub, sizeof(sub), "%s.chain", field);
	if (!*out)
		return cfg_loc_err(err, errlen, loc, sub, "no chain named '%s'", name);
	return 0;
}

static int fnode(const json_t *n, const struct cfg_loc *loc, struct cfg_fnode *out, char *err,
		 size_t errlen)
{
	static const struct cfg_refusal refused[] = {
		{ "bypass", "bypass rules" },
		{ "bypasses", "bypass rules" },
		{ NULL, NULL },
	};
	const char *name = cfg_obj_str(n, "name"), *addr = cfg_obj_str(n, "addr");
	const char *net = cfg_obj_str(n, "network");

	if (cfg_refuse(n, refused, loc, err, errlen) ||
	    cfg_check_addr(addr, loc, "addr", err, errlen))
		return -1;
	out->name = cfg_strdup(name ? name : "");
	out->addr = cfg_strdup(addr);
	out->network = net && *net ? cfg_strdup(net) : NULL;
	if (!out->name || !out->addr || (net && *net && !out->network))
		return cfg_errf(err, errlen, "out of memory");
	return 0;
}

/* forwarder.nodes, or the top-level hop named by forwarder.hop (or by the
 * deprecated forwarder.name, which GOST also reads as a hop name). */
static int forwarder(const json_t *doc, const json_t *f, const struct cfg_loc *sloc,
		     struct cfg_forwarder *out, char *err, size_t errlen)
{
	static const struct cfg_refusal refused[] = {
		{ "hopGroup", "hop groups" },
		{ NULL, NULL },
	};
	const char *hop = cfg_obj_str(f, "hop");
	const json_t *nodes = json_object_get(f, "nodes"), *sel = json_object_get(f, "selector");
	const json_t *n;
	struct cfg_loc loc, floc;
	size_t i, idx = 0;

	if (!json_is_object(f))
		return 0;
	cfg_loc_child(&floc, sloc, "forwarder");
	if (cfg_refuse(f, refused, &floc, err, errlen))
		return -1;
	if (!hop || !*hop)
		hop = cfg_obj_str(f, "name");
	if (hop && *hop) {
		const json_t *top = cfg_find_hop(doc, hop, &idx);

		if (!top)
			return cfg_loc_err(err, errlen, &floc, cfg_obj_str(f, "hop") &&
					   *cfg_obj_str(f, "hop") ? "hop" : "name",
					   "no hop named '%s' in hops[]", hop);
		cfg_loc_elem(&floc, top, "hops", idx, NULL);
		nodes = json_object_get(top, "nodes");
		sel = json_object_get(top, "selector");
	}
	if (!json_array_size(nodes))
		return cfg_loc_err(err, errlen, &floc, "nodes", "empty (a forwarder needs at least "
				   "one node)");
	if (cfg_compile_selector(sel, &floc, "selector", &out->selector, err, errlen))
		return -1;
	out->nodes = calloc(json_array_size(nodes), sizeof(*out->nodes));
	if (!out->nodes)
		return cfg_errf(err, errlen, "out of memory");
	json_array_foreach(nodes, i, n) {
		cfg_loc_child(&loc, &floc, "nodes[%zu]", i);
		out->n_nodes++;
		if (fnode(n, &loc, &out->nodes[i], err, errlen))
			return -1;
	}
	return 0;
}

/* The deprecated service.interface and sockopts.mark, unless metadata says. */
static int service_md(const json_t *svc, struct cfg_md *md)
{
	const char *ifce = cfg_obj_str(svc, "interface");
	long long mark = json_integer_value(json_object_get(json_object_get(svc, "sockopts"),
							    "mark"));
	const char *v = cfg_md_get(md, "interface");
	char num[24];

	if ((!v || !*v) && ifce && *ifce && cfg_md_set(md, "interface", ifce))
		return -1;
	v = cfg_md_get(md, "so_mark");
	if (mark && (!v || atol(v) <= 0)) {
		snprintf(num, sizeof(num), "%lld", mark);
		if (cfg_md_set(md, "so_mark", num))
			return -1;
	}
	return 0;
}

static int compile_service(const json_t *doc, const struct cfg *c, const json_t *svc,
			   const struct cfg_loc *loc, struct cfg_service *out, char *err,
			   size_t errlen)
{
	static const struct cfg_refusal refused[] = {
		{ "admission", "admission rules" },
		{ "admissions", "admission rules" },
		{ "bypass", "bypass rules" },
		{ "bypasses", "bypass rules" },
		{ "resolver", "custom resolvers" },
		{ "hosts", "host mappings" },
		{ NULL, NULL },
	};
	const json_t *h = json_object_get(svc, "handler"), *l = json_object_get(svc, "listener");
	bool ignore_chain = false;
	char why[CFG_ERR_MAX];

	if (cfg_refuse(svc, refused, loc, err, errlen))
		return -1;
	out->name = cfg_strdup(cfg_obj_str(svc, "name") ? cfg_obj_str(svc, "name") : "");
	out->addr = cfg_strdup(cfg_obj_str(svc, "addr") ? cfg_obj_str(svc, "addr") : "");
	if (!out->name || !out->addr)
		return cfg_errf(err, errlen, "out of memory");
	if (!*out->name)
		return cfg_loc_err(err, errlen, loc, "name", "missing");
	if (end_type(l, CFG_T_LISTENER, "listener", "tcp", loc, &out->listener, err, errlen) ||
	    end_type(h, CFG_T_HANDLER, "handler", "auto", loc, &out->handler, err, errlen) ||
	    cfg_check_addr(out->addr, loc, "addr", err, errlen))
		return -1;
	if (cfg_md_from_json(&out->md, json_object_get(svc, "metadata"), loc, "metadata", err,
			     errlen) ||
	    cfg_md_from_json(&out->handler_md, json_object_get(h, "metadata"), loc,
			     "handler.metadata", err, errlen) ||
	    cfg_md_from_json(&out->listener_md, json_object_get(l, "metadata"), loc,
			     "listener.metadata", err, errlen))
		return -1;
	if (service_md(svc, &out->md))
		return cfg_errf(err, errlen, "out of memory");
	if (cfg_md_bool(&out->md, "ignoreChain", false, &ignore_chain, why, sizeof(why)))
		return cfg_errf(err, errlen, "%s", why);
	if (end_chain(c, h, "handler", loc, &out->handler_chain, err, errlen) ||
	    end_chain(c, l, "listener", loc, &out->listener_chain, err, errlen))
		return -1;
	if (ignore_chain)
		out->handler_chain = out->listener_chain = NULL;
	if (cfg_users_resolve(doc, h, loc, "handler", &out->handler_users, err, errlen) ||
	    cfg_users_resolve(doc, l, loc, "listener", &out->listener_users, err, errlen) ||
	    cfg_compile_tls(json_object_get(l, "tls"), &out->listener_tls, err, errlen))
		return -1;
	return forwarder(doc, json_object_get(svc, "forwarder"), loc, &out->forwarder, err,
			 errlen);
}

static int compile_services(const json_t *doc, struct cfg *c, char *err, size_t errlen)
{
	const json_t *services = json_object_get(doc, "services"), *svc;
	struct cfg_loc loc;
	size_t i;

	if (!json_array_size(services))
		return 0;
	c->services = calloc(json_array_size(services), sizeof(*c->services));
	if (!c->services)
		return cfg_errf(err, errlen, "out of memory");
	json_array_foreach(services, i, svc) {
		cfg_loc_elem(&loc, svc, "services", i, NULL);
		c->n_services++;
		if (compile_service(doc, c, svc, &loc, &c->services[i], err, errlen))
			return -1;
		for (size_t k = 0; k < i; k++) {
			if (!strcmp(c->services[k].name, c->services[i].name))
				return cfg_loc_err(err, errlen, &loc, "name",
						   "duplicate service name '%s'", c->services[i].name);
		}
	}
	return 0;
}

/* Names that must be unique in a top-level list (GOST's registry refuses
 * duplicates). */
static int unique_names(const json_t *doc, const char *list, char *err, size_t errlen)
{
	const json_t *arr = json_object_get(doc, list), *a, *b;
	struct cfg_loc loc;
	size_t i, k;

	json_array_foreach(arr, i, a) {
		const char *n = cfg_obj_str(a, "name");

		cfg_loc_elem(&loc, a, list, i, NULL);
		if (!n || !*n)
			return cfg_loc_err(err, errlen, &loc, "name", "missing");
		json_array_foreach(arr, k, b) {
			if (k >= i)
				break;
			if (!strcmp(n, cfg_obj_str(b, "name")))
				return cfg_loc_err(err, errlen, &loc, "name", "duplicate name '%s'", n);
		}
	}
	return 0;
}

static int compile_log(const json_t *log, struct cfg_log *out, char *err, size_t errlen)
{
	static const char *const levels[][2] = {
		{ "trace", "trace" }, { "debug", "debug" }, { "info", "info" }, { "warn", "warn" },
		{ "warning", "warn" }, { "error", "error" }, { "fatal", "fatal" },
		{ "panic", "fatal" },
	};
	const char *level = cfg_obj_str(log, "level"), *format = cfg_obj_str(log, "format");
	const char *output = cfg_obj_str(log, "output"), *canon = NULL;
	struct cfg_loc loc = { json_string_value(json_object_get(log, CFG_SRC_KEY)), "log" };

	if (!level || !*level)
		level = "info";
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (cfg_streq_ci(level, levels[i][0]))
			canon = levels[i][1];
	}
	if (!canon)
		return cfg_loc_err(err, errlen, &loc, "level", "'%s' is not one of trace, debug, "
				   "info, warn, error, fatal", level);
	if (!format || !*format)
		format = "json";
	if (strcmp(format, "json") && strcmp(format, "text"))
		return cfg_loc_err(err, errlen, &loc, "format", "'%s' is not json or text", format);
	if (!output || !*output)
		output = "stderr";
	if (!strcmp(output, "null"))
		output = "none";
	out->level = cfg_strdup(canon);
	out->format = cfg_strdup(format);
	out->output = cfg_strdup(output);
	return out->level && out->format && out->output ? 0 : cfg_errf(err, errlen,
								       "out of memory");
}

static int compile_metrics(const json_t *m, struct cfg_metrics *out, char *err, size_t errlen)
{
	static const struct cfg_refusal refused[] = {
		{ "auther", "authers on the metrics endpoint (use metrics.auth)" },
		{ NULL, NULL },
	};
	struct cfg_loc loc = { json_string_value(json_object_get(m, CFG_SRC_KEY)), "metrics" };
	const char *addr = cfg_obj_str(m, "addr"), *path = cfg_obj_str(m, "path");
	const json_t *auth = json_object_get(m, "auth");
	const char *user = cfg_obj_str(auth, "username");

	if (!addr || !*addr)
		return 0;
	if (cfg_refuse(m, refused, &loc, err, errlen))
		return -1;
	out->addr = cfg_strdup(addr);
	out->path = cfg_strdup(path && *path ? path : "/metrics");
	if (!out->addr || !out->path)
		return cfg_errf(err, errlen, "out of memory");
	if (user && *user) {
		out->auth = calloc(1, sizeof(*out->auth));
		if (!out->auth)
			return cfg_errf(err, errlen, "out of memory");
		out->auth->username = cfg_strdup(user);
		out->auth->password = cfg_strdup(cfg_obj_str(auth, "password") ?
						 cfg_obj_str(auth, "password") : "");
		if (!out->auth->username || !out->auth->password)
			return cfg_errf(err, errlen, "out of memory");
	}
	return 0;
}

int cfg_compile(const json_t *doc, struct cfg **out, char *err, size_t errlen)
{
	struct cfg_norm_opts o = { NULL, false, true };
	json_t *norm = NULL;
	struct cfg *c;

	*out = NULL;
	if (cfg_normalize(doc, &o, &norm, err, errlen))
		return -1;
	c = calloc(1, sizeof(*c));
	if (!c) {
		json_decref(norm);
		return cfg_errf(err, errlen, "out of memory");
	}
	if (unique_names(norm, "hops", err, errlen) ||
	    unique_names(norm, "authers", err, errlen) ||
	    cfg_compile_chains(norm, c, err, errlen) ||
	    compile_services(norm, c, err, errlen) ||
	    cfg_compile_tls(json_object_get(norm, "tls"), &c->tls, err, errlen) ||
	    compile_log(json_object_get(norm, "log"), &c->log, err, errlen) ||
	    compile_metrics(json_object_get(norm, "metrics"), &c->metrics, err, errlen)) {
		cfg_free(c);
		json_decref(norm);
		return -1;
	}
	json_decref(norm);
	*out = c;
	return 0;
}

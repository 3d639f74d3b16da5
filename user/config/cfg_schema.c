/* GOST's configuration structs (x/config/config.go) as tables, field by field
 * in Go struct order with their JSON spelling, kind and omitempty flag, and the
 * decoder that brings any JSON document into that shape the way viper and
 * mapstructure do: names matched case-insensitively, unknown keys dropped,
 * weakly typed values converted, "30s" durations turned into nanoseconds.
 * Sections relayd has no use for are kept as they came (CFG_K_ANY). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define STR(n)       { n, CFG_K_STR, true, NULL }
#define STR_REQ(n)   { n, CFG_K_STR, false, NULL }
#define INT(n)       { n, CFG_K_INT, true, NULL }
#define BOOL(n)      { n, CFG_K_BOOL, true, NULL }
#define DUR(n)       { n, CFG_K_DUR, true, NULL }
#define STRS(n)      { n, CFG_K_STRS, true, NULL }
#define MAP(n)       { n, CFG_K_MAP, true, NULL }
#define ANY(n)       { n, CFG_K_ANY, true, NULL }
#define OBJ(n, s)    { n, CFG_K_OBJ, true, &(s) }
#define LIST(n, s)   { n, CFG_K_LIST, true, &(s) }
#define SCHEMA(name, f) static const struct cfg_schema name = { f, N(f) }

static const struct cfg_field f_auth[] = { STR("username"), STR("password"), STR("file") };
SCHEMA(s_auth, f_auth);

static const struct cfg_field f_tls_options[] = {
	STR("minVersion"), STR("maxVersion"), STRS("cipherSuites"), STRS("alpn"),
};
SCHEMA(s_tls_options, f_tls_options);

static const struct cfg_field f_tls[] = {
	STR("certFile"), STR("keyFile"), STR("caFile"), BOOL("secure"), STR("serverName"),
	OBJ("options", s_tls_options), DUR("validity"), STR("commonName"), STR("organization"),
	BOOL("rejectUnknownSNI"), STRS("serverNames"),
};
SCHEMA(s_tls, f_tls);

static const struct cfg_field f_file_loader[] = { STR_REQ("path") };
SCHEMA(s_file_loader, f_file_loader);

static const struct cfg_field f_selector[] = {
	STR_REQ("strategy"),
	{ "maxFails", CFG_K_INT, false, NULL },
	{ "failTimeout", CFG_K_DUR, false, NULL },
	DUR("maxLatency"),
};
SCHEMA(s_selector, f_selector);

static const struct cfg_field f_sockopts[] = { INT("mark") };
SCHEMA(s_sockopts, f_sockopts);

static const struct cfg_field f_tls_node[] = {
	STR("serverName"), BOOL("secure"), OBJ("options", s_tls_options),
};
SCHEMA(s_tls_node, f_tls_node);

static const struct cfg_field f_fnode[] = {
	STR("name"), STR("addr"), STR("network"), STR("bypass"), STRS("bypasses"),
	STR("protocol"), STR("host"), STR("path"), ANY("filter"), ANY("matcher"),
	OBJ("auth", s_auth), ANY("http"), OBJ("tls", s_tls_node), ANY("probe"), MAP("metadata"),
};
SCHEMA(s_fnode, f_fnode);

static const struct cfg_field f_forwarder[] = {
	STR("name"), STR("hop"), OBJ("selector", s_selector),
	{ "nodes", CFG_K_LIST, false, &s_fnode }, ANY("hopGroup"),
};
SCHEMA(s_forwarder, f_forwarder);

static const struct cfg_field f_handler[] = {
	STR_REQ("type"), INT("retries"), STR("chain"), ANY("chainGroup"), STR("auther"),
	STRS("authers"), OBJ("auth", s_auth), OBJ("tls", s_tls), STR("limiter"),
	STR("observer"), MAP("metadata"),
};
SCHEMA(s_handler, f_handler);

static const struct cfg_field f_listener[] = {
	STR_REQ("type"), STR("chain"), ANY("chainGroup"), STR("auther"), STRS("authers"),
	OBJ("auth", s_auth), OBJ("tls", s_tls), MAP("metadata"),
};
SCHEMA(s_listener, f_listener);

static const struct cfg_field f_service[] = {
	STR_REQ("name"), STR("addr"), STR("interface"), OBJ("sockopts", s_sockopts),
	STR("admission"), STRS("admissions"), STR("bypass"), STRS("bypasses"), STR("resolver"),
	STR("hosts"), STR("limiter"), STRS("quotas"), STR("climiter"), STR("rlimiter"),
	STR("logger"), STRS("loggers"), STR("observer"), STR("rewriter"), ANY("recorders"),
	STR("cache"), OBJ("handler", s_handler), OBJ("listener", s_listener),
	OBJ("forwarder", s_forwarder), MAP("metadata"), ANY("status"),
};
SCHEMA(s_service, f_service);

static const struct cfg_field f_connector[] = {
	STR_REQ("type"), OBJ("auth", s_auth), OBJ("tls", s_tls), MAP("metadata"),
};
SCHEMA(s_connector, f_connector);

static const struct cfg_field f_node[] = {
	STR_REQ("name"), STR("addr"), STR("network"), STR("bypass"), STRS("bypasses"),
	STR("resolver"), STR("hosts"), OBJ("connector", s_connector), OBJ("dialer", s_connector),
	STR("interface"), STR("netns"), OBJ("sockopts", s_sockopts), ANY("filter"),
	ANY("matcher"), ANY("http"), OBJ("tls", s_tls_node), ANY("probe"), MAP("metadata"),
};
SCHEMA(s_node, f_node);

static const struct cfg_field f_hop[] = {
	STR_REQ("name"), STR("interface"), OBJ("sockopts", s_sockopts),
	OBJ("selector", s_selector), STR("bypass"), STRS("bypasses"), STR("resolver"),
	STR("hosts"), LIST("nodes", s_node), DUR("reload"), OBJ("file", s_file_loader),
	ANY("redis"), ANY("http"), ANY("plugin"), MAP("metadata"),
};
SCHEMA(s_hop, f_hop);

static const struct cfg_field f_chain[] = {
	STR_REQ("name"), { "hops", CFG_K_LIST, false, &s_hop }, MAP("metadata"),
};
SCHEMA(s_chain, f_chain);

static const struct cfg_field f_auther[] = {
	STR_REQ("name"), LIST("auths", s_auth), DUR("reload"), OBJ("file", s_file_loader),
	ANY("redis"), ANY("http"), ANY("plugin"),
};
SCHEMA(s_auther, f_auther);

static const struct cfg_field f_admission[] = {
	STR_REQ("name"), BOOL("reverse"), BOOL("whitelist"), STRS("matchers"), DUR("reload"),
	OBJ("file", s_file_loader), ANY("redis"), ANY("http"), ANY("plugin"),
};
SCHEMA(s_admission, f_admission);

static const struct cfg_field f_bypass[] = {
	STR_REQ("name"), BOOL("reverse"), BOOL("whitelist"), STR("network"), STRS("matchers"),
	DUR("reload"), OBJ("file", s_file_loader), ANY("redis"), ANY("http"), ANY("plugin"),
};
SCHEMA(s_bypass, f_bypass);

static const struct cfg_field f_nameserver[] = {
	STR_REQ("addr"), STR("chain"), STR("prefer"), STR("clientIP"), STR("hostname"),
	DUR("ttl"), DUR("timeout"), BOOL("async"), STR("only"),
};
SCHEMA(s_nameserver, f_nameserver);

static const struct cfg_field f_resolver[] = {
	STR_REQ("name"), LIST("nameservers", s_nameserver), ANY("plugin"),
};
SCHEMA(s_resolver, f_resolver);

static const struct cfg_field f_host_mapping[] = {
	STR_REQ("ip"), STR_REQ("hostname"), STRS("aliases"),
};
SCHEMA(s_host_mapping, f_host_mapping);

static const struct cfg_field f_hosts[] = {
	STR_REQ("name"), LIST("mappings", s_host_mapping), DUR("reload"),
	OBJ("file", s_file_loader), ANY("redis"), ANY("http"), ANY("plugin"),
};
SCHEMA(s_hosts, f_hosts);

static const struct cfg_field f_limiter[] = {
	STR_REQ("name"), STRS("limits"), DUR("reload"), OBJ("file", s_file_loader),
	ANY("redis"), ANY("http"), ANY("plugin"),
};
SCHEMA(s_limiter, f_limiter);

static const struct cfg_field f_log[] = {
	STR("output"), STR("level"), STR("format"), ANY("rotation"),
};
SCHEMA(s_log, f_log);

static const struct cfg_field f_profiling[] = { STR_REQ("addr") };
SCHEMA(s_profiling, f_profiling);

static const struct cfg_field f_api[] = {
	STR_REQ("addr"), STR("pathPrefix"), BOOL("accesslog"), OBJ("auth", s_auth), STR("auther"),
};
SCHEMA(s_api, f_api);

static const struct cfg_field f_metrics[] = {
	STR_REQ("addr"), STR("path"), OBJ("auth", s_auth), STR("auther"),
};
SCHEMA(s_metrics, f_metrics);

static const struct cfg_field f_config[] = {
	{ "services", CFG_K_LIST, false, &s_service },
	LIST("chains", s_chain), LIST("hops", s_hop), LIST("authers", s_auther),
	LIST("admissions", s_admission), LIST("bypasses", s_bypass),
	LIST("resolvers", s_resolver), LIST("hosts", s_hosts), ANY("ingresses"),
	ANY("routers"), ANY("sds"), ANY("recorders"), ANY("rewriters"), ANY("caches"),
	LIST("limiters", s_limiter), ANY("quotas"), LIST("climiters", s_limiter),
	LIST("rlimiters", s_limiter), ANY("observers"), ANY("loggers"), OBJ("tls", s_tls),
	OBJ("log", s_log), OBJ("profiling", s_profiling), OBJ("api", s_api),
	OBJ("metrics", s_metrics),
};
const struct cfg_schema cfg_schema_config = { f_config, N(f_config) };

/* ---- decoding ------------------------------------------------------------ */

struct norm {
	const struct cfg_norm_opts *o;
	char *err;
	size_t errlen;
};

static int norm_fail(struct norm *n, const char *path, const char *fmt, ...) CFG_PRINTF(3, 4);

static int norm_fail(struct norm *n, const char *path, const char *fmt, ...)
{
	char msg[CFG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n->o->src)
		return cfg_errf(n->err, n->errlen, "%s: %s: %s", n->o->src, path, msg);
	return cfg_errf(n->err, n->errlen, "%s: %s", path, msg);
}

static int norm_oom(struct norm *n)
{
	return cfg_errf(n->err, n->errlen, "%s%sout of memory", n->o->src ? n->o->src : "",
			n->o->src ? ": " : "");
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* viper lower-cases every map key it reads, however deep. */
static json_t *lower_copy(const json_t *v)
{
	json_t *out, *e;
	const char *k;
	size_t i;

	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, e) {
			if (!out || json_array_append_new(out, lower_copy(e))) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	if (!json_is_object(v))
		return json_deep_copy(v);
	out = json_object();
	json_object_foreach((json_t *)v, k, e) {
		char *lk = cfg_strdup(k);

		for (char *p = lk; p && *p; p++) {
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		}
		if (!out || !lk || json_object_set_new_nocheck(out, lk, lower_copy(e))) {
			free(lk);
			json_decref(out);
			return NULL;
		}
		free(lk);
	}
	return out;
}

static int to_str(struct norm *n, const json_t *v, const char *path, json_t **out)
{
	char num[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		*out = json_stringn_nocheck(json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		*out = json_string(num);
		break;
	case JSON_REAL:
		cfg_go_fmt_float(json_real_value(v), num, sizeof(num));
		*out = json_string(num);
		break;
	case JSON_TRUE:
	case JSON_FALSE:        /* mapstructure's weak bool -> string */
		*out = json_string(json_is_true(v) ? "1" : "0");
		break;
	default:
		return norm_fail(n, path, "expected a string, got %s", type_name(v));
	}
	return *out ? 0 : norm_oom(n);
}

static int to_int(struct norm *n, const json_t *v, const char *path, json_t **out)
{
	long long i = 0;
	double f;

	switch (json_typeof(v)) {
	case JSON_INTEGER:
		i = json_integer_value(v);
		break;
	case JSON_REAL:
		f = json_real_value(v);
		if (!(f > -9.2e18 && f < 9.2e18))
			return norm_fail(n, path, "%g is out of range", f);
		i = (long long)f;
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		i = json_is_true(v);
		break;
	case JSON_STRING:
		if (*json_string_value(v) && cfg_go_parse_int0(json_string_value(v), &i))
			return norm_fail(n, path, "'%s' is not an integer", json_string_value(v));
		break;
	default:
		return norm_fail(n, path, "expected an integer, got %s", type_name(v));
	}
	*out = json_integer(i);
	return *out ? 0 : norm_oom(n);
}

static int to_bool(struct norm *n, const json_t *v, const char *path, json_t **out)
{
	bool b = false;

	switch (json_typeof(v)) {
	case JSON_TRUE:
	case JSON_FALSE:
		b = json_is_true(v);
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		b = json_number_value(v) != 0;
		break;
	case JSON_STRING:
		if (*json_string_value(v) && cfg_go_parse_bool(json_string_value(v), &b))
			return norm_fail(n, path, "'%s' is not a boolean", json_string_value(v));
		break;
	default:
		return norm_fail(n, path, "expected a boolean, got %s", type_name(v));
	}
	*out = json_boolean(b);
	return 0;
}

/* GOST's decode hook turns strings into durations; numbers are nanoseconds. */
static int to_dur(struct norm *n, const json_t *v, const char *path, json_t **out)
{
	char why[128];
	long long ns;

	switch (json_typeof(v)) {
	case JSON_STRING:
		if (cfg_go_parse_duration(json_string_value(v), &ns, why, sizeof(why)))
			return norm_fail(n, path, "%s", why);
		break;
	case JSON_INTEGER:
		ns = json_integer_value(v);
		break;
	case JSON_REAL:
		if (!(json_real_value(v) > -9.2e18 && json_real_value(v) < 9.2e18))
			return norm_fail(n, path, "%g is out of range", json_real_value(v));
		ns = (long long)json_real_value(v);
		break;
	default:
		return norm_fail(n, path, "expected a duration, got %s", type_name(v));
	}
	*out = json_integer(ns);
	return *out ? 0 : norm_oom(n);
}

static int to_strs(struct norm *n, const json_t *v, const char *path, json_t **out)
{
	char sub[CFG_PATH_MAX];
	json_t *e, *s;
	size_t i;

	if (json_is_object(v))
		return norm_fail(n, path, "expected a list of strings, got an object");
	*out = json_array();
	if (!*out)
		return norm_oom(n);
	if (!json_is_array(v)) {        /* weak typing lifts a single value */
		if (to_str(n, v, path, &s) || json_array_append_new(*out, s))
			goto fail;
		return 0;
	}
	json_array_foreach(v, i, e) {
		cfg_pathf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (to_str(n, e, sub, &s))
			goto fail;
		if (json_array_append_new(*out, s)) {
			norm_oom(n);
			goto fail;
		}
	}
	return 0;
fail:
	json_decref(*out);
	*out = NULL;
	return -1;
}

static int norm_struct(struct norm *n, const struct cfg_schema *s, const json_t *in,
		       const char *path, json_t **out);

static int norm_list(struct norm *n, const struct cfg_schema *s, const json_t *v,
		     const char *path, json_t **out)
{
	char sub[CFG_PATH_MAX];
	json_t *e, *o;
	size_t i;

	if (!json_is_array(v) && !json_is_object(v))
		return norm_fail(n, path, "expected a list, got %s", type_name(v));
	*out = json_array();
	if (!*out)
		return norm_oom(n);
	if (json_is_object(v)) {        /* weak typing lifts a single object */
		cfg_pathf(sub, sizeof(sub), "%s[0]", path);
		if (norm_struct(n, s, v, sub, &o))
			goto fail;
		if (json_array_append_new(*out, o)) {
			norm_oom(n);
			goto fail;
		}
		return 0;
	}
	json_array_foreach(v, i, e) {
		cfg_pathf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (norm_struct(n, s, e, sub, &o))
			goto fail;
		if (json_array_append_new(*out, o)) {
			norm_oom(n);
			goto fail;
		}
	}
	return 0;
fail:
	json_decref(*out);
	*out = NULL;
	return -1;
}

static int norm_field(struct norm *n, const struct cfg_field *f, const json_t *v,
		      const char *path, json_t **out)
{
	switch (f->kind) {
	case CFG_K_STR:
		return to_str(n, v, path, out);
	case CFG_K_INT:
		return to_int(n, v, path, out);
	case CFG_K_BOOL:
		return to_bool(n, v, path, out);
	case CFG_K_DUR:
		return to_dur(n, v, path, out);
	case CFG_K_STRS:
		return to_strs(n, v, path, out);
	case CFG_K_MAP:
		if (!json_is_object(v))
			return norm_fail(n, path, "expected an object, got %s", type_name(v));
		*out = n->o->lower_md_keys ? lower_copy(v) : json_deep_copy(v);
		return *out ? 0 : norm_oom(n);
	case CFG_K_ANY:
		*out = json_deep_copy(v);
		return *out ? 0 : norm_oom(n);
	case CFG_K_OBJ:
		return norm_struct(n, f->sub, v, path, out);
	case CFG_K_LIST:
		return norm_list(n, f->sub, v, path, out);
	}
	return norm_fail(n, path, "unknown field kind");
}

static int keep_private(struct norm *n, const json_t *in, json_t *out)
{
	static const char *const keys[] = { CFG_SRC_KEY, CFG_IDX_KEY };

	for (size_t i = 0; i < N(keys); i++) {
		json_t *v = json_object_get(in, keys[i]);

		if (v && json_object_set_nocheck(out, keys[i], v))
			return norm_oom(n);
	}
	return 0;
}

static int norm_struct(struct norm *n, const struct cfg_schema *s, const json_t *in,
		       const char *path, json_t **out)
{
	char sub[CFG_PATH_MAX];

	if (!json_is_object(in))
		return norm_fail(n, path, "expected an object, got %s", type_name(in));
	*out = json_object();
	if (!*out)
		return norm_oom(n);
	for (size_t i = 0; i < s->n; i++) {
		const struct cfg_field *f = &s->fields[i];
		json_t *v = cfg_obj_get(in, f->name), *o;

		if (!v || json_is_null(v))
			continue;
		if (*path)
			cfg_pathf(sub, sizeof(sub), "%s.%s", path, f->name);
		else
			cfg_pathf(sub, sizeof(sub), "%s", f->name);
		if (norm_field(n, f, v, sub, &o))
			goto fail;
		if (json_object_set_new_nocheck(*out, f->name, o)) {
			norm_oom(n);
			goto fail;
		}
	}
	if (n->o->keep_private && keep_private(n, in, *out))
		goto fail;
	return 0;
fail:
	json_decref(*out);
	*out = NULL;
	return -1;
}

int cfg_normalize(const json_t *in, const struct cfg_norm_opts *o, json_t **out, char *err,
		  size_t errlen)
{
	struct norm n = { o, err, errlen };

	if (!json_is_object(in)) {
		if (o->src)
			return cfg_errf(err, errlen, "%s: the configuration must be a JSON object, "
					"got %s", o->src, type_name(in));
		return cfg_errf(err, errlen, "the configuration must be a JSON object, got %s",
				type_name(in));
	}
	return norm_struct(&n, &cfg_schema_config, in, "", out);
}

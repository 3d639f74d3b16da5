/* What GOST derives from a flag's userinfo and query parameters, shared by the
 * -L and -F builders: the build context's sticky-OOM helpers, the selector
 * (strategy/maxFails/failTimeout), credentials from userinfo or ?auth=, port
 * ranges, and the named objects (bypass-N, admission-N, resolver-N, hosts-N)
 * that some parameters create (x/config/cmd/cmd.go). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_flags.h"

int cfg_fb_fail(struct cfg_fb *b, const char *fmt, ...)
{
	char msg[CFG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cfg_errf(b->err, b->errlen, "%s '%s': %s", b->flag, b->arg, msg);
}

void cfg_fb_set(struct cfg_fb *b, json_t *obj, const char *key, json_t *v)
{
	if (json_object_set_new_nocheck(obj, key, v))
		b->oom = true;
}

void cfg_fb_append(struct cfg_fb *b, json_t *arr, json_t *v)
{
	if (json_array_append_new(arr, v))
		b->oom = true;
}

size_t cfg_fb_top_len(const struct cfg_fb *b, const char *list)
{
	return json_array_size(json_object_get(b->cfg, list));
}

size_t cfg_fb_add_top(struct cfg_fb *b, const char *list, json_t *v)
{
	json_t *arr = json_object_get(b->cfg, list);

	if (!arr) {
		arr = json_array();
		cfg_fb_set(b, b->cfg, list, arr);
		if (b->oom) {
			json_decref(v);
			return 0;
		}
	}
	cfg_fb_append(b, arr, v);
	return json_array_size(arr) - 1;
}

json_t *cfg_fb_str(struct cfg_fb *b, const char *s)
{
	json_t *v = s ? json_string_nocheck(s) : NULL;

	if (!v)
		b->oom = true;
	return v;
}

json_t *cfg_fb_copy(struct cfg_fb *b, const json_t *m)
{
	json_t *v = json_deep_copy(m);

	if (!v)
		b->oom = true;
	return v;
}

char *cfg_fb_get_str(struct cfg_fb *b, const json_t *md, const char *const *keys)
{
	char *s = cfg_jmd_string(md, keys);

	if (!s)
		b->oom = true;
	return s;
}

size_t cfg_fb_split_scheme(char *scheme, char **parts)
{
	size_t n = 0;
	char *p = scheme;

	for (;;) {
		char *plus = strchr(p, '+');

		if (n < CFG_FB_MAX_SCHEMES)
			parts[n] = p;
		n++;
		if (!plus)
			break;
		*plus = '\0';
		p = plus + 1;
	}
	return n;
}

void cfg_fb_del(json_t *m, const char *const *keys)
{
	for (; *keys; keys++)
		json_object_del(m, *keys);
}

json_t *cfg_fb_selector(struct cfg_fb *b, json_t *m)
{
	static const char *const k_strategy[] = { "strategy", NULL };
	static const char *const k_fails[] = { "maxFails", "max_fails", NULL };
	static const char *const k_timeout[] = { "failTimeout", "fail_timeout", NULL };
	static const char *const k_all[] = {
		"strategy", "maxFails", "max_fails", "failTimeout", "fail_timeout", NULL,
	};
	json_t *md = cfg_jmd_snapshot(m), *sel = NULL;
	char *strategy = NULL;
	long long fails, timeout;

	if (!md) {
		b->oom = true;
		return NULL;
	}
	strategy = cfg_jmd_string(md, k_strategy);
	fails = cfg_jmd_int(md, k_fails);
	timeout = cfg_jmd_duration_ns(md, k_timeout);
	if (!strategy) {
		b->oom = true;
		goto out;
	}
	if (!*strategy && fails <= 0 && timeout <= 0)
		goto out;
	cfg_fb_del(m, k_all);
	sel = json_object();
	if (!sel) {
		b->oom = true;
		goto out;
	}
	cfg_fb_set(b, sel, "strategy", cfg_fb_str(b, *strategy ? strategy : "round"));
	cfg_fb_set(b, sel, "maxFails", json_integer(fails > 0 ? fails : 1));
	cfg_fb_set(b, sel, "failTimeout", json_integer(timeout > 0 ? timeout : 30000000000LL));
out:
	free(strategy);
	json_decref(md);
	return sel;
}

static json_t *auth_obj(struct cfg_fb *b, const char *user, size_t ulen, const char *pass,
			size_t plen)
{
	json_t *a = json_object();

	if (!a) {
		b->oom = true;
		return NULL;
	}
	cfg_fb_set(b, a, "username", json_stringn_nocheck(user, ulen));
	cfg_fb_set(b, a, "password", json_stringn_nocheck(pass, plen));
	return a;
}

/* "user:pass" (password optional) as an auth object. */
static json_t *auth_split(struct cfg_fb *b, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);

	if (!colon)
		return auth_obj(b, s, n, "", 0);
	return auth_obj(b, s, (size_t)(colon - s), colon + 1, n - (size_t)(colon - s) - 1);
}

/* Shadowsocks SIP002 userinfo: one base64 "method:password" and no password. */
static json_t *sip002(struct cfg_fb *b, const struct cfg_url *u)
{
	char *dec = NULL;
	size_t n;
	json_t *a = NULL;

	if (u->has_password || !*u->username)
		return NULL;
	if (cfg_go_base64_decode(u->username, true, &dec, &n, NULL, 0) &&
	    cfg_go_base64_decode(u->username, false, &dec, &n, NULL, 0))
		return NULL;
	if (memchr(dec, ':', n))
		a = auth_split(b, dec, n);
	free(dec);
	return a;
}

int cfg_fb_auth(struct cfg_fb *b, const struct cfg_url *u, const json_t *md, json_t **auth)
{
	static const char *const k_auth[] = { "auth", NULL };
	char why[128];
	char *sa, *dec = NULL;
	size_t n;

	*auth = NULL;
	if (u->has_user) {
		if (!strncmp(u->scheme, "ss", 2))
			*auth = sip002(b, u);
		if (!*auth)
			*auth = auth_obj(b, u->username, strlen(u->username), u->password,
					 strlen(u->password));
		return 0;
	}
	sa = cfg_fb_get_str(b, md, k_auth);
	if (!sa || !*sa) {
		free(sa);
		return 0;
	}
	if (cfg_go_base64_decode(sa, true, &dec, &n, NULL, 0) &&
	    cfg_go_base64_decode(sa, false, &dec, &n, why, sizeof(why))) {
		free(sa);
		return cfg_fb_fail(b, "auth: %s", why);
	}
	*auth = auth_split(b, dec, n);
	free(dec);
	free(sa);
	return 0;
}

int cfg_fb_port_range(struct cfg_fb *b, const char *addr, char ***out, size_t *n)
{
	char *host = NULL, *port = NULL, *dash;
	long long lo = 0, hi = 0;
	char num[24];
	char **v = NULL;
	size_t cnt = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (strstr(addr, "://") || cfg_go_split_host_port(addr, &host, &port, NULL, 0))
		return 0;
	/* PortRange.Parse leaves 0-0 behind when it fails */
	dash = strchr(port, '-');
	if (!dash) {
		if (cfg_go_atoi(port, &lo) || lo < 0 || lo > 65535)
			lo = 0;
		hi = lo;
	} else if (!strchr(dash + 1, '-')) {
		*dash = '\0';
		if (cfg_go_atoi(port, &lo) || cfg_go_atoi(dash + 1, &hi))
			lo = hi = 0;
		*dash = '-';
	}
	if (hi < lo)
		goto out;
	if (hi - lo >= 65536) {
		rc = cfg_fb_fail(b, "port range %s expands to %lld addresses, more than there are "
				 "ports", port, hi - lo + 1);
		goto out;
	}
	v = calloc((size_t)(hi - lo + 1), sizeof(*v));
	if (!v) {
		b->oom = true;
		goto out;
	}
	for (long long p = lo; p <= hi; p++) {
		snprintf(num, sizeof(num), "%lld", p);
		v[cnt] = cfg_go_join_host_port(host, num);
		if (!v[cnt]) {
			b->oom = true;
			break;
		}
		cnt++;
	}
	*out = v;
	*n = cnt;
out:
	free(host);
	free(port);
	return rc;
}

/* A name-plus-list object: bypass-N / admission-N with matchers. */
char *cfg_fb_bypass(struct cfg_fb *b, const char *list, const char *prefix, const char *v)
{
	char name[64];
	json_t *o, *matchers;
	char *copy, *tok, *save = NULL;

	if (!*v)
		return NULL;
	snprintf(name, sizeof(name), "%s-%zu", prefix, cfg_fb_top_len(b, list));
	o = json_object();
	matchers = json_array();
	copy = cfg_strdup(v[0] == '~' ? v + 1 : v);
	if (!o || !matchers || !copy) {
		json_decref(o);
		json_decref(matchers);
		free(copy);
		b->oom = true;
		return NULL;
	}
	cfg_fb_set(b, o, "name", cfg_fb_str(b, name));
	if (v[0] == '~')
		cfg_fb_set(b, o, "whitelist", json_true());
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		cfg_fb_append(b, matchers, cfg_fb_str(b, tok));
	cfg_fb_set(b, o, "matchers", matchers);
	free(copy);
	cfg_fb_add_top(b, list, o);
	return b->oom ? NULL : cfg_strdup(name);
}

char *cfg_fb_resolver(struct cfg_fb *b, const char *v, const char *prefer)
{
	char name[64];
	json_t *o, *ns;
	char *copy, *tok, *save = NULL;

	if (!*v)
		return NULL;
	snprintf(name, sizeof(name), "resolver-%zu", cfg_fb_top_len(b, "resolvers"));
	o = json_object();
	ns = json_array();
	copy = cfg_strdup(v);
	if (!o || !ns || !copy) {
		json_decref(o);
		json_decref(ns);
		free(copy);
		b->oom = true;
		return NULL;
	}
	cfg_fb_set(b, o, "name", cfg_fb_str(b, name));
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		json_t *s = json_object();

		if (!s) {
			b->oom = true;
			break;
		}
		cfg_fb_set(b, s, "addr", cfg_fb_str(b, tok));
		if (prefer && *prefer)
			cfg_fb_set(b, s, "prefer", cfg_fb_str(b, prefer));
		cfg_fb_append(b, ns, s);
	}
	cfg_fb_set(b, o, "nameservers", ns);
	free(copy);
	cfg_fb_add_top(b, "resolvers", o);
	return b->oom ? NULL : cfg_strdup(name);
}

char *cfg_fb_hosts(struct cfg_fb *b, const char *v)
{
	char name[64];
	json_t *o, *maps;
	const char *p = v;

	if (!*v)
		return NULL;
	snprintf(name, sizeof(name), "hosts-%zu", cfg_fb_top_len(b, "hosts"));
	o = json_object();
	maps = json_array();
	if (!o || !maps) {
		json_decref(o);
		json_decref(maps);
		b->oom = true;
		return NULL;
	}
	cfg_fb_set(b, o, "name", cfg_fb_str(b, name));
	for (;;) {     /* strings.Split keeps empty pieces; "host:ip" pairs only */
		size_t n = strcspn(p, ",");
		const char *colon = memchr(p, ':', n);

		if (colon) {
			json_t *mp = json_object();

			if (!mp) {
				b->oom = true;
				break;
			}
			cfg_fb_set(b, mp, "ip", json_stringn_nocheck(colon + 1,
								     n - (size_t)(colon - p) - 1));
			cfg_fb_set(b, mp, "hostname", json_stringn_nocheck(p, (size_t)(colon - p)));
			cfg_fb_append(b, maps, mp);
		}
		if (!p[n])
			break;
		p += n + 1;
	}
	cfg_fb_set(b, o, "mappings", maps);
	cfg_fb_add_top(b, "hosts", o);
	return b->oom ? NULL : cfg_strdup(name);
}

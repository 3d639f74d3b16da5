/* GOST's metadata accessors (x/metadata NewMetadata and x/metadata/util
 * Get*) over jansson objects, used while turning -L/-F query parameters into
 * the document: a snapshot with lower-cased keys, then getters that take the
 * first key present and give the zero value for anything that does not parse,
 * exactly as GOST does. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/cfg_internal.h"

static char *lower_dup(const char *s)
{
	char *p = cfg_strdup(s);

	for (char *q = p; q && *q; q++) {
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	}
	return p;
}

json_t *cfg_jmd_snapshot(const json_t *m)
{
	json_t *md = json_object(), *v;
	const char *k;

	if (!md)
		return NULL;
	json_object_foreach((json_t *)m, k, v) {
		char *lk = lower_dup(k);

		if (!lk || (!json_object_get(md, lk) && json_object_set_nocheck(md, lk, v))) {
			free(lk);
			json_decref(md);
			return NULL;
		}
		free(lk);
	}
	return md;
}

/* The value of the first key present (IsExists), or NULL. */
static const json_t *first(const json_t *md, const char *const *keys)
{
	for (; *keys; keys++) {
		char *lk = lower_dup(*keys);
		const json_t *v;

		if (!lk)
			return NULL;
		v = json_object_get(md, lk);
		free(lk);
		if (v)
			return v;
	}
	return NULL;
}

char *cfg_jmd_string(const json_t *md, const char *const *keys)
{
	const json_t *v = first(md, keys);
	bool oom;

	if (!v || json_is_array(v) || json_is_object(v) || json_is_null(v))
		return cfg_strdup("");
	return cfg_json_text(v, &oom);
}

long long cfg_jmd_int(const json_t *md, const char *const *keys)
{
	const json_t *v = first(md, keys);
	long long n = 0;

	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v) && cfg_go_atoi(json_string_value(v), &n))
		n = 0;
	return n;
}

bool cfg_jmd_bool(const json_t *md, const char *const *keys)
{
	const json_t *v = first(md, keys);
	bool b = false;

	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_string(v) && cfg_go_parse_bool(json_string_value(v), &b))
		b = false;
	return b;
}

double cfg_jmd_float(const json_t *md, const char *const *keys)
{
	const json_t *v = first(md, keys);
	double f = 0;

	if (json_is_number(v))
		return json_number_value(v);
	if (json_is_string(v) && cfg_go_parse_float(json_string_value(v), &f))
		f = 0;
	return f;
}

/* time.Duration(n) * time.Second, wrapping on overflow like Go. */
static long long seconds_ns(long long n)
{
	return (long long)((unsigned long long)n * 1000000000ULL);
}

long long cfg_jmd_duration_ns(const json_t *md, const char *const *keys)
{
	const json_t *v = first(md, keys);
	long long ns = 0, secs;

	if (json_is_integer(v))
		return seconds_ns(json_integer_value(v));
	if (!json_is_string(v))
		return 0;
	if (cfg_go_parse_duration(json_string_value(v), &ns, NULL, 0))
		ns = 0;
	if (ns == 0 && !cfg_go_atoi(json_string_value(v), &secs))
		ns = seconds_ns(secs);
	return ns;
}

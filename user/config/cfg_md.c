/* Compiled metadata (struct cfg_md): built from a document's metadata object
 * with every value kept as text, looked up case-insensitively like GOST's
 * metadata, and read through typed getters that accept what GOST accepts
 * from YAML and JSON alike (strings, numbers, bools; Go durations or bare
 * seconds; comma strings or arrays) and report anything else with the field
 * path. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_internal.h"

const char *cfg_md_get(const struct cfg_md *md, const char *key)
{
	if (!md || !key)
		return NULL;
	for (size_t i = 0; i < md->n; i++) {
		if (cfg_streq_ci(md->keys[i], key))
			return md->vals[i];
	}
	return NULL;
}

static int md_err(const struct cfg_md *md, const char *key, char *err, size_t errlen,
		  const char *what, const char *val)
{
	if (md->where)
		return cfg_errf(err, errlen, "%s.%s: '%s' is not %s", md->where, key, val, what);
	return cfg_errf(err, errlen, "%s: '%s' is not %s", key, val, what);
}

int cfg_md_bool(const struct cfg_md *md, const char *key, bool def, bool *out, char *err,
		size_t errlen)
{
	const char *v = cfg_md_get(md, key);

	*out = def;
	if (!v || !*v)
		return 0;
	if (cfg_go_parse_bool(v, out)) {
		*out = def;
		return md_err(md, key, err, errlen, "a boolean", v);
	}
	return 0;
}

int cfg_md_int(const struct cfg_md *md, const char *key, long def, long *out, char *err,
	       size_t errlen)
{
	const char *v = cfg_md_get(md, key);
	long long n;

	*out = def;
	if (!v || !*v)
		return 0;
	/* a JSON true/false arrives as text; GOST's GetInt takes bools as 1/0 */
	if (!strcmp(v, "true") || !strcmp(v, "false")) {
		*out = !strcmp(v, "true");
		return 0;
	}
	if (cfg_go_atoi(v, &n) || n < (long long)LONG_MIN || n > (long long)LONG_MAX)
		return md_err(md, key, err, errlen, "an integer", v);
	*out = (long)n;
	return 0;
}

/* Go duration, or a bare integer meaning seconds (x/metadata/util GetDuration). */
static int duration_ms(const char *v, long *out)
{
	long long ns, secs;

	if (!cfg_go_parse_duration(v, &ns, NULL, 0) && ns != 0) {
		*out = (long)(ns / 1000000);
		return 0;
	}
	if (!cfg_go_atoi(v, &secs)) {
		if (secs > LONG_MAX / 1000 || secs < LONG_MIN / 1000)
			return -1;
		*out = (long)(secs * 1000);
		return 0;
	}
	if (!cfg_go_parse_duration(v, &ns, NULL, 0)) {       /* "0s" */
		*out = 0;
		return 0;
	}
	return -1;
}

int cfg_md_duration_ms(const struct cfg_md *md, const char *key, long def_ms, long *out_ms,
		       char *err, size_t errlen)
{
	const char *v = cfg_md_get(md, key);

	*out_ms = def_ms;
	if (!v || !*v)
		return 0;
	if (duration_ms(v, out_ms)) {
		*out_ms = def_ms;
		return md_err(md, key, err, errlen, "a duration", v);
	}
	return 0;
}

long cfg_parse_duration_ms(const char *s)
{
	long long ns;

	if (!s || cfg_go_parse_duration(s, &ns, NULL, 0) || ns < 0)
		return -1;
	return (long)(ns / 1000000);
}

void cfg_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* A JSON array of scalars as the list: 0 done, 1 when v is not a JSON array,
 * -1 for an array holding lists or objects, or on OOM (*oom set). */
static int strv_from_array(const char *v, char ***out, bool *oom)
{
	json_t *arr = json_loads(v, 0, NULL), *e;
	char **list = NULL;
	size_t i;

	*oom = false;
	if (!json_is_array(arr)) {
		json_decref(arr);
		return 1;
	}
	list = calloc(json_array_size(arr) + 1, sizeof(*list));
	if (!list) {
		*oom = true;
		goto fail;
	}
	json_array_foreach(arr, i, e) {
		if (json_is_array(e) || json_is_object(e) || json_is_null(e))
			goto fail;
		list[i] = cfg_json_text(e, oom);
		if (!list[i])
			goto fail;
	}
	json_decref(arr);
	*out = list;
	return 0;
fail:
	cfg_strv_free(list);
	json_decref(arr);
	return -1;
}

int cfg_md_strlist(const struct cfg_md *md, const char *key, char ***out, char *err,
		   size_t errlen)
{
	const char *v = cfg_md_get(md, key), *p;
	char **list;
	size_t n = 0;
	bool oom;

	*out = NULL;
	if (!v)
		return 0;
	if (v[0] == '[') {
		int rc = strv_from_array(v, out, &oom);

		if (rc == 0)
			return 0;
		if (oom)
			return cfg_errf(err, errlen, "out of memory");
		if (rc < 0)
			return md_err(md, key, err, errlen, "a list of strings", v);
	}
	/* a comma-separated string: pieces trimmed, empty ones dropped */
	list = calloc(strlen(v) / 2 + 2, sizeof(*list));
	if (!list)
		return cfg_errf(err, errlen, "out of memory");
	for (p = v;;) {
		size_t len = strcspn(p, ",");
		char *piece = cfg_strndup(p, len), *t;

		if (!piece) {
			cfg_strv_free(list);
			return cfg_errf(err, errlen, "out of memory");
		}
		t = cfg_go_trim(piece);
		if (*t) {
			memmove(piece, t, strlen(t) + 1);
			list[n++] = piece;
		} else {
			free(piece);
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	*out = list;
	return 0;
}

int cfg_md_set(struct cfg_md *md, const char *key, const char *val)
{
	char **keys, **vals, *k, *v = cfg_strdup(val);

	if (!v)
		return -1;
	for (size_t i = 0; i < md->n; i++) {
		if (cfg_streq_ci(md->keys[i], key)) {
			free(md->vals[i]);
			md->vals[i] = v;
			return 0;
		}
	}
	k = cfg_strdup(key);
	keys = realloc(md->keys, (md->n + 1) * sizeof(*keys));
	if (keys)
		md->keys = keys;
	vals = realloc(md->vals, (md->n + 1) * sizeof(*vals));
	if (vals)
		md->vals = vals;
	if (!k || !keys || !vals) {
		free(k);
		free(v);
		return -1;
	}
	md->keys[md->n] = k;
	md->vals[md->n] = v;
	md->n++;
	return 0;
}

int cfg_md_from_json(struct cfg_md *md, const json_t *obj, const struct cfg_loc *loc,
		     const char *field, char *err, size_t errlen)
{
	struct cfg_buf where = { 0 };
	const char *k;
	json_t *v;

	memset(md, 0, sizeof(*md));
	if (loc->src)
		cfg_buf_fmt(&where, "%s: ", loc->src);
	cfg_buf_fmt(&where, "%s%s%s", loc->path, *loc->path ? "." : "", field);
	md->where = cfg_buf_take(&where);
	if (!md->where)
		goto oom;
	json_object_foreach((json_t *)obj, k, v) {
		bool oom;
		char *text = cfg_json_text(v, &oom);

		if (!text) {
			if (oom)
				goto oom;
			continue;       /* null: as if absent */
		}
		if (cfg_md_set(md, k, text)) {
			free(text);
			goto oom;
		}
		free(text);
	}
	return 0;
oom:
	cfg_md_free(md);
	return cfg_errf(err, errlen, "out of memory");
}

void cfg_md_free(struct cfg_md *md)
{
	for (size_t i = 0; i < md->n; i++) {
		free(md->keys[i]);
		free(md->vals[i]);
	}
	free(md->keys);
	free(md->vals);
	free(md->where);
	memset(md, 0, sizeof(*md));
}

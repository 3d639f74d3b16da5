/* cfg_build_doc: the merged document, built like x/config/parsing/parser:
 * every -C source left to right (a file, "-" for stdin, or inline {...}),
 * each decoded into GOST's schema and tagged with where it came from, merged
 * (lists appended, single sections replaced by later non-null ones), then the
 * -L/-F flags.  relayd reads JSON only; YAML and the other formats viper
 * knows get an error that says so. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/cfg_internal.h"

#define CFG_MAX_SOURCE (64u << 20)

int cfg_doc_merge(json_t *dst, const json_t *src)
{
	const struct cfg_schema *s = &cfg_schema_config;

	for (size_t i = 0; i < s->n; i++) {
		const struct cfg_field *f = &s->fields[i];
		json_t *v = json_object_get(src, f->name), *d, *e;
		size_t k;

		if (!v || json_is_null(v))
			continue;
		if (f->kind == CFG_K_OBJ || !json_is_array(v)) {
			if (json_object_set_new_nocheck(dst, f->name, json_deep_copy(v)))
				return -1;
			continue;
		}
		d = json_object_get(dst, f->name);
		if (!json_is_array(d)) {
			d = json_array();
			if (json_object_set_new_nocheck(dst, f->name, d))
				return -1;
		}
		json_array_foreach(v, k, e) {
			if (json_array_append_new(d, json_deep_copy(e)))
				return -1;
		}
		if (!json_array_size(d))
			json_object_del(dst, f->name);
	}
	return 0;
}

/* Tag every element of the top-level lists, and the single sections, with
 * the source they came from and their index there. */
static int annotate(json_t *doc, const char *src)
{
	const struct cfg_schema *s = &cfg_schema_config;

	for (size_t i = 0; i < s->n; i++) {
		json_t *v = json_object_get(doc, s->fields[i].name), *e;
		size_t k;

		if (s->fields[i].kind == CFG_K_OBJ && json_is_object(v)) {
			if (cfg_obj_set_str(v, CFG_SRC_KEY, src))
				return -1;
			continue;
		}
		if (s->fields[i].kind != CFG_K_LIST)
			continue;
		json_array_foreach(v, k, e) {
			if (cfg_obj_set_str(e, CFG_SRC_KEY, src) ||
			    json_object_set_new_nocheck(e, CFG_IDX_KEY, json_integer((json_int_t)k)))
				return -1;
		}
	}
	return 0;
}

static char *read_stream(FILE *f, const char *name, char *err, size_t errlen)
{
	struct cfg_buf b = { 0 };
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		cfg_buf_add(&b, chunk, n);
		if (b.len > CFG_MAX_SOURCE) {
			cfg_buf_free(&b);
			cfg_errf(err, errlen, "%s: larger than %u MiB", name, CFG_MAX_SOURCE >> 20);
			return NULL;
		}
	}
	if (ferror(f)) {
		cfg_errf(err, errlen, "%s: cannot read: %s", name, strerror(errno));
		cfg_buf_free(&b);
		return NULL;
	}
	if (b.oom) {
		cfg_errf(err, errlen, "%s: out of memory", name);
		cfg_buf_free(&b);
		return NULL;
	}
	return cfg_buf_take(&b);
}

static int parse_json(const char *text, const char *name, json_t **out, char *err,
		      size_t errlen)
{
	json_error_t je;

	*out = json_loads(text, JSON_DECODE_ANY, &je);
	if (!*out)
		return cfg_errf(err, errlen, "%s: line %d column %d: %s", name, je.line, je.column,
				je.text);
	return 0;
}

static const char *extension(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');

	return dot ? dot + 1 : "";
}

static bool is_http_url(const char *s)
{
	struct cfg_url u;
	bool yes;

	if (cfg_url_parse(s, &u, NULL, 0))
		return false;
	yes = *u.host && (!strcmp(u.scheme, "http") || !strcmp(u.scheme, "https"));
	cfg_url_free(&u);
	return yes;
}

static int load_file(const char *path, json_t **out, char *err, size_t errlen)
{
	static const char *const other[] = {
		"toml", "properties", "props", "prop", "hcl", "tfvars", "dotenv", "env", "ini", NULL,
	};
	const char *ext = extension(path);
	char *text;
	FILE *f;
	int rc;

	if (!strcasecmp(ext, "yaml") || !strcasecmp(ext, "yml"))
		return cfg_errf(err, errlen, "%s: relayd reads JSON only; convert it first "
				"(gost -C %s -O json prints it as JSON)", path, path);
	for (const char *const *o = other; *o; o++) {
		if (!strcasecmp(ext, *o))
			return cfg_errf(err, errlen, "%s: relayd reads JSON only, not .%s files",
					path, ext);
	}
	f = fopen(path, "r");
	if (!f)
		return cfg_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	text = read_stream(f, path, err, errlen);
	fclose(f);
	if (!text)
		return -1;
	rc = parse_json(text, path, out, err, errlen);
	free(text);
	return rc;
}

static int load_stdin(json_t **out, char *err, size_t errlen)
{
	char *text = read_stream(stdin, "stdin", err, errlen), *p;
	int rc;

	if (!text)
		return -1;
	p = text + strspn(text, " \t\r\n");
	if (*p != '{') {
		rc = cfg_errf(err, errlen, *p ? "stdin: relayd reads JSON only and this is not a "
				"JSON object (GOST would read it as YAML)" : "stdin: empty");
	} else {
		rc = parse_json(text, "stdin", out, err, errlen);
	}
	free(text);
	return rc;
}

/* One -C value into a normalized, tagged document; *doc = NULL when the value
 * is blank (GOST skips those). */
static int load_source(const char *arg, json_t **doc, char *err, size_t errlen)
{
	struct cfg_norm_opts o = { NULL, true, false };
	char *copy = cfg_strdup(arg), *c;
	json_t *raw = NULL;
	size_t n;
	int rc = -1;

	*doc = NULL;
	if (!copy)
		return cfg_errf(err, errlen, "-C: out of memory");
	c = cfg_go_trim(copy);
	n = strlen(c);
	if (!n) {
		rc = 0;
		goto out;
	}
	if (!strcmp(c, "-")) {
		o.src = "stdin";
		if (load_stdin(&raw, err, errlen))
			goto out;
	} else if (c[0] == '{' && c[n - 1] == '}') {
		o.src = "inline JSON";
		o.lower_md_keys = false;        /* GOST decodes it with encoding/json */
		if (parse_json(c, o.src, &raw, err, errlen))
			goto out;
	} else if (is_http_url(c)) {
		cfg_errf(err, errlen, "-C '%s': relayd does not fetch configuration over HTTP; "
			 "download it and pass the file", c);
		goto out;
	} else {
		o.src = c;
		if (load_file(c, &raw, err, errlen))
			goto out;
	}
	if (cfg_normalize(raw, &o, doc, err, errlen))
		goto out;
	if (annotate(*doc, o.src)) {
		json_decref(*doc);
		*doc = NULL;
		cfg_errf(err, errlen, "%s: out of memory", o.src);
		goto out;
	}
	rc = 0;
out:
	json_decref(raw);
	free(copy);
	return rc;
}

int cfg_build_doc(const struct cfg_sources *src, json_t **out, char *err, size_t errlen)
{
	json_t *doc = json_object();

	*out = NULL;
	if (!doc)
		return cfg_errf(err, errlen, "out of memory");
	for (size_t i = 0; i < src->nC; i++) {
		json_t *one;

		if (load_source(src->C[i], &one, err, errlen))
			goto fail;
		if (!one)
			continue;
		if (cfg_doc_merge(doc, one)) {
			json_decref(one);
			cfg_errf(err, errlen, "out of memory");
			goto fail;
		}
		json_decref(one);
	}
	if (cfg_doc_add_flags(doc, src->L, src->nL, src->F, src->nF, err, errlen))
		goto fail;
	*out = doc;
	return 0;
fail:
	json_decref(doc);
	return -1;
}

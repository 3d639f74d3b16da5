/* cfg_doc_dump: the document printed exactly as `gost -O json` prints its
 * Config: Go's json.Encoder with two-space indent and HTML escaping, struct
 * fields in struct order with omitempty honoured (and zero values or null
 * printed for the fields without it), map keys sorted, floats formatted the
 * way encoding/json formats float64, and a trailing newline. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_internal.h"

static void indent(struct cfg_buf *b, int depth)
{
	cfg_buf_chr(b, '\n');
	for (int i = 0; i < depth; i++)
		cfg_buf_str(b, "  ");
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	c = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* encoding/json's string encoder with HTML escaping on. */
static void put_string(struct cfg_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	cfg_buf_chr(b, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		uint32_t cp;
		size_t len;

		if (c < 0x80) {
			if (c == '"' || c == '\\') {
				cfg_buf_chr(b, '\\');
				cfg_buf_chr(b, (char)c);
			} else if (c == '\n') {
				cfg_buf_str(b, "\\n");
			} else if (c == '\r') {
				cfg_buf_str(b, "\\r");
			} else if (c == '\t') {
				cfg_buf_str(b, "\\t");
			} else if (c == '\b') {
				cfg_buf_str(b, "\\b");
			} else if (c == '\f') {
				cfg_buf_str(b, "\\f");
			} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
				cfg_buf_str(b, "\\u00");
				cfg_buf_chr(b, hex[c >> 4]);
				cfg_buf_chr(b, hex[c & 15]);
			} else {
				cfg_buf_chr(b, (char)c);
			}
			i++;
			continue;
		}
		len = utf8_len(p + i, n - i, &cp);
		if (!len) {
			cfg_buf_str(b, "\\ufffd");
			i++;
			continue;
		}
		if (cp == 0x2028 || cp == 0x2029)
			cfg_buf_fmt(b, "\\u%04x", (unsigned)cp);
		else
			cfg_buf_add(b, s + i, len);
		i += len;
	}
	cfg_buf_chr(b, '"');
}

static void put_cstring(struct cfg_buf *b, const char *s)
{
	put_string(b, s, strlen(s));
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A value of unknown shape: objects are Go maps (sorted keys) when sorted,
 * otherwise printed in the order they came. */
static void put_any(struct cfg_buf *b, const json_t *v, int depth, bool sorted)
{
	char num[64];
	const char *k;
	json_t *e;
	size_t i, n;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		n = json_object_size(v);
		if (!n) {
			cfg_buf_str(b, "{}");
			return;
		}
		{
			const char **keys = malloc(n * sizeof(*keys));

			if (!keys) {
				b->oom = true;
				return;
			}
			i = 0;
			json_object_foreach((json_t *)v, k, e)
				keys[i++] = k;
			if (sorted)
				qsort(keys, n, sizeof(*keys), cmp_keys);
			cfg_buf_chr(b, '{');
			for (i = 0; i < n; i++) {
				indent(b, depth + 1);
				put_cstring(b, keys[i]);
				cfg_buf_str(b, ": ");
				put_any(b, json_object_get(v, keys[i]), depth + 1, sorted);
				if (i + 1 < n)
					cfg_buf_chr(b, ',');
			}
			free(keys);
		}
		indent(b, depth);
		cfg_buf_chr(b, '}');
		return;
	case JSON_ARRAY:
		if (!json_array_size(v)) {
			cfg_buf_str(b, "[]");
			return;
		}
		cfg_buf_chr(b, '[');
		json_array_foreach(v, i, e) {
			indent(b, depth + 1);
			put_any(b, e, depth + 1, sorted);
			if (i + 1 < json_array_size(v))
				cfg_buf_chr(b, ',');
		}
		indent(b, depth);
		cfg_buf_chr(b, ']');
		return;
	case JSON_STRING:
		put_string(b, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		cfg_buf_fmt(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	case JSON_REAL:
		cfg_go_fmt_float(json_real_value(v), num, sizeof(num));
		cfg_buf_str(b, num);
		return;
	case JSON_TRUE:
		cfg_buf_str(b, "true");
		return;
	case JSON_FALSE:
		cfg_buf_str(b, "false");
		return;
	default:
		cfg_buf_str(b, "null");
		return;
	}
}

/* Go's omitempty: false, 0, "", and nil or empty slices and maps.  A struct
 * pointer is only empty when nil. */
static bool is_empty(const struct cfg_field *f, const json_t *v)
{
	if (!v || json_is_null(v))
		return true;
	switch (f->kind) {
	case CFG_K_STR:
		return json_is_string(v) && json_string_length(v) == 0;
	case CFG_K_INT:
	case CFG_K_DUR:
		return json_is_integer(v) && json_integer_value(v) == 0;
	case CFG_K_BOOL:
		return json_is_false(v);
	case CFG_K_STRS:
	case CFG_K_LIST:
		return json_is_array(v) && json_array_size(v) == 0;
	case CFG_K_MAP:
		return json_is_object(v) && json_object_size(v) == 0;
	case CFG_K_ANY:
		return json_is_array(v) && json_array_size(v) == 0;
	case CFG_K_OBJ:
		return false;
	}
	return false;
}

static void put_struct(struct cfg_buf *b, const struct cfg_schema *s, const json_t *obj,
		       int depth);

static void put_field(struct cfg_buf *b, const struct cfg_field *f, const json_t *v, int depth)
{
	json_t *e;
	size_t i;

	if (!v || json_is_null(v)) {     /* a field without omitempty prints its zero value */
		switch (f->kind) {
		case CFG_K_STR:
			cfg_buf_str(b, "\"\"");
			return;
		case CFG_K_INT:
		case CFG_K_DUR:
			cfg_buf_chr(b, '0');
			return;
		case CFG_K_BOOL:
			cfg_buf_str(b, "false");
			return;
		default:
			cfg_buf_str(b, "null");
			return;
		}
	}
	switch (f->kind) {
	case CFG_K_MAP:
		put_any(b, v, depth, true);
		return;
	case CFG_K_OBJ:
		put_struct(b, f->sub, v, depth);
		return;
	case CFG_K_LIST:
		if (!json_is_array(v) || !json_array_size(v)) {
			cfg_buf_str(b, json_is_array(v) ? "[]" : "null");
			return;
		}
		cfg_buf_chr(b, '[');
		json_array_foreach(v, i, e) {
			indent(b, depth + 1);
			if (json_is_object(e))
				put_struct(b, f->sub, e, depth + 1);
			else
				cfg_buf_str(b, "null");
			if (i + 1 < json_array_size(v))
				cfg_buf_chr(b, ',');
		}
		indent(b, depth);
		cfg_buf_chr(b, ']');
		return;
	default:
		put_any(b, v, depth, false);
		return;
	}
}

static void put_struct(struct cfg_buf *b, const struct cfg_schema *s, const json_t *obj,
		       int depth)
{
	bool any = false;

	for (size_t i = 0; i < s->n; i++) {
		const struct cfg_field *f = &s->fields[i];
		const json_t *v = json_object_get(obj, f->name);

		if (f->omitempty && is_empty(f, v))
			continue;
		cfg_buf_str(b, any ? "," : "{");
		any = true;
		indent(b, depth + 1);
		put_cstring(b, f->name);
		cfg_buf_str(b, ": ");
		put_field(b, f, v, depth + 1);
	}
	if (!any) {
		cfg_buf_str(b, "{}");
		return;
	}
	indent(b, depth);
	cfg_buf_chr(b, '}');
}

char *cfg_doc_dump(const json_t *doc)
{
	struct cfg_norm_opts o = { NULL, false, false };
	struct cfg_buf b = { 0 };
	json_t *norm;

	/* a no-op for documents from cfg_build_doc; it brings any other document
	 * into GOST's shape first */
	if (cfg_normalize(doc, &o, &norm, NULL, 0))
		return NULL;
	put_struct(&b, &cfg_schema_config, norm, 0);
	cfg_buf_chr(&b, '\n');
	json_decref(norm);
	return cfg_buf_take(&b);
}

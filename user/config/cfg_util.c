/* Small helpers every config file uses: error formatting, string copies,
 * growable text buffers, case-insensitive member lookup in jansson objects,
 * and metadata values turned into text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/cfg_internal.h"

int cfg_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void cfg_pathf(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

char *cfg_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *cfg_strdup(const char *s)
{
	return s ? cfg_strndup(s, strlen(s)) : NULL;
}

bool cfg_streq_ci(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static void buf_grow(struct cfg_buf *b, size_t need)
{
	size_t cap;
	char *p;

	if (b->oom || b->len + need + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + need + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}

void cfg_buf_add(struct cfg_buf *b, const char *s, size_t n)
{
	buf_grow(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void cfg_buf_str(struct cfg_buf *b, const char *s)
{
	cfg_buf_add(b, s, strlen(s));
}

void cfg_buf_chr(struct cfg_buf *b, char c)
{
	cfg_buf_add(b, &c, 1);
}

void cfg_buf_fmt(struct cfg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	buf_grow(b, (size_t)n);
	if (b->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *cfg_buf_take(struct cfg_buf *b)
{
	char *p;

	if (b->oom) {
		cfg_buf_free(b);
		return NULL;
	}
	p = b->p ? b->p : cfg_strdup("");
	memset(b, 0, sizeof(*b));
	return p;
}

void cfg_buf_free(struct cfg_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

json_t *cfg_obj_get(const json_t *obj, const char *key)
{
	const char *k;
	json_t *v, *found = NULL;

	if (!json_is_object(obj))
		return NULL;
	v = json_object_get(obj, key);
	if (v)
		return v;
	json_object_foreach((json_t *)obj, k, v) {
		if (cfg_streq_ci(k, key))
			found = v;
	}
	return found;
}

const char *cfg_obj_str(const json_t *obj, const char *key)
{
	return json_string_value(cfg_obj_get(obj, key));
}

int cfg_obj_set_str(json_t *obj, const char *key, const char *val)
{
	json_t *s = json_string_nocheck(val);

	if (!s)
		return -1;
	return json_object_set_new_nocheck(obj, key, s);
}

char *cfg_json_text(const json_t *v, bool *oom)
{
	char num[64];
	char *s;

	*oom = false;
	switch (json_typeof(v)) {
	case JSON_STRING:
		s = cfg_strndup(json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		s = cfg_strdup(num);
		break;
	case JSON_REAL:
		cfg_go_fmt_float(json_real_value(v), num, sizeof(num));
		s = cfg_strdup(num);
		break;
	case JSON_TRUE:
		s = cfg_strdup("true");
		break;
	case JSON_FALSE:
		s = cfg_strdup("false");
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		break;
	default:
		return NULL;
	}
	if (!s)
		*oom = true;
	return s;
}

/* The part of Go's net/url that GOST's -L/-F parsing goes through: url.Parse
 * (scheme, userinfo, host, path, raw query, with Go's validation and error
 * texts), URL.EscapedPath, URL.Hostname and URL.Query.  Behaviour follows Go so
 * the same command line is accepted, rejected and split the same way. */
#include <stdlib.h>
#include <string.h>

#include "config/cfg_internal.h"

enum esc_mode { ESC_PATH, ESC_HOST, ESC_ZONE, ESC_USERPASS, ESC_QUERY };

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

/* net/url's shouldEscape for the modes used here. */
static bool should_escape(unsigned char c, enum esc_mode mode)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return false;
	if (mode == ESC_HOST || mode == ESC_ZONE) {
		switch (c) {
		case '!': case '$': case '&': case '\'': case '(': case ')': case '*':
		case '+': case ',': case ';': case '=': case ':': case '[': case ']':
		case '<': case '>': case '"':
			return false;
		}
	}
	switch (c) {
	case '-': case '_': case '.': case '~':
		return false;
	case '$': case '&': case '+': case ',': case '/': case ':': case ';': case '=':
	case '?': case '@':
		switch (mode) {
		case ESC_PATH:
			return c == '?';
		case ESC_USERPASS:
			return c == '@' || c == '/' || c == '?' || c == ':';
		case ESC_QUERY:
			return true;
		default:        /* host and zone: '/', '?' and '@' */
			return true;
		}
	}
	return true;
}

/* net/url's unescape; err gets Go's EscapeError / InvalidHostError text. */
static char *unescape(const char *s, size_t n, enum esc_mode mode, char *err, size_t errlen)
{
	struct cfg_buf b = { 0 };

	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i], v;

		if (c == '%') {
			if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
				size_t m = n - i < 3 ? n - i : 3;

				cfg_errf(err, errlen, "invalid URL escape \"%.*s\"", (int)m, s + i);
				goto fail;
			}
			if (mode == ESC_HOST && unhex(s[i + 1]) < 8 && strncmp(s + i, "%25", 3)) {
				cfg_errf(err, errlen, "invalid URL escape \"%.3s\"", s + i);
				goto fail;
			}
			v = (unsigned char)(unhex(s[i + 1]) << 4 | unhex(s[i + 2]));
			/* zone escapes may not introduce bytes a host could not hold */
			if (mode == ESC_ZONE && strncmp(s + i, "%25", 3) && v != ' ' &&
			    should_escape(v, ESC_HOST)) {
				cfg_errf(err, errlen, "invalid URL escape \"%.3s\"", s + i);
				goto fail;
			}
			cfg_buf_chr(&b, (char)v);
			i += 3;
			continue;
		}
		if (c == '+') {
			cfg_buf_chr(&b, mode == ESC_QUERY ? ' ' : '+');
			i++;
			continue;
		}
		if ((mode == ESC_HOST || mode == ESC_ZONE) && c < 0x80 && should_escape(c, mode)) {
			cfg_errf(err, errlen, "invalid character \"%c\" in host name", c);
			goto fail;
		}
		cfg_buf_chr(&b, (char)c);
		i++;
	}
	if (b.oom) {
		cfg_errf(err, errlen, "out of memory");
		goto fail;
	}
	return cfg_buf_take(&b);
fail:
	cfg_buf_free(&b);
	return NULL;
}

static char *escape(const char *s, enum esc_mode mode)
{
	static const char hex[] = "0123456789ABCDEF";
	struct cfg_buf b = { 0 };

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (should_escape(c, mode)) {
			cfg_buf_chr(&b, '%');
			cfg_buf_chr(&b, hex[c >> 4]);
			cfg_buf_chr(&b, hex[c & 15]);
		} else {
			cfg_buf_chr(&b, (char)c);
		}
	}
	return cfg_buf_take(&b);
}

static bool valid_optional_port(const char *p, size_t n)
{
	if (n == 0)
		return true;
	if (p[0] != ':')
		return false;
	for (size_t i = 1; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
	}
	return true;
}

static const char *mem_rchr(const char *s, size_t n, char c)
{
	while (n--) {
		if (s[n] == c)
			return s + n;
	}
	return NULL;
}

static char *parse_host(const char *h, size_t n, char *err, size_t errlen)
{
	const char *colon;

	if (n && h[0] == '[') {
		const char *close = mem_rchr(h, n, ']');
		const char *zone;
		size_t i;

		if (!close) {
			cfg_errf(err, errlen, "missing ']' in host");
			return NULL;
		}
		i = (size_t)(close - h);
		if (!valid_optional_port(close + 1, n - i - 1)) {
			cfg_errf(err, errlen, "invalid port \"%.*s\" after host", (int)(n - i - 1),
				 close + 1);
			return NULL;
		}
		zone = strstr(h, "%25");
		if (zone && zone < close) {
			size_t zl = (size_t)(close - zone);
			char *a = unescape(h, (size_t)(zone - h), ESC_HOST, err, errlen);
			char *z = a ? unescape(zone, zl, ESC_ZONE, err, errlen) : NULL;
			char *t = z ? unescape(close, n - i, ESC_HOST, err, errlen) : NULL;
			struct cfg_buf b = { 0 };

			if (t) {
				cfg_buf_str(&b, a);
				cfg_buf_str(&b, z);
				cfg_buf_str(&b, t);
			}
			free(a);
			free(z);
			free(t);
			if (!t)
				return NULL;
			return cfg_buf_take(&b);
		}
	} else if ((colon = mem_rchr(h, n, ':'))) {
		size_t pl = n - (size_t)(colon - h);

		if (!valid_optional_port(colon, pl)) {
			cfg_errf(err, errlen, "invalid port \"%.*s\" after host", (int)pl, colon);
			return NULL;
		}
	}
	return unescape(h, n, ESC_HOST, err, errlen);
}

static bool valid_userinfo(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (!strchr("-._:~!$&'()*+,;=%@", c) || c == '\0')
			return false;
	}
	return true;
}

static int parse_authority(struct cfg_url *u, const char *a, size_t n, char *err, size_t errlen)
{
	const char *at = mem_rchr(a, n, '@');
	const char *colon;
	size_t ulen;

	if (!at) {
		u->host = parse_host(a, n, err, errlen);
		return u->host ? 0 : -1;
	}
	u->host = parse_host(at + 1, n - (size_t)(at - a) - 1, err, errlen);
	if (!u->host)
		return -1;
	ulen = (size_t)(at - a);
	if (!valid_userinfo(a, ulen))
		return cfg_errf(err, errlen, "net/url: invalid userinfo");
	u->has_user = true;
	colon = memchr(a, ':', ulen);
	if (!colon) {
		u->username = unescape(a, ulen, ESC_USERPASS, err, errlen);
		u->password = cfg_strdup("");
		return u->username && u->password ? 0 : -1;
	}
	u->has_password = true;
	u->username = unescape(a, (size_t)(colon - a), ESC_USERPASS, err, errlen);
	if (!u->username)
		return -1;
	u->password = unescape(colon + 1, ulen - (size_t)(colon - a) - 1, ESC_USERPASS, err, errlen);
	return u->password ? 0 : -1;
}

/* net/url's validEncoded for paths: may the raw path be kept as it was typed? */
static bool valid_encoded_path(const char *s)
{
	for (; *s; s++) {
		if (strchr("!$&'()*+,;=:@[]%", *s))
			continue;
		if (should_escape((unsigned char)*s, ESC_PATH))
			return false;
	}
	return true;
}

static int set_path(struct cfg_url *u, const char *raw, char *err, size_t errlen)
{
	u->path = unescape(raw, strlen(raw), ESC_PATH, err, errlen);
	if (!u->path)
		return -1;
	if (valid_encoded_path(raw))
		u->escaped_path = cfg_strdup(raw);
	else
		u->escaped_path = escape(u->path, ESC_PATH);
	return u->escaped_path ? 0 : cfg_errf(err, errlen, "out of memory");
}

/* net/url's getScheme: the scheme's length, 0 when there is none, -1 for a
 * leading colon. */
static int get_scheme(const char *s, size_t *len)
{
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			continue;
		if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
			if (i == 0)
				break;
			continue;
		}
		if (c == ':') {
			if (i == 0)
				return -1;
			*len = i;
			return 0;
		}
		break;
	}
	*len = 0;
	return 0;
}

int cfg_url_parse(const char *s, struct cfg_url *u, char *err, size_t errlen)
{
	char *work = NULL, *rest, *q;
	const char *frag;
	size_t slen, n;
	int rc = -1;

	memset(u, 0, sizeof(*u));
	frag = strchr(s, '#');
	slen = frag ? (size_t)(frag - s) : strlen(s);
	for (size_t i = 0; s[i]; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return cfg_errf(err, errlen, "net/url: invalid control character in URL");
	}
	work = cfg_strndup(s, slen);
	if (!work)
		return cfg_errf(err, errlen, "out of memory");
	if (get_scheme(work, &n) < 0) {
		cfg_errf(err, errlen, "missing protocol scheme");
		goto out;
	}
	u->scheme = cfg_strndup(work, n);
	if (!u->scheme) {
		cfg_errf(err, errlen, "out of memory");
		goto out;
	}
	for (char *p = u->scheme; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	rest = work + (n ? n + 1 : 0);
	q = strchr(rest, '?');
	if (q && !q[1] && q == strrchr(rest, '?')) {
		*q = '\0';       /* ForceQuery: a lone trailing '?' */
		u->raw_query = cfg_strdup("");
	} else if (q) {
		*q = '\0';
		u->raw_query = cfg_strdup(q + 1);
	} else {
		u->raw_query = cfg_strdup("");
	}
	if (!u->raw_query) {
		cfg_errf(err, errlen, "out of memory");
		goto out;
	}
	if (rest[0] != '/') {
		if (*u->scheme) {        /* opaque URL: nothing GOST can use */
			u->host = cfg_strdup("");
			u->path = cfg_strdup("");
			u->escaped_path = cfg_strdup("");
			rc = u->host && u->path && u->escaped_path ? 0 :
				cfg_errf(err, errlen, "out of memory");
			goto out;
		}
		n = strcspn(rest, "/");
		if (memchr(rest, ':', n)) {
			cfg_errf(err, errlen, "first path segment in URL cannot contain colon");
			goto out;
		}
	}
	if ((*u->scheme || strncmp(rest, "///", 3)) && !strncmp(rest, "//", 2)) {
		char *a = rest + 2;

		n = strcspn(a, "/");
		if (parse_authority(u, a, n, err, errlen))
			goto out;
		rest = a + n;
	} else {
		u->host = cfg_strdup("");
		if (!u->host) {
			cfg_errf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (set_path(u, rest, err, errlen))
		goto out;
	if (frag) {
		char *f = unescape(frag + 1, strlen(frag + 1), ESC_PATH, err, errlen);

		if (!f)
			goto out;
		free(f);
	}
	rc = 0;
out:
	free(work);
	if (rc)
		cfg_url_free(u);
	return rc;
}

void cfg_url_free(struct cfg_url *u)
{
	free(u->scheme);
	free(u->username);
	free(u->password);
	free(u->host);
	free(u->path);
	free(u->escaped_path);
	free(u->raw_query);
	memset(u, 0, sizeof(*u));
}

char *cfg_url_hostname(const char *host)
{
	const char *colon = strrchr(host, ':');
	size_t n = strlen(host);

	if (colon && valid_optional_port(colon, n - (size_t)(colon - host)))
		n = (size_t)(colon - host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
		return cfg_strndup(host + 1, n - 2);
	return cfg_strndup(host, n);
}

static bool escapes_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2])))
			return false;
	}
	return true;
}

json_t *cfg_url_query(const char *raw)
{
	json_t *m = json_object();
	const char *p = raw;

	if (!m)
		return NULL;
	while (*p) {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		size_t kn = eq ? (size_t)(eq - p) : n;
		size_t vn = eq ? n - kn - 1 : 0;
		char *k = NULL, *v = NULL;

		/* url.ParseQuery skips empty pairs, pairs with ';' and bad escapes;
		 * url.Query keeps the first value of a repeated key */
		if (n && !memchr(p, ';', n) && escapes_valid(p, kn) &&
		    (!eq || escapes_valid(eq + 1, vn))) {
			k = unescape(p, kn, ESC_QUERY, NULL, 0);
			v = unescape(eq ? eq + 1 : "", vn, ESC_QUERY, NULL, 0);
			if (!k || !v || (!json_object_get(m, k) &&
					 json_object_set_new_nocheck(m, k, json_string_nocheck(v)))) {
				free(k);
				free(v);
				json_decref(m);
				return NULL;
			}
		}
		free(k);
		free(v);
		p += n;
		if (*p == '&')
			p++;
	}
	return m;
}

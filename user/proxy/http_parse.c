/* HTTP proxy front end of the auto handler: parses a request head the way
 * GOST's http handler sees it (Go's http.ReadRequest, then GOST's
 * normalizeRequest), rewrites a forwarded head for the origin server, and
 * builds the exact answers GOST writes.  Pure: no I/O, no allocation, every
 * length bounded by HTTP_HEAD_MAX or by the caller's buffer.
 *
 * The parser works line by line over whatever has arrived: a line counts only
 * once its LF is in, so any prefix of a valid head yields 0, and a complete
 * line that Go would refuse yields -1 at once.  The head is then walked again
 * to pull out the few fields GOST looks at. */
#include "proxy/http_parse.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/base64.h"

/* ---- character classes (RFC 9110 token, Go's field-value bytes) ---- */

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Go's validHeaderValueByte: HTAB, SP, VCHAR, obs-text. */
static bool is_value_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool eq_fold(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	if (alen != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(lit[i]))
			return false;
	return true;
}

/* ---- lines: content [start, end), next line at next; LF or CRLF ends one ---- */

struct line {
	size_t start, end, next;
};

static bool line_at(const char *b, size_t lim, size_t pos, struct line *ln)
{
	const char *nl = pos < lim ? memchr(b + pos, '\n', lim - pos) : NULL;

	if (!nl)
		return false;
	ln->start = pos;
	ln->end = (size_t)(nl - b);
	if (ln->end > pos && b[ln->end - 1] == '\r')
		ln->end--;
	ln->next = (size_t)(nl - b) + 1;
	return true;
}

/* ---- request line: METHOD SP URI SP VERSION (Go splits at the first two SPs) ---- */

struct reqline {
	size_t m0, m1, u0, u1, v0, v1;
	int major, minor;
};

static int parse_version(const char *v, size_t n, int *major, int *minor)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
	    v[7] < '0' || v[7] > '9')
		return -1;
	*major = v[5] - '0';
	*minor = v[7] - '0';
	return 0;
}

static int parse_reqline(const char *b, const struct line *ln, struct reqline *rl)
{
	const char *s = b + ln->start, *e = b + ln->end;
	const char *sp1 = memchr(s, ' ', (size_t)(e - s));
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(e - sp1 - 1)) : NULL;

	if (!sp2 || sp1 == s)
		return -1;
	for (const char *p = s; p < sp1; p++)
		if (!is_tchar((unsigned char)*p))
			return -1;
	rl->m0 = ln->start;
	rl->m1 = (size_t)(sp1 - b);
	rl->u0 = rl->m1 + 1;
	rl->u1 = (size_t)(sp2 - b);
	rl->v0 = rl->u1 + 1;
	rl->v1 = ln->end;
	return parse_version(b + rl->v0, rl->v1 - rl->v0, &rl->major, &rl->minor);
}

/* ---- request target, as url.ParseRequestURI (Go 1.26) reads it ---- */

enum { SCHEME_NONE, SCHEME_HTTP, SCHEME_OTHER };

struct target {
	int scheme;             /* after CONNECT's authority form: SCHEME_NONE */
	bool authority;         /* "//authority" present */
	size_t h0, h1;          /* URL host (host[:port], brackets kept), userinfo stripped */
	size_t p0;              /* origin-form path+query starts here (ends at u1) */
};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Go's unescape() for a path or userinfo: every '%' needs two hex digits. */
static int check_escapes(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '%') {
			if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
				return -1;
			i += 2;
		}
	return 0;
}

/* ":" followed by digits only, or nothing. */
static bool valid_optional_port(const char *s, size_t n)
{
	if (n == 0)
		return true;
	if (s[0] != ':')
		return false;
	for (size_t i = 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool is_host_byte(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("-._~!$&'()*+,;=:<>\"]", c) != NULL;
}

/* parseHost with Go 1.26's strict colons and IP-literal checks: '[' only
 * opens an IPv6 literal at the start, and outside one the first colon starts
 * an all-digit port.  Percent escapes, zones and raw non-ASCII (IDN) hosts
 * are refused: Go would punycode them, relayd cannot. */
static int check_host(const char *h, size_t n)
{
	if (n && h[0] == '[') {
		const char *rb = NULL;
		char ip[64];

		for (size_t i = n; i-- > 0;)
			if (h[i] == ']') {
				rb = h + i;
				break;
			}
		if (!rb)
			return -1;
		if (!valid_optional_port(rb + 1, (size_t)(h + n - rb - 1)))
			return -1;
		size_t il = (size_t)(rb - h - 1);
		if (il == 0 || il >= sizeof(ip))
			return -1;
		memcpy(ip, h + 1, il);
		ip[il] = 0;
		unsigned char tmp[16];
		return inet_pton(AF_INET6, ip, tmp) == 1 ? 0 : -1;
	}
	size_t colons = 0, last = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_host_byte((unsigned char)h[i]))
			return -1;
		if (h[i] == ':') {
			colons++;
			last = i;
		}
	}
	if (colons > 1)
		return -1;
	if (colons && !valid_optional_port(h + last, n - last))
		return -1;
	return 0;
}

static bool valid_userinfo(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (!c || !strchr("-._:~!$&'()*+,;=%@", c))
			return false;
	}
	return check_escapes(s, n) == 0;
}

/* authority [a0, a1): userinfo@host */
static int parse_authority(const char *b, size_t a0, size_t a1, struct target *t)
{
	size_t h0 = a0;

	for (size_t i = a1; i-- > a0;)
		if (b[i] == '@') {
			if (!valid_userinfo(b + a0, i - a0))
				return -1;
			h0 = i + 1;
			break;
		}
	if (check_host(b + h0, a1 - h0))
		return -1;
	t->authority = true;
	t->h0 = h0;
	t->h1 = a1;
	return 0;
}

static size_t find_byte(const char *b, size_t from, size_t to, char c)
{
	const char *p = from < to ? memchr(b + from, c, to - from) : NULL;

	return p ? (size_t)(p - b) : to;
}

static int parse_target(const char *b, const struct reqline *rl, bool connect, struct target *t)
{
	size_t u0 = rl->u0, u1 = rl->u1, q, rest;

	memset(t, 0, sizeof(*t));
	for (size_t i = u0; i < u1; i++)
		if ((unsigned char)b[i] < 0x20 || b[i] == 0x7f)
			return -1;

	if (connect && (u0 == u1 || b[u0] != '/')) {
		/* Go parses "http://" + target and drops the scheme again */
		q = find_byte(b, u0, u1, '?');
		size_t a1 = find_byte(b, u0, q, '/');
		if (parse_authority(b, u0, a1, t) || check_escapes(b + a1, q - a1))
			return -1;
		t->p0 = a1;
		return 0;
	}
	if (u0 == u1)
		return -1;                      /* "empty url" */
	if (u1 - u0 == 1 && b[u0] == '*') {
		t->p0 = u0;
		return 0;
	}

	/* getScheme: letters, then letters/digits/+-. up to ':' */
	size_t i = u0;
	rest = u0;
	for (; i < u1; i++) {
		char c = b[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			continue;
		if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
			if (i == u0)
				break;
			continue;
		}
		if (c == ':') {
			if (i == u0)
				return -1;      /* "missing protocol scheme" */
			t->scheme = eq_fold(b + u0, i - u0, "http") ? SCHEME_HTTP : SCHEME_OTHER;
			rest = i + 1;
		}
		break;
	}

	q = find_byte(b, rest, u1, '?');
	if (q == rest || b[rest] != '/') {
		if (t->scheme == SCHEME_NONE)
			return -1;              /* "invalid URI for request" */
		t->p0 = u1;                     /* opaque: no host, not checked */
		return 0;
	}
	size_t path = rest;
	if (t->scheme != SCHEME_NONE && q - rest >= 2 && b[rest + 1] == '/') {
		size_t a1 = find_byte(b, rest + 2, q, '/');

		if (parse_authority(b, rest + 2, a1, t))
			return -1;
		path = a1;
	}
	if (check_escapes(b + path, q - path))
		return -1;
	t->p0 = path;
	return 0;
}

/* ---- header fields over a validated head ---- */

struct field {
	size_t start, colon, end;       /* end: just past the last line of the field */
};

/* The field starting at *pos (a header line), or false at the blank line. */
static bool field_next(const char *b, size_t head_len, size_t *pos, struct field *f)
{
	struct line ln;

	if (!line_at(b, head_len, *pos, &ln) || ln.end == ln.start)
		return false;
	f->start = ln.start;
	f->colon = find_byte(b, ln.start, ln.end, ':');
	while (line_at(b, head_len, ln.next, &ln) && ln.end > ln.start && is_ows(b[ln.start]))
		;
	f->end = ln.start;
	*pos = ln.start;
	return true;
}

static void keep_first(struct field *slot, const struct field *f)
{
	if (!slot->end)
		*slot = *f;
}

static bool field_is(const char *b, const struct field *f, const char *name)
{
	return eq_fold(b + f->start, f->colon - f->start, name);
}

/* The field's value as Go's textproto joins it: each line trimmed of SP/HT,
 * continuation lines joined with one space, leading blanks dropped.  Writes
 * at most cap bytes (no NUL); returns the full length. */
static size_t field_value(const char *b, const struct field *f, char *out, size_t cap)
{
	size_t n = 0, pos = f->colon + 1;
	bool first = true;
	struct line ln;

	while (pos < f->end && line_at(b, f->end, pos, &ln)) {
		size_t s = first ? f->colon + 1 : ln.start, e = ln.end;

		while (s < e && is_ows(b[s]))
			s++;
		while (e > s && is_ows(b[e - 1]))
			e--;
		if (!first && n) {
			if (n < cap)
				out[n] = ' ';
			n++;
		}
		for (size_t i = s; i < e; i++, n++)
			if (n < cap)
				out[n] = b[i];
		first = false;
		pos = ln.next;
	}
	return n;
}

/* Go's HeaderValuesContainsToken on one field: comma-separated elements,
 * OWS trimmed (line breaks of a fold count as OWS), compared case-blind. */
static bool field_has_token(const char *b, const struct field *f, const char *tok)
{
	size_t s = f->colon + 1;

	while (s < f->end) {
		size_t e = find_byte(b, s, f->end, ',');
		size_t a = s, z = e;

		while (a < z && (is_ows(b[a]) || b[a] == '\r' || b[a] == '\n'))
			a++;
		while (z > a && (is_ows(b[z - 1]) || b[z - 1] == '\r' || b[z - 1] == '\n'))
			z--;
		if (eq_fold(b + a, z - a, tok))
			return true;
		s = e + 1;
	}
	return false;
}

/* ---- Go's net.SplitHostPort / JoinHostPort and GOST's normalizeHostPort ---- */

struct span {
	const char *p;
	size_t n;
};

/* Returns true and the port when Go's SplitHostPort succeeds. */
static bool split_host_port(const char *s, size_t n, struct span *host, struct span *port)
{
	const char *colon = NULL;
	size_t j = 0, k = 0;

	for (size_t i = n; i-- > 0;)
		if (s[i] == ':') {
			colon = s + i;
			break;
		}
	if (!colon)
		return false;
	if (n && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (!rb || rb + 1 != colon)
			return false;
		host->p = s + 1;
		host->n = (size_t)(rb - s - 1);
		j = 1;
		k = (size_t)(rb - s) + 1;
	} else {
		host->p = s;
		host->n = (size_t)(colon - s);
		if (memchr(host->p, ':', host->n))
			return false;
	}
	if (memchr(s + j, '[', n - j) || memchr(s + k, ']', n - k))
		return false;
	port->p = colon + 1;
	port->n = (size_t)(s + n - colon - 1);
	return true;
}

/* "host:port", bracketing a host that holds a colon.  -1 if it does not fit. */
static int join_host_port(char *out, size_t cap, struct span host, const char *port, size_t pn)
{
	bool br = memchr(host.p, ':', host.n) != NULL;
	size_t need = host.n + pn + 1 + (br ? 2 : 0);
	size_t o = 0;

	if (need >= cap)
		return -1;
	if (br)
		out[o++] = '[';
	memcpy(out + o, host.p, host.n);
	o += host.n;
	if (br)
		out[o++] = ']';
	out[o++] = ':';
	memcpy(out + o, port, pn);
	o += pn;
	out[o] = 0;
	return (int)o;
}

/* normalizeHostPort(h, "80"): h unchanged when SplitHostPort finds a port,
 * else JoinHostPort(strings.Trim(h, "[]"), "80"). */
static int normalize_host_port(char *out, size_t cap, const char *h, size_t n)
{
	struct span host, port;

	if (split_host_port(h, n, &host, &port) && port.n) {
		if (n >= cap)
			return -1;
		memcpy(out, h, n);
		out[n] = 0;
		return (int)n;
	}
	while (n && (h[0] == '[' || h[0] == ']'))
		h++, n--;
	while (n && (h[n - 1] == '[' || h[n - 1] == ']'))
		n--;
	host.p = h;
	host.n = n;
	return join_host_port(out, cap, host, "80", 2);
}

/* Fills host/port from the hostport text; false if the host does not fit. */
static bool set_target(struct http_req *r)
{
	struct span host, port;
	size_t n = strlen(r->hostport);

	if (!split_host_port(r->hostport, n, &host, &port) || host.n >= sizeof(r->host))
		return false;
	memcpy(r->host, host.p, host.n);
	r->host[host.n] = 0;
	unsigned long v = 0;
	for (size_t i = 0; i < port.n; i++) {
		if (port.p[i] < '0' || port.p[i] > '9' || v > 65535) {
			v = 0;
			break;
		}
		v = v * 10 + (unsigned long)(port.p[i] - '0');
	}
	r->port = v <= 65535 ? (uint16_t)v : 0;
	return true;
}

static void clear_target(struct http_req *r)
{
	r->hostport[0] = 0;
	r->host[0] = 0;
	r->port = 0;
}

/* ---- GOST's decisions on the host ---- */

/* govalidator.IsDNSName || net.ParseIP != nil */
static bool dns_name_or_ip(const char *h, size_t n)
{
	char tmp[64];
	unsigned char ip[16];

	if (n && n < sizeof(tmp)) {
		memcpy(tmp, h, n);
		tmp[n] = 0;
		if (inet_pton(AF_INET, tmp, ip) == 1 || inet_pton(AF_INET6, tmp, ip) == 1)
			return true;
	}
	size_t nodots = 0;
	for (size_t i = 0; i < n; i++)
		nodots += h[i] != '.';
	if (n == 0 || nodots > 255)
		return false;
	if (h[n - 1] == '.')
		n--;
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? h[i] : '.';

		if (c == '.') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
			continue;
		}
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '_';
		if (!alnum && !(label > 0 && c == '-'))
			return false;
		label++;
	}
	return true;
}

/* GOST v2 Gost-Target: base64url(crc32(name) BE || base64url(name)). */
static int decode_server_name(const char *v, size_t n, char *out, size_t cap)
{
	uint8_t outer[BASE64_DECODED_MAX(1024)], inner[BASE64_DECODED_MAX(1024)];
	int on, in;

	if (n > 1024)
		return -1;
	on = base64_decode_rawurl(v, n, outer, sizeof(outer));
	if (on < 4)
		return -1;
	in = base64_decode_rawurl((const char *)outer + 4, (size_t)on - 4, inner, sizeof(inner));
	if (in < 0)
		return -1;
	uint32_t want = (uint32_t)outer[0] << 24 | (uint32_t)outer[1] << 16 |
			(uint32_t)outer[2] << 8 | outer[3];
	if (crc32(0L, inner, (uInt)in) != want)
		return -1;
	/* a name relayd can carry: printable, fits the target fields */
	if ((size_t)in >= cap)
		return -1;
	for (int i = 0; i < in; i++)
		if (inner[i] < 0x21 || inner[i] == 0x7f)
			return -1;
	memcpy(out, inner, (size_t)in);
	return in;
}

static void basic_auth(const char *v, size_t n, struct http_req *r)
{
	uint8_t dec[BASE64_DECODED_MAX(1024)];
	int dn;

	if (n < 6 || memcmp(v, "Basic ", 6))
		return;
	dn = base64_decode_std(v + 6, n - 6, dec, sizeof(dec));
	if (dn < 0)
		return;
	r->has_proxy_auth = true;
	const uint8_t *colon = memchr(dec, ':', (size_t)dn);
	size_t ul = colon ? (size_t)(colon - dec) : (size_t)dn;
	size_t pl = colon ? (size_t)dn - ul - 1 : 0;
	if (ul >= sizeof(r->user) || pl >= sizeof(r->pass) || memchr(dec, 0, (size_t)dn)) {
		r->auth_bad = true;
		return;
	}
	memcpy(r->user, dec, ul);
	r->user[ul] = 0;
	memcpy(r->pass, dec + ul + 1, pl);
	r->pass[pl] = 0;
}

/* ---- the head ---- */

/* Pass 1: find the end of the head, refusing what Go's ReadRequest refuses
 * line by line.  Returns head length, 0 or < 0. */
static int scan_head(const char *b, size_t len, struct reqline *rl, struct target *t,
		     bool *space_key)
{
	size_t lim = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	int more = len >= HTTP_HEAD_MAX ? -2 : 0;
	struct line ln;

	if (!line_at(b, lim, 0, &ln))
		return more;
	if (parse_reqline(b, &ln, rl))
		return -1;
	if (rl->m1 - rl->m0 >= 24)
		return -1;
	if (parse_target(b, rl, rl->m1 - rl->m0 == 7 && !memcmp(b + rl->m0, "CONNECT", 7), t))
		return -1;
	/* textproto: the first header line cannot start with a space */
	if (ln.next < lim && is_ows(b[ln.next]))
		return -1;

	for (size_t pos = ln.next;; pos = ln.next) {
		if (!line_at(b, lim, pos, &ln))
			return more;
		if (ln.end == ln.start)
			return (int)ln.next;
		size_t v = ln.start;
		if (!is_ows(b[ln.start])) {
			size_t colon = find_byte(b, ln.start, ln.end, ':');

			if (colon == ln.end || colon == ln.start)
				return -1;
			for (size_t i = ln.start; i < colon; i++) {
				if (b[i] == ' ')
					*space_key = true;
				else if (!is_tchar((unsigned char)b[i]))
					return -1;
			}
			v = colon + 1;
		}
		for (size_t i = v; i < ln.end; i++)
			if (!is_value_byte((unsigned char)b[i]))
				return -1;
	}
}

/* Content-Length as Go's fixLength reads it: every copy equal once trimmed,
 * the first a plain decimal below 2^63. */
static int content_length(const char *b, size_t head_len, int64_t *out)
{
	char first[128], cur[128];
	size_t fl = 0, pos, cl;
	struct field f;
	int n = 0;

	*out = 0;
	for (pos = find_byte(b, 0, head_len, '\n') + 1; field_next(b, head_len, &pos, &f);) {
		if (!field_is(b, &f, "Content-Length"))
			continue;
		cl = field_value(b, &f, cur, sizeof(cur));
		if (cl > sizeof(cur))
			return -1;
		while (cl && (cur[cl - 1] == '\r' || cur[cl - 1] == '\n' || is_ows(cur[cl - 1])))
			cl--;
		if (n++ == 0) {
			memcpy(first, cur, cl);
			fl = cl;
		} else if (cl != fl || memcmp(cur, first, cl)) {
			return -1;
		}
	}
	if (n == 0)
		return 0;
	if (fl == 0)
		return -1;                      /* "invalid empty Content-Length" */
	uint64_t v = 0;
	for (size_t i = 0; i < fl; i++) {
		if (first[i] < '0' || first[i] > '9')
			return -1;
		if (v > (UINT64_C(0x7fffffffffffffff) - (uint64_t)(first[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(first[i] - '0');
	}
	*out = (int64_t)v;
	return 0;
}

int http_parse_request(const char *buf, size_t len, struct http_req *r)
{
	struct reqline rl;
	struct target t;
	bool space_key = false;
	int hl;

	memset(r, 0, sizeof(*r));
	hl = scan_head(buf, len, &rl, &t, &space_key);
	if (hl <= 0)
		return hl;

	size_t head_len = (size_t)hl, pos = find_byte(buf, 0, head_len, '\n') + 1;
	struct field f, host_f = { 0 }, auth_f = { 0 }, pc_f = { 0 }, proto_f = { 0 };
	struct field gt_f = { 0 }, xgt_f = { 0 }, te_f = { 0 };
	int hosts = 0, tes = 0;
	bool conn_close = false, conn_keep = false, conn_upgrade = false;
	bool seen_upgrade = false, has_upgrade = false;
	bool bad_trailer = false;
	char v[1024];
	size_t n;

	memcpy(r->method, buf + rl.m0, rl.m1 - rl.m0);
	r->minor = rl.minor;
	r->is_connect = !strcmp(r->method, "CONNECT");
	r->head_len = head_len;

	/* Header.Get reads the first copy of a field: remember where each is */
	while (field_next(buf, head_len, &pos, &f)) {
		if (field_is(buf, &f, "Host")) {
			if (hosts++ == 0)
				host_f = f;
		} else if (field_is(buf, &f, "Transfer-Encoding")) {
			if (tes++ == 0)
				te_f = f;
		} else if (field_is(buf, &f, "Connection")) {
			conn_close |= field_has_token(buf, &f, "close");
			conn_keep |= field_has_token(buf, &f, "keep-alive");
			conn_upgrade |= field_has_token(buf, &f, "upgrade");
		} else if (field_is(buf, &f, "Trailer")) {
			bad_trailer |= field_has_token(buf, &f, "Transfer-Encoding") ||
				       field_has_token(buf, &f, "Trailer") ||
				       field_has_token(buf, &f, "Content-Length");
		} else if (field_is(buf, &f, "Upgrade")) {
			if (!seen_upgrade)
				has_upgrade = field_value(buf, &f, v, sizeof(v)) > 0;
			seen_upgrade = true;
		} else if (field_is(buf, &f, "Proxy-Authorization")) {
			keep_first(&auth_f, &f);
		} else if (field_is(buf, &f, "Proxy-Connection")) {
			keep_first(&pc_f, &f);
		} else if (field_is(buf, &f, "X-Gost-Protocol")) {
			keep_first(&proto_f, &f);
		} else if (field_is(buf, &f, "Gost-Target")) {
			keep_first(&gt_f, &f);
		} else if (field_is(buf, &f, "X-Gost-Target")) {
			keep_first(&xgt_f, &f);
		}
	}
	if (hosts > 1)
		return -1;                      /* "too many Host headers" */

	/* body framing: readTransfer */
	bool http11 = rl.major > 1 || (rl.major == 1 && rl.minor >= 1);
	if (tes && http11) {
		n = field_value(buf, &te_f, v, sizeof(v));
		if (tes != 1 || !eq_fold(v, n, "chunked"))
			return -1;
		r->body_len = -1;
		if (bad_trailer)
			return -1;
	} else if (content_length(buf, head_len, &r->body_len)) {
		return -1;
	}

	r->keepalive = rl.major >= 1 && !conn_close && (http11 || conn_keep);
	r->upgrade = conn_upgrade && has_upgrade;
	if (pc_f.end) {
		n = field_value(buf, &pc_f, v, sizeof(v));
		r->proxy_keepalive = eq_fold(v, n, "keep-alive");
	}
	if (auth_f.end) {
		n = field_value(buf, &auth_f, v, sizeof(v));
		if (n <= sizeof(v))
			basic_auth(v, n, r);
		else if (!memcmp(v, "Basic ", 6))
			r->auth_bad = true;     /* decodes to more than any user:pass */
	}

	/* req.Host: the URL's host, else the Host header */
	char host[1024];
	size_t hn;
	if (t.h1 > t.h0) {
		hn = t.h1 - t.h0;
		memcpy(host, buf + t.h0, hn);
	} else if (host_f.end) {
		hn = field_value(buf, &host_f, host, sizeof(host));
		if (hn > sizeof(host))
			hn = sizeof(host) + 1;  /* too long for any valid host */
	} else {
		hn = 0;
	}

	/* normalizeRequest: origin form with a DNS name or IP as Host is "http" */
	int scheme = t.scheme;
	if (scheme == SCHEME_NONE && hn <= sizeof(host)) {
		struct span h, p;

		if (!split_host_port(host, hn, &h, &p)) {
			h.p = host;
			h.n = hn;
		}
		if (dns_name_or_ip(h.p, h.n))
			scheme = SCHEME_HTTP;
	}

	bool udp = false;
	if (proto_f.end) {
		n = field_value(buf, &proto_f, v, sizeof(v));
		udp = n == 3 && !memcmp(v, "udp", 3);
	}

	/* GOST v2 targets override req.Host, the later header winning */
	char name[256];
	int nl;
	if (gt_f.end) {
		n = field_value(buf, &gt_f, v, sizeof(v));
		if (n && n <= sizeof(v) && (nl = decode_server_name(v, n, name, sizeof(name))) >= 0) {
			memcpy(host, name, (size_t)nl);
			hn = (size_t)nl;
		}
	}
	if (xgt_f.end) {
		n = field_value(buf, &xgt_f, v, sizeof(v));
		if (n && n <= sizeof(v) && (nl = decode_server_name(v, n, name, sizeof(name))) >= 0) {
			memcpy(host, name, (size_t)nl);
			hn = (size_t)nl;
		}
	}

	if (!strcmp(r->method, "PRI") || (!r->is_connect && scheme != SCHEME_HTTP))
		r->kind = HTTP_REQ_NOT_PROXY;
	else if (udp)
		r->kind = HTTP_REQ_UDP;
	else if (r->is_connect)
		r->kind = HTTP_REQ_CONNECT;
	else if (!t.authority || t.h1 == t.h0 || space_key)
		r->kind = HTTP_REQ_NO_ROUNDTRIP;
	else
		r->kind = HTTP_REQ_FORWARD;

	/* An empty hostport is a target relayd cannot carry (too long): GOST's
	 * dial of it fails, so the caller answers as for a failed dial. */
	if (r->kind == HTTP_REQ_FORWARD) {
		/* the transport dials canonicalAddr(URL): Hostname, Port or 80 */
		struct span h = { buf + t.h0, t.h1 - t.h0 }, p = { "", 0 };
		const char *c = NULL;

		for (size_t i = h.n; i-- > 0;)
			if (h.p[i] == ':') {
				c = h.p + i;
				break;
			}
		if (c && valid_optional_port(c, (size_t)(h.p + h.n - c))) {
			p.p = c + 1;
			p.n = (size_t)(h.p + h.n - c - 1);
			h.n = (size_t)(c - h.p);
		}
		if (h.n >= 2 && h.p[0] == '[' && h.p[h.n - 1] == ']') {
			h.p++;
			h.n -= 2;
		}
		if (!p.n) {
			p.p = "80";
			p.n = 2;
		}
		if (join_host_port(r->hostport, sizeof(r->hostport), h, p.p, p.n) < 0 || !set_target(r))
			clear_target(r);
	} else if (hn >= sizeof(host) ||
		   normalize_host_port(r->hostport, sizeof(r->hostport), host, hn) < 0 ||
		   !set_target(r)) {
		clear_target(r);
	}
	if (!r->is_connect) {
		r->path_off = t.p0;
		r->path_len = rl.u1 - t.p0;
	}
	return hl;
}

/* ---- the rewritten head ---- */

struct wbuf {
	char *p;
	size_t cap, n;
	bool full;
};

static void put(struct wbuf *w, const char *s, size_t n)
{
	if (w->full || w->cap - w->n < n) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->n, s, n);
	w->n += n;
}

static void put_str(struct wbuf *w, const char *s)
{
	put(w, s, strlen(s));
}

/* One field on one line: an obs-fold becomes a single space, every line
 * ending becomes CRLF. */
static void put_field(struct wbuf *w, const char *b, const struct field *f)
{
	struct line ln;
	size_t pos = f->start;
	bool first = true;

	while (pos < f->end && line_at(b, f->end, pos, &ln)) {
		size_t s = ln.start;

		if (!first) {
			while (s < ln.end && is_ows(b[s]))
				s++;
			put(w, " ", 1);
		}
		put(w, b + s, ln.end - s);
		first = false;
		pos = ln.next;
	}
	put(w, "\r\n", 2);
}

int http_rewrite_request(const char *head, const struct http_req *r, char *out, size_t cap)
{
	struct wbuf w = { out, cap, 0, false };
	struct reqline rl;
	struct target t;
	struct field f;
	struct line ln;
	size_t pos;
	bool has_host = false, conn_done = false, cl_done = false;

	if (!line_at(head, r->head_len, 0, &ln) || parse_reqline(head, &ln, &rl) ||
	    parse_target(head, &rl, r->is_connect, &t))
		return -1;
	bool authority = t.authority && t.h1 > t.h0;
	bool http11 = rl.major > 1 || (rl.major == 1 && rl.minor >= 1);

	put(&w, head + rl.m0, rl.m1 - rl.m0);
	put(&w, " ", 1);
	if (r->path_len == 0 || head[r->path_off] == '?')
		put(&w, "/", 1);
	put(&w, head + r->path_off, r->path_len);
	put(&w, " ", 1);
	put(&w, head + rl.v0, rl.v1 - rl.v0);
	put(&w, "\r\n", 2);

	pos = ln.next;
	while (field_next(head, r->head_len, &pos, &f))
		has_host |= field_is(head, &f, "Host");
	if (authority && !has_host) {
		put_str(&w, "Host: ");
		put(&w, head + t.h0, t.h1 - t.h0);
		put(&w, "\r\n", 2);
	}

	pos = ln.next;
	while (field_next(head, r->head_len, &pos, &f)) {
		if (field_is(head, &f, "Proxy-Authorization") || field_is(head, &f, "Proxy-Connection") ||
		    field_is(head, &f, "Gost-Target") || field_is(head, &f, "X-Gost-Target") ||
		    field_is(head, &f, "Gost-Record"))
			continue;
		if (field_is(head, &f, "Connection")) {
			if (!conn_done)
				put_str(&w, r->upgrade ? "Connection: Upgrade\r\n" : "Connection: close\r\n");
			conn_done = true;
			continue;
		}
		if (field_is(head, &f, "Host") && authority) {
			put_str(&w, "Host: ");
			put(&w, head + t.h0, t.h1 - t.h0);
			put(&w, "\r\n", 2);
			continue;
		}
		if (field_is(head, &f, "Content-Length")) {
			if (r->body_len < 0 || cl_done)
				continue;
			cl_done = true;
		}
		if (field_is(head, &f, "Transfer-Encoding") && !http11)
			continue;
		put_field(&w, head, &f);
	}
	if (!conn_done)
		put_str(&w, "Connection: close\r\n");
	put(&w, "\r\n", 2);
	return w.full ? -1 : (int)w.n;
}

/* ---- GOST's answers ---- */

/* Go's http.StatusText */
static const char *status_text(int code)
{
	static const struct {
		int code;
		const char *text;
	} t[] = {
		{ 100, "Continue" }, { 101, "Switching Protocols" }, { 102, "Processing" },
		{ 103, "Early Hints" }, { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
		{ 203, "Non-Authoritative Information" }, { 204, "No Content" },
		{ 205, "Reset Content" }, { 206, "Partial Content" }, { 207, "Multi-Status" },
		{ 208, "Already Reported" }, { 226, "IM Used" }, { 300, "Multiple Choices" },
		{ 301, "Moved Permanently" }, { 302, "Found" }, { 303, "See Other" },
		{ 304, "Not Modified" }, { 305, "Use Proxy" }, { 307, "Temporary Redirect" },
		{ 308, "Permanent Redirect" }, { 400, "Bad Request" }, { 401, "Unauthorized" },
		{ 402, "Payment Required" }, { 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 406, "Not Acceptable" },
		{ 407, "Proxy Authentication Required" }, { 408, "Request Timeout" },
		{ 409, "Conflict" }, { 410, "Gone" }, { 411, "Length Required" },
		{ 412, "Precondition Failed" }, { 413, "Request Entity Too Large" },
		{ 414, "Request URI Too Long" }, { 415, "Unsupported Media Type" },
		{ 416, "Requested Range Not Satisfiable" }, { 417, "Expectation Failed" },
		{ 418, "I'm a teapot" }, { 421, "Misdirected Request" },
		{ 422, "Unprocessable Entity" }, { 423, "Locked" }, { 424, "Failed Dependency" },
		{ 425, "Too Early" }, { 426, "Upgrade Required" }, { 428, "Precondition Required" },
		{ 429, "Too Many Requests" }, { 431, "Request Header Fields Too Large" },
		{ 451, "Unavailable For Legal Reasons" }, { 500, "Internal Server Error" },
		{ 501, "Not Implemented" }, { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
		{ 506, "Variant Also Negotiates" }, { 507, "Insufficient Storage" },
		{ 508, "Loop Detected" }, { 510, "Not Extended" },
		{ 511, "Network Authentication Required" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].code == code)
			return t[i].text;
	return NULL;
}

/* Go's Response.Write status line: "HTTP/1.<minor> %03d <text>\r\n". */
static void put_status(struct wbuf *w, int minor, int code)
{
	char line[64];
	const char *text = status_text(code);
	int n;

	if (text)
		n = snprintf(line, sizeof(line), "HTTP/1.%d %03d %s\r\n", minor, code, text);
	else
		n = snprintf(line, sizeof(line), "HTTP/1.%d %03d status code %d\r\n", minor, code,
			     code);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		w->full = true;
		return;
	}
	put(w, line, (size_t)n);
}

/* A header line as Go's Header.Write writes it: CR and LF become spaces,
 * then surrounding blanks go. */
static void put_header(struct wbuf *w, const char *name, const char *pre, const char *val,
		       const char *post)
{
	char v[512];
	int n = snprintf(v, sizeof(v), "%s%s%s", pre, val, post);
	size_t s = 0, e;

	if (n < 0 || (size_t)n >= sizeof(v)) {
		w->full = true;
		return;
	}
	e = (size_t)n;
	for (size_t i = 0; i < e; i++)
		if (v[i] == '\r' || v[i] == '\n')
			v[i] = ' ';
	while (s < e && is_ows(v[s]))
		s++;
	while (e > s && is_ows(v[e - 1]))
		e--;
	put_str(w, name);
	put_str(w, ": ");
	put(w, v + s, e - s);
	put(w, "\r\n", 2);
}

static bool valid_code(int code)
{
	return code >= 100 && code <= 999;
}

int http_connect_ok(char *out, size_t cap, const char *agent)
{
	struct wbuf w = { out, cap, 0, false };

	if (!agent)
		agent = HTTP_PROXY_AGENT;
	if (strpbrk(agent, "\r\n"))
		return -1;
	put_str(&w, "HTTP/1.1 200 Connection established\r\nProxy-Agent: ");
	put_str(&w, agent);
	put_str(&w, "\r\n\r\n");
	return w.full ? -1 : (int)w.n;
}

int http_error_response(char *out, size_t cap, int code, const char *agent)
{
	struct wbuf w = { out, cap, 0, false };

	if (!valid_code(code))
		return -1;
	put_status(&w, 1, code);
	put_str(&w, "Connection: close\r\n");
	if (code == 403 || code == 503)
		put_header(&w, "Proxy-Agent", "", agent ? agent : HTTP_PROXY_AGENT, "");
	put(&w, "\r\n", 2);
	return w.full ? -1 : (int)w.n;
}

int http_auth_required(char *out, size_t cap, const char *realm, bool proxy_keepalive)
{
	struct wbuf w = { out, cap, 0, false };

	put_status(&w, 1, 407);
	put_str(&w, "Connection: close\r\n");
	put_header(&w, "Proxy-Authenticate", "Basic realm=\"", realm ? realm : HTTP_REALM, "\"");
	if (proxy_keepalive)
		put_str(&w, "Proxy-Connection: close\r\n");
	put(&w, "\r\n", 2);
	return w.full ? -1 : (int)w.n;
}

int http_empty_response(char *out, size_t cap, int minor, int code)
{
	struct wbuf w = { out, cap, 0, false };

	if (!valid_code(code) || minor < 0 || minor > 9)
		return -1;
	put_status(&w, minor, code);
	/* Go omits Content-Length where a body is not allowed */
	if (!(code / 100 == 1 || code == 204 || code == 304))
		put_str(&w, "Content-Length: 0\r\n");
	put(&w, "\r\n", 2);
	return w.full ? -1 : (int)w.n;
}

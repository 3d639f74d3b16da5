/* The Go standard-library behaviours GOST's configuration code depends on,
 * re-expressed in C so relayd reads flags and files the same way: strconv
 * (Atoi, ParseInt base 0, ParseBool, ParseFloat), time.ParseDuration,
 * net.SplitHostPort / JoinHostPort, encoding/base64 decoding, encoding/json's
 * float formatting and strings.TrimSpace. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_internal.h"

int cfg_go_atoi(const char *s, long long *out)
{
	bool neg = false;
	unsigned long long v = 0, lim;
	const char *p = s;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return -1;
	lim = neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (lim - (unsigned long long)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	*out = neg ? (long long)(0 - v) : (long long)v;
	return 0;
}

int cfg_go_parse_int0(const char *s, long long *out)
{
	const char *p = s;
	char *end;
	int base = 10;

	if (*p == '+' || *p == '-')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16;
	else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		base = 8;
	else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
		base = 2;
	else if (p[0] == '0' && p[1])
		base = 8;
	if (base != 10 && (p[1] == 'x' || p[1] == 'X' || p[1] == 'o' || p[1] == 'O' ||
			   p[1] == 'b' || p[1] == 'B')) {
		long long v;

		/* strtoll has no 0o/0b prefixes: parse the digits after the prefix */
		if (!isalnum((unsigned char)p[2]))
			return -1;
		errno = 0;
		v = strtoll(p + 2, &end, base);
		if (errno || *end)
			return -1;
		*out = *s == '-' ? -v : v;
		return 0;
	}
	if (!*p || !isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	*out = strtoll(s, &end, base);
	return errno || *end ? -1 : 0;
}

int cfg_go_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int cfg_go_parse_float(const char *s, double *out)
{
	char *end;

	if (!*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	return errno == ERANGE || *end ? -1 : 0;
}

/* time.ParseDuration keeps a uint64 below 1<<63 while it accumulates. */
#define DUR_LIMIT ((uint64_t)1 << 63)

static const struct {
	const char *name;
	uint64_t ns;
} dur_units[] = {
	{ "ns", 1ULL },
	{ "us", 1000ULL },
	{ "\xc2\xb5s", 1000ULL },       /* U+00B5 micro sign */
	{ "\xce\xbcs", 1000ULL },       /* U+03BC Greek mu */
	{ "ms", 1000000ULL },
	{ "s", 1000000000ULL },
	{ "m", 60000000000ULL },
	{ "h", 3600000000000ULL },
};

int cfg_go_parse_duration(const char *orig, long long *ns, char *err, size_t errlen)
{
	const char *s = orig;
	uint64_t d = 0;
	bool neg = false;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		goto invalid;
	while (*s) {
		uint64_t v = 0, f = 0, unit = 0;
		double scale = 1;
		bool pre, post = false, overflow = false;
		const char *start = s;
		size_t ulen = 0;

		if (!(*s == '.' || (*s >= '0' && *s <= '9')))
			goto invalid;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (v > DUR_LIMIT / 10)
				goto invalid;
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > DUR_LIMIT)
				goto invalid;
		}
		pre = s != start;
		if (*s == '.') {
			const char *fs = ++s;

			for (; *s >= '0' && *s <= '9'; s++) {
				uint64_t y;

				if (overflow)
					continue;
				if (f > (DUR_LIMIT - 1) / 10) {
					overflow = true;
					continue;
				}
				y = f * 10 + (uint64_t)(*s - '0');
				if (y > DUR_LIMIT) {
					overflow = true;
					continue;
				}
				f = y;
				scale *= 10;
			}
			post = s != fs;
		}
		if (!pre && !post)
			goto invalid;
		while (s[ulen] && s[ulen] != '.' && !(s[ulen] >= '0' && s[ulen] <= '9'))
			ulen++;
		if (!ulen)
			return cfg_errf(err, errlen, "time: missing unit in duration \"%s\"", orig);
		for (size_t i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
			if (strlen(dur_units[i].name) == ulen && !strncmp(s, dur_units[i].name, ulen))
				unit = dur_units[i].ns;
		}
		if (!unit)
			return cfg_errf(err, errlen, "time: unknown unit \"%.*s\" in duration \"%s\"",
					(int)ulen, s, orig);
		s += ulen;
		if (v > DUR_LIMIT / unit)
			goto invalid;
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > DUR_LIMIT)
				goto invalid;
		}
		d += v;
		if (d > DUR_LIMIT)
			goto invalid;
	}
	if (neg) {
		*ns = d == DUR_LIMIT ? INT64_MIN : -(long long)d;
		return 0;
	}
	if (d > DUR_LIMIT - 1)
		goto invalid;
	*ns = (long long)d;
	return 0;
invalid:
	return cfg_errf(err, errlen, "time: invalid duration \"%s\"", orig);
}

int cfg_go_split_host_port(const char *hp, char **host, char **port, char *err, size_t errlen)
{
	const char *colon = strrchr(hp, ':');
	const char *h, *close;
	size_t hlen, j = 0, k = 0;

	if (!colon)
		return cfg_errf(err, errlen, "missing port in address");
	if (hp[0] == '[') {
		close = strchr(hp, ']');
		if (!close)
			return cfg_errf(err, errlen, "missing ']' in address");
		if (close[1] == '\0')
			return cfg_errf(err, errlen, "missing port in address");
		if (close + 1 != colon)
			return cfg_errf(err, errlen, close[1] == ':' ? "too many colons in address"
								 : "missing port in address");
		h = hp + 1;
		hlen = (size_t)(close - h);
		j = 1;
		k = (size_t)(close - hp) + 1;
	} else {
		h = hp;
		hlen = (size_t)(colon - hp);
		if (memchr(h, ':', hlen))
			return cfg_errf(err, errlen, "too many colons in address");
	}
	if (strchr(hp + j, '['))
		return cfg_errf(err, errlen, "unexpected '[' in address");
	if (strchr(hp + k, ']'))
		return cfg_errf(err, errlen, "unexpected ']' in address");
	*host = cfg_strndup(h, hlen);
	*port = cfg_strdup(colon + 1);
	if (!*host || !*port) {
		free(*host);
		free(*port);
		*host = *port = NULL;
		return cfg_errf(err, errlen, "out of memory");
	}
	return 0;
}

char *cfg_go_join_host_port(const char *host, const char *port)
{
	struct cfg_buf b = { 0 };

	if (strchr(host, ':'))
		cfg_buf_fmt(&b, "[%s]:%s", host, port);
	else
		cfg_buf_fmt(&b, "%s:%s", host, port);
	return cfg_buf_take(&b);
}

static int b64_value(unsigned char c, bool raw_url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (raw_url ? '-' : '+'))
		return 62;
	if (c == (raw_url ? '_' : '/'))
		return 63;
	return -1;
}

static size_t skip_newlines(const char *s, size_t i, size_t len)
{
	while (i < len && (s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* One quantum of encoding/base64's decoder: up to four symbols into dbuf.
 * Returns the symbols read (4 = full, fewer at the end), 0 at the end of the
 * input, or -1 with *bad = the offset Go reports as corrupt. */
static int b64_quantum(const char *src, size_t len, size_t *si, bool raw_url, int dbuf[4],
		       size_t *bad)
{
	size_t j;

	for (j = 0; j < 4; j++) {
		unsigned char in;
		int v;

		if (*si == len) {
			if (j == 0)
				return 0;
			if (j == 1 || !raw_url) {
				*bad = *si - j;
				return -1;
			}
			return (int)j;
		}
		in = (unsigned char)src[(*si)++];
		v = b64_value(in, raw_url);
		if (v >= 0) {
			dbuf[j] = v;
			continue;
		}
		if (in == '\n' || in == '\r') {
			j--;
			continue;
		}
		if (raw_url || in != '=' || j < 2) {
			*bad = *si - 1;
			return -1;
		}
		if (j == 2) {       /* "==" expected, the first one is consumed */
			*si = skip_newlines(src, *si, len);
			if (*si == len) {
				*bad = len;
				return -1;
			}
			if (src[*si] != '=') {
				*bad = *si - 1;
				return -1;
			}
			(*si)++;
		}
		*si = skip_newlines(src, *si, len);
		if (*si < len) {    /* trailing garbage */
			*bad = *si;
			return -1;
		}
		return (int)j;
	}
	return 4;
}

int cfg_go_base64_decode(const char *src, bool raw_url, char **out, size_t *outlen,
			 char *err, size_t errlen)
{
	size_t len = strlen(src), si = 0, n = 0, bad = 0;
	unsigned char *dst = malloc(len / 4 * 3 + 3);
	int got;

	if (!dst)
		return cfg_errf(err, errlen, "out of memory");
	do {
		int dbuf[4] = { 0 };
		unsigned int val;

		got = b64_quantum(src, len, &si, raw_url, dbuf, &bad);
		if (got < 0) {
			free(dst);
			return cfg_errf(err, errlen, "illegal base64 data at input byte %zu", bad);
		}
		val = (unsigned int)(dbuf[0] << 18 | dbuf[1] << 12 | dbuf[2] << 6 | dbuf[3]);
		if (got >= 2)
			dst[n++] = (unsigned char)(val >> 16);
		if (got >= 3)
			dst[n++] = (unsigned char)(val >> 8);
		if (got >= 4)
			dst[n++] = (unsigned char)val;
	} while (got == 4);
	dst[n] = '\0';
	*out = (char *)dst;
	*outlen = n;
	return 0;
}

void cfg_go_fmt_float(double v, char *buf, size_t len)
{
	char tmp[40], digits[24];
	int prec, exp10, nd = 0;
	double a = fabs(v);
	bool neg = signbit(v);
	char *e;
	struct cfg_buf b = { 0 };

	if (v == 0) {
		snprintf(buf, len, neg ? "-0" : "0");
		return;
	}
	/* shortest %e that reads back as the same double, like strconv's -1 precision */
	for (prec = 0; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec, a);
		if (strtod(tmp, NULL) == a)
			break;
	}
	e = strchr(tmp, 'e');
	for (char *p = tmp; p < e; p++) {
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	}
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	exp10 = atoi(e + 1);
	if (neg)
		cfg_buf_chr(&b, '-');
	if (a < 1e-6 || a >= 1e21) {
		cfg_buf_chr(&b, digits[0]);
		if (nd > 1) {
			cfg_buf_chr(&b, '.');
			cfg_buf_str(&b, digits + 1);
		}
		/* encoding/json trims e-07 to e-7 but keeps e+21 */
		if (exp10 < 0 && exp10 > -10)
			cfg_buf_fmt(&b, "e-%d", -exp10);
		else
			cfg_buf_fmt(&b, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	} else if (exp10 < 0) {
		cfg_buf_str(&b, "0.");
		for (int i = -1; i > exp10; i--)
			cfg_buf_chr(&b, '0');
		cfg_buf_str(&b, digits);
	} else {
		for (int i = 0; i <= exp10 || i < nd; i++) {
			if (i == exp10 + 1)
				cfg_buf_chr(&b, '.');
			cfg_buf_chr(&b, i < nd ? digits[i] : '0');
		}
	}
	if (b.oom || !b.p) {
		snprintf(buf, len, "%.17g", v);
	} else {
		snprintf(buf, len, "%s", b.p);
	}
	cfg_buf_free(&b);
}

char *cfg_go_trim(char *s)
{
	char *end;

	while (*s && isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

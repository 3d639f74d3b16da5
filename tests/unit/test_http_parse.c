/* Unit tests for the HTTP proxy front end (user/proxy/http_parse.c) and the
 * base64 decoders: request heads fed as exactly-sized heap copies at every
 * prefix length, what Go's ReadRequest refuses, GOST's target and kind
 * decisions, the rewrite for the origin, and GOST's answers byte for byte. */
#include <stdint.h>
#include <zlib.h>

#include "base/base64.h"
#include "proxy/http_parse.h"
#include "unit.h"

/* Parse from a heap copy of exactly n bytes, so ASan sees any over-read. */
static int parse_n(const char *s, size_t n, struct http_req *r)
{
	char *p = malloc(n ? n : 1);
	int rc;

	memcpy(p, s, n);
	rc = http_parse_request(p, n, r);
	free(p);
	return rc;
}

static int parse(const char *s, struct http_req *r)
{
	return parse_n(s, strlen(s), r);
}

/* Every proper prefix needs more; the whole head parses to its length. */
static int parse_all_prefixes(const char *s, struct http_req *r)
{
	size_t n = strlen(s);
	int bad = 0;

	for (size_t k = 0; k < n; k++) {
		int rc = parse_n(s, k, r);

		if (rc != 0) {
			fprintf(stderr, "  prefix %zu of %zu: %d\n", k, n, rc);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
	return parse_n(s, n, r);
}

/* Rewrite from a heap copy of the head, into an exactly-sized output. */
static int rewrite(const char *s, char *out, size_t cap)
{
	struct http_req r;
	size_t n = strlen(s);
	char *p = malloc(n);
	int rc;

	memcpy(p, s, n);
	rc = http_parse_request(p, n, &r);
	if (rc > 0)
		rc = http_rewrite_request(p, &r, out, cap);
	else
		rc = -100;
	free(p);
	return rc;
}

#define CHECK_REWRITE(in, want)                                                 \
	do {                                                                    \
		char out_[HTTP_HEAD_MAX + 512];                                 \
		int n_ = rewrite((in), out_, sizeof(out_));                     \
		CHECK_INT(n_, (int)strlen(want));                               \
		if (n_ > 0)                                                     \
			CHECK_MEM(out_, (size_t)n_, (want), strlen(want));      \
	} while (0)

static void b64(const uint8_t *in, size_t n, char *out, bool url)
{
	const char *a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			    : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		if (left > 1)
			out[o++] = a[v >> 6 & 63];
		else if (!url)
			out[o++] = '=';
		if (left > 2)
			out[o++] = a[v & 63];
		else if (!url)
			out[o++] = '=';
	}
	out[o] = 0;
}

/* GOST v2's encodeServerName. */
static void gost_target(const char *name, char *out)
{
	uint8_t buf[600];
	char inner[600];
	uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)name, (uInt)strlen(name));

	b64((const uint8_t *)name, strlen(name), inner, true);
	buf[0] = (uint8_t)(crc >> 24);
	buf[1] = (uint8_t)(crc >> 16);
	buf[2] = (uint8_t)(crc >> 8);
	buf[3] = (uint8_t)crc;
	memcpy(buf + 4, inner, strlen(inner));
	b64(buf, 4 + strlen(inner), out, true);
}

/* ---- base64 ---- */

static void test_base64_std_follows_go(void)
{
	uint8_t out[64];

	CHECK_INT(base64_decode_std("dXNlcjpwYXNz", 12, out, sizeof(out)), 9);
	CHECK_MEM(out, 9, "user:pass", 9);
	CHECK_INT(base64_decode_std("YQ==", 4, out, sizeof(out)), 1);
	CHECK_INT(base64_decode_std("YWI=", 4, out, sizeof(out)), 2);
	CHECK_INT(base64_decode_std("", 0, out, sizeof(out)), 0);
	/* not Strict: unused bits after the last byte are ignored */
	CHECK_INT(base64_decode_std("YR==", 4, out, sizeof(out)), 1);
	CHECK_INT(out[0], 'a');
	/* line breaks are skipped anywhere */
	CHECK_INT(base64_decode_std("YW\r\nI=", 6, out, sizeof(out)), 2);
	/* padding is required, and nothing may follow it */
	CHECK_INT(base64_decode_std("YQ", 2, out, sizeof(out)), -1);
	CHECK_INT(base64_decode_std("YQ=", 3, out, sizeof(out)), -1);
	CHECK_INT(base64_decode_std("Y===", 4, out, sizeof(out)), -1);
	CHECK_INT(base64_decode_std("YQ==YQ==", 8, out, sizeof(out)), -1);
	CHECK_INT(base64_decode_std("YQ=a", 4, out, sizeof(out)), -1);
	CHECK_INT(base64_decode_std("dXNl cjpw", 9, out, sizeof(out)), -1);
	CHECK_INT(base64_decode_std("ab-_", 4, out, sizeof(out)), -1);
	/* output bound */
	CHECK_INT(base64_decode_std("dXNlcjpwYXNz", 12, out, 8), -1);
}

static void test_base64_rawurl_follows_go(void)
{
	uint8_t out[16];

	CHECK_INT(base64_decode_rawurl("YQ", 2, out, sizeof(out)), 1);
	CHECK_INT(base64_decode_rawurl("YWI", 3, out, sizeof(out)), 2);
	CHECK_INT(base64_decode_rawurl("-_-_", 4, out, sizeof(out)), 3);
	CHECK_INT(out[0], 0xfb);
	CHECK_INT(base64_decode_rawurl("Y", 1, out, sizeof(out)), -1);
	CHECK_INT(base64_decode_rawurl("YQ==", 4, out, sizeof(out)), -1);
	CHECK_INT(base64_decode_rawurl("a+b/", 4, out, sizeof(out)), -1);
}

/* ---- CONNECT ---- */

static void test_connect_with_port_and_auth(void)
{
	const char *req = "CONNECT example.com:443 HTTP/1.1\r\n"
			  "Host: example.com:443\r\n"
			  "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
			  "User-Agent: curl/8.0\r\n"
			  "Proxy-Connection: Keep-Alive\r\n"
			  "\r\n";
	struct http_req r;

	CHECK_INT(parse_all_prefixes(req, &r), (int)strlen(req));
	CHECK_INT(r.kind, HTTP_REQ_CONNECT);
	CHECK(r.is_connect);
	CHECK_STR(r.method, "CONNECT");
	CHECK_INT(r.minor, 1);
	CHECK_STR(r.host, "example.com");
	CHECK_INT(r.port, 443);
	CHECK_STR(r.hostport, "example.com:443");
	CHECK(r.has_proxy_auth);
	CHECK(!r.auth_bad);
	CHECK_STR(r.user, "user");
	CHECK_STR(r.pass, "pass");
	CHECK(r.proxy_keepalive);
	CHECK(r.keepalive);
	CHECK_INT(r.body_len, 0);
	CHECK_INT(r.head_len, strlen(req));
}

static void test_connect_leaves_tunnel_bytes_alone(void)
{
	const char *req = "CONNECT 10.0.0.1:22 HTTP/1.1\r\n\r\nSSH-2.0-OpenSSH\r\n";
	struct http_req r;

	CHECK_INT(parse(req, &r), (int)strlen("CONNECT 10.0.0.1:22 HTTP/1.1\r\n\r\n"));
	CHECK_STR(r.hostport, "10.0.0.1:22");
	CHECK_INT(r.port, 22);
}

static void test_connect_without_port_goes_to_port_80(void)
{
	struct http_req r;

	/* normalizeHostPort(req.Host, "80"): GOST does not default to 443 */
	CHECK(parse("CONNECT example.com HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_CONNECT);
	CHECK_STR(r.hostport, "example.com:80");
	CHECK_INT(r.port, 80);
	/* an empty port is a port-less host for SplitHostPort, and Go re-joins it */
	CHECK(parse("CONNECT example.com: HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_STR(r.hostport, "[example.com:]:80");
	CHECK_STR(r.host, "example.com:");
}

static void test_connect_ipv6_literal(void)
{
	struct http_req r;

	CHECK(parse("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_STR(r.host, "2001:db8::1");
	CHECK_INT(r.port, 443);
	CHECK_STR(r.hostport, "[2001:db8::1]:443");
	CHECK(parse("CONNECT [::1] HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_STR(r.hostport, "[::1]:80");
}

static void test_connect_empty_host_and_host_header_fallback(void)
{
	struct http_req r;

	/* ":443" dials the local host's port 443, as GOST's dialer does */
	CHECK(parse("CONNECT :443 HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_STR(r.hostport, ":443");
	CHECK_STR(r.host, "");
	CHECK_INT(r.port, 443);
	/* a path-form CONNECT takes its target from Host */
	CHECK(parse("CONNECT /rpc HTTP/1.1\r\nHost: svc.local:9000\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_CONNECT);
	CHECK_STR(r.hostport, "svc.local:9000");
	CHECK(parse("CONNECT / HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_STR(r.hostport, ":80");
	/* userinfo in the authority is dropped */
	CHECK(parse("CONNECT u:p@example.com:8443 HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_STR(r.hostport, "example.com:8443");
	/* a port past 65535 still goes to the chain as text; the dial fails */
	CHECK(parse("CONNECT example.com:99999 HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_STR(r.hostport, "example.com:99999");
	CHECK_INT(r.port, 0);
	/* Go's URL parser lets a stray ']' through; GOST's dial of the mangled
	 * "[a]b:443]:80" fails, and relayd leaves the target empty */
	CHECK(parse("CONNECT a]b:443 HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_CONNECT);
	CHECK_STR(r.hostport, "");
}

static void test_connect_gost_target_overrides_host(void)
{
	char enc[700], req[1024];
	struct http_req r;

	gost_target("real-target.com:443", enc);
	snprintf(req, sizeof(req), "CONNECT decoy.example:443 HTTP/1.1\r\nGost-Target: %s\r\n\r\n",
		 enc);
	CHECK(parse_all_prefixes(req, &r) > 0);
	CHECK_STR(r.hostport, "real-target.com:443");
	/* X-Gost-Target is read after Gost-Target and wins */
	gost_target("alternate.example", enc);
	snprintf(req, sizeof(req),
		 "CONNECT decoy.example:443 HTTP/1.1\r\nX-Gost-Target: %s\r\nGost-Target: bm9wZQ\r\n\r\n",
		 enc);
	CHECK(parse(req, &r) > 0);
	CHECK_STR(r.hostport, "alternate.example:80");
	/* a plain name (v3 sni connector style) fails the CRC and is ignored */
	CHECK(parse("CONNECT decoy.example:443 HTTP/1.1\r\nGost-Target: example.com\r\n\r\n", &r) > 0);
	CHECK_STR(r.hostport, "decoy.example:443");
}

/* ---- absolute URI and origin form ---- */

static void test_forward_absolute_uri(void)
{
	const char *req = "GET http://example.com:8080/a/b?x=1&y=%20 HTTP/1.1\r\n"
			  "Host: ignored.example\r\n"
			  "Accept: */*\r\n"
			  "\r\n";
	struct http_req r;

	CHECK_INT(parse_all_prefixes(req, &r), (int)strlen(req));
	CHECK_INT(r.kind, HTTP_REQ_FORWARD);
	CHECK(!r.is_connect);
	CHECK_STR(r.method, "GET");
	CHECK_STR(r.hostport, "example.com:8080");
	CHECK_STR(r.host, "example.com");
	CHECK_INT(r.port, 8080);
	CHECK_INT(r.path_len, strlen("/a/b?x=1&y=%20"));
	CHECK_MEM(req + r.path_off, r.path_len, "/a/b?x=1&y=%20", strlen("/a/b?x=1&y=%20"));
	CHECK(!r.has_proxy_auth);
	CHECK_STR(r.user, "");
	CHECK_STR(r.pass, "");
}

static void test_forward_default_port_and_scheme_case(void)
{
	struct http_req r;

	CHECK(parse("GET HTTP://Example.COM HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_FORWARD);
	CHECK_STR(r.hostport, "Example.COM:80");
	CHECK_INT(r.path_len, 0);
	/* canonicalAddr: an empty port is port 80 for the transport */
	CHECK(parse("GET http://example.com:/x HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_STR(r.hostport, "example.com:80");
	CHECK(parse("POST http://[2001:db8::2]/up HTTP/1.1\r\nContent-Length: 3\r\n\r\n", &r) > 0);
	CHECK_STR(r.hostport, "[2001:db8::2]:80");
	CHECK_STR(r.host, "2001:db8::2");
	CHECK_INT(r.body_len, 3);
}

static void test_origin_form_with_valid_host_fails_the_round_trip(void)
{
	struct http_req r;

	/* normalizeRequest calls it http, but the URL has no host: 503 */
	const char *req = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";

	CHECK(parse_all_prefixes(req, &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NO_ROUNDTRIP);
	CHECK_STR(r.hostport, "example.com:80");
	CHECK_MEM(req + r.path_off, r.path_len, "/index.html", 11);
	CHECK(parse("GET / HTTP/1.1\r\nHost: 192.0.2.1:8000\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NO_ROUNDTRIP);
	CHECK_STR(r.hostport, "192.0.2.1:8000");
	CHECK(parse("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NO_ROUNDTRIP);
	/* "http:" without a host, and an opaque http URI */
	CHECK(parse("GET http:///x HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NO_ROUNDTRIP);
	CHECK(parse("GET http:foo HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NO_ROUNDTRIP);
	/* a header name with a space passes ReadRequest but not the transport */
	CHECK(parse("GET http://example.com/ HTTP/1.1\r\nX Y: 1\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NO_ROUNDTRIP);
	CHECK_STR(r.hostport, "example.com:80");
}

static void test_not_a_proxy_request_is_400(void)
{
	struct http_req r;

	/* no Host: HTTP/1.0 origin form */
	CHECK(parse_all_prefixes("GET / HTTP/1.0\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NOT_PROXY);
	CHECK_INT(r.minor, 0);
	CHECK(parse("GET / HTTP/1.1\r\nHost: !!!invalid!!!\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NOT_PROXY);
	CHECK(parse("GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NOT_PROXY);
	CHECK(parse("GET https://example.com/ HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NOT_PROXY);
	CHECK(parse("GET ftp://example.com/ HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NOT_PROXY);
	CHECK(parse("OPTIONS * HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NOT_PROXY);
	/* the HTTP/2 preface reads as a request, and GOST answers it 400 */
	CHECK(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &r) == 18);
	CHECK_INT(r.kind, HTTP_REQ_NOT_PROXY);
	CHECK(parse("PRI http://example.com/ HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NOT_PROXY);
}

static void test_x_gost_protocol_udp(void)
{
	struct http_req r;

	CHECK(parse("CONNECT example.com:53 HTTP/1.1\r\nX-Gost-Protocol: udp\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_UDP);
	CHECK(parse("GET http://example.com/ HTTP/1.1\r\nx-gost-protocol: udp\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_UDP);
	/* the value is compared exactly */
	CHECK(parse("CONNECT example.com:53 HTTP/1.1\r\nX-Gost-Protocol: UDP\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_CONNECT);
	/* the 400 check comes first */
	CHECK(parse("GET / HTTP/1.1\r\nX-Gost-Protocol: udp\r\n\r\n", &r) > 0);
	CHECK_INT(r.kind, HTTP_REQ_NOT_PROXY);
}

/* ---- Proxy-Authorization ---- */

static void check_auth(const char *value, bool has, bool bad, const char *user, const char *pass)
{
	char req[2048];
	struct http_req r;

	snprintf(req, sizeof(req), "CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: %s\r\n\r\n", value);
	CHECK(parse(req, &r) > 0);
	CHECK_INT(r.has_proxy_auth, has);
	CHECK_INT(r.auth_bad, bad);
	CHECK_STR(r.user, user);
	CHECK_STR(r.pass, pass);
}

static void test_proxy_authorization_like_gost(void)
{
	char v[1024], b[800];
	uint8_t raw[600];

	check_auth("Basic dXNlcjpwYXNz", true, false, "user", "pass");
	/* split at the first colon */
	b64((const uint8_t *)"user:a:b:c", 10, b, false);
	snprintf(v, sizeof(v), "Basic %s", b);
	check_auth(v, true, false, "user", "a:b:c");
	b64((const uint8_t *)":pass", 5, b, false);
	snprintf(v, sizeof(v), "Basic %s", b);
	check_auth(v, true, false, "", "pass");
	/* no colon: GOST's Cut leaves it all in the user, password empty */
	b64((const uint8_t *)"username", 8, b, false);
	snprintf(v, sizeof(v), "Basic %s", b);
	check_auth(v, true, false, "username", "");
	/* the prefix is case-sensitive and has exactly one space */
	check_auth("basic dXNlcjpwYXNz", false, false, "", "");
	check_auth("Basic  dXNlcjpwYXNz", false, false, "", "");
	check_auth("Bearer token123", false, false, "", "");
	/* Go's StdEncoding wants padding */
	check_auth("Basic dXNlcjpwYXM", false, false, "", "");
	check_auth("Basic not-valid-base64!", false, false, "", "");
	/* a NUL or an over-long field can match no user */
	b64((const uint8_t *)"us\0er:pw", 8, b, false);
	snprintf(v, sizeof(v), "Basic %s", b);
	check_auth(v, true, true, "", "");
	memset(raw, 'u', 256);
	raw[256] = ':';
	b64(raw, 257, b, false);
	snprintf(v, sizeof(v), "Basic %s", b);
	check_auth(v, true, true, "", "");
	memset(raw, 'u', 255);
	raw[255] = ':';
	memset(raw + 256, 'p', 255);
	b64(raw, 511, b, false);
	snprintf(v, sizeof(v), "Basic %s", b);
	char u255[256], p255[256];
	memset(u255, 'u', 255);
	u255[255] = 0;
	memset(p255, 'p', 255);
	p255[255] = 0;
	check_auth(v, true, false, u255, p255);
}

/* ---- connection semantics ---- */

static void test_keepalive_and_proxy_connection(void)
{
	struct http_req r;

	CHECK(parse("GET http://a/ HTTP/1.1\r\n\r\n", &r) > 0);
	CHECK(r.keepalive);
	CHECK(parse("GET http://a/ HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n", &r) > 0);
	CHECK(!r.keepalive);
	CHECK(parse("GET http://a/ HTTP/1.0\r\n\r\n", &r) > 0);
	CHECK(!r.keepalive);
	CHECK(parse("GET http://a/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r) > 0);
	CHECK(r.keepalive);
	CHECK(parse("GET http://a/ HTTP/1.0\r\nConnection: x\r\nConnection: keep-alive\r\n\r\n", &r) >
	      0);
	CHECK(r.keepalive);
	/* Proxy-Connection: lower-cased whole value must be keep-alive */
	CHECK(parse("CONNECT a:1 HTTP/1.1\r\nProxy-Connection: KEEP-ALIVE\r\n\r\n", &r) > 0);
	CHECK(r.proxy_keepalive);
	CHECK(parse("CONNECT a:1 HTTP/1.1\r\nProxy-Connection: keep-alive, x\r\n\r\n", &r) > 0);
	CHECK(!r.proxy_keepalive);
	CHECK(parse("GET http://a/ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n"
		    "Upgrade: websocket\r\n\r\n",
		    &r) > 0);
	CHECK(r.upgrade);
	CHECK(parse("GET http://a/ws HTTP/1.1\r\nConnection: Upgrade\r\n\r\n", &r) > 0);
	CHECK(!r.upgrade);
}

static void test_body_framing_like_go(void)
{
	struct http_req r;

	CHECK(parse("POST http://a/ HTTP/1.1\r\nContent-Length: 12\r\n\r\n", &r) > 0);
	CHECK_INT(r.body_len, 12);
	CHECK(parse("POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length:  5 \r\n\r\n",
		    &r) > 0);
	CHECK_INT(r.body_len, 5);
	CHECK(parse("POST http://a/ HTTP/1.1\r\nContent-Length: 0009223372036854775807\r\n\r\n",
		    &r) > 0);
	CHECK_INT(r.body_len, INT64_MAX);
	CHECK(parse("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n"
		    "Content-Length: 7\r\n\r\n",
		    &r) > 0);
	CHECK_INT(r.body_len, -1);
	/* HTTP/1.0: Transfer-Encoding is ignored, Content-Length frames the body */
	CHECK(parse("POST http://a/ HTTP/1.0\r\nTransfer-Encoding: gzip\r\nContent-Length: 4\r\n\r\n",
		    &r) > 0);
	CHECK_INT(r.body_len, 4);
	/* Go's refusals */
	CHECK_INT(parse("POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
			&r),
		  -1);
	CHECK_INT(parse("POST http://a/ HTTP/1.1\r\nContent-Length: 05\r\nContent-Length: 5\r\n\r\n",
			&r),
		  -1);
	CHECK_INT(parse("POST http://a/ HTTP/1.1\r\nContent-Length:\r\n\r\n", &r), -1);
	CHECK_INT(parse("POST http://a/ HTTP/1.1\r\nContent-Length: +5\r\n\r\n", &r), -1);
	CHECK_INT(parse("POST http://a/ HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", &r),
		  -1);
	CHECK_INT(parse("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &r),
		  -1);
	CHECK_INT(parse("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
			"Transfer-Encoding: chunked\r\n\r\n",
			&r),
		  -1);
	CHECK_INT(parse("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
			"Trailer: Expires, content-length\r\n\r\n",
			&r),
		  -1);
	CHECK(parse("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTrailer: Expires\r\n\r\n",
		    &r) > 0);
	CHECK(parse("POST http://a/ HTTP/1.1\r\nTrailer: Content-Length\r\n\r\n", &r) > 0);
}

/* ---- syntax Go refuses (GOST closes without a reply) ---- */

static void test_malformed_heads_are_refused(void)
{
	static const char *const bad[] = {
		"\r\nGET http://a/ HTTP/1.1\r\n\r\n",          /* leading blank line */
		"GET  http://a/ HTTP/1.1\r\n\r\n",             /* two spaces */
		"GET http://a/ HTTP/1.1 \r\n\r\n",             /* trailing space */
		"GET http://a/\r\n\r\n",                       /* no version */
		"GET http://a/ HTTP/1.10\r\n\r\n",
		"GET http://a/ HTTPS/1.1\r\n\r\n",
		"GET http://a/ http/1.1\r\n\r\n",
		"G(T http://a/ HTTP/1.1\r\n\r\n",              /* method not a token */
		"GETGETGETGETGETGETGETGETGET http://a/ HTTP/1.1\r\n\r\n", /* method > 23 */
		"GET http://a/\x01 HTTP/1.1\r\n\r\n",          /* CTL in the URI */
		"GET http://a/%zz HTTP/1.1\r\n\r\n",           /* bad escape */
		"GET http://a/%4 HTTP/1.1\r\n\r\n",
		"GET a/b HTTP/1.1\r\n\r\n",                    /* not a request URI */
		"GET :x HTTP/1.1\r\n\r\n",                     /* missing scheme */
		"GET http://a b/ HTTP/1.1\r\n\r\n",
		"GET http://a:b/ HTTP/1.1\r\n\r\n",            /* port not digits */
		"GET http://a:1:2/ HTTP/1.1\r\n\r\n",          /* Go 1.26 strict colons */
		"CONNECT ::1:443 HTTP/1.1\r\n\r\n",
		"CONNECT [::1:443 HTTP/1.1\r\n\r\n",           /* missing ] */
		"CONNECT [example.com]:443 HTTP/1.1\r\n\r\n",  /* not an IPv6 literal */
		"CONNECT x[::1]:443 HTTP/1.1\r\n\r\n",
		"CONNECT [::1]x:443 HTTP/1.1\r\n\r\n",
		"CONNECT ex%41mple.com:443 HTTP/1.1\r\n\r\n",  /* escapes in a host */
		("CONNECT b\xc3\xbc" "cher.de:443 HTTP/1.1\r\n\r\n"), /* raw IDN */
		"CONNECT u|x@a:443 HTTP/1.1\r\n\r\n",          /* bad userinfo */
		"GET http://a/ HTTP/1.1\r\n Host: a\r\n\r\n",  /* first field folded */
		"GET http://a/ HTTP/1.1\r\nHost a\r\n\r\n",    /* no colon */
		"GET http://a/ HTTP/1.1\r\n: a\r\n\r\n",       /* empty name */
		"GET http://a/ HTTP/1.1\r\nHo(st: a\r\n\r\n",  /* name not a token */
		"GET http://a/ HTTP/1.1\r\nX: a\x01\r\n\r\n",  /* CTL in a value */
		"GET http://a/ HTTP/1.1\r\nX: a\rb\r\n\r\n",   /* bare CR */
		"GET http://a/ HTTP/1.1\r\nX: a\r\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nX: a\x7f\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nX: a\r\n \x02\r\n\r\n", /* CTL in a continuation */
		"GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
	};
	struct http_req r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &r);

		if (rc != -1)
			fprintf(stderr, "  case %zu: %d\n", i, rc);
		CHECK_INT(rc, -1);
	}
}

static void test_folding_and_bare_lf_are_accepted_like_go(void)
{
	struct http_req r;
	const char *lf = "GET http://a/ HTTP/1.1\nHost: a\nX: 1\n\n";
	const char *fold = "GET http://a/ HTTP/1.1\r\nX-Long: one\r\n  two\r\n\tthree\r\n"
			   "Connection: keep-alive,\r\n close\r\n\r\n";

	CHECK_INT(parse_all_prefixes(lf, &r), (int)strlen(lf));
	CHECK_INT(r.kind, HTTP_REQ_FORWARD);
	CHECK_INT(parse_all_prefixes(fold, &r), (int)strlen(fold));
	CHECK(!r.keepalive);
	/* a blank continuation line belongs to the field */
	CHECK(parse("GET http://a/ HTTP/1.1\r\nX: a\r\n \r\n\r\n", &r) > 0);
	/* mixed endings */
	CHECK(parse("GET http://a/ HTTP/1.1\r\nX: a\n\r\n", &r) > 0);
	/* obs-text is allowed in values, and spaces before the colon in names */
	CHECK(parse("GET http://a/ HTTP/1.1\r\nX: caf\xc3\xa9\r\nHost : b\r\n\r\n", &r) > 0);
	/* a folded Transfer-Encoding is joined with a space, so it is not "chunked" */
	CHECK_INT(parse("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chun\r\n ked\r\n\r\n", &r), -1);
	CHECK(parse("POST http://a/ HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", &r) > 0);
	CHECK_INT(r.body_len, -1);
}

static void test_head_limit(void)
{
	char *big = malloc(HTTP_HEAD_MAX + 64);
	const char *start = "GET http://a/ HTTP/1.1\r\nX: ";
	struct http_req r;
	size_t n;

	/* exactly HTTP_HEAD_MAX bytes including the final CRLFCRLF */
	n = strlen(start);
	memcpy(big, start, n);
	memset(big + n, 'x', HTTP_HEAD_MAX - n - 4);
	memcpy(big + HTTP_HEAD_MAX - 4, "\r\n\r\n", 4);
	CHECK_INT(parse_n(big, HTTP_HEAD_MAX, &r), HTTP_HEAD_MAX);
	CHECK_INT(parse_n(big, HTTP_HEAD_MAX - 1, &r), 0);
	/* one byte more does not fit */
	memset(big + n, 'x', HTTP_HEAD_MAX - n - 3);
	memcpy(big + HTTP_HEAD_MAX - 3, "\r\n\r\n", 4);
	CHECK_INT(parse_n(big, HTTP_HEAD_MAX - 1, &r), 0);
	CHECK_INT(parse_n(big, HTTP_HEAD_MAX, &r), -2);
	CHECK_INT(parse_n(big, HTTP_HEAD_MAX + 1, &r), -2);
	/* a line that never ends */
	memset(big, 'A', HTTP_HEAD_MAX + 64);
	CHECK_INT(parse_n(big, HTTP_HEAD_MAX + 64, &r), -2);
	/* a bad line is refused before the limit */
	memcpy(big, "GET\x01", 4);
	memcpy(big + 10, "\r\n", 2);
	CHECK_INT(parse_n(big, HTTP_HEAD_MAX + 64, &r), -1);
	/* a URI host that cannot be carried leaves the target empty */
	n = (size_t)snprintf(big, HTTP_HEAD_MAX, "CONNECT %0300d:443 HTTP/1.1\r\n\r\n", 0);
	CHECK_INT(parse_n(big, n, &r), (int)n);
	CHECK_STR(r.hostport, "");
	free(big);
}

/* ---- the rewrite ---- */

static void test_rewrite_for_origin(void)
{
	CHECK_REWRITE("GET http://user:pw@example.com:8080/a?b=1 HTTP/1.1\r\n"
		      "Host: other.example\r\n"
		      "User-Agent: curl/8.0\r\n"
		      "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
		      "Accept: */*\r\n"
		      "Proxy-Connection: Keep-Alive\r\n"
		      "Gost-Target: abc\r\n"
		      "x-gost-target: abc\r\n"
		      "Connection: keep-alive\r\n"
		      "Cookie: a=b;  c=d  \r\n"
		      "\r\n",
		      "GET /a?b=1 HTTP/1.1\r\n"
		      "Host: example.com:8080\r\n"
		      "User-Agent: curl/8.0\r\n"
		      "Accept: */*\r\n"
		      "Connection: close\r\n"
		      "Cookie: a=b;  c=d  \r\n"
		      "\r\n");
}

static void test_rewrite_fills_path_host_and_connection(void)
{
	CHECK_REWRITE("GET http://example.com HTTP/1.0\r\n\r\n",
		      "GET / HTTP/1.0\r\nHost: example.com\r\nConnection: close\r\n\r\n");
	CHECK_REWRITE("GET http://example.com?q HTTP/1.1\r\nAccept: x\r\n\r\n",
		      "GET /?q HTTP/1.1\r\nHost: example.com\r\nAccept: x\r\nConnection: close\r\n\r\n");
	CHECK_REWRITE("GET http://[::1]:81/ HTTP/1.1\r\nConnection: a\r\nX: 1\r\nConnection: b\r\n\r\n",
		      "GET / HTTP/1.1\r\nHost: [::1]:81\r\nConnection: close\r\nX: 1\r\n\r\n");
	CHECK_REWRITE("OPTIONS http://a/x%2Fy?z#f HTTP/1.1\r\n\r\n",
		      "OPTIONS /x%2Fy?z#f HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
}

static void test_rewrite_body_headers_and_upgrade(void)
{
	CHECK_REWRITE("POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nX: y\r\nContent-Length: 5\r\n\r\n",
		      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: y\r\n"
		      "Connection: close\r\n\r\n");
	CHECK_REWRITE("POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		      "Connection: close\r\n\r\n");
	CHECK_REWRITE("POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
		      "POST / HTTP/1.0\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");
	CHECK_REWRITE("GET http://a/ws HTTP/1.1\r\nUpgrade: websocket\r\n"
		      "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: k\r\n\r\n",
		      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Key: k\r\n\r\n");
}

static void test_rewrite_unfolds_and_ends_lines_with_crlf(void)
{
	CHECK_REWRITE("GET http://a/ HTTP/1.1\nHost: a\nX-Long: one\r\n  two\n\tthree\nY: 2\n\n",
		      "GET / HTTP/1.1\r\nHost: a\r\nX-Long: one two three\r\nY: 2\r\n"
		      "Connection: close\r\n\r\n");
}

static void test_rewrite_needs_room(void)
{
	const char *req = "GET http://a/ HTTP/1.1\r\n\r\n";
	const char *want = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
	char out[128];

	CHECK_INT(rewrite(req, out, strlen(want)), (int)strlen(want));
	CHECK_INT(rewrite(req, out, strlen(want) - 1), -1);
	CHECK_INT(rewrite(req, out, 0), -1);
}

/* ---- GOST's answers ---- */

#define CHECK_OUT(call, want)                                                   \
	do {                                                                    \
		char o_[512];                                                   \
		int n_ = (call);                                                \
		CHECK_INT(n_, (int)strlen(want));                               \
		if (n_ > 0)                                                     \
			CHECK_MEM(o_, (size_t)n_, (want), strlen(want));        \
	} while (0)

static void test_connect_ok_bytes(void)
{
	CHECK_OUT(http_connect_ok(o_, sizeof(o_), NULL),
		  "HTTP/1.1 200 Connection established\r\nProxy-Agent: gost/3.0\r\n\r\n");
	CHECK_OUT(http_connect_ok(o_, sizeof(o_), "relayd"),
		  "HTTP/1.1 200 Connection established\r\nProxy-Agent: relayd\r\n\r\n");
	char o[16];
	CHECK_INT(http_connect_ok(o, sizeof(o), NULL), -1);
	CHECK_INT(http_connect_ok(o, 0, NULL), -1);
	char big[128];
	CHECK_INT(http_connect_ok(big, sizeof(big), "a\r\nX: y"), -1);
	size_t exact = strlen("HTTP/1.1 200 Connection established\r\nProxy-Agent: gost/3.0\r\n\r\n");
	CHECK_INT(http_connect_ok(big, exact, NULL), (int)exact);
	CHECK_INT(http_connect_ok(big, exact - 1, NULL), -1);
}

static void test_error_response_bytes(void)
{
	CHECK_OUT(http_error_response(o_, sizeof(o_), 400, NULL),
		  "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
	CHECK_OUT(http_error_response(o_, sizeof(o_), 403, NULL),
		  "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nProxy-Agent: gost/3.0\r\n\r\n");
	CHECK_OUT(http_error_response(o_, sizeof(o_), 503, NULL),
		  "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
		  "Proxy-Agent: gost/3.0\r\n\r\n");
	CHECK_OUT(http_error_response(o_, sizeof(o_), 503, " my\r\nagent "),
		  "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
		  "Proxy-Agent: my  agent\r\n\r\n");
	CHECK_OUT(http_error_response(o_, sizeof(o_), 404, "x"),
		  "HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
	CHECK_OUT(http_error_response(o_, sizeof(o_), 599, NULL),
		  "HTTP/1.1 599 status code 599\r\nConnection: close\r\n\r\n");
	char o[8];
	CHECK_INT(http_error_response(o, sizeof(o), 400, NULL), -1);
	CHECK_INT(http_error_response(o, sizeof(o), 42, NULL), -1);
}

static void test_auth_required_bytes(void)
{
	CHECK_OUT(http_auth_required(o_, sizeof(o_), NULL, false),
		  "HTTP/1.1 407 Proxy Authentication Required\r\nConnection: close\r\n"
		  "Proxy-Authenticate: Basic realm=\"gost\"\r\n\r\n");
	CHECK_OUT(http_auth_required(o_, sizeof(o_), NULL, true),
		  "HTTP/1.1 407 Proxy Authentication Required\r\nConnection: close\r\n"
		  "Proxy-Authenticate: Basic realm=\"gost\"\r\nProxy-Connection: close\r\n\r\n");
	CHECK_OUT(http_auth_required(o_, sizeof(o_), "my proxy", false),
		  "HTTP/1.1 407 Proxy Authentication Required\r\nConnection: close\r\n"
		  "Proxy-Authenticate: Basic realm=\"my proxy\"\r\n\r\n");
	char o[40];
	CHECK_INT(http_auth_required(o, sizeof(o), NULL, false), -1);
}

static void test_empty_response_bytes(void)
{
	CHECK_OUT(http_empty_response(o_, sizeof(o_), 1, 503),
		  "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
	CHECK_OUT(http_empty_response(o_, sizeof(o_), 0, 503),
		  "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
	CHECK_OUT(http_empty_response(o_, sizeof(o_), 1, 403),
		  "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
	CHECK_OUT(http_empty_response(o_, sizeof(o_), 1, 200),
		  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	CHECK_OUT(http_empty_response(o_, sizeof(o_), 1, 204), "HTTP/1.1 204 No Content\r\n\r\n");
	char o[8];
	CHECK_INT(http_empty_response(o, sizeof(o), 1, 503), -1);
	CHECK_INT(http_empty_response(o, sizeof(o), 10, 503), -1);
}

/* Every byte of some valid heads replaced by awkward values: whatever the
 * verdict, no read past the exactly-sized copy (ASan) and a sane result; a
 * rewrite fits the room it says it needs. */
static void test_mutated_heads_stay_in_bounds(void)
{
	static const char *const seeds[] = {
		"CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: a\r\nProxy-Authorization: Basic dTpw\r\n\r\n",
		("GET http://u@example.com:80/p?q HTTP/1.0\r\nConnection: keep-alive\r\n x\r\n"
		 "Content-Length: 1\r\nGost-Target: YWJj\r\n\r\n"),
		"POST / HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\nTrailer: x\n\n",
	};
	static const char vals[] = { 0, '\r', '\n', ' ', ':', '%', '[', ']', '@', '/', '?', (char)0xff, 'A' };
	int bad = 0;

	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		size_t n = strlen(seeds[s]);
		char *p = malloc(n);

		for (size_t i = 0; i < n; i++)
			for (size_t v = 0; v < sizeof(vals); v++) {
				struct http_req r;
				char out[HTTP_HEAD_MAX + 512];
				int rc;

				memcpy(p, seeds[s], n);
				p[i] = vals[v];
				rc = http_parse_request(p, n, &r);
				if (rc < -2 || rc > (int)n)
					bad++;
				if (rc <= 0)
					continue;
				int w = http_rewrite_request(p, &r, out, sizeof(out));
				if (w <= 0)
					bad++;
				else if (http_rewrite_request(p, &r, out, (size_t)w) != w ||
					 http_rewrite_request(p, &r, out, (size_t)w - 1) != -1)
					bad++;
			}
		free(p);
	}
	CHECK_INT(bad, 0);
}

int main(void)
{
	RUN(test_base64_std_follows_go);
	RUN(test_base64_rawurl_follows_go);
	RUN(test_connect_with_port_and_auth);
	RUN(test_connect_leaves_tunnel_bytes_alone);
	RUN(test_connect_without_port_goes_to_port_80);
	RUN(test_connect_ipv6_literal);
	RUN(test_connect_empty_host_and_host_header_fallback);
	RUN(test_connect_gost_target_overrides_host);
	RUN(test_forward_absolute_uri);
	RUN(test_forward_default_port_and_scheme_case);
	RUN(test_origin_form_with_valid_host_fails_the_round_trip);
	RUN(test_not_a_proxy_request_is_400);
	RUN(test_x_gost_protocol_udp);
	RUN(test_proxy_authorization_like_gost);
	RUN(test_keepalive_and_proxy_connection);
	RUN(test_body_framing_like_go);
	RUN(test_malformed_heads_are_refused);
	RUN(test_folding_and_bare_lf_are_accepted_like_go);
	RUN(test_head_limit);
	RUN(test_rewrite_for_origin);
	RUN(test_rewrite_fills_path_host_and_connection);
	RUN(test_rewrite_body_headers_and_upgrade);
	RUN(test_rewrite_unfolds_and_ends_lines_with_crlf);
	RUN(test_rewrite_needs_room);
	RUN(test_connect_ok_bytes);
	RUN(test_error_response_bytes);
	RUN(test_auth_required_bytes);
	RUN(test_empty_response_bytes);
	RUN(test_mutated_heads_stay_in_bounds);
	return UNIT_DONE();
}

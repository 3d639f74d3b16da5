/* Unit tests for the SOCKS front ends (user/proxy/socks_parse.c): every
 * message at every prefix length from exactly-sized heap copies, GOST's
 * refusals, addresses as GOST's chain receives them, and the reply bytes
 * gosocks4/gosocks5 write. */
#include <stdint.h>

#include "proxy/socks_parse.h"
#include "unit.h"

/* Each parser behind one signature, to feed heap copies at every length. */
enum which { S4, S5_GREET, S5_AUTH, S5_REQ, S5_UDP };

union out {
	struct socks4_req s4;
	struct {
		uint8_t methods[256];
		int n;
	} greet;
	struct {
		char user[256], pass[256];
	} auth;
	struct socks5_req s5;
	struct {
		struct relay_addr a;
		uint8_t frag;
	} udp;
};

static int call(enum which w, const uint8_t *p, size_t n, union out *o)
{
	switch (w) {
	case S4:
		return socks4_parse_request(p, n, &o->s4);
	case S5_GREET:
		return socks5_parse_greeting(p, n, o->greet.methods, &o->greet.n);
	case S5_AUTH:
		return socks5_parse_userpass(p, n, o->auth.user, o->auth.pass);
	case S5_REQ:
		return socks5_parse_request(p, n, &o->s5);
	default:
		return socks5_udp_parse(p, n, &o->udp.a, &o->udp.frag);
	}
}

static int parse_n(enum which w, const void *msg, size_t n, union out *o)
{
	uint8_t *p = malloc(n ? n : 1);
	int rc;

	memcpy(p, msg, n);
	rc = call(w, p, n, o);
	free(p);
	return rc;
}

/* All proper prefixes need more; the whole message parses to its length,
 * and bytes after it are not consumed. */
static int parse_all(enum which w, const void *msg, size_t n, union out *o)
{
	uint8_t *more = malloc(n + 5);
	int bad = 0, rc;

	for (size_t k = 0; k < n; k++) {
		rc = parse_n(w, msg, k, o);
		if (rc != 0) {
			fprintf(stderr, "  prefix %zu of %zu: %d\n", k, n, rc);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
	memcpy(more, msg, n);
	memcpy(more + n, "\x16\x03\x01\x00\x05", 5);
	CHECK_INT(parse_n(w, more, n + 5, o), (int)n);
	free(more);
	return parse_n(w, msg, n, o);
}

#define MSG(s) (const void *)(s), sizeof(s) - 1

static const uint8_t ip4_any[16];

/* ---- SOCKS4 ---- */

static void test_socks4_connect_ipv4_with_userid(void)
{
	union out o;

	CHECK_INT(parse_all(S4, MSG("\x04\x01\x00\x50\xc0\x00\x02\x0a" "alice\0"), &o), 14);
	CHECK_INT(o.s4.cmd, SOCKS4_CMD_CONNECT);
	CHECK_INT(o.s4.addr.atyp, RELAY_ATYP_IPV4);
	CHECK_MEM(o.s4.addr.ip, 4, "\xc0\x00\x02\x0a", 4);
	CHECK_INT(o.s4.addr.port, 80);
	CHECK_STR(o.s4.userid, "alice");
	/* empty userid */
	CHECK_INT(parse_all(S4, MSG("\x04\x01\x01\xbb\x0a\x00\x00\x01\0"), &o), 9);
	CHECK_STR(o.s4.userid, "");
	CHECK_INT(o.s4.addr.port, 443);
	/* 0.0.0.0 is an address, not the 4a marker */
	CHECK_INT(parse_all(S4, MSG("\x04\x01\x00\x16\x00\x00\x00\x00\0"), &o), 9);
	CHECK_INT(o.s4.addr.atyp, RELAY_ATYP_IPV4);
	CHECK_MEM(o.s4.addr.ip, 16, ip4_any, 16);
}

static void test_socks4a_domain(void)
{
	union out o;

	CHECK_INT(parse_all(S4, MSG("\x04\x01\x01\xbb\x00\x00\x00\x01" "bob\0" "example.com\0"), &o),
		  24);
	CHECK_INT(o.s4.addr.atyp, RELAY_ATYP_DOMAIN);
	CHECK_INT(o.s4.addr.dlen, 11);
	CHECK_STR(o.s4.addr.domain, "example.com");
	CHECK_INT(o.s4.addr.port, 443);
	CHECK_STR(o.s4.userid, "bob");
	/* any x != 0 marks 4a */
	CHECK_INT(parse_all(S4, MSG("\x04\x01\x00\x50\x00\x00\x00\xff\0a.b\0"), &o), 13);
	CHECK_STR(o.s4.addr.domain, "a.b");
	/* an empty host name is kept: ":80" for the chain */
	CHECK_INT(parse_all(S4, MSG("\x04\x01\x00\x50\x00\x00\x00\x01\0\0"), &o), 10);
	CHECK_INT(o.s4.addr.atyp, RELAY_ATYP_DOMAIN);
	CHECK_INT(o.s4.addr.dlen, 0);
	/* an IP literal as the name reaches the chain as that IP */
	CHECK_INT(parse_all(S4, MSG("\x04\x01\x00\x50\x00\x00\x00\x01\0" "10.1.2.3\0"), &o), 18);
	CHECK_INT(o.s4.addr.atyp, RELAY_ATYP_IPV4);
	CHECK_MEM(o.s4.addr.ip, 4, "\x0a\x01\x02\x03", 4);
	CHECK_INT(o.s4.addr.dlen, 0);
	CHECK_INT(parse_all(S4, MSG("\x04\x01\x00\x50\x00\x00\x00\x01\0" "2001:db8::7\0"), &o), 21);
	CHECK_INT(o.s4.addr.atyp, RELAY_ATYP_IPV6);
	CHECK_MEM(o.s4.addr.ip, 16, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07", 16);
}

static void test_socks4_bind_parses_and_other_commands_do_not(void)
{
	union out o;

	/* GOST reads BIND and then closes without a reply (unimplemented) */
	CHECK_INT(parse_all(S4, MSG("\x04\x02\x00\x50\x01\x02\x03\x04\0"), &o), 9);
	CHECK_INT(o.s4.cmd, SOCKS4_CMD_BIND);
	CHECK_INT(parse_n(S4, MSG("\x04\x03\x00\x50\x01\x02\x03\x04\0"), &o), -1);
	CHECK_INT(parse_n(S4, MSG("\x04\x03"), &o), -1);
	CHECK_INT(parse_n(S4, MSG("\x04\x00\x00\x50\x01\x02\x03\x04\0"), &o), -1);
	CHECK_INT(parse_n(S4, MSG("\x05"), &o), -1);
}

static void test_socks4_field_limits(void)
{
	uint8_t m[8 + 300 + 300];
	union out o;

	memcpy(m, "\x04\x01\x00\x50\x01\x02\x03\x04", 8);
	/* 255-byte userid is the longest GOST reads */
	memset(m + 8, 'u', 255);
	m[8 + 255] = 0;
	CHECK_INT(parse_n(S4, m, 8 + 256, &o), 8 + 256);
	CHECK_INT(strlen(o.s4.userid), 255);
	CHECK_INT(parse_n(S4, m, 8 + 255, &o), 0);
	memset(m + 8, 'u', 256);
	CHECK_INT(parse_n(S4, m, 8 + 256, &o), -1);
	CHECK_INT(parse_n(S4, m, 8 + 257, &o), -1);
	/* and the same for the 4a host name */
	memcpy(m + 4, "\x00\x00\x00\x01", 4);
	m[8] = 0;
	memset(m + 9, 'h', 255);
	m[9 + 255] = 0;
	CHECK_INT(parse_n(S4, m, 9 + 256, &o), 9 + 256);
	CHECK_INT(o.s4.addr.dlen, 255);
	memset(m + 9, 'h', 256);
	CHECK_INT(parse_n(S4, m, 9 + 256, &o), -1);
}

static void test_socks4_reply_bytes(void)
{
	uint8_t out[8];

	CHECK_INT(socks4_reply(out, SOCKS4_GRANTED), 8);
	CHECK_MEM(out, 8, "\x00\x5a\x00\x00\x00\x00\x00\x00", 8);
	socks4_reply(out, SOCKS4_FAILED);
	CHECK_MEM(out, 8, "\x00\x5b\x00\x00\x00\x00\x00\x00", 8);
	socks4_reply(out, SOCKS4_NO_IDENTD);
	CHECK_MEM(out, 8, "\x00\x5c\x00\x00\x00\x00\x00\x00", 8);
	socks4_reply(out, SOCKS4_BAD_USERID);
	CHECK_MEM(out, 8, "\x00\x5d\x00\x00\x00\x00\x00\x00", 8);
}

/* ---- SOCKS5 method selection ---- */

static void test_socks5_greeting(void)
{
	union out o;

	CHECK_INT(parse_all(S5_GREET, MSG("\x05\x01\x00"), &o), 3);
	CHECK_INT(o.greet.n, 1);
	CHECK(o.greet.methods[0]);
	CHECK(!o.greet.methods[2]);
	CHECK_INT(parse_all(S5_GREET, MSG("\x05\x04\x00\x02\x80\x82"), &o), 6);
	CHECK_INT(o.greet.n, 4);
	CHECK(o.greet.methods[0] && o.greet.methods[2] && o.greet.methods[0x80] && o.greet.methods[0x82]);
	CHECK(!o.greet.methods[1]);
	/* repeated methods count once in the table, NMETHODS is kept */
	CHECK_INT(parse_all(S5_GREET, MSG("\x05\x02\x02\x02"), &o), 4);
	CHECK_INT(o.greet.n, 2);
	/* GOST refuses NMETHODS = 0 and other versions, without a reply */
	CHECK_INT(parse_n(S5_GREET, MSG("\x05\x00"), &o), -1);
	CHECK_INT(parse_n(S5_GREET, MSG("\x04\x01\x00"), &o), -1);
	CHECK_INT(parse_n(S5_GREET, MSG("\x04"), &o), -1);
}

static void test_socks5_greeting_all_methods(void)
{
	uint8_t m[257];
	union out o;

	m[0] = 5;
	m[1] = 255;
	for (int i = 0; i < 255; i++)
		m[2 + i] = (uint8_t)(i + 1);
	CHECK_INT(parse_n(S5_GREET, m, 257, &o), 257);
	CHECK_INT(parse_n(S5_GREET, m, 256, &o), 0);
	CHECK_INT(o.greet.n, 255);
	CHECK(!o.greet.methods[0]);
	CHECK(o.greet.methods[255]);
}

static void test_socks5_method_selection_like_gost(void)
{
	uint8_t m[256] = { 0 };
	uint8_t out[2];

	m[SOCKS5_METHOD_NONE] = 1;
	CHECK_INT(socks5_select_method(m, false), SOCKS5_METHOD_NONE);
	/* with users, no-auth is not acceptable even when offered */
	CHECK_INT(socks5_select_method(m, true), SOCKS5_METHOD_NO_ACCEPTABLE);
	m[SOCKS5_METHOD_USERPASS] = 1;
	CHECK_INT(socks5_select_method(m, true), SOCKS5_METHOD_USERPASS);
	CHECK_INT(socks5_select_method(m, false), SOCKS5_METHOD_NONE);
	/* without users, user/pass alone is not acceptable either */
	m[SOCKS5_METHOD_NONE] = 0;
	CHECK_INT(socks5_select_method(m, false), SOCKS5_METHOD_NO_ACCEPTABLE);
	/* GOST's TLS methods (0x80, 0x82) are never chosen here */
	memset(m, 0, sizeof(m));
	m[0x80] = m[0x82] = 1;
	CHECK_INT(socks5_select_method(m, false), SOCKS5_METHOD_NO_ACCEPTABLE);
	CHECK_INT(socks5_select_method(m, true), SOCKS5_METHOD_NO_ACCEPTABLE);

	CHECK_INT(socks5_method_reply(out, SOCKS5_METHOD_NONE), 2);
	CHECK_MEM(out, 2, "\x05\x00", 2);
	socks5_method_reply(out, SOCKS5_METHOD_USERPASS);
	CHECK_MEM(out, 2, "\x05\x02", 2);
	socks5_method_reply(out, SOCKS5_METHOD_NO_ACCEPTABLE);
	CHECK_MEM(out, 2, "\x05\xff", 2);
}

/* ---- RFC 1929 ---- */

static void test_socks5_userpass(void)
{
	union out o;
	uint8_t out[2];

	CHECK_INT(parse_all(S5_AUTH, MSG("\x01\x05" "alice" "\x06" "s3cret"), &o), 14);
	CHECK_STR(o.auth.user, "alice");
	CHECK_STR(o.auth.pass, "s3cret");
	/* GOST accepts empty fields */
	CHECK_INT(parse_all(S5_AUTH, MSG("\x01\x00\x00"), &o), 3);
	CHECK_STR(o.auth.user, "");
	CHECK_STR(o.auth.pass, "");
	CHECK_INT(parse_all(S5_AUTH, MSG("\x01\x01u\x00"), &o), 4);
	CHECK_STR(o.auth.user, "u");
	/* only sub-negotiation version 1 */
	CHECK_INT(parse_n(S5_AUTH, MSG("\x05\x01u\x01p"), &o), -1);
	CHECK_INT(parse_n(S5_AUTH, MSG("\x00"), &o), -1);
	/* a NUL inside cannot match any user: a failed login, not a parse error */
	CHECK_INT(parse_n(S5_AUTH, MSG("\x01\x03" "a\0b" "\x01p"), &o), -2);
	CHECK_INT(parse_n(S5_AUTH, MSG("\x01\x01" "a" "\x02p\0"), &o), -2);
	CHECK_INT(parse_n(S5_AUTH, MSG("\x01\x03" "a\0b" "\x01"), &o), 0);

	CHECK_INT(socks5_userpass_reply(out, true), 2);
	CHECK_MEM(out, 2, "\x01\x00", 2);
	socks5_userpass_reply(out, false);
	CHECK_MEM(out, 2, "\x01\x01", 2);
}

static void test_socks5_userpass_longest_fields(void)
{
	uint8_t m[3 + 255 + 255];
	union out o;

	m[0] = 1;
	m[1] = 255;
	memset(m + 2, 'u', 255);
	m[257] = 255;
	memset(m + 258, 'p', 255);
	CHECK_INT(parse_n(S5_AUTH, m, sizeof(m), &o), (int)sizeof(m));
	CHECK_INT(strlen(o.auth.user), 255);
	CHECK_INT(strlen(o.auth.pass), 255);
	CHECK_INT(parse_n(S5_AUTH, m, sizeof(m) - 1, &o), 0);
}

/* ---- SOCKS5 requests ---- */

static void test_socks5_request_ipv4(void)
{
	union out o;

	CHECK_INT(parse_all(S5_REQ, MSG("\x05\x01\x00\x01\xc0\x00\x02\x0a\x00\x50"), &o), 10);
	CHECK_INT(o.s5.cmd, SOCKS5_CMD_CONNECT);
	CHECK_INT(o.s5.addr.atyp, RELAY_ATYP_IPV4);
	CHECK_MEM(o.s5.addr.ip, 4, "\xc0\x00\x02\x0a", 4);
	CHECK_INT(o.s5.addr.port, 80);
}

static void test_socks5_request_ipv6(void)
{
	union out o;

	CHECK_INT(parse_all(S5_REQ,
			    MSG("\x05\x01\x00\x04\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x01\xbb"),
			    &o),
		  22);
	CHECK_INT(o.s5.addr.atyp, RELAY_ATYP_IPV6);
	CHECK_MEM(o.s5.addr.ip, 16, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	CHECK_INT(o.s5.addr.port, 443);
	/* v4-mapped prints as IPv4 in Go, and the chain gets IPv4 */
	CHECK_INT(parse_all(S5_REQ,
			    MSG("\x05\x01\x00\x04\0\0\0\0\0\0\0\0\0\0\xff\xff\x0a\x00\x00\x01\x00\x35"),
			    &o),
		  22);
	CHECK_INT(o.s5.addr.atyp, RELAY_ATYP_IPV4);
	CHECK_MEM(o.s5.addr.ip, 16, "\x0a\x00\x00\x01\0\0\0\0\0\0\0\0\0\0\0\0", 16);
}

static void test_socks5_request_domain(void)
{
	union out o;

	CHECK_INT(parse_all(S5_REQ, MSG("\x05\x01\x00\x03\x0b" "example.com" "\x01\xbb"), &o), 18);
	CHECK_INT(o.s5.addr.atyp, RELAY_ATYP_DOMAIN);
	CHECK_INT(o.s5.addr.dlen, 11);
	CHECK_STR(o.s5.addr.domain, "example.com");
	CHECK_INT(o.s5.addr.port, 443);
	/* zero-length domain: ":port" for the chain */
	CHECK_INT(parse_all(S5_REQ, MSG("\x05\x01\x00\x03\x00\x00\x16"), &o), 7);
	CHECK_INT(o.s5.addr.atyp, RELAY_ATYP_DOMAIN);
	CHECK_INT(o.s5.addr.dlen, 0);
	CHECK_INT(o.s5.addr.port, 22);
	/* IP literals sent as names reach the chain as IPs */
	CHECK_INT(parse_all(S5_REQ, MSG("\x05\x01\x00\x03\x07" "1.2.3.4" "\x00\x50"), &o), 14);
	CHECK_INT(o.s5.addr.atyp, RELAY_ATYP_IPV4);
	CHECK_MEM(o.s5.addr.ip, 4, "\x01\x02\x03\x04", 4);
	CHECK_INT(parse_all(S5_REQ, MSG("\x05\x01\x00\x03\x03" "::1" "\x00\x50"), &o), 10);
	CHECK_INT(o.s5.addr.atyp, RELAY_ATYP_IPV6);
	CHECK_INT(o.s5.addr.ip[15], 1);
	CHECK_INT(parse_all(S5_REQ, MSG("\x05\x01\x00\x03\x0f" "::ffff:10.0.0.9" "\x00\x50"), &o),
		  22);
	CHECK_INT(o.s5.addr.atyp, RELAY_ATYP_IPV4);
	CHECK_MEM(o.s5.addr.ip, 4, "\x0a\x00\x00\x09", 4);
	/* Go's ParseIP refuses leading zeros and short forms: they stay names */
	CHECK_INT(parse_all(S5_REQ, MSG("\x05\x01\x00\x03\x08" "01.2.3.4" "\x00\x50"), &o), 15);
	CHECK_INT(o.s5.addr.atyp, RELAY_ATYP_DOMAIN);
	CHECK_INT(parse_all(S5_REQ, MSG("\x05\x01\x00\x03\x05" "1.2.3" "\x00\x50"), &o), 12);
	CHECK_INT(o.s5.addr.atyp, RELAY_ATYP_DOMAIN);
	/* a NUL in a name is kept, and never read as an IP */
	CHECK_INT(parse_all(S5_REQ, MSG("\x05\x01\x00\x03\x08" "1.2.3.4\0" "\x00\x50"), &o), 15);
	CHECK_INT(o.s5.addr.atyp, RELAY_ATYP_DOMAIN);
	CHECK_INT(o.s5.addr.dlen, 8);
}

static void test_socks5_request_longest_domain(void)
{
	uint8_t m[5 + 255 + 2];
	union out o;

	memcpy(m, "\x05\x01\x00\x03\xff", 5);
	memset(m + 5, 'd', 255);
	m[260] = 0x12;
	m[261] = 0x34;
	CHECK_INT(parse_n(S5_REQ, m, sizeof(m), &o), (int)sizeof(m));
	CHECK_INT(o.s5.addr.dlen, 255);
	CHECK_INT(strlen(o.s5.addr.domain), 255);
	CHECK_INT(o.s5.addr.port, 0x1234);
	CHECK_INT(parse_n(S5_REQ, m, sizeof(m) - 1, &o), 0);
}

static void test_socks5_request_commands_and_refusals(void)
{
	union out o;

	/* every command parses; the handler answers unknown ones with 07 */
	CHECK_INT(parse_n(S5_REQ, MSG("\x05\x03\x00\x01\0\0\0\0\0\0"), &o), 10);
	CHECK_INT(o.s5.cmd, SOCKS5_CMD_UDP);
	CHECK_INT(parse_n(S5_REQ, MSG("\x05\x09\x00\x01\0\0\0\0\0\0"), &o), 10);
	CHECK_INT(o.s5.cmd, 9);
	/* RSV is not checked */
	CHECK_INT(parse_n(S5_REQ, MSG("\x05\x01\x7f\x01\x01\x01\x01\x01\x00\x50"), &o), 10);
	/* bad version or address type: GOST closes without a reply */
	CHECK_INT(parse_n(S5_REQ, MSG("\x04\x01\x00\x01\0\0\0\0\0\0"), &o), -1);
	CHECK_INT(parse_n(S5_REQ, MSG("\x04"), &o), -1);
	CHECK_INT(parse_n(S5_REQ, MSG("\x05\x01\x00\x02\0\0\0\0\0\0"), &o), -1);
	CHECK_INT(parse_n(S5_REQ, MSG("\x05\x01\x00\x00"), &o), -1);
	CHECK_INT(parse_n(S5_REQ, MSG("\x05\x01\x00\x05"), &o), -1);
}

/* ---- SOCKS5 replies ---- */

static void test_socks5_reply_bytes(void)
{
	uint8_t out[300];
	struct relay_addr a;

	/* failures carry IPv4 0.0.0.0:0 */
	CHECK_INT(socks5_reply(out, sizeof(out), SOCKS5_REP_NET_UNREACHABLE, NULL), 10);
	CHECK_MEM(out, 10, "\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00", 10);
	socks5_reply(out, sizeof(out), SOCKS5_REP_NOT_ALLOWED, NULL);
	CHECK_MEM(out, 10, "\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00", 10);
	socks5_reply(out, sizeof(out), SOCKS5_REP_CMD_UNSUPPORTED, NULL);
	CHECK_MEM(out, 10, "\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00", 10);
	socks5_reply(out, sizeof(out), SOCKS5_REP_FAILURE, NULL);
	CHECK_MEM(out, 10, "\x05\x01\x00\x01\x00\x00\x00\x00\x00\x00", 10);

	/* success carries the upstream connection's local address */
	memset(&a, 0, sizeof(a));
	a.atyp = RELAY_ATYP_IPV4;
	memcpy(a.ip, "\xc0\xa8\x01\x05", 4);
	a.port = 54321;
	CHECK_INT(socks5_reply(out, sizeof(out), SOCKS5_REP_OK, &a), 10);
	CHECK_MEM(out, 10, "\x05\x00\x00\x01\xc0\xa8\x01\x05\xd4\x31", 10);
	memset(&a, 0, sizeof(a));
	a.atyp = RELAY_ATYP_IPV6;
	a.ip[15] = 1;
	a.port = 1080;
	CHECK_INT(socks5_reply(out, sizeof(out), SOCKS5_REP_OK, &a), 22);
	CHECK_MEM(out, 22, "\x05\x00\x00\x04\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x04\x38", 22);
	/* a v4-mapped bound address goes out as IPv4, as Go prints it */
	memset(&a, 0, sizeof(a));
	a.atyp = RELAY_ATYP_IPV6;
	memcpy(a.ip + 10, "\xff\xff\x7f\x00\x00\x01", 6);
	a.port = 80;
	CHECK_INT(socks5_reply(out, sizeof(out), SOCKS5_REP_OK, &a), 10);
	CHECK_MEM(out, 10, "\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50", 10);
	/* domain */
	memset(&a, 0, sizeof(a));
	a.atyp = RELAY_ATYP_DOMAIN;
	a.dlen = 4;
	memcpy(a.domain, "host", 4);
	a.port = 1;
	CHECK_INT(socks5_reply(out, sizeof(out), SOCKS5_REP_OK, &a), 11);
	CHECK_MEM(out, 11, "\x05\x00\x00\x03\x04host\x00\x01", 11);
	/* unset: IPv4 zero with the port */
	memset(&a, 0, sizeof(a));
	a.port = 7;
	CHECK_INT(socks5_reply(out, sizeof(out), SOCKS5_REP_OK, &a), 10);
	CHECK_MEM(out, 10, "\x05\x00\x00\x01\x00\x00\x00\x00\x00\x07", 10);
	/* room */
	CHECK_INT(socks5_reply(out, 10, SOCKS5_REP_OK, NULL), 10);
	CHECK_INT(socks5_reply(out, 9, SOCKS5_REP_OK, NULL), -1);
	CHECK_INT(socks5_reply(out, 2, SOCKS5_REP_OK, NULL), -1);
}

/* ---- UDP header ---- */

static void test_socks5_udp_header(void)
{
	union out o;
	uint8_t out[300];
	struct relay_addr a;

	CHECK_INT(parse_all(S5_UDP, MSG("\x00\x00\x00\x01\x08\x08\x08\x08\x00\x35"), &o), 10);
	CHECK_INT(o.udp.frag, 0);
	CHECK_INT(o.udp.a.atyp, RELAY_ATYP_IPV4);
	CHECK_MEM(o.udp.a.ip, 4, "\x08\x08\x08\x08", 4);
	CHECK_INT(o.udp.a.port, 53);
	/* GOST ignores RSV and FRAG; the caller sees FRAG */
	CHECK_INT(parse_all(S5_UDP, MSG("\x12\x34\x01\x03\x07" "dns.lan" "\x00\x35"), &o), 14);
	CHECK_INT(o.udp.frag, 1);
	CHECK_STR(o.udp.a.domain, "dns.lan");
	CHECK_INT(parse_n(S5_UDP, MSG("\x00\x00\x00\x07\x00"), &o), -1);

	memset(&a, 0, sizeof(a));
	a.atyp = RELAY_ATYP_IPV4;
	memcpy(a.ip, "\x08\x08\x04\x04", 4);
	a.port = 53;
	CHECK_INT(socks5_udp_encode(out, sizeof(out), &a), 10);
	CHECK_MEM(out, 10, "\x00\x00\x00\x01\x08\x08\x04\x04\x00\x35", 10);
	memset(&a, 0, sizeof(a));
	a.atyp = RELAY_ATYP_IPV6;
	a.ip[0] = 0xfe;
	a.ip[1] = 0x80;
	a.port = 5353;
	CHECK_INT(socks5_udp_encode(out, sizeof(out), &a), 22);
	CHECK_MEM(out, 22, "\x00\x00\x00\x04\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x14\xe9", 22);
	CHECK_INT(socks5_udp_encode(out, 21, &a), -1);
}

/* Every byte of valid messages replaced by awkward values, fed to every
 * parser as exactly-sized copies: no over-read (ASan), results in range. */
static void test_mutated_messages_stay_in_bounds(void)
{
	static const struct {
		const void *m;
		size_t n;
	} seeds[] = {
		{ MSG("\x04\x01\x00\x50\x00\x00\x00\x01u\0h.example\0") },
		{ MSG("\x05\x02\x00\x02") },
		{ MSG("\x01\x02us\x02pw") },
		{ MSG("\x05\x01\x00\x03\x04host\x00\x50") },
		{ MSG("\x00\x00\x00\x04\0\0\0\0\0\0\0\0\0\0\xff\xff\x01\x02\x03\x04\x00\x35") },
	};
	static const uint8_t vals[] = { 0, 1, 2, 3, 4, 5, 0x7f, 0xff, '.', ':' };
	int bad = 0;

	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++)
		for (size_t i = 0; i < seeds[s].n; i++)
			for (size_t v = 0; v < sizeof(vals); v++)
				for (int w = S4; w <= S5_UDP; w++) {
					uint8_t *p = malloc(seeds[s].n);
					union out o;
					int rc;

					memcpy(p, seeds[s].m, seeds[s].n);
					p[i] = vals[v];
					rc = call((enum which)w, p, seeds[s].n, &o);
					if (rc < -2 || rc > (int)seeds[s].n)
						bad++;
					free(p);
				}
	CHECK_INT(bad, 0);
}

int main(void)
{
	RUN(test_socks4_connect_ipv4_with_userid);
	RUN(test_socks4a_domain);
	RUN(test_socks4_bind_parses_and_other_commands_do_not);
	RUN(test_socks4_field_limits);
	RUN(test_socks4_reply_bytes);
	RUN(test_socks5_greeting);
	RUN(test_socks5_greeting_all_methods);
	RUN(test_socks5_method_selection_like_gost);
	RUN(test_socks5_userpass);
	RUN(test_socks5_userpass_longest_fields);
	RUN(test_socks5_request_ipv4);
	RUN(test_socks5_request_ipv6);
	RUN(test_socks5_request_domain);
	RUN(test_socks5_request_longest_domain);
	RUN(test_socks5_request_commands_and_refusals);
	RUN(test_socks5_reply_bytes);
	RUN(test_socks5_udp_header);
	RUN(test_mutated_messages_stay_in_bounds);
	return UNIT_DONE();
}

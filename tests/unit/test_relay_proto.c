/* Unit tests for the relay wire codec (user/proxy/relay_proto.c).  Every entry
 * of relay-vectors.json, which GOST's own code produced, is rebuilt with the
 * writer or decoded and compared byte for byte and error text for error text;
 * every prefix of every valid message is fed as an exactly-sized heap copy so
 * the sanitizer build catches any over-read.  Address text, Go's IPv6 printing,
 * sockaddr conversion and the writer's limits are tested directly as well.
 * Run from the repository root (or set RELAYD_VECTORS). */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "proxy/relay_proto.h"
#include "unit.h"

#define N_RELAY_VECTORS 114

static json_t *g_vec;                   /* the vector array */
static bool g_hit[1024];                /* vector i was exercised by some check */

/* ---- helpers ---------------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long jint(const json_t *o, const char *key, long long def)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

static bool jflag(const json_t *mn, const char *flag)
{
	const json_t *flags = json_object_get(mn, "flags"), *f;
	size_t i;

	json_array_foreach(flags, i, f)
		if (json_is_string(f) && strcmp(json_string_value(f), flag) == 0)
			return true;
	return false;
}

/* Hex to a heap buffer of exactly the decoded size (NULL when empty), so
 * ASan flags a read one byte past it. */
static uint8_t *unhex(const char *hex, size_t *n)
{
	size_t len = hex ? strlen(hex) / 2 : 0, i;
	uint8_t *b;

	*n = len;
	if (len == 0)
		return NULL;
	b = malloc(len);
	if (!b)
		abort();
	for (i = 0; i < len; i++) {
		unsigned v = 0;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		b[i] = (uint8_t)v;
	}
	return b;
}

static uint8_t *heap_copy(const uint8_t *b, size_t n)
{
	uint8_t *c;

	if (n == 0)
		return NULL;
	c = malloc(n);
	if (!c)
		abort();
	memcpy(c, b, n);
	return c;
}

/* Compare bytes with a hex string from the vectors. */
static bool mem_eq_hex(const uint8_t *b, size_t n, const char *hex)
{
	size_t hn;
	uint8_t *h = unhex(hex, &hn);
	bool eq = hn == n && (n == 0 || memcmp(b, h, n) == 0);

	free(h);
	return eq;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* Go's net.JoinHostPort, which is how GOST turns an ADDR into text. */
static void join_host_port(char *out, size_t cap, const char *host, long long port)
{
	if (strchr(host, ':'))
		snprintf(out, cap, "[%s]:%lld", host, port);
	else
		snprintf(out, cap, "%s:%lld", host, port);
}

/* What GOST's io.ReadFull-based reader reports when buf is all the stream
 * holds: the codec says "need more" and the caller maps that (header doc). */
static int decode_at_eof(const uint8_t *buf, size_t len, enum relay_decode_mode mode,
			 struct relay_msg *m, bool *mapped)
{
	size_t need = 0;
	int rc = relay_decode(buf, len, mode, m, &need);

	*mapped = false;
	if (rc != 0)
		return rc;
	*mapped = true;
	if (len == 0 || (len == RELAY_HDR_LEN && need > RELAY_HDR_LEN))
		return RELAY_E_EOF;
	return RELAY_E_UNEXPECTED_EOF;
}

/* Every prefix shorter than upto asks for more, with the right *need. */
static void check_prefixes(const uint8_t *full, size_t upto)
{
	size_t p;

	for (p = 0; p < upto; p++) {
		uint8_t *c = heap_copy(full, p);
		struct relay_msg m;
		size_t need = 0, want;
		int rc = relay_decode(c, p, RELAY_DECODE_STRICT, &m, &need);

		want = p < RELAY_HDR_LEN ? RELAY_HDR_LEN : RELAY_HDR_LEN + be16(full + 2);
		CHECK_INT(rc, 0);
		CHECK_INT(need, want);
		rc = relay_decode(c, p, RELAY_DECODE_TOLERANT, &m, NULL);
		CHECK_INT(rc, 0);
		free(c);
	}
}

/* ---- building messages from a vector's "meaning" ---------------------- */

enum addr_src { ADDR_FROM_FIELDS, ADDR_FROM_TEXT };

/* An ADDR from the decoded fields, with the test's own inet_pton. */
static int addr_from_fields(const json_t *f, struct relay_addr *a)
{
	const char *host = jstr(f, "host");
	long long atyp = jint(f, "atyp", -1);

	memset(a, 0, sizeof(*a));
	if (!host)
		return -1;
	a->atyp = (uint8_t)atyp;
	a->port = (uint16_t)jint(f, "port", 0);
	if (atyp == RELAY_ATYP_IPV4)
		return inet_pton(AF_INET, host, a->ip) == 1 ? 0 : -1;
	if (atyp == RELAY_ATYP_IPV6)
		return inet_pton(AF_INET6, host, a->ip) == 1 ? 0 : -1;
	if (atyp == RELAY_ATYP_DOMAIN && strlen(host) <= 255) {
		a->dlen = (uint8_t)strlen(host);
		memcpy(a->domain, host, a->dlen);
		return 0;
	}
	return -1;
}

/* An ADDR from the text GOST would have parsed: a path or name without a
 * port stays bare (as for unix/serial), anything else is host:port. */
static int addr_from_text(const json_t *f, struct relay_addr *a, const char *override)
{
	const char *host = jstr(f, "host");
	long long port = jint(f, "port", 0);
	char text[600];

	if (override)
		return relay_addr_parse(a, override);
	if (!host)
		return -1;
	if (port == 0 && jint(f, "atyp", 0) == RELAY_ATYP_DOMAIN && *host)
		snprintf(text, sizeof(text), "%s", host);
	else
		join_host_port(text, sizeof(text), host, port);
	return relay_addr_parse(a, text);
}

static int unhex_fixed(const char *hex, uint8_t *out, size_t n)
{
	size_t got;
	uint8_t *b = unhex(hex, &got);
	int rc = got == n ? 0 : -1;

	if (rc == 0)
		memcpy(out, b, n);
	free(b);
	return rc;
}

/* The message a vector describes, features in the listed order. */
static int build_msg(const json_t *mn, uint8_t code, enum addr_src src, const char *text_override,
		     uint8_t *out, size_t cap)
{
	const json_t *feats = json_object_get(mn, "features"), *f;
	struct relay_writer w;
	size_t i;

	relay_w_begin(&w, out, cap, code);
	json_array_foreach(feats, i, f) {
		struct relay_addr a;
		uint8_t tun[20];

		switch (jint(f, "type", -1)) {
		case RELAY_FEAT_USER_AUTH:
			relay_w_user(&w, jstr(f, "username"), jstr(f, "password"));
			break;
		case RELAY_FEAT_ADDR:
			if ((src == ADDR_FROM_FIELDS ? addr_from_fields(f, &a)
						     : addr_from_text(f, &a, text_override)) < 0)
				return -1000;
			relay_w_addr(&w, &a);
			break;
		case RELAY_FEAT_TUNNEL:
			if (unhex_fixed(jstr(f, "id_hex"), tun, sizeof(tun)) < 0)
				return -1000;
			relay_w_tunnel(&w, tun);
			break;
		case RELAY_FEAT_NETWORK:
			relay_w_network(&w, (uint16_t)jint(f, "network_id", -1));
			break;
		default:
			return -1000;
		}
	}
	return relay_w_finish(&w);
}

static int msg_code(const char *name, const json_t *mn)
{
	const char *cmd = jstr(mn, "cmd_byte");

	if (starts_with(name, "req_") || starts_with(name, "dec_req_"))
		return cmd ? (int)strtol(cmd, NULL, 16) : -1;
	return (int)jint(mn, "status", -1);
}

/* ---- checking decoded messages against a vector's "meaning" ----------- */

static void check_addr(const struct relay_addr *a, const json_t *f)
{
	const char *host = jstr(f, "host");
	long long atyp = jint(f, "atyp", -1);
	char want[600], got[300];
	uint8_t ip[16];

	if (!host) {
		CHECK(host != NULL);
		return;
	}
	CHECK_INT(a->atyp, atyp);
	CHECK_INT(a->port, jint(f, "port", -1));
	if (atyp == RELAY_ATYP_IPV4) {
		CHECK(inet_pton(AF_INET, host, ip) == 1);
		CHECK_MEM(a->ip, 4, ip, 4);
	} else if (atyp == RELAY_ATYP_IPV6) {
		CHECK(inet_pton(AF_INET6, host, ip) == 1);
		CHECK_MEM(a->ip, 16, ip, 16);
	} else {
		CHECK_MEM(a->domain, a->dlen, host, strlen(host));
		CHECK_INT(a->domain[a->dlen], 0);
	}
	/* the server's target text is what Go's handler builds */
	join_host_port(want, sizeof(want), host, jint(f, "port", -1));
	CHECK_INT(relay_addr_format(a, got, sizeof(got)), strlen(want));
	CHECK_STR(got, want);
}

/* The last feature of each type wins, the first ADDR is kept too. */
static void check_features(const struct relay_msg *m, const json_t *feats)
{
	const json_t *f, *user = NULL, *first = NULL, *last = NULL, *net = NULL, *tun = NULL;
	unsigned n_addr = 0;
	size_t i;

	json_array_foreach(feats, i, f) {
		switch (jint(f, "type", -1)) {
		case RELAY_FEAT_USER_AUTH: user = f; break;
		case RELAY_FEAT_ADDR: if (!first) first = f; last = f; n_addr++; break;
		case RELAY_FEAT_TUNNEL: tun = f; break;
		case RELAY_FEAT_NETWORK: net = f; break;
		default: CHECK(!"feature type the test does not know"); break;
		}
	}
	CHECK_INT(m->has_user, user != NULL);
	if (user) {
		CHECK_STR(m->user, jstr(user, "username"));
		CHECK_STR(m->pass, jstr(user, "password"));
		CHECK_INT(m->ulen, strlen(jstr(user, "username")));
		CHECK_INT(m->plen, strlen(jstr(user, "password")));
	}
	CHECK_INT(m->n_addr, n_addr);
	if (last) {
		check_addr(&m->addr, last);
		check_addr(&m->addr_first, first);
	}
	CHECK_INT(m->has_network, net != NULL);
	if (net)
		CHECK_INT(m->network, jint(net, "network_id", -1));
	CHECK_INT(m->has_tunnel, tun != NULL);
	if (tun)
		CHECK(mem_eq_hex(m->tunnel, sizeof(m->tunnel), jstr(tun, "id_hex")));
}

static void check_msg(const struct relay_msg *m, const char *name, const json_t *mn)
{
	const json_t *feats = json_object_get(mn, "features"), *f;
	const char *want_net = "tcp";
	size_t i;

	CHECK_INT(m->version, jint(mn, "version", -1));
	CHECK_INT(m->code, msg_code(name, mn));
	check_features(m, feats);
	if (starts_with(name, "req_") || starts_with(name, "dec_req_")) {
		CHECK_INT(jflag(mn, "FUDP"), (m->code & RELAY_FLAG_UDP) != 0);
		json_array_foreach(feats, i, f)
			if (jint(f, "type", -1) == RELAY_FEAT_NETWORK)
				want_net = jstr(f, "network");
		if (m->code & RELAY_FLAG_UDP)
			want_net = "udp";
		CHECK_STR(relay_msg_network(m), want_net);
	}
}

/* ---- per-family vector handlers; each returns whether it knew the name --- */

static uint8_t g_out[RELAY_MAX_MSG + 16];

static bool run_encode_error(const char *name, const char *err)
{
	static char big[300];
	struct relay_writer w;
	struct relay_addr a;
	int rc, i;

	memset(big, 0, sizeof(big));
	relay_w_begin(&w, g_out, sizeof(g_out), RELAY_CMD_CONNECT);
	if (strcmp(name, "req_username_256_encode_error") == 0) {
		memset(big, 'u', 256);
		relay_w_user(&w, big, "pass");
	} else if (strcmp(name, "req_password_256_encode_error") == 0) {
		memset(big, 'p', 256);
		relay_w_user(&w, "user", big);
	} else if (strcmp(name, "req_domain_256_encode_error") == 0) {
		memset(big, 'a', 256);
		strcat(big, ":443");
		rc = relay_addr_parse(&a, big);
		CHECK_INT(rc, RELAY_E_ADDR_TOO_LONG);
		CHECK_STR(relay_strerror(rc), err);
		return true;
	} else if (strcmp(name, "req_features_total_over_65535_encode_error") == 0) {
		/* 13108 NETWORK features are 65540 bytes of features */
		for (i = 0; i < 13108; i++)
			relay_w_network(&w, RELAY_NET_TCP);
	} else {
		return false;
	}
	rc = relay_w_finish(&w);
	CHECK(rc < 0);
	CHECK_STR(relay_strerror(rc), err);
	return true;
}

/* req_* and resp_*: build from the fields, compare, and decode back. */
static bool run_message_vector(const char *name, const char *hex, const json_t *mn, const char *err)
{
	size_t wlen;
	uint8_t *want, *copy;
	int code = msg_code(name, mn), rc, mode;
	const char *text = NULL;

	if (ends_with(name, "_encode_error"))
		return run_encode_error(name, err);
	if (err || code < 0)
		return false;
	want = unhex(hex, &wlen);
	CHECK_INT(wlen, jint(mn, "total_len", -1));

	rc = build_msg(mn, (uint8_t)code, ADDR_FROM_FIELDS, NULL, g_out, sizeof(g_out));
	CHECK_INT(rc, wlen);
	CHECK(rc > 0 && mem_eq_hex(g_out, (size_t)rc, hex));

	if (starts_with(name, "req_ipv4_mapped_ipv6_parses_as_ipv4"))
		text = "[::ffff:192.0.2.1]:80";
	rc = build_msg(mn, (uint8_t)code, ADDR_FROM_TEXT, text, g_out, sizeof(g_out));
	CHECK_INT(rc, wlen);
	CHECK(rc > 0 && mem_eq_hex(g_out, (size_t)rc, hex));

	/* exactly the right capacity is enough, one byte less is not */
	rc = build_msg(mn, (uint8_t)code, ADDR_FROM_FIELDS, NULL, g_out, wlen);
	CHECK_INT(rc, wlen);
	rc = build_msg(mn, (uint8_t)code, ADDR_FROM_FIELDS, NULL, g_out, wlen - 1);
	CHECK_INT(rc, RELAY_E_NOSPACE);

	/* what the vector names stand for, which the fields alone cannot say */
	if (starts_with(name, "req_addr_atyp_zero_encodes_ipv4_zero") ||
	    starts_with(name, "req_addr_ipv4_atyp_with_non_ip_host")) {
		struct relay_writer w;
		struct relay_addr a;

		memset(&a, 0, sizeof(a));
		if (starts_with(name, "req_addr_ipv4_atyp_with_non_ip_host")) {
			a.atyp = RELAY_ATYP_IPV4;       /* host was not an IP: ip stays 0 */
			a.port = 80;
		}
		relay_w_begin(&w, g_out, sizeof(g_out), (uint8_t)code);
		relay_w_addr(&w, &a);
		rc = relay_w_finish(&w);
		CHECK(rc > 0 && mem_eq_hex(g_out, (size_t)rc, hex));
	}

	for (mode = RELAY_DECODE_TOLERANT; mode <= RELAY_DECODE_STRICT; mode++) {
		struct relay_msg m;
		size_t need = 0;

		copy = heap_copy(want, wlen);
		rc = relay_decode(copy, wlen, (enum relay_decode_mode)mode, &m, &need);
		CHECK_INT(rc, wlen);
		CHECK_INT(need, wlen);
		check_msg(&m, name, mn);
		CHECK_INT(m.n_unknown, 0);
		free(copy);
	}
	check_prefixes(want, wlen);
	free(want);
	return true;
}

/* dec_req_* / dec_resp_*: Go's result for these bytes as the whole stream. */
static bool run_decode_vector(const char *name, const char *hex, const json_t *mn, const char *err)
{
	size_t len, consumed = (size_t)jint(mn, "bytes_consumed", -1);
	uint8_t *buf = unhex(hex, &len);
	int mode;

	for (mode = RELAY_DECODE_TOLERANT; mode <= RELAY_DECODE_STRICT; mode++) {
		bool tolerated = mode == RELAY_DECODE_TOLERANT && err &&
				 strcmp(err, "unknown feature") == 0;
		uint8_t *copy = heap_copy(buf, len);
		struct relay_msg m;
		bool mapped;
		int rc = decode_at_eof(copy, len, (enum relay_decode_mode)mode, &m, &mapped);

		if (!err || tolerated) {
			CHECK_INT(rc, tolerated ? len : consumed);
			CHECK_INT(len - (size_t)(rc > 0 ? rc : 0), jint(mn, "bytes_left_in_stream", -1));
			CHECK_INT(m.n_unknown, tolerated ? 1 : 0);
		} else {
			CHECK(rc < 0);
			CHECK_STR(relay_strerror(rc), err);
		}
		/* Go fills the header and the features before a bad one; a bad
		 * version leaves everything zero, as GOST's Request does */
		if (!mapped)
			check_msg(&m, name, mn);
		free(copy);
	}

	/* Go read exactly bytes_consumed: the verdict needs no more and no less */
	if (err && strcmp(err, "EOF") && strcmp(err, "unexpected EOF")) {
		uint8_t *copy = heap_copy(buf, consumed);
		struct relay_msg m;
		int rc = relay_decode(copy, consumed, RELAY_DECODE_STRICT, &m, NULL);

		CHECK_STR(relay_strerror(rc), err);
		check_prefixes(buf, consumed);
		free(copy);
	} else if (err) {
		CHECK_INT(consumed, len);
		check_prefixes(buf, len);
	} else {
		check_prefixes(buf, consumed);
	}
	free(buf);
	return true;
}

/* feat_*: the hex is one feature's payload, as GOST's NewFeature gets it. */
static bool run_feature_vector(const char *name, const char *hex, const json_t *mn, const char *err)
{
	long long type = jint(mn, "feature_type", -1);
	const json_t *decoded = json_object_get(mn, "decoded");
	size_t len;
	uint8_t *data = unhex(hex, &len), *tlv, *msg;
	int mode;

	(void)name;
	if (type < 0 || type > 255 || len > 0xffff - 3) {
		free(data);
		return false;
	}
	tlv = malloc(3 + len);
	msg = malloc(4 + 3 + len);
	if (!tlv || !msg)
		abort();
	tlv[0] = (uint8_t)type;
	tlv[1] = (uint8_t)(len >> 8);
	tlv[2] = (uint8_t)len;
	if (len)
		memcpy(tlv + 3, data, len);
	msg[0] = RELAY_VERSION;
	msg[1] = RELAY_CMD_CONNECT;
	msg[2] = (uint8_t)((3 + len) >> 8);
	msg[3] = (uint8_t)(3 + len);
	memcpy(msg + 4, tlv, 3 + len);

	for (mode = RELAY_DECODE_TOLERANT; mode <= RELAY_DECODE_STRICT; mode++) {
		bool tolerated = mode == RELAY_DECODE_TOLERANT && err &&
				 strcmp(err, "unknown feature") == 0;
		struct relay_msg m;
		int rc = relay_decode_features(tlv, 3 + len, (enum relay_decode_mode)mode, &m);
		int rc2;

		if (!err || tolerated) {
			json_t *arr = json_array();

			CHECK_INT(rc, 0);
			if (decoded)
				json_array_append(arr, (json_t *)decoded);
			check_features(&m, arr);
			CHECK_INT(m.n_unknown, tolerated ? 1 : 0);
			json_decref(arr);
		} else {
			CHECK(rc < 0);
			CHECK_STR(relay_strerror(rc), err);
		}
		/* the same feature inside a whole request gives the same verdict */
		rc2 = relay_decode(msg, 4 + 3 + len, (enum relay_decode_mode)mode, &m, NULL);
		CHECK_INT(rc2, rc < 0 ? rc : (int)(4 + 3 + len));
	}
	check_prefixes(msg, 4 + 3 + len);
	free(data);
	free(tlv);
	free(msg);
	return true;
}

static const char *write_hex(const json_t *mn, size_t i)
{
	const json_t *v = json_array_get(json_object_get(mn, "writes"), i);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Glue parts (hex) that make one write, compare with writes[i]. */
struct parts {
	uint8_t b[512];
	size_t n;
};

static void parts_add(struct parts *p, const void *b, size_t n)
{
	if (p->n + n <= sizeof(p->b)) {
		memcpy(p->b + p->n, b, n);
		p->n += n;
	} else {
		CHECK(!"test buffer too small");
	}
}

static bool run_server_vector(const char *name, const char *hex, const json_t *mn, const char *err)
{
	uint8_t hdr[RELAY_HDR_LEN], fh[RELAY_UDP_HDR];
	struct relay_writer w;
	int rc;

	relay_w_begin(&w, hdr, sizeof(hdr), RELAY_STATUS_OK);
	CHECK_INT(relay_w_finish(&w), RELAY_HDR_LEN);

	if (starts_with(name, "srv_tcp_connect_ok_nodelay_")) {
		bool nodelay = json_is_true(json_object_get(mn, "nodelay"));
		size_t len, i, nw = json_array_size(json_object_get(mn, "writes"));
		uint8_t *all = unhex(hex, &len), *copy = heap_copy(all, len);
		struct relay_msg m;
		struct parts p = { .n = 0 };

		if (nodelay) {
			CHECK(mem_eq_hex(hdr, sizeof(hdr), write_hex(mn, 0)));
		} else {
			/* held back: the header rides in front of the first chunk */
			size_t n0;
			uint8_t *w0 = unhex(write_hex(mn, 0), &n0);

			CHECK(n0 > sizeof(hdr) && memcmp(w0, hdr, sizeof(hdr)) == 0);
			free(w0);
		}
		CHECK_INT(nw, jint(mn, "write_count", -1));
		for (i = 0; i < nw; i++) {
			size_t n;
			uint8_t *b = unhex(write_hex(mn, i), &n);

			parts_add(&p, b, n);
			free(b);
		}
		CHECK_MEM(p.b, p.n, all, len);
		/* the client takes exactly the header; the rest is payload */
		rc = relay_decode(copy, len, RELAY_DECODE_STRICT, &m, NULL);
		CHECK_INT(rc, RELAY_HDR_LEN);
		CHECK_INT(m.code, RELAY_STATUS_OK);
		check_prefixes(all, RELAY_HDR_LEN);
		free(copy);
		free(all);
		return true;
	}
	if (starts_with(name, "srv_udp_connect_ok_nodelay_")) {
		bool nodelay = json_is_true(json_object_get(mn, "nodelay"));
		const json_t *dgrams = json_object_get(mn, "datagrams"), *d;
		struct parts cur = { .n = 0 }, all = { .n = 0 };
		size_t i, wi = 0;

		parts_add(&cur, hdr, sizeof(hdr));
		if (nodelay) {
			CHECK(mem_eq_hex(cur.b, cur.n, write_hex(mn, wi++)));
			cur.n = 0;
		}
		parts_add(&all, hdr, sizeof(hdr));
		json_array_foreach(dgrams, i, d) {
			const char *s = json_string_value(d);

			CHECK_INT(relay_udp_frame_hdr(fh, strlen(s)), RELAY_UDP_HDR);
			parts_add(&all, fh, sizeof(fh));
			parts_add(&all, s, strlen(s));
			/* first frame: nodelay=false sends header + LEN + data in one write;
			 * every other LEN and datagram is a write of its own */
			parts_add(&cur, fh, sizeof(fh));
			if (nodelay || i > 0) {
				CHECK(mem_eq_hex(cur.b, cur.n, write_hex(mn, wi++)));
				cur.n = 0;
			}
			parts_add(&cur, s, strlen(s));
			CHECK(mem_eq_hex(cur.b, cur.n, write_hex(mn, wi++)));
			cur.n = 0;
		}
		CHECK_INT(wi, jint(mn, "write_count", -1));
		CHECK(mem_eq_hex(all.b, all.n, hex));
		return true;
	}
	if (strcmp(name, "srv_udp_read_frames_truncating_small_buffer") == 0) {
		size_t len, off = 0, bufsz = (size_t)jint(mn, "read2_buffer_size", -1);
		uint8_t *b = unhex(hex, &len);
		const char *r2 = jstr(mn, "read2_data");
		int frame = 0;

		/* every LEN prefix is what relay_udp_frame_hdr writes, and reading
		 * whole frames (truncating into a small buffer) keeps the framing */
		while (off + RELAY_UDP_HDR <= len) {
			size_t flen = be16(b + off);

			CHECK_INT(relay_udp_frame_hdr(fh, flen), RELAY_UDP_HDR);
			CHECK_MEM(fh, sizeof(fh), b + off, sizeof(fh));
			off += RELAY_UDP_HDR;
			CHECK(off + flen <= len);
			if (frame == 0) {
				CHECK_INT(flen, jint(mn, "read1_len", -1));
			} else {
				size_t got = flen < bufsz ? flen : bufsz;

				CHECK_INT(got, jint(mn, "read2_len", -1));
				CHECK_MEM(b + off, got, r2, strlen(r2));
			}
			off += flen;
			frame++;
		}
		CHECK_INT(frame, 2);
		CHECK_INT(off, len);
		free(b);
		return true;
	}
	if (strcmp(name, "srv_udp_write_65536_rejected") == 0) {
		rc = relay_udp_frame_hdr(fh, (size_t)jint(mn, "payload_len", -1));
		CHECK_INT(rc, RELAY_E_DATA_TOO_LONG);
		CHECK_STR(relay_strerror(rc), err);
		CHECK_INT(relay_udp_frame_hdr(fh, (size_t)jint(mn, "max_payload", -1)), RELAY_UDP_HDR);
		CHECK_INT(be16(fh), 65535);
		return true;
	}
	return false;
}

static bool run_client_vector(const char *name, const char *hex, const json_t *mn, const char *err)
{
	if (starts_with(name, "cli_tcp_connect_nodelay_") ||
	    starts_with(name, "cli_udp_connect_nodelay_")) {
		bool udp = starts_with(name, "cli_udp_");
		bool nodelay = json_is_true(json_object_get(mn, "nodelay"));
		uint8_t req[64], fh[RELAY_UDP_HDR], *all, *sent, *copy;
		size_t len, slen, off, nw = json_array_size(json_object_get(mn, "writes")), wi = 0;
		const char *first = jstr(mn, "first_app_read");
		struct relay_writer w;
		struct relay_addr a;
		struct relay_msg m;
		struct parts cur = { .n = 0 };
		int rlen, rc;

		/* what the connector builds: [NETWORK] ADDR, FUDP for udp */
		CHECK_INT(relay_addr_parse(&a, udp ? "8.8.8.8:53" : "example.com:80"), 0);
		relay_w_begin(&w, req, sizeof(req), udp ? RELAY_CMD_CONNECT | RELAY_FLAG_UDP
						       : RELAY_CMD_CONNECT);
		if (udp)
			relay_w_network(&w, RELAY_NET_UDP);
		relay_w_addr(&w, &a);
		rlen = relay_w_finish(&w);
		CHECK(rlen > 0);
		if (rlen <= 0)
			return true;

		all = unhex(hex, &len);
		CHECK(len > (size_t)rlen && memcmp(all, req, (size_t)rlen) == 0);
		parts_add(&cur, req, (size_t)rlen);
		if (nodelay) {
			CHECK(mem_eq_hex(cur.b, cur.n, write_hex(mn, wi++)));
			cur.n = 0;
		}
		off = (size_t)rlen;
		if (!udp) {
			parts_add(&cur, all + off, len - off);
			CHECK(mem_eq_hex(cur.b, cur.n, write_hex(mn, wi++)));
		} else {
			/* the datagrams are whatever the frames after the request hold */
			int i = 0;

			while (off + RELAY_UDP_HDR <= len) {
				size_t dl = be16(all + off);

				CHECK_INT(relay_udp_frame_hdr(fh, dl), RELAY_UDP_HDR);
				parts_add(&cur, fh, sizeof(fh));
				if (nodelay || i > 0) {
					CHECK(mem_eq_hex(cur.b, cur.n, write_hex(mn, wi++)));
					cur.n = 0;
				}
				off += RELAY_UDP_HDR;
				CHECK(off + dl <= len);
				if (off + dl > len)
					break;
				parts_add(&cur, all + off, dl);
				CHECK(mem_eq_hex(cur.b, cur.n, write_hex(mn, wi++)));
				cur.n = 0;
				off += dl;
				i++;
			}
			CHECK_INT(i, 2);
			CHECK_INT(off, len);
		}
		CHECK_INT(wi, nw);
		CHECK_INT(nw, jint(mn, "write_count", -1));

		/* the server decodes the request and leaves the payload alone */
		copy = heap_copy(all, len);
		rc = relay_decode(copy, len, RELAY_DECODE_STRICT, &m, NULL);
		CHECK_INT(rc, rlen);
		CHECK_STR(relay_msg_network(&m), udp ? "udp" : "tcp");
		check_prefixes(all, (size_t)rlen);
		free(copy);

		/* the client's first read: exactly the response, then payload */
		sent = unhex(jstr(mn, "server_sent"), &slen);
		copy = heap_copy(sent, slen);
		rc = relay_decode(copy, slen, RELAY_DECODE_STRICT, &m, NULL);
		CHECK_INT(rc, RELAY_HDR_LEN);
		CHECK_INT(m.code, RELAY_STATUS_OK);
		check_prefixes(sent, RELAY_HDR_LEN);
		off = RELAY_HDR_LEN;
		if (udp && slen >= off + RELAY_UDP_HDR) {
			CHECK_INT(be16(sent + off), strlen(first));
			off += RELAY_UDP_HDR;
		}
		CHECK_MEM(sent + off, slen - off, first, strlen(first));
		free(copy);
		free(sent);
		free(all);
		return true;
	}
	if (starts_with(name, "cli_error_status_")) {
		size_t len;
		uint8_t *b = unhex(hex, &len);
		struct relay_msg m;
		char text[64];
		int rc = relay_decode(b, len, RELAY_DECODE_STRICT, &m, NULL);

		CHECK_INT(rc, RELAY_HDR_LEN);
		CHECK_INT(m.code, jint(mn, "status", -1));
		check_prefixes(b, len);
		CHECK_STR(relay_status_text(m.code), jstr(mn, "status_text"));
		/* the connector's error is fmt "%d %s" */
		snprintf(text, sizeof(text), "%d %s", m.code, relay_status_text(m.code));
		CHECK_STR(text, err);
		CHECK_STR(text, jstr(mn, "client_error_text"));
		free(b);
		return true;
	}
	if (strcmp(name, "cli_bad_response_version") == 0) {
		size_t len;
		uint8_t *b = unhex(hex, &len);
		struct relay_msg m;
		int rc = relay_decode(b, len, RELAY_DECODE_STRICT, &m, NULL);

		CHECK_INT(rc, RELAY_E_BAD_VERSION);
		CHECK_STR(relay_strerror(rc), err);
		free(b);
		return true;
	}
	return false;
}

/* Header of a UDP BIND frame decodes to addr text and RSV; prefixes need more. */
static int check_udpbind_decode(const uint8_t *b, size_t len, const char *addr, size_t rsv)
{
	struct relay_addr a;
	size_t dlen = 12345, p;
	char text[300];
	uint8_t *copy = heap_copy(b, len);
	int hlen = relay_udpbind_decode_hdr(copy, len, &a, &dlen);

	CHECK(hlen > 0);
	CHECK_INT(dlen, rsv);
	CHECK(relay_addr_format(&a, text, sizeof(text)) > 0);
	CHECK_STR(text, addr);
	free(copy);
	for (p = 0; hlen > 0 && p < (size_t)hlen; p++) {
		copy = heap_copy(b, p);
		CHECK_INT(relay_udpbind_decode_hdr(copy, p, &a, &dlen), 0);
		free(copy);
	}
	return hlen;
}

static bool run_udpbind_vector(const char *name, const char *hex, const json_t *mn, const char *err)
{
	const char *addr = jstr(mn, "addr"), *payload = jstr(mn, "payload");
	size_t len;
	uint8_t *b = unhex(hex, &len), hdr[300];
	struct relay_addr a;
	bool known = true;
	int hlen, rc;

	if (starts_with(name, "udpbind_frame_")) {
		size_t plen = strlen(payload);

		CHECK_INT(relay_addr_parse(&a, addr), 0);
		rc = relay_udpbind_encode_hdr(hdr, sizeof(hdr), &a, plen);
		if (plen == 0) {
			/* the pitfall: GOST would send RSV 0 and break the framing */
			CHECK_INT(rc, RELAY_E_SHORT_BUFFER);
			CHECK(len >= 2 && be16(b) == 0);
			check_udpbind_decode(b, len, addr, 0);
		} else {
			struct parts p = { .n = 0 };
			size_t n0, n1;
			uint8_t *w0 = unhex(write_hex(mn, 0), &n0), *w1 = unhex(write_hex(mn, 1), &n1);

			parts_add(&p, w0, n0);
			parts_add(&p, w1, n1);
			CHECK(rc > 0);
			CHECK_MEM(hdr, (size_t)(rc > 0 ? rc : 0), p.b, p.n);
			CHECK(mem_eq_hex((const uint8_t *)payload, plen, write_hex(mn, 2)));
			parts_add(&p, payload, plen);
			CHECK_MEM(p.b, p.n, b, len);
			/* exact capacity is enough, one less is not */
			CHECK_INT(relay_udpbind_encode_hdr(hdr, (size_t)rc, &a, plen), rc);
			CHECK_INT(relay_udpbind_encode_hdr(hdr, (size_t)rc - 1, &a, plen), RELAY_E_NOSPACE);
			hlen = check_udpbind_decode(b, len, addr, plen);
			CHECK_INT(hlen, rc);
			free(w0);
			free(w1);
		}
	} else if (strcmp(name, "udpbind_parse_ipv4") == 0) {
		hlen = check_udpbind_decode(b, len, addr, strlen(payload));
		CHECK(hlen > 0 && (size_t)hlen <= len);
		if (hlen > 0 && (size_t)hlen <= len)
			CHECK_MEM(b + hlen, len - (size_t)hlen, payload, strlen(payload));
	} else if (strcmp(name, "udpbind_parse_zero_length_then_next_PITFALL") == 0) {
		/* RSV 0: GOST swallowed everything that followed (the next whole
		 * frame) as the payload; relayd sees the header, RSV 0 and the next
		 * frame intact */
		hlen = check_udpbind_decode(b, len, jstr(mn, "first_read_addr"), 0);
		CHECK(hlen > 0);
		if (hlen > 0) {
			size_t rest = len - (size_t)hlen;
			int h2;

			CHECK_INT(rest, jint(mn, "first_read_len", -1));
			h2 = check_udpbind_decode(b + hlen, rest, "1.1.1.1:53", 3);
			CHECK_INT((size_t)h2 + 3, rest);
		}
	} else if (strcmp(name, "udpbind_parse_bad_atyp") == 0) {
		size_t dlen, p;

		for (p = 4; p <= len; p++) {
			uint8_t *copy = heap_copy(b, p);

			rc = relay_udpbind_decode_hdr(copy, p, &a, &dlen);
			CHECK_INT(rc, RELAY_E_BAD_ATYP);
			CHECK_STR(relay_strerror(rc), err);
			free(copy);
		}
		for (p = 0; p < 4; p++) {
			uint8_t *copy = heap_copy(b, p);

			CHECK_INT(relay_udpbind_decode_hdr(copy, p, &a, &dlen), 0);
			free(copy);
		}
	} else {
		known = false;
	}
	free(b);
	return known;
}

/* Runs handler over every vector whose name starts with prefix. */
static void for_vectors(const char *prefix,
			bool (*fn)(const char *, const char *, const json_t *, const char *))
{
	size_t i, ran = 0;
	const json_t *v;

	json_array_foreach(g_vec, i, v) {
		const char *name = jstr(v, "name");
		int before = unit_failed_checks;

		if (!name || !starts_with(name, prefix))
			continue;
		if (fn(name, jstr(v, "hex"), json_object_get(v, "meaning"), jstr(v, "decode_error"))) {
			if (i < sizeof(g_hit) / sizeof(g_hit[0]))
				g_hit[i] = true;
			ran++;
		}
		if (unit_failed_checks != before)
			fprintf(stderr, "  ^ in vector %s\n", name);
	}
	printf("     %zu %s* vectors\n", ran, prefix);
}

/* ---- vector tests ----------------------------------------------------- */

static void test_requests_encode_byte_exact_and_decode_back(void)
{
	for_vectors("req_", run_message_vector);
}

static void test_responses_encode_byte_exact_and_decode_back(void)
{
	for_vectors("resp_", run_message_vector);
}

static void test_decode_edge_cases_match_go_errors(void)
{
	for_vectors("dec_", run_decode_vector);
}

static void test_single_features_match_go_errors(void)
{
	for_vectors("feat_", run_feature_vector);
}

static void test_server_stream_parts(void)
{
	for_vectors("srv_", run_server_vector);
}

static void test_client_stream_parts_and_error_texts(void)
{
	for_vectors("cli_", run_client_vector);
}

static void test_udp_bind_frames(void)
{
	for_vectors("udpbind_", run_udpbind_vector);
}

/* ---- direct tests ------------------------------------------------------ */

static void check_parse(const char *text, const char *addr_hex, const char *back)
{
	struct relay_addr a;
	struct relay_writer w;
	uint8_t out[300];
	char fmt[300];
	int rc, before = unit_failed_checks;

	rc = relay_addr_parse(&a, text);
	CHECK_INT(rc, 0);
	relay_w_begin(&w, out, sizeof(out), RELAY_CMD_CONNECT);
	relay_w_addr(&w, &a);
	rc = relay_w_finish(&w);
	CHECK(rc > 7 && mem_eq_hex(out + 7, (size_t)rc - 7, addr_hex));
	CHECK(relay_addr_format(&a, fmt, sizeof(fmt)) > 0);
	CHECK_STR(fmt, back);
	if (unit_failed_checks != before)
		fprintf(stderr, "  ^ for address text \"%s\"\n", text);
}

static void test_addr_text_round_trips(void)
{
	int before = unit_failed_checks;

	/* the table of doc section 1.7 */
	check_parse("192.0.2.10:80", "01c000020a0050", "192.0.2.10:80");
	check_parse("[2001:db8::1]:443", "0420010db80000000000000000000000" "0101bb",
		    "[2001:db8::1]:443");
	check_parse("example.com:443", "030b6578616d706c652e636f6d01bb", "example.com:443");
	check_parse(":0", "03000000", ":0");
	check_parse(":22", "03000016", ":22");
	check_parse(":2222", "030008ae", ":2222");
	check_parse("/var/run/app.sock", "03112f7661722f72756e2f6170702e736f636b0000",
		    "/var/run/app.sock:0");
	check_parse("[::ffff:192.0.2.1]:80", "01c00002010050", "192.0.2.1:80");
	/* SplitHostPort failures leave the whole text as host, port 0 */
	check_parse("::ffff:192.0.2.1", "01c00002010000", "192.0.2.1:0");
	check_parse("2001:db8::1", "0420010db8000000000000000000000001" "0000", "[2001:db8::1]:0");
	check_parse("example.com", "030b6578616d706c652e636f6d0000", "example.com:0");
	check_parse("", "03000000", ":0");
	check_parse("[::1]", "03055b3a3a315d0000", "[[::1]]:0");
	check_parse("a]b:80", "0306615d623a38300000", "[a]b:80]:0");
	check_parse("[::1]:80", "04000000000000000000000000000000010050", "[::1]:80");
	check_parse("[::1]x:80", "03095b3a3a315d783a38300000", "[[::1]x:80]:0");
	check_parse("[::1]:8:80", "030a5b3a3a315d3a383a38300000", "[[::1]:8:80]:0");
	check_parse("[example.com]:80", "030b6578616d706c652e636f6d0050", "example.com:80");
	/* Go's ParseIP: no zones, no leading zeros, nothing but literals */
	check_parse("fe80::1%eth0", "030c666538303a3a3125657468300000", "[fe80::1%eth0]:0");
	check_parse("01.2.3.4:80", "030830312e322e332e340050", "01.2.3.4:80");
	check_parse("0.0.0.0:2222", "010000000008ae", "0.0.0.0:2222");
	check_parse("[::]:2222", "040000000000000000000000000000000008ae", "[::]:2222");
	/* strconv.Atoi then uint16(): signs, wrap-around, and 0 for junk */
	check_parse("h:http", "03016800" "00", "h:0");
	check_parse("h:+80", "0301680050", "h:80");
	check_parse("h:-1", "030168ffff", "h:65535");
	check_parse("h:65616", "0301680050", "h:80");
	check_parse("h:", "0301680000", "h:0");
	check_parse("h:-", "0301680000", "h:0");
	check_parse("h:9223372036854775807", "030168ffff", "h:65535");
	check_parse("h:9223372036854775808", "0301680000", "h:0");
	check_parse("h:-9223372036854775807", "0301680001", "h:1");
	check_parse("h:9223372036854775809", "0301680000", "h:0");
	check_parse("h:-9223372036854775808", "0301680000", "h:0");
	check_parse("h:-9223372036854775809", "0301680000", "h:0");
	check_parse("h:-9223372036854775806", "0301680002", "h:2");
	check_parse("h:18446744073709551617", "0301680000", "h:0");
	check_parse("h:99999999999999999999999", "0301680000", "h:0");
	CHECK_INT(unit_failed_checks, before);
}

static void test_addr_parse_limits(void)
{
	char text[700];
	struct relay_addr a;

	memset(text, 'a', 255);
	strcpy(text + 255, ":443");
	CHECK_INT(relay_addr_parse(&a, text), 0);
	CHECK_INT(a.dlen, 255);
	CHECK_INT(a.atyp, RELAY_ATYP_DOMAIN);
	CHECK_INT(a.port, 443);
	memset(text, 'a', 256);
	strcpy(text + 256, ":443");
	CHECK_INT(relay_addr_parse(&a, text), RELAY_E_ADDR_TOO_LONG);
	memset(text, 'a', 600);
	text[600] = '\0';
	CHECK_INT(relay_addr_parse(&a, text), RELAY_E_ADDR_TOO_LONG);
	CHECK_INT(relay_addr_parse(&a, NULL), RELAY_E_BAD_ADDR_TEXT);
}

static void check_format(uint8_t atyp, const char *ip_text, uint16_t port, const char *want)
{
	struct relay_addr a;
	char out[300];

	memset(&a, 0, sizeof(a));
	a.atyp = atyp;
	a.port = port;
	if (atyp == RELAY_ATYP_IPV6)
		CHECK(inet_pton(AF_INET6, ip_text, a.ip) == 1);
	else if (atyp == RELAY_ATYP_IPV4)
		CHECK(inet_pton(AF_INET, ip_text, a.ip) == 1);
	else if (atyp == RELAY_ATYP_DOMAIN) {
		a.dlen = (uint8_t)strlen(ip_text);
		memcpy(a.domain, ip_text, a.dlen);
	}
	CHECK_INT(relay_addr_format(&a, out, sizeof(out)), strlen(want));
	CHECK_STR(out, want);
}

static void test_addr_format_prints_like_go(void)
{
	struct relay_addr a;
	char out[32];
	int n;

	check_format(RELAY_ATYP_IPV6, "::", 2222, "[::]:2222");
	check_format(RELAY_ATYP_IPV6, "::1", 80, "[::1]:80");
	check_format(RELAY_ATYP_IPV6, "1::", 80, "[1::]:80");
	check_format(RELAY_ATYP_IPV6, "2001:db8:0:1:0:0:0:1", 1, "[2001:db8:0:1::1]:1");
	check_format(RELAY_ATYP_IPV6, "2001:db8:0:1:1:1:1:1", 1, "[2001:db8:0:1:1:1:1:1]:1");
	check_format(RELAY_ATYP_IPV6, "1:0:0:2:0:0:3:4", 1, "[1::2:0:0:3:4]:1");
	check_format(RELAY_ATYP_IPV6, "1:0:2:0:0:0:3:4", 1, "[1:0:2::3:4]:1");
	check_format(RELAY_ATYP_IPV6, "fe80::abcd:ef:1", 1, "[fe80::abcd:ef:1]:1");
	check_format(RELAY_ATYP_IPV6, "FFFF:0DB8::", 1, "[ffff:db8::]:1");
	/* net.IP prints an IPv4-compatible address in hex, a mapped one dotted */
	check_format(RELAY_ATYP_IPV6, "::1.2.3.4", 1, "[::102:304]:1");
	check_format(RELAY_ATYP_IPV6, "::ffff:1.2.3.4", 80, "1.2.3.4:80");
	check_format(RELAY_ATYP_IPV4, "203.0.113.7", 54321, "203.0.113.7:54321");
	check_format(RELAY_ATYP_DOMAIN, "", 443, ":443");
	check_format(RELAY_ATYP_DOMAIN, "a:b", 1, "[a:b]:1");
	check_format(0, NULL, 7, "0.0.0.0:7");

	/* the output must hold the text and its NUL */
	memset(&a, 0, sizeof(a));
	a.atyp = RELAY_ATYP_IPV4;
	a.port = 80;
	n = relay_addr_format(&a, out, sizeof(out));
	CHECK_INT(n, 10);
	CHECK_INT(relay_addr_format(&a, out, 11), 10);
	memset(out, 'x', sizeof(out));
	CHECK_INT(relay_addr_format(&a, out, 10), RELAY_E_NOSPACE);
	CHECK_INT(out[0], 0);
	CHECK_INT(relay_addr_format(&a, NULL, 0), RELAY_E_NOSPACE);
}

static void test_addr_from_sockaddr(void)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	struct sockaddr_un su;
	struct relay_addr a;
	struct relay_writer w;
	uint8_t out[64];
	char text[64];

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = htons(54321);
	inet_pton(AF_INET, "203.0.113.7", &s4.sin_addr);
	CHECK_INT(relay_addr_from_sockaddr(&a, (struct sockaddr *)&s4), 0);
	CHECK_INT(a.atyp, RELAY_ATYP_IPV4);
	/* the per-stream BIND header for this peer is the captured one */
	relay_w_begin(&w, out, sizeof(out), RELAY_STATUS_OK);
	relay_w_addr(&w, &a);
	CHECK(mem_eq_hex(out, (size_t)relay_w_finish(&w), "0100000a02000701cb007107d431"));

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons(2222);
	s6.sin6_addr = in6addr_any;
	CHECK_INT(relay_addr_from_sockaddr(&a, (struct sockaddr *)&s6), 0);
	CHECK_INT(a.atyp, RELAY_ATYP_IPV6);
	relay_w_begin(&w, out, sizeof(out), RELAY_STATUS_OK);
	relay_w_addr(&w, &a);
	CHECK(mem_eq_hex(out, (size_t)relay_w_finish(&w),
			 "01000016020013040000000000000000000000000000000008ae"));

	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	s6.sin6_port = htons(443);
	s6.sin6_scope_id = 3;
	CHECK_INT(relay_addr_from_sockaddr(&a, (struct sockaddr *)&s6), 0);
	CHECK_INT(relay_addr_format(&a, text, sizeof(text)), 17);
	CHECK_STR(text, "[2001:db8::1]:443");

	/* a dual-stack socket's IPv4 peer is IPv4, as Go reports it */
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &s6.sin6_addr);
	s6.sin6_port = htons(80);
	CHECK_INT(relay_addr_from_sockaddr(&a, (struct sockaddr *)&s6), 0);
	CHECK_INT(a.atyp, RELAY_ATYP_IPV4);
	CHECK(relay_addr_format(&a, text, sizeof(text)) > 0);
	CHECK_STR(text, "192.0.2.1:80");

	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	CHECK_INT(relay_addr_from_sockaddr(&a, (struct sockaddr *)&su), RELAY_E_BAD_ATYP);
	CHECK_INT(relay_addr_from_sockaddr(&a, NULL), RELAY_E_BAD_ATYP);
}

static const char *network_of(uint8_t cmd, int id)
{
	static struct relay_msg m;

	memset(&m, 0, sizeof(m));
	m.code = cmd;
	if (id >= 0) {
		m.has_network = true;
		m.network = (uint16_t)id;
	}
	return relay_msg_network(&m);
}

static void test_msg_network_names(void)
{
	CHECK_STR(network_of(RELAY_CMD_CONNECT, -1), "tcp");
	CHECK_STR(network_of(RELAY_CMD_CONNECT, RELAY_NET_TCP), "tcp");
	CHECK_STR(network_of(RELAY_CMD_CONNECT, RELAY_NET_UDP), "udp");
	CHECK_STR(network_of(RELAY_CMD_CONNECT, RELAY_NET_IP), "ip");
	CHECK_STR(network_of(RELAY_CMD_CONNECT, RELAY_NET_UNIX), "unix");
	CHECK_STR(network_of(RELAY_CMD_CONNECT, RELAY_NET_SERIAL), "serial");
	CHECK_STR(network_of(RELAY_CMD_CONNECT, 3), "tcp");
	CHECK_STR(network_of(RELAY_CMD_CONNECT, 0xffff), "tcp");
	CHECK_STR(network_of(RELAY_CMD_BIND | RELAY_FLAG_UDP, -1), "udp");
	CHECK_STR(network_of(RELAY_CMD_CONNECT | RELAY_FLAG_UDP, RELAY_NET_UNIX), "udp");
	CHECK_STR(network_of(0xff, RELAY_NET_SERIAL), "udp");
	CHECK_STR(network_of(0x70, RELAY_NET_SERIAL), "serial");
}

static void test_status_texts(void)
{
	CHECK_STR(relay_status_text(RELAY_STATUS_OK), "");
	CHECK_STR(relay_status_text(RELAY_STATUS_BAD_REQUEST), "Bad Request");
	CHECK_STR(relay_status_text(RELAY_STATUS_INTERNAL_SERVER_ERROR), "Internal Server Error");
	CHECK_STR(relay_status_text(9), "");
	CHECK_STR(relay_status_text(-1), "");
	CHECK_STR(relay_status_text(255), "");
}

static void test_writer_limits(void)
{
	static uint8_t big[RELAY_MAX_MSG * 2];
	char name[300];
	struct relay_writer w;
	struct relay_addr a;
	uint8_t small[8];
	int i;

	/* FLEN 65535 is the most a message can carry */
	relay_w_begin(&w, big, sizeof(big), RELAY_CMD_CONNECT);
	for (i = 0; i < 13107; i++)
		relay_w_network(&w, RELAY_NET_UDP);
	CHECK_INT(relay_w_finish(&w), RELAY_MAX_MSG);
	CHECK_INT(be16(big + 2), 0xffff);
	/* one more is "features maximum length exceeded", even with room to spare */
	relay_w_network(&w, RELAY_NET_UDP);
	CHECK_INT(relay_w_finish(&w), RELAY_E_FEATURES_TOO_LONG);
	/* a valid feature afterwards does not clear it ... */
	relay_w_user(&w, "u", "p");
	CHECK_INT(relay_w_finish(&w), RELAY_E_FEATURES_TOO_LONG);
	/* ... but GOST reports a name error first, since it checks FLEN last */
	memset(name, 'x', 256);
	name[256] = '\0';
	relay_w_user(&w, name, "p");
	CHECK_INT(relay_w_finish(&w), RELAY_E_USER_TOO_LONG);

	/* user is checked before password; the first error sticks */
	relay_w_begin(&w, big, sizeof(big), RELAY_CMD_CONNECT);
	relay_w_user(&w, name, name);
	CHECK_INT(relay_w_finish(&w), RELAY_E_USER_TOO_LONG);
	relay_w_begin(&w, big, sizeof(big), RELAY_CMD_CONNECT);
	relay_w_user(&w, "u", name);
	relay_w_user(&w, name, "p");
	CHECK_INT(relay_w_finish(&w), RELAY_E_PASS_TOO_LONG);
	/* 255 each is fine; NULL is empty */
	name[255] = '\0';
	relay_w_begin(&w, big, sizeof(big), RELAY_CMD_CONNECT);
	relay_w_user(&w, name, name);
	relay_w_user(&w, NULL, NULL);
	CHECK_INT(relay_w_finish(&w), 4 + 3 + 512 + 3 + 2);

	/* capacity */
	relay_w_begin(&w, small, 3, RELAY_CMD_CONNECT);
	CHECK_INT(relay_w_finish(&w), RELAY_E_NOSPACE);
	relay_w_begin(&w, NULL, 100, RELAY_CMD_CONNECT);
	CHECK_INT(relay_w_finish(&w), RELAY_E_NOSPACE);
	relay_w_begin(&w, small, sizeof(small), RELAY_STATUS_FORBIDDEN);
	CHECK_INT(relay_w_finish(&w), 4);
	CHECK(mem_eq_hex(small, 4, "01030000"));
	relay_w_network(&w, RELAY_NET_UDP);
	CHECK_INT(relay_w_finish(&w), RELAY_E_NOSPACE);
	relay_w_user(&w, name, "p");        /* capacity errors stick */
	CHECK_INT(relay_w_finish(&w), RELAY_E_NOSPACE);

	/* an unset or unknown ATYP is IPv4 0.0.0.0 but keeps the port */
	memset(&a, 0, sizeof(a));
	a.port = 80;
	relay_w_begin(&w, big, sizeof(big), RELAY_CMD_CONNECT);
	relay_w_addr(&w, &a);
	a.atyp = 2;
	relay_w_addr(&w, &a);
	relay_w_addr(&w, NULL);
	CHECK(mem_eq_hex(big, (size_t)relay_w_finish(&w),
			 "0101001e" "02000701000000000050" "02000701000000000050" "02000701000000000000"));
}

static int decode_hex(const char *hex, enum relay_decode_mode mode, struct relay_msg *m,
		      bool *mapped)
{
	size_t len;
	uint8_t *b = unhex(hex, &len);
	int rc = decode_at_eof(b, len, mode, m, mapped);

	free(b);
	return rc;
}

static void test_decode_eof_and_short_payloads_follow_go(void)
{
	struct relay_msg m;
	bool mapped;

	/* io.ReadFull: nothing of a read is "EOF", part of it "unexpected EOF" */
	CHECK_INT(decode_hex("", RELAY_DECODE_STRICT, &m, &mapped), RELAY_E_EOF);
	CHECK_INT(decode_hex("01", RELAY_DECODE_STRICT, &m, &mapped), RELAY_E_UNEXPECTED_EOF);
	CHECK_INT(decode_hex("01010005", RELAY_DECODE_STRICT, &m, &mapped), RELAY_E_EOF);
	CHECK_INT(decode_hex("0101000502", RELAY_DECODE_STRICT, &m, &mapped), RELAY_E_UNEXPECTED_EOF);
	/* inside the features: a header with none of its data is "EOF" */
	CHECK_INT(decode_hex("01010003020007", RELAY_DECODE_STRICT, &m, &mapped), RELAY_E_EOF);
	CHECK(!mapped);
	CHECK_STR(relay_strerror(RELAY_E_EOF), "EOF");
	CHECK_INT(decode_hex("0101000402000701", RELAY_DECODE_STRICT, &m, &mapped),
		  RELAY_E_UNEXPECTED_EOF);
	CHECK_INT(decode_hex("010100010200", RELAY_DECODE_STRICT, &m, &mapped), RELAY_E_UNEXPECTED_EOF);
	/* a zero-length ADDR reads fine and then is too short */
	CHECK_INT(decode_hex("01010003020000", RELAY_DECODE_STRICT, &m, &mapped), RELAY_E_SHORT_BUFFER);
	/* GOST reads an unknown feature's data before judging its type */
	CHECK_INT(decode_hex("0101000309000a", RELAY_DECODE_STRICT, &m, &mapped), RELAY_E_EOF);
	CHECK_INT(decode_hex("0101000309000a", RELAY_DECODE_TOLERANT, &m, &mapped), RELAY_E_EOF);
	CHECK_INT(decode_hex("0101000409000aff", RELAY_DECODE_TOLERANT, &m, &mapped),
		  RELAY_E_UNEXPECTED_EOF);
	/* payloads one byte short of what their own lengths promise */
	CHECK_INT(decode_hex("01010005" "010002" "0161", RELAY_DECODE_STRICT, &m, &mapped),
		  RELAY_E_SHORT_BUFFER);
	CHECK_INT(decode_hex("01010007" "010004" "01610162", RELAY_DECODE_STRICT, &m, &mapped), 11);
	CHECK_INT(decode_hex("01010006" "010003" "016101", RELAY_DECODE_STRICT, &m, &mapped),
		  RELAY_E_SHORT_BUFFER);
	CHECK_INT(decode_hex("01010008" "020005" "0302616200", RELAY_DECODE_STRICT, &m, &mapped),
		  RELAY_E_SHORT_BUFFER);
	CHECK_INT(decode_hex("01010009" "020006" "010102030400", RELAY_DECODE_STRICT, &m, &mapped),
		  RELAY_E_SHORT_BUFFER);
	CHECK_INT(decode_hex("01010004" "040001" "00", RELAY_DECODE_STRICT, &m, &mapped),
		  RELAY_E_SHORT_BUFFER);
	/* a short ADDR whose ATYP is also bad is "short buffer": length first */
	CHECK_INT(decode_hex("01010006020003020000", RELAY_DECODE_STRICT, &m, &mapped),
		  RELAY_E_SHORT_BUFFER);
}

static void test_decode_tolerant_mode_skips_unknown_types(void)
{
	static const char *msg = "0181001e" "050001ff" "0400020000" "000000" "0400020011"
				 "02000701c000020a0050" "fe0000";
	struct relay_msg m;
	bool mapped;
	int rc;

	/* unknown types anywhere are skipped and counted; known ones still apply */
	rc = decode_hex(msg, RELAY_DECODE_TOLERANT, &m, &mapped);
	CHECK_INT(rc, 4 + 0x1e);
	CHECK_INT(m.n_unknown, 3);
	CHECK_INT(m.network, RELAY_NET_SERIAL);
	CHECK_STR(relay_msg_network(&m), "udp");
	CHECK_INT(m.n_addr, 1);
	/* the same bytes in strict mode stop at the first unknown one, with
	 * the header already filled in */
	rc = decode_hex(msg, RELAY_DECODE_STRICT, &m, &mapped);
	CHECK_INT(rc, RELAY_E_UNKNOWN_FEATURE);
	CHECK(!m.has_network);
	CHECK_INT(m.n_unknown, 0);
	CHECK_INT(m.version, 1);
	CHECK_INT(m.code, 0x81);
}

static void test_decode_repeated_features(void)
{
	static const uint8_t feats[] = {
		0x01, 0x00, 0x04, 0x01, 'a', 0x01, 'b',
		0x01, 0x00, 0x06, 0x02, 'u', '1', 0x02, 'p', '1',
		0x03, 0x00, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
		0x04, 0x00, 0x02, 0x00, 0x10,
		0x04, 0x00, 0x02, 0x00, 0x01,
		0x02, 0x00, 0x04, 0x03, 0x00, 0x00, 0x16,
		0x02, 0x00, 0x07, 0x01, 192, 0, 2, 10, 0x00, 0x50,
	};
	static const uint8_t want_tun[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 };
	static const uint8_t long_tun[] = {
		0x03, 0x00, 0x16, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
		0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
	};
	uint8_t *b = heap_copy(feats, sizeof(feats));
	struct relay_msg m;
	char text[64];

	CHECK_INT(relay_decode_features(b, sizeof(feats), RELAY_DECODE_STRICT, &m), 0);
	CHECK_STR(m.user, "u1");
	CHECK_STR(m.pass, "p1");
	CHECK_INT(m.network, RELAY_NET_UDP);
	CHECK_MEM(m.tunnel, 20, want_tun, 20);
	CHECK_INT(m.n_addr, 2);
	CHECK(relay_addr_format(&m.addr_first, text, sizeof(text)) > 0);
	CHECK_STR(text, ":22");
	CHECK(relay_addr_format(&m.addr, text, sizeof(text)) > 0);
	CHECK_STR(text, "192.0.2.10:80");
	free(b);

	b = heap_copy(long_tun, sizeof(long_tun));
	CHECK_INT(relay_decode_features(b, sizeof(long_tun), RELAY_DECODE_STRICT, &m), 0);
	CHECK_MEM(m.tunnel, 20, long_tun + 3, 20);
	free(b);
	CHECK_INT(relay_decode_features(NULL, 0, RELAY_DECODE_STRICT, &m), 0);
	CHECK(!m.has_user && m.n_addr == 0 && !m.has_tunnel);
}

static void test_udp_frame_limits(void)
{
	uint8_t fh[2], hdr[300];
	struct relay_addr a;
	char dom[300];
	size_t dlen = 0;

	CHECK_INT(relay_udp_frame_hdr(fh, 0), RELAY_UDP_HDR);
	CHECK_INT(be16(fh), 0);
	CHECK_INT(relay_udp_frame_hdr(fh, 65535), RELAY_UDP_HDR);
	CHECK_INT(relay_udp_frame_hdr(fh, (size_t)-1), RELAY_E_DATA_TOO_LONG);

	CHECK_INT(relay_addr_parse(&a, "8.8.8.8:53"), 0);
	CHECK_INT(relay_udpbind_encode_hdr(hdr, sizeof(hdr), &a, 65535), 10);
	CHECK(mem_eq_hex(hdr, 10, "ffffff01080808080035"));
	CHECK_INT(relay_udpbind_encode_hdr(hdr, sizeof(hdr), &a, 65536), RELAY_E_DATA_TOO_LONG);
	CHECK_INT(relay_udpbind_encode_hdr(hdr, sizeof(hdr), &a, 0), RELAY_E_SHORT_BUFFER);
	CHECK_INT(relay_udpbind_encode_hdr(NULL, 0, &a, 1), RELAY_E_NOSPACE);

	/* a 255-byte domain is the longest header: 3 + 1 + 1 + 255 + 2 */
	memset(dom, 'd', 255);
	strcpy(dom + 255, ":1");
	CHECK_INT(relay_addr_parse(&a, dom), 0);
	CHECK_INT(relay_udpbind_encode_hdr(hdr, sizeof(hdr), &a, 1), 262);
	{
		uint8_t *c = heap_copy(hdr, 262);

		CHECK_INT(relay_udpbind_decode_hdr(c, 262, &a, &dlen), 262);
		CHECK_INT(dlen, 1);
		CHECK_INT(a.dlen, 255);
		CHECK_INT(relay_udpbind_decode_hdr(c, 261, &a, &dlen), 0);
		free(c);
	}
	/* zero-length domain, as GOST sends for ":port" */
	CHECK_INT(relay_addr_parse(&a, ":53"), 0);
	CHECK_INT(relay_udpbind_encode_hdr(hdr, sizeof(hdr), &a, 2), 7);
	CHECK(mem_eq_hex(hdr, 7, "0002ff03000035"));
}

static bool load_vectors(void)
{
	char path[512];
	json_error_t jerr;

	snprintf(path, sizeof(path), "%s/relay-vectors.json", unit_vectors_dir());
	g_vec = json_load_file(path, 0, &jerr);
	if (!g_vec || !json_is_array(g_vec)) {
		fprintf(stderr, "cannot load %s: %s (line %d); run from the repo root or set "
			"RELAYD_VECTORS\n", path, jerr.text, jerr.line);
		return false;
	}
	return true;
}

static void test_every_vector_was_exercised(void)
{
	size_t i, n = json_array_size(g_vec), hit = 0;

	for (i = 0; i < n && i < sizeof(g_hit) / sizeof(g_hit[0]); i++) {
		if (g_hit[i])
			hit++;
		else
			fprintf(stderr, "  vector not checked: %s\n",
				jstr(json_array_get(g_vec, i), "name"));
	}
	printf("     relay vectors checked: %zu of %zu\n", hit, n);
	CHECK_INT(n, N_RELAY_VECTORS);
	CHECK_INT(hit, n);
}

int main(void)
{
	if (!load_vectors())
		return 1;
	RUN(test_requests_encode_byte_exact_and_decode_back);
	RUN(test_responses_encode_byte_exact_and_decode_back);
	RUN(test_decode_edge_cases_match_go_errors);
	RUN(test_single_features_match_go_errors);
	RUN(test_server_stream_parts);
	RUN(test_client_stream_parts_and_error_texts);
	RUN(test_udp_bind_frames);
	RUN(test_every_vector_was_exercised);
	RUN(test_addr_text_round_trips);
	RUN(test_addr_parse_limits);
	RUN(test_addr_format_prints_like_go);
	RUN(test_addr_from_sockaddr);
	RUN(test_msg_network_names);
	RUN(test_status_texts);
	RUN(test_writer_limits);
	RUN(test_decode_eof_and_short_payloads_follow_go);
	RUN(test_decode_tolerant_mode_skips_unknown_types);
	RUN(test_decode_repeated_features);
	RUN(test_udp_frame_limits);
	json_decref(g_vec);
	return UNIT_DONE();
}

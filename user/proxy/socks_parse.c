/* SOCKS front ends of the auto handler: SOCKS4/4a requests, the SOCKS5
 * greeting, RFC 1929 login, request and UDP header, and the replies GOST
 * writes, byte for byte as go-gost/gosocks4 and gosocks5 do.  Pure: no I/O,
 * no allocation; every length is bounded by a one-byte length field or by
 * the 255-byte C-string limit.
 *
 * Parsers take whatever has arrived and say 0 until the message is complete;
 * a byte that already makes the message invalid is reported at once. */
#include "proxy/socks_parse.h"

#include <arpa/inet.h>
#include <string.h>

/* ---- addresses: ATYP ADDR PORT, as the chain will see them ---- */

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* GOST hands the address to the chain as text and the relay connector parses
 * it back (net.ParseIP, To4): apply the same round trip. */
static void addr_canon(struct relay_addr *a)
{
	if (a->atyp == RELAY_ATYP_DOMAIN && a->dlen && !memchr(a->domain, 0, a->dlen)) {
		uint8_t ip[16];

		if (inet_pton(AF_INET, a->domain, ip) == 1) {
			memset(a->ip, 0, sizeof(a->ip));
			memcpy(a->ip, ip, 4);
			a->atyp = RELAY_ATYP_IPV4;
		} else if (inet_pton(AF_INET6, a->domain, ip) == 1) {
			memcpy(a->ip, ip, 16);
			a->atyp = RELAY_ATYP_IPV6;
		}
		if (a->atyp != RELAY_ATYP_DOMAIN) {
			a->dlen = 0;
			memset(a->domain, 0, sizeof(a->domain));
		}
	}
	if (a->atyp == RELAY_ATYP_IPV6 && !memcmp(a->ip, v4_mapped, sizeof(v4_mapped))) {
		memmove(a->ip, a->ip + 12, 4);
		memset(a->ip + 4, 0, 12);
		a->atyp = RELAY_ATYP_IPV4;
	}
}

static bool valid_atyp(uint8_t t)
{
	return t == RELAY_ATYP_IPV4 || t == RELAY_ATYP_DOMAIN || t == RELAY_ATYP_IPV6;
}

/* Returns bytes consumed, 0 when more are needed, -1 for an unknown ATYP. */
static int addr_decode(const uint8_t *b, size_t len, struct relay_addr *a)
{
	size_t alen, off = 1;

	if (len < 1)
		return 0;
	if (!valid_atyp(b[0]))
		return -1;
	switch (b[0]) {
	case RELAY_ATYP_IPV4:
		alen = 4;
		break;
	case RELAY_ATYP_IPV6:
		alen = 16;
		break;
	default:
		if (len < 2)
			return 0;
		alen = b[1];
		off = 2;
		break;
	}
	if (len < off + alen + 2)
		return 0;
	memset(a, 0, sizeof(*a));
	a->atyp = b[0];
	if (a->atyp == RELAY_ATYP_DOMAIN) {
		a->dlen = (uint8_t)alen;
		memcpy(a->domain, b + off, alen);
	} else {
		memcpy(a->ip, b + off, alen);
	}
	a->port = (uint16_t)(b[off + alen] << 8 | b[off + alen + 1]);
	addr_canon(a);
	return (int)(off + alen + 2);
}

/* gosocks5 Addr.Encode; an unset address is IPv4 0.0.0.0.  -1 if cap is short. */
static int addr_encode(uint8_t *out, size_t cap, const struct relay_addr *in)
{
	struct relay_addr a;
	size_t n;

	if (in) {
		a = *in;
		addr_canon(&a);
	} else {
		memset(&a, 0, sizeof(a));
	}
	if (!valid_atyp(a.atyp)) {
		a.atyp = RELAY_ATYP_IPV4;
		memset(a.ip, 0, sizeof(a.ip));
	}
	n = a.atyp == RELAY_ATYP_IPV4 ? 4 : a.atyp == RELAY_ATYP_IPV6 ? 16 : 1u + a.dlen;
	if (cap < 1 + n + 2)
		return -1;
	out[0] = a.atyp;
	if (a.atyp == RELAY_ATYP_DOMAIN) {
		out[1] = a.dlen;
		memcpy(out + 2, a.domain, a.dlen);
	} else {
		memcpy(out + 1, a.ip, n);
	}
	out[1 + n] = (uint8_t)(a.port >> 8);
	out[2 + n] = (uint8_t)a.port;
	return (int)(1 + n + 2);
}

/* ---- SOCKS4 / 4a ---- */

/* A NUL-terminated field of at most 255 bytes (gosocks4 readCString).
 * Returns its size with the NUL, 0 when more is needed, -1 when too long. */
static int cstring(const uint8_t *b, size_t len, char *out)
{
	size_t lim = len < 256 ? len : 256;
	const uint8_t *nul = memchr(b, 0, lim);

	if (!nul)
		return len >= 256 ? -1 : 0;
	memcpy(out, b, (size_t)(nul - b));
	out[nul - b] = 0;
	return (int)(nul - b) + 1;
}

int socks4_parse_request(const uint8_t *buf, size_t len, struct socks4_req *r)
{
	struct socks4_req q;
	int n, m = 0;

	if (len >= 1 && buf[0] != 4)
		return -1;
	if (len >= 2 && buf[1] != SOCKS4_CMD_CONNECT && buf[1] != SOCKS4_CMD_BIND)
		return -1;
	if (len < 8)
		return 0;
	memset(&q, 0, sizeof(q));
	q.cmd = buf[1];
	q.addr.port = (uint16_t)(buf[2] << 8 | buf[3]);
	n = cstring(buf + 8, len - 8, q.userid);
	if (n <= 0)
		return n;
	if (!(buf[4] | buf[5] | buf[6]) && buf[7]) {
		/* 4a: 0.0.0.x, x != 0, and the host name follows the userid */
		m = cstring(buf + 8 + n, len - 8 - (size_t)n, q.addr.domain);
		if (m <= 0)
			return m;
		q.addr.atyp = RELAY_ATYP_DOMAIN;
		q.addr.dlen = (uint8_t)(m - 1);
		addr_canon(&q.addr);
	} else {
		q.addr.atyp = RELAY_ATYP_IPV4;
		memcpy(q.addr.ip, buf + 4, 4);
	}
	*r = q;
	return 8 + n + m;
}

int socks4_reply(uint8_t out[8], uint8_t code)
{
	memset(out, 0, 8);
	out[1] = code;
	return 8;
}

/* ---- SOCKS5 ---- */

int socks5_parse_greeting(const uint8_t *buf, size_t len, uint8_t methods[256], int *nmethods)
{
	size_t n;

	if (len >= 1 && buf[0] != 5)
		return -1;
	if (len >= 2 && buf[1] == 0)
		return -1;
	if (len < 2 || len < 2 + (size_t)buf[1])
		return 0;
	n = buf[1];
	memset(methods, 0, 256);
	for (size_t i = 0; i < n; i++)
		methods[buf[2 + i]] = 1;
	*nmethods = (int)n;
	return (int)(2 + n);
}

uint8_t socks5_select_method(const uint8_t methods[256], bool have_users)
{
	if (have_users)
		return methods[SOCKS5_METHOD_USERPASS] ? SOCKS5_METHOD_USERPASS :
							 SOCKS5_METHOD_NO_ACCEPTABLE;
	return methods[SOCKS5_METHOD_NONE] ? SOCKS5_METHOD_NONE : SOCKS5_METHOD_NO_ACCEPTABLE;
}

int socks5_method_reply(uint8_t out[2], uint8_t method)
{
	out[0] = 5;
	out[1] = method;
	return 2;
}

int socks5_parse_userpass(const uint8_t *buf, size_t len, char user[256], char pass[256])
{
	size_t ulen, plen;

	if (len >= 1 && buf[0] != 1)
		return -1;
	if (len < 2)
		return 0;
	ulen = buf[1];
	if (len < 3 + ulen)
		return 0;
	plen = buf[2 + ulen];
	if (len < 3 + ulen + plen)
		return 0;
	if (memchr(buf + 2, 0, ulen) || memchr(buf + 3 + ulen, 0, plen))
		return -2;
	memcpy(user, buf + 2, ulen);
	user[ulen] = 0;
	memcpy(pass, buf + 3 + ulen, plen);
	pass[plen] = 0;
	return (int)(3 + ulen + plen);
}

int socks5_userpass_reply(uint8_t out[2], bool ok)
{
	out[0] = 1;
	out[1] = ok ? 0 : 1;
	return 2;
}

int socks5_parse_request(const uint8_t *buf, size_t len, struct socks5_req *r)
{
	struct relay_addr a;
	int n;

	if (len >= 1 && buf[0] != 5)
		return -1;
	if (len < 3)
		return 0;
	n = addr_decode(buf + 3, len - 3, &a);
	if (n <= 0)
		return n;
	r->cmd = buf[1];
	r->addr = a;
	return 3 + n;
}

int socks5_reply(uint8_t *out, size_t cap, uint8_t rep, const struct relay_addr *bound)
{
	int n;

	if (cap < 3)
		return -1;
	out[0] = 5;
	out[1] = rep;
	out[2] = 0;
	n = addr_encode(out + 3, cap - 3, bound);
	return n < 0 ? -1 : 3 + n;
}

int socks5_udp_parse(const uint8_t *buf, size_t len, struct relay_addr *a, uint8_t *frag)
{
	struct relay_addr t;
	int n;

	if (len < 3)
		return 0;
	n = addr_decode(buf + 3, len - 3, &t);
	if (n <= 0)
		return n;
	*a = t;
	*frag = buf[2];
	return 3 + n;
}

int socks5_udp_encode(uint8_t *out, size_t cap, const struct relay_addr *a)
{
	int n;

	if (cap < 3)
		return -1;
	out[0] = out[1] = out[2] = 0;
	n = addr_encode(out + 3, cap - 3, a);
	return n < 0 ? -1 : 3 + n;
}

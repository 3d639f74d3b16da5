/* The GOST relay wire codec: request/response headers and their feature TLVs
 * (USER_AUTH, ADDR, TUNNEL, NETWORK), GOST's address-text rules in both
 * directions, the 2-byte UDP-over-stream length prefix and the SOCKS5-style
 * UDP BIND frame header.  It follows go-gost/relay v0.5.0 and gosocks5 byte
 * for byte, including Go's error texts, and never reads past the length it is
 * given, allocates, or touches a socket. */
#include "proxy/relay_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define FEAT_HDR_LEN 3                  /* TYPE u8, LEN u16 */
#define FEAT_MAX_LEN 0xffff             /* FLEN is a u16 */
#define TUNNEL_MIN_LEN 16               /* v0.5.0 accepts a bare 16-byte ID */
#define TUNNEL_LEN 20
#define ADDR_TEXT_MAX 512               /* host <= 255 plus brackets and any port text */
#define HOST_TEXT_MAX 264               /* "[" IPv6/domain "]" ":" 65535 NUL, rounded */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

const char *relay_strerror(int err)
{
	switch (err) {
	case RELAY_OK: return "ok";
	case RELAY_E_EOF: return "EOF";
	case RELAY_E_UNEXPECTED_EOF: return "unexpected EOF";
	case RELAY_E_BAD_VERSION: return "bad version";
	case RELAY_E_SHORT_BUFFER: return "short buffer";
	case RELAY_E_BAD_ATYP: return "bad address type";
	case RELAY_E_UNKNOWN_FEATURE: return "unknown feature";
	case RELAY_E_USER_TOO_LONG: return "username maximum length exceeded";
	case RELAY_E_PASS_TOO_LONG: return "password maximum length exceeded";
	case RELAY_E_ADDR_TOO_LONG: return "addr maximum length exceeded";
	case RELAY_E_FEATURES_TOO_LONG: return "features maximum length exceeded";
	case RELAY_E_NOSPACE: return "output buffer too small";
	case RELAY_E_DATA_TOO_LONG: return "write: data maximum exceeded";
	case RELAY_E_BAD_ADDR_TEXT: return "bad address text";
	default: return "unknown relay error";
	}
}

/* The client's "N Text" uses these; GOST has no text for OK or unknown codes. */
const char *relay_status_text(int status)
{
	switch (status) {
	case RELAY_STATUS_BAD_REQUEST: return "Bad Request";
	case RELAY_STATUS_UNAUTHORIZED: return "Unauthorized";
	case RELAY_STATUS_FORBIDDEN: return "Forbidden";
	case RELAY_STATUS_TIMEOUT: return "Timeout";
	case RELAY_STATUS_SERVICE_UNAVAILABLE: return "Service Unavailable";
	case RELAY_STATUS_HOST_UNREACHABLE: return "Host Unreachable";
	case RELAY_STATUS_NETWORK_UNREACHABLE: return "Network Unreachable";
	case RELAY_STATUS_INTERNAL_SERVER_ERROR: return "Internal Server Error";
	default: return "";
	}
}

/* ---- decoding -------------------------------------------------------- */

static int dec_user(const uint8_t *d, size_t n, struct relay_msg *m)
{
	size_t ulen, plen;

	if (n < 2)
		return RELAY_E_SHORT_BUFFER;
	ulen = d[0];
	if (n < 1 + ulen + 1)
		return RELAY_E_SHORT_BUFFER;
	plen = d[1 + ulen];
	if (n < 2 + ulen + plen)
		return RELAY_E_SHORT_BUFFER;
	/* anything after the password is ignored, as GOST does */
	memcpy(m->user, d + 1, ulen);
	m->user[ulen] = '\0';
	memcpy(m->pass, d + 2 + ulen, plen);
	m->pass[plen] = '\0';
	m->ulen = (uint8_t)ulen;
	m->plen = (uint8_t)plen;
	m->has_user = true;
	return 0;
}

/* One ADDR payload; extra bytes after the port are ignored, as GOST does. */
static int dec_addr(const uint8_t *d, size_t n, struct relay_addr *a)
{
	size_t alen;

	/* GOST checks the minimum length before it looks at ATYP */
	if (n < 4)
		return RELAY_E_SHORT_BUFFER;
	memset(a, 0, sizeof(*a));
	a->atyp = d[0];
	switch (d[0]) {
	case RELAY_ATYP_IPV4:
		if (n < 1 + 4 + 2)
			return RELAY_E_SHORT_BUFFER;
		memcpy(a->ip, d + 1, 4);
		a->port = get16(d + 5);
		return 0;
	case RELAY_ATYP_IPV6:
		if (n < 1 + 16 + 2)
			return RELAY_E_SHORT_BUFFER;
		memcpy(a->ip, d + 1, 16);
		a->port = get16(d + 17);
		return 0;
	case RELAY_ATYP_DOMAIN:
		alen = d[1];
		if (n < 4 + alen)
			return RELAY_E_SHORT_BUFFER;
		memcpy(a->domain, d + 2, alen);
		a->domain[alen] = '\0';
		a->dlen = (uint8_t)alen;
		a->port = get16(d + 2 + alen);
		return 0;
	default:
		a->atyp = 0;
		return RELAY_E_BAD_ATYP;
	}
}

static int dec_feature(uint8_t type, const uint8_t *d, size_t n,
		       enum relay_decode_mode mode, struct relay_msg *m)
{
	struct relay_addr a;
	int rc;

	switch (type) {
	case RELAY_FEAT_USER_AUTH:
		return dec_user(d, n, m);
	case RELAY_FEAT_ADDR:
		rc = dec_addr(d, n, &a);
		if (rc < 0)
			return rc;
		if (m->n_addr == 0)
			m->addr_first = a;
		m->addr = a;
		m->n_addr++;
		return 0;
	case RELAY_FEAT_TUNNEL:
		/* v0.5.0 wants 16 bytes, >= 0.6 wants 20; accept what either accepts */
		if (n < TUNNEL_MIN_LEN)
			return RELAY_E_SHORT_BUFFER;
		memset(m->tunnel, 0, sizeof(m->tunnel));
		memcpy(m->tunnel, d, n < TUNNEL_LEN ? n : TUNNEL_LEN);
		m->has_tunnel = true;
		return 0;
	case RELAY_FEAT_NETWORK:
		if (n < 2)
			return RELAY_E_SHORT_BUFFER;
		m->network = get16(d);
		m->has_network = true;
		return 0;
	default:
		if (mode == RELAY_DECODE_STRICT)
			return RELAY_E_UNKNOWN_FEATURE;
		m->n_unknown++;
		return 0;
	}
}

/* Walks the TLV list the way GOST does with io.ReadFull over the block:
 * a cut feature header is "unexpected EOF", a header followed by none of its
 * data is plain "EOF", some of its data "unexpected EOF".  The data is read
 * before the type is judged, so truncation wins over "unknown feature". */
static int dec_features(const uint8_t *buf, size_t len, enum relay_decode_mode mode,
			struct relay_msg *m)
{
	size_t off = 0;

	while (off < len) {
		size_t left = len - off, flen;
		uint8_t type;
		int rc;

		if (left < FEAT_HDR_LEN)
			return RELAY_E_UNEXPECTED_EOF;
		type = buf[off];
		flen = get16(buf + off + 1);
		off += FEAT_HDR_LEN;
		left -= FEAT_HDR_LEN;
		if (flen > 0 && left == 0)
			return RELAY_E_EOF;
		if (left < flen)
			return RELAY_E_UNEXPECTED_EOF;
		rc = dec_feature(type, buf + off, flen, mode, m);
		if (rc < 0)
			return rc;
		off += flen;
	}
	return 0;
}

int relay_decode_features(const uint8_t *buf, size_t len, enum relay_decode_mode mode,
			  struct relay_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (len > FEAT_MAX_LEN)
		return RELAY_E_FEATURES_TOO_LONG;
	return dec_features(buf, len, mode, m);
}

int relay_decode(const uint8_t *buf, size_t len, enum relay_decode_mode mode,
		 struct relay_msg *m, size_t *need)
{
	size_t flen;
	int rc;

	memset(m, 0, sizeof(*m));
	if (need)
		*need = RELAY_HDR_LEN;
	if (len < RELAY_HDR_LEN)
		return 0;
	/* GOST stops at the version byte; FLEN is not trusted after that */
	if (buf[0] != RELAY_VERSION)
		return RELAY_E_BAD_VERSION;
	flen = get16(buf + 2);
	if (need)
		*need = RELAY_HDR_LEN + flen;
	if (len - RELAY_HDR_LEN < flen)
		return 0;
	m->version = buf[0];
	m->code = buf[1];
	rc = dec_features(buf + RELAY_HDR_LEN, flen, mode, m);
	if (rc < 0)
		return rc;
	return (int)(RELAY_HDR_LEN + flen);
}

const char *relay_msg_network(const struct relay_msg *m)
{
	if (m->code & RELAY_FLAG_UDP)
		return "udp";
	if (!m->has_network)
		return "tcp";
	switch (m->network) {
	case RELAY_NET_UDP: return "udp";
	case RELAY_NET_IP: return "ip";
	case RELAY_NET_UNIX: return "unix";
	case RELAY_NET_SERIAL: return "serial";
	default: return "tcp";      /* RELAY_NET_TCP and every unknown id */
	}
}

/* ---- encoding -------------------------------------------------------- */

/* ADDR payload as GOST encodes it; an unset or unknown ATYP becomes IPv4
 * 0.0.0.0 but keeps the port (relay v0.5.0's default branch). */
static size_t enc_addr(uint8_t *out, const struct relay_addr *a)
{
	size_t n = 0;

	switch (a->atyp) {
	case RELAY_ATYP_IPV6:
		out[n++] = RELAY_ATYP_IPV6;
		memcpy(out + n, a->ip, 16);
		n += 16;
		break;
	case RELAY_ATYP_DOMAIN:
		out[n++] = RELAY_ATYP_DOMAIN;
		out[n++] = a->dlen;
		memcpy(out + n, a->domain, a->dlen);
		n += a->dlen;
		break;
	case RELAY_ATYP_IPV4:
		out[n++] = RELAY_ATYP_IPV4;
		memcpy(out + n, a->ip, 4);
		n += 4;
		break;
	default:
		out[n++] = RELAY_ATYP_IPV4;
		memset(out + n, 0, 4);
		n += 4;
		break;
	}
	put16(out + n, a->port);
	return n + 2;
}

static size_t addr_enc_len(const struct relay_addr *a)
{
	switch (a->atyp) {
	case RELAY_ATYP_IPV6: return 1 + 16 + 2;
	case RELAY_ATYP_DOMAIN: return 1 + 1 + (size_t)a->dlen + 2;
	default: return 1 + 4 + 2;
	}
}

void relay_w_begin(struct relay_writer *w, uint8_t *buf, size_t cap, uint8_t code)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = RELAY_OK;
	if (!buf || cap < RELAY_HDR_LEN) {
		w->err = RELAY_E_NOSPACE;
		return;
	}
	buf[0] = RELAY_VERSION;
	buf[1] = code;
	buf[2] = 0;
	buf[3] = 0;
	w->len = RELAY_HDR_LEN;
}

/* Reserves a feature of dlen payload bytes and returns where the payload
 * goes, or NULL once any error is set. */
static uint8_t *w_feature(struct relay_writer *w, uint8_t type, size_t dlen)
{
	uint8_t *p;

	if (w->err)
		return NULL;
	if (w->len - RELAY_HDR_LEN + FEAT_HDR_LEN + dlen > FEAT_MAX_LEN) {
		w->err = RELAY_E_FEATURES_TOO_LONG;
		return NULL;
	}
	if (w->cap - w->len < FEAT_HDR_LEN + dlen) {
		w->err = RELAY_E_NOSPACE;
		return NULL;
	}
	p = w->buf + w->len;
	p[0] = type;
	put16(p + 1, (uint16_t)dlen);
	w->len += FEAT_HDR_LEN + dlen;
	return p + FEAT_HDR_LEN;
}

void relay_w_user(struct relay_writer *w, const char *user, const char *pass)
{
	size_t ulen, plen;
	uint8_t *p;

	if (!user)
		user = "";
	if (!pass)
		pass = "";
	ulen = strnlen(user, 256);
	plen = strnlen(pass, 256);
	/* GOST encodes every feature before it checks the total length, so a
	 * too-long name beats an earlier "features maximum length exceeded" */
	if (ulen > 255 || plen > 255) {
		if (w->err == RELAY_OK || w->err == RELAY_E_FEATURES_TOO_LONG)
			w->err = ulen > 255 ? RELAY_E_USER_TOO_LONG : RELAY_E_PASS_TOO_LONG;
		return;
	}
	p = w_feature(w, RELAY_FEAT_USER_AUTH, 2 + ulen + plen);
	if (!p)
		return;
	p[0] = (uint8_t)ulen;
	memcpy(p + 1, user, ulen);
	p[1 + ulen] = (uint8_t)plen;
	memcpy(p + 2 + ulen, pass, plen);
}

void relay_w_addr(struct relay_writer *w, const struct relay_addr *a)
{
	static const struct relay_addr unset;
	uint8_t *p;

	if (!a)
		a = &unset;
	p = w_feature(w, RELAY_FEAT_ADDR, addr_enc_len(a));
	if (p)
		enc_addr(p, a);
}

void relay_w_network(struct relay_writer *w, uint16_t network)
{
	uint8_t *p = w_feature(w, RELAY_FEAT_NETWORK, 2);

	if (p)
		put16(p, network);
}

void relay_w_tunnel(struct relay_writer *w, const uint8_t tunnel[20])
{
	uint8_t *p = w_feature(w, RELAY_FEAT_TUNNEL, TUNNEL_LEN);

	if (p)
		memcpy(p, tunnel, TUNNEL_LEN);
}

int relay_w_finish(struct relay_writer *w)
{
	if (w->err)
		return w->err;
	put16(w->buf + 2, (uint16_t)(w->len - RELAY_HDR_LEN));
	return (int)w->len;
}

/* ---- address text ---------------------------------------------------- */

/* Go's net.SplitHostPort: 0 and the host/port spans, or -1 where Go errors. */
static int split_host_port(const char *s, size_t n, size_t *h0, size_t *hl,
			   size_t *p0, size_t *pl)
{
	const char *colon = memrchr(s, ':', n);
	size_t i, j = 0, k = 0;

	if (!colon)
		return -1;                      /* missing port */
	i = (size_t)(colon - s);
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		size_t end;

		if (!rb)
			return -1;              /* missing ']' */
		end = (size_t)(rb - s);
		if (end + 1 != i)
			return -1;              /* no port after ']', or too many colons */
		*h0 = 1;
		*hl = end - 1;
		j = 1;
		k = end + 1;
	} else {
		if (memchr(s, ':', i))
			return -1;              /* too many colons: a bare IPv6 literal */
		*h0 = 0;
		*hl = i;
	}
	if (memchr(s + j, '[', n - j) || memchr(s + k, ']', n - k))
		return -1;
	*p0 = i + 1;
	*pl = n - i - 1;
	return 0;
}

/* strconv.Atoi truncated to uint16 as ParseFrom does: an optional sign, only
 * digits, within int64; anything else is port 0.  "-1" really is 65535. */
static uint16_t go_atoi_port(const char *s, size_t n)
{
	uint64_t v = 0;
	bool neg = false;
	size_t i = 0;

	if (n == 0)
		return 0;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		if (n == 1)
			return 0;
		i = 1;
	}
	for (; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return 0;
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
		return 0;
	return (uint16_t)(neg ? 0 - v : v);
}

static bool ip6_is_v4mapped(const uint8_t ip[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(ip, prefix, sizeof(prefix)) == 0;
}

int relay_addr_parse(struct relay_addr *a, const char *text)
{
	size_t n, h0, hl, p0, pl;
	char host[HOST_TEXT_MAX];
	uint8_t ip6[16];

	memset(a, 0, sizeof(*a));
	if (!text)
		return RELAY_E_BAD_ADDR_TEXT;
	n = strnlen(text, ADDR_TEXT_MAX);
	if (n == ADDR_TEXT_MAX)
		return RELAY_E_ADDR_TOO_LONG;
	/* no usable host:port means the whole text is the host and the port is 0 */
	if (n == 0 || split_host_port(text, n, &h0, &hl, &p0, &pl) < 0) {
		h0 = 0;
		hl = n;
	} else {
		a->port = go_atoi_port(text + p0, pl);
	}
	if (hl > 255)
		return RELAY_E_ADDR_TOO_LONG;   /* too long for an IP literal as well */
	memcpy(host, text + h0, hl);
	host[hl] = '\0';

	if (inet_pton(AF_INET, host, a->ip) == 1) {
		a->atyp = RELAY_ATYP_IPV4;
	} else if (inet_pton(AF_INET6, host, ip6) == 1) {
		if (ip6_is_v4mapped(ip6)) {
			a->atyp = RELAY_ATYP_IPV4;
			memcpy(a->ip, ip6 + 12, 4);
		} else {
			a->atyp = RELAY_ATYP_IPV6;
			memcpy(a->ip, ip6, 16);
		}
	} else {
		a->atyp = RELAY_ATYP_DOMAIN;
		memset(a->ip, 0, sizeof(a->ip));
		memcpy(a->domain, host, hl + 1);
		a->dlen = (uint8_t)hl;
	}
	return 0;
}

/* IPv6 text as Go prints it (RFC 5952): lowercase, no leading zeros, the
 * first longest run of two or more zero groups as "::", no dotted tail. */
static size_t fmt_ip6(char *out, const uint8_t ip[16])
{
	static const char hex[] = "0123456789abcdef";
	int best = -1, best_len = 0, run = -1, g;
	size_t n = 0;

	for (g = 0; g < 8; g++) {
		if (ip[2 * g] == 0 && ip[2 * g + 1] == 0) {
			if (run < 0)
				run = g;
			if (g - run + 1 > best_len) {
				best = run;
				best_len = g - run + 1;
			}
		} else {
			run = -1;
		}
	}
	if (best_len < 2)
		best = -1;
	for (g = 0; g < 8; g++) {
		unsigned v = (unsigned)get16(ip + 2 * g);
		bool lead = true;
		int shift;

		if (g == best) {
			out[n++] = ':';
			out[n++] = ':';
			g += best_len - 1;
			continue;
		}
		if (g > 0 && g != best + best_len)
			out[n++] = ':';
		for (shift = 12; shift >= 0; shift -= 4) {
			unsigned nib = (v >> shift) & 0xf;

			if (nib == 0 && lead && shift > 0)
				continue;
			lead = false;
			out[n++] = hex[nib];
		}
	}
	out[n] = '\0';
	return n;
}

/* The server's target text: Go's net.JoinHostPort(host, port), where host is
 * what GOST decoded (a v4-mapped IPv6 prints as IPv4, as net.IP does). */
int relay_addr_format(const struct relay_addr *a, char *out, size_t cap)
{
	char host[HOST_TEXT_MAX];
	size_t hl;
	bool brackets;
	int n;

	switch (a->atyp) {
	case RELAY_ATYP_IPV6:
		if (ip6_is_v4mapped(a->ip)) {
			inet_ntop(AF_INET, a->ip + 12, host, sizeof(host));
			hl = strlen(host);
		} else {
			hl = fmt_ip6(host, a->ip);
		}
		break;
	case RELAY_ATYP_DOMAIN:
		hl = a->dlen;
		memcpy(host, a->domain, hl);
		host[hl] = '\0';
		break;
	case RELAY_ATYP_IPV4:
		inet_ntop(AF_INET, a->ip, host, sizeof(host));
		hl = strlen(host);
		break;
	default:                        /* encodes as 0.0.0.0, so reads back as it */
		memcpy(host, "0.0.0.0", 8);
		hl = 7;
		break;
	}
	brackets = memchr(host, ':', hl) != NULL;
	/* hl + brackets + ":65535" always fits in an int */
	n = (int)hl + (brackets ? 2 : 0) + snprintf(NULL, 0, ":%u", (unsigned)a->port);
	if (!out || cap <= (size_t)n) {
		if (out && cap > 0)
			out[0] = '\0';
		return RELAY_E_NOSPACE;
	}
	{
		size_t o = 0;

		if (brackets)
			out[o++] = '[';
		memcpy(out + o, host, hl);
		o += hl;
		if (brackets)
			out[o++] = ']';
		snprintf(out + o, cap - o, ":%u", (unsigned)a->port);
	}
	return n;
}

int relay_addr_from_sockaddr(struct relay_addr *a, const struct sockaddr *sa)
{
	memset(a, 0, sizeof(*a));
	if (!sa)
		return RELAY_E_BAD_ATYP;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		a->atyp = RELAY_ATYP_IPV4;
		memcpy(a->ip, &s4->sin_addr, 4);
		a->port = ntohs(s4->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *ip = s6->sin6_addr.s6_addr;

		a->port = ntohs(s6->sin6_port);
		/* Go reports a dual-stack socket's IPv4 peers as IPv4 */
		if (ip6_is_v4mapped(ip)) {
			a->atyp = RELAY_ATYP_IPV4;
			memcpy(a->ip, ip + 12, 4);
		} else {
			a->atyp = RELAY_ATYP_IPV6;
			memcpy(a->ip, ip, 16);
		}
		return 0;
	}
	return RELAY_E_BAD_ATYP;
}

/* ---- UDP framings ---------------------------------------------------- */

int relay_udp_frame_hdr(uint8_t out[2], size_t n)
{
	if (n > 0xffff)
		return RELAY_E_DATA_TOO_LONG;
	put16(out, (uint16_t)n);
	return RELAY_UDP_HDR;
}

int relay_udpbind_encode_hdr(uint8_t *out, size_t cap, const struct relay_addr *a, size_t dlen)
{
	size_t alen;

	/* RSV 0 makes GOST read an unframed datagram: never produce one */
	if (dlen == 0)
		return RELAY_E_SHORT_BUFFER;
	/* GOST would silently truncate RSV to 16 bits; refuse instead */
	if (dlen > 0xffff)
		return RELAY_E_DATA_TOO_LONG;
	alen = addr_enc_len(a);
	if (!out || cap < 3 + alen)
		return RELAY_E_NOSPACE;
	put16(out, (uint16_t)dlen);
	out[2] = 0xff;                  /* FRAG: GOST's "UDP tunnel" marker */
	enc_addr(out + 3, a);
	return (int)(3 + alen);
}

int relay_udpbind_decode_hdr(const uint8_t *buf, size_t len, struct relay_addr *a, size_t *dlen)
{
	size_t hlen;

	memset(a, 0, sizeof(*a));
	if (len < 4)
		return 0;
	switch (buf[3]) {
	case RELAY_ATYP_IPV4:
		hlen = 4 + 4 + 2;
		break;
	case RELAY_ATYP_IPV6:
		hlen = 4 + 16 + 2;
		break;
	case RELAY_ATYP_DOMAIN:
		if (len < 5)
			return 0;
		hlen = 5 + (size_t)buf[4] + 2;
		break;
	default:
		return RELAY_E_BAD_ATYP;
	}
	if (len < hlen)
		return 0;
	/* the address bytes are a complete ADDR payload now, so this cannot fail */
	if (dec_addr(buf + 3, hlen - 3, a) < 0)
		return RELAY_E_BAD_ATYP;
	if (dlen)
		*dlen = get16(buf);
	return (int)hlen;
}

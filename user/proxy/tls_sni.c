/* ClientHello SNI extraction (see tls_sni.h).  Only the first handshake
 * record is read; every length is checked against what is left. */
#include "proxy/tls_sni.h"

#include <string.h>

struct rd {
	const uint8_t *p;
	size_t left;
};

static int take(struct rd *r, size_t n, const uint8_t **out)
{
	if (r->left < n)
		return -1;
	if (out)
		*out = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

static int u8(struct rd *r, size_t *v)
{
	const uint8_t *b;

	if (take(r, 1, &b))
		return -1;
	*v = b[0];
	return 0;
}

static int u16(struct rd *r, size_t *v)
{
	const uint8_t *b;

	if (take(r, 2, &b))
		return -1;
	*v = (size_t)b[0] << 8 | b[1];
	return 0;
}

static int find_sni(struct rd *ext, char *name, size_t cap)
{
	while (ext->left) {
		size_t type, elen, list, ntype, nlen;
		const uint8_t *data, *host;
		struct rd e;

		if (u16(ext, &type) || u16(ext, &elen) || take(ext, elen, &data))
			return -1;
		if (type != 0)
			continue;
		e.p = data;
		e.left = elen;
		if (u16(&e, &list) || u8(&e, &ntype) || u16(&e, &nlen) || take(&e, nlen, &host))
			return -1;
		if (ntype != 0 || nlen == 0 || nlen >= cap || memchr(host, 0, nlen))
			return -1;
		memcpy(name, host, nlen);
		name[nlen] = 0;
		return 0;
	}
	return 0;
}

int tls_sni_parse(const uint8_t *buf, size_t len, char *name, size_t cap)
{
	size_t rec_len, hs_len, n;
	struct rd r;

	if (!cap)
		return -1;
	name[0] = 0;
	if (len >= 1 && buf[0] != 0x16)
		return -1;
	if (len >= 2 && buf[1] != 0x03)
		return -1;
	if (len < 5)
		return 0;
	rec_len = (size_t)buf[3] << 8 | buf[4];
	if (rec_len < 4 || rec_len > 16384 + 2048)
		return -1;
	if (len < 5 + rec_len)
		return 0;
	r.p = buf + 5;
	r.left = rec_len;
	if (u8(&r, &n) || n != 1)               /* HandshakeType client_hello */
		return -1;
	if (take(&r, 1, NULL) || u16(&r, &hs_len) || hs_len > r.left)
		return -1;
	r.left = hs_len;
	if (take(&r, 2 + 32, NULL) ||           /* client_version, random */
	    u8(&r, &n) || take(&r, n, NULL) ||  /* session_id */
	    u16(&r, &n) || take(&r, n, NULL) || /* cipher_suites */
	    u8(&r, &n) || take(&r, n, NULL))    /* compression_methods */
		return -1;
	if (r.left) {
		struct rd ext;

		if (u16(&r, &n) || n > r.left)
			return -1;
		ext.p = r.p;
		ext.left = n;
		if (find_sni(&ext, name, cap))
			return -1;
	}
	return (int)(5 + rec_len);
}

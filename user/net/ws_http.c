/* WebSocket upgrade messages (see ws_http.h). */
#include "net/ws_http.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/base64.h"

#define MAX_FIELDS 64
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct field {
	const char *name, *val;
	size_t nlen, vlen;
};

struct head {
	const char *line;               /* request or status line */
	size_t line_len;
	size_t n;
	struct field f[MAX_FIELDS];
};

size_t ws_http_header_end(const char *buf, size_t len)
{
	/* CRLF CRLF, or bare LFs as Go's reader tolerates */
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static size_t trim_len(const char *s, size_t n)
{
	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

/* Split the block into its first line and "Name: value" fields; -1 when malformed. */
static int parse_head(const char *p, size_t len, struct head *h)
{
	const char *end = p + len, *eol;

	memset(h, 0, sizeof(*h));
	eol = memchr(p, '\n', len);
	if (!eol)
		return -1;
	h->line = p;
	h->line_len = trim_len(p, (size_t)(eol - p));
	for (p = eol + 1; p < end; p = eol + 1) {
		const char *colon;
		size_t l;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			return -1;
		l = trim_len(p, (size_t)(eol - p));
		if (!l)
			break;          /* the blank line */
		colon = memchr(p, ':', l);
		if (!colon || colon == p || p[0] == ' ' || p[0] == '\t' || h->n == MAX_FIELDS)
			return -1;
		h->f[h->n].name = p;
		h->f[h->n].nlen = (size_t)(colon - p);
		colon++;
		while (colon < p + l && (*colon == ' ' || *colon == '\t'))
			colon++;
		h->f[h->n].val = colon;
		h->f[h->n].vlen = (size_t)(p + l - colon);
		h->n++;
	}
	return 0;
}

static bool name_is(const struct field *f, const char *name)
{
	return f->nlen == strlen(name) && !strncasecmp(f->name, name, f->nlen);
}

static const struct field *get(const struct head *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (name_is(&h->f[i], name))
			return &h->f[i];
	return NULL;
}

/* gorilla's tokenListContainsValue: any field of that name, comma-separated,
 * case-insensitive */
static bool has_token(const struct head *h, const char *name, const char *token)
{
	size_t tl = strlen(token);

	for (size_t i = 0; i < h->n; i++) {
		const char *v = h->f[i].val, *e = v + h->f[i].vlen;

		if (!name_is(&h->f[i], name))
			continue;
		while (v < e) {
			const char *c = memchr(v, ',', (size_t)(e - v));
			const char *te = c ? c : e;

			while (v < te && (*v == ' ' || *v == '\t'))
				v++;
			if ((size_t)(trim_len(v, (size_t)(te - v))) == tl && !strncasecmp(v, token, tl))
				return true;
			v = c ? c + 1 : e;
		}
	}
	return false;
}

void ws_accept_for(const char *key, char *out)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char buf[WS_KEY_LEN * 2 + sizeof(WS_GUID)];
	int n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);

	SHA1((const unsigned char *)buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, md);
	EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
}

/* Go's http.Error: the status text as body, text/plain, nosniff. */
static int refuse(int status, const char *text, bool version_hdr, char *resp, size_t cap,
		  size_t *resp_len)
{
	char body[96];
	int bl = snprintf(body, sizeof(body), "%s\n", text);
	int n = snprintf(resp, cap,
			 "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: %d\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n%s"
			 "X-Content-Type-Options: nosniff\r\n\r\n%s",
			 status, text, bl, version_hdr ? "Sec-Websocket-Version: 13\r\n" : "", body);

	*resp_len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
	return status;
}

int ws_server_answer(const char *hdr, size_t len, const char *path, char *resp, size_t cap,
		     size_t *resp_len, char *why, size_t whylen)
{
	static const char not_ws[] = "the client is not using the websocket protocol: ";
	struct head h;
	const char *sp1, *sp2, *uri, *le;
	const struct field *key;
	size_t ulen, plen;
	uint8_t raw[BASE64_DECODED_MAX(64)];
	bool is_get;

	if (parse_head(hdr, len, &h) || !(sp1 = memchr(h.line, ' ', h.line_len))) {
		snprintf(why, whylen, "malformed HTTP request");
		return refuse(400, "Bad Request", false, resp, cap, resp_len);
	}
	le = h.line + h.line_len;
	uri = sp1 + 1;
	sp2 = memchr(uri, ' ', (size_t)(le - uri));
	if (!sp2 || (size_t)(le - sp2 - 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
		snprintf(why, whylen, "malformed HTTP request line");
		return refuse(400, "Bad Request", false, resp, cap, resp_len);
	}
	if (sp2[8] == '1' && !get(&h, "Host")) {
		snprintf(why, whylen, "missing required Host header");
		return refuse(400, "Bad Request", false, resp, cap, resp_len);
	}
	ulen = (size_t)(sp2 - uri);
	plen = strcspn(uri, "? ");
	if (plen > ulen)
		plen = ulen;
	/* ServeMux: one pattern, matched exactly, the query ignored */
	if (plen != strlen(path) || strncmp(uri, path, plen)) {
		snprintf(why, whylen, "404 for path %.*s", (int)(plen > 200 ? 200 : plen), uri);
		return refuse(404, "Not Found", false, resp, cap, resp_len);
	}
	/* gorilla's Upgrade, in its order */
	if (!has_token(&h, "Connection", "upgrade")) {
		snprintf(why, whylen, "%s'upgrade' token not found in 'Connection' header", not_ws);
		return refuse(400, "Bad Request", true, resp, cap, resp_len);
	}
	if (!has_token(&h, "Upgrade", "websocket")) {
		snprintf(why, whylen, "%s'websocket' token not found in 'Upgrade' header", not_ws);
		return refuse(400, "Bad Request", true, resp, cap, resp_len);
	}
	is_get = (size_t)(sp1 - h.line) == 3 && !strncmp(h.line, "GET", 3);
	if (!is_get) {
		snprintf(why, whylen, "%srequest method is not GET", not_ws);
		return refuse(405, "Method Not Allowed", true, resp, cap, resp_len);
	}
	if (!has_token(&h, "Sec-Websocket-Version", "13")) {
		snprintf(why, whylen, "unsupported version: 13 not found in 'Sec-Websocket-Version' header");
		return refuse(400, "Bad Request", true, resp, cap, resp_len);
	}
	key = get(&h, "Sec-Websocket-Key");
	if (!key || key->vlen != WS_KEY_LEN ||
	    base64_decode_std(key->val, key->vlen, raw, sizeof(raw)) != 16) {
		snprintf(why, whylen, "not a websocket handshake: 'Sec-WebSocket-Key' header must be "
			 "Base64 encoded value of 16-byte in length");
		return refuse(400, "Bad Request", true, resp, cap, resp_len);
	}
	{
		char k[WS_KEY_LEN + 1], acc[WS_ACCEPT_LEN + 1];
		int n;

		memcpy(k, key->val, WS_KEY_LEN);
		k[WS_KEY_LEN] = 0;
		ws_accept_for(k, acc);
		n = snprintf(resp, cap, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
		*resp_len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
	}
	return 0;
}

int ws_new_key(char *out)
{
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
	return 0;
}

int ws_client_request(char *out, size_t cap, const char *host, const char *path,
		      const char *key)
{
	int n = snprintf(out, cap,
			 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Go-http-client/1.1\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\r\n",
			 path, host, key);

	return n > 0 && (size_t)n < cap ? n : -1;
}

int ws_client_check(const char *hdr, size_t len, const char *key, char *why, size_t whylen)
{
	struct head h;
	const struct field *acc;
	char want[WS_ACCEPT_LEN + 1];

	if (parse_head(hdr, len, &h) || h.line_len < 12 || strncmp(h.line, "HTTP/1.", 7)) {
		snprintf(why, whylen, "bad handshake: malformed HTTP response");
		return -1;
	}
	if (strncmp(h.line + 8, " 101", 4)) {
		snprintf(why, whylen, "bad handshake: %.*s", (int)(h.line_len > 80 ? 80 : h.line_len),
			 h.line);
		return -1;
	}
	ws_accept_for(key, want);
	acc = get(&h, "Sec-Websocket-Accept");
	if (!has_token(&h, "Upgrade", "websocket") || !has_token(&h, "Connection", "upgrade") ||
	    !acc || acc->vlen != WS_ACCEPT_LEN || memcmp(acc->val, want, WS_ACCEPT_LEN)) {
		snprintf(why, whylen, "bad handshake");
		return -1;
	}
	return 0;
}

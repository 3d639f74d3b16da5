/* WebSocket frames (see ws_frame.h). */
#include "net/ws_frame.h"

#include <string.h>

size_t ws_hdr_encode(uint8_t *out, bool fin, uint8_t opcode, uint64_t len, const uint8_t *key)
{
	size_t n = 2;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	out[1] = key ? 0x80 : 0;
	if (len < 126) {
		out[1] |= (uint8_t)len;
	} else if (len <= 0xffff) {
		out[1] |= 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] |= 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	if (key) {
		memcpy(out + n, key, 4);
		n += 4;
	}
	return n;
}

size_t ws_hdr_parse(const uint8_t *buf, size_t len, struct ws_hdr *h)
{
	size_t need = 2;
	uint8_t l7;

	if (len < 2)
		return 0;
	l7 = buf[1] & 0x7f;
	need += l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
	need += buf[1] & 0x80 ? 4 : 0;
	if (len < need)
		return 0;
	h->fin = buf[0] & 0x80;
	h->rsv = (buf[0] >> 4) & 0x7;
	h->opcode = buf[0] & 0x0f;
	h->masked = buf[1] & 0x80;
	if (l7 == 126) {
		h->len = (uint64_t)buf[2] << 8 | buf[3];
	} else if (l7 == 127) {
		h->len = 0;
		for (int i = 0; i < 8; i++)
			h->len = h->len << 8 | buf[2 + i];
		if (h->len >> 63)
			h->len = UINT64_MAX;
	} else {
		h->len = l7;
	}
	if (h->masked)
		memcpy(h->key, buf + need - 4, 4);
	return need;
}

int ws_hdr_check(const struct ws_hdr *h, bool server, bool in_msg, uint64_t max,
		 const char **why)
{
	/* gorilla's advanceFrame, in its order */
	if (h->rsv) {
		*why = "unexpected reserved bits";
		return WS_CLOSE_PROTOCOL;
	}
	switch (h->opcode) {
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (h->len > WS_CTRL_MAX) {
			*why = "control frame length > 125";
			return WS_CLOSE_PROTOCOL;
		}
		if (!h->fin) {
			*why = "control frame not final";
			return WS_CLOSE_PROTOCOL;
		}
		break;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (in_msg) {
			*why = "message start before final message frame";
			return WS_CLOSE_PROTOCOL;
		}
		break;
	case WS_OP_CONT:
		if (!in_msg) {
			*why = "continuation after final message frame";
			return WS_CLOSE_PROTOCOL;
		}
		break;
	default:
		*why = "unknown opcode";
		return WS_CLOSE_PROTOCOL;
	}
	if (h->masked != server) {
		*why = "incorrect mask flag";
		return WS_CLOSE_PROTOCOL;
	}
	if (h->len == UINT64_MAX) {
		*why = "frame length with the most significant bit set";
		return WS_CLOSE_PROTOCOL;
	}
	if (h->len > max) {
		*why = "frame over the size limit";
		return WS_CLOSE_TOO_BIG;
	}
	return 0;
}

/* 16 bytes at a time (SSE2 on x86-64, NEON on arm64) through GCC/Clang
 * vector types; the key repeats every four bytes, so a 16-byte block of it
 * lines up at every step */
typedef uint8_t ws_v16 __attribute__((vector_size(16)));

void ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], uint64_t pos)
{
	uint8_t k[16];
	ws_v16 kv, a, b;
	size_t i = 0;

	for (int j = 0; j < 16; j++)
		k[j] = key[(pos + (uint64_t)j) & 3];
	memcpy(&kv, k, 16);
	for (; i + 32 <= n; i += 32) {
		memcpy(&a, src + i, 16);
		memcpy(&b, src + i + 16, 16);
		a ^= kv;
		b ^= kv;
		memcpy(dst + i, &a, 16);
		memcpy(dst + i + 16, &b, 16);
	}
	for (; i < n; i++)
		dst[i] = src[i] ^ k[i & 15];
}

bool ws_close_code_valid(unsigned code)
{
	/* gorilla's isValidReceivedCloseCode: 1000-1003, 1007-1013, 3000-4999 */
	if (code >= 3000 && code <= 4999)
		return true;
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1013);
}

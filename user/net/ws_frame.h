/* RFC 6455 §5 frames: header encoding and parsing, word-wide masking, and
 * the receive checks gorilla/websocket (GOST's library) applies, with the
 * close code each violation earns.  Pure: no I/O, no allocation. */
#ifndef RELAYD_NET_WS_FRAME_H
#define RELAYD_NET_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

enum {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_NO_STATUS = 1005,
	WS_CLOSE_TOO_BIG = 1009,
};

#define WS_HDR_MAX 14
#define WS_CTRL_MAX 125

struct ws_hdr {
	bool fin;
	uint8_t rsv;                    /* RSV1..3 as bits 2..0 */
	uint8_t opcode;
	bool masked;
	uint8_t key[4];
	uint64_t len;
};

static inline bool ws_is_control(uint8_t opcode)
{
	return opcode & 0x8;
}

/* Header length (2..14) written to out; key NULL = unmasked. */
size_t ws_hdr_encode(uint8_t *out, bool fin, uint8_t opcode, uint64_t len, const uint8_t *key);

/* Parse the header at the start of buf: its length, or 0 when more bytes are
 * needed.  A 64-bit length with the top bit set parses as UINT64_MAX, which
 * ws_hdr_check() refuses. */
size_t ws_hdr_parse(const uint8_t *buf, size_t len, struct ws_hdr *h);

/* 0 when the frame is acceptable for a receiver in this role, with a data
 * message already open (in_msg) or not and a frame size limit; else the
 * close code to answer, with why. */
int ws_hdr_check(const struct ws_hdr *h, bool server, bool in_msg, uint64_t max,
		 const char **why);

/* dst = src XOR key, the key applied from payload offset pos; dst may be src. */
void ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], uint64_t pos);

/* Close codes a peer may send (RFC 6455 §7.4, as gorilla's isValidReceivedCloseCode). */
bool ws_close_code_valid(unsigned code);

#endif

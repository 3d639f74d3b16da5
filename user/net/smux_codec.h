/* smux frame codec (xtaci/smux v1.5.31, the multiplexer GOST runs over a relay
 * BIND connection).  Pure functions, no I/O, no allocation.  Integers on the
 * wire are little-endian, unlike the relay protocol.
 *
 *   VER u8 | CMD u8 | LENGTH u16 LE | SID u32 LE | DATA
 *
 * Only PSH carries LENGTH bytes of data; UPD is always followed by exactly 8
 * bytes (consumed u32 LE, window u32 LE) whatever LENGTH says; SYN, FIN and
 * NOP carry nothing (a non-zero LENGTH on them is ignored, as smux does). */
#ifndef RELAYD_NET_SMUX_CODEC_H
#define RELAYD_NET_SMUX_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define SMUX_HDR_LEN 8
#define SMUX_UPD_LEN 8                  /* UPD body */
#define SMUX_MAX_DATA 65535             /* LENGTH is a u16 */

enum smux_cmd {
	SMUX_SYN = 0,                   /* open a stream */
	SMUX_FIN = 1,                   /* close a stream (a full close in smux) */
	SMUX_PSH = 2,                   /* data */
	SMUX_NOP = 3,                   /* keepalive, sid 0 */
	SMUX_UPD = 4,                   /* v2 window update */
};

#define SMUX_E_PROTO (-1)               /* "invalid protocol": wrong version or cmd > 4 */

struct smux_hdr {
	uint8_t ver;
	uint8_t cmd;
	uint16_t len;
	uint32_t sid;
};

/* Writes the 8-byte header. */
void smux_hdr_encode(uint8_t out[SMUX_HDR_LEN], uint8_t ver, uint8_t cmd, uint16_t len,
		     uint32_t sid);
/* Writes a whole UPD frame (header with LENGTH 8, then consumed and window). */
void smux_upd_encode(uint8_t out[SMUX_HDR_LEN + SMUX_UPD_LEN], uint8_t ver, uint32_t sid,
		     uint32_t consumed, uint32_t window);

/* Decodes a header from buf[0..len) for a session of version ver.  Returns
 * SMUX_HDR_LEN, 0 when fewer than 8 bytes are there, or SMUX_E_PROTO. */
int smux_hdr_decode(const uint8_t *buf, size_t len, uint8_t ver, struct smux_hdr *h);

/* Bytes that follow this header on the wire. */
size_t smux_body_len(const struct smux_hdr *h);

/* UPD body: consumed and window. */
void smux_upd_decode(const uint8_t body[SMUX_UPD_LEN], uint32_t *consumed, uint32_t *window);

const char *smux_cmd_name(uint8_t cmd);

#endif

/* smux frame encoding and decoding (see smux_codec.h). */
#include "net/smux_codec.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void smux_hdr_encode(uint8_t out[SMUX_HDR_LEN], uint8_t ver, uint8_t cmd, uint16_t len,
		     uint32_t sid)
{
	out[0] = ver;
	out[1] = cmd;
	put16(out + 2, len);
	put32(out + 4, sid);
}

void smux_upd_encode(uint8_t out[SMUX_HDR_LEN + SMUX_UPD_LEN], uint8_t ver, uint32_t sid,
		     uint32_t consumed, uint32_t window)
{
	smux_hdr_encode(out, ver, SMUX_UPD, SMUX_UPD_LEN, sid);
	put32(out + SMUX_HDR_LEN, consumed);
	put32(out + SMUX_HDR_LEN + 4, window);
}

int smux_hdr_decode(const uint8_t *buf, size_t len, uint8_t ver, struct smux_hdr *h)
{
	if (len < SMUX_HDR_LEN)
		return 0;
	h->ver = buf[0];
	h->cmd = buf[1];
	h->len = (uint16_t)(buf[2] | buf[3] << 8);
	h->sid = get32(buf + 4);
	if (h->ver != ver || h->cmd > SMUX_UPD)
		return SMUX_E_PROTO;
	return SMUX_HDR_LEN;
}

size_t smux_body_len(const struct smux_hdr *h)
{
	if (h->cmd == SMUX_PSH)
		return h->len;
	return h->cmd == SMUX_UPD ? SMUX_UPD_LEN : 0;
}

void smux_upd_decode(const uint8_t body[SMUX_UPD_LEN], uint32_t *consumed, uint32_t *window)
{
	*consumed = get32(body);
	*window = get32(body + 4);
}

const char *smux_cmd_name(uint8_t cmd)
{
	static const char *const names[] = { "SYN", "FIN", "PSH", "NOP", "UPD" };

	return cmd < sizeof(names) / sizeof(names[0]) ? names[cmd] : "?";
}

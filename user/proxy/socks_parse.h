/* SOCKS4/4a and SOCKS5 messages as GOST's socks handlers read and write them.
 * Pure: bytes in, struct out; every function returns > 0 (bytes consumed or
 * written), 0 (need more input) or < 0 (malformed). */
#ifndef RELAYD_PROXY_SOCKS_PARSE_H
#define RELAYD_PROXY_SOCKS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/relay_proto.h"  /* struct relay_addr: same ATYP numbering as SOCKS5 */

/* ---- SOCKS4 / 4a ---- */
#define SOCKS4_CMD_CONNECT 1
#define SOCKS4_CMD_BIND 2
#define SOCKS4_GRANTED 0x5a
#define SOCKS4_FAILED 0x5b
#define SOCKS4_NO_IDENTD 0x5c
#define SOCKS4_BAD_USERID 0x5d

struct socks4_req {
	uint8_t cmd;
	struct relay_addr addr;         /* IPv4, or domain for 4a (0.0.0.x, x != 0) */
	char userid[256];
};
int socks4_parse_request(const uint8_t *buf, size_t len, struct socks4_req *r);
int socks4_reply(uint8_t out[8], uint8_t code);

/* ---- SOCKS5 ---- */
#define SOCKS5_METHOD_NONE 0x00
#define SOCKS5_METHOD_USERPASS 0x02
#define SOCKS5_METHOD_NO_ACCEPTABLE 0xff
#define SOCKS5_CMD_CONNECT 1
#define SOCKS5_CMD_BIND 2
#define SOCKS5_CMD_UDP 3
enum socks5_rep {
	SOCKS5_REP_OK = 0,
	SOCKS5_REP_FAILURE = 1,
	SOCKS5_REP_NOT_ALLOWED = 2,
	SOCKS5_REP_NET_UNREACHABLE = 3,
	SOCKS5_REP_HOST_UNREACHABLE = 4,
	SOCKS5_REP_REFUSED = 5,
	SOCKS5_REP_TTL_EXPIRED = 6,
	SOCKS5_REP_CMD_UNSUPPORTED = 7,
	SOCKS5_REP_ATYP_UNSUPPORTED = 8,
};

/* VER NMETHODS METHODS; methods_mask bit m set when method m (< 256) is offered. */
int socks5_parse_greeting(const uint8_t *buf, size_t len, uint8_t methods[256], int *nmethods);
/* RFC 1929: VER(1) ULEN UNAME PLEN PASSWD */
int socks5_parse_userpass(const uint8_t *buf, size_t len, char user[256], char pass[256]);

struct socks5_req {
	uint8_t cmd;
	struct relay_addr addr;
};
int socks5_parse_request(const uint8_t *buf, size_t len, struct socks5_req *r);
/* VER REP RSV ATYP BND.ADDR BND.PORT; a NULL addr writes IPv4 0.0.0.0:0. */
int socks5_reply(uint8_t *out, size_t cap, uint8_t rep, const struct relay_addr *bound);

/* SOCKS5 UDP request header (RSV RSV FRAG ATYP ADDR PORT) for UDP ASSOCIATE. */
int socks5_udp_parse(const uint8_t *buf, size_t len, struct relay_addr *a, uint8_t *frag);
int socks5_udp_encode(uint8_t *out, size_t cap, const struct relay_addr *a);

#endif

/* SOCKS4/4a and SOCKS5 messages as GOST's socks handlers read and write them.
 * Pure: bytes in, struct out; every function returns > 0 (bytes consumed or
 * written), 0 (need more input) or < 0 (malformed).  A malformed message is
 * one GOST's gosocks4/gosocks5 reader refuses: GOST then closes without a
 * reply. */
#ifndef RELAYD_PROXY_SOCKS_PARSE_H
#define RELAYD_PROXY_SOCKS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/relay_proto.h"  /* struct relay_addr: same ATYP numbering as SOCKS5 */

/* Addresses come out as GOST's chain receives them: GOST turns the SOCKS
 * address into "host:port" text and the relay connector parses it back, so a
 * v4-mapped IPv6 address becomes IPv4 and a domain that is an IP literal
 * becomes that IP.  Other domains are kept byte for byte. */

/* ---- SOCKS4 / 4a ---- */
#define SOCKS4_CMD_CONNECT 1
#define SOCKS4_CMD_BIND 2
#define SOCKS4_GRANTED 0x5a             /* 90: CONNECT dialed */
#define SOCKS4_FAILED 0x5b              /* 91: dial failed */
#define SOCKS4_NO_IDENTD 0x5c           /* 92: GOST's "Rejected", sent on a bypass match */
#define SOCKS4_BAD_USERID 0x5d          /* 93: the userid failed authentication */

struct socks4_req {
	uint8_t cmd;                    /* CONNECT or BIND; other commands are malformed */
	struct relay_addr addr;         /* IPv4, or domain for 4a (0.0.0.x, x != 0) */
	char userid[256];               /* up to 255 bytes */
};
int socks4_parse_request(const uint8_t *buf, size_t len, struct socks4_req *r);
/* VN=0 CD=code DSTPORT=0 DSTIP=0: GOST never fills in an address. */
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

/* VER NMETHODS METHODS.  methods[m] is set to 1 when method m is offered (a
 * 256-entry table, zeroed first); *nmethods gets NMETHODS.  NMETHODS = 0 is
 * malformed, as in GOST. */
int socks5_parse_greeting(const uint8_t *buf, size_t len, uint8_t methods[256], int *nmethods);
/* GOST's serverSelector without its TLS methods: with users (an
 * authenticator) only USERPASS is acceptable, without users only NONE;
 * otherwise NO_ACCEPTABLE, after which GOST closes. */
uint8_t socks5_select_method(const uint8_t methods[256], bool have_users);
/* VER=5 METHOD */
int socks5_method_reply(uint8_t out[2], uint8_t method);
/* RFC 1929: VER(1) ULEN UNAME PLEN PASSWD.  GOST accepts ULEN or PLEN 0.
 * -1: malformed (VER != 1); -2: well formed but a NUL inside a field, which
 * no user can match: answer as a failed login. */
int socks5_parse_userpass(const uint8_t *buf, size_t len, char user[256], char pass[256]);
/* VER=1 STATUS: 0 on success, 1 (GOST's "Failure") before closing. */
int socks5_userpass_reply(uint8_t out[2], bool ok);

struct socks5_req {
	uint8_t cmd;                    /* any value: unknown ones get CMD_UNSUPPORTED */
	struct relay_addr addr;
};
/* VER CMD RSV ATYP DST.ADDR DST.PORT; RSV is not checked, an ATYP other
 * than 1, 3, 4 is malformed (GOST closes; it never sends ATYP_UNSUPPORTED). */
int socks5_parse_request(const uint8_t *buf, size_t len, struct socks5_req *r);
/* VER REP RSV ATYP BND.ADDR BND.PORT; a NULL addr writes IPv4 0.0.0.0:0. */
int socks5_reply(uint8_t *out, size_t cap, uint8_t rep, const struct relay_addr *bound);

/* SOCKS5 UDP request header (RSV RSV FRAG ATYP ADDR PORT) for UDP ASSOCIATE.
 * GOST ignores RSV and FRAG on receipt; it sends RSV = 0, FRAG = 0. */
int socks5_udp_parse(const uint8_t *buf, size_t len, struct relay_addr *a, uint8_t *frag);
int socks5_udp_encode(uint8_t *out, size_t cap, const struct relay_addr *a);

#endif

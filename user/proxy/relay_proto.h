/* GOST relay protocol codec (go-gost/relay v0.5.0 wire format, tolerant of
 * relay >= 0.6 peers).  Pure functions: bytes in, struct out; no I/O, no
 * allocation, every length bounded.  Integers on the wire are big-endian. */
#ifndef RELAYD_PROXY_RELAY_PROTO_H
#define RELAYD_PROXY_RELAY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_VERSION 0x01
#define RELAY_HDR_LEN 4                 /* VER, CMD|STATUS, FLEN u16 */
#define RELAY_MAX_MSG (RELAY_HDR_LEN + 65535)

#define RELAY_CMD_CONNECT   0x01
#define RELAY_CMD_BIND      0x02
#define RELAY_CMD_ASSOCIATE 0x03
#define RELAY_CMD_MASK      0x0f
#define RELAY_FLAG_UDP      0x80        /* FUDP: "UDP-oriented", overrides NETWORK */

enum relay_status {
	RELAY_STATUS_OK = 0,
	RELAY_STATUS_BAD_REQUEST = 1,
	RELAY_STATUS_UNAUTHORIZED = 2,
	RELAY_STATUS_FORBIDDEN = 3,
	RELAY_STATUS_TIMEOUT = 4,
	RELAY_STATUS_SERVICE_UNAVAILABLE = 5,
	RELAY_STATUS_HOST_UNREACHABLE = 6,
	RELAY_STATUS_NETWORK_UNREACHABLE = 7,
	RELAY_STATUS_INTERNAL_SERVER_ERROR = 8,
};

enum relay_feature_type {
	RELAY_FEAT_USER_AUTH = 0x01,
	RELAY_FEAT_ADDR = 0x02,
	RELAY_FEAT_TUNNEL = 0x03,
	RELAY_FEAT_NETWORK = 0x04,
};

enum relay_atyp { RELAY_ATYP_IPV4 = 1, RELAY_ATYP_DOMAIN = 3, RELAY_ATYP_IPV6 = 4 };

enum relay_network {
	RELAY_NET_TCP = 0x0000,
	RELAY_NET_UDP = 0x0001,
	RELAY_NET_IP = 0x0002,
	RELAY_NET_UNIX = 0x0010,
	RELAY_NET_SERIAL = 0x0011,
};

/* Errors, negative; relay_strerror() gives Go's error text. */
enum relay_err {
	RELAY_OK = 0,
	RELAY_E_EOF = -1,               /* "EOF": no bytes at all (of a message or a feature's data) */
	RELAY_E_UNEXPECTED_EOF = -2,    /* "unexpected EOF": truncated message or feature */
	RELAY_E_BAD_VERSION = -3,       /* "bad version" */
	RELAY_E_SHORT_BUFFER = -4,      /* "short buffer": feature payload too short */
	RELAY_E_BAD_ATYP = -5,          /* "bad address type" */
	RELAY_E_UNKNOWN_FEATURE = -6,   /* "unknown feature" (strict v0.5.0 mode only) */
	RELAY_E_USER_TOO_LONG = -7,     /* "username maximum length exceeded" */
	RELAY_E_PASS_TOO_LONG = -8,     /* "password maximum length exceeded" */
	RELAY_E_ADDR_TOO_LONG = -9,     /* "addr maximum length exceeded" */
	RELAY_E_FEATURES_TOO_LONG = -10,/* "features maximum length exceeded" */
	RELAY_E_NOSPACE = -11,          /* output buffer too small */
	RELAY_E_DATA_TOO_LONG = -12,    /* "write: data maximum exceeded" (UDP frame > 65535) */
	RELAY_E_BAD_ADDR_TEXT = -13,    /* address text that cannot be encoded */
};

const char *relay_strerror(int err);
/* "Bad Request", "Unauthorized", ... ; "" for OK and unknown statuses (as GOST). */
const char *relay_status_text(int status);

struct relay_addr {
	uint8_t atyp;                   /* enum relay_atyp; 0 = unset (encodes as IPv4 0.0.0.0) */
	uint8_t ip[16];                 /* IPv4 in ip[0..3], IPv6 in ip[0..15] */
	uint8_t dlen;                   /* domain length, 0..255 (0 allowed: ":port") */
	char domain[256];               /* NUL-terminated */
	uint16_t port;
};

/* One decoded request or response.  Repeated features: the last one of each
 * type wins (what GOST's handler uses); addr_first keeps the first ADDR, which
 * the rtcp client uses for per-stream BIND headers. */
struct relay_msg {
	uint8_t version;
	uint8_t code;                   /* request: CMD byte (flags|cmd); response: status */
	bool has_user;
	uint8_t ulen, plen;
	char user[256], pass[256];      /* NUL-terminated */
	unsigned n_addr;
	struct relay_addr addr;         /* last ADDR */
	struct relay_addr addr_first;   /* first ADDR */
	bool has_network;
	uint16_t network;
	bool has_tunnel;
	uint8_t tunnel[20];             /* ID[16] FLAG RSV[2] WEIGHT; short TUNNELs zero-padded */
	unsigned n_unknown;             /* unknown feature types skipped (tolerant mode) */
};

enum relay_decode_mode {
	RELAY_DECODE_TOLERANT = 0,      /* skip unknown feature types (relay >= 0.6) */
	RELAY_DECODE_STRICT = 1,        /* v0.5.0: an unknown feature type fails the message */
};

/* Decode one message from buf[0..len).  Returns:
 *   > 0  the message is complete and that many bytes were consumed (4 + FLEN);
 *        bytes after it belong to the data stream;
 *   0    need more input; *need (if not NULL) is the total length required so far
 *        (4 until the header is in, then 4 + FLEN);
 *   < 0  enum relay_err.  At end of input the caller reports what Go's io.ReadFull
 *        would: RELAY_E_EOF when len is 0, or exactly the header of a message with
 *        FLEN > 0 (nothing of that read arrived); otherwise RELAY_E_UNEXPECTED_EOF.
 * The version is checked as soon as the 4-byte header is in.  *m is zeroed first;
 * on a feature error it holds the features decoded before the bad one. */
int relay_decode(const uint8_t *buf, size_t len, enum relay_decode_mode mode,
		 struct relay_msg *m, size_t *need);

/* Decode a features block (FLEN bytes) alone, as relay_decode does internally. */
int relay_decode_features(const uint8_t *buf, size_t len, enum relay_decode_mode mode,
			  struct relay_msg *m);

/* Message builder: features are appended in call order.  The first error sticks,
 * except that a later user/password length error replaces "features maximum length
 * exceeded" (GOST encodes every feature before checking FLEN);
 * relay_w_finish() returns the total length written or that error. */
struct relay_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

void relay_w_begin(struct relay_writer *w, uint8_t *buf, size_t cap, uint8_t code);
void relay_w_user(struct relay_writer *w, const char *user, const char *pass);
void relay_w_addr(struct relay_writer *w, const struct relay_addr *a);
void relay_w_network(struct relay_writer *w, uint16_t network);
void relay_w_tunnel(struct relay_writer *w, const uint8_t tunnel[20]);
int relay_w_finish(struct relay_writer *w);

/* GOST's AddrFeature.ParseFrom: "host:port", "[v6]:port", ":port", or a bare host
 * (port 0).  IP literals become IPv4 (also v4-mapped) or IPv6, anything else,
 * including an empty host, a domain.  Returns 0 or RELAY_E_ADDR_TOO_LONG /
 * RELAY_E_BAD_ADDR_TEXT. */
int relay_addr_parse(struct relay_addr *a, const char *text);

/* ADDR back to text: "host:port", "[v6]:port", ":port" for an empty domain.
 * Returns the length written (always NUL-terminated) or RELAY_E_NOSPACE. */
int relay_addr_format(const struct relay_addr *a, char *out, size_t cap);

/* Set an ADDR from a socket address (AF_INET / AF_INET6; v4-mapped becomes IPv4).
 * Returns 0, or RELAY_E_BAD_ATYP for any other family. */
struct sockaddr;
int relay_addr_from_sockaddr(struct relay_addr *a, const struct sockaddr *sa);

/* Network name as GOST's handler computes it: FUDP forces "udp", else the
 * NETWORK id's name ("tcp" when absent or unknown). */
const char *relay_msg_network(const struct relay_msg *m);

/* ---- UDP over a relay stream: LEN u16 BE | DATAGRAM ---- */
#define RELAY_UDP_HDR 2
/* Writes the 2-byte length prefix for a datagram of n bytes; returns RELAY_UDP_HDR,
 * or RELAY_E_DATA_TOO_LONG over 65535. */
int relay_udp_frame_hdr(uint8_t out[2], size_t n);

/* ---- UDP BIND / association frames (SOCKS5 UDP header, RSV = payload length) ----
 *   RSV u16 BE | FRAG u8 (0xff when sent) | ATYP ADDR PORT | DATA[RSV]
 * encode: returns the header length written before the payload, or < 0.  An empty
 * payload is refused (RELAY_E_DATA_TOO_LONG is not it: see RELAY_E_SHORT_BUFFER)
 * because RSV = 0 means "no length" to GOST and would wreck the framing; over
 * 65535 is RELAY_E_DATA_TOO_LONG (GOST would silently wrap RSV).
 * decode: parses the header from buf; returns the header length, 0 when more
 * bytes are needed, or < 0 (RELAY_E_BAD_ATYP).  *dlen gets RSV; RSV 0 is a peer
 * that broke the framing (GOST would take whatever it reads next as the data). */
int relay_udpbind_encode_hdr(uint8_t *out, size_t cap, const struct relay_addr *a, size_t dlen);
int relay_udpbind_decode_hdr(const uint8_t *buf, size_t len, struct relay_addr *a, size_t *dlen);

#endif

/* UDP over a relay stream: GOST's 2-byte length framing (LEN u16 BE |
 * DATAGRAM[LEN], one frame per datagram, x: handler/relay/conn.go) read from
 * and written to a stream, without ever merging or splitting a datagram.
 * Input is parsed in place from one buffer; output is queued in one bounded
 * buffer, so a stalled peer costs at most UDP_FRAMER_OUT_CAP bytes and the
 * caller decides what to drop. */
#ifndef RELAYD_PROXY_UDP_FRAMER_H
#define RELAYD_PROXY_UDP_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stream;

#define UDP_MAX_DGRAM 65535
#define UDP_FRAMER_IN_CAP (2 * (2 + UDP_MAX_DGRAM))
#define UDP_FRAMER_OUT_CAP (256 * 1024)

/* Results besides -errno from the stream. */
#define UDP_FRAMER_EOF (-100000)        /* the peer ended the stream at a frame boundary */
#define UDP_FRAMER_TRUNC (-100001)      /* the stream ended inside a frame */

struct udp_framer {
	struct stream *s;               /* not owned */
	uint8_t *in;
	size_t in_off, in_len, in_cap;
	uint8_t *out;
	size_t out_off, out_len;
	bool eof;
};

/* preload: bytes already read from s that come first (copied).  -ENOMEM. */
int udp_framer_init(struct udp_framer *f, struct stream *s, const uint8_t *preload, size_t len);
void udp_framer_fini(struct udp_framer *f);

/* Next datagram: 1 with *dg / *len pointing into the framer (valid until the
 * next call), 0 when more input is needed (wait for STREAM_RD), or < 0:
 * UDP_FRAMER_EOF, UDP_FRAMER_TRUNC, or the stream's -errno. */
int udp_framer_next(struct udp_framer *f, const uint8_t **dg, size_t *len);

/* Whether a whole frame is already buffered (no read needed to get it). */
bool udp_framer_has_frame(const struct udp_framer *f);

/* Whether a datagram of len bytes fits in the output queue now. */
bool udp_framer_room(const struct udp_framer *f, size_t len);
/* Queue one datagram as one frame: 0, -EMSGSIZE over 65535 bytes, -ENOBUFS
 * when the queue is full (the datagram is not queued). */
int udp_framer_put(struct udp_framer *f, const void *dg, size_t len);
/* Write what is queued: 0 when all is out, -EAGAIN when some is left (wait
 * for STREAM_WR), or the stream's -errno. */
int udp_framer_flush(struct udp_framer *f);
static inline bool udp_framer_pending(const struct udp_framer *f) { return f->out_len > f->out_off; }

#endif

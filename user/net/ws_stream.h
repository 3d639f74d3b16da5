/* A WebSocket as a byte stream over any stream (TCP, or TLS for wss), as
 * GOST's ws listener and dialer use it: every write is one binary message
 * (masked from the client), received data messages are concatenated into one
 * stream, pings are answered, a Close frame ends the stream and is echoed;
 * the stream itself never sends a Close (GOST closes the socket instead), so
 * a half-close stays a half-close.  The upgrade runs inside the first
 * read/write or stream_handshake(). */
#ifndef RELAYD_NET_WS_STREAM_H
#define RELAYD_NET_WS_STREAM_H

#include <stdbool.h>
#include <stdint.h>

struct stream;

/* Frames larger than this are refused with close code 1009 (gorilla has no
 * limit; a payload is streamed, not buffered, so this only bounds abuse). */
#define WS_MAX_FRAME (64u << 20)

struct ws_opts {
	bool server;
	const char *path;               /* "/ws" */
	const char *host;               /* client: the Host header */
	uint32_t handshake_timeout_ms;  /* 0: none of its own */
	uint32_t keepalive_ms;          /* client: ping period, 0 = off (GOST's keepAlive/ttl) */
};

/* Takes ownership of lower (closed on failure); strings are copied.  NULL
 * when out of memory. */
struct stream *ws_stream_new(struct stream *lower, const struct ws_opts *o);

#endif

/* A stream is anything that can be read, written, half-closed and closed on
 * an event loop: a TCP socket, TLS or WebSocket over a stream, a relay
 * connector wrapping a stream, a multiplexed substream.  Readiness is
 * level-triggered: while the owner wants STREAM_RD (STREAM_WR), the callback
 * fires whenever a read (write) would make progress or fail.
 *
 * A stream that is a bare TCP socket with nothing buffered or pending in any
 * layer above it reports its fd through raw_fd(); that is what lets the pipe
 * hand a connection to the kernel fast path or to splice(2). */
#ifndef RELAYD_NET_STREAM_H
#define RELAYD_NET_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct loop;
struct stream;

enum { STREAM_RD = 1u, STREAM_WR = 2u };

typedef void (*stream_cb)(struct stream *s, unsigned events, void *ud);

struct stream_ops {
	/* > 0 bytes, 0 end of stream, -EAGAIN, or another -errno */
	ssize_t (*read)(struct stream *s, void *buf, size_t len);
	/* > 0 bytes accepted, -EAGAIN, or another -errno (never 0 for len > 0).
	 * len 0 flushes protocol bytes a wrapper holds back (0 when none are
	 * left, -EAGAIN while some are). */
	ssize_t (*write)(struct stream *s, const void *buf, size_t len);
	/* Half-close the write side once everything written has been accepted. */
	int (*shutdown)(struct stream *s);
	/* Set the readiness interest (STREAM_RD | STREAM_WR). */
	void (*want)(struct stream *s, unsigned events);
	/* Close and free this stream and every stream under it; abort = RST. */
	void (*close)(struct stream *s, bool abort);
	/* The bare TCP fd when nothing is buffered or pending anywhere in the
	 * stack, else -1.  Peek only: the stream still owns the fd. */
	int (*raw_fd)(struct stream *s);
	/* Take the fd out (only valid when raw_fd() >= 0): the stack is freed
	 * without closing the fd, which the caller now owns. */
	int (*detach)(struct stream *s);
	/* Transport stack for humans: "tcp", "relay>tcp", "wss>tcp". */
	void (*describe)(struct stream *s, char *out, size_t cap);
	/* Optional: protocol-level text for the last error ("2 Unauthorized"). */
	const char *(*error_text)(struct stream *s);
	/* Local address of the socket at the bottom of the stack. */
	int (*local_addr)(struct stream *s, struct sockaddr_storage *ss);
	/* Optional: drive a layer's own opening handshake (TLS, WebSocket
	 * upgrade) and every one below it: 1 done, 0 in progress (set interest
	 * and call again on the callback), < 0 failed (see error_text). */
	int (*handshake)(struct stream *s);
	/* Optional: "TLSv1.3 TLS_AES_128_GCM_SHA256" of the TLS layer in the
	 * stack, or NULL. */
	const char *(*tls_info)(struct stream *s);
};

struct stream {
	const struct stream_ops *ops;
	struct loop *loop;
	stream_cb cb;
	void *ud;
};

static inline ssize_t stream_read(struct stream *s, void *b, size_t n) { return s->ops->read(s, b, n); }
static inline ssize_t stream_write(struct stream *s, const void *b, size_t n) { return s->ops->write(s, b, n); }
static inline int stream_shutdown(struct stream *s) { return s->ops->shutdown(s); }
static inline void stream_want(struct stream *s, unsigned ev) { s->ops->want(s, ev); }
static inline void stream_close(struct stream *s, bool abort) { s->ops->close(s, abort); }
static inline int stream_raw_fd(struct stream *s) { return s->ops->raw_fd(s); }
static inline int stream_detach(struct stream *s) { return s->ops->detach(s); }
static inline void stream_describe(struct stream *s, char *out, size_t cap) { s->ops->describe(s, out, cap); }

static inline const char *stream_error_text(struct stream *s)
{
	return s->ops->error_text ? s->ops->error_text(s) : NULL;
}

static inline int stream_local_addr(struct stream *s, struct sockaddr_storage *ss)
{
	return s->ops->local_addr(s, ss);
}

static inline int stream_handshake(struct stream *s)
{
	return s->ops->handshake ? s->ops->handshake(s) : 1;
}

static inline const char *stream_tls_info(struct stream *s)
{
	return s->ops->tls_info ? s->ops->tls_info(s) : NULL;
}

static inline void stream_set_cb(struct stream *s, stream_cb cb, void *ud)
{
	s->cb = cb;
	s->ud = ud;
}

/* A TCP (or any SOCK_STREAM) socket as a stream; takes ownership of fd, which
 * must be non-blocking.  NULL only when out of memory (fd is then closed). */
struct stream *tcp_stream_new(struct loop *l, int fd);
/* A connected UDP socket: one read or write is one datagram (a read or a
 * write of 0 bytes is an empty datagram, never an end or a flush), shutdown
 * does nothing, and there is no raw fd for the fast path. */
struct stream *dgram_stream_new(struct loop *l, int fd);

#endif

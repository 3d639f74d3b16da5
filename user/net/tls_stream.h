/* TLS over any stream, with OpenSSL driven from the event loop.  The SSL
 * object reads and writes the lower stream through a small BIO, so TLS works
 * over a TCP socket or over another layer (a relay connection inside a
 * chain).  As Go's tls.Conn, the handshake runs inside the first read or
 * write, or explicitly through stream_handshake(); a deadline bounds it.
 * The stream never exposes a raw fd: the pipe keeps it in userspace. */
#ifndef RELAYD_NET_TLS_STREAM_H
#define RELAYD_NET_TLS_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct stream;

struct tls_stream_opts {
	bool server;
	const char *sni;                /* client: SNI and, when verifying, the name */
	bool verify_name;               /* client: check the certificate names sni */
	uint32_t handshake_timeout_ms;  /* 0: no deadline of its own */
};

/* Takes ownership of lower (also on failure, when it is closed); ctx is
 * referenced, not owned.  NULL when out of memory. */
struct stream *tls_stream_new(struct stream *lower, SSL_CTX *ctx, const struct tls_stream_opts *o);

#endif

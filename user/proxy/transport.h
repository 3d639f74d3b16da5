/* Data channels: what a listener puts around each accepted TCP connection,
 * and what a chain node's dialer puts around the stream that reaches it
 * (GOST's listener/dialer types).  "tcp" is nothing at all (NULL transport);
 * "tls" is TLS, "ws" a WebSocket, "wss" a WebSocket over TLS.  A transport
 * is built once per service or node and shared by every worker thread. */
#ifndef RELAYD_PROXY_TRANSPORT_H
#define RELAYD_PROXY_TRANSPORT_H

#include <stddef.h>

struct cfg;
struct cfg_node;
struct cfg_service;
struct stream;
struct transport;

/* *out = NULL for tcp.  -EINVAL with err filled for an unknown type or a bad
 * option, certificate or key. */
int transport_listener_new(const struct cfg *root, const struct cfg_service *c,
			   struct transport **out, char *err, size_t errlen);
int transport_dialer_new(const struct cfg_node *n, struct transport **out, char *err,
			 size_t errlen);
void transport_free(struct transport *tp);

/* Wrap lower (taken over, also on failure); NULL when out of memory.  The
 * layers' handshakes run inside the first read/write or stream_handshake(). */
struct stream *transport_wrap(const struct transport *tp, struct stream *lower);

#endif

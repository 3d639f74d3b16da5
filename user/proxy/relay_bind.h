/* The relay server's BIND (GOST's handler/relay/bind.go).  TCP: listen on the
 * requested address, answer with the bound address, run an smux session as
 * the smux client on the same connection, and hand each accepted connection
 * to the peer as a new stream that starts with a relay response carrying the
 * connection's remote address.  UDP: listen, answer, then carry datagrams in
 * RSV-length SOCKS5-style frames both ways (relay_bind_udp.c). */
#ifndef RELAYD_PROXY_RELAY_BIND_H
#define RELAYD_PROXY_RELAY_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/smux_session.h"

struct cfg_md;
struct conn_info;
struct loop;
struct service;
struct stream;

struct relay_bind_allow {
	char host[256];                 /* "" = any host */
	uint16_t lo, hi;
};

struct relay_bind_opts {
	struct smux_config mux;         /* mux.* */
	size_t udp_buffer_size;         /* udp.bufferSize / udpBufferSize, default 4096 */
	bool privileged;                /* bind.privileged: ports below 1024 allowed */
	struct relay_bind_allow *allow; /* bind.allow; none = any address */
	size_t n_allow;
};

/* 0, or -EINVAL / -ENOMEM with err naming the key; free with relay_bind_opts_free. */
int relay_bind_opts_parse(const struct cfg_md *md, struct relay_bind_opts *o, char *err,
			  size_t errlen);
void relay_bind_opts_free(struct relay_bind_opts *o);

/* One BIND request that passed authentication.  The callee takes over
 * client and ci; pending: bytes read after the request. */
struct relay_bind_req {
	struct service *svc;            /* a reference is taken for the BIND's life */
	struct loop *loop;
	struct stream *client;
	struct conn_info *ci;
	const char *network;            /* relay_msg_network() */
	const char *addr;               /* requested address text ("" = all interfaces) */
	const uint8_t *pending;
	size_t pending_len;
	const struct relay_bind_opts *o;
};

void relay_bind_start(struct relay_bind_req *r);

/* internal: the two kinds, and a refusal (status 0: close without a
 * response, GOST's answer to a failed UDP listen) */
void relay_bind_refuse(struct relay_bind_req *r, uint8_t status, const char *why);
void relay_bind_tcp(struct relay_bind_req *r);
void relay_bind_udp(struct relay_bind_req *r);

#endif

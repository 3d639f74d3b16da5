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

#include "base/log.h"
#include "net/addr.h"
#include "net/loop.h"
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

/* internal: what a TCP and a UDP BIND share once listening: the owner's
 * registry entry, the service reference, names for logs and relayctl */
struct relay_bind_common {
	struct loop_obj obj;
	struct loop *loop;
	struct service *svc;
	struct conn_info *ci;           /* the BIND (control) connection */
	char bound[NET_ADDRSTRLEN];
	char name[128];                 /* GOST's "<service>-ep-<addr>" */
	struct log_ctx lc;
};

/* Answers OK with the address fd is bound to and returns the client stream
 * wrapped so that the answer goes out ahead of anything written after it;
 * takes over r->client and r->ci into c.  NULL when out of memory (the client
 * is closed then; c->ci is still the caller's to finish). */
struct stream *relay_bind_answer(struct relay_bind_req *r, int fd, struct relay_bind_common *c);
/* The BIND is live: a service reference, relayctl's "bind <addr><suffix>",
 * and a loop object that daemon shutdown closes. */
void relay_bind_register(struct relay_bind_common *c, const char *suffix,
			 void (*close)(struct loop_obj *o));
/* Undo relay_bind_register and finish the registry entry. */
void relay_bind_unregister(struct relay_bind_common *c);
/* The link a stream or peer entry shows as its target: "bind#<id> <owner>". */
void relay_bind_link(const struct relay_bind_common *c, char *out, size_t cap);

/* internal: the two kinds, and a refusal (status 0: close without a
 * response, GOST's answer to a failed UDP listen) */
void relay_bind_refuse(struct relay_bind_req *r, uint8_t status, const char *why);
void relay_bind_tcp(struct relay_bind_req *r);
void relay_bind_udp(struct relay_bind_req *r);

#endif

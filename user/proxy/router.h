/* The router turns "connect to this address" into a stream: directly, or
 * through a chain of hops where each hop's node is a connector (relay, or
 * forward) over a dialer (tcp).  Hop k's connector asks for hop k+1's
 * address; the last hop's connector asks for the target.  Node selection per
 * hop uses the hop's selector with fail marks. */
#ifndef RELAYD_PROXY_ROUTER_H
#define RELAYD_PROXY_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg_chain;
struct loop;
struct stream;
struct router;
struct route;

/* s: the connected stream (the caller owns it); or NULL with err saying what failed. */
typedef void (*route_cb)(void *ud, struct stream *s, const char *err);

/* NULL chain builds a direct router.  NULL on error, with err filled. */
struct router *router_new(const struct cfg_chain *chain, char *err, size_t errlen);
void router_free(struct router *r);

/* network: "tcp" or "udp"; addr: "host:port" (an empty host is the local
 * system for a direct dial, and is sent as-is through a relay chain).
 * timeout_ms 0: the default.  NULL only when out of memory. */
struct route *router_dial(struct router *r, struct loop *l, const char *network, const char *addr,
			  uint32_t timeout_ms, route_cb cb, void *ud);
void route_cancel(struct route *rt);

/* Whether a "udp" route's stream carries length-framed datagrams (through a
 * relay chain) rather than being a connected UDP socket (direct). */
bool router_udp_framed(const struct router *r);
/* A BIND through the chain (GOST's chain Bind): every hop but the last
 * CONNECTs as usual, the last hop's relay connector sends BIND for addr
 * (network "tcp" or "udp") and the callback runs once its OK response was
 * read; the stream then carries what follows it (smux, or UDP frames).
 * NULL for a direct router (BIND needs a chain) or when out of memory. */
struct route *router_bind(struct router *r, struct loop *l, const char *network, const char *addr,
			  uint32_t timeout_ms, route_cb cb, void *ud);

/* Chain name for logs ("" for direct). */
const char *router_name(const struct router *r);

#endif

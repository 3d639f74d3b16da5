/* Non-blocking outbound connections: resolve a host (IP literals at once,
 * names on a small getaddrinfo thread pool so the loop never blocks), then
 * connect to each address in turn until one answers or the deadline passes.
 * An empty or unspecified host means the local system, as in Go. */
#ifndef RELAYD_NET_DIAL_H
#define RELAYD_NET_DIAL_H

#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct dial;

/* fd >= 0: connected, non-blocking, close-on-exec (TCP_NODELAY set for TCP);
 * fd < 0: -errno, with msg saying what failed ("dial tcp 127.0.0.1:9: connection refused").
 * Always called from the loop, never from inside net_dial(). */
typedef void (*dial_cb)(void *ud, int fd, const char *msg);

#define DIAL_DEFAULT_TIMEOUT_MS 10000

/* socktype: SOCK_STREAM or SOCK_DGRAM (a connected UDP socket).  Returns NULL
 * only when out of memory. */
struct dial *net_dial(struct loop *l, const char *host, uint16_t port, int socktype,
		      uint32_t timeout_ms, dial_cb cb, void *ud);
/* The callback will not be called; the socket, if any, is closed. */
void net_dial_cancel(struct dial *d);

/* Start/stop the resolver pool (idempotent; net_dial starts it lazily). */
int net_resolver_start(int threads);
void net_resolver_stop(void);

#endif

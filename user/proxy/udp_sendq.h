/* Datagrams a UDP listener sends back to its clients, batched: written
 * into one arena during a loop iteration and sent with one sendmmsg(2)
 * after it (or earlier, when the arena or the batch is full).  Owned by the
 * listener's one worker. */
#ifndef RELAYD_PROXY_UDP_SENDQ_H
#define RELAYD_PROXY_UDP_SENDQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct udp_sendq;

/* NULL when out of memory.  fd is not owned. */
struct udp_sendq *udp_sendq_new(struct loop *l, int fd);
/* Only when nothing is queued (after udp_sendq_flush on the loop's thread). */
void udp_sendq_free(struct udp_sendq *q);
/* Queue one datagram to `to` (copied); it goes out by the end of this loop
 * iteration.  Returns 0, or -EMSGSIZE over 65535 bytes. */
int udp_sendq_put(struct udp_sendq *q, const struct sockaddr_storage *to, socklen_t tolen,
		  const void *dg, size_t len);
/* Send what is queued now.  Datagrams the socket refuses are dropped and counted. */
void udp_sendq_flush(struct udp_sendq *q);
/* Datagrams dropped since the last call (a full socket buffer, an error). */
uint64_t udp_sendq_take_drops(struct udp_sendq *q);

#endif

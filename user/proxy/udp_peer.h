/* One client address on a UDP listener as a stream, so the datagram pump
 * can treat it like any other side: the listener pushes the datagrams that
 * address sends into a bounded queue (readQueueSize), a read takes one, and
 * a write sends one back to the address from the listener's socket (batched
 * with the table's other replies until the end of the loop iteration).  Peers
 * live in a table keyed by address, owned by the listener's one worker; a
 * peer leaves the table when its stream is closed. */
#ifndef RELAYD_PROXY_UDP_PEER_H
#define RELAYD_PROXY_UDP_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct stream;
struct udp_peer;

#define UDP_PEER_BUCKETS 1024

struct udp_sendq;

struct udp_peer_table {
	struct udp_peer *b[UDP_PEER_BUCKETS];
	size_t n;
	struct udp_sendq *sq;           /* batches the writes of every peer; NULL: sendto */
};

/* The peer for addr, or NULL. */
struct udp_peer *udp_peer_find(struct udp_peer_table *t, const struct sockaddr_storage *addr);
/* A new peer in t that writes through fd (not owned); on_close(ud) runs when
 * its stream is closed.  NULL when out of memory. */
struct udp_peer *udp_peer_new(struct udp_peer_table *t, struct loop *l, int fd,
			      const struct sockaddr_storage *addr, size_t queue_len,
			      void (*on_close)(void *ud), void *ud);
struct stream *udp_peer_stream(struct udp_peer *p);
/* Queue a datagram the address sent: 0, or -ENOBUFS when the queue is full
 * (dropped), -ENOMEM.  A queue that becomes full is drained at once by the
 * stream's owner, which may close the stream: p must not be used after 0. */
int udp_peer_push(struct udp_peer *p, const void *dg, size_t len);

#endif

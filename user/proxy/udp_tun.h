/* Datagrams over a relay stream in GOST's UDP BIND framing (SOCKS5 UDP header
 * with the payload length in RSV, FRAG 0xff; relay_proto.h): used by the
 * server's UDP BIND, the rudp listener and the SOCKS5 UDP association.
 * Writing queues whole frames in a bounded buffer and drops a datagram when
 * it is full, as a congested UDP path would. */
#ifndef RELAYD_PROXY_UDP_TUN_H
#define RELAYD_PROXY_UDP_TUN_H

#include <stddef.h>
#include <stdint.h>

struct relay_addr;
struct stream;
struct udp_tun;

struct udp_tun_callbacks {
	/* One datagram from the peer; a is the frame's address. */
	void (*datagram)(void *ud, const struct relay_addr *a, const uint8_t *data, size_t len);
	/* The stream ended or broke the framing; called once, from the loop,
	 * never from inside udp_tun_send().  The owner then calls udp_tun_free(). */
	void (*closed)(void *ud, const char *why);
};

/* Takes ownership of s.  pending: bytes already read from s.  NULL when out
 * of memory (s is then closed). */
struct udp_tun *udp_tun_new(struct stream *s, const struct udp_tun_callbacks *cbs, void *ud,
			    const uint8_t *pending, size_t pending_len);
/* 0, -ENOBUFS (queue full: dropped), -EMSGSIZE (empty or over 65535: GOST
 * cannot frame it), or -EPIPE after the tunnel failed. */
int udp_tun_send(struct udp_tun *t, const struct relay_addr *a, const uint8_t *data, size_t len);
void udp_tun_free(struct udp_tun *t);

#endif

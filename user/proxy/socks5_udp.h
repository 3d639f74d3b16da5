/* SOCKS5 UDP ASSOCIATE through a relay chain, as GOST's socks5 handler does
 * it (x: handler/socks/v5/udp.go): a UDP socket on the control connection's
 * local IP for the client's datagrams, a UDP BIND for ":0" through the chain
 * (connector/relay: Connect("udp", "") is a BIND), and the association lasts
 * as long as the TCP control connection. */
#ifndef RELAYD_PROXY_SOCKS5_UDP_H
#define RELAYD_PROXY_SOCKS5_UDP_H

#include <stddef.h>
#include <sys/socket.h>

struct conn_info;
struct loop;
struct service;
struct stream;

/* Takes over client (after the request was read) and ci; answers the
 * request itself (success once the chain's BIND is up, else Failure). */
void socks5_udp_start(struct service *svc, struct loop *l, struct stream *client,
		      struct conn_info *ci, const struct sockaddr_storage *peer,
		      size_t udp_buffer_size);

#endif

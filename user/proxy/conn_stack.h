/* What `relayctl conns` shows about a connection's transports: the stack of
 * each side ("wss>tcp|relay>tls>tcp") and the TLS version and cipher of each
 * side that has TLS. */
#ifndef RELAYD_PROXY_CONN_STACK_H
#define RELAYD_PROXY_CONN_STACK_H

struct conn_info;
struct stream;

void conn_note_streams(struct conn_info *ci, struct stream *client, struct stream *target);

#endif

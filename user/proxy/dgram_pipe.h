/* The datagram pump: moves whole datagrams between the client side and the
 * target side of a UDP session until one side fails or ends, then closes
 * both and finishes the registry entry.  Each side is a stream that is
 * either framed (a relay connection carrying LEN|DATAGRAM frames) or raw (a
 * connected UDP socket, or a client address on a UDP listener, where one
 * read or write is one datagram and a read of 0 is an empty datagram).
 *
 * Back-pressure: a framed side that cannot take more stops reads from the
 * other side (whose kernel queue then drops, as UDP does); a raw side that
 * cannot take a datagram now drops it, counted and logged at most once a
 * second.  Datagrams are never merged, split or truncated. */
#ifndef RELAYD_PROXY_DGRAM_PIPE_H
#define RELAYD_PROXY_DGRAM_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/pipe.h"

struct stream;
struct conn_info;

struct dgram_pipe_opts {
	bool framed[2];                 /* indexed by enum pipe_side */
	/* bytes already read from the client side (framed) that come first */
	const uint8_t *pending;
	size_t pending_len;
	uint32_t idle_ms;               /* end after this long without a datagram; 0: never */
	bool end_after_reply;           /* end once one datagram reached the client */
	const char *service;            /* for log lines */
};

/* Takes ownership of both streams and ci (also on failure, when everything
 * is closed and ci finished).  Returns 0 or -ENOMEM. */
int dgram_pipe_start(struct stream *client, struct stream *target, struct conn_info *ci,
		     const struct dgram_pipe_opts *o);

#endif

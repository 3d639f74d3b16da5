/* The relay connection wrapper: a stream over another stream that writes a
 * relay message (the client's request, or the server's held-back response)
 * in front of the first payload write, and/or reads and checks the peer's
 * relay response in front of the first payload read, with exact reads that
 * never consume payload.  This is GOST's relay conn (x: connector/relay/conn.go,
 * handler/relay/conn.go) as an event-driven stream.  Until both are done the
 * wrapper hides the fd, which keeps the connection off the fast path. */
#ifndef RELAYD_PROXY_RELAY_CONN_H
#define RELAYD_PROXY_RELAY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stream;

struct relay_conn_opts {
	const uint8_t *prefix;          /* relay message to send first (copied) */
	size_t prefix_len;
	bool send_now;                  /* write the prefix alone at once (nodelay=true) */
	bool parse_response;            /* read and check a relay response first */
};

/* Takes ownership of lower; NULL on allocation failure (lower is then closed). */
struct stream *relay_conn_new(struct stream *lower, const struct relay_conn_opts *o);

/* Drive the response read without consuming payload: 1 = the response was
 * OK, 0 = need more (wait for STREAM_RD), < 0 = failed (error text from
 * stream_error_text(): "2 Unauthorized", "bad version", "unexpected EOF"). */
int relay_conn_read_response(struct stream *s);

/* Nothing of the prefix left to write. */
bool relay_conn_prefix_sent(struct stream *s);

#endif

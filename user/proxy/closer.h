/* Closing a connection after a final message (an error status, an HTTP error
 * response) without losing that message: write it, half-close, discard what
 * the peer still sends until it closes or a short grace period ends, then
 * close.  Closing at once with unread input would send RST, and the peer
 * could lose the message. */
#ifndef RELAYD_PROXY_CLOSER_H
#define RELAYD_PROXY_CLOSER_H

#include <stddef.h>
#include <stdint.h>

struct stream;

#define CLOSER_GRACE_MS 2000

/* Takes ownership of s. */
void closer_start(struct stream *s, const void *msg, size_t len);

#endif

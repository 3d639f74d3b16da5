/* The pipe moves bytes between the client side and the target side of a
 * connection until both directions are closed, then closes both and finishes
 * the connection's registry entry.  It starts as a userspace copy pump and,
 * as soon as both ends are bare TCP sockets with nothing buffered and no
 * partially read segment, hands them to the kernel fast path (or, without
 * BPF, to the splice(2) pump).  Half-close is propagated; a reset on one side
 * resets the other. */
#ifndef RELAYD_PROXY_PIPE_H
#define RELAYD_PROXY_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stream;
struct conn_info;

enum pipe_side { PIPE_CLIENT = 0, PIPE_TARGET = 1 };

struct pipe_opts {
	/* bytes already read from side i that must be written to the other side first */
	const uint8_t *pending[2];
	size_t pending_len[2];
	/* > 0: once this many bytes went client → target, flush what the client
	 * stream holds back (a relay server's nodelay=false response), so a long
	 * upload to a silent target can still reach the fast path */
	uint64_t flush_client_after;
};

/* Takes ownership of both streams and ci (also on failure, when everything is
 * closed and ci finished).  Returns 0 or -ENOMEM. */
int pipe_start(struct stream *client, struct stream *target, struct conn_info *ci,
	       const struct pipe_opts *o);

/* Process-wide data-path policy, set once at start-up. */
enum pipe_accel { PIPE_ACCEL_KERNEL, PIPE_ACCEL_SPLICE, PIPE_ACCEL_NONE };
void pipe_set_accel(enum pipe_accel a);
/* Testing aid (--test-pair-delay-ms): sleep this long before a hand-over, so
 * bytes and FINs pile up in the sockets exactly when they are hardest to get
 * right.  Blocks the worker: never for production. */
void pipe_set_test_delay(unsigned ms);

/* The splice(2) pump: both fds are connected non-blocking TCP sockets owned
 * from now on by the pump (side 0 = client), pre[i] the bytes read from side
 * i still to write to the other side (taken over).  Returns 0, or -errno with
 * the fds and pre still owned by the caller. */
struct loop;
#include "base/leftover.h"
int splice_pump_start(struct loop *l, int fd_client, int fd_target, struct conn_info *ci,
		      struct leftover pre[2]);

#endif

/* The kernel fast path: two plain TCP sockets of a relayed connection go into
 * BPF sockhashes and an sk_skb verdict redirects every later byte in the
 * kernel.  Pairing happens on the caller's (worker) thread; from then on the
 * pair belongs to one fast-path thread that watches for FIN, RST and queue
 * build-up, propagates them without losing a byte, throttles a direction
 * whose reader falls behind (userspace copies it, with TCP back-pressure,
 * until it has caught up), and closes both sockets at the end.
 * Without BPF (no privileges, old kernel, --fastpath=off) fp_ready() is false
 * and the pipe uses splice(2) instead. */
#ifndef RELAYD_FASTPATH_FP_H
#define RELAYD_FASTPATH_FP_H

#include <stdbool.h>
#include <stdint.h>

struct conn_info;

struct fp_opts {
	bool enabled;                   /* --fastpath=off → false */
	uint64_t queue_limit;           /* throttle a direction above this many queued bytes */
	int sndbuf;                     /* SO_SNDBUFFORCE on paired sockets */
	uint64_t check_step;            /* BPF asks for a queue check every this many bytes */
	bool pin;                       /* pin maps under FP_PIN_DIR for relayctl */
	const char *pin_dir;
};

#define FP_DEFAULT_QUEUE_LIMIT (4u << 20)
#define FP_DEFAULT_CHECK_STEP (1u << 20)
/* The psock worker that sends redirected skbs retries a full send buffer
 * only a tick later, so with the default buffer the unaccounted queue grew
 * to gigabytes under iperf3; 16 MiB kept it near 20 MB at full speed. */
#define FP_DEFAULT_SNDBUF (16 << 20)

/* Loads the programs and starts the fast-path thread.  Never fatal: on failure
 * the reason is kept for fp_status() and logged once. */
void fp_init(const struct fp_opts *o);
void fp_stop(void);
bool fp_ready(void);
/* "loaded", "off (--fastpath=off)" or "unavailable: <why>". */
const char *fp_status(void);

/* Pair two connected TCP sockets with no partially read skb in their receive
 * queues; pre[i] holds bytes already read from side i that must reach the
 * other side first (such a direction starts throttled until they are out).
 * 0: the fds and pre now belong to the fast path, which finishes ci;
 * < 0: -errno (e.g. -EOPNOTSUPP: a socket is no longer ESTABLISHED), the
 * caller still owns the fds, pre and ci and must use another path. */
#include "base/leftover.h"
int fp_adopt(int fd_client, int fd_target, struct conn_info *ci, struct leftover pre[2]);

/* Read everything queued on fd into lo (growing its buffer), so that no skb
 * is left partly read: the verdict sees whole skbs and would send the read
 * part again.  1: done, a read came back short, so the queue was emptied;
 * 0: data kept arriving faster, try again later (what was read stays in lo);
 * < 0: -errno. */
int fp_read_to_boundary(int fd, struct leftover *lo);

/* The fast-path thread's loop (NULL when the fast path is off). */
struct loop;
struct loop *fp_loop(void);

/* Live bytes redirected out of one socket (by cookie); 0 if unknown. */
uint64_t fp_socket_bytes(uint64_t cookie);

struct fp_totals {
	uint64_t redirected_bytes, redirected_skbs, dropped_bytes, passed_bytes;
	uint64_t zero_skbs, no_state, events_lost, dup_bytes, gap_bytes;
	uint64_t pairs_active, pairs_total, throttles, resumes, insert_refused;
};
void fp_get_totals(struct fp_totals *t);

#endif

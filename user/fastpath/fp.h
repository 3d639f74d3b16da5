/* The kernel fast path: two plain TCP sockets of a relayed connection go into
 * BPF sockhashes and an sk_skb verdict redirects every later byte in the
 * kernel.  Pairing happens on the caller's (worker) thread; from then on the
 * pair belongs to one fast-path thread that watches for FIN, RST and queue
 * build-up, propagates them without losing a byte, demotes a direction whose
 * reader stalls, and closes both sockets at the end.
 * Without BPF (no privileges, old kernel, --fastpath=off) fp_ready() is false
 * and the pipe uses splice(2) instead. */
#ifndef RELAYD_FASTPATH_FP_H
#define RELAYD_FASTPATH_FP_H

#include <stdbool.h>
#include <stdint.h>

struct conn_info;

struct fp_opts {
	bool enabled;                   /* --fastpath=off → false */
	uint64_t queue_limit;           /* demote a direction above this many queued bytes */
	uint64_t check_step;            /* BPF asks for a queue check every this many bytes */
	bool pin;                       /* pin maps under FP_PIN_DIR for relayctl */
	const char *pin_dir;
};

#define FP_DEFAULT_QUEUE_LIMIT (4u << 20)
#define FP_DEFAULT_CHECK_STEP (1u << 20)

/* Loads the programs and starts the fast-path thread.  Never fatal: on failure
 * the reason is kept for fp_status() and logged once. */
void fp_init(const struct fp_opts *o);
void fp_stop(void);
bool fp_ready(void);
/* "loaded", "off (--fastpath=off)" or "unavailable: <why>". */
const char *fp_status(void);

/* Pair two connected TCP sockets (nothing buffered above them, no partially
 * read skb).  0: both fds now belong to the fast path, which finishes ci;
 * < 0: -errno (e.g. -EOPNOTSUPP: a socket is no longer ESTABLISHED), the
 * caller still owns the fds and ci and must use another path. */
int fp_adopt(int fd_client, int fd_target, struct conn_info *ci);

/* Live bytes redirected out of one socket (by cookie); 0 if unknown. */
uint64_t fp_socket_bytes(uint64_t cookie);

struct fp_totals {
	uint64_t redirected_bytes, redirected_skbs, dropped_bytes, passed_bytes;
	uint64_t zero_skbs, no_state, events_lost;
	uint64_t pairs_active, pairs_total, demotions, insert_refused;
};
void fp_get_totals(struct fp_totals *t);

#endif

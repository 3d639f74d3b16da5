/* The contract between bpf/relayd.bpf.c and user/fastpath (and relayctl's map
 * dump): map value layouts, flag bits, counter indexes, ring-buffer events.
 * Every socket of a paired connection is keyed by its socket cookie. */
#ifndef RELAYD_FASTPATH_ABI_H
#define RELAYD_FASTPATH_ABI_H

#include <linux/types.h>

#define FP_MAX_SOCKS 131072             /* two per connection */

/* fp_conns value: written once by userspace at pairing, then only the BPF
 * program updates the counters (atomically).  Flags live in a separate map
 * because a userspace update replaces the whole value and would lose the
 * kernel's concurrent counter updates. */
struct fp_conn {
	__u64 peer_cookie;      /* redirect target (key in fp_tx) */
	__u64 bytes;            /* bytes redirected from this socket to its peer */
	__u64 skbs;
	__u64 drops;            /* bytes dropped because the redirect failed */
	__u64 passed;           /* bytes passed to userspace while throttled */
	__u64 notified;         /* bytes value at the last ring-buffer check event */
};

/* fp_ctl value: written only by userspace.  A throttled socket's skbs are
 * passed to its own receive queue (charged to its receive buffer, so TCP
 * pushes back) and userspace copies them; the verdict keeps passing until
 * userspace has consumed every passed byte, so redirected bytes can never
 * overtake copied ones when the throttle lifts. */
struct fp_ctl {
	__u32 flags;
	__u32 pad;
	__u64 consumed;         /* passed bytes userspace has read and forwarded */
};

#define FP_FLAG_THROTTLED 1u    /* pass instead of redirect */

/* fp_stats (per-CPU array) indexes */
enum fp_stat {
	FP_STAT_REDIR_BYTES,
	FP_STAT_REDIR_SKBS,
	FP_STAT_DROP_BYTES,
	FP_STAT_PASS_BYTES,     /* throttled directions */
	FP_STAT_NO_STATE,       /* skbs for sockets without state (SK_PASS) */
	FP_STAT_ZERO_SKBS,      /* zero-length skbs (a bare FIN): dropped */
	FP_STAT_EVENTS_LOST,    /* ring buffer full */
	FP_STAT_MAX,
};

/* Ring-buffer event: the socket's redirected bytes crossed another check
 * step, so userspace should look at how much of it is still queued. */
struct fp_event {
	__u64 cookie;
	__u64 bytes;
};

#define FP_PIN_DIR "/sys/fs/bpf/relayd"

#endif

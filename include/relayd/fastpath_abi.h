/* The contract between bpf/relayd.bpf.c and user/fastpath (and relayctl's map
 * dump): map value layouts, flag bits, counter indexes, ring-buffer events.
 * Every socket of a paired connection is keyed by its socket cookie. */
#ifndef RELAYD_FASTPATH_ABI_H
#define RELAYD_FASTPATH_ABI_H

#include <linux/types.h>

#define FP_MAX_SOCKS 131072             /* two per connection */

/* On this kernel a TCP segment that overlaps bytes already received (a
 * retransmission after the receive window moved) is queued untrimmed, and
 * the verdict (tcp_read_skb) gets the whole skb, old bytes included, where
 * recvmsg would have skipped them.  The verdict tracks sequence numbers: an
 * skb it has wholly seen is dropped; one that starts before the expected
 * number is passed to userspace with a skip record (skip_len bytes starting
 * skip_at bytes into this socket's passed stream), and userspace discards
 * those bytes while copying.  FP_SKIPS records form a ring that userspace
 * follows by count; one overrun resets the connection. */
#define FP_SKIPS 8

/* fp_conns value: written once by userspace at pairing, then only the BPF
 * program updates the counters (atomically).  Control lives in a separate map
 * because a userspace update replaces the whole value and would lose the
 * kernel's concurrent counter updates. */
struct fp_conn {
	__u64 peer_cookie;      /* redirect target (key in fp_tx) */
	__u64 bytes;            /* bytes redirected from this socket to its peer */
	__u64 skbs;
	__u64 drops;            /* bytes dropped because the redirect failed */
	__u64 passed;           /* bytes passed to userspace while throttled */
	__u64 notified;         /* bytes value at the last ring-buffer check event */
	__u32 ctl_slot;         /* index of this socket's word in fp_ctls */
	__u32 stranded;         /* set when passing unthrottled was reported */
	/* Retransmission repair (see FP_SKIPS).  next_seq: the TCP sequence
	 * number the next skb must start at (set from copied_seq by the first
	 * verdict); dup_bytes: bytes dropped or skipped because the verdict had
	 * seen them before; gap_bytes: bytes it never saw (the connection is
	 * then reset by userspace); skips: records written so far. */
	__u32 next_seq;
	__u32 seq_known;
	__u64 dup_bytes;
	__u64 gap_bytes;
	__u32 skips;
	__u32 skip_len[FP_SKIPS];
	__u64 skip_at[FP_SKIPS];
};

/* fp_ctls: an mmap-able array of control blocks, one per paired socket
 * (fp_conn.ctl_slot), written only by userspace with single atomic stores
 * and read by the verdict with one load per field.  (A hash map would not
 * do: an update there frees the old element for immediate reuse while a
 * verdict may still be reading it.)  A throttled socket's skbs are passed to
 * its own receive queue (charged to its receive buffer, so TCP pushes back)
 * and userspace copies them.  Userspace clears the throttle only once it has
 * consumed every passed byte; a verdict that straddled that store and passed
 * anyway makes every later verdict pass too (passed > consumed) and reports
 * it once, so redirected bytes never overtake copied ones.
 *
 * allow caps fp_conn.bytes: the verdict never redirects past it and passes
 * instead, throttling itself; userspace raises it as the peer's unaccounted
 * psock queue drains, so the bound holds without waiting for the thread. */
struct fp_ctl {
	__u64 word;             /* consumed bytes | FP_CTL_THROTTLED */
	__u64 allow;            /* redirect at most this many bytes in all */
};
#define FP_CTL_THROTTLED (1ULL << 63)
#define FP_CTL_CONSUMED_MASK (FP_CTL_THROTTLED - 1)

/* fp_stats (per-CPU array) indexes */
enum fp_stat {
	FP_STAT_REDIR_BYTES,
	FP_STAT_REDIR_SKBS,
	FP_STAT_DROP_BYTES,
	FP_STAT_PASS_BYTES,     /* throttled directions */
	FP_STAT_NO_STATE,       /* skbs for sockets without state (SK_PASS) */
	FP_STAT_ZERO_SKBS,      /* zero-length skbs (a bare FIN): dropped */
	FP_STAT_EVENTS_LOST,    /* ring buffer full */
	FP_STAT_DUP_BYTES,      /* bytes of retransmitted skbs the verdict had seen */
	FP_STAT_GAP_BYTES,      /* bytes the verdict never saw (connection reset) */
	FP_STAT_MAX,
};

/* Ring-buffer event: the socket's redirected bytes crossed another check
 * step, or the verdict began passing because allow was reached, so userspace
 * should look at how much is still queued and refresh allow. */
struct fp_event {
	__u64 cookie;
	__u64 bytes;
};

#define BPFFS_ROOT "/sys/fs/bpf"
#define FP_PIN_DIR BPFFS_ROOT "/relayd"

#endif

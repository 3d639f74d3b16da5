// SPDX-License-Identifier: GPL-2.0
/* relayd fast path, kernel side.
 *
 * Both TCP sockets of a relayed connection sit in two SOCKHASHes keyed by
 * socket cookie: fp_tx (no programs: the redirect target) and fp_rx (carries
 * this sk_skb stream verdict).  For every skb arriving on a paired socket the
 * verdict looks up the socket's fp_conns entry and redirects the skb to the
 * peer's egress, counting bytes; a throttled socket (its peer reads slower
 * than it sends, or its redirect allowance is spent) gets SK_PASS so its data
 * is charged to its own receive buffer and copied by userspace, until
 * userspace has caught up.  Every check_step redirected bytes, and when the
 * allowance runs out, a ring-buffer event asks userspace to look at the
 * peer's queue (redirected skbs are not memory-accounted, so userspace bounds
 * them; see struct fp_ctl for why the bound is also about correctness).
 * Retransmitted skbs that repeat bytes already seen are dropped or cut in
 * userspace (FP_SKIPS in the ABI header). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "relayd/fastpath_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, FP_MAX_SOCKS);
	__type(key, __u64);
	__type(value, __u64);
} fp_tx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, FP_MAX_SOCKS);
	__type(key, __u64);
	__type(value, __u64);
} fp_rx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_SOCKS);
	__type(key, __u64);
	__type(value, struct fp_conn);
} fp_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, FP_MAX_SOCKS);
	__type(key, __u32);
	__type(value, struct fp_ctl);
} fp_ctls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} fp_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} fp_events SEC(".maps");

/* The kernel fields the verdict reads, relocated by CO-RE. */
struct sock;
struct sk_buff {
	struct sock *sk;
	char cb[48];            /* starts with struct tcp_skb_cb: __u32 seq */
} __attribute__((preserve_access_index));
struct tcp_sock {
	__u32 copied_seq;
} __attribute__((preserve_access_index));

extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym;

/* set by userspace before load */
const volatile __u64 check_step = 1 << 20;

static __always_inline void stat_add(__u32 idx, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(&fp_stats, &idx);

	if (c)
		*c += v;
}

/* racing CPUs may both emit: an extra event is harmless */
static __always_inline void notify(struct fp_conn *st, __u64 cookie)
{
	struct fp_event ev = { .cookie = cookie, .bytes = st->bytes };

	st->notified = ev.bytes;
	if (bpf_ringbuf_output(&fp_events, &ev, sizeof(ev), 0))
		stat_add(FP_STAT_EVENTS_LOST, 1);
}

enum seq_check { SEQ_NEW, SEQ_SEEN, SEQ_OVERLAP, SEQ_GAP };

/* Where skb sits in the socket's byte stream (see FP_SKIPS in the ABI). */
static __always_inline enum seq_check check_seq(struct __sk_buff *skb, struct fp_conn *st,
						__u32 len)
{
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);
	__u32 seq, exp, n, cut;
	__s32 d;

	if (bpf_probe_read_kernel(&seq, sizeof(seq), &k->cb[0]))
		return SEQ_NEW;
	if (!st->seq_known) {
		struct tcp_sock *tp;

		/* first skb since pairing: userspace has read up to copied_seq */
		if (bpf_probe_read_kernel(&tp, sizeof(tp), &k->sk) ||
		    bpf_probe_read_kernel(&exp, sizeof(exp), &tp->copied_seq))
			exp = seq;
		st->seq_known = 1;
	} else {
		exp = st->next_seq;
	}
	d = (__s32)(seq - exp);
	if (d == 0) {
		st->next_seq = seq + len;
		return SEQ_NEW;
	}
	if (d > 0) {
		__sync_fetch_and_add(&st->gap_bytes, d);
		stat_add(FP_STAT_GAP_BYTES, d);
		st->next_seq = seq + len;
		return SEQ_GAP;
	}
	cut = (__u32)-d;
	if (cut >= len) {
		__sync_fetch_and_add(&st->dup_bytes, len);
		stat_add(FP_STAT_DUP_BYTES, len);
		return SEQ_SEEN;
	}
	n = st->skips;
	st->skip_at[n % FP_SKIPS] = st->passed;
	st->skip_len[n % FP_SKIPS] = cut;
	st->skips = n + 1;
	__sync_fetch_and_add(&st->dup_bytes, cut);
	stat_add(FP_STAT_DUP_BYTES, cut);
	st->next_seq = seq + len;
	return SEQ_OVERLAP;
}

SEC("sk_skb/stream_verdict")
int relayd_verdict(struct __sk_buff *skb)
{
	__u64 cookie, peer, len = skb->len;
	struct fp_conn *st;
	struct fp_ctl *ctl;
	__u64 word, consumed;
	__u32 slot;
	long ret;

	/* a bare FIN arrives as an empty skb; redirected it would make the peer's
	 * psock backlog fail with EPIPE.  userspace propagates FIN itself. */
	if (len == 0) {
		stat_add(FP_STAT_ZERO_SKBS, 1);
		return SK_DROP;
	}
	cookie = bpf_get_socket_cookie(skb);
	st = bpf_map_lookup_elem(&fp_conns, &cookie);
	if (!st) {
		stat_add(FP_STAT_NO_STATE, 1);
		return SK_PASS;
	}
	slot = st->ctl_slot;
	ctl = bpf_map_lookup_elem(&fp_ctls, &slot);
	if (!ctl) {
		stat_add(FP_STAT_NO_STATE, 1);
		return SK_PASS;
	}
	/* one load each: userspace stores the fields atomically */
	word = *(volatile __u64 *)&ctl->word;
	consumed = word & FP_CTL_CONSUMED_MASK;
	switch (check_seq(skb, st, len)) {
	case SEQ_SEEN:
		return SK_DROP;
	case SEQ_GAP:
		/* bytes were lost before the verdict: userspace resets */
		notify(st, cookie);
		return SK_DROP;
	case SEQ_OVERLAP:
		/* only userspace can cut the old head off: copy from here */
		if (!(word & FP_CTL_THROTTLED) && !st->stranded) {
			st->stranded = 1;
			notify(st, cookie);
		}
		goto pass;
	case SEQ_NEW:
		break;
	}
	/* verdicts of one socket run one at a time (socket lock), so "passed"
	 * here counts every skb passed before this one */
	if (word & FP_CTL_THROTTLED)
		goto pass;
	if (st->passed > consumed) {
		/* passed while userspace was lifting the throttle: it must copy */
		if (!st->stranded) {
			st->stranded = 1;
			notify(st, cookie);
		}
		goto pass;
	}
	if (st->bytes + len > *(volatile __u64 *)&ctl->allow) {
		notify(st, cookie);
		goto pass;
	}
	peer = st->peer_cookie;
	ret = bpf_sk_redirect_hash(skb, &fp_tx, &peer, 0);
	if (ret != SK_PASS) {
		__sync_fetch_and_add(&st->drops, len);
		stat_add(FP_STAT_DROP_BYTES, len);
		return ret;
	}
	__sync_fetch_and_add(&st->bytes, len);
	__sync_fetch_and_add(&st->skbs, 1);
	st->stranded = 0;
	stat_add(FP_STAT_REDIR_BYTES, len);
	stat_add(FP_STAT_REDIR_SKBS, 1);
	if (st->bytes - st->notified >= check_step)
		notify(st, cookie);
	return SK_PASS;
pass:
	__sync_fetch_and_add(&st->passed, len);
	stat_add(FP_STAT_PASS_BYTES, len);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";

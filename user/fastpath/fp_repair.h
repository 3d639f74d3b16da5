/* Retransmission repair, userspace half (FP_SKIPS in relayd/fastpath_abi.h):
 * the verdict records which bytes of a passed skb it had already handled, and
 * the copy loop cuts them out of what it reads.  Pure: no syscalls. */
#ifndef RELAYD_FASTPATH_FP_REPAIR_H
#define RELAYD_FASTPATH_FP_REPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "relayd/fastpath_abi.h"

struct fp_skip_state {
	uint32_t done;          /* records applied in full */
	uint32_t progress;      /* bytes of the next record already cut */
};

/* buf holds *len bytes that start start bytes into the socket's passed
 * stream; c is a fresh copy of the socket's fp_conns entry.  Cuts every
 * recorded range that falls inside the buffer (the rest of a range that runs
 * past its end waits for the next read) and shortens *len.  Returns the bytes
 * cut, or -1 when the stream cannot be repaired: a record was overwritten
 * before it was applied (ring overrun) or names bytes before start (already
 * forwarded). */
long fp_cut_skips(struct fp_skip_state *st, const struct fp_conn *c, uint64_t start,
		  uint8_t *buf, size_t *len);

#endif

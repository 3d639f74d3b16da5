/* One paired connection on the fast path (internal to user/fastpath).
 * Side 0 is the client-facing socket, side 1 the target-facing one; direction
 * i carries bytes read from fd[i] to fd[!i].
 *
 * A direction is in one of three modes:
 *   KERNEL     the verdict redirects; userspace only watches;
 *   THROTTLED  the verdict passes skbs to fd[i]'s own queue (TCP pushes
 *              back); userspace waits for the redirected backlog to drain;
 *   COPYING    userspace copies the passed bytes; the verdict keeps passing
 *              until userspace has consumed all of them, then redirects again. */
#ifndef RELAYD_FASTPATH_FP_PAIR_H
#define RELAYD_FASTPATH_FP_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fastpath/fp_repair.h"
#include "net/loop.h"

struct conn_info;

enum fp_mode { FP_KERNEL, FP_THROTTLED, FP_COPYING };

struct fp_dir {
	enum fp_mode mode;
	bool rd_eof;            /* FIN seen on the source */
	bool shut;              /* FIN sent on the destination */
	uint64_t consumed;      /* passed bytes read and forwarded (mirrors fp_ctl) */
	size_t pre_left;        /* leading buffer bytes read before pairing (not passed) */
	uint64_t received;      /* bytes read from the source since pairing (passed stream) */
	struct fp_skip_state skip;      /* retransmission repair progress */
	uint8_t *buf;           /* copy buffer (allocated on first throttle) */
	size_t off, len, cap;
};

struct fp_pair;

struct fp_io {
	struct loop_io io;
	struct fp_pair *p;
	int side;
};

struct fp_pair {
	struct loop_obj obj;            /* on the fast-path loop: shutdown and kill find it */
	int fd[2];
	uint64_t cookie[2];
	uint32_t slot[2];               /* control words in fp_ctls */
	bool have_slot[2];
	uint64_t base[2];       /* acked + outq of fd[i] at pairing */
	uint64_t post_user[2];  /* bytes userspace wrote into fd[i] after pairing */
	struct fp_dir d[2];
	struct fp_io io[2];
	struct loop_timer timer;        /* drain polling */
	uint32_t poll_ms;
	int64_t max_queued[2];          /* deepest psock queue seen by the checks */
	int error_side;                 /* >= 0: fd[side] failed (RST): aborting */
	uint64_t abort_deadline;
	struct conn_info *ci;
	struct loop_task task;          /* adoption hand-over to the fast-path thread */
};

/* fp_pair.c, all on the fast-path thread */
void fp_pair_start(struct fp_pair *p);
void fp_pair_check_queue(uint64_t cookie);
void fp_pair_close_all(void);

#endif

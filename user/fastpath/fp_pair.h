/* One paired connection on the fast path (internal to user/fastpath).
 * Side 0 is the client-facing socket, side 1 the target-facing one; direction
 * i carries bytes read from fd[i] to fd[!i]. */
#ifndef RELAYD_FASTPATH_FP_PAIR_H
#define RELAYD_FASTPATH_FP_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/loop.h"

struct conn_info;

struct fp_dir {
	bool rd_eof;            /* FIN seen on the source */
	bool shut;              /* FIN sent on the destination */
	bool demoted;           /* verdict passes to userspace; we copy */
	bool drained;           /* demoted: the bytes redirected before it are out */
	bool ueof;              /* demoted: userspace read EOF */
	uint8_t *buf;           /* demoted copy buffer */
	size_t off, len;
};

struct fp_pair;

struct fp_io {
	struct loop_io io;
	struct fp_pair *p;
	int side;
};

struct fp_pair {
	int fd[2];
	uint64_t cookie[2];
	uint64_t base[2];       /* acked + outq of fd[i] at pairing */
	uint64_t post_user[2];  /* bytes userspace wrote into fd[i] after pairing */
	struct fp_dir d[2];
	struct fp_io io[2];
	struct loop_timer timer;        /* drain / demotion polling */
	uint32_t poll_ms;
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

/* State shared by the fast-path files: map fds, the fast-path thread's loop,
 * counters.  Not for use outside user/fastpath. */
#ifndef RELAYD_FASTPATH_FP_INTERNAL_H
#define RELAYD_FASTPATH_FP_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "fastpath/fp.h"

struct loop;
struct ring_buffer;

struct fp_state {
	bool ready;
	char status[256];
	struct fp_opts opts;
	int tx_fd, rx_fd, conns_fd, ctls_fd, stats_fd, events_fd;
	struct loop *loop;              /* the fast-path thread's loop */
	struct ring_buffer *rb;
	_Atomic uint64_t pairs_active, pairs_total, throttles, resumes, insert_refused;
};

extern struct fp_state fp_g;

/* fp_thread.c */
int fp_thread_start(void);
void fp_thread_stop(void);
/* Queue a freshly inserted pair for the fast-path thread. */
struct fp_pair;
void fp_thread_adopt(struct fp_pair *p);

/* fp_sock.c: TCP queue state of a socket */
struct fp_qstate {
	uint64_t acked;         /* tcpi_bytes_acked */
	uint64_t outq;          /* SIOCOUTQ */
	uint64_t inq;           /* SIOCINQ */
};
int fp_sock_qstate(int fd, struct fp_qstate *q);
int fp_sock_cookie(int fd, uint64_t *cookie);

#endif

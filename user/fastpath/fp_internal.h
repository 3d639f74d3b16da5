/* State shared by the fast-path files: map fds, the fast-path thread's loop,
 * counters.  Not for use outside user/fastpath. */
#ifndef RELAYD_FASTPATH_FP_INTERNAL_H
#define RELAYD_FASTPATH_FP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "fastpath/fp.h"
#include "relayd/fastpath_abi.h"

/* struct fp_ctl as userspace stores it (the verdict loads each field once) */
struct fp_ctl_mem {
	_Atomic uint64_t word;
	_Atomic uint64_t allow;
};
_Static_assert(sizeof(struct fp_ctl_mem) == sizeof(struct fp_ctl), "fp_ctl layout");

struct loop;
struct ring_buffer;

struct fp_state {
	bool ready;
	char status[256];
	struct fp_opts opts;
	int tx_fd, rx_fd, conns_fd, ctls_fd, stats_fd, events_fd;
	struct loop *loop;              /* the fast-path thread's loop */
	struct fp_ctl_mem *ctls;        /* fp_ctls, mmap'ed: one block per paired socket */
	pthread_mutex_t slot_lock;      /* free ctl slots (workers take, the fp thread gives back) */
	uint32_t *free_slots;
	size_t n_free;
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

/* fp_bpf.c: control-word slots */
int fp_slot_alloc(uint32_t *slot);
void fp_slot_free(uint32_t slot);

/* fp_sock.c: TCP queue state of a socket */
struct fp_qstate {
	uint64_t acked;         /* tcpi_bytes_acked */
	uint64_t outq;          /* SIOCOUTQ */
	uint64_t inq;           /* SIOCINQ */
};
int fp_sock_qstate(int fd, struct fp_qstate *q);
int fp_sock_cookie(int fd, uint64_t *cookie);

#endif

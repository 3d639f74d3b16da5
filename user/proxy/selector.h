/* Node selection for forwarder targets and chain hops, as GOST's default
 * selector does it: a strategy (round robin by default, random, fifo) over
 * the nodes that are not marked failed; a node is skipped once it has failed
 * maxFails times in a row, until failTimeout has passed since its last
 * failure.  Shared by every worker thread. */
#ifndef RELAYD_PROXY_SELECTOR_H
#define RELAYD_PROXY_SELECTOR_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct cfg_selector;

enum selector_strategy { SEL_ROUND, SEL_RANDOM, SEL_FIFO };

struct selector_mark {
	uint32_t fails;
	uint64_t last_fail_ms;
};

struct selector {
	pthread_mutex_t lock;
	enum selector_strategy strategy;
	uint32_t max_fails;
	uint64_t fail_timeout_ms;
	size_t n;
	size_t next;
	struct selector_mark *marks;
};

int selector_init(struct selector *s, const struct cfg_selector *cfg, size_t n);
void selector_fini(struct selector *s);
/* Index of the node to use, or -1 when every node is marked failed. */
int selector_pick(struct selector *s);
void selector_mark_failed(struct selector *s, int idx);
void selector_mark_ok(struct selector *s, int idx);

#endif

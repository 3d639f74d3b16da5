/* Deferred tasks of the event loop: a task cancelled by an earlier one in
 * the same round does not run and does not take later ones with it, and a
 * task queued while a round runs waits for the next round. */
#include <stdbool.h>

#include "base/util.h"
#include "net/loop.h"
#include "unit.h"

struct probe {
	struct loop_task t;
	struct loop *l;
	int runs;
	struct probe *cancel;           /* cancel this one when run */
	bool requeue;                   /* defer itself again when run */
};

static void probe_cb(struct loop_task *t)
{
	struct probe *p = CONTAINER_OF(t, struct probe, t);

	p->runs++;
	if (p->cancel)
		loop_cancel(p->l, &p->cancel->t);
	if (p->requeue)
		loop_defer(p->l, &p->t);
}

static void test_cancel_inside_a_round_keeps_the_rest(void)
{
	struct loop *l = loop_new();
	struct probe a = { .l = l }, b = { .l = l }, c = { .l = l };

	if (!l)
		abort();
	loop_task_init(&a.t, probe_cb);
	loop_task_init(&b.t, probe_cb);
	loop_task_init(&c.t, probe_cb);
	a.cancel = &b;
	loop_defer(l, &a.t);
	loop_defer(l, &b.t);
	loop_defer(l, &c.t);
	loop_run_posted(l);             /* one round of deferred tasks */
	CHECK_INT(a.runs, 1);
	CHECK_INT(b.runs, 0);
	CHECK_INT(c.runs, 1);
	/* b can be queued again, and runs */
	loop_defer(l, &b.t);
	loop_run_posted(l);
	CHECK_INT(b.runs, 1);
	loop_free(l);
}

static void test_requeued_task_waits_for_the_next_round(void)
{
	struct loop *l = loop_new();
	struct probe a = { .l = l, .requeue = true };

	if (!l)
		abort();
	loop_task_init(&a.t, probe_cb);
	loop_defer(l, &a.t);
	loop_run_posted(l);
	CHECK_INT(a.runs, 1);
	loop_run_posted(l);
	CHECK_INT(a.runs, 2);
	loop_cancel(l, &a.t);
	loop_free(l);
}

int main(void)
{
	RUN(test_cancel_inside_a_round_keeps_the_rest);
	RUN(test_requeued_task_waits_for_the_next_round);
	return UNIT_DONE();
}

/* Event loop implementation: epoll_wait with a timeout taken from the timer
 * heap, then the ready fds, then expired timers, then deferred tasks; posted
 * tasks from other threads arrive through an eventfd. */
#include "net/loop.h"

#include "base/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct loop {
	int epfd;
	int wakefd;
	struct loop_io wake_io;
	_Atomic bool stop;
	uint64_t now;
	/* the batch being dispatched: loop_io_stop() clears entries in it */
	struct epoll_event evs[MAX_EVENTS];
	int ev_pos, ev_n;
	/* timer min-heap */
	struct loop_timer **heap;
	size_t nheap, capheap;
	/* deferred tasks (this thread) */
	struct loop_task *dhead, *dtail;
	struct loop_task round_end;     /* marks where the deferred tasks of a round end */
	/* posted tasks (any thread) */
	pthread_mutex_t plock;
	struct loop_task *phead, *ptail;
	struct loop_obj *objs;
};

uint64_t loop_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t loop_now(struct loop *l)
{
	return l->now;
}

static void wake_cb(struct loop_io *io, uint32_t events);

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->epfd < 0 || l->wakefd < 0 || pthread_mutex_init(&l->plock, NULL))
		goto fail;
	l->now = loop_clock_ms();
	loop_task_init(&l->round_end, NULL);
	loop_io_init(&l->wake_io, l->wakefd, wake_cb);
	if (loop_io_set(l, &l->wake_io, EPOLLIN))
		goto fail;
	return l;
fail:
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	free(l);
	return NULL;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	close(l->wakefd);
	pthread_mutex_destroy(&l->plock);
	free(l->heap);
	free(l);
}

void loop_stop(struct loop *l)
{
	uint64_t one = 1;

	atomic_store(&l->stop, true);
	if (write(l->wakefd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, the loop will wake */
	}
}

/* ---- fds ---- */

void loop_io_init(struct loop_io *io, int fd, loop_io_cb cb)
{
	io->fd = fd;
	io->events = 0;
	io->added = false;
	io->cb = cb;
}

static void drop_pending(struct loop *l, struct loop_io *io)
{
	for (int i = l->ev_pos + 1; i < l->ev_n; i++)
		if (l->evs[i].data.ptr == io)
			l->evs[i].data.ptr = NULL;
}

int loop_io_set(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (!events) {
		loop_io_stop(l, io);
		return 0;
	}
	if (io->added && io->events == events)
		return 0;
	if (epoll_ctl(l->epfd, io->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, io->fd, &ev))
		return -errno;
	io->added = true;
	io->events = events;
	return 0;
}

void loop_io_stop(struct loop *l, struct loop_io *io)
{
	if (io->added) {
		/* fails only if the fd is already closed, which removed it anyway */
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
		io->added = false;
		io->events = 0;
	}
	drop_pending(l, io);
}

/* ---- timers ---- */

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb)
{
	t->when = 0;
	t->idx = 0;
	t->cb = cb;
}

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->idx = i + 1;
}

static void heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (l->heap[p]->when <= t->when)
			break;
		heap_set(l, i, l->heap[p]);
		i = p;
	}
	heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && l->heap[c + 1]->when < l->heap[c]->when)
			c++;
		if (l->heap[c]->when >= t->when)
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	size_t i;
	struct loop_timer *last;

	if (!t->idx)
		return;
	i = t->idx - 1;
	t->idx = 0;
	last = l->heap[--l->nheap];
	if (i == l->nheap)
		return;
	heap_set(l, i, last);
	heap_up(l, i);
	heap_down(l, last->idx - 1);
}

void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms)
{
	loop_timer_stop(l, t);
	if (l->nheap == l->capheap) {
		size_t ncap = l->capheap ? l->capheap * 2 : 64;
		struct loop_timer **nh = realloc(l->heap, ncap * sizeof(*nh));

		if (!nh)
			util_oom("timer heap");	/* a timer that silently never fires is worse */
		l->heap = nh;
		l->capheap = ncap;
	}
	t->when = loop_clock_ms() + delay_ms;
	l->heap[l->nheap] = t;
	t->idx = ++l->nheap;
	heap_up(l, l->nheap - 1);
}

static int next_timeout(struct loop *l)
{
	uint64_t now;

	if (l->dhead)
		return 0;
	if (!l->nheap)
		return -1;
	now = loop_clock_ms();
	if (l->heap[0]->when <= now)
		return 0;
	return (int)(l->heap[0]->when - now);
}

static void run_timers(struct loop *l)
{
	while (l->nheap && l->heap[0]->when <= l->now) {
		struct loop_timer *t = l->heap[0];

		loop_timer_stop(l, t);
		t->cb(t);
	}
}

/* ---- tasks ---- */

void loop_task_init(struct loop_task *t, loop_task_cb cb)
{
	t->next = NULL;
	t->queued = false;
	t->cb = cb;
}

void loop_defer(struct loop *l, struct loop_task *t)
{
	if (t->queued)
		return;
	t->queued = true;
	t->next = NULL;
	if (l->dtail)
		l->dtail->next = t;
	else
		l->dhead = t;
	l->dtail = t;
}

void loop_cancel(struct loop *l, struct loop_task *t)
{
	struct loop_task **pp = &l->dhead, *prev = NULL;

	if (!t->queued)
		return;
	while (*pp && *pp != t) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp) {
		*pp = t->next;
		if (l->dtail == t)
			l->dtail = prev;
	}
	t->queued = false;
	t->next = NULL;
}

static void run_deferred(struct loop *l)
{
	/* tasks queued while running wait for the next round, behind the mark;
	 * taking them off the live list one at a time keeps loop_cancel() of a
	 * task later in this round correct */
	if (!l->dhead)
		return;
	loop_defer(l, &l->round_end);
	for (;;) {
		struct loop_task *t = l->dhead;

		l->dhead = t->next;
		if (!l->dhead)
			l->dtail = NULL;
		t->next = NULL;
		t->queued = false;
		if (t == &l->round_end)
			return;
		t->cb(t);
	}
}

void loop_post(struct loop *l, struct loop_task *t)
{
	uint64_t one = 1;

	t->next = NULL;
	pthread_mutex_lock(&l->plock);
	if (l->ptail)
		l->ptail->next = t;
	else
		l->phead = t;
	l->ptail = t;
	pthread_mutex_unlock(&l->plock);
	if (write(l->wakefd, &one, sizeof(one)) < 0) {
		/* EAGAIN: counter saturated, the loop wakes anyway */
	}
}

static void run_posted(struct loop *l)
{
	struct loop_task *t;

	pthread_mutex_lock(&l->plock);
	t = l->phead;
	l->phead = l->ptail = NULL;
	pthread_mutex_unlock(&l->plock);
	while (t) {
		struct loop_task *next = t->next;

		t->next = NULL;
		t->cb(t);
		t = next;
	}
}

static void wake_cb(struct loop_io *io, uint32_t events)
{
	struct loop *l = (struct loop *)((char *)io - offsetof(struct loop, wake_io));
	uint64_t v;

	(void)events;
	if (read(l->wakefd, &v, sizeof(v)) < 0) {
		/* EAGAIN: another wake already consumed it */
	}
	run_posted(l);
}

void loop_run_posted(struct loop *l)
{
	run_posted(l);
	run_deferred(l);
}

int loop_run(struct loop *l)
{
	while (!atomic_load(&l->stop)) {
		int n = epoll_wait(l->epfd, l->evs, MAX_EVENTS, next_timeout(l));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->now = loop_clock_ms();
		l->ev_n = n;
		for (l->ev_pos = 0; l->ev_pos < n; l->ev_pos++) {
			struct loop_io *io = l->evs[l->ev_pos].data.ptr;

			if (io)
				io->cb(io, l->evs[l->ev_pos].events);
		}
		l->ev_n = 0;
		l->ev_pos = 0;
		run_timers(l);
		run_deferred(l);
	}
	return 0;
}

void loop_obj_add(struct loop *l, struct loop_obj *o, void (*close)(struct loop_obj *o))
{
	o->close = close;
	o->id = 0;
	o->prev = NULL;
	o->next = l->objs;
	if (l->objs)
		l->objs->prev = o;
	l->objs = o;
}

void loop_obj_del(struct loop *l, struct loop_obj *o)
{
	if (o->prev)
		o->prev->next = o->next;
	else if (l->objs == o)
		l->objs = o->next;
	if (o->next)
		o->next->prev = o->prev;
	o->prev = o->next = NULL;
}

void loop_close_objs(struct loop *l)
{
	while (l->objs) {
		struct loop_obj *o = l->objs;

		loop_obj_del(l, o);
		o->close(o);
	}
	/* teardown some closes leave to a deferred task (a multiplexed session's) */
	while (l->dhead)
		run_deferred(l);
}

struct loop_obj *loop_obj_find(struct loop *l, uint64_t id)
{
	for (struct loop_obj *o = l->objs; o; o = o->next)
		if (o->id == id)
			return o;
	return NULL;
}

/* Event loop: one per thread.  epoll (level-triggered unless the caller asks for
 * EPOLLET), a timer heap with millisecond resolution, deferred tasks that run
 * after the current batch of events, and a thread-safe post queue woken by an
 * eventfd.  Small enough to read in ten minutes, in the spirit of Redis's ae. */
#ifndef RELAYD_NET_LOOP_H
#define RELAYD_NET_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct loop_io;
struct loop_timer;
struct loop_task;

typedef void (*loop_io_cb)(struct loop_io *io, uint32_t events);
typedef void (*loop_timer_cb)(struct loop_timer *t);
typedef void (*loop_task_cb)(struct loop_task *t);

struct loop_io {
	int fd;
	uint32_t events;        /* current epoll interest */
	bool added;
	loop_io_cb cb;
};

struct loop_timer {
	uint64_t when;          /* loop_now() deadline in ms */
	size_t idx;             /* heap slot + 1; 0 = not armed */
	loop_timer_cb cb;
};

struct loop_task {
	struct loop_task *next;
	bool queued;
	loop_task_cb cb;
};

/* Something that lives on a loop until it finishes (a session, a pipe): the
 * loop keeps a list so that shutdown can close whatever is still open. */
struct loop_obj {
	struct loop_obj *prev, *next;
	void (*close)(struct loop_obj *o);
	uint64_t id;            /* connection id it serves (0: none), for loop_obj_find() */
};

struct loop *loop_new(void);
void loop_free(struct loop *l);
/* Runs until loop_stop(); returns 0, or -errno if epoll fails. */
int loop_run(struct loop *l);
/* Thread-safe. */
void loop_stop(struct loop *l);
/* Cached monotonic time in ms, refreshed once per iteration. */
uint64_t loop_now(struct loop *l);
uint64_t loop_clock_ms(void);

void loop_io_init(struct loop_io *io, int fd, loop_io_cb cb);
/* Sets the epoll interest (0 removes the fd from epoll).  Returns 0 or -errno. */
int loop_io_set(struct loop *l, struct loop_io *io, uint32_t events);
/* Removes the fd from epoll and drops its pending events in the current batch,
 * so the owner may free io right after this returns. */
void loop_io_stop(struct loop *l, struct loop_io *io);

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb);
void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms);
void loop_timer_stop(struct loop *l, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t) { return t->idx != 0; }

void loop_task_init(struct loop_task *t, loop_task_cb cb);
/* Same thread: run cb after the current event batch (once, however often queued). */
void loop_defer(struct loop *l, struct loop_task *t);
/* Drop a deferred task that has not run yet. */
void loop_cancel(struct loop *l, struct loop_task *t);
/* Any thread: queue t to run on l's thread.  t must stay valid until it runs. */
void loop_post(struct loop *l, struct loop_task *t);

void loop_obj_add(struct loop *l, struct loop_obj *o, void (*close)(struct loop_obj *o));
void loop_obj_del(struct loop *l, struct loop_obj *o);
/* After loop_run() returned: run the tasks still posted to the loop. */
void loop_run_posted(struct loop *l);
/* After loop_run() returned: close every object still registered, then run
 * the deferred tasks those closes queued. */
void loop_close_objs(struct loop *l);
static inline void loop_obj_tag(struct loop_obj *o, uint64_t id) { o->id = id; }
/* On l's thread: the object serving connection id, or NULL. */
struct loop_obj *loop_obj_find(struct loop *l, uint64_t id);

#endif

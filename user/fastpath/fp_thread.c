/* The fast-path thread: its own event loop owning every paired connection,
 * fed by workers through loop_post(), and the consumer of the BPF ring buffer
 * of queue-check events. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "base/log.h"
#include "base/util.h"
#include "fastpath/fp_internal.h"
#include "fastpath/fp_pair.h"
#include "net/loop.h"
#include "relayd/fastpath_abi.h"

static pthread_t g_thread;
static struct loop_io g_rb_io;
static const struct log_ctx lc = { .kind = "fastpath" };

static int on_event(void *ctx, void *data, size_t len)
{
	const struct fp_event *ev = data;

	(void)ctx;
	if (len >= sizeof(*ev))
		fp_pair_check_queue(ev->cookie);
	return 0;
}

static void rb_cb(struct loop_io *io, uint32_t events)
{
	(void)io;
	(void)events;
	if (ring_buffer__consume(fp_g.rb) < 0)
		log_warn(&lc, "reading the queue-check ring buffer failed: %s", strerror(errno));
}

static void *thread_main(void *arg)
{
	int err;

	(void)arg;
	err = loop_run(fp_g.loop);
	if (err)
		log_error(&lc, "fast-path loop stopped: %s", strerror(-err));
	fp_pair_close_all();
	return NULL;
}

static void adopt_task(struct loop_task *t)
{
	fp_pair_start(CONTAINER_OF(t, struct fp_pair, task));
}

void fp_thread_adopt(struct fp_pair *p)
{
	loop_task_init(&p->task, adopt_task);
	loop_post(fp_g.loop, &p->task);
}

int fp_thread_start(void)
{
	int err;

	fp_g.loop = loop_new();
	if (!fp_g.loop)
		return -ENOMEM;
	fp_g.rb = ring_buffer__new(fp_g.events_fd, on_event, NULL, NULL);
	if (!fp_g.rb) {
		err = -errno;
		goto fail;
	}
	loop_io_init(&g_rb_io, ring_buffer__epoll_fd(fp_g.rb), rb_cb);
	err = loop_io_set(fp_g.loop, &g_rb_io, EPOLLIN);
	if (err)
		goto fail;
	err = -pthread_create(&g_thread, NULL, thread_main, NULL);
	if (err)
		goto fail;
	pthread_setname_np(g_thread, "relayd-fastpath");
	return 0;
fail:
	if (fp_g.rb)
		ring_buffer__free(fp_g.rb);
	fp_g.rb = NULL;
	loop_free(fp_g.loop);
	fp_g.loop = NULL;
	return err;
}

void fp_thread_stop(void)
{
	loop_stop(fp_g.loop);
	pthread_join(g_thread, NULL);
	ring_buffer__free(fp_g.rb);
	fp_g.rb = NULL;
	loop_free(fp_g.loop);
	fp_g.loop = NULL;
}

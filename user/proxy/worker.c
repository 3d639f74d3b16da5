/* Worker threads: one event loop each; connections stay on the worker that
 * accepted them until the fast path takes them. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "proxy/service.h"

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int err = loop_run(w->loop);

	if (err)
		log_error(NULL, "worker %d: event loop failed: %s", w->id, strerror(-err));
	return NULL;
}

int workers_create(struct worker **out, int n)
{
	struct worker *w = calloc((size_t)n, sizeof(*w));

	if (!w)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		w[i].id = i;
		w[i].loop = loop_new();
		if (!w[i].loop) {
			while (i--)
				loop_free(w[i].loop);
			free(w);
			return -ENOMEM;
		}
	}
	*out = w;
	return 0;
}

int workers_start(struct worker *w, int n)
{
	for (int i = 0; i < n; i++) {
		int err = pthread_create(&w[i].thread, NULL, worker_main, &w[i]);

		if (err)
			return -err;
		w[i].running = true;
		{
			char name[32];

			snprintf(name, sizeof(name), "relayd-w%d", i);
			pthread_setname_np(w[i].thread, name);
		}
	}
	return 0;
}

void workers_stop(struct worker *w, int n)
{
	for (int i = 0; i < n; i++)
		if (w[i].running)
			loop_stop(w[i].loop);
	for (int i = 0; i < n; i++) {
		if (w[i].running)
			pthread_join(w[i].thread, NULL);
		w[i].running = false;
	}
}

void workers_free(struct worker *w, int n)
{
	for (int i = 0; i < n; i++)
		loop_free(w[i].loop);
	free(w);
}

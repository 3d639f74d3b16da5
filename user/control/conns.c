/* Connection registry (see conns.h): a doubly linked list under one mutex,
 * taken on create/destroy and by readers; byte counters are atomics. */
#include "control/conns.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "control/metrics.h"
#include "net/stream.h"
#include "net/loop.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn_info *g_head;
static _Atomic uint64_t g_next_id = 1;
static _Atomic uint64_t g_accepted, g_active, g_closed;
static _Atomic uint64_t g_user_bytes, g_splice_bytes, g_kernel_closed;

static const char *const path_names[] = { "handshake", "user", "splice", "kernel", "closing" };

const char *conns_path_name(int p)
{
	return p >= 0 && p < (int)ARRAY_SIZE(path_names) ? path_names[p] : "?";
}

struct conn_info *conns_new(const char *service, const char *proto, const struct sockaddr *client)
{
	struct conn_info *ci = calloc(1, sizeof(*ci));

	if (!ci)
		return NULL;
	ci->id = atomic_fetch_add(&g_next_id, 1);
	util_strcpy(ci->service, sizeof(ci->service), service);
	util_strcpy(ci->proto, sizeof(ci->proto), proto);
	if (client)
		net_format_sockaddr(client, ci->client, sizeof(ci->client));
	ci->start_mono_ms = loop_clock_ms();
	ci->start_wall_ms = util_wall_ms();
	pthread_mutex_lock(&g_lock);
	ci->next = g_head;
	if (g_head)
		g_head->prev = ci;
	g_head = ci;
	pthread_mutex_unlock(&g_lock);
	atomic_fetch_add(&g_accepted, 1);
	atomic_fetch_add(&g_active, 1);
	return ci;
}

/* Text fields are written by the owning thread while readers may copy them:
 * take the lock so a reader never sees a half-written string. */
void conns_set_target(struct conn_info *ci, const char *target)
{
	pthread_mutex_lock(&g_lock);
	util_strcpy(ci->target, sizeof(ci->target), target);
	pthread_mutex_unlock(&g_lock);
}

void conns_set_client(struct conn_info *ci, const char *client)
{
	pthread_mutex_lock(&g_lock);
	util_strcpy(ci->client, sizeof(ci->client), client);
	pthread_mutex_unlock(&g_lock);
}

void conns_set_local(struct conn_info *ci, struct stream *client)
{
	struct sockaddr_storage ss;
	char text[NET_ADDRSTRLEN];

	if (stream_local_addr(client, &ss))
		return;
	net_format_sockaddr((const struct sockaddr *)&ss, text, sizeof(text));
	pthread_mutex_lock(&g_lock);
	util_strcpy(ci->local, sizeof(ci->local), text);
	pthread_mutex_unlock(&g_lock);
}

void conns_set_user(struct conn_info *ci, const char *user)
{
	pthread_mutex_lock(&g_lock);
	util_strcpy(ci->user, sizeof(ci->user), user);
	pthread_mutex_unlock(&g_lock);
}

void conns_set_path(struct conn_info *ci, enum conn_path p)
{
	int was = atomic_exchange(&ci->path, p);

	if (was == CONN_PATH_HANDSHAKE && p != CONN_PATH_HANDSHAKE && p != CONN_PATH_CLOSING)
		metrics_handshake_done(loop_clock_ms() - ci->start_mono_ms);
}

void conns_set_error(struct conn_info *ci, const char *fmt, ...)
{
	va_list ap;

	if (ci->error[0])
		return;
	pthread_mutex_lock(&g_lock);
	va_start(ap, fmt);
	vsnprintf(ci->error, sizeof(ci->error), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&g_lock);
}

void conns_add_path_bytes(enum conn_path p, uint64_t n)
{
	if (p == CONN_PATH_SPLICE)
		atomic_fetch_add_explicit(&g_splice_bytes, n, memory_order_relaxed);
	else if (p == CONN_PATH_KERNEL)
		atomic_fetch_add_explicit(&g_kernel_closed, n, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&g_user_bytes, n, memory_order_relaxed);
}

void conns_done(struct conn_info *ci)
{
	uint64_t up = atomic_load(&ci->up_user) + atomic_load(&ci->up_kernel);
	uint64_t down = atomic_load(&ci->down_user) + atomic_load(&ci->down_kernel);
	struct log_ctx lc = { .kind = "handler", .service = ci->service, .remote = ci->client,
			      .local = ci->local[0] ? ci->local : NULL,
			      .user = ci->user[0] ? ci->user : NULL,
			      .dst = ci->target[0] ? ci->target : NULL };
	uint64_t ms = loop_clock_ms() - ci->start_mono_ms;
	struct log_num nums[] = {
		/* GOST logs a Go time.Duration, which encodes as nanoseconds */
		{ "duration", (int64_t)(ms * 1000000u) },
		{ "duration_ms", (int64_t)ms },
		{ "inputBytes", (int64_t)up },
		{ "outputBytes", (int64_t)down },
	};

	pthread_mutex_lock(&g_lock);
	if (ci->prev)
		ci->prev->next = ci->next;
	else
		g_head = ci->next;
	if (ci->next)
		ci->next->prev = ci->prev;
	pthread_mutex_unlock(&g_lock);
	atomic_fetch_sub(&g_active, 1);
	atomic_fetch_add(&g_closed, 1);
	metrics_conn_done(ci->service, up, down);
	if (log_enabled(LOG_INFO))
		log_write(LOG_INFO, &lc, nums, ARRAY_SIZE(nums), "%s >-< %s%s%s (%s)", ci->client,
			  ci->target[0] ? ci->target : "-", ci->error[0] ? ": " : "", ci->error,
			  conns_path_name(atomic_load(&ci->path)));
	free(ci);
}

void conns_foreach(void (*cb)(const struct conn_info *ci, void *ud), void *ud)
{
	pthread_mutex_lock(&g_lock);
	for (struct conn_info *ci = g_head; ci; ci = ci->next)
		cb(ci, ud);
	pthread_mutex_unlock(&g_lock);
}

void conns_get_totals(struct conns_totals *t)
{
	t->accepted = atomic_load(&g_accepted);
	t->active = atomic_load(&g_active);
	t->closed = atomic_load(&g_closed);
	t->user_bytes = atomic_load(&g_user_bytes);
	t->splice_bytes = atomic_load(&g_splice_bytes);
	t->kernel_bytes_closed = atomic_load(&g_kernel_closed);
}

bool conns_visit(uint64_t id, void (*cb)(const struct conn_info *ci, void *ud), void *ud,
		 const char *error)
{
	struct conn_info *ci;

	pthread_mutex_lock(&g_lock);
	for (ci = g_head; ci; ci = ci->next)
		if (ci->id == id)
			break;
	if (ci) {
		if (error && !ci->error[0])
			util_strcpy(ci->error, sizeof(ci->error), error);
		if (cb)
			cb(ci, ud);
	}
	pthread_mutex_unlock(&g_lock);
	return ci != NULL;
}

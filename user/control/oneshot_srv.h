/* A one-request-per-connection server on a loop, shared by the control
 * socket and the metrics endpoint: accept, read until the request is
 * complete, write the whole reply with back-pressure, close.  Each client
 * has a deadline, so a silent peer cannot hold a slot. */
#ifndef RELAYD_CONTROL_ONESHOT_SRV_H
#define RELAYD_CONTROL_ONESHOT_SRV_H

#include <stdbool.h>
#include <stddef.h>

#include "net/loop.h"

struct oneshot_client;

struct oneshot_srv {
	/* Set before oneshot_srv_start: */
	size_t max_request;             /* bytes buffered per request */
	uint64_t timeout_ms;
	/* in is NUL-terminated; full: the buffer is full.  Returns 1 with a
	 * malloc'd reply in *out (the server frees it), 0 to read more, -1 to
	 * close without a reply. */
	int (*handle)(struct oneshot_srv *s, char *in, size_t len, bool full, char **out,
		      size_t *out_len);
	const char *what;               /* for log lines: "control", "metrics" */
	/* Owned by the server: */
	struct loop *loop;
	struct loop_io lio;
	struct oneshot_client *clients;
};

/* Serves the listening, non-blocking socket fd (taken over also on failure).
 * Returns 0 or -errno. */
int oneshot_srv_start(struct oneshot_srv *s, struct loop *l, int fd);
/* Closes the listener and every client; safe to call when not started. */
void oneshot_srv_stop(struct oneshot_srv *s);
static inline bool oneshot_srv_running(const struct oneshot_srv *s) { return s->loop != NULL; }

#endif

/* The metrics endpoint: a small HTTP/1.1 server on the main loop answering
 * GET <path> (Prometheus text, default /metrics), /livez and /readyz, one
 * request per connection.  GOST's -metrics flag and metrics block enable it. */
#ifndef RELAYD_CONTROL_METRICS_HTTP_H
#define RELAYD_CONTROL_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct loop;
struct cfg_metrics;
struct daemon_state;

/* Listens on m->addr (copying what it needs from m); st must outlive the
 * server.  Returns 0 or -errno with err filled. */
int metrics_http_start(struct loop *l, const struct cfg_metrics *m, const struct daemon_state *st,
		       char *err, size_t errlen);
void metrics_http_stop(void);
/* /readyz answers 200 only while ready: listeners bound, the fast path
 * loaded or its fallback decided, and not draining. */
void metrics_http_set_ready(bool ready);

#endif

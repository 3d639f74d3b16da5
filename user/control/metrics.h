/* Prometheus metrics: GOST's names (gost_service_*, gost_chain_errors_total,
 * labelled host and service/chain, so GOST dashboards work) and relayd's own
 * (fast path, bytes per path, fallbacks, handshake latency).  Counters that
 * no other module keeps are recorded here lock-free or under a short mutex;
 * the rest is read at scrape time from the connection registry, the
 * services and the fast path. */
#ifndef RELAYD_CONTROL_METRICS_H
#define RELAYD_CONTROL_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct daemon_state;

/* Why a relayed TCP pair did not go to the kernel fast path. */
enum metrics_fallback {
	METRICS_FB_BPF_UNAVAILABLE,     /* fast path wanted, BPF not loaded */
	METRICS_FB_TRANSPORT,           /* a side is TLS, WebSocket, a mux stream ... */
	METRICS_FB_REFUSED,             /* the fast path refused the pair (socket closing ...) */
	METRICS_FB_SPLICE_FAILED,       /* splice(2) could not start either: userspace copy */
	METRICS_FB_N
};

void metrics_fallback(enum metrics_fallback why);
/* A connection left its handshake (header, auth, dial) after ms milliseconds. */
void metrics_handshake_done(uint64_t ms);
/* A connection of service ended having read in bytes from its client and
 * written out bytes to it. */
void metrics_conn_done(const char *service, uint64_t in, uint64_t out);
/* A dial through chain failed. */
void metrics_chain_error(const char *chain);

/* The Prometheus text exposition (format 0.0.4) of the running daemon;
 * malloc'd, NULL when out of memory. */
char *metrics_render(const struct daemon_state *st, size_t *len);

#endif

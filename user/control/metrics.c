/* Prometheus text exposition of the daemon's counters (see metrics.h). */
#include "control/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "config/config.h"
#include "control/conns.h"
#include "control/ctl_cmds.h"
#include "fastpath/fp.h"
#include "proxy/service.h"

/* Handshake latency buckets, upper bounds in ms (the registry's clock ticks in ms). */
static const unsigned hs_bounds_ms[] = { 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 };
#define HS_N ARRAY_SIZE(hs_bounds_ms)

static const char *const fb_reason[METRICS_FB_N] = {
	[METRICS_FB_BPF_UNAVAILABLE] = "bpf_unavailable",
	[METRICS_FB_TRANSPORT] = "transport",
	[METRICS_FB_REFUSED] = "refused",
	[METRICS_FB_SPLICE_FAILED] = "splice_failed",
};

/* Totals kept by name: finished connections' bytes per service, errors per
 * chain.  Names outlive reloads so counters never go backwards. */
struct named {
	char name[64];
	uint64_t a, b;
};

struct named_set {
	pthread_mutex_t lock;
	struct named *v;
	size_t n, cap;
};

static struct {
	_Atomic uint64_t fallback[METRICS_FB_N];
	_Atomic uint64_t hs_bucket[HS_N];       /* non-cumulative; +Inf is the count */
	_Atomic uint64_t hs_count, hs_sum_ms;
	struct named_set svc, chain;
} g = {
	.svc = { .lock = PTHREAD_MUTEX_INITIALIZER },
	.chain = { .lock = PTHREAD_MUTEX_INITIALIZER },
};

void metrics_fallback(enum metrics_fallback why)
{
	if (why < METRICS_FB_N)
		atomic_fetch_add_explicit(&g.fallback[why], 1, memory_order_relaxed);
}

void metrics_handshake_done(uint64_t ms)
{
	/* count first: a scrape reads it after the buckets and must not see less */
	atomic_fetch_add(&g.hs_count, 1);
	atomic_fetch_add_explicit(&g.hs_sum_ms, ms, memory_order_relaxed);
	for (size_t i = 0; i < HS_N; i++)
		if (ms <= hs_bounds_ms[i]) {
			atomic_fetch_add(&g.hs_bucket[i], 1);
			break;
		}
}

/* Caller holds set->lock.  NULL only when out of memory. */
static struct named *named_get(struct named_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->v[i].name, name))
			return &set->v[i];
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		struct named *v = realloc(set->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n] = (struct named){ 0 };
	util_strcpy(set->v[set->n].name, sizeof(set->v[set->n].name), name);
	return &set->v[set->n++];
}

static void named_add(struct named_set *set, const char *name, uint64_t a, uint64_t b)
{
	struct named *e;

	pthread_mutex_lock(&set->lock);
	e = named_get(set, name ? name : "");
	if (e) {
		e->a += a;
		e->b += b;
	}
	pthread_mutex_unlock(&set->lock);
}

void metrics_conn_done(const char *service, uint64_t in, uint64_t out)
{
	named_add(&g.svc, service, in, out);
}

void metrics_chain_error(const char *chain)
{
	if (chain && *chain)
		named_add(&g.chain, chain, 1, 0);
}

/* ---- rendering ---- */

/* One row per service name seen: the current services and any a reload removed. */
struct svc_row {
	char name[64];
	const struct service *s;        /* NULL: no longer configured */
	uint64_t in, out, in_flight;
};

struct scrape {
	struct svc_row *rows;
	size_t n;
};

static struct svc_row *row_find(struct scrape *sc, const char *name)
{
	for (size_t i = 0; i < sc->n; i++)
		if (!strcmp(sc->rows[i].name, name))
			return &sc->rows[i];
	return NULL;
}

static void count_live(const struct conn_info *ci, void *ud)
{
	struct svc_row *r = row_find(ud, ci->service);

	if (!r)
		return;
	r->in_flight++;
	r->in += atomic_load_explicit(&ci->up_user, memory_order_relaxed);
	r->out += atomic_load_explicit(&ci->down_user, memory_order_relaxed);
}

static int gather(const struct daemon_state *st, struct scrape *sc)
{
	size_t cap;

	pthread_mutex_lock(&g.svc.lock);
	cap = st->n_services + g.svc.n;
	sc->rows = calloc(cap ? cap : 1, sizeof(*sc->rows));
	if (!sc->rows) {
		pthread_mutex_unlock(&g.svc.lock);
		return -1;
	}
	for (size_t i = 0; i < st->n_services; i++) {
		struct svc_row *r = &sc->rows[sc->n++];

		util_strcpy(r->name, sizeof(r->name), st->services[i]->cfg->name);
		r->s = st->services[i];
	}
	for (size_t i = 0; i < g.svc.n; i++) {
		struct svc_row *r = row_find(sc, g.svc.v[i].name);

		if (!r) {
			r = &sc->rows[sc->n++];
			util_strcpy(r->name, sizeof(r->name), g.svc.v[i].name);
		}
		r->in += g.svc.v[i].a;
		r->out += g.svc.v[i].b;
	}
	pthread_mutex_unlock(&g.svc.lock);
	conns_foreach(count_live, sc);
	return 0;
}

/* A label value with \, " and newline escaped. */
static void put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void svc_metric(FILE *f, const char *host, const struct scrape *sc, const char *name,
		       const char *type, const char *help, uint64_t (*val)(const struct svc_row *))
{
	head(f, name, type, help);
	for (size_t i = 0; i < sc->n; i++) {
		fprintf(f, "%s{host=\"", name);
		put_label(f, host);
		fputs("\",service=\"", f);
		put_label(f, sc->rows[i].name);
		fprintf(f, "\"} %llu\n", (unsigned long long)val(&sc->rows[i]));
	}
}

static uint64_t v_requests(const struct svc_row *r)
{
	return r->s ? atomic_load(&r->s->requests) : 0;
}

static uint64_t v_errors(const struct svc_row *r)
{
	return r->s ? atomic_load(&r->s->errors) : 0;
}

static uint64_t v_in(const struct svc_row *r) { return r->in; }
static uint64_t v_out(const struct svc_row *r) { return r->out; }
static uint64_t v_in_flight(const struct svc_row *r) { return r->in_flight; }

static void render_gost(FILE *f, const char *host, const struct daemon_state *st,
			const struct scrape *sc)
{
	head(f, "gost_services", "gauge", "Current number of services.");
	fprintf(f, "gost_services{host=\"");
	put_label(f, host);
	fprintf(f, "\"} %zu\n", st->n_services);
	/* a removed service's requests and errors are gone with it: only the
	 * byte totals are kept by name, so these two list current services */
	svc_metric(f, host, &(struct scrape){ sc->rows, st->n_services }, "gost_service_requests_total",
		   "counter", "Total service requests.", v_requests);
	svc_metric(f, host, sc, "gost_service_requests_in_flight", "gauge",
		   "Current in-flight requests.", v_in_flight);
	svc_metric(f, host, sc, "gost_service_transfer_input_bytes_total", "counter",
		   "Total service input data transfer size in bytes.", v_in);
	svc_metric(f, host, sc, "gost_service_transfer_output_bytes_total", "counter",
		   "Total service output data transfer size in bytes.", v_out);
	svc_metric(f, host, &(struct scrape){ sc->rows, st->n_services },
		   "gost_service_handler_errors_total", "counter", "Total service handler errors.",
		   v_errors);
	head(f, "gost_chain_errors_total", "counter", "Total chain errors.");
	pthread_mutex_lock(&g.chain.lock);
	for (size_t i = 0; i < g.chain.n; i++) {
		fputs("gost_chain_errors_total{chain=\"", f);
		put_label(f, g.chain.v[i].name);
		fputs("\",host=\"", f);
		put_label(f, host);
		fprintf(f, "\"} %llu\n", (unsigned long long)g.chain.v[i].a);
	}
	pthread_mutex_unlock(&g.chain.lock);
}

static void render_relayd(FILE *f, const struct daemon_state *st)
{
	struct conns_totals t;
	struct fp_totals fp;
	uint64_t cum = 0;

	conns_get_totals(&t);
	fp_get_totals(&fp);
	head(f, "relayd_connections_active", "gauge", "Connections open now.");
	fprintf(f, "relayd_connections_active %llu\n", (unsigned long long)t.active);
	head(f, "relayd_connections_accepted_total", "counter", "Connections accepted.");
	fprintf(f, "relayd_connections_accepted_total %llu\n", (unsigned long long)t.accepted);
	head(f, "relayd_fastpath_connections", "gauge",
	     "Connections whose bytes the kernel fast path moves now.");
	fprintf(f, "relayd_fastpath_connections %llu\n", (unsigned long long)fp.pairs_active);
	head(f, "relayd_fastpath_loaded", "gauge", "1 when the BPF fast path is loaded.");
	fprintf(f, "relayd_fastpath_loaded %d\n", fp_ready() ? 1 : 0);
	head(f, "relayd_transfer_bytes_total", "counter",
	     "Bytes relayed, by the path that moved them (kernel: sockmap redirect).");
	fprintf(f, "relayd_transfer_bytes_total{path=\"kernel\"} %llu\n",
		(unsigned long long)fp.redirected_bytes);
	fprintf(f, "relayd_transfer_bytes_total{path=\"splice\"} %llu\n",
		(unsigned long long)t.splice_bytes);
	fprintf(f, "relayd_transfer_bytes_total{path=\"user\"} %llu\n",
		(unsigned long long)t.user_bytes);
	head(f, "relayd_fastpath_fallback_total", "counter",
	     "Relayed TCP connections that did not use the kernel fast path, by reason.");
	for (int i = 0; i < METRICS_FB_N; i++)
		fprintf(f, "relayd_fastpath_fallback_total{reason=\"%s\"} %llu\n", fb_reason[i],
			(unsigned long long)atomic_load(&g.fallback[i]));
	head(f, "relayd_fastpath_throttles_total", "counter",
	     "Times a fast-path direction was copied in userspace until its reader caught up.");
	fprintf(f, "relayd_fastpath_throttles_total %llu\n", (unsigned long long)fp.throttles);
	head(f, "relayd_handshake_duration_seconds", "histogram",
	     "Time from accept to relaying (header, auth, upstream dial).");
	for (size_t i = 0; i < HS_N; i++) {
		cum += atomic_load(&g.hs_bucket[i]);
		fprintf(f, "relayd_handshake_duration_seconds_bucket{le=\"%g\"} %llu\n",
			hs_bounds_ms[i] / 1000.0, (unsigned long long)cum);
	}
	cum = atomic_load(&g.hs_count);
	fprintf(f, "relayd_handshake_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)cum);
	fprintf(f, "relayd_handshake_duration_seconds_sum %.3f\n",
		(double)atomic_load(&g.hs_sum_ms) / 1000.0);
	fprintf(f, "relayd_handshake_duration_seconds_count %llu\n", (unsigned long long)cum);
	head(f, "relayd_reloads_total", "counter", "Configuration reloads that took effect.");
	fprintf(f, "relayd_reloads_total %llu\n", (unsigned long long)st->reloads);
	head(f, "relayd_reload_failures_total", "counter",
	     "Reloads rejected (the running configuration stayed).");
	fprintf(f, "relayd_reload_failures_total %llu\n", (unsigned long long)st->reload_failures);
}

char *metrics_render(const struct daemon_state *st, size_t *len)
{
	struct scrape sc = { 0 };
	char host[256] = "";
	char *buf = NULL;
	FILE *f;

	if (gethostname(host, sizeof(host) - 1))
		util_strcpy(host, sizeof(host), "localhost");
	if (gather(st, &sc))
		return NULL;
	f = open_memstream(&buf, len);
	if (!f) {
		free(sc.rows);
		return NULL;
	}
	render_gost(f, host, st, &sc);
	render_relayd(f, st);
	free(sc.rows);
	if (ferror(f) | fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

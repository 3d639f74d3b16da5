/* Control commands: status, services, conns, conn (one), kill, reload,
 * stats.  Each fills a JSON reply; relayctl prints it as JSON (-j) or turns
 * it into text, so both views come from the same fields. */
#include "control/ctl_cmds.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "config/config.h"
#include "control/conns.h"
#include "control/ctl_server.h"
#include "fastpath/fp.h"
#include "net/loop.h"
#include "proxy/service.h"

static json_t *service_json(const struct service *s)
{
	const struct cfg_service *c = s->cfg;

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b}",
			 "name", c->name, "addr", c->addr, "listen", s->bound,
			 "handler", c->handler, "listener", c->listener,
			 "chain", c->handler_chain ? c->handler_chain->name : "",
			 "requests", (json_int_t)atomic_load(&s->requests),
			 "errors", (json_int_t)atomic_load(&s->errors),
			 "auth", c->handler_users.enabled);
}

static json_t *services_json(const struct daemon_state *st)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < st->n_services; i++)
		json_array_append_new(arr, service_json(st->services[i]));
	return arr;
}

static json_t *fastpath_json(const struct fp_totals *f)
{
	return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "state", fp_status(), "loaded", fp_ready(),
			 "pairs_active", (json_int_t)f->pairs_active,
			 "pairs_total", (json_int_t)f->pairs_total,
			 "throttles", (json_int_t)f->throttles,
			 "resumes", (json_int_t)f->resumes,
			 "insert_refused", (json_int_t)f->insert_refused,
			 "redirected_skbs", (json_int_t)f->redirected_skbs,
			 "dropped_bytes", (json_int_t)f->dropped_bytes,
			 "passed_bytes", (json_int_t)f->passed_bytes,
			 "zero_len_skbs", (json_int_t)f->zero_skbs,
			 "no_state_skbs", (json_int_t)f->no_state,
			 "events_lost", (json_int_t)f->events_lost,
			 "kernel_dup_bytes", (json_int_t)f->dup_bytes,
			 "kernel_gap_bytes", (json_int_t)f->gap_bytes);
}

static const char *cmd_status(const json_t *req, json_t *reply, void *ud, char *errbuf,
			      size_t errlen)
{
	struct daemon_state *st = ud;
	struct conns_totals t;
	struct fp_totals f;

	(void)req;
	(void)errbuf;
	(void)errlen;
	conns_get_totals(&t);
	fp_get_totals(&f);
	json_object_set_new(reply, "relayd", json_string(RELAYD_VERSION));
	json_object_set_new(reply, "pid", json_integer(getpid()));
	json_object_set_new(reply, "uptime_s",
			    json_integer((json_int_t)((loop_clock_ms() - st->start_mono_ms) / 1000)));
	json_object_set_new(reply, "workers", json_integer(st->workers));
	json_object_set_new(reply, "services", services_json(st));
	json_object_set_new(reply, "fastpath", fastpath_json(&f));
	json_object_set_new(reply, "bytes", json_pack("{s:I, s:I, s:I}",
		"kernel", (json_int_t)f.redirected_bytes,
		"user", (json_int_t)t.user_bytes,
		"splice", (json_int_t)t.splice_bytes));
	json_object_set_new(reply, "connections", json_pack("{s:I, s:I, s:I}",
		"active", (json_int_t)t.active, "accepted", (json_int_t)t.accepted,
		"closed", (json_int_t)t.closed));
	json_object_set_new(reply, "reloads", json_pack("{s:I, s:I, s:s}",
		"ok", (json_int_t)st->reloads, "failed", (json_int_t)st->reload_failures,
		"last_error", st->last_reload_error));
	return NULL;
}

static const char *cmd_services(const json_t *req, json_t *reply, void *ud, char *errbuf,
				size_t errlen)
{
	(void)req;
	(void)errbuf;
	(void)errlen;
	json_object_set_new(reply, "services", services_json(ud));
	return NULL;
}

struct conns_ctx {
	json_t *arr;
	uint64_t now;
	bool detail;
};

static void conn_json(const struct conn_info *ci, void *ud)
{
	struct conns_ctx *cx = ud;
	int path = atomic_load(&ci->path);
	uint64_t up = atomic_load(&ci->up_user), down = atomic_load(&ci->down_user);
	uint64_t kup = atomic_load(&ci->up_kernel), kdown = atomic_load(&ci->down_kernel);
	uint64_t ck = atomic_load(&ci->cookie_client), tk = atomic_load(&ci->cookie_target);
	json_t *o;

	if (path == CONN_PATH_KERNEL) {
		/* live counters from BPF (final ones are copied at close) */
		kup = fp_socket_bytes(ck);
		kdown = fp_socket_bytes(tk);
	}
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:b}",
		      "id", (json_int_t)ci->id, "service", ci->service, "proto", ci->proto,
		      "client", ci->client, "user", ci->user, "target", ci->target,
		      "path", conns_path_name(path), "stack", ci->stack,
		      "bytes_up", (json_int_t)(up + kup), "bytes_down", (json_int_t)(down + kdown),
		      "kernel_up", (json_int_t)kup, "kernel_down", (json_int_t)kdown,
		      "age_ms", (json_int_t)(cx->now - ci->start_mono_ms),
		      "throttled_up", atomic_load(&ci->demoted_up),
		      "throttled_down", atomic_load(&ci->demoted_down));
	if (o && atomic_load(&ci->datagram)) {
		uint64_t last = atomic_load(&ci->last_mono_ms);

		json_object_set_new(o, "datagrams_up",
				    json_integer((json_int_t)atomic_load(&ci->dgrams_up)));
		json_object_set_new(o, "datagrams_down",
				    json_integer((json_int_t)atomic_load(&ci->dgrams_down)));
		json_object_set_new(o, "idle_ms",
				    json_integer((json_int_t)(cx->now > last ? cx->now - last : 0)));
	}
	if (o && cx->detail) {
		json_object_set_new(o, "user_up", json_integer((json_int_t)up));
		json_object_set_new(o, "user_down", json_integer((json_int_t)down));
		json_object_set_new(o, "cookie_client", json_integer((json_int_t)ck));
		json_object_set_new(o, "cookie_target", json_integer((json_int_t)tk));
		json_object_set_new(o, "start_unix_ms", json_integer((json_int_t)ci->start_wall_ms));
		json_object_set_new(o, "error", json_string(ci->error));
	}
	if (o && ci->tls_client[0])
		json_object_set_new(o, "tls_client", json_string(ci->tls_client));
	if (o && ci->tls_target[0])
		json_object_set_new(o, "tls_target", json_string(ci->tls_target));
	json_array_append_new(cx->arr, o);
}

static const char *cmd_conns(const json_t *req, json_t *reply, void *ud, char *errbuf,
			     size_t errlen)
{
	struct conns_ctx cx = { .arr = json_array(), .now = loop_clock_ms() };

	(void)req;
	(void)ud;
	(void)errbuf;
	(void)errlen;
	if (!cx.arr)
		return "out of memory";
	conns_foreach(conn_json, &cx);
	json_object_set_new(reply, "conns", cx.arr);
	return NULL;
}

static int req_id(const json_t *req, uint64_t *id)
{
	json_t *v = json_object_get(req, "id");

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return -1;
	*id = (uint64_t)json_integer_value(v);
	return 0;
}

static const char *cmd_conn(const json_t *req, json_t *reply, void *ud, char *errbuf,
			    size_t errlen)
{
	struct conns_ctx cx = { .arr = json_array(), .now = loop_clock_ms(), .detail = true };
	uint64_t id;

	(void)ud;
	if (!cx.arr)
		return "out of memory";
	if (req_id(req, &id)) {
		json_decref(cx.arr);
		return "conn: \"id\" must be a positive integer";
	}
	if (!conns_visit(id, conn_json, &cx, NULL)) {
		json_decref(cx.arr);
		snprintf(errbuf, errlen, "no connection %llu", (unsigned long long)id);
		return errbuf;
	}
	json_object_set(reply, "conn", json_array_get(cx.arr, 0));
	json_decref(cx.arr);
	return NULL;
}

/* A kill travels to every loop that owns connections; the one that finds
 * the connection closes it (both sockets, and the pair's map entries). */
struct kill_task {
	struct loop_task t;
	struct loop *l;
	uint64_t id;
};

static void kill_run(struct loop_task *t)
{
	struct kill_task *k = CONTAINER_OF(t, struct kill_task, t);
	struct loop_obj *o = loop_obj_find(k->l, k->id);

	if (o) {
		loop_obj_del(k->l, o);
		o->close(o);
	}
	free(k);
}

static const char *cmd_kill(const json_t *req, json_t *reply, void *ud, char *errbuf,
			    size_t errlen)
{
	struct daemon_state *st = ud;
	uint64_t id;

	if (req_id(req, &id))
		return "kill: \"id\" must be a positive integer";
	if (!conns_visit(id, NULL, NULL, "killed by relayctl")) {
		snprintf(errbuf, errlen, "no connection %llu", (unsigned long long)id);
		return errbuf;
	}
	for (size_t i = 0; i < st->n_loops; i++) {
		struct kill_task *k = calloc(1, sizeof(*k));

		if (!k)
			return "out of memory";
		loop_task_init(&k->t, kill_run);
		k->l = st->loops[i];
		k->id = id;
		loop_post(st->loops[i], &k->t);
	}
	json_object_set_new(reply, "killed", json_integer((json_int_t)id));
	return NULL;
}

static const char *cmd_reload(const json_t *req, json_t *reply, void *ud, char *errbuf,
			      size_t errlen)
{
	struct daemon_state *st = ud;
	const char *what = json_string_value(json_object_get(req, "what"));

	if (!what)
		what = "config";
	if (strcmp(what, "config") && strcmp(what, "users"))
		return "reload: \"what\" must be \"config\" or \"users\"";
	if (!st->reload)
		return "reload is not available";
	if (st->reload(st->reload_ud, what, errbuf, errlen))
		return errbuf;
	json_object_set_new(reply, "reloaded", json_string(what));
	json_object_set_new(reply, "services", services_json(st));
	return NULL;
}

static const char *cmd_stats(const json_t *req, json_t *reply, void *ud, char *errbuf,
			     size_t errlen)
{
	struct daemon_state *st = ud;
	struct conns_totals t;
	struct fp_totals f;
	json_t *svcs = json_object();

	(void)req;
	(void)errbuf;
	(void)errlen;
	conns_get_totals(&t);
	fp_get_totals(&f);
	for (size_t i = 0; svcs && i < st->n_services; i++) {
		const struct service *s = st->services[i];

		json_object_set_new(svcs, s->cfg->name, json_pack("{s:I, s:I}",
			"requests", (json_int_t)atomic_load(&s->requests),
			"errors", (json_int_t)atomic_load(&s->errors)));
	}
	json_object_set_new(reply, "connections", json_pack("{s:I, s:I, s:I}",
		"active", (json_int_t)t.active, "accepted", (json_int_t)t.accepted,
		"closed", (json_int_t)t.closed));
	json_object_set_new(reply, "bytes", json_pack("{s:I, s:I, s:I, s:I}",
		"kernel", (json_int_t)f.redirected_bytes,
		"kernel_passed", (json_int_t)f.passed_bytes,
		"user", (json_int_t)t.user_bytes,
		"splice", (json_int_t)t.splice_bytes));
	json_object_set_new(reply, "fastpath", fastpath_json(&f));
	json_object_set_new(reply, "services", svcs);
	return NULL;
}

const struct ctl_cmd *ctl_cmds(struct daemon_state *state, size_t *n)
{
	static struct ctl_cmd cmds[] = {
		{ "status", cmd_status, NULL },
		{ "services", cmd_services, NULL },
		{ "conns", cmd_conns, NULL },
		{ "conn", cmd_conn, NULL },
		{ "kill", cmd_kill, NULL },
		{ "reload", cmd_reload, NULL },
		{ "stats", cmd_stats, NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		cmds[i].ud = state;
	*n = ARRAY_SIZE(cmds);
	return cmds;
}

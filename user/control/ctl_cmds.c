/* Control commands: "status" (version, uptime, services, fast-path state,
 * bytes per path) and "conns" (every live connection).  Field names are the
 * stable JSON that `relayctl -j` prints. */
#include "control/ctl_cmds.h"

#include <unistd.h>

#include "base/util.h"
#include "config/config.h"
#include "control/conns.h"
#include "control/ctl_server.h"
#include "fastpath/fp.h"
#include "net/loop.h"
#include "proxy/service.h"

static json_t *services_json(const struct daemon_state *st)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < st->n_services; i++) {
		const struct service *s = &st->services[i];
		const struct cfg_service *c = s->cfg;

		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
			"name", c->name, "addr", c->addr, "listen", s->bound,
			"handler", c->handler, "listener", c->listener,
			"chain", c->handler_chain ? c->handler_chain->name : "",
			"requests", (json_int_t)atomic_load(&s->requests),
			"errors", (json_int_t)atomic_load(&s->errors)));
	}
	return arr;
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
	json_object_set_new(reply, "fastpath", json_pack(
		"{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"state", fp_status(), "loaded", fp_ready(),
		"pairs_active", (json_int_t)f.pairs_active,
		"pairs_total", (json_int_t)f.pairs_total,
		"throttles", (json_int_t)f.throttles,
		"resumes", (json_int_t)f.resumes,
		"insert_refused", (json_int_t)f.insert_refused,
		"redirected_skbs", (json_int_t)f.redirected_skbs,
		"dropped_bytes", (json_int_t)f.dropped_bytes,
		"passed_bytes", (json_int_t)f.passed_bytes,
		"zero_len_skbs", (json_int_t)f.zero_skbs));
	json_object_set_new(reply, "bytes", json_pack("{s:I, s:I, s:I}",
		"kernel", (json_int_t)f.redirected_bytes,
		"user", (json_int_t)t.user_bytes,
		"splice", (json_int_t)t.splice_bytes));
	json_object_set_new(reply, "connections", json_pack("{s:I, s:I, s:I}",
		"active", (json_int_t)t.active, "accepted", (json_int_t)t.accepted,
		"closed", (json_int_t)t.closed));
	return NULL;
}

struct conns_ctx {
	json_t *arr;
	uint64_t now;
};

static void conn_json(const struct conn_info *ci, void *ud)
{
	struct conns_ctx *cx = ud;
	int path = atomic_load(&ci->path);
	uint64_t up = atomic_load(&ci->up_user), down = atomic_load(&ci->down_user);
	uint64_t kup = atomic_load(&ci->up_kernel), kdown = atomic_load(&ci->down_kernel);

	if (path == CONN_PATH_KERNEL) {
		/* live counters from BPF (final ones are copied at close) */
		kup = fp_socket_bytes(atomic_load(&ci->cookie_client));
		kdown = fp_socket_bytes(atomic_load(&ci->cookie_target));
	}
	json_array_append_new(cx->arr, json_pack(
		"{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:b}",
		"id", (json_int_t)ci->id, "service", ci->service, "proto", ci->proto,
		"client", ci->client, "user", ci->user, "target", ci->target,
		"path", conns_path_name(path), "stack", ci->stack,
		"bytes_up", (json_int_t)(up + kup), "bytes_down", (json_int_t)(down + kdown),
		"kernel_up", (json_int_t)kup, "kernel_down", (json_int_t)kdown,
		"age_ms", (json_int_t)(cx->now - ci->start_mono_ms),
		"demoted_up", atomic_load(&ci->demoted_up),
		"demoted_down", atomic_load(&ci->demoted_down)));
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

const struct ctl_cmd *ctl_cmds(struct daemon_state *state, size_t *n)
{
	static struct ctl_cmd cmds[] = {
		{ "status", cmd_status, NULL },
		{ "conns", cmd_conns, NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		cmds[i].ud = state;
	*n = ARRAY_SIZE(cmds);
	return cmds;
}

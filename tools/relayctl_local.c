/* relayctl commands that need no running daemon: checking a config file with
 * the daemon's own parser, and reading the fast-path maps a daemon pinned
 * (they stay readable while its control socket does not answer). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config/config.h"
#include "control/pin_path.h"
#include "relayd/fastpath_abi.h"
#include "relayctl.h"

json_t *local_config_check(const char *file, char *err, size_t errlen)
{
	const char *srcs[1] = { file };
	struct cfg_sources src = { .C = srcs, .nC = 1 };
	json_t *doc = NULL, *reply, *svcs;
	struct cfg *c = NULL;

	if (cfg_build_doc(&src, &doc, err, errlen))
		return NULL;
	if (cfg_compile(doc, &c, err, errlen)) {
		json_decref(doc);
		return NULL;
	}
	json_decref(doc);
	svcs = json_array();
	for (size_t i = 0; svcs && i < c->n_services; i++) {
		const struct cfg_service *s = &c->services[i];

		json_array_append_new(svcs, json_pack("{s:s, s:s, s:s, s:s}", "name", s->name,
						      "addr", s->addr, "handler", s->handler,
						      "listener", s->listener));
	}
	reply = json_pack("{s:b, s:s, s:o, s:I}", "ok", 1, "file", file, "services", svcs,
			  "chains", (json_int_t)c->n_chains);
	cfg_free(c);
	if (!reply)
		snprintf(err, errlen, "out of memory");
	return reply;
}

static int open_pinned(const char *dir, const char *name, char *err, size_t errlen)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		snprintf(err, errlen, "no pinned map %s: is a relayd with the fast path loaded "
			 "running on this control socket (and not started with --no-pin-maps)?", path);
	else if (errno == EACCES || errno == EPERM)
		snprintf(err, errlen, "permission denied on %s: run as root", path);
	else
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	return -1;
}

static json_t *stats_json(int fd)
{
	static const char *const names[FP_STAT_MAX] = {
		[FP_STAT_REDIR_BYTES] = "redirected_bytes", [FP_STAT_REDIR_SKBS] = "redirected_skbs",
		[FP_STAT_DROP_BYTES] = "dropped_bytes", [FP_STAT_PASS_BYTES] = "passed_bytes",
		[FP_STAT_NO_STATE] = "no_state_skbs", [FP_STAT_ZERO_SKBS] = "zero_len_skbs",
		[FP_STAT_EVENTS_LOST] = "events_lost", [FP_STAT_DUP_BYTES] = "kernel_dup_bytes",
		[FP_STAT_GAP_BYTES] = "kernel_gap_bytes",
	};
	int ncpu = libbpf_num_possible_cpus();
	json_t *o = json_object();
	__u64 *vals;

	if (ncpu <= 0 || !o)
		return o;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	for (__u32 k = 0; vals && k < FP_STAT_MAX; k++) {
		__u64 sum = 0;

		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			sum += vals[c];
		json_object_set_new(o, names[k], json_integer((json_int_t)sum));
	}
	free(vals);
	return o;
}

static json_t *socket_json(__u64 cookie, const struct fp_conn *c, int ctls_fd)
{
	struct fp_ctl ctl = { 0 };
	__u32 slot = c->ctl_slot;

	bpf_map_lookup_elem(ctls_fd, &slot, &ctl);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I}",
			 "cookie", (json_int_t)cookie, "peer_cookie", (json_int_t)c->peer_cookie,
			 "redirected_bytes", (json_int_t)c->bytes, "redirected_skbs",
			 (json_int_t)c->skbs, "dropped_bytes", (json_int_t)c->drops,
			 "passed_bytes", (json_int_t)c->passed, "consumed_bytes",
			 (json_int_t)(ctl.word & FP_CTL_CONSUMED_MASK), "throttled",
			 (ctl.word & FP_CTL_THROTTLED) != 0, "allow", (json_int_t)ctl.allow,
			 "repaired_bytes", (json_int_t)c->dup_bytes, "lost_bytes",
			 (json_int_t)c->gap_bytes);
}

json_t *local_map_dump(const char *ctl_path, char *err, size_t errlen)
{
	int conns_fd = -1, ctls_fd = -1, stats_fd = -1;
	json_t *reply = NULL, *socks;
	char dir[256];
	__u64 key, *prev = NULL;

	pin_path_for(ctl_path, dir, sizeof(dir));
	if ((conns_fd = open_pinned(dir, "fp_conns", err, errlen)) < 0 ||
	    (ctls_fd = open_pinned(dir, "fp_ctls", err, errlen)) < 0 ||
	    (stats_fd = open_pinned(dir, "fp_stats", err, errlen)) < 0)
		goto out;
	socks = json_array();
	while (socks && !bpf_map_get_next_key(conns_fd, prev, &key)) {
		struct fp_conn c;

		prev = &key;
		/* a pair may close between the two calls */
		if (!bpf_map_lookup_elem(conns_fd, &key, &c))
			json_array_append_new(socks, socket_json(key, &c, ctls_fd));
	}
	reply = json_pack("{s:b, s:s, s:o, s:o}", "ok", 1, "pin_dir", dir, "stats",
			  stats_json(stats_fd), "sockets", socks);
	if (!reply)
		snprintf(err, errlen, "out of memory");
out:
	if (conns_fd >= 0)
		close(conns_fd);
	if (ctls_fd >= 0)
		close(ctls_fd);
	if (stats_fd >= 0)
		close(stats_fd);
	return reply;
}

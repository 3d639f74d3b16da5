/* Control socket server: accepts relayctl connections, reads one request
 * line, dispatches it through the command table, writes the reply line and
 * closes.  Replies can be large (every live connection), so they are written
 * with back-pressure. */
#include "control/ctl_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "control/oneshot_srv.h"
#include "net/loop.h"
#include "relayd/ctl_proto.h"

#define CTL_TIMEOUT_MS 10000

static struct {
	struct oneshot_srv srv;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct ctl_cmd *cmds;
	size_t n;
} g;

static const struct log_ctx lc = { .kind = "control" };

static char *dispatch(const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *reply = json_object();
	const char *cmd = NULL, *error = NULL;
	char errbuf[256] = "";
	char *out;

	if (!reply) {
		json_decref(req);
		return NULL;
	}
	if (!req || !json_is_object(req)) {
		snprintf(errbuf, sizeof(errbuf), "bad request: %s", req ? "not an object" : jerr.text);
		error = errbuf;
	} else if (!(cmd = json_string_value(json_object_get(req, "cmd")))) {
		error = "bad request: no \"cmd\"";
	} else {
		size_t i;

		for (i = 0; i < g.n; i++)
			if (!strcmp(g.cmds[i].name, cmd))
				break;
		if (i == g.n) {
			snprintf(errbuf, sizeof(errbuf), "unknown command '%s'", cmd);
			error = errbuf;
		} else {
			json_object_set_new(reply, "ok", json_true());
			error = g.cmds[i].fn(req, reply, g.cmds[i].ud, errbuf, sizeof(errbuf));
		}
	}
	if (error) {
		json_object_clear(reply);
		json_object_set_new(reply, "ok", json_false());
		json_object_set_new(reply, "error", json_string(error));
	}
	json_object_set_new(reply, "version", json_integer(CTL_PROTO_VERSION));
	out = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	json_decref(req);
	return out;
}

/* One request line in, one reply line out. */
static int handle(struct oneshot_srv *srv, char *in, size_t len, bool full, char **out,
		  size_t *out_len)
{
	char *nl = strchr(in, '\n');

	(void)srv;
	(void)len;
	if (!nl) {
		if (full)
			log_warn(&lc, "request longer than %d bytes; closing", CTL_MAX_REQUEST);
		return full ? -1 : 0;
	}
	*nl = 0;
	*out = dispatch(in);
	if (!*out)
		return -1;
	*out_len = strlen(*out);
	(*out)[(*out_len)++] = '\n';   /* replaces the NUL: length is tracked */
	return 1;
}

static void mkdir_parent(const char *path)
{
	char dir[sizeof(g.path)];
	char *slash;

	util_strcpy(dir, sizeof(dir), path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	if (mkdir(dir, 0755) && errno != EEXIST)
		log_debug(&lc, "mkdir %s: %s", dir, strerror(errno));
}

int ctl_server_start(struct loop *l, const char *path, const struct ctl_cmd *cmds, size_t n,
		     char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	util_strcpy(sa.sun_path, sizeof(sa.sun_path), path);
	mkdir_parent(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail_errno;
	/* a socket file that still answers belongs to a live daemon */
	{
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && !connect(probe, (struct sockaddr *)&sa, sizeof(sa))) {
			close(probe);
			close(fd);
			snprintf(err, errlen,
				 "control socket %s: another relayd is running there (use --ctl PATH)",
				 path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 64))
		goto fail_errno;
	g.cmds = cmds;
	g.n = n;
	util_strcpy(g.path, sizeof(g.path), path);
	g.srv = (struct oneshot_srv){ .max_request = CTL_MAX_REQUEST - 1, .timeout_ms = CTL_TIMEOUT_MS,
				      .handle = handle, .what = "control" };
	e = oneshot_srv_start(&g.srv, l, fd);
	if (e) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(-e));
		unlink(path);
		return e;
	}
	return 0;
fail_errno:
	e = -errno;
	snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return e;
}

void ctl_server_stop(void)
{
	if (!oneshot_srv_running(&g.srv))
		return;
	oneshot_srv_stop(&g.srv);
	unlink(g.path);
}

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
#include "net/loop.h"
#include "relayd/ctl_proto.h"

#define CTL_TIMEOUT_MS 10000

struct ctl_client {
	struct loop_io io;
	struct loop_timer timer;
	char in[CTL_MAX_REQUEST];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	struct ctl_client *next, **pprev;
};

static struct {
	struct loop *loop;
	struct loop_io lio;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct ctl_cmd *cmds;
	size_t n;
	struct ctl_client *clients;
} g = { .lio = { .fd = -1 } };

static const struct log_ctx lc = { .kind = "control" };

static void client_free(struct ctl_client *c)
{
	loop_io_stop(g.loop, &c->io);
	loop_timer_stop(g.loop, &c->timer);
	close(c->io.fd);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	free(c->out);
	free(c);
}

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

static void client_cb(struct loop_io *io, uint32_t events)
{
	struct ctl_client *c = CONTAINER_OF(io, struct ctl_client, io);
	char *nl;

	(void)events;
	if (!c->out) {
		ssize_t r = recv(io->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);

		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			client_free(c);
			return;
		}
		c->in_len += (size_t)r;
		c->in[c->in_len] = 0;
		nl = strchr(c->in, '\n');
		if (!nl) {
			if (c->in_len == sizeof(c->in) - 1) {
				log_warn(&lc, "request longer than %d bytes; closing", CTL_MAX_REQUEST);
				client_free(c);
			}
			return;
		}
		*nl = 0;
		c->out = dispatch(c->in);
		if (!c->out) {
			client_free(c);
			return;
		}
		c->out_len = strlen(c->out);
		c->out[c->out_len++] = '\n';    /* replaces the NUL: length is tracked */
		if (loop_io_set(g.loop, io, EPOLLOUT)) {
			client_free(c);
			return;
		}
	}
	while (c->out_off < c->out_len) {
		ssize_t w = send(io->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno != EAGAIN)
				client_free(c);
			return;
		}
		c->out_off += (size_t)w;
	}
	client_free(c);
}

static void client_timeout(struct loop_timer *t)
{
	client_free(CONTAINER_OF(t, struct ctl_client, timer));
}

static void accept_cb(struct loop_io *io, uint32_t events)
{
	(void)events;
	for (;;) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_client *c;

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		loop_io_init(&c->io, fd, client_cb);
		loop_timer_init(&c->timer, client_timeout);
		c->next = g.clients;
		if (g.clients)
			g.clients->pprev = &c->next;
		c->pprev = &g.clients;
		g.clients = c;
		loop_timer_start(g.loop, &c->timer, CTL_TIMEOUT_MS);
		if (loop_io_set(g.loop, &c->io, EPOLLIN))
			client_free(c);
	}
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
	g.loop = l;
	g.cmds = cmds;
	g.n = n;
	util_strcpy(g.path, sizeof(g.path), path);
	loop_io_init(&g.lio, fd, accept_cb);
	e = loop_io_set(l, &g.lio, EPOLLIN);
	if (e) {
		errno = -e;
		goto fail_errno;
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
	if (g.lio.fd < 0)
		return;
	while (g.clients)
		client_free(g.clients);
	loop_io_stop(g.loop, &g.lio);
	close(g.lio.fd);
	g.lio.fd = -1;
	unlink(g.path);
}

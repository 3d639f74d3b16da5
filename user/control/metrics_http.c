/* HTTP server for /metrics, /livez and /readyz (see metrics_http.h). */
#include "control/metrics_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "control/metrics.h"
#include "control/oneshot_srv.h"
#include "net/addr.h"
#include "net/loop.h"

#define HTTP_TIMEOUT_MS 10000
#define HTTP_MAX_REQUEST 8192

static struct {
	struct oneshot_srv srv;
	char *path;
	char *user, *pass;              /* NULL user: no authentication */
	const struct daemon_state *st;
	bool ready;
} g;

static const struct log_ctx lc = { .kind = "metrics" };

void metrics_http_set_ready(bool ready)
{
	g.ready = ready;
}

struct reply {
	char *out;
	size_t len;
};

/* Builds the whole response into c->out; false when out of memory. */
static bool respond(struct reply *c, int status, const char *reason, const char *ctype,
		    const char *extra, const char *body, size_t blen)
{
	FILE *f = open_memstream(&c->out, &c->len);

	if (!f)
		return false;
	fprintf(f, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		"Connection: close\r\n%s\r\n", status, reason, ctype, blen, extra ? extra : "");
	fwrite(body, 1, blen, f);
	if (ferror(f) | fclose(f)) {
		free(c->out);
		c->out = NULL;
		return false;
	}
	return true;
}

static bool respond_text(struct reply *c, int status, const char *reason, const char *body)
{
	return respond(c, status, reason, "text/plain; charset=utf-8", NULL, body, strlen(body));
}

/* "Authorization: Basic base64(user:pass)" matching the configured user;
 * an empty configured password accepts any (GOST's rule). */
static bool authorized(const char *headers)
{
	const char *h = headers;
	uint8_t dec[512];
	int n;

	if (!g.user)
		return true;
	for (; h && *h; h = strstr(h, "\r\n"), h = h ? h + 2 : NULL) {
		const char *v, *end;

		if (strncasecmp(h, "Authorization:", 14))
			continue;
		v = h + 14;
		while (*v == ' ')
			v++;
		if (strncasecmp(v, "Basic ", 6))
			return false;
		v += 6;
		end = strstr(v, "\r\n");
		n = base64_decode_std(v, end ? (size_t)(end - v) : strlen(v), dec, sizeof(dec) - 1);
		if (n < 0)
			return false;
		dec[n] = 0;
		{
			char *colon = strchr((char *)dec, ':');
			size_t ulen = strlen(g.user);

			if (!colon || (size_t)(colon - (char *)dec) != ulen ||
			    memcmp(dec, g.user, ulen))
				return false;
			return !*g.pass || !strcmp(colon + 1, g.pass);
		}
	}
	return false;
}

static bool route(struct reply *c, const char *in)
{
	char method[16], target[1024];
	const char *line_end = strstr(in, "\r\n");
	char *q;

	if (!line_end || sscanf(in, "%15s %1023s HTTP/1.%*c", method, target) != 2)
		return respond_text(c, 400, "Bad Request", "bad request\n");
	q = strchr(target, '?');
	if (q)
		*q = 0;
	if (strcmp(method, "GET"))
		return respond(c, 405, "Method Not Allowed", "text/plain; charset=utf-8",
			       "Allow: GET\r\n", "method not allowed\n", 19);
	if (!strcmp(target, "/livez"))
		return respond_text(c, 200, "OK", "ok\n");
	if (!strcmp(target, "/readyz"))
		return g.ready ? respond_text(c, 200, "OK", "ok\n")
			       : respond_text(c, 503, "Service Unavailable", "not ready\n");
	if (!strcmp(target, g.path)) {
		size_t len = 0;
		char *body;
		bool ok;

		if (!authorized(line_end + 2))
			return respond(c, 401, "Unauthorized", "text/plain; charset=utf-8",
				       "WWW-Authenticate: Basic realm=\"relayd\"\r\n",
				       "unauthorized\n", 13);
		body = metrics_render(g.st, &len);
		if (!body)
			return respond_text(c, 500, "Internal Server Error", "out of memory\n");
		ok = respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", NULL, body, len);
		free(body);
		return ok;
	}
	return respond_text(c, 404, "Not Found", "not found\n");
}

/* A request is complete at its blank line; a body is never read. */
static int handle(struct oneshot_srv *srv, char *in, size_t len, bool full, char **out,
		  size_t *out_len)
{
	struct reply r = { 0 };
	bool ok;

	(void)srv;
	(void)len;
	if (strstr(in, "\r\n\r\n"))
		ok = route(&r, in);
	else if (full)
		ok = respond_text(&r, 431, "Request Header Fields Too Large", "request too large\n");
	else
		return 0;
	if (!ok)
		return -1;
	*out = r.out;
	*out_len = r.len;
	return 1;
}

int metrics_http_start(struct loop *l, const struct cfg_metrics *m, const struct daemon_state *st,
		       char *err, size_t errlen)
{
	char lerr[256];
	int fd;

	g.path = strdup(m->path && *m->path ? m->path : "/metrics");
	if (m->auth) {
		g.user = strdup(m->auth->username ? m->auth->username : "");
		g.pass = strdup(m->auth->password ? m->auth->password : "");
	}
	if (!g.path || (m->auth && (!g.user || !g.pass))) {
		snprintf(err, errlen, "metrics: out of memory");
		metrics_http_stop();
		return -ENOMEM;
	}
	fd = net_listen(m->addr, SOCK_STREAM, 64, lerr, sizeof(lerr));
	if (fd < 0) {
		snprintf(err, errlen, "metrics: %s", lerr);
		metrics_http_stop();
		return fd;
	}
	g.st = st;
	g.srv = (struct oneshot_srv){ .max_request = HTTP_MAX_REQUEST, .timeout_ms = HTTP_TIMEOUT_MS,
				      .handle = handle, .what = "metrics" };
	fd = oneshot_srv_start(&g.srv, l, fd);
	if (fd) {
		snprintf(err, errlen, "metrics: epoll: %s", strerror(-fd));
		metrics_http_stop();
		return fd;
	}
	log_info(&lc, "metrics on http://%s%s, health on /livez and /readyz", m->addr, g.path);
	return 0;
}

void metrics_http_stop(void)
{
	oneshot_srv_stop(&g.srv);
	free(g.path);
	free(g.user);
	free(g.pass);
	g.path = g.user = g.pass = NULL;
}

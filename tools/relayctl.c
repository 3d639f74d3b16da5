/* relayctl: inspect a running relayd over its control socket.
 *
 *   relayctl [-j|-p] [--ctl PATH] status
 *   relayctl [-j|-p] [--ctl PATH] conns
 *
 * Text and JSON come from the same reply: -j prints the daemon's JSON reply
 * (one line; -p pretty), otherwise a table.  Errors name what failed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "relayd/ctl_proto.h"

#define MAX_REPLY (256u << 20)

static int g_json, g_pretty;

static void usage(FILE *f)
{
	fprintf(f, "Usage: relayctl [-j|-p] [--ctl PATH] COMMAND\n"
		   "  status     version, uptime, services, fast-path state, bytes per path\n"
		   "  conns      live connections: id, service, client, user, target, path, bytes, age;\n"
		   "             UDP sessions also with datagrams each way and idle time\n"
		   "  conn ID    one connection in detail (fast-path counters included)\n"
		   "  kill ID    close a connection (both sockets; a kernel pair leaves the maps)\n"
		   "  services   the services and their request/error counts\n"
		   "  reload [config|users]  re-read the config file (default) or only its users\n"
		   "  stats      counters: connections, bytes per path, fast path, per service\n"
		   "  -j         JSON output (the daemon's reply), -p pretty JSON\n"
		   "  --ctl PATH control socket (default %s)\n", CTL_DEFAULT_PATH);
}

static int fail(const char *fmt, const char *a, const char *b)
{
	if (g_json) {
		char msg[512];
		json_t *o;
		char *s;

		snprintf(msg, sizeof(msg), fmt, a, b);
		o = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
		s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		printf("%s\n", s ? s : "{\"ok\":false}");
		free(s);
		json_decref(o);
	} else {
		fprintf(stderr, "relayctl: ");
		fprintf(stderr, fmt, a, b);
		fprintf(stderr, "\n");
	}
	return 1;
}

/* Sends one request line and returns the parsed reply, or NULL after printing why. */
static json_t *request(const char *path, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *buf = NULL;
	size_t len = 0, cap = 0;
	json_error_t jerr;
	json_t *reply;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fail("control socket path too long: %s%s", path, "");
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			fail("no relayd at %s (%s); is it running? (--ctl PATH)", path, strerror(e));
		else if (e == EACCES || e == EPERM)
			fail("permission denied on %s (%s): run as root", path, "");
		else
			fail("cannot connect to %s: %s", path, strerror(e));
		return NULL;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		fail("cannot send to %s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		ssize_t r;

		if (len + 65536 > cap) {
			char *nb = cap < MAX_REPLY ? realloc(buf, cap + 262144) : NULL;

			if (!nb) {
				free(buf);
				close(fd);
				fail("reply from %s too large%s", path, "");
				return NULL;
			}
			buf = nb;
			cap += 262144;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (!buf || !len) {
		free(buf);
		fail("relayd at %s closed without a reply%s", path, "");
		return NULL;
	}
	buf[len] = 0;
	reply = json_loads(buf, 0, &jerr);
	free(buf);
	if (!reply) {
		fail("unreadable reply from %s: %s", path, jerr.text);
		return NULL;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *e = json_string_value(json_object_get(reply, "error"));

		if (g_json) {
			char *s = json_dumps(reply, g_pretty ? JSON_INDENT(2) : JSON_COMPACT);

			printf("%s\n", s ? s : "");
			free(s);
		} else if (e && strstr(e, "unknown command")) {
			fprintf(stderr, "relayctl: %s (daemon too old for this relayctl?)\n", e);
		} else {
			fprintf(stderr, "relayctl: %s\n", e ? e : "request failed");
		}
		json_decref(reply);
		return NULL;
	}
	return reply;
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : "-";
}

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void human_bytes(long long b, char *out, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u)
		snprintf(out, cap, "%.1f%s", v, units[u]);
	else
		snprintf(out, cap, "%lldB", b);
}

static void print_services(const json_t *svcs)
{
	size_t i;
	json_t *v;

	printf("%-12s %-22s %-8s %-8s %-10s %10s %8s\n", "SERVICE", "LISTEN", "HANDLER", "LISTENER",
	       "CHAIN", "REQUESTS", "ERRORS");
	json_array_foreach(svcs, i, v)
		printf("%-12s %-22s %-8s %-8s %-10s %10lld %8lld\n", str(v, "name"), str(v, "listen"),
		       str(v, "handler"), str(v, "listener"), str(v, "chain"), num(v, "requests"),
		       num(v, "errors"));
}

/* An object as "key: value" lines, nested objects indented. */
static void print_object(const json_t *o, int depth)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		if (json_is_object(v)) {
			printf("%*s%s:\n", depth * 2, "", k);
			print_object(v, depth + 1);
		} else {
			char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

			printf("%*s%s: %s\n", depth * 2, "", k, s ? s : "?");
			free(s);
		}
	}
}

/* The request line for argv's command, or NULL (usage error). */
static char *build_request(const char *cmd, const char *arg)
{
	json_t *req = NULL;
	char *line, *out;

	if (!strcmp(cmd, "status") || !strcmp(cmd, "conns") || !strcmp(cmd, "services") ||
	    !strcmp(cmd, "stats")) {
		if (!arg)
			req = json_pack("{s:s}", "cmd", cmd);
	} else if (!strcmp(cmd, "conn") || !strcmp(cmd, "kill")) {
		char *end;
		unsigned long long id = arg ? strtoull(arg, &end, 10) : 0;

		if (arg && *arg && !*end && id > 0 && id <= INT64_MAX)
			req = json_pack("{s:s, s:I}", "cmd", cmd, "id", (json_int_t)id);
	} else if (!strcmp(cmd, "reload")) {
		if (!arg || !strcmp(arg, "config") || !strcmp(arg, "users"))
			req = json_pack("{s:s, s:s}", "cmd", cmd, "what", arg ? arg : "config");
	}
	if (!req)
		return NULL;
	line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!line)
		return NULL;
	out = malloc(strlen(line) + 2);
	if (out)
		sprintf(out, "%s\n", line);
	free(line);
	return out;
}

static void print_status(const json_t *r)
{
	const json_t *fp = json_object_get(r, "fastpath"), *b = json_object_get(r, "bytes");
	const json_t *c = json_object_get(r, "connections"), *svcs = json_object_get(r, "services");
	char k[32], u[32], s[32];

	human_bytes(num(b, "kernel"), k, sizeof(k));
	human_bytes(num(b, "user"), u, sizeof(u));
	human_bytes(num(b, "splice"), s, sizeof(s));
	printf("relayd %s  pid %lld  up %llds  workers %lld\n", str(r, "relayd"), num(r, "pid"),
	       num(r, "uptime_s"), num(r, "workers"));
	printf("fast path: %s  pairs %lld active / %lld total  throttled %lld  refused %lld\n",
	       str(fp, "state"), num(fp, "pairs_active"), num(fp, "pairs_total"),
	       num(fp, "throttles"), num(fp, "insert_refused"));
	printf("bytes: kernel %s  user %s  splice %s\n", k, u, s);
	printf("connections: %lld active, %lld accepted, %lld closed\n", num(c, "active"),
	       num(c, "accepted"), num(c, "closed"));
	print_services(svcs);
}

/* UDP sessions again, with what only they have: datagrams and idle time */
static void print_udp_sessions(const json_t *conns)
{
	int header = 0;
	size_t i;
	json_t *v;

	json_array_foreach(conns, i, v) {
		char up[32], down[32], idle[32];

		if (!json_object_get(v, "datagrams_up"))
			continue;
		if (!header) {
			printf("\nUDP sessions:\n%-8s %-22s %-28s %10s %10s %10s %10s %8s\n", "ID",
			       "CLIENT", "TARGET", "DGRAMS-UP", "BYTES-UP", "DGRAMS-DN", "BYTES-DN",
			       "IDLE");
			header = 1;
		}
		human_bytes(num(v, "bytes_up"), up, sizeof(up));
		human_bytes(num(v, "bytes_down"), down, sizeof(down));
		snprintf(idle, sizeof(idle), "%.1fs", (double)num(v, "idle_ms") / 1000.0);
		printf("%-8lld %-22s %-28s %10lld %10s %10lld %10s %8s\n", num(v, "id"),
		       str(v, "client"), str(v, "target"), num(v, "datagrams_up"), up,
		       num(v, "datagrams_down"), down, idle);
	}
}

static void print_conns(const json_t *r)
{
	const json_t *conns = json_object_get(r, "conns");
	size_t i;
	json_t *v;

	printf("%-8s %-10s %-7s %-22s %-10s %-28s %-9s %10s %10s %8s  %s\n", "ID", "SERVICE",
	       "PROTO", "CLIENT", "USER", "TARGET", "PATH", "UP", "DOWN", "AGE", "STACK");
	json_array_foreach(conns, i, v) {
		char up[32], down[32], age[32];

		human_bytes(num(v, "bytes_up"), up, sizeof(up));
		human_bytes(num(v, "bytes_down"), down, sizeof(down));
		snprintf(age, sizeof(age), "%.1fs", (double)num(v, "age_ms") / 1000.0);
		printf("%-8lld %-10s %-7s %-22s %-10s %-28s %-9s %10s %10s %8s  %s\n", num(v, "id"),
		       str(v, "service"), str(v, "proto"), str(v, "client"), str(v, "user"),
		       str(v, "target"), str(v, "path"), up, down, age, str(v, "stack"));
	}
	print_udp_sessions(conns);
}

int main(int argc, char **argv)
{
	const char *path = CTL_DEFAULT_PATH, *cmd = NULL, *arg = NULL;
	char *req;
	json_t *reply;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			g_json = 1;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--pretty")) {
			g_json = g_pretty = 1;
		} else if (!strcmp(a, "--ctl") || !strcmp(a, "-ctl")) {
			if (++i >= argc)
				return fail("--ctl needs a path%s%s", "", "") + 1;
			path = argv[i];
		} else if (!strncmp(a, "--ctl=", 6)) {
			path = a + 6;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (a[0] == '-') {
			usage(stderr);
			return 2;
		} else if (!cmd) {
			cmd = a;
		} else if (!arg) {
			arg = a;
		} else {
			usage(stderr);
			return 2;
		}
	}
	req = cmd ? build_request(cmd, arg) : NULL;
	if (!req) {
		usage(stderr);
		return 2;
	}
	reply = request(path, req);
	free(req);
	if (!reply)
		return 1;
	if (g_json) {
		char *s = json_dumps(reply, g_pretty ? JSON_INDENT(2) : JSON_COMPACT);

		printf("%s\n", s ? s : "");
		free(s);
	} else if (!strcmp(cmd, "status")) {
		print_status(reply);
	} else if (!strcmp(cmd, "conns")) {
		print_conns(reply);
	} else if (!strcmp(cmd, "services")) {
		print_services(json_object_get(reply, "services"));
	} else if (!strcmp(cmd, "conn")) {
		print_object(json_object_get(reply, "conn"), 0);
	} else if (!strcmp(cmd, "kill")) {
		printf("connection %lld closed\n", num(reply, "killed"));
	} else if (!strcmp(cmd, "reload")) {
		printf("reloaded %s\n", str(reply, "reloaded"));
		print_services(json_object_get(reply, "services"));
	} else {
		print_object(reply, 0);
	}
	json_decref(reply);
	return 0;
}

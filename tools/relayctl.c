/* relayctl: inspect and steer a running relayd, bpftool-style:
 *
 *   relayctl [-j|-p] [--ctl PATH] OBJECT COMMAND [ARG]
 *
 * Every command yields one JSON reply (the daemon's, over its control
 * socket, or built here for config check and map dump); -j prints it (-p
 * pretty), otherwise its printer shows text.  The one-word commands of
 * earlier versions (conns, services, conn ID, kill ID, reload) stay as
 * aliases.  Exit status: 0 done, 1 failed (the error names what), 2 usage. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"
#include "relayd/ctl_proto.h"
#include "relayctl.h"

#define MAX_REPLY (256u << 20)

static int g_json, g_pretty;

enum arg_kind { ARG_NONE, ARG_ID, ARG_FILE };

struct command {
	const char *object, *verb;      /* verb NULL: the object alone */
	enum arg_kind arg;
	const char *daemon_cmd;         /* control request, or NULL: local */
	const char *what;               /* reload's "what" */
	void (*print)(const json_t *reply);
	const char *help;
};

static const struct command commands[] = {
	{ "status", NULL, ARG_NONE, "status", NULL, print_status,
	  "version, uptime, services, fast-path state, bytes per path" },
	{ "service", "list", ARG_NONE, "services", NULL, print_services,
	  "services with request and error counts" },
	{ "conn", "list", ARG_NONE, "conns", NULL, print_conns,
	  "live connections (UDP sessions with datagrams and idle time)" },
	{ "conn", "show", ARG_ID, "conn", NULL, print_conn,
	  "one connection in detail, fast-path counters included" },
	{ "conn", "kill", ARG_ID, "kill", NULL, print_killed,
	  "close a connection (a kernel pair leaves the maps)" },
	{ "user", "reload", ARG_NONE, "reload", "users", print_reloaded,
	  "re-read the users (auth files, authers) only" },
	{ "config", "reload", ARG_NONE, "reload", "config", print_reloaded,
	  "re-read the config file, like SIGHUP" },
	{ "config", "check", ARG_FILE, NULL, NULL, print_config_check,
	  "validate a config file with relayd's parser (no daemon needed)" },
	{ "map", "dump", ARG_NONE, NULL, NULL, print_map_dump,
	  "the pinned fast-path maps (works while the control socket is down)" },
	{ "stats", NULL, ARG_NONE, "stats", NULL, print_object,
	  "counters: connections, bytes per path, fast path, per service" },
};

/* Old one-word forms, rewritten to OBJECT COMMAND. */
static const struct { const char *old, *object, *verb; } aliases[] = {
	{ "conns", "conn", "list" },
	{ "services", "service", "list" },
	{ "kill", "conn", "kill" },
	{ "reload", "config", "reload" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: relayctl [-j|-p] [--ctl PATH] OBJECT COMMAND [ARG]\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		char left[40];

		snprintf(left, sizeof(left), "%s%s%s%s", c->object, c->verb ? " " : "",
			 c->verb ? c->verb : "",
			 c->arg == ARG_ID ? " ID" : c->arg == ARG_FILE ? " FILE" : "");
		fprintf(f, "  %-22s %s\n", left, c->help);
	}
	fprintf(f, "  -j, --json             JSON output (documented in the README), -p pretty\n"
		   "  --ctl PATH             control socket (default %s)\n"
		   "Aliases: conns, services, conn ID, kill ID, reload [config|users]\n",
		CTL_DEFAULT_PATH);
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

/* The control request for c, one JSON line. */
static char *daemon_request(const struct command *c, const char *arg)
{
	json_t *req = json_pack("{s:s}", "cmd", c->daemon_cmd);
	char *line, *out = NULL;

	if (req && c->arg == ARG_ID)
		json_object_set_new(req, "id", json_integer(strtoll(arg, NULL, 10)));
	if (req && c->what)
		json_object_set_new(req, "what", json_string(c->what));
	line = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (line && (out = malloc(strlen(line) + 2)))
		sprintf(out, "%s\n", line);
	free(line);
	return out;
}

static bool is_id(const char *s)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	return !errno && !*end && v > 0 && v <= INT64_MAX;
}

/* Matches words (aliases rewritten) to a command; *arg gets its argument. */
static const struct command *find_command(const char **w, int n, const char **arg)
{
	const char *obj = n > 0 ? w[0] : NULL, *verb = n > 1 ? w[1] : NULL;
	int used;

	if (!obj)
		return NULL;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcmp(obj, aliases[i].old))
			continue;
		obj = aliases[i].object;
		if (!strcmp(aliases[i].old, "reload") && verb) {
			if (!strcmp(verb, "users"))
				obj = "user";
			else if (strcmp(verb, "config"))
				return NULL;
			w++;
			n--;
		}
		/* the old form had no verb: what followed is the argument */
		verb = aliases[i].verb;
		w--;
		n++;
		break;
	}
	if (!strcmp(obj, "conn") && is_id(verb)) {      /* "conn ID" */
		verb = "show";
		w--;
		n++;
	}
	if ((!strcmp(obj, "conn") || !strcmp(obj, "service")) && !verb)
		verb = "list";
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];

		if (strcmp(c->object, obj) || (c->verb && (!verb || strcmp(c->verb, verb))) ||
		    (!c->verb && verb))
			continue;
		used = c->verb ? 2 : 1;
		*arg = n > used ? w[used] : NULL;
		if (n > used + (c->arg != ARG_NONE))
			return NULL;
		if ((c->arg == ARG_ID && !is_id(*arg)) || (c->arg == ARG_FILE && !*arg))
			return NULL;
		return c;
	}
	return NULL;
}

static void print_json(const json_t *reply)
{
	char *s = json_dumps(reply, g_pretty ? JSON_INDENT(2) : JSON_COMPACT);

	printf("%s\n", s ? s : "");
	free(s);
}

int main(int argc, char **argv)
{
	const char *path = CTL_DEFAULT_PATH, *words[4], *arg = NULL;
	const struct command *c;
	int nw = 0;
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
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help")) {
			usage(stdout);
			return 0;
		} else if (a[0] == '-' && a[1]) {
			usage(stderr);
			return 2;
		} else if (nw < 3) {
			words[1 + nw++] = a;    /* words[0] is room for an alias rewrite */
		} else {
			usage(stderr);
			return 2;
		}
	}
	c = find_command(words + 1, nw, &arg);
	if (!c) {
		fprintf(stderr, "relayctl: not a command:");
		for (int i = 1; i <= nw; i++)
			fprintf(stderr, " %s", words[i]);
		fprintf(stderr, "%s\n", nw ? "" : " (none given)");
		usage(stderr);
		return 2;
	}
	if (c->daemon_cmd) {
		char *req = daemon_request(c, arg);

		if (!req)
			return fail("out of memory%s%s", "", "");
		reply = request(path, req);
		free(req);
	} else {
		char err[CFG_ERR_MAX];

		reply = c->arg == ARG_FILE ? local_config_check(arg, err, sizeof(err))
					   : local_map_dump(path, err, sizeof(err));
		if (!reply)
			fail("%s%s", err, "");
	}
	if (!reply)
		return 1;
	if (g_json)
		print_json(reply);
	else
		c->print(reply);
	json_decref(reply);
	return 0;
}

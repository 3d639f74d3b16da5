/* relayctl's text output: one printer per reply shape (see relayctl.h). */
#include <stdio.h>
#include <stdlib.h>

#include "relayctl.h"

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

static void services_table(const json_t *svcs)
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

void print_services(const json_t *r)
{
	services_table(json_object_get(r, "services"));
}

/* An object as "key: value" lines, nested objects indented. */
static void object_lines(const json_t *o, int depth)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		if (json_is_object(v)) {
			printf("%*s%s:\n", depth * 2, "", k);
			object_lines(v, depth + 1);
		} else {
			char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

			printf("%*s%s: %s\n", depth * 2, "", k, s ? s : "?");
			free(s);
		}
	}
}

void print_object(const json_t *r)
{
	object_lines(r, 0);
}

void print_conn(const json_t *r)
{
	object_lines(json_object_get(r, "conn"), 0);
}

void print_killed(const json_t *r)
{
	printf("connection %lld closed\n", num(r, "killed"));
}

void print_reloaded(const json_t *r)
{
	printf("reloaded %s\n", str(r, "reloaded"));
	print_services(r);
}

void print_status(const json_t *r)
{
	const json_t *fp = json_object_get(r, "fastpath"), *b = json_object_get(r, "bytes");
	const json_t *c = json_object_get(r, "connections");
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
	print_services(r);
}

/* UDP sessions again, with what only they have: datagrams and idle time */
static void udp_sessions(const json_t *conns)
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

void print_conns(const json_t *r)
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
	udp_sessions(conns);
}

void print_config_check(const json_t *r)
{
	const json_t *svcs = json_object_get(r, "services");
	size_t i;
	json_t *v;

	printf("%s: valid, %zu service(s), %lld chain(s)\n", str(r, "file"), json_array_size(svcs),
	       num(r, "chains"));
	json_array_foreach(svcs, i, v)
		printf("  %-12s %-22s %s/%s\n", str(v, "name"), str(v, "addr"), str(v, "handler"),
		       str(v, "listener"));
}

void print_map_dump(const json_t *r)
{
	const json_t *socks = json_object_get(r, "sockets");
	size_t i;
	json_t *v;

	printf("maps pinned under %s\n", str(r, "pin_dir"));
	object_lines(json_object_get(r, "stats"), 1);
	printf("%-20s %-20s %12s %12s %12s %10s %5s\n", "COOKIE", "PEER", "REDIRECTED", "PASSED",
	       "CONSUMED", "REPAIRED", "THR");
	json_array_foreach(socks, i, v)
		printf("%-20lld %-20lld %12lld %12lld %12lld %10lld %5s\n", num(v, "cookie"),
		       num(v, "peer_cookie"), num(v, "redirected_bytes"), num(v, "passed_bytes"),
		       num(v, "consumed_bytes"), num(v, "repaired_bytes"),
		       json_is_true(json_object_get(v, "throttled")) ? "yes" : "no");
}

/* relayd: flags, configuration, start-up and shutdown.
 *
 * Flags follow GOST's (-L, -F, -C, -O, -D, -V, -metrics), single or double
 * dash, "-flag value" or "-flag=value"; relayd's own are --ctl, --fastpath,
 * --workers and --no-pin-maps.  A bad flag or config is one error line naming
 * it and exit status 2; a runtime start failure (port in use) is status 1. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "control/ctl_cmds.h"
#include "control/ctl_server.h"
#include "control/conns.h"
#include "control/metrics_http.h"
#include "control/pin_path.h"
#include "control/sdnotify.h"
#include "fastpath/fp.h"
#include "net/dial.h"
#include "net/loop.h"
#include "proxy/pipe.h"
#include "proxy/service.h"
#include "relayd/ctl_proto.h"
#include "relayd/fastpath_abi.h"

#define MAX_FLAGS 256
#define EXIT_USAGE 2

struct options {
	const char *L[MAX_FLAGS], *F[MAX_FLAGS], *C[MAX_FLAGS];
	size_t nL, nF, nC;
	const char *output;             /* -O */
	const char *metrics;            /* -metrics ADDR */
	char *metrics_src;              /* the inline config -metrics stands for */
	int debug;                      /* -D = 1, -DD = 2 */
	bool version;
	bool check;                     /* --check: validate the configuration and exit */
	const char *ctl_path;
	bool fastpath;
	int workers;
	bool pin_maps;
	unsigned test_pair_delay_ms;
	unsigned grace_s;
	uint64_t queue_limit;
	uint64_t sndbuf;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: relayd [flags]\n"
		"  -L URL            service, e.g. relay://user:pass@:12345, :8080, tcp://:2222/host:22\n"
		"                    (repeatable; GOST syntax)\n"
		"  -F URL            chain hop, e.g. relay://user:pass@host:12345?nodelay=true\n"
		"                    (repeatable; all hops form chain-0)\n"
		"  -C FILE           GOST JSON config file, '-' for stdin, or inline {...} (repeatable)\n"
		"  -O json           print the configuration the flags and files mean, and exit\n"
		"  -D, -DD           debug / trace logging\n"
		"  -V                print the version and exit\n"
		"  --check           validate the flags and configuration, print a summary and\n"
		"                    exit (0: valid, 2: the error); nothing is bound or loaded\n"
		"  -metrics ADDR     serve Prometheus metrics on ADDR (e.g. :9000) at /metrics,\n"
		"                    health at /livez and /readyz (config: the metrics block)\n"
		"  --ctl PATH        control socket for relayctl (default %s)\n"
		"  --fastpath=on|off kernel sockmap fast path for plain TCP pairs (default on;\n"
		"                    off, or BPF unavailable: splice(2))\n"
		"  --workers N       worker threads (default: one per CPU)\n"
		"  --grace SECONDS   on SIGTERM stop accepting and let connections finish this\n"
		"                    long before closing them (default 30; 0: close at once)\n"
		"  --fastpath-queue-limit N  demote a kernel direction to userspace once N bytes\n"
		"                    (K/M/G suffix) queue unaccounted in the kernel (default 4M)\n"
		"  --fastpath-sndbuf N  send buffer forced on paired sockets (default 16M)\n"
		"  --pin-maps, --no-pin-maps  pin the fast-path maps under %s/... for\n"
		"                    relayctl map dump (the default), or do not\n"
		"  --test-pair-delay-ms N  testing aid: stall each hand-over N ms (blocks a worker)\n"
		"  -h, --help        this help\n",
		CTL_DEFAULT_PATH, FP_PIN_DIR);
}

/* "4194304", "4096K", "4M", "1G" */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'K': case 'k': n <<= 10; end++; break;
	case 'M': case 'm': n <<= 20; end++; break;
	case 'G': case 'g': n <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -1;
	*out = n;
	return 0;
}

static int bad_flag(const char *fmt, const char *arg)
{
	fprintf(stderr, "relayd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	usage(stderr);
	return EXIT_USAGE;
}

/* Go flag syntax: -name, --name, -name=value, -name value. */
static int parse_flags(int argc, char **argv, struct options *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *val = NULL;
		char nbuf[64];
		const char *eq;

		if (a[0] != '-' || !a[1])
			return bad_flag("unexpected argument '%s'", a);
		name = a + 1 + (a[1] == '-');
		eq = strchr(name, '=');
		if (eq) {
			size_t n = (size_t)(eq - name);

			if (n >= sizeof(nbuf))
				return bad_flag("flag provided but not defined: %s", a);
			memcpy(nbuf, name, n);
			nbuf[n] = 0;
			name = nbuf;
			val = eq + 1;
		}
#define NEED_VAL()                                                               \
	do {                                                                     \
		if (!val) {                                                      \
			if (i + 1 >= argc)                                       \
				return bad_flag("flag needs an argument: -%s", name); \
			val = argv[++i];                                         \
		}                                                                \
	} while (0)
#define ADD(list, n)                                                             \
	do {                                                                     \
		NEED_VAL();                                                      \
		if (o->n == MAX_FLAGS)                                           \
			return bad_flag("too many -%s flags", name);             \
		o->list[o->n++] = val;                                           \
	} while (0)
		if (!strcmp(name, "L")) {
			ADD(L, nL);
		} else if (!strcmp(name, "F")) {
			ADD(F, nF);
		} else if (!strcmp(name, "C")) {
			ADD(C, nC);
		} else if (!strcmp(name, "O")) {
			NEED_VAL();
			if (strcmp(val, "json"))
				return bad_flag("-O %s: relayd prints json only", val);
			o->output = val;
		} else if (!strcmp(name, "D") || !strcmp(name, "DD")) {
			o->debug = name[1] ? 2 : 1;
		} else if (!strcmp(name, "metrics")) {
			NEED_VAL();
			o->metrics = val;
		} else if (!strcmp(name, "check")) {
			o->check = true;
		} else if (!strcmp(name, "V")) {
			o->version = true;
		} else if (!strcmp(name, "ctl")) {
			NEED_VAL();
			o->ctl_path = val;
		} else if (!strcmp(name, "fastpath")) {
			NEED_VAL();
			if (!strcmp(val, "on"))
				o->fastpath = true;
			else if (!strcmp(val, "off"))
				o->fastpath = false;
			else
				return bad_flag("--fastpath=%s: expected on or off", val);
		} else if (!strcmp(name, "workers")) {
			char *end;
			long n;

			NEED_VAL();
			n = strtol(val, &end, 10);
			if (*end || n < 1 || n > 256)
				return bad_flag("--workers %s: expected a number from 1 to 256", val);
			o->workers = (int)n;
		} else if (!strcmp(name, "pin-maps")) {
			o->pin_maps = true;
		} else if (!strcmp(name, "no-pin-maps")) {
			o->pin_maps = false;
		} else if (!strcmp(name, "fastpath-queue-limit") || !strcmp(name, "fastpath-sndbuf")) {
			bool q = name[9] == 'q';
			uint64_t n;

			NEED_VAL();
			if (parse_size(val, &n) || n < 65536 || n > (q ? 1ull << 34 : 1ull << 30))
				return bad_flag(q ? "--fastpath-queue-limit %s: expected 64K to 16G"
						  : "--fastpath-sndbuf %s: expected 64K to 1G", val);
			*(q ? &o->queue_limit : &o->sndbuf) = n;
		} else if (!strcmp(name, "grace")) {
			char *end;
			long n;

			NEED_VAL();
			n = strtol(val, &end, 10);
			if (*end || n < 0 || n > 86400)
				return bad_flag("--grace %s: expected seconds from 0 to 86400", val);
			o->grace_s = (unsigned)n;
		} else if (!strcmp(name, "test-pair-delay-ms")) {
			char *end;
			long n;

			NEED_VAL();
			n = strtol(val, &end, 10);
			if (*end || n < 0 || n > 10000)
				return bad_flag("--test-pair-delay-ms %s: expected 0 to 10000", val);
			o->test_pair_delay_ms = (unsigned)n;
		} else if (!strcmp(name, "h") || !strcmp(name, "help")) {
			usage(stdout);
			exit(0);
		} else {
			return bad_flag("flag provided but not defined: %s", a);
		}
#undef ADD
#undef NEED_VAL
	}
	return 0;
}

/* GOST's -metrics ADDR is the config {"metrics":{"addr":ADDR}}, given last
 * so that it replaces a metrics block from -C. */
static int add_metrics_source(struct options *o)
{
	json_t *doc;

	if (!o->metrics)
		return 0;
	if (o->nC == MAX_FLAGS)
		return bad_flag("too many -%s flags", "C");
	doc = json_pack("{s:{s:s}}", "metrics", "addr", o->metrics);
	o->metrics_src = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!o->metrics_src) {
		fprintf(stderr, "relayd: out of memory\n");
		return 1;
	}
	o->C[o->nC++] = o->metrics_src;
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The running daemon: what a reload or a drain needs to reach. */
struct daemon {
	struct options *o;
	struct cfg_sources src;
	struct loop *loop;
	struct worker *workers;
	struct service_set *services;
	struct daemon_state st;
	struct loop_io sig_io;
	struct loop_timer drain_timer;
	uint64_t drain_deadline;
	bool draining;
};

static int setup_logging(const struct cfg *c, int debug, char *err, size_t errlen)
{
	enum log_level lvl = LOG_INFO;

	if (c->log.level && log_parse_level(c->log.level, &lvl)) {
		snprintf(err, errlen, "log.level: unknown level '%s'", c->log.level);
		return -1;
	}
	if (debug)
		lvl = debug > 1 ? LOG_TRACE : LOG_DEBUG;
	if (log_configure(lvl, c->log.format, c->log.output)) {
		snprintf(err, errlen, "log: cannot use format '%s' / output '%s'",
			 c->log.format ? c->log.format : "json", c->log.output ? c->log.output : "stderr");
		return -1;
	}
	return 0;
}

static int load_config(struct daemon *d, struct cfg **out, char *err, size_t errlen)
{
	json_t *doc = NULL;
	int rc;

	if (cfg_build_doc(&d->src, &doc, err, errlen))
		return -1;
	rc = cfg_compile(doc, out, err, errlen);
	json_decref(doc);
	if (rc)
		return -1;
	if (!(*out)->n_services) {
		snprintf(err, errlen, "no services: give -L URL or -C FILE (relayd -h for help)");
		cfg_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static void publish_services(struct daemon *d)
{
	d->st.services = d->services ? d->services->v : NULL;
	d->st.n_services = d->services ? d->services->n : 0;
}

/* SIGHUP and `relayctl config reload`: a new configuration replaces the old
 * one as a whole or not at all; established connections are not touched. */
static int reload(void *ud, const char *what, char *err, size_t errlen)
{
	struct daemon *d = ud;
	struct service_set *next = NULL;
	struct cfg *cfg = NULL;

	if (d->draining) {
		snprintf(err, errlen, "relayd is shutting down");
		return -1;
	}
	if (load_config(d, &cfg, err, errlen))
		goto fail;
	if (setup_logging(cfg, d->o->debug, err, errlen)) {
		cfg_free(cfg);
		goto fail;
	}
	if (services_build(cfg, d->services, d->o->workers, &next, err, errlen))
		goto fail;
	services_swap(next, d->services, d->workers, d->o->workers);
	d->services = next;
	publish_services(d);
	d->st.reloads++;
	d->st.last_reload_error[0] = 0;
	log_info(NULL, "%s reloaded: %zu service(s)",
		 !strcmp(what, "users") ? "users" : "configuration", next->n);
	return 0;
fail:
	d->st.reload_failures++;
	util_strcpy(d->st.last_reload_error, sizeof(d->st.last_reload_error), err);
	log_error(NULL, "reload failed, the running configuration stays: %s", err);
	return -1;
}

static void drain_check(struct loop_timer *t)
{
	struct daemon *d = CONTAINER_OF(t, struct daemon, drain_timer);
	struct conns_totals tot;

	conns_get_totals(&tot);
	if (!tot.active) {
		log_info(NULL, "drained: no connection left");
		loop_stop(d->loop);
		return;
	}
	if (loop_now(d->loop) >= d->drain_deadline) {
		log_warn(NULL, "grace period over: closing %llu connection(s)",
			 (unsigned long long)tot.active);
		loop_stop(d->loop);
		return;
	}
	loop_timer_start(d->loop, t, 100);
}

/* SIGTERM: stop accepting, let connections finish within the grace period. */
static void start_drain(struct daemon *d)
{
	d->draining = true;
	metrics_http_set_ready(false);
	sdnotify_stopping();
	services_swap(NULL, d->services, d->workers, d->o->workers);
	d->services = NULL;
	publish_services(d);
	d->drain_deadline = loop_clock_ms() + (uint64_t)d->o->grace_s * 1000u;
	log_info(NULL, "SIGTERM: no new connections; draining for up to %u s", d->o->grace_s);
	loop_timer_init(&d->drain_timer, drain_check);
	loop_timer_start(d->loop, &d->drain_timer, 0);
}

static void signal_cb(struct loop_io *io, uint32_t events)
{
	struct daemon *d = CONTAINER_OF(io, struct daemon, sig_io);
	struct signalfd_siginfo si;
	char err[CFG_ERR_MAX];

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			sdnotify_reloading();
			reload(d, "config", err, sizeof(err));
			sdnotify_ready();
		} else if (si.ssi_signo == SIGTERM && !d->draining && d->o->grace_s) {
			start_drain(d);
		} else {
			log_info(NULL, "%s: shutting down now", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
			sdnotify_stopping();
			loop_stop(d->loop);
		}
	}
}

static int print_config(struct daemon *d)
{
	char err[CFG_ERR_MAX];
	json_t *doc = NULL;
	char *s;

	if (cfg_build_doc(&d->src, &doc, err, sizeof(err))) {
		fprintf(stderr, "relayd: %s\n", err);
		return EXIT_USAGE;
	}
	s = cfg_doc_dump(doc);
	json_decref(doc);
	if (!s)
		return 1;
	fputs(s, stdout);
	free(s);
	return 0;
}

static void shutdown_all(struct daemon *d)
{
	ctl_server_stop();
	metrics_http_stop();
	if (d->workers) {
		workers_stop(d->workers, d->o->workers);
		for (int i = 0; i < d->o->workers; i++) {
			/* listener swaps and kills still queued hold references */
			loop_run_posted(d->workers[i].loop);
			loop_close_objs(d->workers[i].loop);
		}
		services_retire_now(d->services, d->workers, d->o->workers);
		d->services = NULL;
		workers_free(d->workers, d->o->workers);
	}
	fp_stop();
	net_resolver_stop();
	if (d->sig_io.fd > 0)
		close(d->sig_io.fd);
	free(d->st.loops);
	loop_free(d->loop);
}

static int start(struct daemon *d, struct cfg *cfg, sigset_t *mask)
{
	struct options *o = d->o;
	char err[CFG_ERR_MAX], pin_dir[256];
	const struct ctl_cmd *cmds;
	size_t n_cmds;
	int rc, sfd;

	d->loop = loop_new();
	if (!d->loop || workers_create(&d->workers, o->workers)) {
		fprintf(stderr, "relayd: out of memory\n");
		cfg_free(cfg);
		return 1;
	}
	pin_path_for(o->ctl_path, pin_dir, sizeof(pin_dir));
	fp_init(&(struct fp_opts){ .enabled = o->fastpath, .pin = o->pin_maps, .pin_dir = pin_dir,
				   .queue_limit = o->queue_limit, .sndbuf = (int)o->sndbuf });
	pipe_set_accel(o->fastpath ? PIPE_ACCEL_KERNEL : PIPE_ACCEL_SPLICE);
	pipe_set_test_delay(o->test_pair_delay_ms);
	/* before services_build, which takes cfg over */
	if (cfg->metrics.addr &&
	    metrics_http_start(d->loop, &cfg->metrics, &d->st, err, sizeof(err))) {
		fprintf(stderr, "relayd: %s\n", err);
		cfg_free(cfg);
		return 1;
	}
	rc = services_build(cfg, NULL, o->workers, &d->services, err, sizeof(err));
	if (rc) {
		/* a service's options are configuration (exit 2); a port in use is not */
		fprintf(stderr, "relayd: %s\n", err);
		return rc == -EINVAL ? EXIT_USAGE : 1;
	}
	for (size_t i = 0; i < d->services->n; i++) {
		const struct service *s = d->services->v[i];
		struct log_ctx lc = { .kind = "service", .service = s->cfg->name };

		log_info(&lc, "listening on %s (%s handler, %s listener%s%s)", s->bound,
			 s->cfg->handler, s->cfg->listener, s->cfg->handler_chain ? ", chain " : "",
			 s->cfg->handler_chain ? s->cfg->handler_chain->name : "");
	}
	services_swap(d->services, NULL, d->workers, o->workers);
	publish_services(d);
	d->st.start_mono_ms = loop_clock_ms();
	d->st.start_wall_ms = util_wall_ms();
	d->st.workers = o->workers;
	d->st.reload = reload;
	d->st.reload_ud = d;
	d->st.loops = calloc((size_t)o->workers + 1, sizeof(*d->st.loops));
	if (!d->st.loops)
		return 1;
	for (int i = 0; i < o->workers; i++)
		d->st.loops[d->st.n_loops++] = d->workers[i].loop;
	if (fp_loop())
		d->st.loops[d->st.n_loops++] = fp_loop();
	cmds = ctl_cmds(&d->st, &n_cmds);
	if (ctl_server_start(d->loop, o->ctl_path, cmds, n_cmds, err, sizeof(err))) {
		fprintf(stderr, "relayd: %s\n", err);
		return 1;
	}
	sfd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
	loop_io_init(&d->sig_io, sfd, signal_cb);
	if (sfd < 0 || loop_io_set(d->loop, &d->sig_io, EPOLLIN)) {
		fprintf(stderr, "relayd: signalfd: %s\n", strerror(errno));
		return 1;
	}
	if (workers_start(d->workers, o->workers)) {
		fprintf(stderr, "relayd: cannot start worker threads\n");
		return 1;
	}
	log_info(NULL, "relayd %s started: %zu service(s), %d worker(s), fast path %s, control %s",
		 RELAYD_VERSION, d->services->n, o->workers, fp_status(), o->ctl_path);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .fastpath = true, .ctl_path = CTL_DEFAULT_PATH, .pin_maps = true,
			     .grace_s = 30 };
	struct daemon d = { .o = &o };
	char err[CFG_ERR_MAX];
	struct cfg *cfg = NULL;
	sigset_t mask;
	int rc;

	rc = parse_flags(argc, argv, &o);
	if (rc)
		return rc;
	if (o.version) {
		printf("relayd %s\n", RELAYD_VERSION);
		return 0;
	}
	rc = add_metrics_source(&o);
	if (rc)
		return rc;
	d.src = (struct cfg_sources){ o.C, o.nC, o.L, o.nL, o.F, o.nF };
	if (o.output) {
		rc = print_config(&d);
		free(o.metrics_src);
		return rc;
	}
	if (load_config(&d, &cfg, err, sizeof(err)) || setup_logging(cfg, o.debug, err, sizeof(err))) {
		fprintf(stderr, "relayd: %s\n", err);
		cfg_free(cfg);
		free(o.metrics_src);
		return EXIT_USAGE;
	}
	if (o.check) {
		printf("relayd: configuration valid: %zu service(s), %zu chain(s)%s%s\n",
		       cfg->n_services, cfg->n_chains, cfg->metrics.addr ? ", metrics on " : "",
		       cfg->metrics.addr ? cfg->metrics.addr : "");
		cfg_free(cfg);
		free(o.metrics_src);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);       /* splice(2) to a closed socket raises it */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	/* blocked before any thread starts, so only the signalfd sees them */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	raise_nofile();
	if (!o.workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		o.workers = n < 1 ? 1 : n > 64 ? 64 : (int)n;
	}
	rc = start(&d, cfg, &mask);
	if (!rc) {
		/* listeners bound, the fast path loaded or its fallback decided */
		metrics_http_set_ready(true);
		sdnotify_ready();
		loop_run(d.loop);
	}
	shutdown_all(&d);
	free(o.metrics_src);
	return rc;
}

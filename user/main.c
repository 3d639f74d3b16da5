/* relayd: flags, configuration, start-up and shutdown.
 *
 * Flags follow GOST's (-L, -F, -C, -O, -D, -V, -metrics), single or double
 * dash, "-flag value" or "-flag=value"; relayd's own are --ctl, --fastpath,
 * --workers and --pin-maps.  A bad flag or config is one error line naming
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
	int debug;                      /* -D = 1, -DD = 2 */
	bool version;
	const char *ctl_path;
	bool fastpath;
	int workers;
	bool pin_maps;
	unsigned test_pair_delay_ms;
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
		"  --ctl PATH        control socket for relayctl (default %s)\n"
		"  --fastpath=on|off kernel sockmap fast path for plain TCP pairs (default on;\n"
		"                    off, or BPF unavailable: splice(2))\n"
		"  --workers N       worker threads (default: one per CPU)\n"
		"  --fastpath-queue-limit N  demote a kernel direction to userspace once N bytes\n"
		"                    (K/M/G suffix) queue unaccounted in the kernel (default 4M)\n"
		"  --fastpath-sndbuf N  send buffer forced on paired sockets (default 16M)\n"
		"  --pin-maps        pin the fast-path maps under %s for relayctl map dump\n"
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
		} else if (!strcmp(name, "fastpath-queue-limit") || !strcmp(name, "fastpath-sndbuf")) {
			bool q = name[9] == 'q';
			uint64_t n;

			NEED_VAL();
			if (parse_size(val, &n) || n < 65536 || n > (q ? 1ull << 34 : 1ull << 30))
				return bad_flag(q ? "--fastpath-queue-limit %s: expected 64K to 16G"
						  : "--fastpath-sndbuf %s: expected 64K to 1G", val);
			*(q ? &o->queue_limit : &o->sndbuf) = n;
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

static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

struct signals {
	struct loop_io io;
	struct loop *loop;
	int stopping;
};

static void signal_cb(struct loop_io *io, uint32_t events)
{
	struct signals *s = CONTAINER_OF(io, struct signals, io);
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_warn(NULL, "SIGHUP: configuration reload is not available in this build; "
				 "restart relayd to apply changes");
			continue;
		}
		log_info(NULL, "%s: shutting down", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
		s->stopping = 1;
		loop_stop(s->loop);
	}
}

static int setup_logging(const struct cfg *c, int debug)
{
	enum log_level lvl = LOG_INFO;

	if (c->log.level && log_parse_level(c->log.level, &lvl)) {
		fprintf(stderr, "relayd: log.level: unknown level '%s'\n", c->log.level);
		return -1;
	}
	if (debug)
		lvl = debug > 1 ? LOG_TRACE : LOG_DEBUG;
	if (log_configure(lvl, c->log.format, c->log.output)) {
		fprintf(stderr, "relayd: log: cannot use format '%s' / output '%s'\n",
			c->log.format ? c->log.format : "json", c->log.output ? c->log.output : "stderr");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .fastpath = true, .ctl_path = CTL_DEFAULT_PATH };
	struct cfg_sources src;
	char err[CFG_ERR_MAX];
	json_t *doc = NULL;
	struct cfg *cfg = NULL;
	struct worker *workers = NULL;
	struct service *services = NULL;
	size_t n_services = 0;
	struct daemon_state st = { 0 };
	struct signals sig = { 0 };
	struct loop *main_loop = NULL;
	const struct ctl_cmd *cmds;
	size_t n_cmds;
	sigset_t mask;
	int rc = 1, sfd;

	rc = parse_flags(argc, argv, &o);
	if (rc)
		return rc;
	rc = 1;
	if (o.version) {
		printf("relayd %s\n", RELAYD_VERSION);
		return 0;
	}
	src = (struct cfg_sources){ o.C, o.nC, o.L, o.nL, o.F, o.nF };
	if (cfg_build_doc(&src, &doc, err, sizeof(err))) {
		fprintf(stderr, "relayd: %s\n", err);
		return EXIT_USAGE;
	}
	if (o.output) {
		char *s = cfg_doc_dump(doc);

		json_decref(doc);
		if (!s)
			return 1;
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
		return 0;
	}
	if (cfg_compile(doc, &cfg, err, sizeof(err))) {
		fprintf(stderr, "relayd: %s\n", err);
		json_decref(doc);
		return EXIT_USAGE;
	}
	json_decref(doc);
	if (!cfg->n_services) {
		fprintf(stderr, "relayd: no services: give -L URL or -C FILE (relayd -h for help)\n");
		cfg_free(cfg);
		return EXIT_USAGE;
	}
	if (setup_logging(cfg, o.debug)) {
		cfg_free(cfg);
		return EXIT_USAGE;
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
	main_loop = loop_new();
	if (!main_loop || workers_create(&workers, o.workers)) {
		fprintf(stderr, "relayd: out of memory\n");
		goto out;
	}
	fp_init(&(struct fp_opts){ .enabled = o.fastpath, .pin = o.pin_maps,
				   .queue_limit = o.queue_limit,
				   .sndbuf = (int)o.sndbuf });
	pipe_set_accel(o.fastpath ? PIPE_ACCEL_KERNEL : PIPE_ACCEL_SPLICE);
	pipe_set_test_delay(o.test_pair_delay_ms);
	rc = services_start(cfg, workers, o.workers, &services, &n_services, err, sizeof(err));
	if (rc) {
		/* a service's options are configuration (exit 2); a port in use is not */
		fprintf(stderr, "relayd: %s\n", err);
		rc = rc == -EINVAL ? EXIT_USAGE : 1;
		goto out;
	}
	rc = 1;
	st.start_mono_ms = loop_clock_ms();
	st.start_wall_ms = util_wall_ms();
	st.services = services;
	st.n_services = n_services;
	st.workers = o.workers;
	st.fastpath_mode = o.fastpath ? "on" : "off";
	cmds = ctl_cmds(&st, &n_cmds);
	if (ctl_server_start(main_loop, o.ctl_path, cmds, n_cmds, err, sizeof(err))) {
		fprintf(stderr, "relayd: %s\n", err);
		goto out;
	}
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	sig.loop = main_loop;
	loop_io_init(&sig.io, sfd, signal_cb);
	if (sfd < 0 || loop_io_set(main_loop, &sig.io, EPOLLIN)) {
		log_error(NULL, "signalfd: %s", strerror(errno));
		goto out;
	}
	if (workers_start(workers, o.workers)) {
		log_error(NULL, "cannot start worker threads");
		goto out;
	}
	log_info(NULL, "relayd %s started: %zu service(s), %d worker(s), fast path %s, control %s",
		 RELAYD_VERSION, n_services, o.workers, fp_status(), o.ctl_path);
	loop_run(main_loop);
	rc = 0;
out:
	ctl_server_stop();
	if (workers) {
		workers_stop(workers, o.workers);
		for (int i = 0; i < o.workers; i++)
			loop_close_objs(workers[i].loop);
	}
	if (services)
		services_stop(services, n_services);
	if (workers)
		workers_free(workers, o.workers);
	fp_stop();
	net_resolver_stop();
	if (sig.io.fd > 0)
		close(sig.io.fd);
	loop_free(main_loop);
	cfg_free(cfg);
	return rc;
}

/* Loading the fast path: open the skeleton, load it, attach the verdict to
 * the rx sockhash, optionally pin the maps, start the fast-path thread.  Any
 * failure leaves the fast path off with one log line saying why; the daemon
 * keeps running on splice(2). */
#include <errno.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "base/log.h"
#include "base/util.h"
#include "fastpath/fp_internal.h"
#include "relayd.skel.h"
#include "relayd/fastpath_abi.h"

struct fp_state fp_g = { .tx_fd = -1, .rx_fd = -1, .conns_fd = -1, .ctls_fd = -1,
			 .stats_fd = -1, .events_fd = -1, .slot_lock = PTHREAD_MUTEX_INITIALIZER };

#define CTL_MAP_BYTES ((size_t)FP_MAX_SOCKS * sizeof(struct fp_ctl))

int fp_slot_alloc(uint32_t *slot)
{
	int err = -ENOSPC;

	pthread_mutex_lock(&fp_g.slot_lock);
	if (fp_g.n_free) {
		*slot = fp_g.free_slots[--fp_g.n_free];
		err = 0;
	}
	pthread_mutex_unlock(&fp_g.slot_lock);
	return err;
}

void fp_slot_free(uint32_t slot)
{
	pthread_mutex_lock(&fp_g.slot_lock);
	fp_g.free_slots[fp_g.n_free++] = slot;
	pthread_mutex_unlock(&fp_g.slot_lock);
}

static int map_ctl_words(void)
{
	void *m = mmap(NULL, CTL_MAP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fp_g.ctls_fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	fp_g.free_slots = malloc(FP_MAX_SOCKS * sizeof(*fp_g.free_slots));
	if (!fp_g.free_slots) {
		munmap(m, CTL_MAP_BYTES);
		return -ENOMEM;
	}
	fp_g.ctls = m;
	for (uint32_t i = 0; i < FP_MAX_SOCKS; i++)
		fp_g.free_slots[i] = FP_MAX_SOCKS - 1 - i;
	fp_g.n_free = FP_MAX_SOCKS;
	return 0;
}

static void unmap_ctl_words(void)
{
	if (fp_g.ctls)
		munmap((void *)fp_g.ctls, CTL_MAP_BYTES);
	fp_g.ctls = NULL;
	free(fp_g.free_slots);
	fp_g.free_slots = NULL;
	fp_g.n_free = 0;
}
static struct relayd_bpf *g_skel;
static const struct log_ctx lc = { .kind = "fastpath" };

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	/* libbpf's warnings (e.g. about RLIMIT_MEMLOCK) are harmless here: debug only */
	if (level == LIBBPF_DEBUG || !log_enabled(LOG_DEBUG))
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	log_debug(&lc, "libbpf: %s", buf);
	return 0;
}

static void set_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fp_g.status, sizeof(fp_g.status), fmt, ap);
	va_end(ap);
}

static const char *hint(int err)
{
	if (err == EPERM || err == EACCES)
		return " (needs root, or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)";
	if (err == ENOSYS || err == EINVAL || err == EOPNOTSUPP)
		return " (kernel without BPF sockmap support)";
	return "";
}

static const char *const pinned[] = { "fp_conns", "fp_ctls", "fp_stats" };
static char g_pin_dir[256];

static struct bpf_map *pinned_map(size_t i)
{
	struct bpf_map *m[] = { g_skel->maps.fp_conns, g_skel->maps.fp_ctls, g_skel->maps.fp_stats };

	return m[i];
}

/* FP_PIN_DIR lives on the BPF filesystem; mount it where the system has not
 * (a bare VM or container), as bpftool and other BPF daemons do. */
static int ensure_bpffs(void)
{
	struct statfs st;

	if (!statfs(BPFFS_ROOT, &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700"))
		return -errno;
	log_info(&lc, "mounted the BPF filesystem on %s to pin the fast-path maps", BPFFS_ROOT);
	return 0;
}

static int pin_maps(const char *dir)
{
	char path[512];
	int err = ensure_bpffs();

	if (err)
		return err;
	/* the parent (FP_PIN_DIR) is shared by every daemon */
	if ((mkdir(FP_PIN_DIR, 0700) && errno != EEXIST) || (mkdir(dir, 0700) && errno != EEXIST))
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(pinned); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pinned[i]);
		unlink(path);   /* a previous daemon's pin */
		err = bpf_map__pin(pinned_map(i), path);
		if (err)
			return err;
	}
	util_strcpy(g_pin_dir, sizeof(g_pin_dir), dir);
	return 0;
}

static void unpin_maps(void)
{
	char path[512];

	if (!g_pin_dir[0])
		return;
	for (size_t i = 0; i < ARRAY_SIZE(pinned); i++) {
		snprintf(path, sizeof(path), "%s/%s", g_pin_dir, pinned[i]);
		unlink(path);
	}
	rmdir(g_pin_dir);
	g_pin_dir[0] = 0;
}

void fp_init(const struct fp_opts *o)
{
	int err;

	fp_g.opts = *o;
	if (!fp_g.opts.queue_limit)
		fp_g.opts.queue_limit = FP_DEFAULT_QUEUE_LIMIT;
	if (!fp_g.opts.check_step)
		fp_g.opts.check_step = FP_DEFAULT_CHECK_STEP;
	if (!fp_g.opts.sndbuf)
		fp_g.opts.sndbuf = FP_DEFAULT_SNDBUF;
	if (!o->enabled) {
		set_status("off (--fastpath=off)");
		log_info(&lc, "fast path off (--fastpath=off): TCP pairs use splice(2)");
		return;
	}
	libbpf_set_print(libbpf_log);
	g_skel = relayd_bpf__open();
	if (!g_skel) {
		err = errno;
		set_status("unavailable: cannot open BPF object: %s", strerror(err));
		goto fail;
	}
	g_skel->rodata->check_step = fp_g.opts.check_step;
	err = relayd_bpf__load(g_skel);
	if (err) {
		set_status("unavailable: cannot load BPF programs: %s%s", strerror(-err), hint(-err));
		goto fail;
	}
	fp_g.tx_fd = bpf_map__fd(g_skel->maps.fp_tx);
	fp_g.rx_fd = bpf_map__fd(g_skel->maps.fp_rx);
	fp_g.conns_fd = bpf_map__fd(g_skel->maps.fp_conns);
	fp_g.ctls_fd = bpf_map__fd(g_skel->maps.fp_ctls);
	fp_g.stats_fd = bpf_map__fd(g_skel->maps.fp_stats);
	fp_g.events_fd = bpf_map__fd(g_skel->maps.fp_events);
	err = map_ctl_words();
	if (err) {
		set_status("unavailable: cannot map the control words: %s", strerror(-err));
		goto fail;
	}
	/* libbpf 1.1 has no SEC("sk_skb/verdict") attach helper for sockmaps */
	if (bpf_prog_attach(bpf_program__fd(g_skel->progs.relayd_verdict), fp_g.rx_fd,
			    BPF_SK_SKB_STREAM_VERDICT, 0)) {
		err = errno;
		set_status("unavailable: cannot attach the sk_skb verdict: %s%s", strerror(err),
			   hint(err));
		goto fail;
	}
	if (o->pin && o->pin_dir) {
		err = pin_maps(o->pin_dir);
		if (err)
			log_warn(&lc, "cannot pin fast-path maps under %s: %s (relayctl map dump "
				 "needs them; the fast path still works)", o->pin_dir,
				 strerror(err < 0 ? -err : err));
	}
	err = fp_thread_start();
	if (err) {
		set_status("unavailable: cannot start the fast-path thread: %s", strerror(-err));
		goto fail;
	}
	fp_g.ready = true;
	set_status("loaded");
	log_info(&lc, "fast path loaded: sockhash pairs, sk_skb verdict redirect; a direction with "
		 "more than %llu bytes queued in the kernel is throttled to userspace",
		 (unsigned long long)fp_g.opts.queue_limit);
	return;
fail:
	log_warn(&lc, "fast path %s; TCP pairs use splice(2) instead", fp_g.status);
	unmap_ctl_words();
	if (g_skel)
		relayd_bpf__destroy(g_skel);
	g_skel = NULL;
	fp_g.tx_fd = fp_g.rx_fd = fp_g.conns_fd = fp_g.ctls_fd = fp_g.stats_fd = -1;
	fp_g.events_fd = -1;
}

void fp_stop(void)
{
	if (!fp_g.ready)
		return;
	fp_thread_stop();
	unpin_maps();
	unmap_ctl_words();
	fp_g.ready = false;
	relayd_bpf__destroy(g_skel);
	g_skel = NULL;
}

struct loop *fp_loop(void)
{
	return fp_g.ready ? fp_g.loop : NULL;
}

bool fp_ready(void)
{
	return fp_g.ready;
}

const char *fp_status(void)
{
	return fp_g.status;
}

uint64_t fp_socket_bytes(uint64_t cookie)
{
	struct fp_conn c;

	if (!fp_g.ready || !cookie || bpf_map_lookup_elem(fp_g.conns_fd, &cookie, &c))
		return 0;
	return c.bytes;
}

void fp_get_totals(struct fp_totals *t)
{
	int ncpu = libbpf_num_possible_cpus();

	memset(t, 0, sizeof(*t));
	t->pairs_active = atomic_load(&fp_g.pairs_active);
	t->pairs_total = atomic_load(&fp_g.pairs_total);
	t->throttles = atomic_load(&fp_g.throttles);
	t->resumes = atomic_load(&fp_g.resumes);
	t->insert_refused = atomic_load(&fp_g.insert_refused);
	if (!fp_g.ready || ncpu <= 0)
		return;
	{
		uint64_t vals[ncpu], sum[FP_STAT_MAX] = { 0 };

		for (__u32 k = 0; k < FP_STAT_MAX; k++) {
			if (bpf_map_lookup_elem(fp_g.stats_fd, &k, vals))
				continue;
			for (int c = 0; c < ncpu; c++)
				sum[k] += vals[c];
		}
		t->redirected_bytes = sum[FP_STAT_REDIR_BYTES];
		t->redirected_skbs = sum[FP_STAT_REDIR_SKBS];
		t->dropped_bytes = sum[FP_STAT_DROP_BYTES];
		t->passed_bytes = sum[FP_STAT_PASS_BYTES];
		t->zero_skbs = sum[FP_STAT_ZERO_SKBS];
		t->no_state = sum[FP_STAT_NO_STATE];
		t->events_lost = sum[FP_STAT_EVENTS_LOST];
		t->dup_bytes = sum[FP_STAT_DUP_BYTES];
		t->gap_bytes = sum[FP_STAT_GAP_BYTES];
	}
}

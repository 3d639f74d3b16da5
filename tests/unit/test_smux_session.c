/* The smux session (user/net/smux_session.c) on a real event loop, against a
 * raw socket standing in for the peer: every frame relayd writes is compared
 * byte for byte with the frames xtaci/smux v1.5.31 wrote in the same
 * situation (smux-vectors.json), including the cases where smux writes
 * nothing (an empty write, a v1 read), the v2 window update after the first
 * read, the keepalive NOP, and a protocol error ending the session.
 * Each step runs in a timer callback a few ms after the previous one, so
 * whatever the previous step queued has been written or read by then. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "net/loop.h"
#include "net/smux_codec.h"
#include "net/smux_session.h"
#include "net/stream.h"
#include "unit.h"
#include "vec.h"

#define STEP_MS 5

static json_t *g_vec;

struct env {
	struct loop *loop;
	int peer;
	struct smux_session *ss;
	struct stream *st;              /* the stream under test */
	bool closed;
	char why[160];
	struct loop_timer step;
	void (**steps)(struct env *);
	size_t next;
};

static const char *vhex(const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach(g_vec, i, e)
		if (!strcmp(vec_str(e, "name"), name))
			return vec_str(e, "hex");
	fprintf(stderr, "no vector %s\n", name);
	abort();
}

/* What the session wrote to the peer since the last call. */
static size_t peer_read(struct env *e, uint8_t *buf, size_t cap)
{
	size_t got = 0;

	for (;;) {
		ssize_t r = read(e->peer, buf + got, cap - got);

		if (r <= 0)
			return got;
		got += (size_t)r;
	}
}

static void peer_write_hex(struct env *e, const char *hex)
{
	size_t n;
	uint8_t *b = vec_unhex(hex, &n);

	CHECK_INT(write(e->peer, b, n), n);
	free(b);
}

static void expect_written(struct env *e, const char *name)
{
	uint8_t buf[256];
	size_t n = peer_read(e, buf, sizeof(buf)), wn;
	uint8_t *want = vec_unhex(vhex(name), &wn);
	bool same = n == wn && (!n || !memcmp(buf, want, n));

	CHECK(same);
	if (!same)
		fprintf(stderr, "  wrote %zu bytes, vector %s has %zu\n", n, name, wn);
	free(want);
}

static void on_accept(void *ud, struct stream *st)
{
	struct env *e = ud;

	CHECK(e->st == NULL);
	e->st = st;
}

static void on_closed(void *ud, const char *why)
{
	struct env *e = ud;

	e->closed = true;
	snprintf(e->why, sizeof(e->why), "%s", why);
}

static void step_cb(struct loop_timer *t)
{
	struct env *e = CONTAINER_OF(t, struct env, step);
	void (*fn)(struct env *) = e->steps[e->next++];

	if (!fn) {
		loop_stop(e->loop);
		return;
	}
	fn(e);
	loop_timer_start(e->loop, &e->step, STEP_MS);
}

static void run(struct env *e, bool client, const struct smux_config *c,
		void (**steps)(struct env *))
{
	static const struct smux_callbacks cbs = { .accept = on_accept, .closed = on_closed };
	int sv[2];
	struct stream *lower;

	memset(e, 0, sizeof(*e));
	e->loop = loop_new();
	if (!e->loop || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		abort();
	e->peer = sv[1];
	lower = tcp_stream_new(e->loop, sv[0]);
	e->ss = smux_session_new(lower, client, c, &cbs, e, NULL, 0, "test");
	CHECK(e->ss != NULL);
	e->steps = steps;
	loop_timer_init(&e->step, step_cb);
	loop_timer_start(e->loop, &e->step, STEP_MS);
	CHECK_INT(loop_run(e->loop), 0);
	if (e->st)
		stream_close(e->st, false);
	smux_session_free(e->ss);
	loop_close_objs(e->loop);       /* runs the deferred teardown */
	close(e->peer);
	loop_free(e->loop);
}

static struct smux_config cfg(uint8_t version)
{
	struct smux_config c;

	smux_config_default(&c);
	c.version = version;
	c.keepalive_disabled = true;    /* as the vectors were captured */
	return c;
}

/* ---- client session: SYN, PSH, empty write, split, FIN ---- */

static uint8_t g_big[40000];

static void c_open(struct env *e)
{
	e->st = smux_open(e->ss);
	CHECK(e->st != NULL);
}

static void c_v1_syn(struct env *e) { expect_written(e, "smux_v1_client_SYN_first_stream_0"); }
static void c_v2_syn(struct env *e) { expect_written(e, "smux_v2_client_SYN_first_stream_0"); }

static void c_hello(struct env *e)
{
	CHECK_INT(stream_write(e->st, "hello", 5), 5);
	CHECK_INT(stream_write(e->st, "", 0), 0);       /* no frame */
}

static void c_v1_hello(struct env *e) { expect_written(e, "smux_v1_client_PSH_hello_0"); }
static void c_v2_hello(struct env *e) { expect_written(e, "smux_v2_client_PSH_hello_0"); }

static void c_big(struct env *e)
{
	CHECK_INT(stream_write(e->st, g_big, sizeof(g_big)), sizeof(g_big));
}

static void expect_split(struct env *e, const char *f0, const char *f1)
{
	static uint8_t buf[sizeof(g_big) + 64];
	size_t n = 0, h0, h1;
	uint8_t *a = vec_unhex(vhex(f0), &h0), *b = vec_unhex(vhex(f1), &h1);

	for (int i = 0; i < 200 && n < sizeof(g_big) + 16; i++) {
		n += peer_read(e, buf + n, sizeof(buf) - n);
		if (n < sizeof(g_big) + 16)
			usleep(1000);
	}
	CHECK_INT(n, sizeof(g_big) + 16);
	CHECK_MEM(buf, 8, a, h0);
	CHECK(!memcmp(buf + 8, g_big, 32768));
	CHECK_MEM(buf + 8 + 32768, 8, b, h1);
	CHECK(!memcmp(buf + 16 + 32768, g_big + 32768, sizeof(g_big) - 32768));
	free(a);
	free(b);
}

static void c_v1_split(struct env *e)
{
	expect_split(e, "smux_v1_split_40000_bytes_frame_0", "smux_v1_split_40000_bytes_frame_1");
}

static void c_v2_split(struct env *e)
{
	expect_split(e, "smux_v2_split_40000_bytes_frame_0", "smux_v2_split_40000_bytes_frame_1");
}

static void c_close(struct env *e)
{
	stream_close(e->st, false);
	e->st = NULL;
}

static void c_v1_fin(struct env *e) { expect_written(e, "smux_v1_client_FIN_0"); }
static void c_v2_fin(struct env *e) { expect_written(e, "smux_v2_client_FIN_0"); }

static void test_client_frames_match_smux_byte_for_byte(void)
{
	static void (*v1[])(struct env *) = { c_open, c_v1_syn, c_hello, c_v1_hello, c_big,
					      c_v1_split, c_close, c_v1_fin, NULL };
	static void (*v2[])(struct env *) = { c_open, c_v2_syn, c_hello, c_v2_hello, c_big,
					      c_v2_split, c_close, c_v2_fin, NULL };
	struct smux_config c1 = cfg(1), c2 = cfg(2);
	struct env e;

	for (size_t i = 0; i < sizeof(g_big); i++)
		g_big[i] = (uint8_t)(i * 7);
	run(&e, true, &c1, v1);
	CHECK(!e.closed);
	run(&e, true, &c2, v2);
	CHECK(!e.closed);
}

/* ---- server session: accept, read (v2: UPD; v1: nothing), reply ---- */


static void s_peer_opens_v2(struct env *e)
{
	peer_write_hex(e, vhex("smux_v2_client_SYN_first_stream_0"));
	peer_write_hex(e, vhex("smux_v2_client_PSH_hello_0"));
}

static void s_peer_opens_v1(struct env *e)
{
	peer_write_hex(e, vhex("smux_decode_syn_ok"));
	peer_write_hex(e, vhex("smux_v1_client_PSH_hello_0"));
}

static void s_read(struct env *e)
{
	char buf[16];

	CHECK(e->st != NULL);
	if (!e->st)
		return;
	CHECK_INT(smux_stream_id(e->st), 3);
	CHECK_INT(stream_read(e->st, buf, sizeof(buf)), 5);
	CHECK(!memcmp(buf, "hello", 5));
	CHECK_INT(stream_read(e->st, buf, sizeof(buf)), -EAGAIN);
}

static void s_v2_upd(struct env *e) { expect_written(e, "smux_v2_server_after_first_read_0"); }
static void s_v1_no_upd(struct env *e) { expect_written(e, "smux_v1_no_window_update"); }

static void s_reply(struct env *e)
{
	if (e->st)
		CHECK_INT(stream_write(e->st, "world", 5), 5);
}

static void s_v1_reply(struct env *e) { expect_written(e, "smux_v1_server_PSH_reply_0"); }
static void s_v2_reply(struct env *e) { expect_written(e, "smux_v2_server_PSH_reply_0"); }

static void s_peer_fin(struct env *e)
{
	peer_write_hex(e, vhex("smux_v1_client_FIN_0"));
}

static void s_reads_eof(struct env *e)
{
	char buf[4];

	if (!e->st)
		return;
	CHECK_INT(stream_read(e->st, buf, sizeof(buf)), 0);
	/* the peer's FIN ends its direction only: ours stays open (a half-close) */
	CHECK_INT(stream_write(e->st, "x", 1), 1);
	CHECK_INT(stream_shutdown(e->st), 0);
	CHECK_INT(stream_write(e->st, "x", 1), -EPIPE);
}

static void s_half_close_frames(struct env *e)
{
	uint8_t buf[64], want[SMUX_HDR_LEN * 2 + 1];
	size_t n = peer_read(e, buf, sizeof(buf));

	smux_hdr_encode(want, 1, SMUX_PSH, 1, 3);
	want[SMUX_HDR_LEN] = 'x';
	smux_hdr_encode(want + SMUX_HDR_LEN + 1, 1, SMUX_FIN, 0, 3);
	CHECK_MEM(buf, n, want, sizeof(want));
}

static void s_open_even(struct env *e)
{
	struct stream *st = smux_open(e->ss);

	CHECK(st != NULL);
	if (st) {
		CHECK_INT(smux_stream_id(st), 2);
		CHECK_INT(stream_write(st, "", 0), 0);
		stream_close(st, false);
	}
}

/* the server's first stream is sid 2, and the empty write between its SYN
 * and its FIN produced no frame (smux_v1_empty_write_no_frame) */
static void s_v1_server_syn_then_fin(struct env *e)
{
	uint8_t buf[64], fin[SMUX_HDR_LEN], *want;
	size_t n = peer_read(e, buf, sizeof(buf)), wn;

	want = vec_unhex(vhex("smux_v1_server_SYN_first_stream_0"), &wn);
	smux_hdr_encode(fin, 1, SMUX_FIN, 0, 2);
	CHECK_INT(n, 16);
	CHECK_MEM(buf, 8, want, wn);
	CHECK(!memcmp(buf + 8, fin, sizeof(fin)));
	CHECK(vhex("smux_v1_empty_write_no_frame")[0] == 0);
	free(want);
}

static void test_server_reads_and_replies_as_smux(void)
{
	static void (*v1[])(struct env *) = { s_peer_opens_v1, s_read, s_v1_no_upd, s_reply,
					      s_v1_reply, s_peer_fin, s_reads_eof, s_half_close_frames,
					      s_open_even,
					      s_v1_server_syn_then_fin, NULL };
	static void (*v2[])(struct env *) = { s_peer_opens_v2, s_read, s_v2_upd, s_reply,
					      s_v2_reply, NULL };
	struct smux_config c1 = cfg(1), c2 = cfg(2);
	struct env e;

	run(&e, false, &c1, v1);
	CHECK(!e.closed);
	run(&e, false, &c2, v2);
	CHECK(!e.closed);
}

/* ---- keepalive and protocol errors ---- */

static void k_nop(struct env *e)
{
	uint8_t buf[64], *want;
	size_t n = peer_read(e, buf, sizeof(buf)), wn;

	want = vec_unhex(vhex("smux_v1_keepalive_NOP"), &wn);
	CHECK(n >= wn && n % wn == 0);
	for (size_t i = 0; i + wn <= n; i += wn)
		CHECK(!memcmp(buf + i, want, wn));
	free(want);
}

static void k_wait(struct env *e)
{
	(void)e;
	usleep(30000);          /* longer than the test's keepalive interval */
}

static void test_keepalive_sends_nop_frames(void)
{
	static void (*steps[])(struct env *) = { k_wait, k_wait, k_nop, NULL };
	struct smux_config c = cfg(1);
	struct env e;

	c.keepalive_disabled = false;
	c.keepalive_interval_ms = 10;
	c.keepalive_timeout_ms = 100000;
	run(&e, true, &c, steps);
	CHECK(!e.closed);
}

static void k_peer_nop(struct env *e)
{
	peer_write_hex(e, vhex("smux_v1_keepalive_NOP"));
	peer_read(e, (uint8_t[256]){ 0 }, 256);
}

static void k_check_alive(struct env *e)
{
	CHECK(!e->closed);
}

/* A silent peer is dropped after the keepalive timeout; one that sends
 * anything (NOPs here) more often than that is not. */
static void test_keepalive_timeout_ends_a_silent_session(void)
{
	static void (*chatty[])(struct env *) = { k_peer_nop, k_peer_nop, k_peer_nop, k_peer_nop,
						  k_peer_nop, k_peer_nop, k_peer_nop, k_peer_nop,
						  k_peer_nop, k_peer_nop, k_check_alive, NULL };
	static void (*silent[])(struct env *) = { k_wait, k_wait, k_wait, k_wait, NULL };
	struct smux_config c = cfg(1);
	struct env e;

	c.keepalive_disabled = false;
	c.keepalive_interval_ms = 5;
	c.keepalive_timeout_ms = 20;
	run(&e, true, &c, chatty);
	CHECK(!e.closed);
	run(&e, true, &c, silent);
	CHECK(e.closed);
	CHECK(strstr(e.why, "keepalive timeout") != NULL);
}

static const char *g_bad;

static void p_send_bad(struct env *e)
{
	peer_write_hex(e, vhex(g_bad));
}

static void p_nothing(struct env *e)
{
	(void)e;
}

static void test_protocol_errors_end_the_session(void)
{
	static void (*steps[])(struct env *) = { p_send_bad, p_nothing, p_nothing, NULL };
	static const char *const bad[] = { "smux_decode_version_mismatch_v2_frame_on_v1_session",
					   "smux_decode_unknown_cmd_5" };
	struct smux_config c = cfg(1);
	struct env e;

	for (size_t i = 0; i < 2; i++) {
		g_bad = bad[i];
		run(&e, false, &c, steps);
		CHECK(e.closed);
		CHECK(strstr(e.why, "invalid protocol") != NULL);
		CHECK(e.st == NULL);
	}
	/* UPD on a v1 session is fine */
	g_bad = "smux_decode_upd_on_v1_session";
	run(&e, false, &c, steps);
	CHECK(!e.closed);
}

static void test_config_rules(void)
{
	struct smux_config c;
	char err[128];

	smux_config_default(&c);
	CHECK_INT(smux_config_verify(&c, err, sizeof(err)), 0);
	CHECK_INT(c.version, 1);
	CHECK_INT(c.keepalive_interval_ms, 10000);
	CHECK_INT(c.keepalive_timeout_ms, 30000);
	CHECK_INT(c.max_frame_size, 32768);
	CHECK_INT(c.max_receive_buffer, 4194304);
	CHECK_INT(c.max_stream_buffer, 65536);
	c.max_frame_size = 65536;
	CHECK_INT(smux_config_verify(&c, err, sizeof(err)), -EINVAL);
	smux_config_default(&c);
	c.version = 3;
	CHECK_INT(smux_config_verify(&c, err, sizeof(err)), -EINVAL);
	smux_config_default(&c);
	c.keepalive_timeout_ms = 5000;
	CHECK_INT(smux_config_verify(&c, err, sizeof(err)), -EINVAL);
	smux_config_default(&c);
	c.max_stream_buffer = c.max_receive_buffer + 1;
	CHECK_INT(smux_config_verify(&c, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	g_vec = vec_load("smux-vectors.json");
	if (!g_vec)
		return 1;
	RUN(test_client_frames_match_smux_byte_for_byte);
	RUN(test_server_reads_and_replies_as_smux);
	RUN(test_keepalive_sends_nop_frames);
	RUN(test_keepalive_timeout_ends_a_silent_session);
	RUN(test_protocol_errors_end_the_session);
	RUN(test_config_rules);
	json_decref(g_vec);
	return UNIT_DONE();
}

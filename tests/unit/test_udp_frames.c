/* The UDP-over-relay bytes relayd itself writes, checked against the
 * GOST-produced vectors: the server's held-back or immediate OK followed by
 * framed datagrams (srv_udp_*), the client's request built by the router
 * with FUDP and NETWORK followed by framed datagrams (cli_udp_*), and the
 * framer's reading and length limits.  Write boundaries matter for the
 * server's first write, so the server side writes into a SOCK_SEQPACKET
 * socketpair, which keeps every write a record. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "config/config.h"
#include "net/addr.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/relay_conn.h"
#include "proxy/relay_proto.h"
#include "proxy/router.h"
#include "proxy/udp_framer.h"
#include "unit.h"

static json_t *g_vec;

static const json_t *vector(const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(g_vec, i, v)
		if (!strcmp(json_string_value(json_object_get(v, "name")), name))
			return v;
	fprintf(stderr, "  vector %s is missing\n", name);
	unit_failed_checks++;
	return NULL;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	if (n > cap)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (uint8_t)v;
	}
	return n;
}

static const char *vhex(const json_t *v)
{
	return json_string_value(json_object_get(v, "hex"));
}

static const json_t *vmeaning(const json_t *v, const char *key)
{
	return json_object_get(json_object_get(v, "meaning"), key);
}

/* Everything readable from fd now, record by record (SOCK_SEQPACKET) or as a
 * byte stream; returns the total, *first gets the first record's length. */
static size_t drain(int fd, uint8_t *buf, size_t cap, size_t *first)
{
	size_t n = 0;

	*first = 0;
	for (;;) {
		ssize_t r = recv(fd, buf + n, cap - n, MSG_DONTWAIT);

		if (r <= 0)
			break;
		if (!n)
			*first = (size_t)r;
		n += (size_t)r;
	}
	return n;
}

/* The server after a successful UDP CONNECT: the OK as the relay handler
 * builds it, then the target's datagrams through the framer. */
static void server_vector(const char *name, bool nodelay)
{
	static const uint8_t ok[RELAY_HDR_LEN] = { RELAY_VERSION, RELAY_STATUS_OK, 0, 0 };
	const json_t *v = vector(name), *dgs, *d;
	struct relay_conn_opts ro = { .prefix = ok, .prefix_len = sizeof(ok), .send_now = nodelay };
	uint8_t got[256], want[256], first[64];
	size_t gotn, wantn, firstn, gfirst, i;
	struct loop *l = loop_new();
	struct udp_framer f;
	struct stream *s;
	int sv[2];

	if (!v || !l || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv))
		abort();
	s = relay_conn_new(tcp_stream_new(l, sv[0]), &ro);
	CHECK(s != NULL);
	CHECK_INT(udp_framer_init(&f, s, NULL, 0), 0);
	dgs = vmeaning(v, "datagrams");
	json_array_foreach(dgs, i, d) {
		const char *dg = json_string_value(d);

		CHECK_INT(udp_framer_put(&f, dg, strlen(dg)), 0);
		CHECK_INT(udp_framer_flush(&f), 0);
	}
	gotn = drain(sv[1], got, sizeof(got), &gfirst);
	wantn = unhex(vhex(v), want, sizeof(want));
	CHECK_MEM(got, gotn, want, wantn);
	/* the first write: OK + first frame together (nodelay=false), or the OK alone */
	firstn = unhex(json_string_value(json_array_get(vmeaning(v, "writes"), 0)), first,
		       sizeof(first));
	CHECK_MEM(got, gfirst, first, firstn);
	udp_framer_fini(&f);
	stream_close(s, false);
	close(sv[1]);
	loop_free(l);
}

static void test_server_frames_match_vectors(void)
{
	server_vector("srv_udp_connect_ok_nodelay_false", false);
	server_vector("srv_udp_connect_ok_nodelay_true", true);
}

/* ---- the client: a real route through a relay chain ---- */

struct client_run {
	struct loop *l;
	const json_t *v;
	struct loop_io node;    /* the fake relay node's listening socket */
	int peer;               /* its accepted connection */
	struct stream *s;
	struct udp_framer f;
	bool framer;
	struct loop_timer guard;
	char err[256];
};

static void guard_cb(struct loop_timer *t)
{
	struct client_run *c = CONTAINER_OF(t, struct client_run, guard);

	snprintf(c->err, sizeof(c->err), "no datagram came back in time");
	loop_stop(c->l);
}

/* The fake node answers as soon as it accepts: the OK and one datagram. */
static void node_cb(struct loop_io *io, uint32_t events)
{
	struct client_run *c = CONTAINER_OF(io, struct client_run, node);
	uint8_t reply[64];
	size_t n = unhex(json_string_value(vmeaning(c->v, "server_sent")), reply, sizeof(reply));

	(void)events;
	c->peer = accept4(io->fd, NULL, NULL, 0);
	CHECK(c->peer >= 0);
	if (c->peer >= 0)
		CHECK_INT(send(c->peer, reply, n, 0), (long long)n);
	loop_io_stop(c->l, io);
}

static void client_stream_cb(struct stream *s, unsigned events, void *ud)
{
	struct client_run *c = ud;
	const char *want = json_string_value(vmeaning(c->v, "first_app_read"));
	const uint8_t *dg;
	size_t len;
	int r;

	(void)s;
	(void)events;
	r = udp_framer_next(&c->f, &dg, &len);
	if (r == 0)
		return;
	CHECK_INT(r, 1);
	if (r == 1)
		CHECK_MEM(dg, len, want, strlen(want));
	loop_stop(c->l);
}

static void routed(void *ud, struct stream *s, const char *err)
{
	struct client_run *c = ud;

	if (!s) {
		snprintf(c->err, sizeof(c->err), "%s", err);
		loop_stop(c->l);
		return;
	}
	c->s = s;
	c->framer = udp_framer_init(&c->f, s, NULL, 0) == 0;
	CHECK(c->framer);
	if (!c->framer) {
		loop_stop(c->l);
		return;
	}
	/* the two datagrams the vector's application wrote */
	CHECK_INT(udp_framer_put(&c->f, "query", 5), 0);
	CHECK_INT(udp_framer_flush(&c->f), 0);
	CHECK_INT(udp_framer_put(&c->f, "q2", 2), 0);
	CHECK_INT(udp_framer_flush(&c->f), 0);
	stream_set_cb(s, client_stream_cb, c);
	stream_want(s, STREAM_RD);
}

/* What relayd's client sends for a UDP session to 8.8.8.8:53 through
 * -F relay://node: the request as GOST's connector builds it (FUDP and
 * NETWORK), then the frames; and what it reads back. */
static void client_vector(const char *name)
{
	const char *nodelay = strstr(name, "nodelay_true") ? "true" : "false";
	struct client_run c = { .v = vector(name), .peer = -1 };
	char node[64], fflag[128], err[CFG_ERR_MAX];
	const char *L[] = { "udp://:0/8.8.8.8:53" }, *F[] = { fflag };
	struct cfg_sources src = { .L = L, .nL = 1, .F = F, .nF = 1 };
	uint8_t got[256], want[256];
	size_t gotn, wantn = 0, first, i;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct router *r;
	struct cfg *cfg;
	const json_t *h;
	json_t *doc;
	int lfd;

	c.l = loop_new();
	lfd = net_listen("127.0.0.1:0", SOCK_STREAM, 8, err, sizeof(err));
	if (!c.v || !c.l || lfd < 0 || getsockname(lfd, (struct sockaddr *)&ss, &sl))
		abort();
	loop_io_init(&c.node, lfd, node_cb);
	CHECK_INT(loop_io_set(c.l, &c.node, EPOLLIN), 0);
	net_format_sockaddr((struct sockaddr *)&ss, node, sizeof(node));
	snprintf(fflag, sizeof(fflag), "relay://%s?nodelay=%s", node, nodelay);
	if (cfg_build_doc(&src, &doc, err, sizeof(err)) || cfg_compile(doc, &cfg, err, sizeof(err))) {
		fprintf(stderr, "  config: %s\n", err);
		abort();
	}
	json_decref(doc);
	r = router_new(cfg->services[0].handler_chain, err, sizeof(err));
	CHECK(r != NULL && router_udp_framed(r));
	CHECK(router_dial(r, c.l, "udp", "8.8.8.8:53", 2000, routed, &c) != NULL);
	loop_timer_init(&c.guard, guard_cb);
	loop_timer_start(c.l, &c.guard, 5000);
	loop_run(c.l);
	loop_timer_stop(c.l, &c.guard);
	CHECK_STR(c.err, "");
	gotn = c.peer >= 0 ? drain(c.peer, got, sizeof(got), &first) : 0;
	json_array_foreach(vmeaning(c.v, "writes"), i, h)
		wantn += unhex(json_string_value(h), want + wantn, sizeof(want) - wantn);
	CHECK_MEM(got, gotn, want, wantn);
	if (c.framer)
		udp_framer_fini(&c.f);
	if (c.s)
		stream_close(c.s, false);
	if (c.peer >= 0)
		close(c.peer);
	loop_io_stop(c.l, &c.node);
	close(lfd);
	router_free(r);
	cfg_free(cfg);
	loop_free(c.l);
}

static void test_client_frames_match_vectors(void)
{
	client_vector("cli_udp_connect_nodelay_false");
	client_vector("cli_udp_connect_nodelay_true");
}

/* ---- reading and limits ---- */

static void test_reader_keeps_every_datagram_whole(void)
{
	const json_t *v = vector("srv_udp_read_frames_truncating_small_buffer");
	uint8_t in[64];
	size_t n = unhex(vhex(v), in, sizeof(in)), len;
	struct loop *l = loop_new();
	struct udp_framer f;
	const uint8_t *dg;
	struct stream *s;
	int sv[2];

	if (!l || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		abort();
	s = tcp_stream_new(l, sv[0]);
	/* the first frame split across the preload and the socket, the second
	 * byte by byte: frames come out whole wherever the reads fall */
	CHECK_INT(udp_framer_init(&f, s, in, 3), 0);
	CHECK_INT(udp_framer_next(&f, &dg, &len), 0);
	CHECK_INT(write(sv[1], in + 3, 6), 6);
	CHECK_INT(udp_framer_next(&f, &dg, &len), 1);
	CHECK_MEM(dg, len, "hello", 5);
	for (size_t i = 9; i < n; i++) {
		CHECK_INT(udp_framer_next(&f, &dg, &len), 0);
		CHECK_INT(write(sv[1], in + i, 1), 1);
	}
	/* GOST's reader would truncate to its buffer; relayd never does */
	CHECK_INT(udp_framer_next(&f, &dg, &len), 1);
	CHECK_MEM(dg, len, "abcdef", 6);
	CHECK_INT(write(sv[1], "\x00\x00\x00\x09" "abc", 7), 7);
	CHECK_INT(udp_framer_next(&f, &dg, &len), 1);
	CHECK_INT(len, 0);
	shutdown(sv[1], SHUT_WR);
	CHECK_INT(udp_framer_next(&f, &dg, &len), UDP_FRAMER_TRUNC);
	udp_framer_fini(&f);
	stream_close(s, false);
	close(sv[1]);
	loop_free(l);
}

static void test_clean_end_is_eof(void)
{
	struct loop *l = loop_new();
	struct udp_framer f;
	const uint8_t *dg;
	struct stream *s;
	size_t len;
	int sv[2];

	if (!l || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		abort();
	s = tcp_stream_new(l, sv[0]);
	CHECK_INT(udp_framer_init(&f, s, (const uint8_t *)"\x00\x01z", 3), 0);
	close(sv[1]);
	CHECK_INT(udp_framer_next(&f, &dg, &len), 1);
	CHECK_INT(udp_framer_next(&f, &dg, &len), UDP_FRAMER_EOF);
	udp_framer_fini(&f);
	stream_close(s, false);
	loop_free(l);
}

static void test_write_limits(void)
{
	const json_t *v = vector("srv_udp_write_65536_rejected");
	size_t over = (size_t)json_integer_value(vmeaning(v, "payload_len"));
	size_t max = (size_t)json_integer_value(vmeaning(v, "max_payload"));
	uint8_t *big = calloc(1, over);
	struct udp_framer f;
	int n = 0;

	if (!big)
		abort();
	CHECK_INT(udp_framer_init(&f, NULL, NULL, 0), 0);
	CHECK_INT(udp_framer_put(&f, big, over), -EMSGSIZE);
	CHECK(!udp_framer_pending(&f));
	CHECK_INT(udp_framer_put(&f, big, max), 0);
	CHECK_INT(f.out_len, max + 2);
	CHECK_INT(f.out[0], 0xff);
	CHECK_INT(f.out[1], 0xff);
	/* the queue is bounded: a full one refuses instead of growing */
	while (udp_framer_put(&f, big, max) == 0)
		n++;
	CHECK(n > 0 && !udp_framer_room(&f, max));
	CHECK_INT(udp_framer_put(&f, big, max), -ENOBUFS);
	udp_framer_fini(&f);
	free(big);
}

int main(void)
{
	char path[512];
	json_error_t je;

	snprintf(path, sizeof(path), "%s/relay-vectors.json", unit_vectors_dir());
	g_vec = json_load_file(path, 0, &je);
	if (!json_is_array(g_vec)) {
		fprintf(stderr, "%s: %s\n", path, je.text);
		return 1;
	}
	RUN(test_server_frames_match_vectors);
	RUN(test_client_frames_match_vectors);
	RUN(test_reader_keeps_every_datagram_whole);
	RUN(test_clean_end_is_eof);
	RUN(test_write_limits);
	json_decref(g_vec);
	return UNIT_DONE();
}

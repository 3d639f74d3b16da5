/* TCP BIND on the relay server (see relay_bind.h).  One object per BIND: the
 * listening socket, the smux session over the client's connection (relayd is
 * the smux client, as GOST is), and the control connection's registry entry.
 * Each accepted connection is an ordinary piped connection whose target side
 * is a new smux stream, so relayctl lists it with its bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "control/conns.h"
#include "net/addr.h"
#include "net/loop.h"
#include "net/smux_session.h"
#include "net/stream.h"
#include "proxy/pipe.h"
#include "proxy/relay_bind.h"
#include "proxy/relay_proto.h"
#include "proxy/service.h"

#define BIND_BACKLOG 128
#define ACCEPT_BATCH 16
#define ACCEPT_PAUSE_MS 100

struct tcp_bind {
	struct relay_bind_common c;
	struct smux_session *ss;
	struct loop_io lio;
	struct loop_timer resume;
};

static void bind_end(struct tcp_bind *b, const char *why)
{
	log_info(&b->c.lc, "bind: %s closed: %s", b->c.bound, why);
	conns_set_error(b->c.ci, "%s", why);
	loop_timer_stop(b->c.loop, &b->resume);
	loop_io_stop(b->c.loop, &b->lio);
	close(b->lio.fd);
	smux_session_free(b->ss);
	relay_bind_unregister(&b->c);
	free(b);
}

static void session_closed(void *ud, const char *why)
{
	bind_end(ud, why);
}

/* Streams the peer opens are closed at once (GOST does not use them). */
static void session_accept(void *ud, struct stream *st)
{
	struct tcp_bind *b = ud;

	log_debug(&b->c.lc, "bind: closing stream %u opened by the client",
		  (unsigned)smux_stream_id(st));
	stream_close(st, false);
}

/* One accepted connection → a new stream that starts with the peer header. */
static void serve_conn(struct tcp_bind *b, int fd, const struct sockaddr_storage *peer)
{
	uint8_t hdr[64];
	char link[NET_ADDRSTRLEN + 32];
	struct relay_writer w;
	struct relay_addr a;
	struct pipe_opts po = { 0 };
	struct stream *client, *st;
	struct conn_info *ci;
	int n;

	net_set_nodelay(fd, true);
	client = tcp_stream_new(b->c.loop, fd);
	if (!client)
		return;
	ci = conns_new(b->c.svc->cfg->name, "bind", (const struct sockaddr *)peer);
	if (!ci) {
		stream_close(client, false);
		return;
	}
	conns_set_user(ci, b->c.ci->user);
	relay_bind_link(&b->c, link, sizeof(link));
	conns_set_target(ci, link);
	st = smux_open(b->ss);
	if (!st) {
		conns_set_error(ci, "bind session is gone or out of memory");
		stream_close(client, false);
		conns_done(ci);
		return;
	}
	snprintf(ci->stack, sizeof(ci->stack), "tcp|smux#%u>relay", (unsigned)smux_stream_id(st));
	relay_w_begin(&w, hdr, sizeof(hdr), RELAY_STATUS_OK);
	if (relay_addr_from_sockaddr(&a, (const struct sockaddr *)peer) == 0)
		relay_w_addr(&w, &a);
	n = relay_w_finish(&w);
	if (n < 0) {
		conns_set_error(ci, "peer header: %s", relay_strerror(n));
		stream_close(client, false);
		stream_close(st, false);
		conns_done(ci);
		return;
	}
	po.pending[PIPE_CLIENT] = hdr;
	po.pending_len[PIPE_CLIENT] = (size_t)n;
	log_debug(&b->c.lc, "bind: %s: %s -> stream %u", b->c.bound, ci->client,
		  (unsigned)smux_stream_id(st));
	pipe_start(client, st, ci, &po);
}

static void accept_resume(struct loop_timer *t)
{
	struct tcp_bind *b = CONTAINER_OF(t, struct tcp_bind, resume);

	if (loop_io_set(b->c.loop, &b->lio, EPOLLIN))
		bind_end(b, "cannot watch the bound socket again");
}

static void accept_cb(struct loop_io *io, uint32_t events)
{
	struct tcp_bind *b = CONTAINER_OF(io, struct tcp_bind, lio);

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(io->fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_warn(&b->c.lc, "bind: accept on %s: %s: pausing %d ms", b->c.bound,
					 strerror(errno), ACCEPT_PAUSE_MS);
				if (loop_io_set(b->c.loop, io, 0) == 0)
					loop_timer_start(b->c.loop, &b->resume, ACCEPT_PAUSE_MS);
			}
			return;
		}
		serve_conn(b, fd, &peer);
	}
}

static void close_obj(struct loop_obj *o)
{
	bind_end(CONTAINER_OF(o, struct tcp_bind, c.obj), "relayd shutting down");
}

void relay_bind_tcp(struct relay_bind_req *r)
{
	static const struct smux_callbacks cbs = { .accept = session_accept,
						   .closed = session_closed };
	struct stream *conn;
	struct tcp_bind *b;
	char why[160];
	int fd;

	fd = net_listen(r->addr, SOCK_STREAM, BIND_BACKLOG, why, sizeof(why));
	if (fd < 0) {
		relay_bind_refuse(r, RELAY_STATUS_SERVICE_UNAVAILABLE, why);
		return;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		close(fd);
		relay_bind_refuse(r, RELAY_STATUS_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	conn = relay_bind_answer(r, fd, &b->c);
	loop_io_init(&b->lio, fd, accept_cb);
	loop_timer_init(&b->resume, accept_resume);
	/* relayd is the smux client here, as GOST's server is */
	b->ss = conn ? smux_session_new(conn, true, &r->o->mux, &cbs, b, r->pending,
					 r->pending_len, b->c.name)
		     : NULL;
	if (!b->ss || loop_io_set(b->c.loop, &b->lio, EPOLLIN)) {
		smux_session_free(b->ss);
		close(fd);
		conns_set_error(b->c.ci, "bind: out of memory");
		conns_done(b->c.ci);
		free(b);
		return;
	}
	relay_bind_register(&b->c, "", close_obj);
	log_info(&b->c.lc, "bind on %s/tcp OK (smux v%u)", b->c.bound,
		 (unsigned)r->o->mux.version);
}

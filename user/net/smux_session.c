/* smux session and streams on the event loop (see smux_session.h).
 *
 * Life cycle: the session lives while its owner holds it or any stream is
 * open.  A dying session closes its connection from a deferred task (never
 * under a caller's feet), wakes every stream (reads drain then fail, writes
 * fail), and tells the owner once.  Memory is released by the same deferred
 * "reap" task once nobody refers to the session any more. */
#include "net/smux_session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/u64map.h"
#include "base/util.h"
#include "net/loop.h"
#include "net/smux_codec.h"
#include "net/stream.h"

#define IBUF_CAP (2 * (SMUX_HDR_LEN + SMUX_MAX_DATA))
#define OBUF_SOFT_CAP (256 * 1024)      /* data frames wait (EAGAIN) beyond this */
#define READ_ROUNDS 16
#define INITIAL_PEER_WINDOW 262144u     /* smux initialPeerWindow */
/* streams the peer may hold open at once; smux caps only unaccepted ones
 * (1024), which a reader that accepts at once never reaches */
#define MAX_PEER_STREAMS 8192

struct smux_stream {
	struct stream s;
	struct smux_session *ss;
	struct smux_stream *prev, *next;
	uint32_t sid;
	uint8_t *rbuf;
	size_t roff, rlen, rcap;
	bool peer_fin, fin_sent;
	unsigned want;
	struct loop_task kick;
	/* v2 flow control (uint32 arithmetic wraps exactly as smux's) */
	uint32_t num_read, incr, num_written, peer_consumed, peer_window;
};

struct smux_session {
	struct loop *loop;
	struct stream *lower;
	struct smux_config cfg;
	struct smux_callbacks cbs;
	void *ud;
	uint32_t next_id;
	struct u64map by_sid;           /* sid + 1 → stream */
	struct smux_stream *streams;
	size_t n_streams;
	uint8_t *ibuf;
	size_t ilen;
	uint8_t *obuf;
	size_t ooff, olen, ocap;
	size_t buffered;                /* unread bytes across streams */
	bool dead, owner_gone, notified, got_frame;
	char why[160];
	char name[96];
	struct loop_timer ka_timer, to_timer;
	struct loop_task flush_task, dead_task, reap_task;
};

static const struct stream_ops smux_stream_ops;
static void kick_cb(struct loop_task *t);

void smux_config_default(struct smux_config *c)
{
	*c = (struct smux_config){
		.version = 1,
		.keepalive_interval_ms = 10000,
		.keepalive_timeout_ms = 30000,
		.max_frame_size = 32768,
		.max_receive_buffer = 4194304,
		.max_stream_buffer = 65536,
	};
}

int smux_config_verify(const struct smux_config *c, char *err, size_t errlen)
{
	const char *why = NULL;

	if (c->version != 1 && c->version != 2)
		why = "mux.version: unsupported protocol version (1 or 2)";
	else if (!c->keepalive_disabled && !c->keepalive_interval_ms)
		why = "mux.keepaliveInterval: must be positive";
	else if (!c->keepalive_disabled && c->keepalive_timeout_ms < c->keepalive_interval_ms)
		why = "mux.keepaliveTimeout: must be larger than mux.keepaliveInterval";
	else if (!c->max_frame_size || c->max_frame_size > SMUX_MAX_DATA)
		why = "mux.maxFrameSize: must be 1..65535";
	else if (!c->max_receive_buffer || c->max_receive_buffer > INT32_MAX)
		why = "mux.maxReceiveBuffer: must be positive";
	else if (!c->max_stream_buffer || c->max_stream_buffer > c->max_receive_buffer)
		why = "mux.maxStreamBuffer: must be positive and at most mux.maxReceiveBuffer";
	if (!why)
		return 0;
	snprintf(err, errlen, "%s", why);
	return -EINVAL;
}

static void log_session(const struct smux_session *ss, enum log_level lv, const char *msg)
{
	struct log_ctx lc = { .kind = "smux", .service = ss->name };

	if (log_enabled(lv))
		log_write(lv, &lc, NULL, 0, "smux: %s", msg);
}

/* ---- output ---- */

/* Room in the output buffer for n more bytes (control frames may exceed
 * the soft cap; data frames never do). */
static int obuf_reserve(struct smux_session *ss, size_t n)
{
	size_t ncap;
	uint8_t *nb;

	if (ss->ooff && ss->ooff == ss->olen)
		ss->ooff = ss->olen = 0;
	if (ss->olen + n <= ss->ocap)
		return 0;
	if (ss->ooff) {
		memmove(ss->obuf, ss->obuf + ss->ooff, ss->olen - ss->ooff);
		ss->olen -= ss->ooff;
		ss->ooff = 0;
		if (ss->olen + n <= ss->ocap)
			return 0;
	}
	ncap = ss->ocap ? ss->ocap : 4096;
	while (ncap < ss->olen + n)
		ncap *= 2;
	nb = realloc(ss->obuf, ncap);
	if (!nb)
		return -ENOMEM;
	ss->obuf = nb;
	ss->ocap = ncap;
	return 0;
}

static size_t obuf_pending(const struct smux_session *ss)
{
	return ss->olen - ss->ooff;
}

/* Whether a data frame may be queued (the one test writers wait on). */
static bool obuf_room(const struct smux_session *ss)
{
	return obuf_pending(ss) + SMUX_HDR_LEN < OBUF_SOFT_CAP;
}

static void session_fail(struct smux_session *ss, const char *why);

static void queue_flush(struct smux_session *ss)
{
	loop_defer(ss->loop, &ss->flush_task);
}

/* A frame without data (SYN, FIN, NOP). */
static int send_ctrl(struct smux_session *ss, uint8_t cmd, uint32_t sid)
{
	if (obuf_reserve(ss, SMUX_HDR_LEN)) {
		session_fail(ss, "out of memory");
		return -ENOMEM;
	}
	smux_hdr_encode(ss->obuf + ss->olen, ss->cfg.version, cmd, 0, sid);
	ss->olen += SMUX_HDR_LEN;
	queue_flush(ss);
	return 0;
}

static int send_upd(struct smux_session *ss, uint32_t sid, uint32_t consumed)
{
	if (obuf_reserve(ss, SMUX_HDR_LEN + SMUX_UPD_LEN)) {
		session_fail(ss, "out of memory");
		return -ENOMEM;
	}
	smux_upd_encode(ss->obuf + ss->olen, ss->cfg.version, sid, consumed,
			ss->cfg.max_stream_buffer);
	ss->olen += SMUX_HDR_LEN + SMUX_UPD_LEN;
	queue_flush(ss);
	return 0;
}

static void kick(struct smux_stream *st)
{
	loop_defer(st->ss->loop, &st->kick);
}

static void wake_writers(struct smux_session *ss)
{
	for (struct smux_stream *st = ss->streams; st; st = st->next)
		if (st->want & STREAM_WR)
			kick(st);
}

static void set_lower_interest(struct smux_session *ss)
{
	unsigned ev = 0;

	if (ss->dead || !ss->lower)
		return;
	if (ss->buffered < ss->cfg.max_receive_buffer)
		ev |= STREAM_RD;
	if (obuf_pending(ss))
		ev |= STREAM_WR;
	stream_want(ss->lower, ev);
}

static void flush_output(struct smux_session *ss)
{
	bool was_full = !obuf_room(ss);

	while (!ss->dead && obuf_pending(ss)) {
		ssize_t w = stream_write(ss->lower, ss->obuf + ss->ooff, obuf_pending(ss));

		if (w == -EAGAIN)
			break;
		if (w < 0) {
			char why[96];

			snprintf(why, sizeof(why), "write: %s", strerror((int)-w));
			session_fail(ss, why);
			return;
		}
		ss->ooff += (size_t)w;
	}
	if (!obuf_pending(ss))
		ss->ooff = ss->olen = 0;
	if (was_full && obuf_room(ss))
		wake_writers(ss);
}

static void parse_input(struct smux_session *ss);

static void flush_task_cb(struct loop_task *t)
{
	struct smux_session *ss = CONTAINER_OF(t, struct smux_session, flush_task);

	if (ss->ilen >= SMUX_HDR_LEN)
		parse_input(ss);        /* bytes handed over at creation */
	if (ss->dead)
		return;
	flush_output(ss);
	set_lower_interest(ss);
}

/* ---- streams ---- */

static struct smux_stream *stream_create(struct smux_session *ss, uint32_t sid)
{
	struct smux_stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	if (u64map_put(&ss->by_sid, (uint64_t)sid + 1, st)) {
		free(st);
		return NULL;
	}
	st->s.ops = &smux_stream_ops;
	st->s.loop = ss->loop;
	st->ss = ss;
	st->sid = sid;
	st->peer_window = INITIAL_PEER_WINDOW;
	loop_task_init(&st->kick, kick_cb);
	st->next = ss->streams;
	if (ss->streams)
		ss->streams->prev = st;
	ss->streams = st;
	ss->n_streams++;
	return st;
}

static unsigned stream_ready(const struct smux_stream *st)
{
	const struct smux_session *ss = st->ss;
	unsigned ev = 0;

	if (st->roff < st->rlen || st->peer_fin || ss->dead)
		ev |= STREAM_RD;
	if (ss->dead || st->fin_sent)
		ev |= STREAM_WR;
	else if (obuf_room(ss) &&
		 (ss->cfg.version == 1 ||
		  (int32_t)(st->peer_window - (st->num_written - st->peer_consumed)) > 0))
		ev |= STREAM_WR;
	return ev;
}

static void kick_cb(struct loop_task *t)
{
	struct smux_stream *st = CONTAINER_OF(t, struct smux_stream, kick);
	unsigned ev = stream_ready(st) & st->want;

	if (ev && st->s.cb)
		st->s.cb(&st->s, ev, st->s.ud);
}

static ssize_t st_read(struct stream *s, void *buf, size_t len)
{
	struct smux_stream *st = (struct smux_stream *)s;
	struct smux_session *ss = st->ss;
	size_t n = st->rlen - st->roff;
	bool was_paused = ss->buffered >= ss->cfg.max_receive_buffer;

	if (!n) {
		if (st->peer_fin)
			return 0;
		return ss->dead ? -ECONNRESET : -EAGAIN;
	}
	if (n > len)
		n = len;
	memcpy(buf, st->rbuf + st->roff, n);
	st->roff += n;
	if (st->roff == st->rlen)
		st->roff = st->rlen = 0;
	ss->buffered -= n;
	if (was_paused && ss->buffered < ss->cfg.max_receive_buffer)
		queue_flush(ss);        /* resumes reading the connection */
	if (ss->cfg.version == 2 && !ss->dead) {
		st->num_read += (uint32_t)n;
		st->incr += (uint32_t)n;
		if (st->incr >= ss->cfg.max_stream_buffer / 2 || st->num_read == (uint32_t)n) {
			st->incr = 0;
			send_upd(ss, st->sid, st->num_read);
		}
	}
	return (ssize_t)n;
}

static ssize_t st_write(struct stream *s, const void *buf, size_t len)
{
	struct smux_stream *st = (struct smux_stream *)s;
	struct smux_session *ss = st->ss;
	const uint8_t *p = buf;
	size_t done = 0;

	if (ss->dead)
		return -ECONNRESET;
	/* smux refuses writes once it got a FIN; relayd writes on, so a half-close
	 * between two relayds keeps the other direction (a GOST peer drops the
	 * frames, as it drops any for a stream it closed) */
	if (st->fin_sent)
		return -EPIPE;
	if (!len)
		return 0;
	if (ss->cfg.version == 2) {
		int32_t inflight = (int32_t)(st->num_written - st->peer_consumed);
		int32_t win = (int32_t)st->peer_window - inflight;

		if (inflight < 0) {
			session_fail(ss, "peer acknowledged more than was sent");
			return -EPROTO;
		}
		if (win <= 0)
			return -EAGAIN;
		if ((size_t)win < len)
			len = (size_t)win;
	}
	while (done < len && obuf_room(ss)) {
		size_t n = len - done;

		if (n > ss->cfg.max_frame_size)
			n = ss->cfg.max_frame_size;
		if (n > OBUF_SOFT_CAP - obuf_pending(ss) - SMUX_HDR_LEN)
			n = OBUF_SOFT_CAP - obuf_pending(ss) - SMUX_HDR_LEN;
		if (obuf_reserve(ss, SMUX_HDR_LEN + n)) {
			session_fail(ss, "out of memory");
			return done ? (ssize_t)done : -ENOMEM;
		}
		smux_hdr_encode(ss->obuf + ss->olen, ss->cfg.version, SMUX_PSH, (uint16_t)n, st->sid);
		memcpy(ss->obuf + ss->olen + SMUX_HDR_LEN, p + done, n);
		ss->olen += SMUX_HDR_LEN + n;
		done += n;
	}
	if (!done)
		return -EAGAIN;
	st->num_written += (uint32_t)done;
	queue_flush(ss);
	return (ssize_t)done;
}

static int st_shutdown(struct stream *s)
{
	struct smux_stream *st = (struct smux_stream *)s;

	if (st->ss->dead)
		return -ECONNRESET;
	if (!st->fin_sent) {
		st->fin_sent = true;
		return send_ctrl(st->ss, SMUX_FIN, st->sid);
	}
	return 0;
}

static void st_want(struct stream *s, unsigned events)
{
	struct smux_stream *st = (struct smux_stream *)s;

	st->want = events;
	if (stream_ready(st) & events)
		kick(st);
}

static void st_close(struct stream *s, bool abort)
{
	struct smux_stream *st = (struct smux_stream *)s;
	struct smux_session *ss = st->ss;

	(void)abort;                    /* smux has no reset: FIN either way */
	if (!ss->dead && !st->fin_sent)
		send_ctrl(ss, SMUX_FIN, st->sid);
	loop_cancel(ss->loop, &st->kick);
	u64map_del(&ss->by_sid, (uint64_t)st->sid + 1);
	if (st->prev)
		st->prev->next = st->next;
	else
		ss->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	ss->n_streams--;
	ss->buffered -= st->rlen - st->roff;
	free(st->rbuf);
	free(st);
	queue_flush(ss);
	loop_defer(ss->loop, &ss->reap_task);
}

static int st_raw_fd(struct stream *s)
{
	(void)s;
	return -1;
}

static int st_detach(struct stream *s)
{
	(void)s;
	return -EOPNOTSUPP;
}

static void st_describe(struct stream *s, char *out, size_t cap)
{
	struct smux_stream *st = (struct smux_stream *)s;
	char low[48] = "closed";

	if (st->ss->lower)
		stream_describe(st->ss->lower, low, sizeof(low));
	snprintf(out, cap, "smux>%s", low);
}

static const char *st_error_text(struct stream *s)
{
	struct smux_stream *st = (struct smux_stream *)s;

	return st->ss->dead ? st->ss->why : NULL;
}

static int st_local_addr(struct stream *s, struct sockaddr_storage *out)
{
	struct smux_stream *st = (struct smux_stream *)s;

	return st->ss->lower ? stream_local_addr(st->ss->lower, out) : -ENOTCONN;
}

static const struct stream_ops smux_stream_ops = {
	.read = st_read,
	.write = st_write,
	.shutdown = st_shutdown,
	.want = st_want,
	.close = st_close,
	.raw_fd = st_raw_fd,
	.detach = st_detach,
	.describe = st_describe,
	.error_text = st_error_text,
	.local_addr = st_local_addr,
};

uint32_t smux_stream_id(struct stream *s)
{
	return ((struct smux_stream *)s)->sid;
}

/* ---- input ---- */

static int push_data(struct smux_stream *st, const uint8_t *p, size_t n)
{
	if (st->rlen + n > st->rcap) {
		size_t ncap = st->rcap ? st->rcap : 4096;
		uint8_t *nb;

		if (st->roff) {
			memmove(st->rbuf, st->rbuf + st->roff, st->rlen - st->roff);
			st->rlen -= st->roff;
			st->roff = 0;
		}
		while (ncap < st->rlen + n)
			ncap *= 2;
		if (ncap > st->rcap) {
			nb = realloc(st->rbuf, ncap);
			if (!nb)
				return -ENOMEM;
			st->rbuf = nb;
			st->rcap = ncap;
		}
	}
	memcpy(st->rbuf + st->rlen, p, n);
	st->rlen += n;
	st->ss->buffered += n;
	return 0;
}

static void on_frame(struct smux_session *ss, const struct smux_hdr *h, const uint8_t *body)
{
	struct smux_stream *st = u64map_get(&ss->by_sid, (uint64_t)h->sid + 1);
	uint32_t consumed, window;

	switch (h->cmd) {
	case SMUX_NOP:
		return;
	case SMUX_SYN:
		if (st)
			return;         /* smux ignores a SYN for a stream it has */
		if (ss->n_streams >= MAX_PEER_STREAMS) {
			log_session(ss, LOG_DEBUG, "too many streams: refusing one");
			send_ctrl(ss, SMUX_FIN, h->sid);
			return;
		}
		st = stream_create(ss, h->sid);
		if (!st) {
			session_fail(ss, "out of memory");
			return;
		}
		if (ss->cbs.accept)
			ss->cbs.accept(ss->ud, &st->s);
		else
			st_close(&st->s, false);
		return;
	case SMUX_FIN:
		if (st) {
			st->peer_fin = true;
			kick(st);
		}
		return;
	case SMUX_PSH:
		if (!st || !h->len)
			return;
		if (push_data(st, body, h->len)) {
			session_fail(ss, "out of memory");
			return;
		}
		kick(st);
		return;
	case SMUX_UPD:
		if (!st)
			return;
		smux_upd_decode(body, &consumed, &window);
		st->peer_consumed = consumed;
		st->peer_window = window;
		kick(st);
		return;
	}
}

/* Decodes and dispatches every complete frame in ibuf. */
static void parse_input(struct smux_session *ss)
{
	size_t off = 0;

	while (!ss->dead) {
		struct smux_hdr h;
		int rc = smux_hdr_decode(ss->ibuf + off, ss->ilen - off, ss->cfg.version, &h);
		size_t body;

		if (rc == SMUX_E_PROTO) {
			char why[96];

			snprintf(why, sizeof(why),
				 "invalid protocol (version %u cmd %u, session version %u)", h.ver,
				 h.cmd, ss->cfg.version);
			session_fail(ss, why);
			return;
		}
		if (!rc)
			break;
		body = smux_body_len(&h);
		if (ss->ilen - off < SMUX_HDR_LEN + body)
			break;
		ss->got_frame = true;
		on_frame(ss, &h, ss->ibuf + off + SMUX_HDR_LEN);
		off += SMUX_HDR_LEN + body;
	}
	if (off) {
		memmove(ss->ibuf, ss->ibuf + off, ss->ilen - off);
		ss->ilen -= off;
	}
}

static void read_input(struct smux_session *ss)
{
	for (int round = 0; round < READ_ROUNDS && !ss->dead; round++) {
		ssize_t r;

		if (ss->buffered >= ss->cfg.max_receive_buffer)
			return;
		r = stream_read(ss->lower, ss->ibuf + ss->ilen, IBUF_CAP - ss->ilen);
		if (r == -EAGAIN)
			return;
		if (r <= 0) {
			char why[96];

			snprintf(why, sizeof(why), "read: %s",
				 r ? strerror((int)-r) : ss->ilen ? "unexpected EOF" : "EOF");
			session_fail(ss, why);
			return;
		}
		ss->ilen += (size_t)r;
		parse_input(ss);
	}
}

static void lower_cb(struct stream *s, unsigned events, void *ud)
{
	struct smux_session *ss = ud;

	(void)s;
	if (events & STREAM_RD)
		read_input(ss);
	if (!ss->dead)
		flush_output(ss);
	set_lower_interest(ss);
}

/* ---- keepalive ---- */

static void ka_cb(struct loop_timer *t)
{
	struct smux_session *ss = CONTAINER_OF(t, struct smux_session, ka_timer);

	if (send_ctrl(ss, SMUX_NOP, 0) == 0)
		loop_timer_start(ss->loop, &ss->ka_timer, ss->cfg.keepalive_interval_ms);
}

static void to_cb(struct loop_timer *t)
{
	struct smux_session *ss = CONTAINER_OF(t, struct smux_session, to_timer);

	/* smux spares a session whose reader is only paused by a full buffer */
	if (!ss->got_frame && ss->buffered < ss->cfg.max_receive_buffer) {
		session_fail(ss, "keepalive timeout: no frame from the peer");
		return;
	}
	ss->got_frame = false;
	loop_timer_start(ss->loop, &ss->to_timer, ss->cfg.keepalive_timeout_ms);
}

/* ---- life cycle ---- */

static void session_fail(struct smux_session *ss, const char *why)
{
	if (ss->dead)
		return;
	ss->dead = true;
	util_strcpy(ss->why, sizeof(ss->why), why);
	loop_timer_stop(ss->loop, &ss->ka_timer);
	loop_timer_stop(ss->loop, &ss->to_timer);
	if (!ss->owner_gone)
		log_session(ss, strncmp(why, "read: EOF", 9) ? LOG_INFO : LOG_DEBUG, why);
	for (struct smux_stream *st = ss->streams; st; st = st->next)
		kick(st);
	loop_defer(ss->loop, &ss->dead_task);
}

static void dead_task_cb(struct loop_task *t)
{
	struct smux_session *ss = CONTAINER_OF(t, struct smux_session, dead_task);

	if (ss->lower) {
		stream_close(ss->lower, false);
		ss->lower = NULL;
	}
	loop_cancel(ss->loop, &ss->flush_task);
	if (!ss->owner_gone && !ss->notified && ss->cbs.closed) {
		ss->notified = true;
		ss->cbs.closed(ss->ud, ss->why);        /* may free the session's owner side */
		return;
	}
	loop_defer(ss->loop, &ss->reap_task);
}

static void reap_task_cb(struct loop_task *t)
{
	struct smux_session *ss = CONTAINER_OF(t, struct smux_session, reap_task);

	if (!ss->owner_gone || ss->n_streams || !ss->dead || ss->lower)
		return;
	loop_cancel(ss->loop, &ss->flush_task);
	loop_cancel(ss->loop, &ss->dead_task);
	u64map_free(&ss->by_sid);
	free(ss->ibuf);
	free(ss->obuf);
	free(ss);
}

void smux_session_free(struct smux_session *ss)
{
	if (!ss)
		return;
	ss->owner_gone = true;
	ss->cbs = (struct smux_callbacks){ 0 };
	if (!ss->dead)
		session_fail(ss, "closed by its owner");
	loop_defer(ss->loop, &ss->reap_task);
}

struct smux_session *smux_session_new(struct stream *lower, bool client,
				      const struct smux_config *c,
				      const struct smux_callbacks *cbs, void *ud,
				      const uint8_t *pending, size_t pending_len,
				      const char *name)
{
	struct smux_session *ss = calloc(1, sizeof(*ss));

	if (!ss || pending_len > IBUF_CAP || !(ss->ibuf = malloc(IBUF_CAP))) {
		free(ss);
		stream_close(lower, false);
		return NULL;
	}
	ss->loop = lower->loop;
	ss->lower = lower;
	ss->cfg = *c;
	ss->cbs = *cbs;
	ss->ud = ud;
	ss->next_id = client ? 1 : 0;
	util_strcpy(ss->name, sizeof(ss->name), name ? name : "");
	u64map_init(&ss->by_sid);
	loop_timer_init(&ss->ka_timer, ka_cb);
	loop_timer_init(&ss->to_timer, to_cb);
	loop_task_init(&ss->flush_task, flush_task_cb);
	loop_task_init(&ss->dead_task, dead_task_cb);
	loop_task_init(&ss->reap_task, reap_task_cb);
	if (pending_len) {
		memcpy(ss->ibuf, pending, pending_len);
		ss->ilen = pending_len;
		loop_defer(ss->loop, &ss->flush_task);
	}
	if (!c->keepalive_disabled) {
		loop_timer_start(ss->loop, &ss->ka_timer, c->keepalive_interval_ms);
		loop_timer_start(ss->loop, &ss->to_timer, c->keepalive_timeout_ms);
	}
	stream_set_cb(lower, lower_cb, ss);
	stream_want(lower, STREAM_RD);
	return ss;
}

struct stream *smux_open(struct smux_session *ss)
{
	struct smux_stream *st;

	if (ss->dead || ss->next_id > UINT32_MAX - 2)
		return NULL;            /* smux: "stream id overflows, should start a new connection" */
	ss->next_id += 2;
	st = stream_create(ss, ss->next_id);
	if (!st)
		return NULL;
	if (send_ctrl(ss, SMUX_SYN, st->sid)) {
		st_close(&st->s, false);
		return NULL;
	}
	return &st->s;
}

bool smux_session_alive(const struct smux_session *ss)
{
	return !ss->dead;
}

size_t smux_session_nstreams(const struct smux_session *ss)
{
	return ss->n_streams;
}

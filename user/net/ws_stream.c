/* WebSocket stream (see ws_stream.h).
 *
 * Three bounded buffers, allocated only while they hold bytes: in (raw
 * bytes read from the lower stream, handed to wslay), data (payload
 * received, waiting for the owner's read) and out (frames built by wslay,
 * waiting for the lower stream).  wslay reads only
 * as much as data has room for, and a write is accepted only when out and
 * wslay's queue are empty: back-pressure is interest switched off, never a
 * growing buffer. */
#include "net/ws_stream.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "base/util.h"
#include "net/loop.h"
#include "net/stream.h"
#include "net/ws_http.h"

#define IN_CAP (64 * 1024)
#define DATA_CAP (64 * 1024)
#define MSG_MAX (64 * 1024)             /* one write = one message of at most this */
#define OUT_CAP (MSG_MAX + 16)          /* a whole frame with its header */
#define HS_OUT_CAP 1024
/* after an HTTP refusal: how long to read what the client still sends, so
 * that closing does not reset the connection before it read the answer */
#define REFUSAL_DRAIN_MS 1000

struct ws_stream {
	struct stream s;
	struct stream *lower;
	bool server;
	char path[256], host[300];
	uint32_t keepalive_ms;
	unsigned want;
	/* upgrade */
	bool hs_done, hs_sent;
	unsigned hs_need;
	char key[WS_KEY_LEN + 1];
	char *hbuf;                     /* request/response header being read */
	size_t hlen;
	char hs_out[HS_OUT_CAP];        /* request/response being written */
	size_t hs_off, hs_len;
	int hs_refusal;                 /* server: an error response is being sent */
	char refusal[240];              /* and why, for the log once it is out */
	bool draining;                  /* refusal sent: reading the rest until EOF */
	/* framing */
	wslay_event_context_ptr ctx;
	uint8_t *in, *data, *out;
	size_t in_off, in_len, d_off, d_len, o_off, o_len;
	bool lower_eof, rd_done;
	bool in_ctrl;                   /* the frame being received is a control frame */
	uint64_t last_pong;
	int err;
	char errtext[200];
	struct loop_timer timer;        /* upgrade deadline, then keepalive */
	struct loop_task kick;
};

static void update_lower(struct ws_stream *w);

static int fail(struct ws_stream *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct ws_stream *w, int err, const char *fmt, ...)
{
	if (!w->err) {
		char m[160];
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(m, sizeof(m), fmt, ap);
		va_end(ap);
		snprintf(w->errtext, sizeof(w->errtext), "ws: %s", m);
		w->err = err;
	}
	return w->err;
}

static int lower_fail(struct ws_stream *w, int err)
{
	const char *t = stream_error_text(w->lower);

	return fail(w, err, "%s", t ? t : strerror(-err));
}

/* ---- wslay callbacks ---- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
		       void *ud)
{
	struct ws_stream *w = ud;
	size_t room = DATA_CAP - w->d_len, n;

	(void)flags;
	/* payload never exceeds the bytes it came in: read no more than data can hold */
	if (len > room)
		len = room;
	if (!len || w->err || (w->lower_eof && !w->in_len)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (!w->in_len) {
		ssize_t r = stream_read(w->lower, w->in, IN_CAP);

		if (r == 0)
			w->lower_eof = true;    /* reported as our end of stream, not to wslay */
		if (r < 0 && r != -EAGAIN)
			lower_fail(w, (int)r);
		if (r <= 0) {
			wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
			return -1;
		}
		w->in_off = 0;
		w->in_len = (size_t)r;
	}
	n = len < w->in_len ? len : w->in_len;
	memcpy(buf, w->in + w->in_off, n);
	w->in_off += n;
	w->in_len -= n;
	return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
		       void *ud)
{
	struct ws_stream *w = ud;
	size_t room = OUT_CAP - w->o_off - w->o_len, n = len < room ? len : room;

	(void)flags;
	if (!n) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(w->out + w->o_off + w->o_len, data, n);
	w->o_len += n;
	return (ssize_t)n;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
	(void)ctx;
	(void)ud;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void frame_start_cb(wslay_event_context_ptr ctx,
			   const struct wslay_event_on_frame_recv_start_arg *a, void *ud)
{
	struct ws_stream *w = ud;

	(void)ctx;
	w->in_ctrl = wslay_is_ctrl_frame(a->opcode);
}

static void chunk_cb(wslay_event_context_ptr ctx,
		     const struct wslay_event_on_frame_recv_chunk_arg *a, void *ud)
{
	struct ws_stream *w = ud;

	(void)ctx;
	/* control frames come here too: only data frames carry the stream */
	if (!a->data_length || w->in_ctrl)
		return;
	if (w->d_off + w->d_len + a->data_length > DATA_CAP) {
		memmove(w->data, w->data + w->d_off, w->d_len);
		w->d_off = 0;
	}
	memcpy(w->data + w->d_off + w->d_len, a->data, a->data_length);
	w->d_len += a->data_length;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
		   void *ud)
{
	struct ws_stream *w = ud;

	(void)ctx;
	if (a->opcode == WSLAY_PONG)
		w->last_pong = loop_now(w->s.loop);
}

/* ---- moving bytes ---- */

static bool out_pending(const struct ws_stream *w)
{
	return w->o_len || (w->ctx && wslay_event_want_write(w->ctx));
}

/* Buffers exist only while they hold bytes: an idle connection keeps none. */
static int need_buf(struct ws_stream *w, uint8_t **b, size_t cap)
{
	if (!*b && !(*b = malloc(cap)))
		return fail(w, -ENOMEM, "out of memory");
	return 0;
}

static void drop_buf(uint8_t **b, size_t used)
{
	if (!used) {
		free(*b);
		*b = NULL;
	}
}

/* Write what wslay has queued; 0 (possibly with bytes still pending) or an error. */
static int flush(struct ws_stream *w)
{
	while (!w->err) {
		ssize_t n;

		if (!w->o_len && w->ctx && wslay_event_want_write(w->ctx)) {
			if (need_buf(w, &w->out, OUT_CAP))
				return w->err;
			w->o_off = 0;
			if (wslay_event_send(w->ctx) < 0)
				return fail(w, -EIO, "send failed");
		}
		if (!w->o_len) {
			drop_buf(&w->out, 0);
			return 0;
		}
		n = stream_write(w->lower, w->out + w->o_off, w->o_len);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return lower_fail(w, (int)n);
		w->o_off += (size_t)n;
		w->o_len -= (size_t)n;
		if (!w->o_len)
			w->o_off = 0;
	}
	return w->err;
}

/* Run wslay over what the lower stream has, into data. */
static void pull(struct ws_stream *w)
{
	int rc;

	if (w->rd_done || w->err || need_buf(w, &w->in, IN_CAP) || need_buf(w, &w->data, DATA_CAP))
		return;
	if (w->d_len && w->d_off) {
		memmove(w->data, w->data + w->d_off, w->d_len);
		w->d_off = 0;
	}
	rc = wslay_event_recv(w->ctx);
	if (rc == WSLAY_ERR_NOMEM) {
		fail(w, -ENOMEM, "out of memory");
		return;
	}
	if (w->err)
		return;
	if (!wslay_event_get_read_enabled(w->ctx)) {
		if (wslay_event_get_close_received(w->ctx)) {
			w->rd_done = true;      /* a Close frame: the stream ends, wslay echoes it */
		} else {
			/* wslay refused a frame and queued its Close: send it, then fail */
			unsigned code;

			flush(w);
			code = wslay_event_get_close_sent(w->ctx)
				       ? wslay_event_get_status_code_sent(w->ctx) : 0;
			if (code == WSLAY_CODE_MESSAGE_TOO_BIG)
				fail(w, -EMSGSIZE, "frame over the limit of %u bytes (close 1009)",
				     WS_MAX_FRAME);
			else
				fail(w, -EPROTO, "protocol error in a frame (close %u)", code);
			return;
		}
	} else if (w->lower_eof && !w->in_len) {
		w->rd_done = true;              /* GOST closes without a Close frame */
	}
	drop_buf(&w->in, w->in_len);
	drop_buf(&w->data, w->d_len);
	flush(w);                               /* pongs and the Close echo */
}

/* ---- the upgrade ---- */

static int framing_init(struct ws_stream *w)
{
	static const struct wslay_event_callbacks cbs = {
		.recv_callback = recv_cb,
		.send_callback = send_cb,
		.genmask_callback = genmask_cb,
		.on_frame_recv_start_callback = frame_start_cb,
		.on_frame_recv_chunk_callback = chunk_cb,
		.on_msg_recv_callback = msg_cb,
	};
	int rc = w->server ? wslay_event_context_server_init(&w->ctx, &cbs, w)
			   : wslay_event_context_client_init(&w->ctx, &cbs, w);

	if (rc)
		return fail(w, -ENOMEM, "out of memory");
	/* payload goes straight to the stream; the limit then applies per frame */
	wslay_event_config_set_no_buffering(w->ctx, 1);
	wslay_event_config_set_max_recv_msg_length(w->ctx, WS_MAX_FRAME);
	w->hs_done = true;
	w->last_pong = loop_now(w->s.loop);
	loop_timer_stop(w->s.loop, &w->timer);
	if (w->keepalive_ms)
		loop_timer_start(w->s.loop, &w->timer, w->keepalive_ms);
	return 1;
}

/* Write hs_out; 1 when all of it is out. */
static int send_hs(struct ws_stream *w)
{
	while (w->hs_off < w->hs_len) {
		ssize_t n = stream_write(w->lower, w->hs_out + w->hs_off, w->hs_len - w->hs_off);

		if (n == -EAGAIN) {
			w->hs_need = STREAM_WR;
			return -EAGAIN;
		}
		if (n < 0)
			return lower_fail(w, (int)n);
		w->hs_off += (size_t)n;
	}
	return 1;
}

/* Read until the header block is complete; its length, -EAGAIN or an error. */
static int read_header(struct ws_stream *w)
{
	for (;;) {
		size_t end = ws_http_header_end(w->hbuf, w->hlen);
		ssize_t r;

		if (end)
			return (int)end;
		if (w->hlen == WS_MAX_HEADER)
			return -EMSGSIZE;
		r = stream_read(w->lower, w->hbuf + w->hlen, WS_MAX_HEADER - w->hlen);
		if (r == -EAGAIN) {
			w->hs_need = STREAM_RD;
			return -EAGAIN;
		}
		if (r < 0)
			return lower_fail(w, (int)r);
		if (r == 0)
			return fail(w, -ECONNRESET, "upgrade: %s", w->hlen ? "unexpected EOF" : "EOF");
		w->hlen += (size_t)r;
	}
}

/* The refusal is out: half-close, then read and drop what the client still
 * sends until it closes or the grace time ends (the timer), then fail. */
static int drain_refused(struct ws_stream *w)
{
	if (!w->draining) {
		w->draining = true;
		stream_shutdown(w->lower);
		loop_timer_start(w->s.loop, &w->timer, REFUSAL_DRAIN_MS);
	}
	for (;;) {
		ssize_t r = stream_read(w->lower, w->hbuf, WS_MAX_HEADER);

		if (r == -EAGAIN) {
			w->hs_need = STREAM_RD;
			return -EAGAIN;
		}
		if (r <= 0)
			return fail(w, -EPROTO, "%s", w->refusal);
	}
}

static int server_step(struct ws_stream *w)
{
	char why[200] = "";
	int end, rc;

	if (!w->hs_len) {
		end = read_header(w);
		if (end == -EMSGSIZE) {
			/* Go's answer to an oversized header block */
			w->hs_len = (size_t)snprintf(w->hs_out, sizeof(w->hs_out),
				"HTTP/1.1 431 Request Header Fields Too Large\r\n"
				"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
				"431 Request Header Fields Too Large");
			w->hs_refusal = 431;
			snprintf(why, sizeof(why), "request header over %d bytes", WS_MAX_HEADER);
		} else if (end < 0) {
			return end;
		} else {
			size_t rl = 0;

			w->hs_refusal = ws_server_answer(w->hbuf, (size_t)end, w->path, w->hs_out,
							 sizeof(w->hs_out), &rl, why, sizeof(why));
			w->hs_len = rl;
			/* gorilla refuses bytes sent before the 101, without a word */
			if (!w->hs_refusal && (size_t)end < w->hlen)
				return fail(w, -EPROTO, "%s",
					    "client sent data before handshake is complete");
		}
		if (w->hs_refusal)
			snprintf(w->refusal, sizeof(w->refusal), "upgrade refused (%d): %s",
				 w->hs_refusal, why);
	}
	rc = send_hs(w);
	if (rc != 1)
		return rc;
	if (w->hs_refusal)
		return drain_refused(w);
	return framing_init(w);
}

static int client_step(struct ws_stream *w)
{
	char why[160];
	int end, rc;

	if (!w->hs_len) {
		int n;

		if (ws_new_key(w->key))
			return fail(w, -EIO, "no random bytes for the key");
		n = ws_client_request(w->hs_out, sizeof(w->hs_out), w->host, w->path, w->key);
		if (n < 0)
			return fail(w, -EINVAL, "request too long for host %s", w->host);
		w->hs_len = (size_t)n;
	}
	rc = send_hs(w);
	if (rc != 1)
		return rc;
	end = read_header(w);
	if (end == -EMSGSIZE)
		return fail(w, -EPROTO, "upgrade response header too long");
	if (end < 0)
		return end;
	if (ws_client_check(w->hbuf, (size_t)end, w->key, why, sizeof(why)))
		return fail(w, -EPROTO, "%s", why);
	rc = framing_init(w);
	if (rc == 1 && (size_t)end < w->hlen) {
		/* frames that came right behind the 101 */
		if (need_buf(w, &w->in, IN_CAP))
			return w->err;
		w->in_len = w->hlen - (size_t)end;
		memcpy(w->in, w->hbuf + end, w->in_len);
	}
	return rc;
}

static int hs_step(struct ws_stream *w)
{
	int rc;

	if (w->err)
		return w->err;
	if (w->hs_done)
		return 1;
	if (!w->hbuf && !(w->hbuf = malloc(WS_MAX_HEADER)))
		return fail(w, -ENOMEM, "out of memory");
	rc = w->server ? server_step(w) : client_step(w);
	if (rc == 1) {
		free(w->hbuf);
		w->hbuf = NULL;
	}
	return rc;
}

static void timer_cb(struct loop_timer *t)
{
	struct ws_stream *w = CONTAINER_OF(t, struct ws_stream, timer);
	static const struct wslay_event_msg ping = { WSLAY_PING, NULL, 0 };

	if (w->draining) {
		fail(w, -EPROTO, "%s", w->refusal);
	} else if (!w->hs_done) {
		fail(w, -ETIMEDOUT, "upgrade: handshake timeout");
	} else if (loop_now(w->s.loop) - w->last_pong > 2ull * w->keepalive_ms) {
		/* GOST's dialer: the read deadline is two periods, pushed by pongs */
		fail(w, -ETIMEDOUT, "keepalive: no pong in two periods");
	} else {
		if (wslay_event_queue_msg(w->ctx, &ping) == WSLAY_ERR_NOMEM)
			fail(w, -ENOMEM, "out of memory");
		flush(w);
		loop_timer_start(w->s.loop, &w->timer, w->keepalive_ms);
	}
	update_lower(w);
}

/* ---- readiness ---- */

static void update_lower(struct ws_stream *w)
{
	unsigned ev = 0;
	bool kick = false;

	if (w->err) {
		kick = w->want != 0;
	} else if (!w->hs_done) {
		if (w->want)
			ev = w->hs_need;
	} else {
		if (w->want & STREAM_RD) {
			if (w->d_len || w->in_len || w->rd_done)
				kick = true;
			else
				ev |= STREAM_RD;
		}
		if ((w->want & STREAM_WR) || out_pending(w))
			ev |= STREAM_WR;
	}
	stream_want(w->lower, ev);
	if (kick)
		loop_defer(w->s.loop, &w->kick);
}

static void lower_cb(struct stream *lower, unsigned events, void *ud)
{
	struct ws_stream *w = ud;
	unsigned ev;

	(void)lower;
	if (!w->hs_done || w->err) {
		ev = w->want;
	} else {
		if ((events & STREAM_WR) && out_pending(w))
			flush(w);
		ev = w->want & events;
		if (out_pending(w))
			ev &= ~STREAM_WR;
		if (w->err)
			ev = w->want;
	}
	if (ev && w->s.cb)
		w->s.cb(&w->s, ev, w->s.ud);
	else if (w->hs_done && !w->err && !out_pending(w) && !(w->want & STREAM_WR))
		update_lower(w);        /* the frames are out: stop watching for WR */
}

static void kick_cb(struct loop_task *k)
{
	struct ws_stream *w = CONTAINER_OF(k, struct ws_stream, kick);
	unsigned ev = w->err ? w->want : w->want & STREAM_RD;

	if (ev && w->s.cb)
		w->s.cb(&w->s, ev, w->s.ud);
}

/* ---- stream ops ---- */

static ssize_t ws_read(struct stream *s, void *buf, size_t len)
{
	struct ws_stream *w = (struct ws_stream *)s;
	int rc = hs_step(w);
	size_t n;

	if (rc != 1)
		return rc;
	if (!w->d_len)
		pull(w);
	if (w->d_len) {
		n = len < w->d_len ? len : w->d_len;
		memcpy(buf, w->data + w->d_off, n);
		w->d_off += n;
		w->d_len -= n;
		if (!w->d_len)
			w->d_off = 0;
		drop_buf(&w->data, w->d_len);
		return (ssize_t)n;
	}
	if (w->err)
		return w->err;
	return w->rd_done ? 0 : -EAGAIN;
}

static ssize_t ws_write(struct stream *s, const void *buf, size_t len)
{
	struct ws_stream *w = (struct ws_stream *)s;
	struct wslay_event_msg m = { WSLAY_BINARY_FRAME, buf, len < MSG_MAX ? len : MSG_MAX };
	int rc = hs_step(w);

	if (rc != 1)
		return rc;
	rc = flush(w);
	if (rc)
		return rc;
	if (out_pending(w))
		return -EAGAIN;
	if (!len)
		return 0;
	rc = wslay_event_queue_msg(w->ctx, &m);
	if (rc == WSLAY_ERR_NO_MORE_MSG)
		return -EPIPE;          /* a Close went out or came in */
	if (rc)
		return -ENOMEM;
	flush(w);                       /* an error shows on the next call */
	return (ssize_t)m.msg_length;
}

static int ws_shutdown(struct stream *s)
{
	struct ws_stream *w = (struct ws_stream *)s;
	int rc;

	if (w->err)
		return w->err;
	if (!w->hs_done)
		return stream_shutdown(w->lower);
	rc = flush(w);
	if (rc)
		return rc;
	if (out_pending(w))
		return -EAGAIN;
	return stream_shutdown(w->lower);
}

static void ws_want(struct stream *s, unsigned events)
{
	struct ws_stream *w = (struct ws_stream *)s;

	w->want = events;
	update_lower(w);
}

static void ws_close(struct stream *s, bool abort)
{
	struct ws_stream *w = (struct ws_stream *)s;

	loop_timer_stop(s->loop, &w->timer);
	loop_cancel(s->loop, &w->kick);
	if (w->ctx)
		wslay_event_context_free(w->ctx);
	free(w->hbuf);
	free(w->in);
	free(w->data);
	free(w->out);
	stream_close(w->lower, abort);
	free(w);
}

static int ws_raw_fd(struct stream *s)
{
	(void)s;
	return -1;
}

static int ws_detach(struct stream *s)
{
	(void)s;
	return -EINVAL;
}

static void ws_describe(struct stream *s, char *out, size_t cap)
{
	struct ws_stream *w = (struct ws_stream *)s;
	char lower[48];

	stream_describe(w->lower, lower, sizeof(lower));
	/* WebSocket over TLS is GOST's wss */
	if (!strncmp(lower, "tls>", 4))
		snprintf(out, cap, "wss>%s", lower + 4);
	else
		snprintf(out, cap, "ws>%s", lower);
}

static const char *ws_error_text(struct stream *s)
{
	struct ws_stream *w = (struct ws_stream *)s;

	return w->errtext[0] ? w->errtext : stream_error_text(w->lower);
}

static int ws_local_addr(struct stream *s, struct sockaddr_storage *ss)
{
	return stream_local_addr(((struct ws_stream *)s)->lower, ss);
}

static int ws_handshake(struct stream *s)
{
	int rc = hs_step((struct ws_stream *)s);

	return rc == -EAGAIN ? 0 : rc;
}

static const char *ws_tls_info(struct stream *s)
{
	return stream_tls_info(((struct ws_stream *)s)->lower);
}

static const struct stream_ops ws_ops = {
	.read = ws_read,
	.write = ws_write,
	.shutdown = ws_shutdown,
	.want = ws_want,
	.close = ws_close,
	.raw_fd = ws_raw_fd,
	.detach = ws_detach,
	.describe = ws_describe,
	.error_text = ws_error_text,
	.local_addr = ws_local_addr,
	.handshake = ws_handshake,
	.tls_info = ws_tls_info,
};

struct stream *ws_stream_new(struct stream *lower, const struct ws_opts *o)
{
	struct ws_stream *w = calloc(1, sizeof(*w));

	if (!w) {
		stream_close(lower, false);
		return NULL;
	}
	w->s.ops = &ws_ops;
	w->s.loop = lower->loop;
	w->lower = lower;
	w->server = o->server;
	util_strcpy(w->path, sizeof(w->path), o->path && *o->path ? o->path : "/ws");
	util_strcpy(w->host, sizeof(w->host), o->host ? o->host : "");
	w->keepalive_ms = o->server ? 0 : o->keepalive_ms;
	w->hs_need = o->server ? STREAM_RD : STREAM_WR;
	loop_timer_init(&w->timer, timer_cb);
	loop_task_init(&w->kick, kick_cb);
	stream_set_cb(lower, lower_cb, w);
	if (o->handshake_timeout_ms)
		loop_timer_start(w->s.loop, &w->timer, o->handshake_timeout_ms);
	return &w->s;
}

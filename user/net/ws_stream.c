/* WebSocket stream (see ws_stream.h): the framing and the stream ops; the
 * upgrade is in ws_upgrade.c, the frame format in ws_frame.c.
 *
 * Receive: frame headers come through a read-ahead buffer (in); payload is
 * copied from it, or, when it is empty, read from the lower stream straight
 * into the caller's buffer, and unmasked in place eight bytes at a time.
 * Send: one write = one binary frame built in out (masked on the client),
 * plus at most one control frame (pong, ping, close) waiting behind it.  A
 * write is refused (-EAGAIN) while out holds bytes: back-pressure is
 * interest switched off, never a growing buffer.  Buffers exist only while
 * they hold bytes. */
#include "net/ws_stream.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "base/util.h"
#include "net/ws_internal.h"

static void update_lower(struct ws_stream *w);

int ws_fail(struct ws_stream *w, int err, const char *fmt, ...)
{
	if (!w->err) {
		char m[180];
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(m, sizeof(m), fmt, ap);
		va_end(ap);
		snprintf(w->errtext, sizeof(w->errtext), "ws: %s", m);
		w->err = err;
	}
	return w->err;
}

int ws_lower_fail(struct ws_stream *w, int err)
{
	const char *t = stream_error_text(w->lower);

	return ws_fail(w, err, "%s", t ? t : strerror(-err));
}

static int need_buf(struct ws_stream *w, uint8_t **b, size_t cap)
{
	if (!*b && !(*b = malloc(cap)))
		return ws_fail(w, -ENOMEM, "out of memory");
	return 0;
}

static void drop_buf(uint8_t **b, size_t used)
{
	if (!used) {
		free(*b);
		*b = NULL;
	}
}

static bool out_pending(const struct ws_stream *w)
{
	return w->o_len || w->c_len;
}

/* ---- sending ---- */

/* Write the data frame, then the control frame; 0 (maybe with bytes still
 * pending) or an error. */
static int flush(struct ws_stream *w)
{
	while (!w->err && out_pending(w)) {
		bool data = w->o_len > 0;
		uint8_t *p = data ? w->out + w->o_off : w->cout + w->c_off;
		size_t *off = data ? &w->o_off : &w->c_off, *len = data ? &w->o_len : &w->c_len;
		ssize_t n = stream_write(w->lower, p, *len);

		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return ws_lower_fail(w, (int)n);
		*off += (size_t)n;
		*len -= (size_t)n;
		if (!*len)
			*off = 0;
	}
	drop_buf(&w->out, w->o_len);
	return w->err;
}

static int frame_key(struct ws_stream *w, uint8_t key[4])
{
	if (w->server)
		return 0;
	return RAND_bytes(key, 4) == 1 ? 0 : ws_fail(w, -EIO, "no random bytes for a mask");
}

/* Put a control frame behind the data frame; one at a time (a ping that
 * comes while the last pong is still going out gets none, as RFC 6455
 * allows), nothing after our Close. */
static void queue_control(struct ws_stream *w, uint8_t opcode, const uint8_t *p, size_t n)
{
	uint8_t key[4];
	size_t hl;

	if (w->close_sent || w->c_off || frame_key(w, key))
		return;
	hl = ws_hdr_encode(w->cout, true, opcode, n, w->server ? NULL : key);
	if (w->server)
		memcpy(w->cout + hl, p, n);
	else
		ws_mask(w->cout + hl, p, n, key, 0);
	w->c_len = hl + n;
	if (opcode == WS_OP_CLOSE)
		w->close_sent = true;
}

/* A frame broke the rules: answer with a Close and fail. */
static int protocol_error(struct ws_stream *w, int code, const char *why)
{
	uint8_t c[2] = { (uint8_t)(code >> 8), (uint8_t)code };

	queue_control(w, WS_OP_CLOSE, c, sizeof(c));
	flush(w);
	if (code == WS_CLOSE_TOO_BIG)
		return ws_fail(w, -EMSGSIZE, "frame of %llu bytes over the limit of %u (close 1009)",
			       (unsigned long long)w->rh.len, WS_MAX_FRAME);
	return ws_fail(w, -EPROTO, "%s (close %d)", why, code);
}

/* ---- receiving ---- */

/* Read more raw bytes behind what in holds: 1 some, 0 EOF, -EAGAIN or an error. */
static int fill(struct ws_stream *w)
{
	ssize_t r;

	if (need_buf(w, &w->in, WS_IN_CAP))
		return w->err;
	if (w->in_off && w->in_len)
		memmove(w->in, w->in + w->in_off, w->in_len);  /* a split header: < 14 bytes */
	w->in_off = 0;
	r = stream_read(w->lower, w->in + w->in_len, WS_IN_CAP - w->in_len);
	if (r == -EAGAIN) {
		w->rd_blocked = true;
		return -EAGAIN;
	}
	if (r < 0)
		return ws_lower_fail(w, (int)r);
	if (r == 0) {
		w->lower_eof = true;
		return 0;
	}
	w->rd_blocked = false;
	w->in_len += (size_t)r;
	return 1;
}

static void consume(struct ws_stream *w, size_t n)
{
	w->in_off += n;
	w->in_len -= n;
	if (!w->in_len)
		w->in_off = 0;
}

static int handle_control(struct ws_stream *w)
{
	uint8_t *p = w->ctrl;
	size_t n = w->ctrl_len;
	unsigned code;

	switch (w->rh.opcode) {
	case WS_OP_PING:
		queue_control(w, WS_OP_PONG, p, n);
		break;
	case WS_OP_PONG:
		w->last_pong = loop_now(w->s.loop);
		break;
	default:                /* Close: echo the code (gorilla's default handler) and end */
		code = n >= 2 ? (unsigned)p[0] << 8 | p[1] : WS_CLOSE_NO_STATUS;
		if (n >= 2 && !ws_close_code_valid(code))
			return protocol_error(w, WS_CLOSE_PROTOCOL, "invalid close code");
		queue_control(w, WS_OP_CLOSE, p, n >= 2 ? 2 : 0);
		w->rd_done = true;
		break;
	}
	flush(w);
	return w->err;
}

/* Collect a control frame's payload; 0 when handled, -EAGAIN or an error. */
static int read_control(struct ws_stream *w)
{
	while (w->ctrl_len < w->rh.len) {
		size_t n;
		int rc;

		if (!w->in_len) {
			rc = fill(w);
			if (rc == 0)
				return ws_fail(w, -EPROTO, "unexpected EOF inside a frame");
			if (rc < 0)
				return rc;
			continue;
		}
		n = (size_t)w->rh.len - w->ctrl_len;
		n = n < w->in_len ? n : w->in_len;
		memcpy(w->ctrl + w->ctrl_len, w->in + w->in_off, n);
		consume(w, n);
		w->ctrl_len += n;
	}
	if (w->rh.masked)
		ws_mask(w->ctrl, w->ctrl, w->ctrl_len, w->rh.key, 0);
	w->in_frame = false;
	return handle_control(w);
}

/* Parse the next frame header; 0 when one is in, -EAGAIN, 1 at a clean end, or an error. */
static int next_header(struct ws_stream *w)
{
	const char *why = NULL;
	size_t hl;
	int rc;

	while (!(hl = w->in_len ? ws_hdr_parse(w->in + w->in_off, w->in_len, &w->rh) : 0)) {
		rc = fill(w);
		if (rc == 0) {
			if (w->in_len)
				return ws_fail(w, -EPROTO, "unexpected EOF inside a frame header");
			w->rd_done = true;      /* GOST closes without a Close frame */
			return 1;
		}
		if (rc < 0)
			return rc;
	}
	consume(w, hl);
	rc = ws_hdr_check(&w->rh, w->server, w->in_msg, WS_MAX_FRAME, &why);
	if (rc)
		return protocol_error(w, rc, why);
	w->in_frame = true;
	w->r_left = w->rh.len;
	w->r_pos = 0;
	w->ctrl_len = 0;
	if (!ws_is_control(w->rh.opcode))
		w->in_msg = !w->rh.fin;
	return 0;
}

/* Payload of the current data frame into buf; > 0 bytes, -EAGAIN or an error. */
static ssize_t read_payload(struct ws_stream *w, uint8_t *buf, size_t len)
{
	size_t n = len < w->r_left ? len : (size_t)w->r_left;

	if (w->in_len) {
		n = n < w->in_len ? n : w->in_len;
		if (w->rh.masked)
			ws_mask(buf, w->in + w->in_off, n, w->rh.key, w->r_pos);
		else
			memcpy(buf, w->in + w->in_off, n);
		consume(w, n);
	} else {
		ssize_t r = stream_read(w->lower, buf, n);

		if (r == -EAGAIN) {
			w->rd_blocked = true;
			return r;
		}
		if (r < 0)
			return ws_lower_fail(w, (int)r);
		if (r == 0)
			return ws_fail(w, -EPROTO, "unexpected EOF inside a frame");
		w->rd_blocked = false;
		n = (size_t)r;
		if (w->rh.masked)
			ws_mask(buf, buf, n, w->rh.key, w->r_pos);
	}
	w->r_pos += n;
	w->r_left -= n;
	if (!w->r_left)
		w->in_frame = false;
	return (ssize_t)n;
}

/* ---- the upgrade's end, timers and readiness ---- */

int ws_framing_start(struct ws_stream *w, const char *extra, size_t n)
{
	if (n) {
		if (need_buf(w, &w->in, WS_IN_CAP))
			return w->err;
		memcpy(w->in, extra, n);
		w->in_len = n;
	}
	w->hs_done = true;
	w->last_pong = loop_now(w->s.loop);
	loop_timer_stop(w->s.loop, &w->timer);
	if (w->keepalive_ms)
		loop_timer_start(w->s.loop, &w->timer, w->keepalive_ms);
	return 1;
}

static int hs_step(struct ws_stream *w)
{
	if (w->err)
		return w->err;
	return w->hs_done ? 1 : ws_upgrade_step(w);
}

static void timer_cb(struct loop_timer *t)
{
	struct ws_stream *w = CONTAINER_OF(t, struct ws_stream, timer);

	if (w->draining) {
		ws_fail(w, -EPROTO, "%s", w->refusal);
	} else if (!w->hs_done) {
		ws_fail(w, -ETIMEDOUT, "upgrade: handshake timeout");
	} else if (loop_now(w->s.loop) - w->last_pong > 2ull * w->keepalive_ms) {
		/* GOST's dialer: the read deadline is two periods, pushed by pongs */
		ws_fail(w, -ETIMEDOUT, "keepalive: no pong in two periods");
	} else {
		queue_control(w, WS_OP_PING, NULL, 0);
		flush(w);
		loop_timer_start(w->s.loop, &w->timer, w->keepalive_ms);
	}
	update_lower(w);
}

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
			if (w->rd_done || (w->in_len && !w->rd_blocked))
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
		if (events & STREAM_RD)
			w->rd_blocked = false;
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

/* Fills buf across as many frames as are at hand (GOST's dialer sends 4 KiB
 * frames), stopping at the first wait; an error or the end after some bytes
 * is reported by the next call. */
static ssize_t ws_read(struct stream *s, void *buf, size_t len)
{
	struct ws_stream *w = (struct ws_stream *)s;
	uint8_t *p = buf;
	size_t got = 0;
	int rc = hs_step(w);

	if (rc != 1)
		return rc;
	if (!len)
		return -EINVAL;
	while (got < len && !w->err && !w->rd_done) {
		ssize_t n;

		if (!w->in_frame) {
			rc = next_header(w);
			if (rc < 0)
				break;
			continue;
		}
		if (ws_is_control(w->rh.opcode)) {
			rc = read_control(w);
			if (rc < 0)
				break;
			continue;
		}
		if (!w->r_left) {
			w->in_frame = false;            /* an empty data frame */
			continue;
		}
		n = read_payload(w, p + got, len - got);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		got += (size_t)n;
	}
	if (rc == -EAGAIN)
		drop_buf(&w->in, w->in_len);
	if (got)
		return (ssize_t)got;
	if (w->err)
		return w->err;
	return w->rd_done ? 0 : rc;
}

static ssize_t ws_write(struct stream *s, const void *buf, size_t len)
{
	struct ws_stream *w = (struct ws_stream *)s;
	size_t n = len < WS_MSG_MAX ? len : WS_MSG_MAX, hl;
	uint8_t key[4];
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
	if (w->close_sent)
		return -EPIPE;          /* a Close went out or came in */
	if (need_buf(w, &w->out, WS_OUT_CAP) || frame_key(w, key))
		return w->err;
	hl = ws_hdr_encode(w->out, true, WS_OP_BINARY, n, w->server ? NULL : key);
	if (w->server)
		memcpy(w->out + hl, buf, n);
	else
		ws_mask(w->out + hl, buf, n, key, 0);
	w->o_off = 0;
	w->o_len = hl + n;
	flush(w);                       /* an error shows on the next call */
	return (ssize_t)n;
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
	/* no Close frame: a GOST peer reads EOF, ours sees a half-close */
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
	free(w->hbuf);
	free(w->in);
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

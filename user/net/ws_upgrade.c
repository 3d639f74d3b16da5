/* The WebSocket upgrade on a stream: the client writes GOST's request and
 * checks the 101; the server reads the request, answers as GOST's listener
 * (ws_http.c) and, after a refusal, reads what the client still sends for a
 * moment so the answer is not lost to a reset. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws_internal.h"

/* after an HTTP refusal: how long to drain the client before giving up */
#define REFUSAL_DRAIN_MS 1000

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
			return ws_lower_fail(w, (int)n);
		w->hs_off += (size_t)n;
	}
	return 1;
}

/* Read until the header block is complete; its length, -EMSGSIZE, -EAGAIN or an error. */
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
			return ws_lower_fail(w, (int)r);
		if (r == 0)
			return ws_fail(w, -ECONNRESET, "upgrade: %s", w->hlen ? "unexpected EOF" : "EOF");
		w->hlen += (size_t)r;
	}
}

/* The refusal is out: half-close, then read and drop what the client still
 * sends until it closes or the drain time ends (ws_stream.c's timer). */
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
			return ws_fail(w, -EPROTO, "%s", w->refusal);
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
				return ws_fail(w, -EPROTO,
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
	return ws_framing_start(w, NULL, 0);
}

static int client_step(struct ws_stream *w)
{
	char why[160];
	int end, rc;

	if (!w->hs_len) {
		int n;

		if (ws_new_key(w->key))
			return ws_fail(w, -EIO, "no random bytes for the key");
		n = ws_client_request(w->hs_out, sizeof(w->hs_out), w->host, w->path, w->key);
		if (n < 0)
			return ws_fail(w, -EINVAL, "request too long for host %s", w->host);
		w->hs_len = (size_t)n;
	}
	rc = send_hs(w);
	if (rc != 1)
		return rc;
	end = read_header(w);
	if (end == -EMSGSIZE)
		return ws_fail(w, -EPROTO, "upgrade response header too long");
	if (end < 0)
		return end;
	if (ws_client_check(w->hbuf, (size_t)end, w->key, why, sizeof(why)))
		return ws_fail(w, -EPROTO, "%s", why);
	/* frames may have come right behind the 101 */
	return ws_framing_start(w, w->hbuf + end, w->hlen - (size_t)end);
}

int ws_upgrade_step(struct ws_stream *w)
{
	int rc;

	if (!w->hbuf && !(w->hbuf = malloc(WS_MAX_HEADER)))
		return ws_fail(w, -ENOMEM, "out of memory");
	rc = w->server ? server_step(w) : client_step(w);
	if (rc == 1) {
		free(w->hbuf);
		w->hbuf = NULL;
	}
	return rc;
}

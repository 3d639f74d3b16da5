/* An smux session (xtaci/smux v1.5.31 semantics) over any stream, with each
 * smux stream exposed as a struct stream, so the pipe, the handlers and any
 * transport (relay BIND now, KCP later) can use it like a TCP socket.
 *
 * What it follows from smux: client sessions open odd stream ids from 3,
 * server sessions even ids from 2; SYN/FIN/NOP carry no data; a frame with
 * another version or an unknown command kills the session ("invalid
 * protocol"); frames for unknown streams are read and dropped; writes are
 * split at max_frame_size; a FIN ends the peer's direction (reads drain, then
 * end; unlike smux, writing stays possible, which gives relayd-to-relayd a
 * half-close and costs a GOST peer nothing: it drops frames for a stream it
 * closed); NOP every keepalive interval, and a
 * session that received no frame during a whole keepalive timeout dies.
 * Flow control: v1 stops reading the connection while max_receive_buffer
 * bytes sit unread across the session; v2 adds per-stream windows (UPD after
 * the first read and whenever half of max_stream_buffer was read since the
 * last one; the writer keeps at most the peer's window in flight). */
#ifndef RELAYD_NET_SMUX_SESSION_H
#define RELAYD_NET_SMUX_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stream;
struct smux_session;

struct smux_config {
	uint8_t version;                /* 1 or 2; both ends must agree */
	bool keepalive_disabled;
	uint32_t keepalive_interval_ms;
	uint32_t keepalive_timeout_ms;
	uint32_t max_frame_size;        /* 1..65535 */
	uint32_t max_receive_buffer;    /* per session */
	uint32_t max_stream_buffer;     /* v2 window, <= max_receive_buffer */
};

/* smux.DefaultConfig(): version 1, 10 s / 30 s, 32768, 4 MiB, 64 KiB. */
void smux_config_default(struct smux_config *c);
/* smux.VerifyConfig's rules; 0, or -EINVAL with err saying which field. */
int smux_config_verify(const struct smux_config *c, char *err, size_t errlen);

struct smux_callbacks {
	/* The peer opened a stream; the callee owns it from now on. */
	void (*accept)(void *ud, struct stream *st);
	/* The session ended (connection closed, protocol error, keepalive
	 * timeout); called once, never from inside another session call.  The
	 * owner still has to call smux_session_free(). */
	void (*closed)(void *ud, const char *why);
};

/* Takes ownership of lower (closed on failure too).  pending: bytes already
 * read from lower that belong to the session.  name: for log lines.  NULL
 * only when out of memory. */
struct smux_session *smux_session_new(struct stream *lower, bool client,
				      const struct smux_config *c,
				      const struct smux_callbacks *cbs, void *ud,
				      const uint8_t *pending, size_t pending_len,
				      const char *name);

/* Open a stream (SYN); NULL when the session is dead, the ids are used up,
 * or out of memory. */
struct stream *smux_open(struct smux_session *ss);

/* The owner lets go: the session closes its connection (if still up), no
 * callback runs any more, and its memory goes when the last stream a user
 * still holds is closed. */
void smux_session_free(struct smux_session *ss);

bool smux_session_alive(const struct smux_session *ss);
size_t smux_session_nstreams(const struct smux_session *ss);

/* Per stream: the smux id and the bytes read and written through it. */
uint32_t smux_stream_id(struct stream *st);

#endif

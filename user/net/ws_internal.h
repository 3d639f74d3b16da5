/* Inside the WebSocket stream: the state shared by the framing
 * (ws_stream.c) and the HTTP upgrade that comes first (ws_upgrade.c). */
#ifndef RELAYD_NET_WS_INTERNAL_H
#define RELAYD_NET_WS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/loop.h"
#include "net/stream.h"
#include "net/ws_frame.h"
#include "net/ws_http.h"

#define WS_IN_CAP (64 * 1024)           /* raw bytes read ahead from the lower stream */
#define WS_MSG_MAX (64 * 1024)          /* one write = one message of at most this */
#define WS_OUT_CAP (WS_MSG_MAX + WS_HDR_MAX)
#define WS_HS_OUT_CAP 1024

struct ws_stream {
	struct stream s;
	struct stream *lower;
	bool server;
	char path[256], host[300];
	uint32_t keepalive_ms;
	unsigned want;
	/* the upgrade */
	bool hs_done;
	unsigned hs_need;               /* lower readiness the upgrade waits for */
	char key[WS_KEY_LEN + 1];
	char *hbuf;                     /* request/response header being read */
	size_t hlen;
	char hs_out[WS_HS_OUT_CAP];     /* request/response being written */
	size_t hs_off, hs_len;
	int hs_refusal;                 /* server: the HTTP status of a refusal being sent */
	char refusal[240];              /* and why, for the log once it is out */
	bool draining;                  /* refusal sent: reading the rest until EOF */
	/* receiving */
	uint8_t *in;
	size_t in_off, in_len;
	bool rd_blocked;                /* the last lower read had nothing */
	bool lower_eof, rd_done;
	bool in_frame, in_msg;          /* inside a frame; inside a fragmented data message */
	struct ws_hdr rh;
	uint64_t r_left, r_pos;
	uint8_t ctrl[WS_CTRL_MAX];
	size_t ctrl_len;
	/* sending: a data frame, and one control frame */
	uint8_t *out;
	size_t o_off, o_len;
	uint8_t cout[WS_HDR_MAX + WS_CTRL_MAX];
	size_t c_off, c_len;
	bool close_sent;
	uint64_t last_pong;
	int err;
	char errtext[200];
	struct loop_timer timer;        /* upgrade deadline, refusal drain, then keepalive */
	struct loop_task kick;
};

int ws_fail(struct ws_stream *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ws_lower_fail(struct ws_stream *w, int err);

/* Run the upgrade: 1 done (framing may start), -EAGAIN (hs_need set), or an error. */
int ws_upgrade_step(struct ws_stream *w);

/* The upgrade is done; bytes that came behind the response go to the framing. */
int ws_framing_start(struct ws_stream *w, const char *extra, size_t n);

#endif

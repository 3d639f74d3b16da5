/* Unit tests for the smux frame codec (user/net/smux_codec.c) against
 * smux-vectors.json, which xtaci/smux v1.5.31 itself produced: every frame is
 * rebuilt with the encoder and compared byte for byte, every frame and both
 * captured relay BIND sequences decode back to the recorded fields, and the
 * protocol-error cases fail exactly where smux kills the session.  The
 * vectors with no bytes (no frame written) are checked by test_smux_session. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "net/smux_codec.h"
#include "proxy/relay_proto.h"
#include "unit.h"
#include "vec.h"

static json_t *g_vec;
static int g_frames_checked, g_errors_checked, g_sequences_checked;

/* Rebuilds one frame from its decoded fields (an UPD without recorded
 * numbers takes them from the wire: a round trip); returns its length. */
static size_t build_frame(const json_t *f, const uint8_t *wire, size_t wn, uint8_t *out,
			  size_t cap)
{
	uint8_t ver = (uint8_t)vec_int(f, "ver", -1), cmd = (uint8_t)vec_int(f, "cmd", -1);
	uint32_t sid = (uint32_t)vec_int(f, "sid_le", -1);
	size_t plen = 0;
	uint8_t *payload;

	if (cmd == SMUX_UPD && json_object_get(f, "upd_consumed_le")) {
		smux_upd_encode(out, ver, sid, (uint32_t)vec_int(f, "upd_consumed_le", 0),
				(uint32_t)vec_int(f, "upd_window_le", 0));
		return SMUX_HDR_LEN + SMUX_UPD_LEN;
	}
	if (cmd == SMUX_UPD && wn == SMUX_HDR_LEN + SMUX_UPD_LEN) {
		uint32_t consumed, window;

		smux_upd_decode(wire + SMUX_HDR_LEN, &consumed, &window);
		smux_upd_encode(out, ver, sid, consumed, window);
		return SMUX_HDR_LEN + SMUX_UPD_LEN;
	}
	smux_hdr_encode(out, ver, cmd, (uint16_t)vec_int(f, "length_le", -1), sid);
	if (json_is_true(json_object_get(f, "hex_is_header_only")))
		return SMUX_HDR_LEN;
	payload = vec_unhex(vec_str(f, "payload_hex"), &plen);
	if (SMUX_HDR_LEN + plen > cap)
		abort();
	if (plen)
		memcpy(out + SMUX_HDR_LEN, payload, plen);
	free(payload);
	return SMUX_HDR_LEN + plen;
}

/* Decodes the frame at buf and checks it against the recorded fields;
 * returns the bytes the frame takes on the wire (0 on a mismatch). */
static size_t check_decoded(const uint8_t *buf, size_t len, const json_t *f, uint8_t session_ver)
{
	struct smux_hdr h;
	size_t body;
	int rc = smux_hdr_decode(buf, len, session_ver, &h);

	CHECK_INT(rc, SMUX_HDR_LEN);
	if (rc != SMUX_HDR_LEN)
		return 0;
	CHECK_INT(h.ver, vec_int(f, "ver", -1));
	CHECK_INT(h.cmd, vec_int(f, "cmd", -1));
	CHECK_INT(h.len, vec_int(f, "length_le", -1));
	CHECK_INT(h.sid, vec_int(f, "sid_le", -1));
	CHECK_STR(smux_cmd_name(h.cmd), vec_str(f, "cmd_name"));
	body = smux_body_len(&h);
	if (json_is_true(json_object_get(f, "hex_is_header_only"))) {
		CHECK_INT(body, vec_int(f, "payload_len", -1));
		return SMUX_HDR_LEN;
	}
	CHECK(SMUX_HDR_LEN + body <= len);
	if (h.cmd == SMUX_UPD) {
		uint32_t consumed, window;

		smux_upd_decode(buf + SMUX_HDR_LEN, &consumed, &window);
		if (json_object_get(f, "upd_consumed_le")) {
			CHECK_INT(consumed, vec_int(f, "upd_consumed_le", -1));
			CHECK_INT(window, vec_int(f, "upd_window_le", -1));
		}
	}
	if (h.cmd == SMUX_PSH || (h.cmd == SMUX_UPD && vec_str(f, "payload_hex"))) {
		size_t plen;
		uint8_t *p = vec_unhex(vec_str(f, "payload_hex"), &plen);

		CHECK_MEM(buf + SMUX_HDR_LEN, body, p, plen);
		free(p);
	} else if (h.cmd != SMUX_UPD) {
		CHECK_INT(body, 0);
	}
	return SMUX_HDR_LEN + body;
}

static void test_frames_encode_byte_exact_and_decode_back(void)
{
	size_t i;
	json_t *e;

	json_array_foreach(g_vec, i, e) {
		const json_t *m = json_object_get(e, "meaning");
		uint8_t out[SMUX_HDR_LEN + 256];
		size_t n, wn, len;
		uint8_t *wire;

		if (!vec_str(m, "header_hex") || json_is_string(json_object_get(e, "decode_error")))
			continue;
		wire = vec_unhex(vec_str(e, "hex"), &wn);
		n = build_frame(m, wire, wn, out, sizeof(out));
		CHECK_MEM(out, n, wire, wn);
		/* an exactly-sized copy: the decoder must not read past it */
		len = check_decoded(wire, wn, m, (uint8_t)vec_int(m, "session_version",
								  vec_int(m, "ver", -1)));
		CHECK_INT(len, wn);
		/* a header cut short is "need more", never an error */
		for (size_t p = 0; p < SMUX_HDR_LEN; p++) {
			struct smux_hdr h;
			uint8_t *c = p ? malloc(p) : NULL;

			if (p && !c)
				abort();
			if (p)
				memcpy(c, wire, p);
			CHECK_INT(smux_hdr_decode(c, p, wire[0], &h), 0);
			free(c);
		}
		free(wire);
		g_frames_checked++;
	}
	CHECK_INT(g_frames_checked, 18);
}

/* Version mismatch and unknown cmd kill the session ("invalid protocol"). */
static void test_protocol_errors_are_detected(void)
{
	size_t i;
	json_t *e;

	json_array_foreach(g_vec, i, e) {
		const json_t *m = json_object_get(e, "meaning");
		const char *err = vec_str(e, "decode_error");
		struct smux_hdr h;
		size_t n;
		uint8_t *wire;

		if (!err)
			continue;
		CHECK_STR(err, "invalid protocol");
		wire = vec_unhex(vec_str(e, "hex"), &n);
		CHECK_INT(smux_hdr_decode(wire, n, (uint8_t)vec_int(m, "session_version", -1), &h),
			  SMUX_E_PROTO);
		free(wire);
		g_errors_checked++;
	}
	CHECK_INT(g_errors_checked, 2);
	/* and a cmd of 4 (UPD) is valid in a v1 session */
	{
		static const uint8_t upd[] = { 1, 4, 8, 0, 3, 0, 0, 0 };
		struct smux_hdr h;

		CHECK_INT(smux_hdr_decode(upd, sizeof(upd), 1, &h), SMUX_HDR_LEN);
		CHECK_INT(smux_body_len(&h), SMUX_UPD_LEN);
	}
}

/* UPD body is 8 bytes whatever LENGTH says; SYN/FIN/NOP never carry data. */
static void test_body_length_rules(void)
{
	struct smux_hdr h = { .ver = 1, .cmd = SMUX_UPD, .len = 0, .sid = 3 };

	CHECK_INT(smux_body_len(&h), 8);
	h.len = 100;
	CHECK_INT(smux_body_len(&h), 8);
	h.cmd = SMUX_SYN;
	CHECK_INT(smux_body_len(&h), 0);
	h.cmd = SMUX_FIN;
	CHECK_INT(smux_body_len(&h), 0);
	h.cmd = SMUX_NOP;
	CHECK_INT(smux_body_len(&h), 0);
	h.cmd = SMUX_PSH;
	h.len = 65535;
	CHECK_INT(smux_body_len(&h), 65535);
}

/* Walks a captured byte sequence frame by frame against its recorded steps. */
static void walk_frames(const uint8_t *wire, size_t n, size_t off, const json_t *frames,
			const char *key)
{
	size_t k;
	const json_t *st;

	json_array_foreach(frames, k, st) {
		const json_t *f = json_object_get(st, key);
		size_t used, hn;
		uint8_t *h;

		if (!f)
			continue;
		used = check_decoded(wire + off, n - off, f, 1);
		h = vec_unhex(vec_str(st, "hex"), &hn);
		CHECK_MEM(wire + off, used, h, hn);
		free(h);
		if (!used)
			return;
		off += used;
	}
	CHECK_INT(off, n);
}

static void test_relay_bind_sequences_decode(void)
{
	size_t i;
	json_t *e;

	json_array_foreach(g_vec, i, e) {
		const char *name = vec_str(e, "name");
		const json_t *m = json_object_get(e, "meaning");
		size_t n;
		uint8_t *wire;

		if (strncmp(name, "relay_bind_", 11))
			continue;
		wire = vec_unhex(vec_str(e, "hex"), &n);
		if (json_object_get(m, "steps")) {
			/* the plain BIND response, then smux; the peer header rides in a PSH */
			struct relay_msg msg, peer;
			char text[64];
			int rc = relay_decode(wire, n, RELAY_DECODE_TOLERANT, &msg, NULL);
			struct smux_hdr h;
			size_t off;

			CHECK_INT(rc, 14);
			CHECK_INT(msg.code, RELAY_STATUS_OK);
			relay_addr_format(&msg.addr, text, sizeof(text));
			CHECK_STR(text, "0.0.0.0:2222");
			walk_frames(wire, n, (size_t)rc, json_object_get(m, "steps"), "frame");
			off = (size_t)rc + SMUX_HDR_LEN;        /* past the SYN */
			CHECK_INT(smux_hdr_decode(wire + off, n - off, 1, &h), SMUX_HDR_LEN);
			CHECK_INT(relay_decode(wire + off + SMUX_HDR_LEN, h.len, RELAY_DECODE_TOLERANT,
					       &peer, NULL), h.len);
			relay_addr_format(&peer.addr, text, sizeof(text));
			CHECK_STR(text, "203.0.113.7:54321");
		} else {
			walk_frames(wire, n, 0, json_object_get(m, "frames"), "frame");
		}
		free(wire);
		g_sequences_checked++;
	}
	CHECK_INT(g_sequences_checked, 2);
}

int main(void)
{
	g_vec = vec_load("smux-vectors.json");
	if (!g_vec)
		return 1;
	CHECK_INT(json_array_size(g_vec), 25);
	RUN(test_frames_encode_byte_exact_and_decode_back);
	RUN(test_protocol_errors_are_detected);
	RUN(test_body_length_rules);
	RUN(test_relay_bind_sequences_decode);
	json_decref(g_vec);
	return UNIT_DONE();
}

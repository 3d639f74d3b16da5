/* Unit tests for WebSocket frames (user/net/ws_frame.c): RFC 6455 §5.7's
 * example frames byte for byte, every length encoding and its boundaries,
 * header parsing at every prefix, gorilla's receive checks with their close
 * codes, and the word-wide mask against a byte-by-byte one at every length
 * and key offset. */
#include <stdint.h>

#include "net/ws_frame.h"
#include "unit.h"

static const uint8_t rfc_key[4] = { 0x37, 0xfa, 0x21, 0x3d };

static void test_rfc6455_examples(void)
{
	static const uint8_t hello_unmasked[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
	static const uint8_t hello_masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
						0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	static const uint8_t ping[] = { 0x89, 0x05 };
	static const uint8_t bin256[] = { 0x82, 0x7e, 0x01, 0x00 };
	static const uint8_t bin64k[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0 };
	uint8_t out[64];
	size_t n;

	n = ws_hdr_encode(out, true, WS_OP_TEXT, 5, NULL);
	memcpy(out + n, "Hello", 5);
	CHECK_MEM(out, n + 5, hello_unmasked, sizeof(hello_unmasked));
	n = ws_hdr_encode(out, true, WS_OP_TEXT, 5, rfc_key);
	ws_mask(out + n, (const uint8_t *)"Hello", 5, rfc_key, 0);
	CHECK_MEM(out, n + 5, hello_masked, sizeof(hello_masked));
	CHECK_MEM(out, ws_hdr_encode(out, true, WS_OP_PING, 5, NULL), ping, sizeof(ping));
	CHECK_MEM(out, ws_hdr_encode(out, true, WS_OP_BINARY, 256, NULL), bin256, sizeof(bin256));
	CHECK_MEM(out, ws_hdr_encode(out, true, WS_OP_BINARY, 65536, NULL), bin64k, sizeof(bin64k));
}

static void test_parse_every_length_form_at_every_prefix(void)
{
	static const uint64_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 1ull << 40 };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (int masked = 0; masked < 2; masked++) {
			uint8_t buf[WS_HDR_MAX];
			struct ws_hdr h;
			size_t n = ws_hdr_encode(buf, i & 1, WS_OP_BINARY, lens[i],
						 masked ? rfc_key : NULL);

			for (size_t p = 0; p < n; p++)
				CHECK_INT(ws_hdr_parse(buf, p, &h), 0);
			CHECK_INT(ws_hdr_parse(buf, n, &h), n);
			CHECK(h.len == lens[i]);
			CHECK_INT(h.masked, masked);
			CHECK_INT(h.fin, i & 1);
			CHECK_INT(h.opcode, WS_OP_BINARY);
			if (masked)
				CHECK_MEM(h.key, 4, rfc_key, 4);
		}
	}
}

static int check(const uint8_t *b, size_t n, bool server, bool in_msg, const char **why)
{
	struct ws_hdr h;

	if (!ws_hdr_parse(b, n, &h))
		return -1;
	return ws_hdr_check(&h, server, in_msg, 1000, why);
}

static void test_checks_follow_gorilla(void)
{
	static const uint8_t ok_masked[] = { 0x82, 0x80, 1, 2, 3, 4 };
	static const uint8_t unmasked[] = { 0x82, 0x00 };
	static const uint8_t rsv[] = { 0xc2, 0x80, 1, 2, 3, 4 };
	static const uint8_t big_ping[] = { 0x89, 0xfe, 0x00, 0x7e, 1, 2, 3, 4 };
	static const uint8_t frag_ping[] = { 0x09, 0x80, 1, 2, 3, 4 };
	static const uint8_t cont[] = { 0x80, 0x80, 1, 2, 3, 4 };
	static const uint8_t opcode3[] = { 0x83, 0x80, 1, 2, 3, 4 };
	static const uint8_t too_big[] = { 0x82, 0xfe, 0x03, 0xe9, 1, 2, 3, 4 };
	static const uint8_t msb[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
	const char *why = NULL;

	CHECK_INT(check(ok_masked, sizeof(ok_masked), true, false, &why), 0);
	CHECK_INT(check(unmasked, sizeof(unmasked), false, false, &why), 0);
	CHECK_INT(check(unmasked, sizeof(unmasked), true, false, &why), WS_CLOSE_PROTOCOL);
	CHECK_STR(why, "incorrect mask flag");
	CHECK_INT(check(ok_masked, sizeof(ok_masked), false, false, &why), WS_CLOSE_PROTOCOL);
	CHECK_INT(check(rsv, sizeof(rsv), true, false, &why), WS_CLOSE_PROTOCOL);
	CHECK_STR(why, "unexpected reserved bits");
	CHECK_INT(check(big_ping, sizeof(big_ping), true, false, &why), WS_CLOSE_PROTOCOL);
	CHECK_STR(why, "control frame length > 125");
	CHECK_INT(check(frag_ping, sizeof(frag_ping), true, false, &why), WS_CLOSE_PROTOCOL);
	CHECK_STR(why, "control frame not final");
	CHECK_INT(check(cont, sizeof(cont), true, false, &why), WS_CLOSE_PROTOCOL);
	CHECK_STR(why, "continuation after final message frame");
	CHECK_INT(check(cont, sizeof(cont), true, true, &why), 0);
	CHECK_INT(check(ok_masked, sizeof(ok_masked), true, true, &why), WS_CLOSE_PROTOCOL);
	CHECK_STR(why, "message start before final message frame");
	CHECK_INT(check(frag_ping, 1, true, true, &why), -1);           /* incomplete */
	CHECK_INT(check(opcode3, sizeof(opcode3), true, false, &why), WS_CLOSE_PROTOCOL);
	CHECK_STR(why, "unknown opcode");
	CHECK_INT(check(too_big, sizeof(too_big), true, false, &why), WS_CLOSE_TOO_BIG);
	CHECK_INT(check(msb, sizeof(msb), true, false, &why), WS_CLOSE_PROTOCOL);
}

static void test_mask_matches_bytewise_at_every_offset(void)
{
	uint8_t src[200], fast[200], slow[200];
	const uint8_t key[4] = { 0xa5, 0x01, 0xff, 0x3c };

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	for (size_t n = 0; n <= 100; n++) {
		for (uint64_t pos = 0; pos < 8; pos++) {
			ws_mask(fast, src + 1, n, key, pos);
			for (size_t i = 0; i < n; i++)
				slow[i] = src[1 + i] ^ key[(pos + i) & 3];
			CHECK_MEM(fast, n, slow, n);
		}
	}
	/* in place, and twice gives the original back */
	memcpy(fast, src, sizeof(src));
	ws_mask(fast, fast, sizeof(fast), key, 3);
	ws_mask(fast, fast, sizeof(fast), key, 3);
	CHECK_MEM(fast, sizeof(fast), src, sizeof(src));
}

static void test_close_codes(void)
{
	CHECK(ws_close_code_valid(1000));
	CHECK(ws_close_code_valid(1003));
	CHECK(!ws_close_code_valid(1004));
	CHECK(!ws_close_code_valid(1005));
	CHECK(!ws_close_code_valid(1006));
	CHECK(ws_close_code_valid(1007));
	CHECK(ws_close_code_valid(1013));
	CHECK(!ws_close_code_valid(1015));
	CHECK(!ws_close_code_valid(2999));
	CHECK(ws_close_code_valid(3000));
	CHECK(ws_close_code_valid(4999));
	CHECK(!ws_close_code_valid(5000));
}

int main(void)
{
	RUN(test_rfc6455_examples);
	RUN(test_parse_every_length_form_at_every_prefix);
	RUN(test_checks_follow_gorilla);
	RUN(test_mask_matches_bytewise_at_every_offset);
	RUN(test_close_codes);
	return UNIT_DONE();
}

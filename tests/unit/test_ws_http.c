/* Unit tests for the WebSocket upgrade messages (user/net/ws_http.c): the
 * RFC 6455 accept value, GOST's dialer request byte for byte, the listener's
 * checks in gorilla's order with Go's answers, and the client's check of a
 * response. */
#include "net/ws_http.h"
#include "unit.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static const char good_req[] =
	"GET /ws HTTP/1.1\r\nHost: 1.2.3.4:8443\r\nUser-Agent: Go-http-client/1.1\r\n"
	"Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
	"Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\r\n";

static int answer(const char *req, const char *path, char *resp, size_t *rl, char *why)
{
	return ws_server_answer(req, strlen(req), path, resp, 1024, rl, why, 200);
}

static void test_accept_value_is_rfc6455s_example(void)
{
	char acc[WS_ACCEPT_LEN + 1];

	ws_accept_for(KEY, acc);
	CHECK_STR(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_client_request_is_gosts(void)
{
	char out[512];
	int n = ws_client_request(out, sizeof(out), "1.2.3.4:8443", "/ws", KEY);

	CHECK_INT(n, (int)strlen(good_req));
	CHECK_STR(out, good_req);
	CHECK_INT(ws_client_request(out, 40, "1.2.3.4:8443", "/ws", KEY), -1);
}

static void test_header_end_needs_the_blank_line(void)
{
	CHECK_INT(ws_http_header_end(good_req, strlen(good_req) - 1), 0);
	CHECK_INT(ws_http_header_end(good_req, strlen(good_req)), strlen(good_req));
	CHECK_INT(ws_http_header_end("GET / HTTP/1.1\nHost: x\n\nrest", 29), 24);
}

static void test_server_accepts_and_answers_101(void)
{
	char resp[1024], why[200];
	size_t rl = 0;

	CHECK_INT(answer(good_req, "/ws", resp, &rl, why), 0);
	CHECK_STR(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
			"\r\n\r\n");
	CHECK_INT(rl, strlen(resp));
	/* the query is ignored, header names and tokens are case-insensitive */
	CHECK_INT(answer("GET /ws?x=1 HTTP/1.1\r\nhost: a\r\nconnection: keep-alive, UPGRADE\r\n"
			 "upgrade: WebSocket\r\nsec-websocket-version: 13\r\n"
			 "sec-websocket-key: " KEY "\r\n\r\n", "/ws", resp, &rl, why), 0);
}

static void test_server_refusals_in_gorillas_order(void)
{
	char resp[1024], why[200];
	size_t rl = 0;

	CHECK_INT(answer("GET /wsx HTTP/1.1\r\nHost: a\r\n\r\n", "/ws", resp, &rl, why), 404);
	CHECK(!strncmp(resp, "HTTP/1.1 404 Not Found\r\n", 24));
	CHECK(strstr(resp, "\r\n\r\nNot Found\n") != NULL);
	CHECK_INT(rl, strlen(resp));
	CHECK_INT(answer("GET /ws HTTP/1.1\r\n\r\n", "/ws", resp, &rl, why), 400);
	CHECK_STR(why, "missing required Host header");
	CHECK_INT(answer("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", "/ws", resp,
			 &rl, why), 400);
	CHECK(strstr(why, "'upgrade' token not found in 'Connection' header") != NULL);
	CHECK(strstr(resp, "Sec-Websocket-Version: 13\r\n") != NULL);
	CHECK_INT(answer("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n", "/ws", resp,
			 &rl, why), 400);
	CHECK(strstr(why, "'websocket' token not found in 'Upgrade' header") != NULL);
	CHECK_INT(answer("PUT /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n"
			 "Upgrade: websocket\r\n\r\n", "/ws", resp, &rl, why), 405);
	CHECK_INT(answer("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n"
			 "Upgrade: websocket\r\nSec-WebSocket-Version: 8\r\n\r\n", "/ws", resp, &rl,
			 why), 400);
	CHECK(strstr(why, "unsupported version") != NULL);
	CHECK_INT(answer("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n"
			 "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
			 "Sec-WebSocket-Key: c2hvcnQ=\r\n\r\n", "/ws", resp, &rl, why), 400);
	CHECK(strstr(why, "16-byte") != NULL);
	CHECK_INT(answer("\x16\x03\x01\x02\x00\r\n\r\n", "/ws", resp, &rl, why), 400);
	CHECK_INT(answer("GET /ws\r\nHost: a\r\n\r\n", "/ws", resp, &rl, why), 400);
	/* another path configured */
	CHECK_INT(answer(good_req, "/tunnel", resp, &rl, why), 404);
}

static void test_client_checks_the_response(void)
{
	static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\nSec-WebSocket-Accept: "
				 "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	static const char bad_acc[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				      "Connection: Upgrade\r\nSec-WebSocket-Accept: "
				      "AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
	static const char no_up[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
				    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	char why[160];

	CHECK_INT(ws_client_check(ok, strlen(ok), KEY, why, sizeof(why)), 0);
	CHECK_INT(ws_client_check(bad_acc, strlen(bad_acc), KEY, why, sizeof(why)), -1);
	CHECK_STR(why, "bad handshake");
	CHECK_INT(ws_client_check(no_up, strlen(no_up), KEY, why, sizeof(why)), -1);
	CHECK_INT(ws_client_check(nf, strlen(nf), KEY, why, sizeof(why)), -1);
	CHECK_STR(why, "bad handshake: HTTP/1.1 404 Not Found");
}

static void test_new_keys_are_16_random_bytes(void)
{
	char a[WS_KEY_LEN + 1], b[WS_KEY_LEN + 1];

	CHECK_INT(ws_new_key(a), 0);
	CHECK_INT(ws_new_key(b), 0);
	CHECK_INT(strlen(a), WS_KEY_LEN);
	CHECK(a[22] == '=' && a[23] == '=');
	CHECK(strcmp(a, b) != 0);
}

int main(void)
{
	RUN(test_accept_value_is_rfc6455s_example);
	RUN(test_client_request_is_gosts);
	RUN(test_header_end_needs_the_blank_line);
	RUN(test_server_accepts_and_answers_101);
	RUN(test_server_refusals_in_gorillas_order);
	RUN(test_client_checks_the_response);
	RUN(test_new_keys_are_16_random_bytes);
	return UNIT_DONE();
}

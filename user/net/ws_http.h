/* The HTTP side of a WebSocket (RFC 6455 §4): the upgrade request GOST's
 * dialer sends (gorilla/websocket's client, headers in Go's sorted order),
 * and what GOST's listener (Go's http.Server + ServeMux + gorilla's
 * Upgrade) accepts or answers, check for check.  Pure: no I/O, no
 * allocation. */
#ifndef RELAYD_NET_WS_HTTP_H
#define RELAYD_NET_WS_HTTP_H

#include <stddef.h>

/* Go's http.Server accepts 1 MiB of headers; a relay peer needs a few
 * hundred bytes, so we stop at this and answer 431 */
#define WS_MAX_HEADER 16384
#define WS_KEY_LEN 24           /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28        /* base64 of a SHA-1 */

/* Length of the header block (through the blank line) in buf, 0 when it is
 * not complete yet. */
size_t ws_http_header_end(const char *buf, size_t len);

/* base64(SHA-1(key + GUID)); out must hold WS_ACCEPT_LEN + 1. */
void ws_accept_for(const char *key, char *out);

/* Server: check the request header block hdr (len bytes, complete) for the
 * listener's path.  Returns 0 and the 101 response in resp, or the HTTP
 * status of the refusal with GOST's response in resp and the reason in why.
 * *resp_len is set in both cases. */
int ws_server_answer(const char *hdr, size_t len, const char *path, char *resp, size_t cap,
		     size_t *resp_len, char *why, size_t whylen);

/* Client: a fresh key (out: WS_KEY_LEN + 1 bytes); -1 if the RNG fails. */
int ws_new_key(char *out);
/* The upgrade request; its length, or -1 if cap is too small. */
int ws_client_request(char *out, size_t cap, const char *host, const char *path,
		      const char *key);
/* Check the response header block: 0 = switching protocols with the right
 * accept value, -1 with why filled otherwise. */
int ws_client_check(const char *hdr, size_t len, const char *key, char *why, size_t whylen);

#endif

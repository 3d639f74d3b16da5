/* HTTP/1.x proxy request heads, as GOST's http handler reads them: CONNECT
 * (authority form) and absolute-URI requests.  Pure: bytes in, struct out. */
#ifndef RELAYD_PROXY_HTTP_PARSE_H
#define RELAYD_PROXY_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX 16384     /* a longer head is refused (431-style, GOST answers 400) */

struct http_req {
	char method[24];
	int minor;                      /* HTTP/1.<minor> */
	bool is_connect;
	char host[256];                 /* target host without brackets */
	uint16_t port;                  /* 443 default for CONNECT without port is an error; 80 for http:// */
	char hostport[300];             /* "host:port" as it goes to the chain (IPv6 in brackets) */
	size_t path_off, path_len;      /* origin-form path (with query) inside the head; "/" if empty */
	bool has_proxy_auth;            /* Proxy-Authorization: Basic <b64> decoded */
	char user[256], pass[256];
	bool keepalive;                 /* client asked to keep the connection */
	size_t head_len;                /* bytes of the head including the final CRLFCRLF */
};

/* > 0: complete head of that length; 0: need more bytes; < 0: malformed
 * (-1 bad request, -2 head too long). */
int http_parse_request(const char *buf, size_t len, struct http_req *r);

/* The request head rewritten for the origin server: origin-form request line,
 * Proxy-Authorization / Proxy-Connection / Gost-Target removed, "Connection: close"
 * (relayd serves one request per upstream connection).  Returns bytes written
 * or -1 if out is too small. */
int http_rewrite_request(const char *head, const struct http_req *r, char *out, size_t cap);

/* "HTTP/1.1 200 Connection established\r\n..." exactly as GOST writes it. */
int http_connect_ok(char *out, size_t cap, int minor);
/* A bodyless error response as GOST writes it (400, 403, 407 with
 * Proxy-Authenticate, 503 ...).  Returns bytes written. */
int http_error_response(char *out, size_t cap, int minor, int code);

#endif

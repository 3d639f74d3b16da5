/* HTTP/1.x proxy request heads, as GOST's http handler reads them: CONNECT
 * (authority form) and absolute-URI requests.  Pure: bytes in, struct out.
 * What is a syntax error here is what Go's http.ReadRequest (Go 1.26 net/url
 * and net/textproto) refuses; GOST answers those by closing without a reply. */
#ifndef RELAYD_PROXY_HTTP_PARSE_H
#define RELAYD_PROXY_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A longer head is refused with -2.  GOST itself has no limit (ReadRequest is
 * unbounded); relayd closes without a reply, as GOST does for any head it
 * cannot read. */
#define HTTP_HEAD_MAX 16384

#define HTTP_PROXY_AGENT "gost/3.0"     /* GOST's default proxyAgent */
#define HTTP_REALM "gost"               /* GOST's default authBasicRealm */

/* What GOST does with a request that parsed, in handleRequest's order: first
 * authentication (http_auth_required on failure, whatever the kind), then
 * per kind; "403" and "503" without more are http_error_response(). GOST
 * closes the connection after every error answer. */
enum http_req_kind {
	/* Tunnel to hostport: bypass -> 403; dial failure -> 503; else 200. */
	HTTP_REQ_CONNECT = 0,
	/* Absolute http:// URI: bypass -> 403; send http_rewrite_request() to
	 * hostport; a dial failure -> http_empty_response(minor, 503). */
	HTTP_REQ_FORWARD,
	/* PRI, a non-CONNECT request whose scheme is not http (https://, ftp://,
	 * or origin form without a usable Host): 400. */
	HTTP_REQ_NOT_PROXY,
	/* GOST's http.Transport refuses it before dialing (origin form with a
	 * valid Host, "http:" without a host, a header name with a space):
	 * bypass -> 403, else http_empty_response(minor, 503). */
	HTTP_REQ_NO_ROUNDTRIP,
	/* X-Gost-Protocol: udp (UDP over HTTP): bypass -> 403; with UDP off,
	 * http_empty_response(1, 403); on, http_empty_response(1, 200). */
	HTTP_REQ_UDP,
};

struct http_req {
	enum http_req_kind kind;
	char method[24];
	int minor;                      /* HTTP/1.<minor> */
	bool is_connect;
	/* The target, as GOST computes it: for FORWARD the address its transport
	 * dials (URL host, port 80 by default); otherwise normalizeHostPort(Host,
	 * "80") -- so CONNECT without a port goes to port 80 -- after the GOST v2
	 * Gost-Target / X-Gost-Target override.  Empty when relayd cannot carry
	 * it (too long): GOST's dial of it would fail, so answer as for a failed
	 * dial. */
	char host[256];                 /* target host without brackets */
	uint16_t port;                  /* 0 when the port text is not a number <= 65535 */
	char hostport[300];             /* "host:port" as it goes to the chain (IPv6 in brackets) */
	size_t path_off, path_len;      /* origin-form path (with query) inside the head; "/" if empty */
	/* Proxy-Authorization "Basic <b64>" (exact prefix) decoded; user:pass split
	 * at the first colon; without a colon all of it is the user and the
	 * password is empty.  Otherwise both are "" (GOST then authenticates "",""). */
	bool has_proxy_auth;
	bool auth_bad;                  /* decoded, but holds a NUL or a field > 255 bytes:
					   no user can match, authentication must fail */
	char user[256], pass[256];
	bool proxy_keepalive;           /* Proxy-Connection: keep-alive (407 adds Proxy-Connection: close) */
	bool keepalive;                 /* client asked to keep the connection */
	bool upgrade;                   /* Connection: upgrade + Upgrade: (e.g. websocket) */
	int64_t body_len;               /* request body after the head; -1: chunked */
	size_t head_len;                /* bytes of the head including the final CRLFCRLF */
};

/* > 0: complete head of that length; 0: need more bytes; < 0: malformed
 * (-1 bad request, -2 head too long).  Accepts any prefix of a valid head
 * with 0 and never reads buf[len] or beyond. */
int http_parse_request(const char *buf, size_t len, struct http_req *r);

/* The request head rewritten for the origin server: origin-form request line,
 * Host set to the URI's authority (RFC 9112 §3.2.2), Proxy-Authorization /
 * Proxy-Connection / Gost-Target / X-Gost-Target / Gost-Record removed, one
 * "Connection: close" (relayd serves one request per upstream connection;
 * "Connection: Upgrade" for an upgrade), Content-Length dropped beside
 * chunked and de-duplicated, Transfer-Encoding dropped on HTTP/1.0 (Go
 * ignores it there).  Every other field keeps its bytes and order; obsolete
 * line folding becomes one space and bare LF becomes CRLF.  head is the buffer
 * given to http_parse_request.  Returns bytes written or -1 if out is too
 * small (r->head_len + 64 + the authority always suffices). */
int http_rewrite_request(const char *head, const struct http_req *r, char *out, size_t cap);

/* GOST's CONNECT answer, always HTTP/1.1 whatever the request said:
 * "HTTP/1.1 200 Connection established\r\nProxy-Agent: <agent>\r\n\r\n".
 * agent NULL means HTTP_PROXY_AGENT.  -1 if out is too small or agent holds
 * CR or LF. */
int http_connect_ok(char *out, size_t cap, const char *agent);

/* GOST's handler-level answers (ContentLength -1, so Go adds
 * "Connection: close"), always HTTP/1.1:
 *   400 "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
 *   403 / 503 also carry "Proxy-Agent: <agent>" (GOST sets it after its 400
 *   check); any other code is written like 400.
 * agent NULL means HTTP_PROXY_AGENT.  Returns bytes written, -1 if too small. */
int http_error_response(char *out, size_t cap, int code, const char *agent);

/* 407: "HTTP/1.1 407 Proxy Authentication Required\r\nConnection: close\r\n
 * Proxy-Authenticate: Basic realm=\"<realm>\"\r\n" + "Proxy-Connection: close\r\n"
 * when the client sent Proxy-Connection: keep-alive, then "\r\n".
 * realm NULL means HTTP_REALM. */
int http_auth_required(char *out, size_t cap, const char *realm, bool proxy_keepalive);

/* "HTTP/1.<minor> <code> <text>\r\nContent-Length: 0\r\n\r\n": GOST's answer
 * when a forwarded round trip fails (503, in the request's version), when a
 * later keep-alive request hits the bypass (403), and the UDP-over-HTTP
 * answers (403 disabled, 200 enabled; minor 1). */
int http_empty_response(char *out, size_t cap, int minor, int code);

#endif

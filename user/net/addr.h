/* Socket addresses as GOST writes them: "host:port", "[v6]:port", ":port".
 * Splitting, formatting, literal parsing, and listening with Go's semantics
 * (an empty or unspecified host listens on every address, dual-stack). */
#ifndef RELAYD_NET_ADDR_H
#define RELAYD_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NET_ADDRSTRLEN 64       /* "[ffff:...:ffff]:65535" and NUL */

/* "host:port", "[v6]:port", ":port" → host (brackets removed) and port.
 * Returns 0, or -1 when there is no valid port. */
int net_split_hostport(const char *text, char *host, size_t hcap, uint16_t *port);
/* host and port back to text, IPv6 in brackets. */
void net_join_hostport(char *out, size_t cap, const char *host, uint16_t port);

/* "1.2.3.4:80" / "[2001:db8::1]:443"; v4-mapped IPv6 prints as IPv4. */
void net_format_sockaddr(const struct sockaddr *sa, char *out, size_t cap);
/* IP address only, no port. */
void net_format_ip(const struct sockaddr *sa, char *out, size_t cap);
uint16_t net_sockaddr_port(const struct sockaddr *sa);

/* IP literal (no brackets) to a sockaddr; false when host is not a literal. */
bool net_parse_ip(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);
/* Empty, "0.0.0.0" or "::". */
bool net_host_is_unspecified(const char *host);

/* Bind and listen a TCP (SOCK_STREAM) or UDP (SOCK_DGRAM) socket on addr text
 * with Go's semantics.  Non-blocking, close-on-exec.  Returns the fd, or -errno
 * with err filled ("listen tcp :80: Address already in use"). */
int net_listen(const char *addr, int socktype, int backlog, char *err, size_t errlen);

int net_set_nodelay(int fd, bool on);
int net_set_nonblock(int fd, bool on);

#endif

/* Address text and listening sockets (see addr.h). */
#include "net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

int net_split_hostport(const char *text, char *host, size_t hcap, uint16_t *port)
{
	const char *colon, *hs = text;
	size_t hl;
	char *end;
	unsigned long p;

	if (text[0] == '[') {
		const char *rb = strchr(text, ']');

		if (!rb || rb[1] != ':')
			return -1;
		hs = text + 1;
		hl = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - text);
		if (memchr(text, ':', hl))      /* bare IPv6 without brackets */
			return -1;
	}
	if (hl >= hcap || !colon[1])
		return -1;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || p > 65535 || colon[1] == '-' || colon[1] == '+')
		return -1;
	memcpy(host, hs, hl);
	host[hl] = 0;
	*port = (uint16_t)p;
	return 0;
}

void net_join_hostport(char *out, size_t cap, const char *host, uint16_t port)
{
	if (strchr(host, ':'))
		snprintf(out, cap, "[%s]:%u", host, port);
	else
		snprintf(out, cap, "%s:%u", host, port);
}

void net_format_ip(const struct sockaddr *sa, char *out, size_t cap)
{
	char buf[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof(buf));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, sizeof(buf));
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf));
	} else {
		util_strcpy(buf, sizeof(buf), "?");
	}
	util_strcpy(out, cap, buf);
}

uint16_t net_sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void net_format_sockaddr(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	net_format_ip(sa, ip, sizeof(ip));
	net_join_hostport(out, cap, ip, net_sockaddr_port(sa));
}

bool net_parse_ip(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return true;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return true;
	}
	return false;
}

bool net_host_is_unspecified(const char *host)
{
	return !*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
}

int net_set_nodelay(int fd, bool on)
{
	int v = on;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) ? -errno : 0;
}

int net_set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) ? -errno : 0;
}

static int bind_listen(const struct sockaddr *sa, socklen_t len, int socktype, int backlog,
		       bool dual)
{
	int fd = socket(sa->sa_family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0, err;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (sa->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof(int))) ||
	    bind(fd, sa, len) || (socktype == SOCK_STREAM && listen(fd, backlog))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int net_listen(const char *addr, int socktype, int backlog, char *err, size_t errlen)
{
	const char *net = socktype == SOCK_STREAM ? "tcp" : "udp";
	struct sockaddr_storage ss;
	socklen_t len;
	char host[256];
	uint16_t port;
	int fd;

	if (net_split_hostport(addr, host, sizeof(host), &port)) {
		snprintf(err, errlen, "listen %s %s: missing or bad port", net, addr);
		return -EINVAL;
	}
	if (net_host_is_unspecified(host)) {
		/* Go listens dual-stack on "", "0.0.0.0" and "::" alike */
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
					   .sin6_addr = IN6ADDR_ANY_INIT };
		struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };

		fd = bind_listen((struct sockaddr *)&s6, sizeof(s6), socktype, backlog, true);
		if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL)
			fd = bind_listen((struct sockaddr *)&s4, sizeof(s4), socktype, backlog, false);
	} else if (net_parse_ip(host, port, &ss, &len)) {
		fd = bind_listen((struct sockaddr *)&ss, len, socktype, backlog, false);
	} else {
		struct addrinfo hints = { .ai_socktype = socktype, .ai_flags = AI_ADDRCONFIG };
		struct addrinfo *res = NULL;
		char ps[8];
		int gai;

		snprintf(ps, sizeof(ps), "%u", port);
		gai = getaddrinfo(host, ps, &hints, &res);
		if (gai) {
			snprintf(err, errlen, "listen %s %s: lookup %s: %s", net, addr, host,
				 gai_strerror(gai));
			return -ENOENT;
		}
		fd = bind_listen(res->ai_addr, res->ai_addrlen, socktype, backlog, false);
		freeaddrinfo(res);
	}
	if (fd < 0)
		snprintf(err, errlen, "listen %s %s: %s", net, addr, strerror(-fd));
	return fd;
}

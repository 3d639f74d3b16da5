/* IP address / CIDR lists ("10.0.0.0/8", "192.168.1.7", "::1"), matched
 * against socket addresses; v4-mapped IPv6 peers match IPv4 entries. */
#ifndef RELAYD_NET_CIDR_H
#define RELAYD_NET_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int family;             /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	int prefix;
};

struct cidr_list {
	size_t n;
	struct cidr *v;
};

/* items: NULL-terminated; returns 0 or -1 with err naming the bad item. */
int cidr_list_parse(struct cidr_list *l, char *const *items, char *err, size_t errlen);
void cidr_list_free(struct cidr_list *l);
bool cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa);

#endif

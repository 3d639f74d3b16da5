/* IP/CIDR lists (see cidr.h). */
#include "net/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_one(struct cidr *c, const char *text)
{
	char buf[64];
	char *slash, *end;
	long prefix = -1;

	if (strlen(text) >= sizeof(buf))
		return -1;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		prefix = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || prefix < 0)
			return -1;
	}
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		if (prefix > 32)
			return -1;
		c->prefix = prefix < 0 ? 32 : (int)prefix;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		if (prefix > 128)
			return -1;
		c->prefix = prefix < 0 ? 128 : (int)prefix;
	} else {
		return -1;
	}
	return 0;
}

int cidr_list_parse(struct cidr_list *l, char *const *items, char *err, size_t errlen)
{
	size_t n = 0;

	l->n = 0;
	l->v = NULL;
	while (items && items[n])
		n++;
	if (!n)
		return 0;
	l->v = calloc(n, sizeof(*l->v));
	if (!l->v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (parse_one(&l->v[i], items[i])) {
			snprintf(err, errlen, "'%s' is not an IP address or CIDR", items[i]);
			cidr_list_free(l);
			return -1;
		}
	}
	l->n = n;
	return 0;
}

void cidr_list_free(struct cidr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
	int bytes = bits / 8, rem = bits % 8;

	if (memcmp(a, b, (size_t)bytes))
		return false;
	if (!rem)
		return true;
	return ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - rem))) == 0;
}

bool cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa)
{
	uint8_t a4[4], a6[16];
	bool has4 = false, has6 = false;

	if (sa->sa_family == AF_INET) {
		memcpy(a4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		has4 = true;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		memcpy(a6, in6, 16);
		has6 = true;
		if (IN6_IS_ADDR_V4MAPPED(in6)) {
			memcpy(a4, &in6->s6_addr[12], 4);
			has4 = true;
		}
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct cidr *c = &l->v[i];

		if (c->family == AF_INET && has4 && prefix_eq(c->addr, a4, c->prefix))
			return true;
		if (c->family == AF_INET6 && has6 && prefix_eq(c->addr, a6, c->prefix))
			return true;
	}
	return false;
}

/* The client side of a relay BIND (GOST's rtcp/rudp listeners): keep one BIND
 * open through the service's listener chain, and when it fails or ends,
 * open it again after a back-off (1 s, doubling to 30 s, reset by a BIND that
 * worked).  What runs over an established BIND is the caller's (ops). */
#ifndef RELAYD_PROXY_RBIND_AGENT_H
#define RELAYD_PROXY_RBIND_AGENT_H

#include <stddef.h>

struct loop;
struct service;
struct stream;
struct rbind_agent;
struct log_ctx;

struct rbind_agent_ops {
	/* The BIND is up and s carries what follows its response (taken over).
	 * Return 0, or -errno to drop it and retry. */
	int (*up)(struct rbind_agent *a, struct stream *s);
	/* Tear down what up() built (the agent is retrying or stopping). */
	void (*down)(struct rbind_agent *a);
};

/* network: "tcp" or "udp".  NULL when out of memory. */
struct rbind_agent *rbind_agent_start(struct service *svc, struct loop *l, const char *network,
				      const struct rbind_agent_ops *ops, void *ud);
/* The data plane lost the BIND: tear it down and retry after the back-off. */
void rbind_agent_lost(struct rbind_agent *a, const char *why);
void rbind_agent_stop(struct rbind_agent *a);

void *rbind_agent_ud(const struct rbind_agent *a);
struct loop *rbind_agent_loop(const struct rbind_agent *a);
struct service *rbind_agent_service(const struct rbind_agent *a);
const struct log_ctx *rbind_agent_log(const struct rbind_agent *a);

/* A remote service's configuration is usable (a chain, a target): the node
 * of the chain's last hop that will receive the BIND, or NULL with err. */
struct cfg_service;
struct cfg_node;
const struct cfg_node *rbind_check_service(const struct cfg_service *c, char *err,
					   size_t errlen);

#endif

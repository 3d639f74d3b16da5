/* Keeping a BIND open through the chain (see rbind_agent.h).
 * States: DIALING (route in flight) → UP (ops->up took the stream) →
 * BACKOFF (timer) → DIALING ...; stop ends any of them. */
#include "proxy/rbind_agent.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/router.h"
#include "proxy/service.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define BIND_TIMEOUT_MS 15000

enum agent_state { A_DIALING, A_UP, A_BACKOFF, A_STOPPED };

struct rbind_agent {
	struct loop_obj obj;            /* daemon shutdown ends it like a connection */
	struct service *svc;
	struct loop *loop;
	struct router *router;          /* the listener chain */
	char network[8];
	const struct rbind_agent_ops *ops;
	void *ud;
	enum agent_state state;
	struct route *route;
	struct loop_timer retry;
	uint32_t backoff_ms;
	struct log_ctx lc;
};

static void retry_later(struct rbind_agent *a)
{
	a->state = A_BACKOFF;
	loop_timer_start(a->loop, &a->retry, a->backoff_ms);
	a->backoff_ms = a->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : a->backoff_ms * 2;
}

static void bound(void *ud, struct stream *s, const char *err)
{
	struct rbind_agent *a = ud;
	int rc;

	a->route = NULL;
	if (!s) {
		log_warn(&a->lc, "bind on %s/%s failed: %s (retry in %u ms)", a->svc->cfg->addr,
			 a->network, err, (unsigned)a->backoff_ms);
		retry_later(a);
		return;
	}
	a->state = A_UP;
	rc = a->ops->up(a, s);
	if (rc) {
		log_warn(&a->lc, "bind on %s/%s: %s (retry in %u ms)", a->svc->cfg->addr, a->network,
			 strerror(-rc), (unsigned)a->backoff_ms);
		retry_later(a);
		return;
	}
	a->backoff_ms = BACKOFF_MIN_MS;
	log_info(&a->lc, "bind on %s/%s OK via chain %s", a->svc->cfg->addr, a->network,
		 router_name(a->router));
}

static void dial_now(struct rbind_agent *a)
{
	a->state = A_DIALING;
	a->route = router_bind(a->router, a->loop, a->network, a->svc->cfg->addr,
			       BIND_TIMEOUT_MS, bound, a);
	if (!a->route) {
		log_warn(&a->lc, "bind on %s/%s: no chain node available (retry in %u ms)",
			 a->svc->cfg->addr, a->network, (unsigned)a->backoff_ms);
		retry_later(a);
	}
}

static void retry_cb(struct loop_timer *t)
{
	dial_now(CONTAINER_OF(t, struct rbind_agent, retry));
}

static void agent_halt(struct rbind_agent *a)
{
	if (a->state == A_UP)
		a->ops->down(a);
	if (a->route)
		route_cancel(a->route);
	a->route = NULL;
	loop_timer_stop(a->loop, &a->retry);
	a->state = A_STOPPED;
}

static void close_obj(struct loop_obj *o)
{
	agent_halt(CONTAINER_OF(o, struct rbind_agent, obj));
}

void rbind_agent_lost(struct rbind_agent *a, const char *why)
{
	char text[160];

	if (a->state != A_UP)
		return;
	util_strcpy(text, sizeof(text), why);   /* why may live in what down() frees */
	a->ops->down(a);
	log_warn(&a->lc, "bind on %s/%s lost: %s (retry in %u ms)", a->svc->cfg->addr, a->network,
		 text, (unsigned)a->backoff_ms);
	retry_later(a);
}

struct rbind_agent *rbind_agent_start(struct service *svc, struct loop *l, const char *network,
				      const struct rbind_agent_ops *ops, void *ud)
{
	struct rbind_agent *a = calloc(1, sizeof(*a));
	char err[CFG_ERR_MAX];

	if (!a)
		return NULL;
	a->router = router_new(svc->cfg->listener_chain, err, sizeof(err));
	if (!a->router) {
		free(a);
		return NULL;
	}
	a->svc = svc;
	a->loop = l;
	util_strcpy(a->network, sizeof(a->network), network);
	a->ops = ops;
	a->ud = ud;
	a->backoff_ms = BACKOFF_MIN_MS;
	a->lc = (struct log_ctx){ .kind = "listener", .service = svc->cfg->name };
	loop_timer_init(&a->retry, retry_cb);
	loop_obj_add(l, &a->obj, close_obj);
	dial_now(a);
	return a;
}

void rbind_agent_stop(struct rbind_agent *a)
{
	if (!a)
		return;
	if (a->state != A_STOPPED) {
		loop_obj_del(a->loop, &a->obj);
		agent_halt(a);
	}
	router_free(a->router);
	free(a);
}

void *rbind_agent_ud(const struct rbind_agent *a)
{
	return a->ud;
}

struct loop *rbind_agent_loop(const struct rbind_agent *a)
{
	return a->loop;
}

struct service *rbind_agent_service(const struct rbind_agent *a)
{
	return a->svc;
}

const struct log_ctx *rbind_agent_log(const struct rbind_agent *a)
{
	return &a->lc;
}

const struct cfg_node *rbind_check_service(const struct cfg_service *c, char *err, size_t errlen)
{
	const struct cfg_chain *ch = c->listener_chain;

	if (!ch || !ch->n_hops || !ch->hops[ch->n_hops - 1].n_nodes) {
		snprintf(err, errlen, "%s needs a chain to bind through (-F relay://...)",
			 c->listener);
		return NULL;
	}
	if (!c->forwarder.n_nodes) {
		snprintf(err, errlen, "%s needs a target (%s://:port/host:port)", c->listener,
			 c->listener);
		return NULL;
	}
	return &ch->hops[ch->n_hops - 1].nodes[0];
}

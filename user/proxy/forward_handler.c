/* TCP port forwarding (GOST's tcp / forward handler): every accepted
 * connection is dialed to the service's next forwarder node, directly or
 * through the chain, and piped.  A service without targets asks the chain for
 * ":0", which a relay server in forward mode replaces with its own target. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "control/conns.h"
#include "net/loop.h"
#include "net/stream.h"
#include "proxy/conn_stack.h"
#include "proxy/pipe.h"
#include "proxy/router.h"
#include "proxy/service.h"

struct fwd_sess {
	struct loop_obj obj;
	struct loop *loop;
	struct service *svc;
	struct stream *client;
	struct conn_info *ci;
	struct route *route;
	int idx;
};

static int fwd_init(struct service *svc, char *err, size_t errlen)
{
	(void)svc;
	(void)err;
	(void)errlen;
	return 0;
}

static void sess_free(struct fwd_sess *s)
{
	service_put(s->svc);
	loop_obj_del(s->loop, &s->obj);
	if (s->route)
		route_cancel(s->route);
	free(s);
}

static void fail(struct fwd_sess *s, const char *why)
{
	struct log_ctx lc = { .kind = "handler", .service = s->svc->cfg->name,
			      .remote = s->ci->client, .dst = s->ci->target };

	log_info(&lc, "forward: %s", why);
	conns_set_error(s->ci, "%s", why);
	atomic_fetch_add(&s->svc->errors, 1);
	stream_close(s->client, false);
	conns_done(s->ci);
	sess_free(s);
}

/* daemon shutdown while dialing */
static void close_obj(struct loop_obj *o)
{
	struct fwd_sess *s = CONTAINER_OF(o, struct fwd_sess, obj);

	conns_set_error(s->ci, "relayd shutting down");
	stream_close(s->client, false);
	conns_done(s->ci);
	sess_free(s);
}

static void dialed(void *ud, struct stream *target, const char *err)
{
	struct fwd_sess *s = ud;

	s->route = NULL;
	if (!target) {
		if (s->idx >= 0)
			selector_mark_failed(&s->svc->fwd_sel, s->idx);
		fail(s, err);
		return;
	}
	if (s->idx >= 0)
		selector_mark_ok(&s->svc->fwd_sel, s->idx);
	conn_note_streams(s->ci, s->client, target);
	pipe_start(s->client, target, s->ci, NULL);
	sess_free(s);
}

static void fwd_accept(struct service *svc, struct worker *w, struct stream *client,
		       const struct sockaddr_storage *peer)
{
	struct fwd_sess *s = calloc(1, sizeof(*s));
	const struct cfg_fnode *node;
	const char *addr = ":0";

	if (!s) {
		stream_close(client, false);
		service_put(svc);
		return;
	}
	s->svc = svc;
	s->loop = w->loop;
	s->idx = -1;
	s->client = client;
	s->ci = conns_new(svc->cfg->name, svc->cfg->handler, (const struct sockaddr *)peer);
	if (!s->ci) {
		stream_close(s->client, false);
		free(s);
		service_put(svc);
		return;
	}
	conns_set_local(s->ci, client);
	loop_obj_add(w->loop, &s->obj, close_obj);
	loop_obj_tag(&s->obj, s->ci->id);
	if (svc->cfg->forwarder.n_nodes) {
		node = service_pick_target(svc, &s->idx);
		if (!node) {
			fail(s, "no target node available");
			return;
		}
		addr = node->addr;
	}
	conns_set_target(s->ci, addr);
	s->route = router_dial(svc->router, w->loop, "tcp", addr, 0, dialed, s);
	if (!s->route)
		fail(s, "cannot start the dial (bad address or out of memory)");
}

const struct handler_ops forward_handler_ops = {
	.name = "forward",
	.init = fwd_init,
	.accept = fwd_accept,
};

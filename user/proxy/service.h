/* Services and workers.  A service is one listener plus one handler (relay,
 * auto, tcp forward ...) plus the router its handler dials through.  Each
 * worker thread runs its own event loop; every service's listening socket is
 * watched by every worker with EPOLLEXCLUSIVE, so one bind per service and the
 * kernel spreads accepts across workers.  Connections stay on the worker that
 * accepted them until the fast path takes them. */
#ifndef RELAYD_PROXY_SERVICE_H
#define RELAYD_PROXY_SERVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/loop.h"
#include "proxy/selector.h"

struct cfg;
struct cfg_service;
struct router;
struct service;
struct stream;
struct transport;

struct worker {
	int id;
	struct loop *loop;
	pthread_t thread;
	bool running;
};

struct handler_ops {
	const char *name;
	/* Parse handler options from the service config; errors name the field. */
	int (*init)(struct service *svc, char *err, size_t errlen);
	void (*fini)(struct service *svc);
	/* A new connection accepted on w's loop, as a stream the service's
	 * listener built (a TCP socket, or TLS/WebSocket over one, whose own
	 * handshake runs inside the stream); owned by the handler from now on. */
	void (*accept)(struct service *svc, struct worker *w, struct stream *client,
		       const struct sockaddr_storage *peer);
	/* Datagram handlers instead of accept (a "udp" listener): the service's
	 * UDP socket is readable on w, the one worker that watches it. */
	void (*readable)(struct service *svc, struct worker *w);
	/* Remote listeners (rtcp, rudp) have no local socket: start runs on
	 * worker 0 when the service goes live, stop when it is removed. */
	void (*start)(struct service *svc, struct worker *w);
	void (*stop)(struct service *svc, struct worker *w);
};

struct service_listener {
	struct loop_io io;
	struct loop_timer resume;       /* accepting paused after EMFILE and the like */
	struct service *svc;
	struct worker *w;
};

/* A compiled configuration shared by the services built from it. */
struct cfg_ref {
	struct cfg *cfg;
	_Atomic int refs;
};

/* Services are reference-counted: one reference for the set that is
 * current, one per worker listener while it is registered, one per session
 * still in its handshake.  A reload builds a new set, swaps the listeners on
 * every worker, and the old services go when their last session does. */
struct service {
	_Atomic int refs;
	struct cfg_ref *cref;
	const struct cfg_service *cfg;
	const struct handler_ops *h;
	void *hdata;                    /* handler options */
	struct router *router;          /* the handler's chain, or direct */
	struct transport *transport;    /* the listener's data channel (NULL: tcp) */
	struct selector fwd_sel;        /* forwarder nodes */
	int lfd;
	int dgram_worker;               /* datagram services: the worker that reads lfd */
	char bound[64];                 /* the address actually bound */
	struct service_listener *ls;    /* one per worker */
	size_t n_ls;
	_Atomic uint64_t requests, errors;
};

struct service_set {
	size_t n;
	struct service **v;
};

int workers_create(struct worker **out, int n);
int workers_start(struct worker *w, int n);
/* Stops and joins the threads; the loops stay until workers_free(). */
void workers_stop(struct worker *w, int n);
void workers_free(struct worker *w, int n);

/* Build (bind, or share the listening socket of the service in old with the
 * same address) every service of cfg, which the set takes over (also on
 * failure).  Errors name the service; -EINVAL means a configuration error.
 * Nothing is registered with the workers yet. */
int services_build(struct cfg *cfg, const struct service_set *old, int nw,
		   struct service_set **out, char *err, size_t errlen);
/* Make add's listeners live and remove's dead on every worker (on the
 * workers' own threads), then drop remove's references and free it.
 * Either may be NULL. */
void services_swap(struct service_set *add, struct service_set *remove, struct worker *w, int nw);
/* Drop a set's references (its listeners must be unregistered already). */
void services_free(struct service_set *set);
/* After the workers stopped: unregister set's listeners on their loops from
 * this thread and free it. */
void services_retire_now(struct service_set *set, struct worker *w, int nw);

void service_get(struct service *svc);
void service_put(struct service *svc);

/* The forwarder node a handler should use next (NULL: none available). */
const struct cfg_fnode *service_pick_target(struct service *svc, int *idx);

/* Handlers */
extern const struct handler_ops relay_handler_ops;
extern const struct handler_ops forward_handler_ops;
extern const struct handler_ops auto_handler_ops;
extern const struct handler_ops udp_handler_ops;
extern const struct handler_ops rtcp_handler_ops;
extern const struct handler_ops rudp_handler_ops;

/* rtcp/rudp: the service listens through its listener chain (relay BIND). */
bool service_is_remote(const struct cfg_service *c);

#endif

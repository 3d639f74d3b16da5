/* Services (see service.h): handler lookup, listening sockets, accept
 * dispatch, reference counting, and the listener swap that makes a reload
 * take effect on every worker without dropping a connection. */
#include "proxy/service.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "net/addr.h"
#include "net/stream.h"
#include "proxy/router.h"
#include "proxy/transport.h"

#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100
#define LISTEN_BACKLOG 4096

static const struct handler_ops *handler_for(const char *type)
{
	static const struct { const char *name; const struct handler_ops *ops; } tab[] = {
		{ "relay", &relay_handler_ops },
		{ "tcp", &forward_handler_ops },
		{ "forward", &forward_handler_ops },
		{ "auto", &auto_handler_ops },
		{ "http", &auto_handler_ops },
		{ "socks", &auto_handler_ops },
		{ "socks5", &auto_handler_ops },
		{ "socks4", &auto_handler_ops },
		{ "udp", &udp_handler_ops },
		{ "rtcp", &rtcp_handler_ops },
		{ "rudp", &rudp_handler_ops },
	};

	for (size_t i = 0; i < ARRAY_SIZE(tab); i++)
		if (!strcmp(tab[i].name, type))
			return tab[i].ops;
	return NULL;
}

/* ---- references ---- */

static void cfg_ref_put(struct cfg_ref *r)
{
	if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
		cfg_free(r->cfg);
		free(r);
	}
}

static void service_free(struct service *s)
{
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->h && s->h->fini)
		s->h->fini(s);
	router_free(s->router);
	transport_free(s->transport);
	selector_fini(&s->fwd_sel);
	free(s->ls);
	cfg_ref_put(s->cref);
	free(s);
}

void service_get(struct service *svc)
{
	atomic_fetch_add(&svc->refs, 1);
}

void service_put(struct service *svc)
{
	if (atomic_fetch_sub(&svc->refs, 1) == 1)
		service_free(svc);
}

/* ---- accepting ---- */

/* Out of descriptors or memory: the pending connection stays in the backlog
 * and the listener stays readable, so stop watching it for a while instead of
 * spinning (nginx and haproxy do the same). */
static void accept_pause(struct service_listener *sl, int err)
{
	struct log_ctx lc = { .kind = "service", .service = sl->svc->cfg->name };

	log_warn(&lc, "accept: %s: pausing this listener for %d ms (raise the open file limit)",
		 strerror(err), ACCEPT_PAUSE_MS);
	if (loop_io_set(sl->w->loop, &sl->io, 0) == 0)
		loop_timer_start(sl->w->loop, &sl->resume, ACCEPT_PAUSE_MS);
}

static void accept_resume(struct loop_timer *t)
{
	struct service_listener *sl = CONTAINER_OF(t, struct service_listener, resume);
	int e = loop_io_set(sl->w->loop, &sl->io, EPOLLIN | EPOLLEXCLUSIVE);

	if (e) {
		struct log_ctx lc = { .kind = "service", .service = sl->svc->cfg->name };

		log_error(&lc, "cannot watch %s again: %s", sl->svc->bound, strerror(-e));
	}
}

static void listener_stop(struct worker *w, struct service_listener *sl)
{
	struct service *s = sl->svc;

	if (s->lfd < 0) {
		if (w->id == 0 && s->h->stop)
			s->h->stop(s, w);
		return;
	}
	loop_timer_stop(w->loop, &sl->resume);
	loop_io_stop(w->loop, &sl->io);
}

static void accept_cb(struct loop_io *io, uint32_t events)
{
	struct service_listener *sl = CONTAINER_OF(io, struct service_listener, io);
	struct service *svc = sl->svc;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		struct stream *client;
		int fd = accept4(io->fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				accept_pause(sl, errno);
			return;
		}
		net_set_nodelay(fd, true);
		atomic_fetch_add(&svc->requests, 1);
		client = tcp_stream_new(sl->w->loop, fd);
		if (client && svc->transport)
			client = transport_wrap(svc->transport, client);
		if (!client)
			continue;
		/* the handler's session holds the service until its handshake ends */
		service_get(svc);
		svc->h->accept(svc, sl->w, client, &peer);
	}
}

/* datagram services: one worker reads the socket and keeps the sessions */
static void dgram_cb(struct loop_io *io, uint32_t events)
{
	struct service_listener *sl = CONTAINER_OF(io, struct service_listener, io);

	(void)events;
	sl->svc->h->readable(sl->svc, sl->w);
}

/* ---- building ---- */

static const struct service *same_listener(const struct service_set *old,
					   const struct cfg_service *c)
{
	for (size_t i = 0; old && i < old->n; i++) {
		const struct service *o = old->v[i];

		if (o->lfd >= 0 && !strcmp(o->cfg->addr, c->addr) &&
		    !strcmp(o->cfg->listener, c->listener))
			return o;
	}
	return NULL;
}

static int service_init(struct service *s, const struct cfg_service *c,
			const struct service_set *old, int nw, char *err, size_t errlen)
{
	const struct service *prev = same_listener(old, c);
	char why[CFG_ERR_MAX];
	int fd;

	s->cfg = c;
	s->h = handler_for(c->handler);
	if (!s->h) {
		snprintf(err, errlen, "service %s: handler '%s' is not implemented yet", c->name,
			 c->handler);
		return -EINVAL;
	}
	/* UDP services read datagrams on the bound socket and remote ones (rtcp,
	 * rudp) listen through their chain: no stream transport */
	if (strcmp(c->listener, "udp") && !service_is_remote(c) &&
	    transport_listener_new(s->cref->cfg, c, &s->transport, why, sizeof(why))) {
		snprintf(err, errlen, "service %s: %s", c->name, why);
		return -EINVAL;
	}
	if (!strcmp(c->listener, "udp") != !!s->h->readable) {
		snprintf(err, errlen, "service %s: handler '%s' does not work with listener '%s'",
			 c->name, c->handler, c->listener);
		return -EINVAL;
	}
	s->router = router_new(c->handler_chain, why, sizeof(why));
	if (!s->router) {
		snprintf(err, errlen, "service %s: %s", c->name, why);
		return -EINVAL;
	}
	if (selector_init(&s->fwd_sel, &c->forwarder.selector, c->forwarder.n_nodes)) {
		snprintf(err, errlen, "service %s: out of memory", c->name);
		return -ENOMEM;
	}
	if (s->h->init(s, why, sizeof(why))) {
		snprintf(err, errlen, "service %s: %s", c->name, why);
		return -EINVAL;
	}
	s->ls = calloc((size_t)nw, sizeof(*s->ls));
	if (!s->ls) {
		snprintf(err, errlen, "service %s: out of memory", c->name);
		return -ENOMEM;
	}
	if (service_is_remote(c)) {
		/* rtcp/rudp listen on the far side of the chain (handler start/stop) */
		util_strcpy(s->bound, sizeof(s->bound), c->addr);
		s->n_ls = (size_t)nw;
		return 0;
	}
	if (prev) {
		/* a reload keeps the socket: no connection attempt is refused meanwhile */
		fd = fcntl(prev->lfd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(err, errlen, "service %s: dup listening socket: %s", c->name,
				 strerror(errno));
			return -errno;
		}
		atomic_store(&s->requests, atomic_load(&prev->requests));
		atomic_store(&s->errors, atomic_load(&prev->errors));
	} else {
		fd = net_listen(c->addr, s->h->readable ? SOCK_DGRAM : SOCK_STREAM, LISTEN_BACKLOG,
				why, sizeof(why));
		if (fd < 0) {
			snprintf(err, errlen, "service %s: %s", c->name, why);
			return fd;
		}
	}
	s->lfd = fd;
	{
		struct sockaddr_storage ss;
		socklen_t l = sizeof(ss);

		if (!getsockname(fd, (struct sockaddr *)&ss, &l))
			net_format_sockaddr((struct sockaddr *)&ss, s->bound, sizeof(s->bound));
	}
	s->n_ls = (size_t)nw;
	return 0;
}

void services_free(struct service_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		service_put(set->v[i]);
	free(set->v);
	free(set);
}

int services_build(struct cfg *cfg, const struct service_set *old, int nw,
		   struct service_set **out, char *err, size_t errlen)
{
	struct service_set *set = calloc(1, sizeof(*set));
	struct cfg_ref *cref = calloc(1, sizeof(*cref));
	int e = 0;

	if (!set || !cref || !(set->v = calloc(cfg->n_services ? cfg->n_services : 1,
					       sizeof(*set->v)))) {
		free(set);
		free(cref);
		cfg_free(cfg);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	cref->cfg = cfg;
	atomic_store(&cref->refs, 1);   /* dropped below, once services hold theirs */
	for (size_t i = 0; i < cfg->n_services; i++) {
		struct service *s = calloc(1, sizeof(*s));

		if (!s) {
			snprintf(err, errlen, "out of memory");
			e = -ENOMEM;
			break;
		}
		s->lfd = -1;
		atomic_store(&s->refs, 1 + nw);   /* the set, and each worker listener */
		s->cref = cref;
		atomic_fetch_add(&cref->refs, 1);
		set->v[set->n++] = s;
		e = service_init(s, &cfg->services[i], old, nw, err, errlen);
		if (e)
			break;
		s->dgram_worker = nw ? (int)(i % (size_t)nw) : 0;
		for (int w = 0; w < nw; w++) {
			s->ls[w].svc = s;
			loop_io_init(&s->ls[w].io, s->lfd, s->h->readable ? dgram_cb : accept_cb);
			loop_timer_init(&s->ls[w].resume, accept_resume);
		}
	}
	if (e) {
		/* nothing was registered: the listener references are ours to drop */
		for (size_t i = 0; i < set->n; i++)
			atomic_store(&set->v[i]->refs, 1);
		services_free(set);
		cfg_ref_put(cref);
		return e;
	}
	cfg_ref_put(cref);
	*out = set;
	return 0;
}

/* ---- the swap, on each worker ---- */

struct swap_task {
	struct loop_task t;
	struct worker *w;
	struct service_set *add, *remove;
	_Atomic int *pending;           /* last worker out frees remove */
};

static void swap_run(struct loop_task *t)
{
	struct swap_task *st = CONTAINER_OF(t, struct swap_task, t);
	struct worker *w = st->w;

	/* stop first: the kernel rejects a second registration of the same file */
	for (size_t i = 0; st->remove && i < st->remove->n; i++) {
		struct service *s = st->remove->v[i];

		listener_stop(w, &s->ls[w->id]);
		service_put(s);
	}
	for (size_t i = 0; st->add && i < st->add->n; i++) {
		struct service *s = st->add->v[i];
		struct service_listener *sl = &s->ls[w->id];
		int e;

		sl->w = w;
		if (s->lfd < 0) {
			if (w->id == 0 && s->h->start)
				s->h->start(s, w);
			continue;
		}
		if (s->h->readable && w->id != s->dgram_worker)
			continue;
		/* one bind, every worker waiting on it: the kernel wakes one of them */
		e = loop_io_set(w->loop, &sl->io, s->h->readable ? EPOLLIN : EPOLLIN | EPOLLEXCLUSIVE);
		if (e) {
			struct log_ctx lc = { .kind = "service", .service = s->cfg->name };

			log_error(&lc, "worker %d cannot watch %s: %s", w->id, s->bound, strerror(-e));
		}
	}
	if (st->pending && atomic_fetch_sub(st->pending, 1) == 1) {
		services_free(st->remove);
		free(st->pending);
	}
	free(st);
}

void services_swap(struct service_set *add, struct service_set *remove, struct worker *w, int nw)
{
	_Atomic int *pending = remove ? malloc(sizeof(*pending)) : NULL;

	if (remove && !pending)
		util_oom("service swap");
	if (pending)
		atomic_store(pending, nw);
	for (int i = 0; i < nw; i++) {
		struct swap_task *st = calloc(1, sizeof(*st));

		if (!st)
			util_oom("service swap");
		loop_task_init(&st->t, swap_run);
		st->w = &w[i];
		st->add = add;
		st->remove = remove;
		st->pending = pending;
		loop_post(w[i].loop, &st->t);
	}
	if (!nw && remove)
		services_free(remove);
}

void services_retire_now(struct service_set *set, struct worker *w, int nw)
{
	if (!set)
		return;
	for (int i = 0; i < nw; i++) {
		for (size_t k = 0; k < set->n; k++) {
			listener_stop(&w[i], &set->v[k]->ls[i]);
			service_put(set->v[k]);
		}
	}
	services_free(set);
}

const struct cfg_fnode *service_pick_target(struct service *svc, int *idx)
{
	int i;

	if (!svc->cfg->forwarder.n_nodes)
		return NULL;
	i = selector_pick(&svc->fwd_sel);
	if (idx)
		*idx = i;
	return i < 0 ? NULL : &svc->cfg->forwarder.nodes[i];
}

bool service_is_remote(const struct cfg_service *c)
{
	return !strcmp(c->listener, "rtcp") || !strcmp(c->listener, "rudp");
}

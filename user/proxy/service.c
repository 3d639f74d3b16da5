/* Services and workers (see service.h): handler lookup, listener binding,
 * accept dispatch, worker threads. */
#include "proxy/service.h"

#include <errno.h>
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

#define ACCEPT_BATCH 64
#define LISTEN_BACKLOG 4096

/* ---- workers ---- */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int err = loop_run(w->loop);

	if (err)
		log_error(NULL, "worker %d: event loop failed: %s", w->id, strerror(-err));
	return NULL;
}

int workers_create(struct worker **out, int n)
{
	struct worker *w = calloc((size_t)n, sizeof(*w));

	if (!w)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		w[i].id = i;
		w[i].loop = loop_new();
		if (!w[i].loop) {
			while (i--)
				loop_free(w[i].loop);
			free(w);
			return -ENOMEM;
		}
	}
	*out = w;
	return 0;
}

int workers_start(struct worker *w, int n)
{
	for (int i = 0; i < n; i++) {
		int err = pthread_create(&w[i].thread, NULL, worker_main, &w[i]);

		if (err)
			return -err;
		w[i].running = true;
	}
	return 0;
}

void workers_stop(struct worker *w, int n)
{
	for (int i = 0; i < n; i++)
		if (w[i].running)
			loop_stop(w[i].loop);
	for (int i = 0; i < n; i++) {
		if (w[i].running)
			pthread_join(w[i].thread, NULL);
		w[i].running = false;
	}
}

void workers_free(struct worker *w, int n)
{
	for (int i = 0; i < n; i++)
		loop_free(w[i].loop);
	free(w);
}

/* ---- services ---- */

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
	};

	for (size_t i = 0; i < ARRAY_SIZE(tab); i++)
		if (!strcmp(tab[i].name, type))
			return tab[i].ops;
	return NULL;
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
		int fd = accept4(svc->lfd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				struct log_ctx lc = { .kind = "service", .service = svc->cfg->name };

				log_warn(&lc, "accept: %s (raise the open file limit)", strerror(errno));
			}
			return;
		}
		net_set_nodelay(fd, true);
		atomic_fetch_add(&svc->requests, 1);
		client = tcp_stream_new(sl->w->loop, fd);
		if (client)
			svc->h->accept(svc, sl->w, client, &peer);
	}
}

static void service_fini(struct service *s)
{
	for (size_t i = 0; i < s->n_ls; i++)
		loop_io_stop(s->ls[i].w->loop, &s->ls[i].io);
	free(s->ls);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->h && s->h->fini)
		s->h->fini(s);
	router_free(s->router);
	selector_fini(&s->fwd_sel);
}

static int service_init(struct service *s, const struct cfg_service *c, struct worker *w, int nw,
			char *err, size_t errlen)
{
	char why[CFG_ERR_MAX];
	int fd;

	s->cfg = c;
	s->lfd = -1;
	s->h = handler_for(c->handler);
	if (!s->h) {
		snprintf(err, errlen, "service %s: handler '%s' is not implemented yet", c->name,
			 c->handler);
		return -EINVAL;
	}
	if (strcmp(c->listener, "tcp")) {
		snprintf(err, errlen, "service %s: listener '%s' is not implemented yet", c->name,
			 c->listener);
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
	fd = net_listen(c->addr, SOCK_STREAM, LISTEN_BACKLOG, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "service %s: %s", c->name, why);
		return fd;
	}
	s->lfd = fd;
	{
		struct sockaddr_storage ss;
		socklen_t l = sizeof(ss);

		if (!getsockname(fd, (struct sockaddr *)&ss, &l))
			net_format_sockaddr((struct sockaddr *)&ss, s->bound, sizeof(s->bound));
	}
	s->ls = calloc((size_t)nw, sizeof(*s->ls));
	if (!s->ls) {
		snprintf(err, errlen, "service %s: out of memory", c->name);
		return -ENOMEM;
	}
	for (int i = 0; i < nw; i++) {
		struct service_listener *sl = &s->ls[i];
		int e;

		sl->svc = s;
		sl->w = &w[i];
		loop_io_init(&sl->io, fd, accept_cb);
		/* one bind, every worker waiting on it: the kernel wakes one of them */
		e = loop_io_set(w[i].loop, &sl->io, EPOLLIN | EPOLLEXCLUSIVE);
		if (e) {
			snprintf(err, errlen, "service %s: epoll: %s", c->name, strerror(-e));
			return e;
		}
		s->n_ls++;
	}
	return 0;
}

int services_start(const struct cfg *cfg, struct worker *w, int nw, struct service **out,
		   size_t *n_out, char *err, size_t errlen)
{
	struct service *s = calloc(cfg->n_services ? cfg->n_services : 1, sizeof(*s));
	size_t i;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < cfg->n_services; i++) {
		int e = service_init(&s[i], &cfg->services[i], w, nw, err, errlen);
		struct log_ctx lc = { .kind = "service", .service = cfg->services[i].name };

		if (e) {
			services_stop(s, i + 1);
			return e;
		}
		log_info(&lc, "listening on %s (%s handler, %s listener%s%s)", s[i].bound,
			 s[i].cfg->handler, s[i].cfg->listener,
			 s[i].cfg->handler_chain ? ", chain " : "",
			 s[i].cfg->handler_chain ? s[i].cfg->handler_chain->name : "");
	}
	*out = s;
	*n_out = cfg->n_services;
	return 0;
}

void services_stop(struct service *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		service_fini(&s[i]);
	free(s);
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

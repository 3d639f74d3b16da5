/* cfg_free and the per-type release helpers: everything cfg_compile
 * allocates, including partly built objects left by a failed compile. */
#include <stdlib.h>
#include <string.h>

#include "config/cfg_internal.h"

void cfg_tls_free(struct cfg_tls *t)
{
	free(t->cert_file);
	free(t->key_file);
	free(t->ca_file);
	free(t->server_name);
	memset(t, 0, sizeof(*t));
}

void cfg_selector_free(struct cfg_selector *s)
{
	free(s->strategy);
	memset(s, 0, sizeof(*s));
}

void cfg_node_free(struct cfg_node *n)
{
	free(n->name);
	free(n->addr);
	free(n->connector);
	cfg_auth_free(n->connector_auth);
	cfg_md_free(&n->connector_md);
	free(n->dialer);
	cfg_auth_free(n->dialer_auth);
	cfg_md_free(&n->dialer_md);
	cfg_tls_free(&n->dialer_tls);
	cfg_md_free(&n->md);
	memset(n, 0, sizeof(*n));
}

void cfg_hop_free(struct cfg_hop *h)
{
	for (size_t i = 0; i < h->n_nodes; i++)
		cfg_node_free(&h->nodes[i]);
	free(h->nodes);
	free(h->name);
	cfg_selector_free(&h->selector);
	cfg_md_free(&h->md);
	memset(h, 0, sizeof(*h));
}

void cfg_chain_free(struct cfg_chain *ch)
{
	for (size_t i = 0; i < ch->n_hops; i++)
		cfg_hop_free(&ch->hops[i]);
	free(ch->hops);
	free(ch->name);
	cfg_md_free(&ch->md);
	memset(ch, 0, sizeof(*ch));
}

static void forwarder_free(struct cfg_forwarder *f)
{
	for (size_t i = 0; i < f->n_nodes; i++) {
		free(f->nodes[i].name);
		free(f->nodes[i].addr);
		free(f->nodes[i].network);
	}
	free(f->nodes);
	cfg_selector_free(&f->selector);
	memset(f, 0, sizeof(*f));
}

static void service_free(struct cfg_service *s)
{
	free(s->name);
	free(s->addr);
	free(s->handler);
	cfg_users_free(&s->handler_users);
	cfg_md_free(&s->handler_md);
	free(s->listener);
	cfg_users_free(&s->listener_users);
	cfg_tls_free(&s->listener_tls);
	cfg_md_free(&s->listener_md);
	forwarder_free(&s->forwarder);
	cfg_md_free(&s->md);
}

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_services; i++)
		service_free(&c->services[i]);
	free(c->services);
	for (size_t i = 0; i < c->n_chains; i++)
		cfg_chain_free(&c->chains[i]);
	free(c->chains);
	cfg_tls_free(&c->tls);
	free(c->log.level);
	free(c->log.format);
	free(c->log.output);
	free(c->metrics.addr);
	free(c->metrics.path);
	cfg_auth_free(c->metrics.auth);
	free(c);
}

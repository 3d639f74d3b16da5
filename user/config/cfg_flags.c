/* cfg_doc_add_flags: every -F becomes a hop of chain-0, every -L one or more
 * services, in GOST's order (x/config/cmd/cmd.go BuildConfigFromCmd): nodes
 * first, then services named service-N, given chain-0 on the handler (or on
 * the listener for rtcp/rudp/runix), then each service's handler metadata
 * turned into fields and named objects.  The result is merged into the
 * document like any other source, each service and hop tagged with the flag
 * it came from so compile errors can name it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_flags.h"

static json_t *new_chain(struct cfg_fb *b)
{
	json_t *chain = json_object();

	if (!chain) {
		b->oom = true;
		return NULL;
	}
	cfg_fb_set(b, chain, "name", cfg_fb_str(b, "chain-0"));
	cfg_fb_set(b, chain, "hops", json_array());
	cfg_fb_set(b, chain, CFG_SRC_KEY, cfg_fb_str(b, "-F"));
	cfg_fb_set(b, chain, CFG_IDX_KEY, json_integer(0));
	if (b->oom) {
		json_decref(chain);
		return NULL;
	}
	return chain;
}

static void tag(struct cfg_fb *b, json_t *obj, const char *flag, const char *arg, size_t idx)
{
	char src[CFG_ERR_MAX];

	snprintf(src, sizeof(src), "%s '%s'", flag, arg);
	cfg_fb_set(b, obj, CFG_SRC_KEY, cfg_fb_str(b, src));
	cfg_fb_set(b, obj, CFG_IDX_KEY, json_integer((json_int_t)idx));
}

/* Name, chain and handler-metadata pass for services[from..]: GOST runs it
 * after all services are parsed, and parsing creates no named objects, so
 * running it per -L value gives the same names in the same order. */
static int finish_services(struct cfg_fb *b, json_t *services, size_t from, bool chained)
{
	static const char *const remote[] = { "rtcp", "rudp", "runix" };

	for (size_t i = from; i < json_array_size(services); i++) {
		json_t *svc = json_array_get(services, i);
		json_t *ln = json_object_get(svc, "listener");
		const char *lt = json_string_value(json_object_get(ln, "type"));
		char name[32];
		bool on_listener = false;

		snprintf(name, sizeof(name), "service-%zu", i);
		cfg_fb_set(b, svc, "name", cfg_fb_str(b, name));
		tag(b, svc, b->flag, b->arg, i);
		for (size_t k = 0; k < sizeof(remote) / sizeof(remote[0]); k++)
			on_listener = on_listener || (lt && !strcmp(lt, remote[k]));
		if (chained)
			cfg_fb_set(b, on_listener ? ln : json_object_get(svc, "handler"), "chain",
				   cfg_fb_str(b, "chain-0"));
		if (cfg_fb_service_objects(b, svc))
			return -1;
	}
	return b->oom ? -1 : 0;
}

static int add_services(struct cfg_fb *b, const char **L, size_t nL, bool chained)
{
	json_t *services = json_array();
	int rc = -1;

	if (!services)
		return cfg_errf(b->err, b->errlen, "-L: out of memory");
	b->flag = "-L";
	for (size_t i = 0; i < nL; i++) {
		size_t from = json_array_size(services);

		b->arg = L[i];
		if (cfg_fb_services(b, services))
			goto out;
		if (finish_services(b, services, from, chained)) {
			cfg_errf(b->err, b->errlen, "-L '%s': out of memory", L[i]);
			goto out;
		}
	}
	if (json_array_size(services))
		cfg_fb_set(b, b->cfg, "services", json_incref(services));
	rc = b->oom ? cfg_errf(b->err, b->errlen, "-L: out of memory") : 0;
out:
	json_decref(services);
	return rc;
}

int cfg_doc_add_flags(json_t *doc, const char **L, size_t nL, const char **F, size_t nF,
		      char *err, size_t errlen)
{
	struct cfg_fb b = { .err = err, .errlen = errlen };
	json_t *chain = NULL;
	int rc = -1;

	b.cfg = json_object();
	if (!b.cfg)
		return cfg_errf(err, errlen, "out of memory");
	if (nF) {
		chain = new_chain(&b);
		if (!chain) {
			cfg_errf(err, errlen, "-F: out of memory");
			goto out;
		}
		b.flag = "-F";
		for (size_t i = 0; i < nF; i++) {
			b.arg = F[i];
			if (cfg_fb_node(&b, chain, i))
				goto out;
		}
		cfg_fb_add_top(&b, "chains", json_incref(chain));
	}
	if (add_services(&b, L, nL, nF > 0))
		goto out;
	if (b.oom || cfg_doc_merge(doc, b.cfg)) {
		cfg_errf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(chain);
	json_decref(b.cfg);
	return rc;
}

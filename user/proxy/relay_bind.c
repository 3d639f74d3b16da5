/* BIND admission on the relay server: options, then the checks GOST makes
 * (bind=true is checked by the handler; the network picks TCP or UDP) and
 * those relayd adds before anything listens:
 *   - bind.allow: an optional list of "host:port" / "host:lo-hi" entries (an
 *     empty host or "*" matches any host); a request outside it gets 03;
 *   - ports below 1024 need bind.privileged=true (03 otherwise);
 *   - a port already in use fails to listen: 05 for TCP, as GOST.
 * GOST itself lets any client that passed authentication listen anywhere. */
#include "proxy/relay_bind.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "config/config.h"
#include "control/conns.h"
#include "net/addr.h"
#include "net/stream.h"
#include "proxy/closer.h"
#include "proxy/relay_conn.h"
#include "proxy/relay_proto.h"
#include "proxy/service.h"
#include "proxy/smux_md.h"

#define DEFAULT_UDP_BUFFER 4096
#define MAX_UDP_BUFFER 65535

static int parse_allow(struct relay_bind_opts *o, char **v, char *err, size_t errlen)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	o->allow = n ? calloc(n, sizeof(*o->allow)) : NULL;
	if (n && !o->allow) {
		snprintf(err, errlen, "bind.allow: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct relay_bind_allow *a = &o->allow[i];
		char *dash, *colon = strrchr(v[i], ':');
		char *end;
		unsigned long lo, hi;

		if (!colon || (size_t)(colon - v[i]) >= sizeof(a->host))
			goto bad;
		memcpy(a->host, v[i], (size_t)(colon - v[i]));
		if (a->host[0] == '[') {        /* [v6] */
			size_t hl = strlen(a->host);

			if (hl < 2 || a->host[hl - 1] != ']')
				goto bad;
			memmove(a->host, a->host + 1, hl - 2);
			a->host[hl - 2] = 0;
		}
		if (!strcmp(a->host, "*"))
			a->host[0] = 0;
		lo = strtoul(colon + 1, &end, 10);
		dash = end;
		if (end == colon + 1 || (*dash && *dash != '-'))
			goto bad;
		hi = lo;
		if (*dash) {
			hi = strtoul(dash + 1, &end, 10);
			if (end == dash + 1 || *end)
				goto bad;
		}
		if (lo > 65535 || hi > 65535 || lo > hi)
			goto bad;
		a->lo = (uint16_t)lo;
		a->hi = (uint16_t)hi;
		o->n_allow++;
		continue;
bad:
		snprintf(err, errlen, "bind.allow: '%s' is not host:port or host:low-high", v[i]);
		return -EINVAL;
	}
	return 0;
}

int relay_bind_opts_parse(const struct cfg_md *md, struct relay_bind_opts *o, char *err,
			  size_t errlen)
{
	long ubuf = 0;
	char **allow = NULL;
	int rc;

	memset(o, 0, sizeof(*o));
	if (smux_config_from_md(md, &o->mux, err, errlen) ||
	    cfg_md_int(md, "udp.bufferSize", 0, &ubuf, err, errlen) ||
	    (!ubuf && cfg_md_int(md, "udpBufferSize", 0, &ubuf, err, errlen)) ||
	    cfg_md_bool(md, "bind.privileged", false, &o->privileged, err, errlen) ||
	    cfg_md_strlist(md, "bind.allow", &allow, err, errlen))
		return -EINVAL;
	if (ubuf < 0 || ubuf > MAX_UDP_BUFFER) {
		snprintf(err, errlen, "udp.bufferSize: %ld is out of range (1..65535)", ubuf);
		cfg_strv_free(allow);
		return -EINVAL;
	}
	o->udp_buffer_size = ubuf > 0 ? (size_t)ubuf : DEFAULT_UDP_BUFFER;
	rc = parse_allow(o, allow, err, errlen);
	cfg_strv_free(allow);
	return rc;
}

void relay_bind_opts_free(struct relay_bind_opts *o)
{
	free(o->allow);
	o->allow = NULL;
	o->n_allow = 0;
}

static bool host_matches(const char *want, const char *host)
{
	if (!want[0])
		return true;
	if (net_host_is_unspecified(want))
		return net_host_is_unspecified(host);
	return !strcmp(want, host);
}

/* NULL when the address may be bound, else why not. */
static const char *admission(const struct relay_bind_opts *o, const char *addr)
{
	char host[256];
	uint16_t port;

	if (net_split_hostport(addr, host, sizeof(host), &port))
		return "the address has no valid port";
	if (o->n_allow) {
		size_t i;

		for (i = 0; i < o->n_allow; i++)
			if (host_matches(o->allow[i].host, host) && port >= o->allow[i].lo &&
			    port <= o->allow[i].hi)
				break;
		if (i == o->n_allow)
			return "the address is not in bind.allow";
	}
	if (port && port < 1024 && !o->privileged)
		return "a privileged port needs bind.privileged=true";
	return NULL;
}

void relay_bind_refuse(struct relay_bind_req *r, uint8_t status, const char *why)
{
	uint8_t resp[RELAY_HDR_LEN] = { RELAY_VERSION, status, 0, 0 };
	struct log_ctx lc = { .kind = "handler", .service = r->svc->cfg->name,
			      .remote = r->ci->client };

	log_info(&lc, "relay: bind %s/%s: %s (status %u %s)", r->addr, r->network, why, status,
		 relay_status_text(status));
	conns_set_error(r->ci, "bind: %s", why);
	atomic_fetch_add(&r->svc->errors, 1);
	if (status == RELAY_STATUS_OK)  /* GOST: no response at all */
		stream_close(r->client, false);
	else
		closer_start(r->client, resp, sizeof(resp));
	conns_done(r->ci);
}

void relay_bind_start(struct relay_bind_req *r)
{
	const char *why;
	bool udp = !strcmp(r->network, "udp");

	if (!r->addr[0])
		r->addr = ":0";         /* no ADDR: all interfaces, an ephemeral port (Go's "") */
	conns_set_target(r->ci, r->addr);
	if (strcmp(r->network, "tcp") && !udp) {
		relay_bind_refuse(r, RELAY_STATUS_BAD_REQUEST, "unsupported network");
		return;
	}
	why = admission(r->o, r->addr);
	if (why) {
		relay_bind_refuse(r, RELAY_STATUS_FORBIDDEN, why);
		return;
	}
	if (udp)
		relay_bind_udp(r);
	else
		relay_bind_tcp(r);
}

struct stream *relay_bind_answer(struct relay_bind_req *r, int fd, struct relay_bind_common *c)
{
	struct relay_conn_opts ro = { 0 };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct relay_writer w;
	struct relay_addr a;
	uint8_t resp[64];
	int n;

	relay_w_begin(&w, resp, sizeof(resp), RELAY_STATUS_OK);
	if (!getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		net_format_sockaddr((struct sockaddr *)&ss, c->bound, sizeof(c->bound));
		if (relay_addr_from_sockaddr(&a, (struct sockaddr *)&ss) == 0)
			relay_w_addr(&w, &a);
	}
	n = relay_w_finish(&w);
	c->loop = r->loop;
	c->svc = r->svc;
	c->ci = r->ci;
	snprintf(c->name, sizeof(c->name), "%s-ep-%s", r->svc->cfg->name, c->bound);
	c->lc = (struct log_ctx){ .kind = "handler", .service = c->name, .remote = c->ci->client,
				  .user = c->ci->user[0] ? c->ci->user : NULL };
	/* the answer goes out now; whatever the BIND carries follows it */
	ro.prefix = resp;
	ro.prefix_len = n > 0 ? (size_t)n : 0;
	ro.send_now = true;
	r->ci = NULL;
	return relay_conn_new(r->client, &ro);
}

void relay_bind_register(struct relay_bind_common *c, const char *suffix,
			 void (*close)(struct loop_obj *o))
{
	char target[NET_ADDRSTRLEN + 16];

	service_get(c->svc);
	snprintf(target, sizeof(target), "bind %s%s", c->bound, suffix);
	conns_set_target(c->ci, target);
	conns_set_path(c->ci, CONN_PATH_USER);
	loop_obj_add(c->loop, &c->obj, close);
	loop_obj_tag(&c->obj, c->ci->id);
}

void relay_bind_unregister(struct relay_bind_common *c)
{
	loop_obj_del(c->loop, &c->obj);
	conns_done(c->ci);
	service_put(c->svc);
}

void relay_bind_link(const struct relay_bind_common *c, char *out, size_t cap)
{
	snprintf(out, cap, "bind#%llu %s", (unsigned long long)c->ci->id, c->ci->client);
}

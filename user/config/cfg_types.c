/* The type names of handlers, listeners, connectors and dialers: the ones GOST
 * registers (the registry.*Registry().Register calls of the go-gost/x packages
 * that gost's cmd/gost/register.go imports), which decide the -L/-F
 * fallbacks, and the subset relayd implements, which decides what compiles.
 * Keep this the one place that says what relayd supports. */
#include <stdio.h>
#include <string.h>

#include "config/cfg_internal.h"

static const char *const gost_handlers[] = {
	"api", "auto", "dns", "file", "forward", "tcp", "udp", "rtcp", "rudp", "runix", "http",
	"http2", "http3", "masque", "metrics", "red", "redir", "redirect", "redu", "relay",
	"router", "serial", "sni", "socks4", "socks4a", "socks", "socks5", "ss", "ssu", "sshd",
	"tap", "tun", "tungo", "tunnel", "unix", NULL,
};
static const char *const gost_listeners[] = {
	"dns", "dtls", "ftcp", "grpc", "h2", "h2c", "http2", "h3", "http3", "wt", "icmp",
	"icmp6", "kcp", "mtcp", "mtls", "mws", "mwss", "ohttp", "otls", "pht", "phts", "quic",
	"red", "redir", "redirect", "redu", "rtcp", "rudp", "runix", "serial", "ssh", "sshd",
	"stdio", "tap", "tcp", "tls", "tun", "tungo", "udp", "unix", "ws", "wss", NULL,
};
static const char *const gost_connectors[] = {
	"direct", "virtual", "forward", "http", "http2", "masque", "relay", "router", "serial",
	"sni", "socks4", "socks4a", "socks", "socks5", "ss", "ssu", "sshd", "tcp", "tunnel",
	"unix", NULL,
};
static const char *const gost_dialers[] = {
	"direct", "virtual", "dtls", "ftcp", "grpc", "http2", "h2", "h2c", "h3", "http3",
	"h3-masque", "wt", "icmp", "icmp6", "kcp", "mtcp", "mtls", "mws", "mwss", "ohttp",
	"ohttps", "otls", "pht", "phts", "quic", "serial", "ssh", "sshd", "tcp", "tls", "udp",
	"unix", "utls", "ws", "wss", NULL,
};

/* What relayd implements. */
static const char *const our_handlers[] = {
	"auto", "http", "socks", "socks4", "socks5", "relay", "tcp", "udp", "forward", "rtcp",
	"rudp", NULL,
};
static const char *const our_listeners[] = {
	"tcp", "udp", "rtcp", "rudp", "tls", "ws", "wss", "kcp", NULL,
};
static const char *const our_connectors[] = { "relay", "forward", NULL };
static const char *const our_dialers[] = { "tcp", "tls", "ws", "wss", "kcp", NULL };

static const struct {
	const char *what;
	const char *const *gost;
	const char *const *ours;
} tables[] = {
	[CFG_T_HANDLER] = { "handler", gost_handlers, our_handlers },
	[CFG_T_LISTENER] = { "listener", gost_listeners, our_listeners },
	[CFG_T_CONNECTOR] = { "connector", gost_connectors, our_connectors },
	[CFG_T_DIALER] = { "dialer", gost_dialers, our_dialers },
};

static bool in(const char *const *list, const char *name)
{
	for (; *list; list++) {
		if (!strcmp(*list, name))
			return true;
	}
	return false;
}

bool cfg_type_registered(enum cfg_tkind k, const char *name)
{
	return name && in(tables[k].gost, name);
}

bool cfg_type_supported(enum cfg_tkind k, const char *name)
{
	return name && in(tables[k].ours, name);
}

int cfg_type_check(enum cfg_tkind k, const char *name, char *msg, size_t len)
{
	if (cfg_type_supported(k, name))
		return 0;
	if (cfg_type_registered(k, name))
		return cfg_errf(msg, len, "'%s' is a GOST %s that relayd does not implement", name,
				tables[k].what);
	return cfg_errf(msg, len, "unknown %s type '%s'", tables[k].what, name);
}

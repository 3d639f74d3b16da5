/* relayd configuration: GOST v3 schema.
 *
 * Two stages.  (1) The *document*: a jansson tree in GOST's JSON schema, built by
 * loading every -C source in order and appending what the -L/-F flags mean
 * (exactly what `gost -O json` would print).  (2) The *compiled* config: typed,
 * validated structs the daemon runs on, with chains resolved by name, users
 * resolved from auth/auther/authers (inline lists and auth files), defaults
 * applied.  Errors name the flag or the field path ("services[0].handler.type")
 * and the source file; main() prints them and exits with status 2. */
#ifndef RELAYD_CONFIG_CONFIG_H
#define RELAYD_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define CFG_ERR_MAX 512

/* Metadata: GOST keys are case-insensitive; values may be JSON strings, numbers
 * or bools and are kept as text ("true", "15", "15s"). */
struct cfg_md {
	size_t n;
	char **keys;
	char **vals;
	char *where;            /* "relayd.json: services[0].handler.metadata": prefixes
				 * getter errors; NULL = the key alone */
};

/* Lookups return NULL / the default when the key is absent (an empty value counts
 * as absent).  The typed getters return 0, or -1 with err filled
 * ("services[0].handler.metadata.nodelay: 'maybe' is not a boolean") when the
 * value does not parse.  Arrays and objects are kept as compact JSON text. */
const char *cfg_md_get(const struct cfg_md *md, const char *key);
int cfg_md_bool(const struct cfg_md *md, const char *key, bool def, bool *out, char *err,
		size_t errlen);
int cfg_md_int(const struct cfg_md *md, const char *key, long def, long *out, char *err,
	       size_t errlen);
/* Go duration ("1m30s", "250ms") or a bare integer meaning seconds. */
int cfg_md_duration_ms(const struct cfg_md *md, const char *key, long def_ms, long *out_ms,
		       char *err, size_t errlen);
/* Comma-separated string or JSON array of strings; *out is a NULL-terminated
 * array to free with cfg_strv_free(). */
int cfg_md_strlist(const struct cfg_md *md, const char *key, char ***out, char *err,
		   size_t errlen);
void cfg_strv_free(char **v);
/* Parse a Go duration string; -1 on error (negative durations included). */
long cfg_parse_duration_ms(const char *s);

struct cfg_auth {
	char *username;
	char *password;         /* "" = any password accepted (GOST rule) */
};

/* The resolved authenticator of a handler or listener.  enabled = false means no
 * authenticator at all (everyone accepted, credentials ignored); enabled with
 * n == 0 rejects everyone. */
struct cfg_users {
	bool enabled;
	size_t n;
	struct cfg_auth *v;
};

struct cfg_tls {
	bool present;
	char *cert_file, *key_file, *ca_file;
	char *server_name;
	bool secure;
};

struct cfg_selector {
	char *strategy;         /* "round" (default), "random", "fifo", "hash" */
	long max_fails;         /* default 1 */
	long fail_timeout_ms;   /* default 10 s (GOST's DefaultFailTimeout); -L/-F
				 * selector parameters write 30 s explicitly */
};

struct cfg_node {               /* a chain hop's node */
	char *name;
	char *addr;
	char *connector;        /* "relay", ... (default "http") */
	struct cfg_auth *connector_auth;        /* NULL: none */
	struct cfg_md connector_md;
	char *dialer;           /* "tcp", "tls", "ws", "wss", "kcp" (default "tcp") */
	struct cfg_auth *dialer_auth;
	struct cfg_md dialer_md;
	struct cfg_tls dialer_tls;
	struct cfg_md md;
};

struct cfg_hop {
	char *name;
	size_t n_nodes;
	struct cfg_node *nodes;
	struct cfg_selector selector;
	struct cfg_md md;
};

struct cfg_chain {
	char *name;
	size_t n_hops;
	struct cfg_hop *hops;
	struct cfg_md md;
};

struct cfg_fnode {              /* a forwarder target */
	char *name;
	char *addr;
	char *network;          /* NULL unless set */
};

struct cfg_forwarder {
	size_t n_nodes;         /* 0: the service has no forwarder */
	struct cfg_fnode *nodes;
	struct cfg_selector selector;
};

struct cfg_service {
	char *name;
	char *addr;
	char *handler;                          /* "relay", "auto", "tcp", ... */
	const struct cfg_chain *handler_chain;  /* NULL: dial directly */
	struct cfg_users handler_users;
	struct cfg_md handler_md;
	char *listener;                         /* "tcp", "udp", "tls", ... */
	const struct cfg_chain *listener_chain; /* rtcp/rudp: the chain that carries the BIND */
	struct cfg_users listener_users;
	struct cfg_tls listener_tls;
	struct cfg_md listener_md;
	struct cfg_forwarder forwarder;
	struct cfg_md md;
};

struct cfg_log {
	char *level;            /* trace debug info warn error fatal (default info) */
	char *format;           /* json (default) or text */
	char *output;           /* stderr (default), stdout, none, or a file path */
};

struct cfg_metrics {
	char *addr;             /* NULL: disabled */
	char *path;             /* default /metrics */
	struct cfg_auth *auth;
};

struct cfg {
	size_t n_services;
	struct cfg_service *services;
	size_t n_chains;
	struct cfg_chain *chains;
	struct cfg_tls tls;     /* top-level default TLS */
	struct cfg_log log;
	struct cfg_metrics metrics;
};

/* Command-line sources, in flag order within each list. */
struct cfg_sources {
	const char **C;
	size_t nC;
	const char **L;
	size_t nL;
	const char **F;
	size_t nF;
};

/* Build the merged document: every -C source left to right (file path, "-" for
 * stdin, or inline "{...}"), then the -L/-F config appended.  Lists are appended,
 * single sections (tls, log, api, metrics) replaced by later non-null ones. */
int cfg_build_doc(const struct cfg_sources *src, json_t **out, char *err, size_t errlen);

/* What one -L / -F flag means, appended to doc (used by cfg_build_doc). */
int cfg_doc_add_flags(json_t *doc, const char **L, size_t nL, const char **F, size_t nF,
		      char *err, size_t errlen);

/* The document as `gost -O json` prints it (two-space indent); caller frees. */
char *cfg_doc_dump(const json_t *doc);

/* Validate and compile.  Relative auth file paths are opened from the working
 * directory, as GOST does. */
int cfg_compile(const json_t *doc, struct cfg **out, char *err, size_t errlen);
void cfg_free(struct cfg *c);

/* Authenticate like GOST's auther: user must exist, an empty configured password
 * accepts any password; no authenticator accepts everyone. */
bool cfg_users_check(const struct cfg_users *u, const char *user, const char *pass);

#endif

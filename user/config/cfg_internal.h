/* Declarations shared by the files of user/config and nothing else: the Go
 * standard-library behaviours GOST's config code relies on (cfg_go.c), the
 * net/url subset (cfg_url.c), mdutil-style getters over jansson metadata
 * (cfg_jmd.c), the GOST schema (cfg_schema.c), the type tables (cfg_types.c),
 * text buffers and errors (cfg_util.c), and the compile helpers split across
 * cfg_compile*.c, cfg_auth.c and cfg_md.c. */
#ifndef RELAYD_CONFIG_CFG_INTERNAL_H
#define RELAYD_CONFIG_CFG_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "config/config.h"

#define CFG_PATH_MAX 256
/* Provenance of a top-level list element or a -F hop, added after loading.
 * Unknown to GOST's schema, so never printed by cfg_doc_dump. */
#define CFG_SRC_KEY "relayd:source"
#define CFG_IDX_KEY "relayd:index"

#define CFG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- cfg_util.c: errors, strings, text buffers, JSON lookups ---------------- */

/* Format into err (when err != NULL) and return -1. */
int cfg_errf(char *err, size_t errlen, const char *fmt, ...) CFG_PRINTF(3, 4);
/* snprintf for error paths, which may be cut short. */
void cfg_pathf(char *dst, size_t len, const char *fmt, ...) CFG_PRINTF(3, 4);
char *cfg_strdup(const char *s);
char *cfg_strndup(const char *s, size_t n);
bool cfg_streq_ci(const char *a, const char *b);

/* Growable text; the first failed allocation sticks in oom and later calls do
 * nothing, so callers check once at the end. */
struct cfg_buf {
	char *p;
	size_t len, cap;
	bool oom;
};
void cfg_buf_add(struct cfg_buf *b, const char *s, size_t n);
void cfg_buf_str(struct cfg_buf *b, const char *s);
void cfg_buf_chr(struct cfg_buf *b, char c);
void cfg_buf_fmt(struct cfg_buf *b, const char *fmt, ...) CFG_PRINTF(2, 3);
char *cfg_buf_take(struct cfg_buf *b);          /* NULL on OOM; b is reset */
void cfg_buf_free(struct cfg_buf *b);

/* Object member by exact name, else the last case-insensitive match (GOST keys
 * are case-insensitive); NULL when absent. */
json_t *cfg_obj_get(const json_t *obj, const char *key);
/* A string member's value, or NULL when absent, null or not a string. */
const char *cfg_obj_str(const json_t *obj, const char *key);
/* Set key to a fresh string; -1 on OOM. */
int cfg_obj_set_str(json_t *obj, const char *key, const char *val);
/* A metadata value as text: strings as they are, numbers the way Go prints
 * them, bools as true/false, arrays and objects as compact JSON.  NULL for
 * JSON null or on OOM (*oom set). */
char *cfg_json_text(const json_t *v, bool *oom);

/* ---- cfg_go.c: Go standard-library behaviours ------------------------------ */

/* strconv.Atoi (int64). */
int cfg_go_atoi(const char *s, long long *out);
/* strconv.ParseInt(s, 0, 64) as mapstructure's weak decoding uses it. */
int cfg_go_parse_int0(const char *s, long long *out);
/* strconv.ParseBool. */
int cfg_go_parse_bool(const char *s, bool *out);
/* strconv.ParseFloat(s, 64). */
int cfg_go_parse_float(const char *s, double *out);
/* time.ParseDuration in nanoseconds; err gets Go's message. */
int cfg_go_parse_duration(const char *s, long long *ns, char *err, size_t errlen);
/* net.SplitHostPort; err gets Go's reason ("missing port in address"). */
int cfg_go_split_host_port(const char *hp, char **host, char **port, char *err, size_t errlen);
/* net.JoinHostPort; NULL on OOM. */
char *cfg_go_join_host_port(const char *host, const char *port);
/* base64 StdEncoding / RawURLEncoding; err gets Go's message. */
int cfg_go_base64_decode(const char *s, bool raw_url, char **out, size_t *outlen, char *err,
			 size_t errlen);
/* encoding/json's float64 text ("1.5", "1e+21"). */
void cfg_go_fmt_float(double v, char *buf, size_t len);
/* strings.TrimSpace over ASCII white space, in place; returns s. */
char *cfg_go_trim(char *s);

/* ---- cfg_url.c: the net/url subset GOST's -L/-F parsing goes through -------- */

struct cfg_url {
	char *scheme;           /* lower-cased, "" when absent */
	bool has_user;
	char *username;
	bool has_password;
	char *password;
	char *host;             /* url.Host, unescaped */
	char *path;             /* unescaped */
	char *escaped_path;     /* url.EscapedPath() */
	char *raw_query;
};
/* url.Parse; on error err gets Go's message without the "parse ...:" prefix. */
int cfg_url_parse(const char *s, struct cfg_url *u, char *err, size_t errlen);
void cfg_url_free(struct cfg_url *u);
/* url.URL.Hostname() of a host[:port]; NULL on OOM. */
char *cfg_url_hostname(const char *host);
/* url.Query() keeping the first value of each key, as an object of strings;
 * NULL on OOM. */
json_t *cfg_url_query(const char *raw);

/* ---- cfg_jmd.c: GOST's mdutil getters over a jansson metadata object -------- */

/* mdx.NewMetadata: a copy with lower-cased keys (the first spelling wins). */
json_t *cfg_jmd_snapshot(const json_t *m);
/* mdutil.GetString/GetInt/GetBool/GetFloat/GetDuration: first key present wins,
 * unparsable values give the zero value.  GetString returns a new string ("" when
 * absent), NULL only on OOM. */
char *cfg_jmd_string(const json_t *md, const char *const *keys);
long long cfg_jmd_int(const json_t *md, const char *const *keys);
bool cfg_jmd_bool(const json_t *md, const char *const *keys);
double cfg_jmd_float(const json_t *md, const char *const *keys);
long long cfg_jmd_duration_ns(const json_t *md, const char *const *keys);

/* ---- cfg_schema.c: GOST's config structs ----------------------------------- */

enum cfg_kind {
	CFG_K_STR,      /* string */
	CFG_K_INT,      /* int */
	CFG_K_BOOL,     /* bool */
	CFG_K_DUR,      /* time.Duration: nanoseconds in the document */
	CFG_K_STRS,     /* []string */
	CFG_K_MAP,      /* map[string]any: printed with sorted keys */
	CFG_K_ANY,      /* a section relayd keeps as it came */
	CFG_K_OBJ,      /* *struct */
	CFG_K_LIST,     /* []*struct */
};

struct cfg_schema;
struct cfg_field {
	const char *name;               /* the JSON spelling GOST prints */
	enum cfg_kind kind;
	bool omitempty;
	const struct cfg_schema *sub;   /* CFG_K_OBJ / CFG_K_LIST */
};
struct cfg_schema {
	const struct cfg_field *fields; /* in Go struct order */
	size_t n;
};

extern const struct cfg_schema cfg_schema_config;

struct cfg_norm_opts {
	const char *src;        /* named in errors; NULL = none */
	bool lower_md_keys;     /* viper lower-cases every map key it reads */
	bool keep_private;      /* keep CFG_SRC_KEY / CFG_IDX_KEY */
};
/* Decode a document into GOST's schema: names matched case-insensitively and
 * spelled as GOST prints them, unknown keys dropped, values converted the way
 * viper/mapstructure converts them ("30s" durations become nanoseconds). */
int cfg_normalize(const json_t *in, const struct cfg_norm_opts *o, json_t **out, char *err,
		  size_t errlen);

/* ---- cfg_load.c ------------------------------------------------------------ */

/* mergeConfig: src's lists appended to dst's, src's non-null single sections
 * replacing dst's; lists left empty are removed (Go's append of nothing to nil
 * stays nil).  src is not changed; -1 on OOM. */
int cfg_doc_merge(json_t *dst, const json_t *src);

/* ---- cfg_types.c: GOST's registered types and relayd's supported subset ----- */

enum cfg_tkind { CFG_T_HANDLER, CFG_T_LISTENER, CFG_T_CONNECTOR, CFG_T_DIALER };
bool cfg_type_registered(enum cfg_tkind k, const char *name);
bool cfg_type_supported(enum cfg_tkind k, const char *name);
/* 0 when relayd implements it, else -1 with the reason in msg. */
int cfg_type_check(enum cfg_tkind k, const char *name, char *msg, size_t len);

/* ---- compile helpers (cfg_compile*.c, cfg_auth.c, cfg_md.c) ---------------- */

/* Where a compiled object came from: error prefix "src: path". */
struct cfg_loc {
	const char *src;                /* NULL = unknown */
	char path[CFG_PATH_MAX];
};
void cfg_loc_child(struct cfg_loc *child, const struct cfg_loc *parent, const char *fmt, ...)
	CFG_PRINTF(3, 4);
/* "src: path.field: msg" into err; returns -1. */
int cfg_loc_err(char *err, size_t errlen, const struct cfg_loc *loc, const char *field,
		const char *fmt, ...) CFG_PRINTF(5, 6);
/* Take provenance from el (CFG_SRC_KEY / CFG_IDX_KEY) for list[i]. */
void cfg_loc_elem(struct cfg_loc *loc, const json_t *el, const char *list, size_t i,
		  const struct cfg_loc *parent);

/* Metadata object -> cfg_md with where = "loc.path.field". */
int cfg_md_from_json(struct cfg_md *md, const json_t *obj, const struct cfg_loc *loc,
		     const char *field, char *err, size_t errlen);
/* Set key (replacing a case-insensitive match); -1 on OOM. */
int cfg_md_set(struct cfg_md *md, const char *key, const char *val);
void cfg_md_free(struct cfg_md *md);

/* An auth object as a client credential (GOST's auth_parser.Info): auth.file's
 * first user line, else username/password; *out = NULL when there is none. */
int cfg_auth_client(const json_t *auth, const struct cfg_loc *loc, const char *field,
		    struct cfg_auth **out, char *err, size_t errlen);
/* The authenticator of a handler/listener object (auther, authers, auth). */
int cfg_users_resolve(const json_t *doc, const json_t *obj, const struct cfg_loc *loc,
		      const char *field, struct cfg_users *out, char *err, size_t errlen);
void cfg_auth_free(struct cfg_auth *a);
void cfg_users_free(struct cfg_users *u);
/* Users of a GOST auth file (x/auth format) added to u: a user already in
 * u->v[from..] (the same auther) gets the later password, others are appended.
 * err gets strerror's text when the file cannot be read. */
int cfg_auth_file_load(const char *path, struct cfg_users *u, size_t from, char *err,
		       size_t errlen);

/* cfg_compile_chain.c */
int cfg_compile_chains(const json_t *doc, struct cfg *c, char *err, size_t errlen);
int cfg_compile_selector(const json_t *sel, const struct cfg_loc *loc, const char *field,
			 struct cfg_selector *out, char *err, size_t errlen);
/* A tls object (absent: present = false, all NULL). */
int cfg_compile_tls(const json_t *tls, struct cfg_tls *out, char *err, size_t errlen);
/* A top-level hops[] entry by name; NULL when absent. */
const json_t *cfg_find_hop(const json_t *doc, const char *name, size_t *idx);
/* "host:port" with a numeric port 0..65535, for error checks. */
int cfg_check_addr(const char *addr, const struct cfg_loc *loc, const char *field, char *err,
		   size_t errlen);
/* GOST features relayd does not implement: the first of fields that obj sets
 * gives "loc.field: <what> are a GOST feature relayd does not implement". */
struct cfg_refusal {
	const char *field;
	const char *what;
};
int cfg_refuse(const json_t *obj, const struct cfg_refusal *fields, const struct cfg_loc *loc,
	       char *err, size_t errlen);

/* cfg_free.c */
void cfg_tls_free(struct cfg_tls *t);
void cfg_selector_free(struct cfg_selector *s);
void cfg_chain_free(struct cfg_chain *ch);
void cfg_hop_free(struct cfg_hop *h);
void cfg_node_free(struct cfg_node *n);

#endif

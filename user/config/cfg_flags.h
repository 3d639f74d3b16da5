/* Shared by the files that turn -L/-F flags into GOST's config the way
 * x/config/cmd/cmd.go does (cfg_flags.c, cfg_flags_svc.c, cfg_flags_node.c,
 * cfg_flagmd.c): the build context and the query-parameter helpers. */
#ifndef RELAYD_CONFIG_CFG_FLAGS_H
#define RELAYD_CONFIG_CFG_FLAGS_H

#include "config/cfg_internal.h"

/* One -L/-F build.  Allocation failures stick in oom so the builders can be
 * written straight through and checked once per flag. */
struct cfg_fb {
	json_t *cfg;            /* the Config the flags make (schema-shaped) */
	const char *flag;       /* "-L" / "-F" of the value being parsed */
	const char *arg;        /* that value, for errors */
	char *err;
	size_t errlen;
	bool oom;
};

/* "-L 'arg': msg" into err; returns -1. */
int cfg_fb_fail(struct cfg_fb *b, const char *fmt, ...) CFG_PRINTF(2, 3);

/* Sticky-OOM wrappers: each takes ownership of v. */
void cfg_fb_set(struct cfg_fb *b, json_t *obj, const char *key, json_t *v);
void cfg_fb_append(struct cfg_fb *b, json_t *arr, json_t *v);
/* Append v to the top-level list named list; returns its index there. */
size_t cfg_fb_add_top(struct cfg_fb *b, const char *list, json_t *v);
size_t cfg_fb_top_len(const struct cfg_fb *b, const char *list);
json_t *cfg_fb_str(struct cfg_fb *b, const char *s);
/* Copy of m, NULL recorded as OOM. */
json_t *cfg_fb_copy(struct cfg_fb *b, const json_t *m);

/* x/config/cmd Norm: trim, "auto://" when there is no scheme, url.Parse,
 * https -> http+tls.  Errors name the flag. */
int cfg_fb_norm_url(struct cfg_fb *b, const char *raw, struct cfg_url *u);

/* strings.Split(scheme, "+") in place, empty pieces kept; pieces past the
 * array are counted but not stored (GOST only uses one or two). */
#define CFG_FB_MAX_SCHEMES 8
size_t cfg_fb_split_scheme(char *scheme, char **parts);

/* mdutil.GetString on a lower-cased snapshot: "" when absent, NULL only on
 * OOM (recorded in b). */
char *cfg_fb_get_str(struct cfg_fb *b, const json_t *md, const char *const *keys);

/* Metadata helpers over the query map m (exact-case deletes, like Go's
 * delete on the map GOST builds). */
void cfg_fb_del(json_t *m, const char *const *keys);

/* x/config/cmd parseSelector: a selector object, or NULL when m asks for none
 * (OOM is recorded in b). */
json_t *cfg_fb_selector(struct cfg_fb *b, json_t *m);

/* Userinfo (SIP002 for ss* schemes) then ?auth=base64; *auth = NULL when
 * there is none.  -1 when ?auth= does not decode. */
int cfg_fb_auth(struct cfg_fb *b, const struct cfg_url *u, const json_t *md, json_t **auth);

/* Named objects GOST makes from query parameters; each returns the new name,
 * or NULL when the value is empty (or on OOM, recorded in b). */
char *cfg_fb_bypass(struct cfg_fb *b, const char *list, const char *prefix, const char *v);
char *cfg_fb_resolver(struct cfg_fb *b, const char *v, const char *prefer);
char *cfg_fb_hosts(struct cfg_fb *b, const char *v);

/* x/internal/net AddrPortRange.Addrs(); *n = 0 when it gives nothing.  -1
 * (error in b) for a range too large to be ports. */
int cfg_fb_port_range(struct cfg_fb *b, const char *addr, char ***out, size_t *n);

/* The -F and -L builders. */
int cfg_fb_node(struct cfg_fb *b, json_t *chain, size_t i);
int cfg_fb_services(struct cfg_fb *b, json_t *services);
/* The per-service handler metadata pass (retries, admission, bypass, ...). */
int cfg_fb_service_objects(struct cfg_fb *b, json_t *svc);

#endif

/* Users and credentials: GOST's auth-file format (x/auth parseAuths for
 * authers, x/config/parsing/auth parseInfo for a client's auth.file), the
 * authenticator of a handler or listener resolved from auther/authers (named
 * top-level authers[] with inline auths and file.path) or a one-user auth,
 * client credentials for connectors and dialers, and GOST's check rule. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_internal.h"

/* Set user's password within u->v[from..], or append. */
static int users_put(struct cfg_users *u, size_t from, const char *user, const char *pass)
{
	struct cfg_auth *v;
	char *p = cfg_strdup(pass), *name;

	if (!p)
		return -1;
	for (size_t i = from; i < u->n; i++) {
		if (!strcmp(u->v[i].username, user)) {
			free(u->v[i].password);
			u->v[i].password = p;
			return 0;
		}
	}
	name = cfg_strdup(user);
	v = realloc(u->v, (u->n + 1) * sizeof(*v));
	if (!name || !v) {
		free(name);
		free(p);
		return -1;
	}
	u->v = v;
	u->v[u->n].username = name;
	u->v[u->n].password = p;
	u->n++;
	return 0;
}

static char *read_all(const char *path, char *err, size_t errlen)
{
	struct cfg_buf b = { 0 };
	char chunk[8192];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		cfg_errf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cfg_buf_add(&b, chunk, n);
	if (ferror(f)) {
		cfg_errf(err, errlen, "%s", strerror(errno));
		fclose(f);
		cfg_buf_free(&b);
		return NULL;
	}
	fclose(f);
	if (b.oom) {
		cfg_errf(err, errlen, "out of memory");
		cfg_buf_free(&b);
		return NULL;
	}
	return cfg_buf_take(&b);
}

/* One line of an auth file: "user password" (password optional, may hold
 * spaces), blank and '#' lines skipped.  Returns false when the line holds
 * no user.  tabs_are_spaces: authers treat tabs as separators, a client's
 * auth.file does not. */
static bool auth_line(char *line, bool tabs_are_spaces, char **user, char **pass)
{
	char *sp;

	if (tabs_are_spaces) {
		for (char *p = line; *p; p++) {
			if (*p == '\t')
				*p = ' ';
		}
	}
	line = cfg_go_trim(line);
	if (line[0] == '#')
		return false;
	sp = strchr(line, ' ');
	if (sp)
		*sp++ = '\0';
	*user = cfg_go_trim(line);
	*pass = sp ? cfg_go_trim(sp) : sp;
	if (!*pass)
		*pass = "";
	return **user != '\0';
}

/* bufio.ScanLines: lines end at '\n', a '\r' before it is dropped. */
static char *next_line(char **cursor)
{
	char *line = *cursor, *nl;
	size_t n;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = line + strlen(line);
	}
	n = strlen(line);
	if (n && line[n - 1] == '\r')
		line[n - 1] = '\0';
	return line;
}

int cfg_auth_file_load(const char *path, struct cfg_users *u, size_t from, char *err,
		       size_t errlen)
{
	char *text = read_all(path, err, errlen), *cursor = text, *line, *user, *pass;

	if (!text)
		return -1;
	while ((line = next_line(&cursor))) {
		if (auth_line(line, true, &user, &pass) && users_put(u, from, user, pass)) {
			free(text);
			return cfg_errf(err, errlen, "out of memory");
		}
	}
	free(text);
	return 0;
}

static struct cfg_auth *auth_new(const char *user, const char *pass)
{
	struct cfg_auth *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->username = cfg_strdup(user);
	a->password = cfg_strdup(pass ? pass : "");
	if (!a->username || !a->password) {
		cfg_auth_free(a);
		return NULL;
	}
	return a;
}

int cfg_auth_client(const json_t *auth, const struct cfg_loc *loc, const char *field,
		    struct cfg_auth **out, char *err, size_t errlen)
{
	const char *file = cfg_obj_str(auth, "file"), *user = cfg_obj_str(auth, "username");
	char why[256], sub[CFG_PATH_MAX];

	*out = NULL;
	if (file && *file) {
		char *text = read_all(file, why, sizeof(why)), *cursor = text, *line, *u, *p;

		cfg_pathf(sub, sizeof(sub), "%s.file", field);
		if (!text)
			return cfg_loc_err(err, errlen, loc, sub, "cannot read '%s': %s", file, why);
		while ((line = next_line(&cursor))) {
			if (auth_line(line, false, &u, &p)) {
				*out = auth_new(u, p);
				free(text);
				return *out ? 0 : cfg_errf(err, errlen, "out of memory");
			}
		}
		free(text);     /* no user in it: GOST falls back to username/password */
	}
	if (!user || !*user)
		return 0;
	*out = auth_new(user, cfg_obj_str(auth, "password"));
	return *out ? 0 : cfg_errf(err, errlen, "out of memory");
}

static const json_t *find_auther(const json_t *doc, const char *name, size_t *idx)
{
	const json_t *list = json_object_get(doc, "authers"), *a;
	size_t i;

	json_array_foreach(list, i, a) {
		const char *n = cfg_obj_str(a, "name");

		if (n && !strcmp(n, name)) {
			*idx = i;
			return a;
		}
	}
	return NULL;
}

/* One named auther's users into u. */
static int add_auther(const json_t *doc, const char *name, const struct cfg_loc *loc,
		      const char *field, struct cfg_users *u, char *err, size_t errlen)
{
	static const struct cfg_refusal refused[] = {
		{ "redis", "redis user loaders" },
		{ "http", "HTTP user loaders" },
		{ "plugin", "auther plugins" },
		{ NULL, NULL },
	};
	const json_t *a, *auths, *e;
	struct cfg_loc aloc;
	const char *path;
	char why[256];
	size_t idx = 0, i, from = u->n;

	a = find_auther(doc, name, &idx);
	if (!a)
		return cfg_loc_err(err, errlen, loc, field, "no auther named '%s'", name);
	cfg_loc_elem(&aloc, a, "authers", idx, NULL);
	if (cfg_refuse(a, refused, &aloc, err, errlen))
		return -1;
	auths = json_object_get(a, "auths");
	json_array_foreach(auths, i, e) {
		const char *user = cfg_obj_str(e, "username");

		if (!user || !*user)
			continue;
		if (users_put(u, from, user, cfg_obj_str(e, "password") ?
			      cfg_obj_str(e, "password") : ""))
			return cfg_errf(err, errlen, "out of memory");
	}
	path = cfg_obj_str(json_object_get(a, "file"), "path");
	if (path && *path && cfg_auth_file_load(path, u, from, why, sizeof(why)))
		return cfg_loc_err(err, errlen, &aloc, "file.path", "cannot read '%s': %s", path,
				   why);
	return 0;
}

int cfg_users_resolve(const json_t *doc, const json_t *obj, const struct cfg_loc *loc,
		      const char *field, struct cfg_users *out, char *err, size_t errlen)
{
	const char *auther = cfg_obj_str(obj, "auther"), *file, *user;
	const json_t *authers = json_object_get(obj, "authers"), *e, *auth;
	char sub[CFG_PATH_MAX];
	size_t i;

	memset(out, 0, sizeof(*out));
	if (auther && *auther) {
		out->enabled = true;
		cfg_pathf(sub, sizeof(sub), "%s.auther", field);
		if (add_auther(doc, auther, loc, sub, out, err, errlen))
			goto fail;
	}
	json_array_foreach(authers, i, e) {
		const char *name = json_string_value(e);

		if (!name || !*name)
			continue;
		out->enabled = true;
		cfg_pathf(sub, sizeof(sub), "%s.authers[%zu]", field, i);
		if (add_auther(doc, name, loc, sub, out, err, errlen))
			goto fail;
	}
	if (out->enabled)
		return 0;

	auth = json_object_get(obj, "auth");
	file = cfg_obj_str(auth, "file");
	user = cfg_obj_str(auth, "username");
	if ((!user || !*user) && file && *file) {
		cfg_pathf(sub, sizeof(sub), "%s.auth.file", field);
		return cfg_loc_err(err, errlen, loc, sub, "GOST ignores auth.file here, so nobody "
				   "would be authenticated; name an auther with file.path instead");
	}
	if (!user || !*user)
		return 0;
	out->enabled = true;
	if (users_put(out, 0, user, cfg_obj_str(auth, "password") ?
		      cfg_obj_str(auth, "password") : "")) {
		cfg_errf(err, errlen, "out of memory");
		goto fail;
	}
	return 0;
fail:
	cfg_users_free(out);
	return -1;
}

bool cfg_users_check(const struct cfg_users *u, const char *user, const char *pass)
{
	if (!u || !u->enabled)
		return true;
	if (!user)
		user = "";
	if (!pass)
		pass = "";
	for (size_t i = 0; i < u->n; i++) {
		if (!strcmp(u->v[i].username, user) &&
		    (!*u->v[i].password || !strcmp(u->v[i].password, pass)))
			return true;
	}
	return false;
}

void cfg_auth_free(struct cfg_auth *a)
{
	if (!a)
		return;
	free(a->username);
	free(a->password);
	free(a);
}

void cfg_users_free(struct cfg_users *u)
{
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].username);
		free(u->v[i].password);
	}
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* Helpers for tests that read the GOST-produced vector files: load a file,
 * pick fields, and turn hex into an exactly-sized heap buffer (so ASan flags
 * any read past it). */
#ifndef RELAYD_TESTS_VEC_H
#define RELAYD_TESTS_VEC_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "unit.h"

static inline json_t *vec_load(const char *file)
{
	char path[512];
	json_error_t e;
	json_t *v;

	snprintf(path, sizeof(path), "%s/%s", unit_vectors_dir(), file);
	v = json_load_file(path, 0, &e);
	if (!v || !json_is_array(v)) {
		fprintf(stderr, "cannot load %s: %s (run from the repository root)\n", path, e.text);
		json_decref(v);
		return NULL;
	}
	return v;
}

static inline const char *vec_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static inline long long vec_int(const json_t *o, const char *key, long long def)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

/* NULL (and *n 0) for an empty or absent string. */
static inline uint8_t *vec_unhex(const char *hex, size_t *n)
{
	size_t len = hex ? strlen(hex) / 2 : 0;
	uint8_t *b;

	*n = len;
	if (!len)
		return NULL;
	b = malloc(len);
	if (!b)
		abort();
	for (size_t i = 0; i < len; i++) {
		unsigned v = 0;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		b[i] = (uint8_t)v;
	}
	return b;
}

#endif

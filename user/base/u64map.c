/* u64 → pointer hash map with linear probing and backward-shift deletion. */
#include "base/u64map.h"

#include <errno.h>
#include <stdlib.h>

static size_t slot_of(uint64_t k, size_t cap)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return (size_t)k & (cap - 1);
}

void u64map_init(struct u64map *m)
{
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}

void u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	u64map_init(m);
}

static int grow(struct u64map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	uint64_t *nk = calloc(ncap, sizeof(*nk));
	void **nv = calloc(ncap, sizeof(*nv));

	if (!nk || !nv) {
		free(nk);
		free(nv);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t s;

		if (!m->keys[i])
			continue;
		for (s = slot_of(m->keys[i], ncap); nk[s]; s = (s + 1) & (ncap - 1))
			;
		nk[s] = m->keys[i];
		nv[s] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = nk;
	m->vals = nv;
	m->cap = ncap;
	return 0;
}

int u64map_put(struct u64map *m, uint64_t key, void *val)
{
	size_t s;

	if ((m->n + 1) * 2 > m->cap && grow(m))
		return -ENOMEM;
	for (s = slot_of(key, m->cap); m->keys[s]; s = (s + 1) & (m->cap - 1)) {
		if (m->keys[s] == key) {
			m->vals[s] = val;
			return 0;
		}
	}
	m->keys[s] = key;
	m->vals[s] = val;
	m->n++;
	return 0;
}

void *u64map_get(const struct u64map *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t s = slot_of(key, m->cap); m->keys[s]; s = (s + 1) & (m->cap - 1))
		if (m->keys[s] == key)
			return m->vals[s];
	return NULL;
}

void *u64map_del(struct u64map *m, uint64_t key)
{
	size_t s, mask = m->cap - 1;
	void *val;

	if (!m->cap)
		return NULL;
	for (s = slot_of(key, m->cap); m->keys[s] && m->keys[s] != key; s = (s + 1) & mask)
		;
	if (!m->keys[s])
		return NULL;
	val = m->vals[s];
	m->n--;
	/* backward shift: move later entries of the probe chain into the hole */
	for (size_t j = (s + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
		size_t home = slot_of(m->keys[j], m->cap);

		if (((j - home) & mask) >= ((j - s) & mask)) {
			m->keys[s] = m->keys[j];
			m->vals[s] = m->vals[j];
			s = j;
		}
	}
	m->keys[s] = 0;
	m->vals[s] = NULL;
	return val;
}

/* A small open-addressing hash map from non-zero uint64_t keys (socket
 * cookies, connection ids) to pointers.  Single-threaded; grows by doubling. */
#ifndef RELAYD_BASE_U64MAP_H
#define RELAYD_BASE_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct u64map {
	uint64_t *keys;         /* 0 = empty slot */
	void **vals;
	size_t cap, n;
};

void u64map_init(struct u64map *m);
void u64map_free(struct u64map *m);
/* 0, or -ENOMEM. */
int u64map_put(struct u64map *m, uint64_t key, void *val);
void *u64map_get(const struct u64map *m, uint64_t key);
void *u64map_del(struct u64map *m, uint64_t key);

#endif

/* Bytes already read from one side of a connection that must reach the other
 * side before anything else does.  Handed from the copy pump to whichever
 * data path takes over (splice or the kernel fast path), which then owns buf
 * (malloc'd; NULL when there is nothing). */
#ifndef RELAYD_BASE_LEFTOVER_H
#define RELAYD_BASE_LEFTOVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct leftover {
	uint8_t *buf;
	size_t off, len;
};

static inline size_t leftover_size(const struct leftover *l)
{
	return l->buf ? l->len - l->off : 0;
}

static inline void leftover_free(struct leftover *l)
{
	free(l->buf);
	l->buf = NULL;
	l->off = l->len = 0;
}

#endif

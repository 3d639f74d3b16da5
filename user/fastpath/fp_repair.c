/* Cutting retransmitted bytes out of a passed-stream buffer (fp_repair.h). */
#include <string.h>

#include "fastpath/fp_repair.h"

long fp_cut_skips(struct fp_skip_state *st, const struct fp_conn *c, uint64_t start,
		  uint8_t *buf, size_t *len)
{
	uint64_t end = start + *len;
	size_t removed = 0;

	if (c->skips - st->done > FP_SKIPS)
		return -1;
	while (st->done != c->skips) {
		uint32_t k = st->done % FP_SKIPS;
		uint64_t from = c->skip_at[k] + st->progress;
		uint64_t to = c->skip_at[k] + c->skip_len[k];
		size_t at, n;

		if (from >= end)
			break;
		if (from < start)
			return -1;      /* those bytes went out already */
		n = (size_t)((to < end ? to : end) - from);
		at = (size_t)(from - start) - removed;
		memmove(buf + at, buf + at + n, *len - at - n);
		*len -= n;
		removed += n;
		st->progress += (uint32_t)n;
		if (st->progress < c->skip_len[k])
			break;
		st->done++;
		st->progress = 0;
	}
	return (long)removed;
}

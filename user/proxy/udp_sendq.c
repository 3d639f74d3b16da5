/* Batched replies of a UDP listener (see udp_sendq.h). */
#include "proxy/udp_sendq.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/loop.h"

#define SENDQ_MSGS 64
#define SENDQ_ARENA (256 * 1024)

struct udp_sendq {
	struct loop *loop;
	int fd;
	struct loop_task flush;
	unsigned n;
	size_t used;
	uint64_t drops;
	struct mmsghdr m[SENDQ_MSGS];
	struct iovec iov[SENDQ_MSGS];
	struct sockaddr_storage to[SENDQ_MSGS];
	uint8_t arena[SENDQ_ARENA];
};

static void flush_task(struct loop_task *t)
{
	udp_sendq_flush(CONTAINER_OF(t, struct udp_sendq, flush));
}

struct udp_sendq *udp_sendq_new(struct loop *l, int fd)
{
	struct udp_sendq *q = malloc(sizeof(*q));

	if (!q)
		return NULL;
	q->loop = l;
	q->fd = fd;
	q->n = 0;
	q->used = 0;
	q->drops = 0;
	loop_task_init(&q->flush, flush_task);
	return q;
}

void udp_sendq_free(struct udp_sendq *q)
{
	free(q);
}

void udp_sendq_flush(struct udp_sendq *q)
{
	unsigned off = 0;

	loop_cancel(q->loop, &q->flush);
	while (off < q->n) {
		int r = sendmmsg(q->fd, q->m + off, q->n - off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r > 0) {
			off += (unsigned)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else {
			/* the first one failed (full buffer, or an error for that
			 * address): drop it and go on with the rest */
			q->drops++;
			off++;
		}
	}
	q->n = 0;
	q->used = 0;
}

int udp_sendq_put(struct udp_sendq *q, const struct sockaddr_storage *to, socklen_t tolen,
		  const void *dg, size_t len)
{
	struct msghdr *h;

	if (len > 65535)
		return -EMSGSIZE;
	if (q->n == SENDQ_MSGS || q->used + len > SENDQ_ARENA)
		udp_sendq_flush(q);
	memcpy(q->arena + q->used, dg, len);
	q->iov[q->n].iov_base = q->arena + q->used;
	q->iov[q->n].iov_len = len;
	q->to[q->n] = *to;
	h = &q->m[q->n].msg_hdr;
	memset(h, 0, sizeof(*h));
	h->msg_name = &q->to[q->n];
	h->msg_namelen = tolen;
	h->msg_iov = &q->iov[q->n];
	h->msg_iovlen = 1;
	q->used += len;
	if (q->n++ == 0)
		loop_defer(q->loop, &q->flush);
	return 0;
}

uint64_t udp_sendq_take_drops(struct udp_sendq *q)
{
	uint64_t d = q->drops;

	q->drops = 0;
	return d;
}

/* Socket facts the fast path needs: the cookie (its key in every map) and
 * how much of the byte stream the TCP stack has taken in and sent. */
#include <errno.h>
#include <linux/sockios.h>
#include <linux/tcp.h>          /* struct tcp_info with tcpi_bytes_acked */
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include "base/leftover.h"
#include "fastpath/fp_internal.h"

#define BOUNDARY_ATTEMPTS 4
#define BOUNDARY_SLACK (256 * 1024)

int fp_sock_cookie(int fd, uint64_t *cookie)
{
	socklen_t l = sizeof(*cookie);

	return getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &l) ? -errno : 0;
}

int fp_sock_qstate(int fd, struct fp_qstate *q)
{
	struct tcp_info ti = { 0 };
	socklen_t l = sizeof(ti);
	int outq = 0, inq = 0;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) || ioctl(fd, SIOCOUTQ, &outq) ||
	    ioctl(fd, SIOCINQ, &inq))
		return -errno;
	q->acked = ti.tcpi_bytes_acked;
	q->outq = (uint64_t)outq;
	q->inq = (uint64_t)inq;
	return 0;
}

static int make_room(struct leftover *lo, size_t need)
{
	size_t have = leftover_size(lo);
	uint8_t *nb;

	if (lo->buf && lo->off) {
		memmove(lo->buf, lo->buf + lo->off, have);
		lo->off = 0;
		lo->len = have;
	}
	nb = realloc(lo->buf, have + need);
	if (!nb)
		return -ENOMEM;
	if (!lo->buf)
		lo->off = lo->len = 0;
	lo->buf = nb;
	return 0;
}

int fp_read_to_boundary(int fd, struct leftover *lo)
{
	for (int attempt = 0; attempt < BOUNDARY_ATTEMPTS; attempt++) {
		int q = 0, err;
		size_t want;
		ssize_t r;

		if (ioctl(fd, SIOCINQ, &q))
			return -errno;
		/* a partly read skb would still have bytes queued */
		if (q <= 0)
			return 1;
		/* room for what is queued and as much again arriving meanwhile: a
		 * read that stops short has emptied the queue, and skbs arriving
		 * after it are whole */
		want = 2 * (size_t)q + BOUNDARY_SLACK;
		if ((err = make_room(lo, want)))
			return err;
		r = recv(fd, lo->buf + lo->len, want, MSG_DONTWAIT);
		if (r < 0)
			return errno == EAGAIN ? 1 : -errno;
		lo->len += (size_t)r;
		if ((size_t)r < want)
			return 1;
	}
	return 0;
}

/* Socket facts the fast path needs: the cookie (its key in every map) and
 * how much of the byte stream the TCP stack has taken in and sent. */
#include <errno.h>
#include <linux/sockios.h>
#include <linux/tcp.h>          /* struct tcp_info with tcpi_bytes_acked */
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "fastpath/fp_internal.h"

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

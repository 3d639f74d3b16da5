/* udpload: UDP load for relayd's benchmark, batched with sendmmsg/recvmmsg.
 *
 *   udpload echo -l [HOST:]PORT [--ready FILE]
 *       echo every datagram back to its sender, until killed
 *   udpload run -c [HOST:]PORT -s SIZE -t SECS [-w WINDOW]
 *       keep at most WINDOW datagrams of SIZE bytes in flight for SECS seconds
 *       and count those that come back; a window with nothing back for 50 ms
 *       counts as lost and is reopened.  Prints key=value lines.
 *
 * A measurement aid, not a test: nothing is judged.  Exit 1 on a system
 * error, 2 on a usage error. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_DGRAM 65507
#define LOSS_WAIT_MS 50

static void die(const char *what)
{
	fprintf(stderr, "udpload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: udpload echo -l [HOST:]PORT [--ready FILE]\n"
			"       udpload run -c [HOST:]PORT -s SIZE -t SECS [-w WINDOW]\n");
	exit(2);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "PORT" or "HOST:PORT", IPv4 */
static struct sockaddr_in parse_addr(const char *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	const char *colon = strrchr(s, ':');
	char host[64] = "127.0.0.1";

	if (colon) {
		size_t n = (size_t)(colon - s);

		if (n >= sizeof(host))
			usage();
		memcpy(host, s, n);
		host[n] = 0;
		s = colon + 1;
	}
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		usage();
	a.sin_port = htons((uint16_t)atoi(s));
	return a;
}

static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sz = 8 << 20;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	return fd;
}

struct batch {
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in from[BATCH];
	uint8_t *buf;
};

static void batch_init(struct batch *b, size_t size)
{
	b->buf = malloc((size_t)BATCH * size);
	if (!b->buf)
		die("malloc");
	for (int i = 0; i < BATCH; i++) {
		b->iov[i].iov_base = b->buf + (size_t)i * size;
		b->iov[i].iov_len = size;
		memset(&b->m[i].msg_hdr, 0, sizeof(b->m[i].msg_hdr));
		b->m[i].msg_hdr.msg_iov = &b->iov[i];
		b->m[i].msg_hdr.msg_iovlen = 1;
		b->m[i].msg_hdr.msg_name = &b->from[i];
		b->m[i].msg_hdr.msg_namelen = sizeof(b->from[i]);
	}
}

_Noreturn static void echo_main(const char *listen, const char *ready)
{
	struct sockaddr_in a = parse_addr(listen);
	socklen_t al = sizeof(a);
	struct batch b;
	int fd = udp_socket();

	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &al))
		die("bind");
	batch_init(&b, MAX_DGRAM);
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f)
			die("ready file");
		fprintf(f, "127.0.0.1:%u\n", ntohs(a.sin_port));
		fclose(f);
	}
	for (;;) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			b.iov[i].iov_len = MAX_DGRAM;
			b.m[i].msg_hdr.msg_namelen = sizeof(b.from[i]);
		}
		n = recvmmsg(fd, b.m, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recvmmsg");
		}
		for (int i = 0; i < n; i++)
			b.iov[i].iov_len = b.m[i].msg_len;
		if (sendmmsg(fd, b.m, (unsigned)n, 0) < 0 && errno != EAGAIN && errno != ENOBUFS)
			die("sendmmsg");
	}
}

static int run_main(const char *to, size_t size, double secs, long window)
{
	struct sockaddr_in a = parse_addr(to);
	struct batch out, in;
	uint64_t sent = 0, got = 0, lost = 0, bytes = 0;
	int fd = udp_socket();
	double t0, t;

	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	batch_init(&out, size);
	batch_init(&in, MAX_DGRAM);
	memset(out.buf, 0x5a, (size_t)BATCH * size);
	for (int i = 0; i < BATCH; i++)
		out.m[i].msg_hdr.msg_name = NULL, out.m[i].msg_hdr.msg_namelen = 0;
	t0 = now_s();
	while ((t = now_s()) - t0 < secs) {
		uint64_t inflight = sent - got - lost;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n;

		if ((long)inflight < window) {
			long k = window - (long)inflight;

			n = sendmmsg(fd, out.m, (unsigned)(k < BATCH ? k : BATCH), MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED)
				die("sendmmsg");
			if (n > 0)
				sent += (uint64_t)n;
		}
		n = poll(&p, 1, (long)(sent - got - lost) >= window ? LOSS_WAIT_MS : 0);
		if (n < 0 && errno != EINTR)
			die("poll");
		if (n == 0) {
			if ((long)(sent - got - lost) >= window)
				lost = sent - got;      /* nothing came back: call the window lost */
			continue;
		}
		for (int i = 0; i < BATCH; i++)
			in.iov[i].iov_len = MAX_DGRAM;
		n = recvmmsg(fd, in.m, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno != EAGAIN && errno != ECONNREFUSED)
			die("recvmmsg");
		for (int i = 0; i < n; i++)
			bytes += in.m[i].msg_len;
		if (n > 0)
			got += (uint64_t)n;
		if (got + lost > sent)          /* late ones from a window called lost */
			lost = sent - got;
	}
	t = now_s() - t0;
	printf("sent=%llu\nreceived=%llu\nlost=%llu\nsecs=%.3f\ndgrams_per_s=%.0f\nmbit_per_s=%.1f\n",
	       (unsigned long long)sent, (unsigned long long)got, (unsigned long long)lost, t,
	       (double)got / t, (double)bytes * 8 / t / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	const char *l = NULL, *c = NULL, *ready = NULL;
	size_t size = 64;
	double secs = 5;
	long window = 256;

	if (argc < 2)
		usage();
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (!strcmp(a, "-l"))
			l = v;
		else if (!strcmp(a, "-c"))
			c = v;
		else if (!strcmp(a, "--ready"))
			ready = v;
		else if (!strcmp(a, "-s"))
			size = (size_t)atol(v);
		else if (!strcmp(a, "-t"))
			secs = atof(v);
		else if (!strcmp(a, "-w"))
			window = atol(v);
		else
			usage();
		i++;
	}
	if (!strcmp(argv[1], "echo") && l)
		echo_main(l, ready);
	if (!strcmp(argv[1], "run") && c && size >= 1 && size <= MAX_DGRAM && secs > 0 && window > 0)
		return run_main(c, size, secs, window);
	usage();
}

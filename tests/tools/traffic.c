/* traffic: checked TCP traffic for relayd's tests.  It owns the byte streams the
 * tests push through relayd: a server (`serve`, one epoll loop per worker
 * thread) and clients (`xfer`, `early`, `rst`, `pp`, `cr`, `idle`) that send
 * deterministic per-connection, per-direction streams, check every byte they
 * receive and name the offset of the first wrong one.  Clients can speak the
 * GOST relay CONNECT handshake first (--relay-connect), with the request in the
 * same write as the first data.  Every wait has a deadline.  Success prints
 * key=value lines on stdout; a failure prints one line on stderr and exits 1;
 * a usage error exits 2.  Usage: `traffic --help` and README.md next to this. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/sockios.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define CHUNK (256u * 1024)              /* largest single read or write */
#define IMMEDIATE_MAX (64u * 1024)       /* --immediate: bytes sent with the handshake */
#define PROBE_MAX (64u * 1024)           /* data sent with a status-probe request */
#define RELAY_REQ_MAX (4 + (3 + 2 + 255 + 255) + (3 + 2 + 255 + 2))
#define DEFAULT_TIMEOUT 60.0
#define MAX_XFER_CONNS 1024
#define MAX_CR_THREADS 256
#define MAX_IDLE_CONNS (1u << 20)
#define MAX_WORKERS 64
#define ROUND_TRIP 16                    /* bytes per cr/idle echo round trip */

typedef unsigned long long ull;

/* ---- small helpers ------------------------------------------------------ */

static double now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts)) {
		perror("traffic: clock_gettime");
		exit(EXIT_FAIL);
	}
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds from now until t, rounded up, for poll() and epoll_wait(). */
static int ms_until(double t)
{
	double ms = ceil((t - now()) * 1000.0);

	if (ms <= 0)
		return 0;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void sleep_secs(double secs)
{
	struct timespec ts = { .tv_sec = (time_t)secs };

	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static size_t min_size(size_t a, uint64_t b)
{
	return b < a ? (size_t)b : a;
}

static const char *errname(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "EUNKNOWN";
}

static bool is_reset(int err)
{
	return err == ECONNRESET || err == EPIPE;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "traffic: out of memory (%zu bytes)\n", n);
		exit(EXIT_FAIL);
	}
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, "traffic: out of memory (%zu x %zu bytes)\n", n, size);
		exit(EXIT_FAIL);
	}
	return p;
}

static void store_le64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	memcpy(p, &v, 8);
}

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static double gbps(uint64_t bytes, double secs)
{
	return secs > 0 ? (double)bytes * 8 / secs / 1e9 : 0;
}

/* ---- byte streams --------------------------------------------------------
 * A stream is a 16-byte header -- "trf", the direction ('C' client to server,
 * 'S' server to client), a 32-bit seed and the stream's total length in bytes,
 * big-endian -- followed by the splitmix64 sequence of that seed, each word
 * little-endian.  From the header a receiver learns the sender's seed, so
 * every connection and direction carries different bytes and a byte that
 * lands on the wrong connection or goes back the wrong way is caught; and it
 * learns the length, so a stream that ends early or runs long is caught too.
 * Offsets count from the first header byte. */
#define STREAM_HDR 16
#define STREAM_SEED_AT 4
#define STREAM_LEN_AT 8
#define DIR_CLIENT 'C'
#define DIR_SERVER 'S'
#define NO_BAD UINT64_MAX
#define GOLDEN 0x9e3779b97f4a7c15ull

struct stream {
	uint64_t key;
	uint64_t total;
	uint32_t seed;
	uint8_t dir;
};

static uint64_t mix64(uint64_t z)
{
	z += GOLDEN;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void stream_init(struct stream *s, uint32_t seed, uint8_t dir, uint64_t total)
{
	s->seed = seed;
	s->dir = dir;
	s->total = total;
	/* every header field feeds the key: a damaged header fails at the first
	 * data byte, not only where the stream ends */
	s->key = mix64(mix64((uint64_t)dir << 32 | seed) ^ total);
}

static uint64_t stream_word(const struct stream *s, uint64_t i)
{
	return mix64(s->key + i * GOLDEN);
}

static uint8_t stream_byte(const struct stream *s, uint64_t off)
{
	static const uint8_t magic[3] = { 't', 'r', 'f' };

	if (off < 3)
		return magic[off];
	if (off == 3)
		return s->dir;
	if (off < STREAM_LEN_AT)
		return (uint8_t)(s->seed >> (8 * (STREAM_LEN_AT - 1 - off)));
	if (off < STREAM_HDR)
		return (uint8_t)(s->total >> (8 * (STREAM_HDR - 1 - off)));
	off -= STREAM_HDR;
	return (uint8_t)(stream_word(s, off >> 3) >> (8 * (off & 7)));
}

static bool word_aligned(uint64_t off)
{
	return off >= STREAM_HDR && ((off - STREAM_HDR) & 7) == 0;
}

static void stream_fill(const struct stream *s, uint64_t off, uint8_t *p, size_t n)
{
	size_t i = 0;

	for (; i < n && !word_aligned(off + i); i++)
		p[i] = stream_byte(s, off + i);
	for (; n - i >= 8; i += 8)
		store_le64(p + i, stream_word(s, (off + i - STREAM_HDR) >> 3));
	for (; i < n; i++)
		p[i] = stream_byte(s, off + i);
}

/* Index of the first byte of p that differs from the stream at off, or n. */
static size_t stream_check(const struct stream *s, uint64_t off, const uint8_t *p, size_t n)
{
	size_t i = 0;

	for (; i < n && !word_aligned(off + i); i++)
		if (p[i] != stream_byte(s, off + i))
			return i;
	for (; n - i >= 8; i += 8)
		if (load_le64(p + i) != stream_word(s, (off + i - STREAM_HDR) >> 3))
			break;
	for (; i < n; i++)
		if (p[i] != stream_byte(s, off + i))
			return i;
	return n;
}

/* Checks a received stream: either one whose seed and length it learns from
 * the header (the peer's), or a known one (the echo of our own).  A missing
 * byte (the stream ended early) or an extra one counts as the first wrong
 * byte at its offset. */
struct verifier {
	struct stream s;
	uint64_t off;                   /* bytes fed so far */
	uint64_t bad;                   /* offset of the first wrong byte, NO_BAD if none */
	uint8_t hdr[STREAM_HDR];        /* header bytes collected while learning */
	uint8_t dir;
	bool known;
	int64_t found_at;               /* where the bytes at bad really belong, -1: unknown */
};

/* On the first wrong byte: find where in the stream the received bytes do
 * belong (within 16 MiB either way), which tells duplication (they belong
 * earlier) from loss (later) from foreign data (nowhere). */
static void verifier_locate(struct verifier *v, uint64_t at, const uint8_t *p, size_t n)
{
	const int64_t span = 16 << 20;
	size_t k = n < 32 ? n : 32;

	v->found_at = -1;
	if (k < 8)
		return;
	for (int64_t d = -span; d <= span; d++) {
		int64_t cand = (int64_t)at + d;
		size_t j;

		if (cand < STREAM_HDR || (uint64_t)cand + k > v->s.total || !d)
			continue;
		for (j = 0; j < k && stream_byte(&v->s, (uint64_t)cand + j) == p[j]; j++)
			;
		if (j == k) {
			v->found_at = cand;
			return;
		}
	}
}

static void verifier_learn(struct verifier *v, uint8_t dir)
{
	memset(v, 0, sizeof(*v));
	v->dir = dir;
	v->bad = NO_BAD;
}

static void verifier_expect(struct verifier *v, const struct stream *s)
{
	memset(v, 0, sizeof(*v));
	v->s = *s;
	v->dir = s->dir;
	v->known = true;
	v->bad = NO_BAD;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

/* Header bytes while the stream is unknown: check magic and direction, collect
 * seed and length.  Returns how many bytes of p it consumed. */
static size_t verifier_header(struct verifier *v, const uint8_t *p, size_t n)
{
	struct stream shape = { .dir = v->dir };
	size_t i;

	for (i = 0; i < n && !v->known; i++) {
		uint64_t off = v->off + i;

		if (off < STREAM_SEED_AT && p[i] != stream_byte(&shape, off)) {
			v->bad = off;
			return n;
		}
		v->hdr[off] = p[i];
		if (off == STREAM_HDR - 1) {
			stream_init(&v->s, (uint32_t)load_be(v->hdr + STREAM_SEED_AT, 4), v->dir,
				    load_be(v->hdr + STREAM_LEN_AT, 8));
			v->known = true;
			if (v->s.total < STREAM_HDR) {  /* announces less than we already have */
				v->bad = v->s.total;
				return n;
			}
		}
	}
	return i;
}

static void verifier_feed(struct verifier *v, const uint8_t *p, size_t n)
{
	size_t i = 0;

	if (v->bad == NO_BAD && !v->known)
		i = verifier_header(v, p, n);
	if (v->bad == NO_BAD && i < n) {
		uint64_t at = v->off + i;
		size_t in = at < v->s.total ? min_size(n - i, v->s.total - at) : 0;
		size_t k = stream_check(&v->s, at, p + i, in);

		if (k < in) {
			v->bad = at + k;
			verifier_locate(v, at + k, p + i + k, in - k);
		} else if (in < n - i)
			v->bad = at + in;       /* past the announced length */
	}
	v->off += n;
}

/* The stream ended (EOF): it must have been as long as announced. */
static void verifier_end(struct verifier *v)
{
	struct stream shape;
	uint64_t off;

	if (v->bad != NO_BAD)
		return;
	if (v->known) {
		if (v->off < v->s.total)
			v->bad = v->off;
		return;
	}
	/* it ended inside its own header: the length bytes seen must say so */
	stream_init(&shape, 0, v->dir, v->off);
	for (off = STREAM_LEN_AT; off < v->off; off++) {
		if (v->hdr[off] != stream_byte(&shape, off)) {
			v->bad = off;
			return;
		}
	}
}

static uint32_t random_seed(void)
{
	uint32_t seed;

	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		perror("traffic: getrandom");
		exit(EXIT_FAIL);
	}
	return seed;
}

/* ---- parsing ------------------------------------------------------------ */

/* "123", "64K", "1M", "2G" (binary multiples). */
static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

static bool parse_secs(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && *out >= 0 && *out < 1e7;
}

static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out <= max;
}

struct hostport {
	char host[256];
	uint16_t port;
};

/* "HOST:PORT", "[V6]:PORT", ":PORT" (empty host) or, if bare_port, "PORT". */
static bool split_hostport(const char *s, bool bare_port, struct hostport *hp)
{
	const char *colon, *host = s;
	size_t hlen;
	unsigned long port;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return false;
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			if (!bare_port)
				return false;
			colon = s - 1;
			hlen = 0;
		} else {
			if (memchr(s, ':', (size_t)(colon - s)))
				return false;   /* a bare IPv6 address needs brackets */
			hlen = (size_t)(colon - s);
		}
	}
	if (hlen >= sizeof(hp->host) || !parse_ulong(colon + 1, 65535, &port))
		return false;
	memcpy(hp->host, host, hlen);
	hp->host[hlen] = '\0';
	hp->port = (uint16_t)port;
	return true;
}

struct endpoint {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[300];
};

static void format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

/* Resolve HOST:PORT (an empty host means 127.0.0.1). */
static bool resolve(const char *text, bool bare_port, struct endpoint *ep, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	struct hostport hp;
	int rc;

	if (!split_hostport(text, bare_port, &hp)) {
		snprintf(err, errlen, "'%s' is not [HOST:]PORT (IPv6 as [ADDR]:PORT)", text);
		return false;
	}
	rc = getaddrinfo(hp.host[0] ? hp.host : "127.0.0.1", NULL, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve '%s': %s", hp.host, gai_strerror(rc));
		return false;
	}
	memcpy(&ep->ss, res->ai_addr, res->ai_addrlen);
	ep->len = res->ai_addrlen;
	freeaddrinfo(res);
	if (ep->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ep->ss)->sin6_port = htons(hp.port);
	else
		((struct sockaddr_in *)&ep->ss)->sin_port = htons(hp.port);
	format_addr((struct sockaddr *)&ep->ss, ep->text, sizeof(ep->text));
	return true;
}

/* ---- GOST relay protocol (client side) -----------------------------------
 * Request: 01 01 FLEN(u16) then features, big-endian lengths:
 *   USER_AUTH 01 LEN ULEN user PLEN pass   (only with --relay-user)
 *   ADDR      02 LEN ATYP addr port        (ATYP 1 IPv4, 4 IPv6, 3 name)
 * Response: 01 STATUS FLEN(u16) + FLEN bytes of features, then data. */
#define RELAY_VERSION 0x01
#define RELAY_CMD_CONNECT 0x01
#define RELAY_FEAT_USER_AUTH 0x01
#define RELAY_FEAT_ADDR 0x02

static const char *relay_status_text(unsigned status)
{
	static const char *const text[] = {
		"OK", "Bad Request", "Unauthorized", "Forbidden", "Timeout",
		"Service Unavailable", "Host Unreachable", "Network Unreachable",
		"Internal Server Error",
	};

	return status < sizeof(text) / sizeof(text[0]) ? text[status] : "unknown";
}

static void put_u16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Appends one feature TLV at out[*len]. */
static void relay_put_feature(uint8_t *out, size_t *len, uint8_t type, const uint8_t *data, size_t n)
{
	out[*len] = type;
	put_u16(out + *len + 1, n);
	memcpy(out + *len + 3, data, n);
	*len += 3 + n;
}

static size_t relay_addr_data(const struct hostport *hp, uint8_t *d)
{
	struct in_addr a4;
	struct in6_addr a6;
	size_t n;

	if (inet_pton(AF_INET, hp->host, &a4) == 1) {
		d[0] = 1;
		memcpy(d + 1, &a4, 4);
		n = 5;
	} else if (inet_pton(AF_INET6, hp->host, &a6) == 1) {
		d[0] = 4;
		memcpy(d + 1, &a6, 16);
		n = 17;
	} else {
		size_t dlen = strlen(hp->host);

		d[0] = 3;
		d[1] = (uint8_t)dlen;
		memcpy(d + 2, hp->host, dlen);
		n = 2 + dlen;
	}
	put_u16(d + n, hp->port);
	return n + 2;
}

static bool relay_build_request(const char *target, const char *user, const char *pass,
				uint8_t *out, size_t *len, char *err, size_t errlen)
{
	uint8_t data[2 + 255 + 255];
	struct hostport hp;
	size_t n = 4, ulen, plen;

	if (!split_hostport(target, false, &hp) || strlen(hp.host) > 255) {
		snprintf(err, errlen, "--relay-connect: '%s' is not HOST:PORT", target);
		return false;
	}
	if (user) {
		ulen = strlen(user);
		plen = pass ? strlen(pass) : 0;
		if (ulen > 255 || plen > 255) {
			snprintf(err, errlen, "--relay-user/--relay-pass: at most 255 bytes each");
			return false;
		}
		data[0] = (uint8_t)ulen;
		memcpy(data + 1, user, ulen);
		data[1 + ulen] = (uint8_t)plen;
		memcpy(data + 2 + ulen, pass ? pass : "", plen);
		relay_put_feature(out, &n, RELAY_FEAT_USER_AUTH, data, 2 + ulen + plen);
	}
	relay_put_feature(out, &n, RELAY_FEAT_ADDR, data, relay_addr_data(&hp, data));
	out[0] = RELAY_VERSION;
	out[1] = RELAY_CMD_CONNECT;
	put_u16(out + 2, n - 4);
	*len = n;
	return true;
}

/* Response parser fed with exact-size reads, so no data byte is consumed. */
struct relay_resp {
	uint8_t hdr[4];
	size_t got, flen, skipped;
	bool done;
};

static size_t relay_resp_want(const struct relay_resp *r)
{
	return r->got < 4 ? 4 - r->got : min_size(CHUNK, r->flen - r->skipped);
}

static void relay_resp_take(struct relay_resp *r, const uint8_t *p, size_t n)
{
	if (r->got < 4) {
		memcpy(r->hdr + r->got, p, n);
		r->got += n;
		if (r->got == 4)
			r->flen = (size_t)r->hdr[2] << 8 | r->hdr[3];
	} else {
		r->skipped += n;
	}
	/* a wrong version ends parsing at once: FLEN means nothing then */
	r->done = r->got == 4 && (r->hdr[0] != RELAY_VERSION || r->skipped == r->flen);
}

/* Checks a complete response against the expected status. */
static bool relay_resp_ok(const struct relay_resp *r, int expect, char *err, size_t errlen)
{
	if (r->hdr[0] != RELAY_VERSION) {
		snprintf(err, errlen, "relay: response version 0x%02x, expected 0x01", r->hdr[0]);
		return false;
	}
	if (r->hdr[1] != expect) {
		snprintf(err, errlen, "relay: server answered status %u (%s), expected %d (%s)",
			 r->hdr[1], relay_status_text(r->hdr[1]), expect, relay_status_text((unsigned)expect));
		return false;
	}
	return true;
}

/* ---- socket helpers ----------------------------------------------------- */

static int set_int_opt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) ? -errno : 0;
}

static int set_blocking(int fd, bool blocking)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -errno;
	flags = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags) ? -errno : 0;
}

/* close() with SO_LINGER {1, 0}: the kernel sends RST instead of FIN. */
static int close_with_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int rc = setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) ? -errno : 0;

	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

/* 0 when fd is ready for events, -ETIMEDOUT at the deadline, else -errno. */
static int wait_fd(int fd, short events, double deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int ms = ms_until(deadline), rc;

		if (ms == 0 && now() >= deadline)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, ms);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

static int write_all(int fd, const uint8_t *p, size_t n, double deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			int rc;

			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc)
				return rc;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

#define IO_EOF 1

/* 0 when n bytes arrived, IO_EOF on a FIN first, -ETIMEDOUT, or -errno. */
static int read_exact(int fd, uint8_t *p, size_t n, double deadline)
{
	while (n) {
		ssize_t r = recv(fd, p, n, MSG_DONTWAIT);

		if (r == 0)
			return IO_EOF;
		if (r < 0) {
			int rc;

			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			rc = wait_fd(fd, POLLIN, deadline);
			if (rc)
				return rc;
			continue;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static const char *io_error(int rc)
{
	if (rc == IO_EOF)
		return "connection closed (EOF)";
	if (rc == -ETIMEDOUT)
		return "timed out";
	if (is_reset(-rc))
		return "connection reset by peer";
	return strerror(-rc);
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			perror("traffic: setrlimit(RLIMIT_NOFILE)");
	}
}

/* Write "ADDR\n" to path atomically, so a test polling for it never reads half. */
static int write_ready_file(const char *path, const char *addr)
{
	char tmp[PATH_MAX];
	FILE *f;
	int rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (fprintf(f, "%s\n", addr) < 0)
		rc = -EIO;
	if (fclose(f) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	return rc;
}

/* ---- options ------------------------------------------------------------ */

enum opt_bit {
	O_LISTEN, O_MODE, O_BYTES, O_SECS, O_AFTER, O_ONCE, O_LOG, O_READY, O_TIMEOUT, O_WORKERS,
	O_CONNECT, O_EXPECT, O_JOBS, O_HALF_CLOSE, O_IMMEDIATE, O_BANNER, O_SPLIT, O_EXPECT_RESET,
	O_RESET_AFTER, O_ITERS, O_SIZE, O_HOLD, O_RELAY, O_RELAY_USER, O_RELAY_PASS,
	O_RELAY_STATUS, O_COUNT
};

#define BIT(o) (1u << (o))

static const char *const opt_names[O_COUNT] = {
	"-l", "-m", "-n", "-t", "-a", "-1", "-o", "--ready", "-T", "-w",
	"-c", "-x", "-j", "--half-close", "--immediate", "-b", "--split", "--expect-reset",
	"--reset-after", "-i", "-s", "--hold", "--relay-connect", "--relay-user", "--relay-pass",
	"--relay-expect-status",
};

struct opts {
	const char *cmd;
	uint32_t seen;                  /* BIT(O_*) of every option given */
	const char *listen, *mode, *log_path, *ready_path, *connect;
	const char *relay, *relay_user, *relay_pass;
	uint64_t bytes, expect, after, banner, reset_after, size;
	double secs, timeout, split_ms, hold;
	unsigned long workers, jobs, iters;
	int relay_status;
};

static const char usage_text[] =
	"usage:\n"
	"  traffic serve -l [HOST:]PORT -m MODE [-1] [-o FILE] [--ready FILE] [-w WORKERS] [-T SECS]\n"
	"        modes: xfer -n BYTES | hc -n BYTES | banner -n BYTES | echo | sink -t SECS | rst -a BYTES\n"
	"  traffic xfer  -c HOST:PORT -n SEND -x EXPECT [-j CONNS] [--half-close]\n"
	"  traffic early -c HOST:PORT -n SEND [-b BANNER] [--split MS]\n"
	"  traffic rst   -c HOST:PORT (-n BYTES --expect-reset | --reset-after BYTES)\n"
	"  traffic pp    -c HOST:PORT [-i ITERS] [-s SIZE]\n"
	"  traffic cr    -c HOST:PORT [-t SECS] [-j THREADS]\n"
	"  traffic idle  -c HOST:PORT -j CONNS [--hold SECS] [--ready FILE]\n"
	"client options: [-T SECS] [--immediate] [--relay-connect HOST:PORT [--relay-user U]\n"
	"                [--relay-pass P] [--relay-expect-status N]]\n"
	"sizes take K, M, G (binary); -T is the hard limit (default 60 s; for serve: per\n"
	"connection without progress).  See tests/tools/README.md.\n";

static void usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	if (cmd)
		fprintf(stderr, "traffic %s: ", cmd);
	else
		fprintf(stderr, "traffic: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see traffic --help)\n");
	exit(EXIT_USAGE);
}

/* ---- server --------------------------------------------------------------
 * One epoll loop per worker thread; all share the listening socket
 * (EPOLLEXCLUSIVE).  A connection is a small state machine driven by
 * non-blocking reads and writes; it owns no buffer until it must hold bytes
 * the peer has not taken yet, so thousands of idle echo connections are cheap. */
enum smode { SM_XFER, SM_HC, SM_BANNER, SM_ECHO, SM_SINK, SM_RST, SM_COUNT };

static const char *const smode_names[SM_COUNT] = { "xfer", "hc", "banner", "echo", "sink", "rst" };

struct server {
	enum smode mode;
	uint64_t bytes;                 /* -n: own stream to send (xfer, hc, banner) */
	uint64_t after;                 /* -a: rst after this many bytes */
	double stall;                   /* -t: sink reads nothing this long */
	double idle_timeout;            /* -T: fail a connection without progress */
	bool once;
	int lfd, log_fd;
	uint32_t seed_base;
	atomic_uint next_id;
	atomic_uint failed;
	atomic_bool stop;
	atomic_bool finished_one;
	atomic_int once_rc;
};

struct sconn;

struct worker {
	struct server *srv;
	pthread_t thread;
	int ep;
	uint8_t *scratch;               /* receive buffer shared by this worker's connections */
	struct sconn *conns;            /* every live connection, for timers */
};

struct sconn {
	struct sconn *prev, *next;
	struct worker *w;
	int fd;
	unsigned id;
	struct verifier rx;             /* the client's stream (xfer, hc, sink, rst) */
	struct stream own;              /* our stream (xfer, hc, banner) */
	uint64_t rx_bytes, tx_bytes, gen;
	uint8_t *obuf;                  /* bytes not yet accepted by the kernel */
	size_t olen, ooff;
	bool registered, rx_eof, shut_wr;
	uint32_t events;
	double wake, last;              /* sink: start reading at wake; last progress */
};

static bool conn_echoes(const struct sconn *c)
{
	enum smode m = c->w->srv->mode;

	return m == SM_ECHO || m == SM_BANNER;
}

static uint64_t conn_gen_total(const struct sconn *c)
{
	enum smode m = c->w->srv->mode;

	return m == SM_XFER || m == SM_HC || m == SM_BANNER ? c->w->srv->bytes : 0;
}

/* May the connection generate more of its own stream now? */
static bool conn_may_generate(const struct sconn *c)
{
	if (c->gen >= conn_gen_total(c))
		return false;
	return c->w->srv->mode != SM_HC || c->rx_eof;
}

static bool conn_out_empty(const struct sconn *c)
{
	return c->ooff == c->olen;
}

static bool conn_should_shut(const struct sconn *c)
{
	enum smode m = c->w->srv->mode;

	if (c->shut_wr || m == SM_RST || !conn_out_empty(c) || c->gen < conn_gen_total(c))
		return false;
	return m == SM_XFER || c->rx_eof;
}

static bool conn_can_read(const struct sconn *c)
{
	const struct server *s = c->w->srv;

	if (c->rx_eof || !c->registered)
		return false;
	if (conn_echoes(c))     /* back-pressure: read only when the echo went out */
		return conn_out_empty(c) && c->gen == conn_gen_total(c);
	if (s->mode == SM_RST)
		return c->rx_bytes < s->after;
	return true;
}

static void server_log(struct server *s, const struct sconn *c, const char *err)
{
	char line[320], rx[96];
	int n;

	if (c->rx.bad == NO_BAD)
		snprintf(rx, sizeof(rx), "ok");
	else
		snprintf(rx, sizeof(rx), "bad@%llu(belongs@%lld)", (ull)c->rx.bad, (long long)c->rx.found_at);
	n = snprintf(line, sizeof(line), "conn %u %s rx=%llu %s tx=%llu%s%s\n", c->id,
		     err ? "fail" : "done", (ull)c->rx_bytes, rx, (ull)c->tx_bytes,
		     err ? " err=" : "", err ? err : "");
	/* one write per line: lines from several workers never interleave */
	if (write(s->log_fd, line, (size_t)n) != n)
		perror("traffic serve: writing the connection log");
	if (err || c->rx.bad != NO_BAD)
		atomic_fetch_add(&s->failed, 1);
	if (s->once && !atomic_exchange(&s->finished_one, true)) {
		atomic_store(&s->once_rc, err || c->rx.bad != NO_BAD ? EXIT_FAIL : 0);
		atomic_store(&s->stop, true);
	}
}

static void conn_free(struct sconn *c)
{
	struct worker *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->obuf);
	free(c);
}

/* Ends a connection: log it, close the socket (with RST if asked), free it. */
static void conn_end(struct sconn *c, const char *err, bool reset)
{
	struct server *s = c->w->srv;
	int rc;

	rc = reset ? close_with_reset(c->fd) : (close(c->fd) ? -errno : 0);
	if (rc && !err)
		err = errname(-rc);
	server_log(s, c, err);
	conn_free(c);
}

static void conn_fail_errno(struct sconn *c, int err)
{
	conn_end(c, is_reset(err) ? "reset" : errname(err), false);
}

static int conn_obuf(struct sconn *c)
{
	if (!c->obuf)
		c->obuf = malloc(CHUNK);
	return c->obuf ? 0 : -ENOMEM;
}

/* Echo bytes just read: send what the kernel takes, keep the rest. */
static int conn_echo(struct sconn *c, const uint8_t *p, size_t n)
{
	ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		w = 0;
	}
	c->tx_bytes += (uint64_t)w;
	if ((size_t)w < n) {
		if (conn_obuf(c))
			return -ENOMEM;
		memcpy(c->obuf, p + w, n - (size_t)w);
		c->olen = n - (size_t)w;
		c->ooff = 0;
	}
	return 1;
}

/* One write step: 1 progress, 0 nothing to do or would block, -errno. */
static int conn_output(struct sconn *c)
{
	ssize_t w;

	if (conn_out_empty(c)) {
		c->olen = c->ooff = 0;
		if (conn_may_generate(c)) {
			size_t k = min_size(CHUNK, conn_gen_total(c) - c->gen);

			if (conn_obuf(c))
				return -ENOMEM;
			stream_fill(&c->own, c->gen, c->obuf, k);
			c->gen += k;
			c->olen = k;
		} else if (conn_should_shut(c)) {
			if (shutdown(c->fd, SHUT_WR))
				return -errno;
			c->shut_wr = true;
			return 1;
		} else {
			return 0;
		}
	}
	w = send(c->fd, c->obuf + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	c->ooff += (size_t)w;
	c->tx_bytes += (uint64_t)w;
	return 1;
}

/* One read step: 1 progress, 0 nothing to do or would block, -errno. */
static int conn_input(struct sconn *c)
{
	const struct server *s = c->w->srv;
	size_t want = CHUNK;
	ssize_t r;

	if (!conn_can_read(c))
		return 0;
	if (s->mode == SM_RST)  /* never read past the reset point */
		want = min_size(want, s->after - c->rx_bytes);
	r = recv(c->fd, c->w->scratch, want, MSG_DONTWAIT);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (r == 0) {
		c->rx_eof = true;
		if (!conn_echoes(c))
			verifier_end(&c->rx);
		return 1;
	}
	c->rx_bytes += (uint64_t)r;
	if (conn_echoes(c))
		return conn_echo(c, c->w->scratch, (size_t)r);
	verifier_feed(&c->rx, c->w->scratch, (size_t)r);
	return 1;
}

static int conn_update_events(struct sconn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	ev.events = conn_can_read(c) ? EPOLLIN : 0;
	if (!conn_out_empty(c) || conn_may_generate(c) || conn_should_shut(c))
		ev.events |= EPOLLOUT;
	if (ev.events == c->events)
		return 0;
	if (epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev))
		return -errno;
	c->events = ev.events;
	return 0;
}

/* Moves bytes until the socket would block; a bounded number of rounds keeps
 * one busy connection from starving the others on this worker. */
static void conn_step(struct sconn *c)
{
	const struct server *s = c->w->srv;
	int round, out, in;

	for (round = 0; round < 16; round++) {
		if (s->mode == SM_RST && c->rx_bytes >= s->after) {
			conn_end(c, NULL, true);
			return;
		}
		out = conn_output(c);
		if (out < 0) {
			conn_fail_errno(c, -out);
			return;
		}
		in = conn_input(c);
		if (in < 0) {
			conn_fail_errno(c, -in);
			return;
		}
		if (out || in)
			c->last = now();
		if (c->rx_eof && (c->shut_wr || s->mode == SM_RST)) {
			conn_end(c, s->mode == SM_RST ? "eof" : NULL, false);
			return;
		}
		if (!out && !in)
			break;
	}
	out = conn_update_events(c);
	if (out)
		conn_fail_errno(c, -out);
}

static void conn_register(struct sconn *c)
{
	struct epoll_event ev = { .events = 0, .data.ptr = c };

	if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->fd, &ev)) {
		conn_fail_errno(c, errno);
		return;
	}
	c->registered = true;
	c->last = now();
	conn_step(c);
}

static void conn_start(struct worker *w, int fd)
{
	struct server *s = w->srv;
	struct sconn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		fprintf(stderr, "traffic serve: out of memory for a connection; closing it\n");
		close(fd);
		return;
	}
	c->w = w;
	c->fd = fd;
	c->id = atomic_fetch_add(&s->next_id, 1);
	stream_init(&c->own, s->seed_base + c->id, DIR_SERVER, conn_gen_total(c));
	verifier_learn(&c->rx, DIR_CLIENT);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	rc = set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (rc) {
		conn_fail_errno(c, -rc);
		return;
	}
	if (s->mode == SM_SINK) {       /* registered (and read) only once the stall ends */
		c->wake = now() + s->stall;
		return;
	}
	conn_register(c);
}

static void worker_accept(struct worker *w)
{
	int i;

	for (i = 0; i < 64; i++) {
		int fd = accept4(w->srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_start(w, fd);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)
			continue;
		fprintf(stderr, "traffic serve: accept: %s; retrying in 100 ms\n", strerror(errno));
		sleep_secs(0.1);
		return;
	}
}

/* Timers: end sink stalls, fail connections that made no progress for -T. */
static void worker_tick(struct worker *w)
{
	const struct server *s = w->srv;
	struct sconn *c, *next;
	double t = now();

	for (c = w->conns; c; c = next) {
		next = c->next;
		if (!c->registered) {
			if (t >= c->wake)
				conn_register(c);
		} else if (s->idle_timeout > 0 && t - c->last > s->idle_timeout) {
			conn_end(c, "timeout", false);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[64];
	double next_tick = now();

	while (!atomic_load(&w->srv->stop)) {
		int n = epoll_wait(w->ep, evs, 64, 100), i;

		if (n < 0 && errno != EINTR) {
			perror("traffic serve: epoll_wait");
			exit(EXIT_FAIL);
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr)
				conn_step(evs[i].data.ptr);
			else
				worker_accept(w);
		}
		if (now() >= next_tick) {
			worker_tick(w);
			next_tick = now() + 0.1;
		}
	}
	while (w->conns) {
		close(w->conns->fd);
		conn_free(w->conns);
	}
	return NULL;
}

static int server_listen(const struct endpoint *ep, char *err, size_t errlen)
{
	int fd = socket(ep->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) ||
	    bind(fd, (const struct sockaddr *)&ep->ss, ep->len) || listen(fd, 4096)) {
		snprintf(err, errlen, "listen on %s: %s", ep->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static enum smode parse_smode(const char *name)
{
	int m;

	for (m = 0; m < SM_COUNT; m++)
		if (!strcmp(name, smode_names[m]))
			return (enum smode)m;
	usage_error("serve", "unknown mode '%s' (xfer, hc, banner, echo, sink, rst)", name);
	return SM_COUNT;
}

/* Which of -n, -t, -a each mode needs; the others are refused. */
static void serve_check_opts(const struct opts *o, enum smode m)
{
	static const uint32_t need[SM_COUNT] = {
		[SM_XFER] = BIT(O_BYTES), [SM_HC] = BIT(O_BYTES), [SM_BANNER] = BIT(O_BYTES),
		[SM_SINK] = BIT(O_SECS), [SM_RST] = BIT(O_AFTER),
	};
	uint32_t mode_opts = BIT(O_BYTES) | BIT(O_SECS) | BIT(O_AFTER);
	int i;

	for (i = 0; i < O_COUNT; i++) {
		if ((need[m] & BIT(i)) && !(o->seen & BIT(i)))
			usage_error("serve", "mode %s needs %s", smode_names[m], opt_names[i]);
		if ((mode_opts & ~need[m] & BIT(i)) && (o->seen & BIT(i)))
			usage_error("serve", "%s does not apply to mode %s", opt_names[i], smode_names[m]);
	}
}

static int start_workers(struct server *s, struct worker *ws, unsigned long n)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL };
	unsigned long i;
	int rc;

	for (i = 0; i < n; i++) {
		ws[i].srv = s;
		ws[i].scratch = xmalloc(CHUNK);
		ws[i].ep = epoll_create1(EPOLL_CLOEXEC);
		if (ws[i].ep < 0 || epoll_ctl(ws[i].ep, EPOLL_CTL_ADD, s->lfd, &ev)) {
			perror("traffic serve: epoll");
			return -1;
		}
		rc = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
		if (rc) {
			fprintf(stderr, "traffic serve: pthread_create: %s\n", strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* Waits for SIGINT/SIGTERM (blocked in every thread) or for -1 to be satisfied. */
static void serve_wait(struct server *s, const sigset_t *sigs)
{
	struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };

	while (!atomic_load(&s->stop)) {
		if (sigtimedwait(sigs, NULL, &tick) > 0)
			break;
	}
	atomic_store(&s->stop, true);
}

static int cmd_serve(const struct opts *o)
{
	struct server s = { .log_fd = STDOUT_FILENO };
	struct worker ws[MAX_WORKERS] = { 0 };
	struct endpoint ep;
	char err[512], addr[300];
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	unsigned long nworkers = o->workers, i;
	sigset_t sigs;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int ready_rc = 0;

	s.mode = parse_smode(o->mode);
	serve_check_opts(o, s.mode);
	s.bytes = o->bytes;
	s.after = o->after;
	s.stall = o->secs;
	s.idle_timeout = o->timeout;
	s.once = o->seen & BIT(O_ONCE);
	s.seed_base = random_seed();
	if (!nworkers)
		nworkers = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (unsigned long)ncpu;
	if (!resolve(o->listen, true, &ep, err, sizeof(err)))
		usage_error("serve", "-l: %s", err);
	raise_fd_limit();
	if (o->log_path) {
		s.log_fd = open(o->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
		if (s.log_fd < 0) {
			fprintf(stderr, "traffic serve: -o %s: %s\n", o->log_path, strerror(errno));
			return EXIT_FAIL;
		}
	}
	s.lfd = server_listen(&ep, err, sizeof(err));
	if (s.lfd < 0) {
		fprintf(stderr, "traffic serve: %s\n", err);
		return EXIT_FAIL;
	}
	if (getsockname(s.lfd, (struct sockaddr *)&bound, &blen)) {
		perror("traffic serve: getsockname");
		return EXIT_FAIL;
	}
	format_addr((struct sockaddr *)&bound, addr, sizeof(addr));
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) || start_workers(&s, ws, nworkers)) {
		fprintf(stderr, "traffic serve: cannot start the workers\n");
		return EXIT_FAIL;
	}
	fprintf(stderr, "traffic serve: mode=%s listening on %s workers=%lu\n", o->mode, addr, nworkers);
	if (o->ready_path) {
		ready_rc = write_ready_file(o->ready_path, addr);
		if (ready_rc) {
			fprintf(stderr, "traffic serve: --ready %s: %s\n", o->ready_path, strerror(-ready_rc));
			atomic_store(&s.stop, true);
		}
	}
	serve_wait(&s, &sigs);
	for (i = 0; i < nworkers; i++) {
		pthread_join(ws[i].thread, NULL);
		close(ws[i].ep);
		free(ws[i].scratch);
	}
	close(s.lfd);
	if (o->log_path && close(s.log_fd))
		perror("traffic serve: closing the log");
	if (ready_rc)
		return EXIT_FAIL;
	if (s.once && atomic_load(&s.finished_one))
		return atomic_load(&s.once_rc);
	return atomic_load(&s.failed) ? EXIT_FAIL : 0;
}

/* ---- clients: connecting -------------------------------------------------- */

struct client {
	const struct opts *o;
	struct endpoint target;
	uint8_t req[RELAY_REQ_MAX];
	size_t req_len;                 /* 0: no relay handshake */
	uint32_t seed_base;
	double start, deadline;         /* hard limit for the whole command */
};

/* Our stream on connection idx, total bytes long. */
static void client_stream(const struct client *cl, unsigned idx, uint64_t total, struct stream *s)
{
	stream_init(s, cl->seed_base + idx, DIR_CLIENT, total);
}

static int wait_connected(int fd, double deadline)
{
	int rc = wait_fd(fd, POLLOUT, deadline), soerr = 0;
	socklen_t len = sizeof(soerr);

	if (rc)
		return rc;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
		return -errno;
	return -soerr;
}

/* --immediate: sendto(MSG_FASTOPEN) on an unconnected, blocking socket sends
 * the SYN itself and then waits inside the send for the handshake.  A writer
 * waiting there makes the kernel hold back the handshake's last ACK and send it
 * with this data (with a Fast Open cookie from the server the data rides in
 * the SYN instead).  A non-blocking connect() on loopback is established before
 * it returns, so data written after it always travels in a later segment. */
static int send_with_handshake(int fd, const struct endpoint *ep, const uint8_t *p, size_t n,
			       double deadline, size_t *sent)
{
	double left = deadline - now();
	struct timeval tv;
	ssize_t w;
	int rc, err;

	if (left <= 0)
		return -ETIMEDOUT;
	tv.tv_sec = (time_t)left;
	tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6) + 1;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	rc = set_blocking(fd, true);
	if (rc)
		return rc;
	w = sendto(fd, p, n, MSG_FASTOPEN | MSG_NOSIGNAL, (const struct sockaddr *)&ep->ss, ep->len);
	err = errno;
	rc = set_blocking(fd, false);
	if (w < 0)
		return err == EAGAIN ? -ETIMEDOUT : -err;
	*sent = (size_t)w;
	return rc;
}

/* Connects to -c; with --immediate also sends up to IMMEDIATE_MAX bytes of
 * first (reported in *sent).  Returns the non-blocking socket or -1. */
static int tcp_open(const struct client *cl, const uint8_t *first, size_t n, size_t *sent,
		    char *err, size_t errlen)
{
	const struct endpoint *ep = &cl->target;
	int fd = socket(ep->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc;
	bool immediate = (cl->o->seen & BIT(O_IMMEDIATE)) && n;

	*sent = 0;
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (!rc && immediate)
		rc = send_with_handshake(fd, ep, first, min_size(n, IMMEDIATE_MAX), cl->deadline, sent);
	else if (!rc && connect(fd, (const struct sockaddr *)&ep->ss, ep->len) && errno != EINPROGRESS)
		rc = -errno;
	else if (!rc)
		rc = wait_connected(fd, cl->deadline);
	if (rc) {
		snprintf(err, errlen, "connect to %s: %s%s", ep->text,
			 rc == -ETIMEDOUT ? "timed out" : strerror(-rc),
			 immediate && rc == -EOPNOTSUPP ?
			 " (--immediate needs client Fast Open: sysctl net.ipv4.tcp_fastopen=1)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads and checks the relay response with exact reads. */
static int relay_read_response(const struct client *cl, int fd, int expect, char *err, size_t errlen)
{
	struct relay_resp r = { .done = false };
	uint8_t buf[4096];

	while (!r.done) {
		size_t want = min_size(sizeof(buf), relay_resp_want(&r));
		int rc = read_exact(fd, buf, want, cl->deadline);

		if (rc) {
			snprintf(err, errlen, "relay: reading the response: %s", io_error(rc));
			return -1;
		}
		relay_resp_take(&r, buf, want);
	}
	return relay_resp_ok(&r, expect, err, errlen) ? 0 : -1;
}

/* Connect, send [relay request +] data in one write, read the relay response.
 * For pp, cr and idle; xfer, early and rst stream through struct flow. */
static int client_connect(const struct client *cl, const uint8_t *data, size_t n,
			  char *err, size_t errlen)
{
	size_t len = cl->req_len + n, sent;
	uint8_t *buf = xmalloc(len);
	int fd, rc;

	memcpy(buf, cl->req, cl->req_len);
	memcpy(buf + cl->req_len, data, n);
	fd = tcp_open(cl, buf, len, &sent, err, errlen);
	if (fd < 0)
		goto out;
	rc = write_all(fd, buf + sent, len - sent, cl->deadline);
	if (rc) {
		snprintf(err, errlen, "sending the first %zu bytes: %s", len, io_error(rc));
		goto fail;
	}
	if (cl->req_len && relay_read_response(cl, fd, 0, err, errlen))
		goto fail;
	goto out;
fail:
	close(fd);
	fd = -1;
out:
	free(buf);
	return fd;
}

/* Reads n bytes and checks they are our stream at off: the echo of what we sent. */
static int echo_round_trip(const struct client *cl, int fd, const struct stream *s, uint64_t off,
			   size_t n, char *err, size_t errlen)
{
	uint8_t buf[ROUND_TRIP];
	size_t bad;
	int rc = read_exact(fd, buf, n, cl->deadline);

	if (rc) {
		snprintf(err, errlen, "reading the %zu-byte echo: %s", n, io_error(rc));
		return -1;
	}
	bad = stream_check(s, off, buf, n);
	if (bad < n) {
		snprintf(err, errlen, "echo: first wrong byte at offset %llu", (ull)(off + bad));
		return -1;
	}
	return 0;
}

/* Shut down our side and expect the peer's clean FIN with nothing before it. */
static int finish_with_eof(const struct client *cl, int fd, char *err, size_t errlen)
{
	uint8_t extra[64];
	int rc;

	if (shutdown(fd, SHUT_WR)) {
		snprintf(err, errlen, "shutdown: %s", strerror(errno));
		return -1;
	}
	rc = read_exact(fd, extra, 1, cl->deadline);
	if (rc != IO_EOF) {
		snprintf(err, errlen, "waiting for EOF: %s", rc ? io_error(rc) : "got unexpected data");
		return -1;
	}
	return 0;
}

/* ---- clients: streaming flows (xfer, early, rst) ---------------------------- */

struct plan {
	uint64_t send;          /* bytes of our own stream */
	uint64_t first;         /* --split: bytes sent at once, the rest after delay */
	double delay;
	bool half_close;        /* shutdown(SHUT_WR) as soon as everything is sent */
	uint64_t peer;          /* expect this many bytes of the server's stream ... */
	bool echo;              /* ... then the echo of our own stream */
	bool expect_reset;      /* success = the connection gets reset; data ignored */
	bool reset_after;       /* send everything, wait for the ACKs, then reset */
};

enum flow_state { FLOW_RUNNING, FLOW_OK, FLOW_FAILED };

struct flow {
	const struct client *cl;
	const struct plan *pl;
	unsigned idx;
	int fd;
	enum flow_state state;
	struct stream own;
	uint8_t *obuf, *ibuf;
	size_t olen, ooff, req_left;    /* req_left: relay request bytes still in obuf */
	uint64_t gen, sent, rx;         /* own stream generated / sent; data bytes received */
	struct relay_resp resp;
	struct verifier vpeer, vecho;
	bool shut_wr, eof, outq_wait;
	double t_start, t_end, t_split;
	const char *how;                /* how it ended: fin, reset (received), reset-sent */
	char err[320];
};

static void flow_fail(struct flow *f, const char *fmt, ...)
{
	va_list ap;

	if (f->state != FLOW_RUNNING)
		return;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
	f->state = FLOW_FAILED;
	f->t_end = now();
}

static void flow_ok(struct flow *f, const char *how)
{
	f->state = FLOW_OK;
	f->how = how;
	f->t_end = now();
}

static bool flow_ignores_rx(const struct flow *f)
{
	return f->pl->expect_reset || f->pl->reset_after;
}

static bool flow_resp_pending(const struct flow *f)
{
	return f->cl->req_len && !f->resp.done;
}

static uint64_t flow_rx_total(const struct flow *f)
{
	return f->pl->peer + (f->pl->echo ? f->pl->send : 0);
}

static bool flow_rx_done(const struct flow *f)
{
	return !flow_resp_pending(f) && f->rx == flow_rx_total(f);
}

static bool flow_tx_done(const struct flow *f)
{
	return f->gen == f->pl->send && f->ooff == f->olen;
}

static uint64_t flow_tx_limit(const struct flow *f)
{
	return f->t_split > 0 && now() < f->t_split ? f->pl->first : f->pl->send;
}

/* Appends the next chunk of our stream to obuf (empty, or holding only the
 * relay request). */
static void flow_append(struct flow *f)
{
	uint64_t limit = flow_tx_limit(f);
	size_t k;

	if (f->gen >= limit)
		return;
	k = min_size(CHUNK, limit - f->gen);
	stream_fill(&f->own, f->gen, f->obuf + f->olen, k);
	f->gen += k;
	f->olen += k;
}

/* A relay server that refuses closes with our data unread, which resets the
 * connection; its answer is still queued, so read it to report the real cause.
 * Returns true when that answer explains the failure. */
static bool flow_refused_by_relay(struct flow *f)
{
	char err[sizeof(f->err)];

	while (flow_resp_pending(f)) {
		ssize_t r = recv(f->fd, f->ibuf, relay_resp_want(&f->resp), MSG_DONTWAIT);

		if (r <= 0)
			return false;
		relay_resp_take(&f->resp, f->ibuf, (size_t)r);
	}
	if (relay_resp_ok(&f->resp, 0, err, sizeof(err)))
		return false;
	flow_fail(f, "%s", err);
	return true;
}

static void flow_sock_error(struct flow *f, int err, const char *what)
{
	if (is_reset(err) && flow_resp_pending(f) && flow_refused_by_relay(f))
		return;
	if (is_reset(err) && f->pl->expect_reset) {
		flow_ok(f, "reset");
		return;
	}
	if (is_reset(err))
		flow_fail(f, "connection reset by peer (%s) after sending %llu and receiving %llu bytes",
			  what, (ull)f->sent, (ull)f->rx);
	else
		flow_fail(f, "%s: %s", what, strerror(err));
}

static int flow_send(struct flow *f)
{
	size_t req;
	ssize_t w;

	if (f->ooff == f->olen) {
		f->ooff = f->olen = 0;
		flow_append(f);
	}
	if (f->ooff == f->olen)
		return 0;
	w = send(f->fd, f->obuf + f->ooff, f->olen - f->ooff, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		flow_sock_error(f, errno, "send");
		return -1;
	}
	req = min_size(f->req_left, (uint64_t)w);
	f->req_left -= req;
	f->sent += (uint64_t)w - req;
	f->ooff += (size_t)w;
	return 1;
}

/* All the server bytes we expect arrived: its stream must end there too. */
static bool flow_peer_complete(struct flow *f)
{
	verifier_end(&f->vpeer);
	if (f->vpeer.bad == NO_BAD)
		return true;
	if (f->vpeer.known)
		flow_fail(f, "the server's stream announces %llu bytes, but we expect %llu (server -n vs -x/-b)",
			  (ull)f->vpeer.s.total, (ull)f->pl->peer);
	else
		flow_fail(f, "the server's stream header does not announce %llu bytes", (ull)f->pl->peer);
	return false;
}

/* Data bytes after the relay response: the peer's stream, then the echo. */
static void flow_take(struct flow *f, const uint8_t *p, size_t n)
{
	uint64_t peer = f->pl->peer, total = flow_rx_total(f);
	size_t k;

	if (flow_ignores_rx(f)) {
		f->rx += n;
		return;
	}
	if (f->rx < peer) {
		k = min_size(n, peer - f->rx);
		verifier_feed(&f->vpeer, p, k);
		f->rx += k;
		p += k;
		n -= k;
		if (f->vpeer.bad != NO_BAD) {
			flow_fail(f, "first wrong byte at offset %llu (server's stream; those bytes belong at %lld)",
				  (ull)f->vpeer.bad, (long long)f->vpeer.found_at);
			return;
		}
		if (f->rx == peer && !flow_peer_complete(f))
			return;
	}
	if (n && f->rx < total) {
		k = min_size(n, total - f->rx);
		verifier_feed(&f->vecho, p, k);
		f->rx += k;
		n -= k;
		if (f->vecho.bad != NO_BAD) {
			flow_fail(f, "first wrong byte at offset %llu (byte %llu of the echo)",
				  (ull)(peer + f->vecho.bad), (ull)f->vecho.bad);
			return;
		}
	}
	if (n)
		flow_fail(f, "received %zu bytes more than the %llu expected", n, (ull)total);
}

static void flow_on_eof(struct flow *f)
{
	if (f->pl->expect_reset)
		flow_fail(f, "connection closed with FIN after sending %llu bytes; expected a reset",
			  (ull)f->sent);
	else if (flow_resp_pending(f))
		flow_fail(f, "relay: connection closed after %zu bytes of the response",
			  f->resp.got + f->resp.skipped);
	else if (!flow_ignores_rx(f) && f->rx < flow_rx_total(f))
		flow_fail(f, "connection closed (EOF) after receiving %llu of %llu bytes",
			  (ull)f->rx, (ull)flow_rx_total(f));
}

static int flow_recv(struct flow *f)
{
	size_t want = flow_resp_pending(f) ? relay_resp_want(&f->resp) : CHUNK;
	ssize_t r;

	if (f->eof)
		return 0;
	r = recv(f->fd, f->ibuf, want, MSG_DONTWAIT);
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		flow_sock_error(f, errno, "recv");
		return -1;
	}
	if (r == 0) {
		f->eof = true;
		flow_on_eof(f);
		return 1;
	}
	if (!flow_resp_pending(f)) {
		flow_take(f, f->ibuf, (size_t)r);
		return 1;
	}
	relay_resp_take(&f->resp, f->ibuf, (size_t)r);
	if (f->resp.done) {
		char err[sizeof(f->err)];

		if (!relay_resp_ok(&f->resp, 0, err, sizeof(err)))
			flow_fail(f, "%s", err);
	}
	return 1;
}

/* --reset-after: once every byte is sent and acknowledged (SIOCOUTQ 0) by the
 * next hop, close with RST. */
static void flow_try_reset(struct flow *f)
{
	int outq = 0, rc;

	f->outq_wait = false;
	if (!flow_tx_done(f) || flow_resp_pending(f))
		return;
	if (ioctl(f->fd, SIOCOUTQ, &outq)) {
		flow_fail(f, "ioctl(SIOCOUTQ): %s", strerror(errno));
		return;
	}
	if (outq > 0) {
		f->outq_wait = true;
		return;
	}
	rc = close_with_reset(f->fd);
	f->fd = -1;
	if (rc)
		flow_fail(f, "close with SO_LINGER 0: %s", strerror(-rc));
	else
		flow_ok(f, "reset-sent");
}

static void flow_check_done(struct flow *f)
{
	if (f->state != FLOW_RUNNING)
		return;
	if (f->pl->reset_after) {
		flow_try_reset(f);
		return;
	}
	if (f->pl->expect_reset)
		return;
	if (!f->shut_wr && flow_tx_done(f) && (f->pl->half_close || flow_rx_done(f))) {
		if (shutdown(f->fd, SHUT_WR)) {
			flow_sock_error(f, errno, "shutdown");
			return;
		}
		f->shut_wr = true;
	}
	if (f->shut_wr && f->eof && flow_rx_done(f))
		flow_ok(f, "fin");
}

static void flow_timeout(struct flow *f)
{
	bool tx = flow_tx_done(f), rx = flow_ignores_rx(f) || flow_rx_done(f);
	const char *waiting = flow_resp_pending(f) ? "the relay response" :
			      f->pl->expect_reset ? "a reset" :
			      f->outq_wait ? "the ACK of every byte sent" :
			      !tx && !rx ? "data to move both ways" :
			      !tx ? "the peer to take more data" :
			      !rx ? "data" : "EOF";

	if (flow_ignores_rx(f))
		flow_fail(f, "timed out after %.1f s waiting for %s: sent %llu of %llu bytes",
			  now() - f->t_start, waiting, (ull)f->sent, (ull)f->pl->send);
	else
		flow_fail(f, "timed out after %.1f s waiting for %s: sent %llu of %llu bytes, received %llu of %llu",
			  now() - f->t_start, waiting, (ull)f->sent, (ull)f->pl->send, (ull)f->rx,
			  (ull)flow_rx_total(f));
}

static void flow_wait(struct flow *f)
{
	struct pollfd pfd = { .fd = f->fd };
	double until = f->cl->deadline, t = now();

	if (!f->eof)
		pfd.events |= POLLIN;
	if (f->ooff < f->olen || f->gen < flow_tx_limit(f))
		pfd.events |= POLLOUT;
	if (f->gen < f->pl->send && t < f->t_split && f->t_split < until)
		until = f->t_split;
	if (f->outq_wait && t + 0.001 < until)
		until = t + 0.001;
	if (poll(&pfd, 1, ms_until(until)) < 0 && errno != EINTR)
		flow_fail(f, "poll: %s", strerror(errno));
}

/* The first write carries the relay request and the first data together. */
static bool flow_connect(struct flow *f)
{
	size_t sent = 0;

	memcpy(f->obuf, f->cl->req, f->cl->req_len);
	f->req_left = f->cl->req_len;
	f->olen = f->cl->req_len;
	flow_append(f);
	f->fd = tcp_open(f->cl, f->obuf, f->olen, &sent, f->err, sizeof(f->err));
	if (f->fd < 0) {
		f->state = FLOW_FAILED;
		return false;
	}
	if (f->t_split > 0)     /* --split counts from the moment the connection is up */
		f->t_split = now() + f->pl->delay;
	if (sent) {
		size_t req = min_size(f->req_left, sent);

		f->req_left -= req;
		f->sent += sent - req;
		f->ooff = sent;
	}
	return true;
}

static void flow_run(struct flow *f)
{
	f->state = FLOW_RUNNING;
	f->fd = -1;
	client_stream(f->cl, f->idx, f->pl->send, &f->own);
	verifier_learn(&f->vpeer, DIR_SERVER);
	verifier_expect(&f->vecho, &f->own);
	f->obuf = xmalloc(RELAY_REQ_MAX + CHUNK);
	f->ibuf = xmalloc(CHUNK);
	f->t_start = now();
	f->t_split = f->pl->delay > 0 ? f->t_start + f->pl->delay : 0;
	if (flow_connect(f)) {
		while (f->state == FLOW_RUNNING) {
			int out = flow_send(f), in = 0;

			if (f->state == FLOW_RUNNING)
				in = flow_recv(f);
			flow_check_done(f);
			if (f->state != FLOW_RUNNING)
				break;
			if (now() >= f->cl->deadline)   /* hard limit, even while bytes trickle */
				flow_timeout(f);
			else if (out <= 0 && in <= 0)
				flow_wait(f);
		}
	}
	if (f->fd >= 0)
		close(f->fd);
	free(f->obuf);
	free(f->ibuf);
}

static void *flow_thread(void *arg)
{
	flow_run(arg);
	return NULL;
}

/* Runs n flows in parallel threads; returns how many failed (each printed). */
static unsigned run_flows(const struct client *cl, const struct plan *pl, struct flow *fs, unsigned n)
{
	pthread_t *th = xcalloc(n, sizeof(*th));
	unsigned i, failed = 0;
	int rc;

	for (i = 0; i < n; i++) {
		fs[i].cl = cl;
		fs[i].pl = pl;
		fs[i].idx = i;
		rc = pthread_create(&th[i], NULL, flow_thread, &fs[i]);
		if (rc) {
			fprintf(stderr, "traffic %s: pthread_create: %s\n", cl->o->cmd, strerror(rc));
			exit(EXIT_FAIL);
		}
	}
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (fs[i].state != FLOW_OK) {
			fprintf(stderr, "traffic %s: conn %u: %s\n", cl->o->cmd, i, fs[i].err);
			failed++;
		}
	}
	free(th);
	return failed;
}

static int cmd_xfer(const struct client *cl)
{
	const struct opts *o = cl->o;
	struct plan pl = { .send = o->bytes, .peer = o->expect,
			   .half_close = o->seen & BIT(O_HALF_CLOSE) };
	unsigned n = (unsigned)o->jobs, i, failed;
	struct flow *fs = xcalloc(n, sizeof(*fs));
	uint64_t tx = 0, rx = 0;
	double secs;

	failed = run_flows(cl, &pl, fs, n);
	secs = now() - cl->start;
	for (i = 0; i < n; i++) {
		double s = fs[i].t_end - fs[i].t_start;

		tx += fs[i].sent;
		rx += fs[i].rx;
		if (fs[i].state == FLOW_OK)
			printf("xfer conn=%u tx=%llu rx=%llu secs=%.3f tx_gbps=%.2f rx_gbps=%.2f\n", i,
			       (ull)fs[i].sent, (ull)fs[i].rx, s, gbps(fs[i].sent, s), gbps(fs[i].rx, s));
	}
	if (!failed)
		printf("xfer conns=%u tx=%llu rx=%llu secs=%.3f tx_gbps=%.2f rx_gbps=%.2f\n", n,
		       (ull)tx, (ull)rx, secs, gbps(tx, secs), gbps(rx, secs));
	free(fs);
	return failed ? EXIT_FAIL : 0;
}

static int cmd_early(const struct client *cl)
{
	const struct opts *o = cl->o;
	struct plan pl = { .send = o->bytes, .peer = o->banner, .echo = true };
	struct flow f = { .idx = 0 };

	if (o->seen & BIT(O_SPLIT)) {
		pl.first = o->bytes / 2;
		pl.delay = o->split_ms / 1000.0;
	}
	if (run_flows(cl, &pl, &f, 1))
		return EXIT_FAIL;
	printf("early conn=0 banner=%llu echo=%llu secs=%.3f\n", (ull)o->banner, (ull)o->bytes,
	       f.t_end - f.t_start);
	return 0;
}

static int cmd_rst(const struct client *cl)
{
	const struct opts *o = cl->o;
	bool after = o->seen & BIT(O_RESET_AFTER);
	struct plan pl = { .send = after ? o->reset_after : o->bytes,
			   .expect_reset = !after, .reset_after = after };
	struct flow f = { .idx = 0 };

	if (run_flows(cl, &pl, &f, 1))
		return EXIT_FAIL;
	printf("rst conn=0 tx=%llu rx=%llu reset=%s secs=%.3f\n", (ull)f.sent, (ull)f.rx,
	       after ? "sent" : "received", f.t_end - f.t_start);
	return 0;
}

/* ---- clients: ping-pong, connection rate, idle -------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Reads size bytes and checks they are our stream at off. */
static int pp_receive(const struct client *cl, int fd, const struct stream *s, uint64_t off,
		      uint8_t *buf, size_t size, char *err, size_t errlen)
{
	int rc = read_exact(fd, buf, size, cl->deadline);
	size_t bad;

	if (rc) {
		snprintf(err, errlen, "echo at offset %llu: %s", (ull)off, io_error(rc));
		return -1;
	}
	bad = stream_check(s, off, buf, size);
	if (bad < size) {
		snprintf(err, errlen, "echo: first wrong byte at offset %llu", (ull)(off + bad));
		return -1;
	}
	return 0;
}

static int pp_exchange(const struct client *cl, int fd, const struct stream *s, uint64_t off,
		       uint8_t *buf, size_t size, char *err, size_t errlen)
{
	int rc;

	stream_fill(s, off, buf, size);
	rc = write_all(fd, buf, size, cl->deadline);
	if (rc) {
		snprintf(err, errlen, "sending at offset %llu: %s", (ull)off, io_error(rc));
		return -1;
	}
	return pp_receive(cl, fd, s, off, buf, size, err, errlen);
}

static void pp_report(const struct opts *o, double *lat, unsigned long n)
{
	double sum = 0;
	unsigned long i, p99 = (unsigned long)ceil(0.99 * (double)n) - 1;

	qsort(lat, n, sizeof(*lat), cmp_double);
	for (i = 0; i < n; i++)
		sum += lat[i];
	printf("pp iters=%lu size=%llu median_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f\n",
	       n, (ull)o->size, lat[n / 2] * 1e6, lat[p99] * 1e6, sum / (double)n * 1e6,
	       lat[0] * 1e6, lat[n - 1] * 1e6);
}

static int cmd_pp(const struct client *cl)
{
	const struct opts *o = cl->o;
	unsigned long warm = o->iters / 10 + 1 < 1000 ? o->iters / 10 + 1 : 1000, i;
	size_t size = (size_t)o->size;
	uint8_t *buf = xmalloc(size);
	double *lat = xcalloc(o->iters, sizeof(*lat));
	char err[320];
	struct stream s;
	int fd, rc = EXIT_FAIL;

	client_stream(cl, 0, (uint64_t)(warm + o->iters) * size, &s);
	stream_fill(&s, 0, buf, size);
	/* the first exchange (with the connect) is a warm-up round */
	fd = client_connect(cl, buf, size, err, sizeof(err));
	if (fd < 0 || pp_receive(cl, fd, &s, 0, buf, size, err, sizeof(err)))
		goto out;
	for (i = 1; i < warm + o->iters; i++) {
		double t0 = now();

		if (pp_exchange(cl, fd, &s, (uint64_t)i * size, buf, size, err, sizeof(err)))
			goto out;
		if (i >= warm)
			lat[i - warm] = now() - t0;
	}
	if (finish_with_eof(cl, fd, err, sizeof(err)))
		goto out;
	pp_report(o, lat, o->iters);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "traffic pp: %s\n", err);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(lat);
	return rc;
}

struct cr_shared {
	const struct client *cl;
	double end;
	atomic_uint next_idx;
	atomic_ulong done;
	atomic_bool failed;
	pthread_mutex_t lock;
	char err[320];
};

static int cr_one(struct cr_shared *sh, char *err, size_t errlen)
{
	unsigned idx = atomic_fetch_add(&sh->next_idx, 1);
	uint8_t msg[ROUND_TRIP];
	struct stream s;
	int fd, rc;

	client_stream(sh->cl, idx, ROUND_TRIP, &s);
	stream_fill(&s, 0, msg, sizeof(msg));
	fd = client_connect(sh->cl, msg, sizeof(msg), err, errlen);
	if (fd < 0)
		return -1;
	rc = echo_round_trip(sh->cl, fd, &s, 0, sizeof(msg), err, errlen);
	if (close(fd) && !rc) {
		snprintf(err, errlen, "close: %s", strerror(errno));
		rc = -1;
	}
	return rc;
}

static void *cr_thread(void *arg)
{
	struct cr_shared *sh = arg;
	char err[320];

	while (!atomic_load(&sh->failed) && now() < sh->end) {
		if (cr_one(sh, err, sizeof(err)) == 0) {
			atomic_fetch_add(&sh->done, 1);
			continue;
		}
		pthread_mutex_lock(&sh->lock);
		if (!atomic_exchange(&sh->failed, true))
			snprintf(sh->err, sizeof(sh->err), "%s", err);
		pthread_mutex_unlock(&sh->lock);
	}
	return NULL;
}

static int cmd_cr(const struct client *cl)
{
	const struct opts *o = cl->o;
	unsigned long n = o->jobs, i;
	pthread_t *th = xcalloc(n, sizeof(*th));
	struct cr_shared sh = { .cl = cl, .end = now() + o->secs, .lock = PTHREAD_MUTEX_INITIALIZER };
	double t0 = now(), secs;
	int rc;

	for (i = 0; i < n; i++) {
		rc = pthread_create(&th[i], NULL, cr_thread, &sh);
		if (rc) {
			fprintf(stderr, "traffic cr: pthread_create: %s\n", strerror(rc));
			return EXIT_FAIL;
		}
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	free(th);
	secs = now() - t0;
	if (atomic_load(&sh.failed)) {
		fprintf(stderr, "traffic cr: connection after %lu good ones: %s\n",
			atomic_load(&sh.done), sh.err);
		return EXIT_FAIL;
	}
	printf("cr threads=%lu secs=%.2f conns=%lu conn_per_s=%.0f\n", n, secs, atomic_load(&sh.done),
	       (double)atomic_load(&sh.done) / secs);
	return 0;
}

static void append_conn(char *err, size_t errlen, unsigned long i, const char *when)
{
	size_t len = strlen(err);

	snprintf(err + len, errlen - len, " (conn %lu%s)", i, when);
}

/* Opens every connection with one round trip each, so each is established end to end. */
static int idle_open_all(const struct client *cl, int *fds, unsigned long n, char *err, size_t errlen)
{
	uint8_t msg[ROUND_TRIP];
	unsigned long i;
	struct stream s;

	for (i = 0; i < n; i++) {
		client_stream(cl, (unsigned)i, 2 * ROUND_TRIP, &s);
		stream_fill(&s, 0, msg, sizeof(msg));
		fds[i] = client_connect(cl, msg, sizeof(msg), err, errlen);
		if (fds[i] < 0 || echo_round_trip(cl, fds[i], &s, 0, sizeof(msg), err, errlen)) {
			append_conn(err, errlen, i, "");
			return -1;
		}
	}
	return 0;
}

/* After the hold: send on every connection first, then read every echo, then
 * close each cleanly. */
static int idle_check_all(const struct client *cl, const int *fds, unsigned long n, char *err,
			  size_t errlen)
{
	uint8_t msg[ROUND_TRIP];
	unsigned long i;
	struct stream s;
	int rc;

	for (i = 0; i < n; i++) {
		client_stream(cl, (unsigned)i, 2 * ROUND_TRIP, &s);
		stream_fill(&s, ROUND_TRIP, msg, sizeof(msg));
		rc = write_all(fds[i], msg, sizeof(msg), cl->deadline);
		if (rc) {
			snprintf(err, errlen, "sending after the hold: %s", io_error(rc));
			append_conn(err, errlen, i, "");
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		client_stream(cl, (unsigned)i, 2 * ROUND_TRIP, &s);
		if (echo_round_trip(cl, fds[i], &s, ROUND_TRIP, ROUND_TRIP, err, errlen) ||
		    finish_with_eof(cl, fds[i], err, errlen)) {
			append_conn(err, errlen, i, ", after the hold");
			return -1;
		}
	}
	return 0;
}

static int cmd_idle(const struct client *cl)
{
	const struct opts *o = cl->o;
	unsigned long n = o->jobs, i;
	int *fds = xmalloc(n * sizeof(*fds)), rc = EXIT_FAIL;
	double t0 = now(), setup;
	char err[400] = "";

	for (i = 0; i < n; i++)
		fds[i] = -1;
	if (idle_open_all(cl, fds, n, err, sizeof(err)))
		goto out;
	setup = now() - t0;
	if (o->ready_path) {
		int r = write_ready_file(o->ready_path, cl->target.text);

		if (r) {
			snprintf(err, sizeof(err), "--ready %s: %s", o->ready_path, strerror(-r));
			goto out;
		}
	}
	sleep_secs(o->hold);
	if (idle_check_all(cl, fds, n, err, sizeof(err)))
		goto out;
	printf("idle conns=%lu hold=%.1f setup_secs=%.3f ok\n", n, o->hold, setup);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "traffic idle: %s\n", err);
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return rc;
}

/* ---- clients: --relay-expect-status N (N != 0) -----------------------------------
 * Every mode then does the same per connection: send the request with its first
 * data, expect status N, expect the server to close (FIN or RST). */

static int probe_one(const struct client *cl, unsigned idx, size_t data_len, const char **closed,
		     char *err, size_t errlen)
{
	size_t len = cl->req_len + data_len, sent;
	uint8_t *buf = xmalloc(len), drop[4096];
	struct stream s;
	int fd, rc = -1, r;

	memcpy(buf, cl->req, cl->req_len);
	client_stream(cl, idx, data_len, &s);
	stream_fill(&s, 0, buf + cl->req_len, data_len);
	fd = tcp_open(cl, buf, len, &sent, err, errlen);
	if (fd < 0)
		goto out;
	/* a server that rejects may close before taking the data: read the answer anyway */
	r = write_all(fd, buf + sent, len - sent, cl->deadline);
	if (r && !is_reset(-r)) {
		snprintf(err, errlen, "sending the request: %s", io_error(r));
		goto out;
	}
	if (relay_read_response(cl, fd, cl->o->relay_status, err, errlen))
		goto out;
	do
		r = read_exact(fd, drop, sizeof(drop), cl->deadline);
	while (r == 0);
	if (r != IO_EOF && !is_reset(-r)) {
		snprintf(err, errlen, "after status %d the server did not close: %s",
			 cl->o->relay_status, io_error(r));
		goto out;
	}
	*closed = r == IO_EOF ? "fin" : "reset";
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

static int cmd_status_probe(const struct client *cl)
{
	const struct opts *o = cl->o;
	bool many = !strcmp(o->cmd, "xfer") || !strcmp(o->cmd, "cr") || !strcmp(o->cmd, "idle");
	unsigned long n = many ? o->jobs : 1, i;
	size_t data = ROUND_TRIP;
	const char *closed = "";
	char err[320];

	if (!strcmp(o->cmd, "pp"))
		data = (size_t)o->size;
	else if (o->seen & BIT(O_RESET_AFTER))
		data = min_size(PROBE_MAX, o->reset_after);
	else if (o->seen & BIT(O_BYTES))
		data = min_size(PROBE_MAX, o->bytes);
	for (i = 0; i < n; i++) {
		if (probe_one(cl, (unsigned)i, data, &closed, err, sizeof(err))) {
			fprintf(stderr, "traffic %s: conn %lu: %s\n", o->cmd, i, err);
			return EXIT_FAIL;
		}
		printf("%s conn=%lu relay_status=%d closed=%s\n", o->cmd, i, o->relay_status, closed);
	}
	return 0;
}

/* ---- command line ----------------------------------------------------------- */

struct command {
	const char *name;
	uint32_t allowed, required;
	int (*client)(const struct client *);   /* NULL: serve */
};

#define CLIENT_OPTS (BIT(O_CONNECT) | BIT(O_TIMEOUT) | BIT(O_IMMEDIATE) | BIT(O_RELAY) | \
		     BIT(O_RELAY_USER) | BIT(O_RELAY_PASS) | BIT(O_RELAY_STATUS))

static const struct command commands[] = {
	{ "serve", BIT(O_LISTEN) | BIT(O_MODE) | BIT(O_BYTES) | BIT(O_SECS) | BIT(O_AFTER) |
		   BIT(O_ONCE) | BIT(O_LOG) | BIT(O_READY) | BIT(O_TIMEOUT) | BIT(O_WORKERS),
	  BIT(O_LISTEN) | BIT(O_MODE), NULL },
	{ "xfer", CLIENT_OPTS | BIT(O_BYTES) | BIT(O_EXPECT) | BIT(O_JOBS) | BIT(O_HALF_CLOSE),
	  BIT(O_CONNECT) | BIT(O_BYTES) | BIT(O_EXPECT), cmd_xfer },
	{ "early", CLIENT_OPTS | BIT(O_BYTES) | BIT(O_BANNER) | BIT(O_SPLIT),
	  BIT(O_CONNECT) | BIT(O_BYTES), cmd_early },
	{ "rst", CLIENT_OPTS | BIT(O_BYTES) | BIT(O_EXPECT_RESET) | BIT(O_RESET_AFTER),
	  BIT(O_CONNECT), cmd_rst },
	{ "pp", CLIENT_OPTS | BIT(O_ITERS) | BIT(O_SIZE), BIT(O_CONNECT), cmd_pp },
	{ "cr", CLIENT_OPTS | BIT(O_SECS) | BIT(O_JOBS), BIT(O_CONNECT), cmd_cr },
	{ "idle", CLIENT_OPTS | BIT(O_JOBS) | BIT(O_HOLD) | BIT(O_READY),
	  BIT(O_CONNECT) | BIT(O_JOBS), cmd_idle },
};

enum long_only {
	L_READY = 256, L_HALF_CLOSE, L_IMMEDIATE, L_SPLIT, L_EXPECT_RESET, L_RESET_AFTER, L_HOLD,
	L_RELAY, L_RELAY_USER, L_RELAY_PASS, L_RELAY_STATUS,
};

static const struct option long_opts[] = {
	{ "ready", required_argument, NULL, L_READY },
	{ "half-close", no_argument, NULL, L_HALF_CLOSE },
	{ "immediate", no_argument, NULL, L_IMMEDIATE },
	{ "split", required_argument, NULL, L_SPLIT },
	{ "expect-reset", no_argument, NULL, L_EXPECT_RESET },
	{ "reset-after", required_argument, NULL, L_RESET_AFTER },
	{ "hold", required_argument, NULL, L_HOLD },
	{ "relay-connect", required_argument, NULL, L_RELAY },
	{ "relay-user", required_argument, NULL, L_RELAY_USER },
	{ "relay-pass", required_argument, NULL, L_RELAY_PASS },
	{ "relay-expect-status", required_argument, NULL, L_RELAY_STATUS },
	{ "workers", required_argument, NULL, 'w' },
	{ "timeout", required_argument, NULL, 'T' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void need_size(const struct opts *o, const char *arg, uint64_t *out, const char *name)
{
	if (!parse_size(arg, out))
		usage_error(o->cmd, "%s: '%s' is not a size (e.g. 4096, 64K, 1G)", name, arg);
}

static void need_secs(const struct opts *o, const char *arg, double *out, const char *name)
{
	if (!parse_secs(arg, out))
		usage_error(o->cmd, "%s: '%s' is not a number of seconds", name, arg);
}

static void need_ulong(const struct opts *o, const char *arg, unsigned long max,
		       unsigned long *out, const char *name)
{
	if (!parse_ulong(arg, max, out) || *out == 0)
		usage_error(o->cmd, "%s: '%s' is not a count from 1 to %lu", name, arg, max);
}

/* Handles one option; returns its O_* bit. */
static enum opt_bit parse_one(struct opts *o, int c, const char *arg)
{
	unsigned long v;

	switch (c) {
	case 'l': o->listen = arg; return O_LISTEN;
	case 'm': o->mode = arg; return O_MODE;
	case 'n': need_size(o, arg, &o->bytes, "-n"); return O_BYTES;
	case 't': need_secs(o, arg, &o->secs, "-t"); return O_SECS;
	case 'a': need_size(o, arg, &o->after, "-a"); return O_AFTER;
	case '1': return O_ONCE;
	case 'o': o->log_path = arg; return O_LOG;
	case 'T': need_secs(o, arg, &o->timeout, "-T"); return O_TIMEOUT;
	case 'w': need_ulong(o, arg, MAX_WORKERS, &o->workers, "-w"); return O_WORKERS;
	case 'c': o->connect = arg; return O_CONNECT;
	case 'x': need_size(o, arg, &o->expect, "-x"); return O_EXPECT;
	case 'j': need_ulong(o, arg, MAX_IDLE_CONNS, &o->jobs, "-j"); return O_JOBS;
	case 'b': need_size(o, arg, &o->banner, "-b"); return O_BANNER;
	case 'i': need_ulong(o, arg, 100000000, &o->iters, "-i"); return O_ITERS;
	case 's': need_size(o, arg, &o->size, "-s"); return O_SIZE;
	case L_READY: o->ready_path = arg; return O_READY;
	case L_HALF_CLOSE: return O_HALF_CLOSE;
	case L_IMMEDIATE: return O_IMMEDIATE;
	case L_SPLIT: need_secs(o, arg, &o->split_ms, "--split"); return O_SPLIT;
	case L_EXPECT_RESET: return O_EXPECT_RESET;
	case L_RESET_AFTER: need_size(o, arg, &o->reset_after, "--reset-after"); return O_RESET_AFTER;
	case L_HOLD: need_secs(o, arg, &o->hold, "--hold"); return O_HOLD;
	case L_RELAY: o->relay = arg; return O_RELAY;
	case L_RELAY_USER: o->relay_user = arg; return O_RELAY_USER;
	case L_RELAY_PASS: o->relay_pass = arg; return O_RELAY_PASS;
	case L_RELAY_STATUS:
		if (!parse_ulong(arg, 255, &v))
			usage_error(o->cmd, "--relay-expect-status: '%s' is not 0..255", arg);
		o->relay_status = (int)v;
		return O_RELAY_STATUS;
	default:
		usage_error(o->cmd, "unknown option");
		return O_COUNT;
	}
}

static void parse_args(struct opts *o, int argc, char **argv)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":l:m:n:t:a:1o:T:w:c:x:j:b:i:s:h", long_opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			exit(0);
		}
		if (c == ':')
			usage_error(o->cmd, "%s needs a value", argv[optind - 1]);
		if (c == '?')
			usage_error(o->cmd, "unknown option %s", argv[optind - 1]);
		o->seen |= BIT(parse_one(o, c, optarg));
	}
	if (optind < argc)
		usage_error(o->cmd, "unexpected argument '%s'", argv[optind]);
}

static void check_opts(const struct opts *o, const struct command *cmd)
{
	int i;

	for (i = 0; i < O_COUNT; i++) {
		if ((o->seen & BIT(i)) && !(cmd->allowed & BIT(i)))
			usage_error(o->cmd, "%s does not apply to %s", opt_names[i], o->cmd);
		if ((cmd->required & BIT(i)) && !(o->seen & BIT(i)))
			usage_error(o->cmd, "%s is required", opt_names[i]);
	}
	if ((o->seen & (BIT(O_RELAY_USER) | BIT(O_RELAY_PASS) | BIT(O_RELAY_STATUS))) &&
	    !(o->seen & BIT(O_RELAY)))
		usage_error(o->cmd, "--relay-user, --relay-pass and --relay-expect-status need --relay-connect");
	if ((o->seen & BIT(O_RELAY_PASS)) && !(o->seen & BIT(O_RELAY_USER)))
		usage_error(o->cmd, "--relay-pass needs --relay-user (GOST sends no auth without a user)");
	if (!strcmp(o->cmd, "rst")) {
		bool reset = o->seen & BIT(O_EXPECT_RESET), after = o->seen & BIT(O_RESET_AFTER);

		if (reset == after || (reset && !(o->seen & BIT(O_BYTES))) || (after && (o->seen & BIT(O_BYTES))))
			usage_error(o->cmd, "give either -n BYTES --expect-reset or --reset-after BYTES");
	}
	if (!strcmp(o->cmd, "xfer") && o->jobs > MAX_XFER_CONNS)
		usage_error(o->cmd, "-j: at most %d connections", MAX_XFER_CONNS);
	if (!strcmp(o->cmd, "cr") && o->jobs > MAX_CR_THREADS)
		usage_error(o->cmd, "-j: at most %d threads", MAX_CR_THREADS);
	if (strcmp(o->cmd, "serve") && o->timeout <= 0)
		usage_error(o->cmd, "-T: a client needs a time limit above 0");
	if (!strcmp(o->cmd, "pp") && (o->size == 0 || o->size > CHUNK))
		usage_error(o->cmd, "-s: size from 1 to %u", CHUNK);
}

static int run_client(const struct opts *o, const struct command *cmd)
{
	struct client cl = { .o = o };
	char err[512];
	double planned = 0;

	if (!resolve(o->connect, true, &cl.target, err, sizeof(err)))
		usage_error(o->cmd, "-c: %s", err);
	if (o->relay && !relay_build_request(o->relay, o->relay_user, o->relay_pass, cl.req,
					     &cl.req_len, err, sizeof(err)))
		usage_error(o->cmd, "%s", err);
	if (!strcmp(o->cmd, "cr"))
		planned = o->secs;
	else if (!strcmp(o->cmd, "idle"))
		planned = o->hold;
	else if (!strcmp(o->cmd, "early"))
		planned = o->split_ms / 1000.0;
	cl.seed_base = random_seed();
	cl.start = now();
	cl.deadline = cl.start + planned + o->timeout;
	raise_fd_limit();
	if (o->relay && o->relay_status != 0)
		return cmd_status_probe(&cl);
	return cmd->client(&cl);
}

int main(int argc, char **argv)
{
	struct opts o = { .timeout = DEFAULT_TIMEOUT, .jobs = 1, .iters = 10000, .size = 64,
			  .secs = 5, .hold = 1 };
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		perror("traffic: signal(SIGPIPE)");
		return EXIT_FAIL;
	}
	o.cmd = argv[1];
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(o.cmd, commands[i].name))
			continue;
		parse_args(&o, argc - 1, argv + 1);
		check_opts(&o, &commands[i]);
		return commands[i].client ? run_client(&o, &commands[i]) : cmd_serve(&o);
	}
	usage_error(NULL, "unknown command '%s' (serve, xfer, early, rst, pp, cr, idle)", o.cmd);
	return EXIT_USAGE;
}

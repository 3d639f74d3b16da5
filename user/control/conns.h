/* The registry of live connections: what `relayctl conns` lists and what the
 * per-connection summary log line is made of.  Entries are created by
 * handlers on accept, updated lock-free by whichever thread moves the bytes
 * (worker pump or fast-path thread), and read under one mutex by the control
 * plane.  Process-wide byte totals per path live here too. */
#ifndef RELAYD_CONTROL_CONNS_H
#define RELAYD_CONTROL_CONNS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/addr.h"

enum conn_path {
	CONN_PATH_HANDSHAKE = 0,        /* header, auth, dial */
	CONN_PATH_USER,                 /* userspace copy pump */
	CONN_PATH_SPLICE,               /* splice(2) pump */
	CONN_PATH_KERNEL,               /* sockmap fast path */
	CONN_PATH_CLOSING,
};

struct conn_info {
	uint64_t id;
	char service[64];
	char proto[16];                 /* "relay", "tcp", "http", "socks5", ... */
	char client[NET_ADDRSTRLEN];
	char local[NET_ADDRSTRLEN];     /* the accepted socket's own address ("" unknown) */
	char user[64];
	char target[300];
	char stack[128];                /* transport stack of the client and upstream sides */
	char tls_client[80];            /* "TLSv1.3 TLS_AES_128_GCM_SHA256" or "" */
	char tls_target[80];            /* the upstream side's TLS (a tls/wss dialer) */
	uint64_t start_mono_ms;
	uint64_t start_wall_ms;
	_Atomic int path;
	/* bytes moved in userspace (copy or splice); kernel bytes come from BPF */
	_Atomic uint64_t up_user;       /* client → target */
	_Atomic uint64_t down_user;     /* target → client */
	/* kernel fast path: socket cookies (0 until paired) and final counts */
	_Atomic uint64_t cookie_client, cookie_target;
	_Atomic uint64_t up_kernel, down_kernel;        /* set when the pair closes */
	_Atomic bool demoted_up, demoted_down;
	/* datagram sessions (UDP over relay): datagrams each way, last activity */
	_Atomic bool datagram;
	_Atomic uint64_t dgrams_up, dgrams_down;
	_Atomic uint64_t last_mono_ms;
	char error[128];                /* first error, for the summary line */
	struct conn_info *prev, *next;
};

/* Totals since start, per path (the kernel path's live total is in BPF). */
struct conns_totals {
	uint64_t accepted, active, closed;
	uint64_t user_bytes, splice_bytes, kernel_bytes_closed;
};

struct conn_info *conns_new(const char *service, const char *proto, const struct sockaddr *client);
void conns_set_target(struct conn_info *ci, const char *target);
void conns_set_user(struct conn_info *ci, const char *user);
/* The local address of the socket at the bottom of client's stack (GOST's
 * "local" log field); left empty when the stack cannot tell. */
struct stream;
void conns_set_local(struct conn_info *ci, struct stream *client);
/* For a peer known only as text (the address in a BIND stream's header). */
void conns_set_client(struct conn_info *ci, const char *client);
void conns_set_path(struct conn_info *ci, enum conn_path p);
void conns_set_error(struct conn_info *ci, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void conns_add_user(struct conn_info *ci, int dir_up, uint64_t n)
{
	atomic_fetch_add_explicit(dir_up ? &ci->up_user : &ci->down_user, n, memory_order_relaxed);
}
void conns_add_path_bytes(enum conn_path p, uint64_t n);

/* Logs the summary line (duration, inputBytes, outputBytes) and frees ci. */
void conns_done(struct conn_info *ci);

/* Visit every live entry under the registry lock (keep cb short). */
void conns_foreach(void (*cb)(const struct conn_info *ci, void *ud), void *ud);
/* Visit the entry with this id, if live; returns whether it was found.  With
 * a non-NULL error, records it as the connection's first error. */
bool conns_visit(uint64_t id, void (*cb)(const struct conn_info *ci, void *ud), void *ud,
		 const char *error);
void conns_get_totals(struct conns_totals *t);
const char *conns_path_name(int p);

#endif

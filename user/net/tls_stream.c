/* TLS stream (see tls_stream.h).  Readiness: the owner's interest maps to
 * whatever the SSL object last asked the lower stream for (a read may need
 * the lower side writable during a key update, a write readable); decrypted
 * bytes already buffered inside OpenSSL are signalled through a deferred
 * task, since the lower stream will not wake anyone for them. */
#include "net/tls_stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "base/util.h"
#include "net/loop.h"
#include "net/stream.h"

struct tls_stream {
	struct stream s;
	struct stream *lower;
	SSL *ssl;
	bool hs_done;
	bool rd_blocked;        /* the last read waited for the lower stream */
	bool shut_sent;
	unsigned want;          /* the owner's interest */
	unsigned hs_need, rd_need, wr_need;     /* lower readiness each one waits for */
	int err;                /* sticky failure, reported by every call */
	int io_err;             /* last error of the lower stream seen by the BIO */
	struct loop_timer hs_timer;
	struct loop_task kick;
	char errtext[160];
	char info[80];
};

/* ---- the BIO between OpenSSL and the lower stream ---- */

static BIO_METHOD *g_bio_meth;
static pthread_once_t g_bio_once = PTHREAD_ONCE_INIT;

static int bio_write(BIO *b, const char *buf, int len)
{
	struct tls_stream *t = BIO_get_data(b);
	ssize_t w = stream_write(t->lower, buf, (size_t)len);

	BIO_clear_retry_flags(b);
	if (w == -EAGAIN) {
		BIO_set_retry_write(b);
		return -1;
	}
	if (w < 0) {
		t->io_err = (int)w;
		return -1;
	}
	return (int)w;
}

static int bio_read(BIO *b, char *buf, int len)
{
	struct tls_stream *t = BIO_get_data(b);
	ssize_t r = stream_read(t->lower, buf, (size_t)len);

	BIO_clear_retry_flags(b);
	if (r == -EAGAIN) {
		BIO_set_retry_read(b);
		return -1;
	}
	if (r < 0) {
		t->io_err = (int)r;
		return -1;
	}
	return (int)r;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static void bio_meth_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "relayd stream");

	if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read) &&
	    BIO_meth_set_ctrl(m, bio_ctrl))
		g_bio_meth = m;
	else
		BIO_meth_free(m);
}

/* ---- readiness ---- */

static void update_lower(struct tls_stream *t)
{
	unsigned ev = 0;
	bool kick = false;

	if (t->err) {
		kick = t->want != 0;
	} else if (!t->hs_done) {
		if (t->want)
			ev = t->hs_need;
	} else {
		if (t->want & STREAM_RD) {
			if (!t->rd_blocked && SSL_has_pending(t->ssl))
				kick = true;
			else
				ev |= t->rd_need;
		}
		if (t->want & STREAM_WR)
			ev |= t->wr_need;
	}
	stream_want(t->lower, ev);
	if (kick)
		loop_defer(t->s.loop, &t->kick);
}

static void lower_cb(struct stream *lower, unsigned events, void *ud)
{
	struct tls_stream *t = ud;
	unsigned ev = 0;

	(void)lower;
	if (!t->hs_done || t->err) {
		ev = t->want;
	} else {
		if ((t->want & STREAM_RD) && (events & t->rd_need))
			ev |= STREAM_RD;
		if ((t->want & STREAM_WR) && (events & t->wr_need))
			ev |= STREAM_WR;
	}
	if (ev && t->s.cb)
		t->s.cb(&t->s, ev, t->s.ud);
}

static void kick_cb(struct loop_task *k)
{
	struct tls_stream *t = CONTAINER_OF(k, struct tls_stream, kick);
	unsigned ev = t->err ? t->want : t->want & STREAM_RD;

	if (ev && t->s.cb)
		t->s.cb(&t->s, ev, t->s.ud);
}

/* ---- errors ---- */

static int set_error(struct tls_stream *t, int err, const char *what, const char *why)
{
	snprintf(t->errtext, sizeof(t->errtext), "tls: %s%s%s", what, *what ? ": " : "", why);
	t->err = err;
	loop_timer_stop(t->s.loop, &t->hs_timer);
	return err;
}

/* Turn an SSL call's failure into -EAGAIN (need set), 0 (clean end) or a sticky error. */
static int ssl_fail(struct tls_stream *t, int rc, unsigned *need, const char *what)
{
	int e = SSL_get_error(t->ssl, rc);
	unsigned long code;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*need = STREAM_RD;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*need = STREAM_WR;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (t->io_err)
			return set_error(t, t->io_err, what, strerror(-t->io_err));
		return set_error(t, -ECONNRESET, what, "unexpected EOF");
	default:
		code = ERR_peek_last_error();
		if (SSL_get_verify_result(t->ssl) != X509_V_OK)
			return set_error(t, -EPROTO, what,
					 X509_verify_cert_error_string(SSL_get_verify_result(t->ssl)));
		return set_error(t, -EPROTO, what,
				 code && ERR_reason_error_string(code) ? ERR_reason_error_string(code)
								       : "protocol error");
	}
}

static int hs_step(struct tls_stream *t)
{
	int rc;

	if (t->err)
		return t->err;
	if (t->hs_done)
		return 1;
	ERR_clear_error();
	rc = SSL_do_handshake(t->ssl);
	if (rc == 1) {
		t->hs_done = true;
		loop_timer_stop(t->s.loop, &t->hs_timer);
		snprintf(t->info, sizeof(t->info), "%s %s", SSL_get_version(t->ssl),
			 SSL_get_cipher_name(t->ssl));
		return 1;
	}
	rc = ssl_fail(t, rc, &t->hs_need, "handshake");
	return rc ? rc : set_error(t, -ECONNRESET, "handshake", "unexpected EOF");
}

static void hs_timeout(struct loop_timer *tm)
{
	struct tls_stream *t = CONTAINER_OF(tm, struct tls_stream, hs_timer);

	set_error(t, -ETIMEDOUT, "handshake", "timeout");
	update_lower(t);
}

/* ---- stream ops ---- */

static ssize_t tl_read(struct stream *s, void *buf, size_t len)
{
	struct tls_stream *t = (struct tls_stream *)s;
	size_t n = 0;
	int rc = hs_step(t);

	if (rc != 1)
		return rc;
	ERR_clear_error();
	if (SSL_read_ex(t->ssl, buf, len, &n)) {
		t->rd_blocked = false;
		t->rd_need = STREAM_RD;
		return (ssize_t)n;
	}
	rc = ssl_fail(t, 0, &t->rd_need, "read");
	t->rd_blocked = rc == -EAGAIN;
	return rc;
}

static ssize_t tl_write(struct stream *s, const void *buf, size_t len)
{
	struct tls_stream *t = (struct tls_stream *)s;
	size_t n = 0;
	int rc = hs_step(t);

	if (rc != 1)
		return rc;
	/* nothing is held back here: a record the lower stream refused is
	 * retried with the caller's next write of the same bytes */
	if (!len)
		return 0;
	ERR_clear_error();
	if (SSL_write_ex(t->ssl, buf, len, &n)) {
		t->wr_need = STREAM_WR;
		return (ssize_t)n;
	}
	rc = ssl_fail(t, 0, &t->wr_need, "write");
	return rc ? rc : -EPIPE;
}

static int tl_shutdown(struct stream *s)
{
	struct tls_stream *t = (struct tls_stream *)s;

	if (t->err)
		return t->err;
	if (t->hs_done && !t->shut_sent) {
		int rc;

		ERR_clear_error();
		rc = SSL_shutdown(t->ssl);
		if (rc < 0) {
			rc = ssl_fail(t, rc, &t->wr_need, "close_notify");
			if (rc)
				return rc;
		}
		t->shut_sent = true;
	}
	return stream_shutdown(t->lower);
}

static void tl_want(struct stream *s, unsigned events)
{
	struct tls_stream *t = (struct tls_stream *)s;

	t->want = events;
	update_lower(t);
}

static void tl_close(struct stream *s, bool abort)
{
	struct tls_stream *t = (struct tls_stream *)s;

	/* Go's tls.Conn.Close sends close_notify: so do we, when it fits now */
	if (!abort && t->hs_done && !t->err && !t->shut_sent) {
		ERR_clear_error();
		SSL_shutdown(t->ssl);
	}
	loop_timer_stop(s->loop, &t->hs_timer);
	loop_cancel(s->loop, &t->kick);
	SSL_free(t->ssl);
	ERR_clear_error();
	stream_close(t->lower, abort);
	free(t);
}

static int tl_raw_fd(struct stream *s)
{
	(void)s;
	return -1;
}

static int tl_detach(struct stream *s)
{
	(void)s;
	return -EINVAL;
}

static void tl_describe(struct stream *s, char *out, size_t cap)
{
	struct tls_stream *t = (struct tls_stream *)s;
	char lower[48];

	stream_describe(t->lower, lower, sizeof(lower));
	snprintf(out, cap, "tls>%s", lower);
}

static const char *tl_error_text(struct stream *s)
{
	struct tls_stream *t = (struct tls_stream *)s;

	return t->errtext[0] ? t->errtext : stream_error_text(t->lower);
}

static int tl_local_addr(struct stream *s, struct sockaddr_storage *ss)
{
	return stream_local_addr(((struct tls_stream *)s)->lower, ss);
}

static int tl_handshake(struct stream *s)
{
	int rc = hs_step((struct tls_stream *)s);

	return rc == -EAGAIN ? 0 : rc;
}

static const char *tl_tls_info(struct stream *s)
{
	struct tls_stream *t = (struct tls_stream *)s;

	return t->info[0] ? t->info : NULL;
}

static const struct stream_ops tls_ops = {
	.read = tl_read,
	.write = tl_write,
	.shutdown = tl_shutdown,
	.want = tl_want,
	.close = tl_close,
	.raw_fd = tl_raw_fd,
	.detach = tl_detach,
	.describe = tl_describe,
	.error_text = tl_error_text,
	.local_addr = tl_local_addr,
	.handshake = tl_handshake,
	.tls_info = tl_tls_info,
};

static bool is_ip_literal(const char *h)
{
	unsigned char b[16];

	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

static int client_setup(struct tls_stream *t, const struct tls_stream_opts *o)
{
	const char *sni = o->sni ? o->sni : "";

	/* Go sends no SNI for an IP literal or an empty name */
	if (*sni && !is_ip_literal(sni) && !SSL_set_tlsext_host_name(t->ssl, sni))
		return -1;
	if (o->verify_name && *sni) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);

		if (is_ip_literal(sni) ? !X509_VERIFY_PARAM_set1_ip_asc(vp, sni)
				       : !X509_VERIFY_PARAM_set1_host(vp, sni, 0))
			return -1;
	}
	SSL_set_connect_state(t->ssl);
	return 0;
}

struct stream *tls_stream_new(struct stream *lower, SSL_CTX *ctx, const struct tls_stream_opts *o)
{
	struct tls_stream *t;
	BIO *bio;

	pthread_once(&g_bio_once, bio_meth_init);
	t = g_bio_meth ? calloc(1, sizeof(*t)) : NULL;
	if (!t || !(t->ssl = SSL_new(ctx)) || !(bio = BIO_new(g_bio_meth))) {
		if (t)
			SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		stream_close(lower, false);
		return NULL;
	}
	BIO_set_data(bio, t);
	BIO_set_init(bio, 1);
	SSL_set_bio(t->ssl, bio, bio);
	t->s.ops = &tls_ops;
	t->s.loop = lower->loop;
	t->lower = lower;
	t->hs_need = o->server ? STREAM_RD : STREAM_WR;
	t->rd_need = STREAM_RD;
	t->wr_need = STREAM_WR;
	loop_timer_init(&t->hs_timer, hs_timeout);
	loop_task_init(&t->kick, kick_cb);
	if (o->server) {
		SSL_set_accept_state(t->ssl);
	} else if (client_setup(t, o)) {
		ERR_clear_error();
		SSL_free(t->ssl);
		free(t);
		stream_close(lower, false);
		return NULL;
	}
	stream_set_cb(lower, lower_cb, t);
	if (o->handshake_timeout_ms)
		loop_timer_start(t->s.loop, &t->hs_timer, o->handshake_timeout_ms);
	return &t->s;
}

/* OpenSSL contexts for listeners and dialers (see tls_ctx.h). */
#include "net/tls_ctx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

/* read-ahead in large chunks: several records per read(2) on a busy stream */
#define READ_BUFFER_LEN (64 * 1024)

/* Go's default suites in Go's order of preference (crypto/tls, AES hardware):
 * AES-128-GCM first, and no RSA key exchange or CBC-SHA256 in TLS 1.2 */
#define GO_TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"
#define GO_TLS12_CIPHERS                                                               \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                   \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                   \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                   \
	"ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA"

static bool set(const char *s)
{
	return s && *s;
}

static void ssl_err(char *err, size_t errlen, const char *what, const char *file)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	if (!why && errno)
		why = strerror(errno);
	snprintf(err, errlen, "%s %s: %s", what, file ? file : "", why ? why : "failed");
	ERR_clear_error();
}

static SSL_CTX *base_ctx(const SSL_METHOD *m, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(m);

	if (!ctx) {
		ssl_err(err, errlen, "tls", "context");
		return NULL;
	}
	/* Go's defaults: TLS 1.2 to 1.3; an EOF without close_notify is an EOF */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_ciphersuites(ctx, GO_TLS13_SUITES) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, GO_TLS12_CIPHERS) != 1) {
		ssl_err(err, errlen, "tls", "cipher suites");
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* an idle connection keeps no record buffers */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, READ_BUFFER_LEN);
	return ctx;
}

static int load_pair(SSL_CTX *ctx, const char *cert, const char *key, char *err, size_t errlen)
{
	errno = 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_err(err, errlen, "load certificate", cert);
		return -1;
	}
	errno = 0;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ssl_err(err, errlen, "load key", key);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_err(err, errlen, "key does not match certificate", cert);
		return -1;
	}
	return 0;
}

static int load_ca(SSL_CTX *ctx, const char *ca, char *err, size_t errlen)
{
	errno = 0;
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		ssl_err(err, errlen, "load CA", ca);
		return -1;
	}
	return 0;
}

SSL_CTX *tls_ctx_server(const struct tls_files *f, const char **source, char *err, size_t errlen)
{
	SSL_CTX *ctx = base_ctx(TLS_server_method(), err, errlen);

	if (!ctx)
		return NULL;
	if (set(f->cert_file) || set(f->key_file)) {
		if (load_pair(ctx, f->cert_file ? f->cert_file : "", f->key_file ? f->key_file : "",
			      err, errlen))
			goto fail;
		*source = f->cert_file;
	} else if (!access("cert.pem", R_OK) && !access("key.pem", R_OK)) {
		if (load_pair(ctx, "cert.pem", "key.pem", err, errlen))
			goto fail;
		*source = "cert.pem in the working directory";
	} else {
		X509 *cert;
		EVP_PKEY *key;

		if (tls_selfsigned_get(&cert, &key, err, errlen))
			goto fail;
		if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
			ssl_err(err, errlen, "use the generated certificate", NULL);
			goto fail;
		}
		*source = "self-signed, generated at start-up (gost.run)";
	}
	if (set(f->ca_file)) {
		if (load_ca(ctx, f->ca_file, err, errlen))
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *tls_ctx_client(const struct tls_files *f, bool secure, char *err, size_t errlen)
{
	SSL_CTX *ctx = base_ctx(TLS_client_method(), err, errlen);

	if (!ctx)
		return NULL;
	if ((set(f->cert_file) || set(f->key_file)) &&
	    load_pair(ctx, f->cert_file ? f->cert_file : "", f->key_file ? f->key_file : "", err,
		      errlen))
		goto fail;
	if (set(f->ca_file)) {
		if (load_ca(ctx, f->ca_file, err, errlen))
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else if (secure) {
		if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			ssl_err(err, errlen, "load the system CA store", NULL);
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		/* GOST's default: InsecureSkipVerify */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

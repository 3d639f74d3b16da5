/* OpenSSL contexts as GOST configures its TLS listeners and dialers
 * (x: internal/util/tls, config/parsing/tls.go): TLS 1.2 and 1.3, no ALPN,
 * session tickets on.
 *
 * Server certificate: the given cert/key files; else cert.pem and key.pem in
 * the working directory; else a self-signed ECDSA P-256 certificate for
 * gost.run generated once per process, as GOST generates one at start-up.
 * A CA file makes the server require and verify client certificates.
 *
 * Client: no verification unless secure (then against the CA file or the
 * system store, with the server name); a CA file alone pins the chain without
 * a name check, as GOST does; an optional client certificate. */
#ifndef RELAYD_NET_TLS_CTX_H
#define RELAYD_NET_TLS_CTX_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct tls_files {
	const char *cert_file, *key_file, *ca_file;     /* NULL or "" = unset */
};

/* NULL on error with err filled ("load certificate cert.pem: no such file");
 * *source says which certificate the server presents, for the log. */
SSL_CTX *tls_ctx_server(const struct tls_files *f, const char **source, char *err, size_t errlen);
SSL_CTX *tls_ctx_client(const struct tls_files *f, bool secure, char *err, size_t errlen);

/* The generated certificate and key (made on first use, kept for the life
 * of the process); 0 or -1 with err filled. */
int tls_selfsigned_get(X509 **cert, EVP_PKEY **key, char *err, size_t errlen);

#endif

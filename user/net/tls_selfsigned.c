/* The certificate a TLS listener presents when none is configured, made as
 * GOST makes its default (x: config/parsing/tls.go): ECDSA P-256, self-signed
 * CA, digitalSignature|keyCertSign, server and client auth, random 128-bit
 * serial, O=GOST CN=gost.run, DNS SAN gost.run, valid one year. */
#include "net/tls_ctx.h"

#include <pthread.h>
#include <stdio.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define VALIDITY_SECONDS (365L * 24 * 3600)

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static X509 *g_cert;
static EVP_PKEY *g_key;

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int random_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[0] &= 0x7f;           /* positive, as Go's rand.Int(2^128) */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (!bn)
		return -1;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

static int make(X509 **out_cert, EVP_PKEY **out_key)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;

	if (!key || !x || !X509_set_version(x, 2) || random_serial(x) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), VALIDITY_SECONDS) || !X509_set_pubkey(x, key))
		goto fail;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"GOST", -1,
					-1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"gost.run", -1, -1, 0) ||
	    !X509_set_issuer_name(x, name))
		goto fail;
	if (add_ext(x, NID_basic_constraints, "critical,CA:TRUE") ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
	    add_ext(x, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    add_ext(x, NID_subject_alt_name, "DNS:gost.run") ||
	    !X509_sign(x, key, EVP_sha256()))
		goto fail;
	*out_cert = x;
	*out_key = key;
	return 0;
fail:
	X509_free(x);
	EVP_PKEY_free(key);
	return -1;
}

int tls_selfsigned_get(X509 **cert, EVP_PKEY **key, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&g_lock);
	if (!g_cert && make(&g_cert, &g_key)) {
		unsigned long e = ERR_get_error();

		snprintf(err, errlen, "generate a self-signed certificate: %s",
			 e ? ERR_reason_error_string(e) : "failed");
		ERR_clear_error();
		rc = -1;
	}
	*cert = g_cert;
	*key = g_key;
	pthread_mutex_unlock(&g_lock);
	return rc;
}

/*
 * tls.c: the API's TLS context, its first-start certificate, and the
 * installation of a CA-signed one. It never logs key material; only
 * certificate fingerprints.
 */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "nvrd/util.h"
#include "storage/sign.h"
#include "web/tls.h"

/* Self-signed certificates are replaced by a CA-signed one in production;
 * two years keeps a forgotten one from living forever. */
#define SELF_SIGNED_DAYS 730

static void
log_ssl_error(const char *what, const char *path)
{
	char buf[256] = "unknown reason";
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	nvr_log_ex(NVR_LOG_ERROR, buf, NULL, "%s %s", what, path ? path : "");
}

static nvr_err
make_self_signed(const char *cert_path, const char *key_path)
{
	char host[128] = "localhost", cn[160], san[400];
	struct stg_cert_ext ext[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, "serverAuth" },
		{ NID_subject_alt_name, san },
	};
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = NULL;
	uint8_t fp[32];
	char hex[65];
	nvr_err rc = NVR_ERR_CRYPTO;

	gethostname(host, sizeof(host) - 1);
	snprintf(cn, sizeof(cn), "nvr %s", host);
	snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", host);
	if (key == NULL || (cert = stg_cert_self_signed(key, cn, SELF_SIGNED_DAYS, ext, NVR_ARRAY_LEN(ext))) == NULL)
		goto out;
	if ((rc = stg_pem_write(key_path, 0600, key, NULL)) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "cannot write the TLS key %s: %s", key_path, strerror(errno));
		goto out;
	}
	if ((rc = stg_pem_write(cert_path, 0644, NULL, cert)) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "cannot write the TLS certificate %s: %s", cert_path, strerror(errno));
		unlink(key_path);
		goto out;
	}
	if (stg_cert_fingerprint(cert, fp) == NVR_OK) {
		nvr_hex_encode(fp, sizeof(fp), hex);
		nvr_log_ex(NVR_LOG_WARNING, NULL,
		    "check this fingerprint when a browser or client first connects, or install a CA-signed "
		    "certificate with nvrctl tls csr and nvrctl tls install",
		    "created a self-signed TLS certificate %s for the API (SHA-256 %s)", cert_path, hex);
	}
out:
	if (rc == NVR_ERR_CRYPTO)
		log_ssl_error("cannot make a TLS certificate", cert_path);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

nvr_err
web_tls_ensure_cert(const char *cert_path, const char *key_path)
{
	bool have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;

	if (have_cert && have_key)
		return NVR_OK;
	if (have_cert != have_key) {
		nvr_log_ex(NVR_LOG_ERROR, NULL,
		    "restore the missing file, or remove both to have a new self-signed certificate made",
		    "the TLS %s %s exists but its %s %s does not", have_cert ? "certificate" : "key",
		    have_cert ? cert_path : key_path, have_cert ? "key" : "certificate", have_cert ? key_path : cert_path);
		return NVR_ERR_CONFIG;
	}
	return make_self_signed(cert_path, key_path);
}

static nvr_err
load_pair(SSL_CTX *ctx, const char *cert_path, const char *key_path)
{
	struct stat st;

	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		log_ssl_error("cannot use the TLS certificate", cert_path);
		return NVR_ERR_CONFIG;
	}
	if (stat(key_path, &st) == 0 && (st.st_mode & 077) != 0)
		nvr_log_ex(NVR_LOG_WARNING, NULL, "chmod 600 it", "the TLS key %s is readable by group or others",
		    key_path);
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
		log_ssl_error("cannot use the TLS key", key_path);
		return NVR_ERR_CONFIG;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl_error("the TLS certificate does not match its key:", key_path);
		return NVR_ERR_CONFIG;
	}
	return NVR_OK;
}

nvr_err
web_tls_ctx_new(const char *cert_path, const char *key_path, bool compat, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *ciphers = compat ? WEB_TLS12_CIPHERS ":" WEB_TLS12_COMPAT_CIPHERS : WEB_TLS12_CIPHERS;
	nvr_err rc = NVR_ERR_CRYPTO;

	*out = NULL;
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, ciphers) != 1 || SSL_CTX_set_ciphersuites(ctx, WEB_TLS13_SUITES) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, WEB_TLS_GROUPS) != 1) {
		log_ssl_error("cannot set the TLS policy", NULL);
		goto out;
	}
	/* No compression (CRIME), no client-initiated renegotiation (a cheap
	 * CPU attack), and our order of suites, not the client's. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if ((rc = load_pair(ctx, cert_path, key_path)) != NVR_OK)
		goto out;
	if (compat)
		nvr_log_ex(NVR_LOG_WARNING, NULL, "set [web] tls_compat = no once every client supports AEAD suites",
		    "[web] tls_compat is on: TLS 1.2 clients may use CBC suites");
	*out = ctx;
	ctx = NULL;
out:
	SSL_CTX_free(ctx);
	return rc;
}

/* ---- live replacement ---------------------------------------------------- */

struct web_tls {
	char *cert_path, *key_path;
	bool compat;
	SSL_CTX *base;        /* what civetweb holds */
	pthread_rwlock_t lock; /* protects current */
	SSL_CTX *current;     /* the newest certificate; may be base */
	pthread_mutex_t reload_lock; /* serialises reloads; protects fp */
	char fp[65];          /* SHA-256 of current's certificate (hex) */
};

static void
ctx_fingerprint(SSL_CTX *ctx, char fp[65])
{
	X509 *leaf = SSL_CTX_get0_certificate(ctx);
	uint8_t sha[32];

	fp[0] = '\0';
	if (leaf != NULL && stg_cert_fingerprint(leaf, sha) == NVR_OK)
		nvr_hex_encode(sha, sizeof(sha), fp);
}

/* Every ClientHello: the handshake continues with the current context
 * (SSL_set_SSL_CTX takes its own reference, so a replaced context lives
 * as long as a connection uses it). */
static int
client_hello(SSL *ssl, int *alert, void *arg)
{
	struct web_tls *t = arg;

	(void)alert;
	pthread_rwlock_rdlock(&t->lock);
	if (t->current != t->base)
		SSL_set_SSL_CTX(ssl, t->current);
	pthread_rwlock_unlock(&t->lock);
	return SSL_CLIENT_HELLO_SUCCESS;
}

nvr_err
web_tls_new(const char *cert_path, const char *key_path, bool compat, struct web_tls **out)
{
	struct web_tls *t = calloc(1, sizeof(*t));
	nvr_err rc = NVR_ERR_NOMEM;

	*out = NULL;
	if (t == NULL || (t->cert_path = strdup(cert_path)) == NULL || (t->key_path = strdup(key_path)) == NULL)
		goto fail;
	t->compat = compat;
	pthread_rwlock_init(&t->lock, NULL);
	pthread_mutex_init(&t->reload_lock, NULL);
	if ((rc = web_tls_ensure_cert(cert_path, key_path)) != NVR_OK ||
	    (rc = web_tls_ctx_new(cert_path, key_path, compat, &t->base)) != NVR_OK)
		goto fail;
	SSL_CTX_set_client_hello_cb(t->base, client_hello, t);
	SSL_CTX_up_ref(t->base);
	t->current = t->base;
	ctx_fingerprint(t->base, t->fp);
	*out = t;
	return NVR_OK;
fail:
	web_tls_free(t);
	return rc;
}

void
web_tls_free(struct web_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->current);
	if (t->base != NULL)
		SSL_CTX_free(t->base);
	if (t->cert_path != NULL) {
		pthread_rwlock_destroy(&t->lock);
		pthread_mutex_destroy(&t->reload_lock);
	}
	free(t->cert_path);
	free(t->key_path);
	free(t);
}

SSL_CTX *
web_tls_ctx(struct web_tls *t)
{
	return t->base;
}

/* Under reload_lock: makes next the current context if it holds another
 * certificate than the one in use. */
static bool
swap_current(struct web_tls *t, SSL_CTX *next, const char *nfp)
{
	SSL_CTX *old;

	if (strcmp(nfp, t->fp) == 0) { /* the same certificate: nothing to swap */
		SSL_CTX_free(next);
		return false;
	}
	pthread_rwlock_wrlock(&t->lock);
	old = t->current;
	t->current = next;
	pthread_rwlock_unlock(&t->lock);
	SSL_CTX_free(old);
	snprintf(t->fp, sizeof(t->fp), "%s", nfp);
	return true;
}

nvr_err
web_tls_reload(struct web_tls *t, char fp[65], bool *changed)
{
	SSL_CTX *next = NULL;
	char nfp[65];
	nvr_err rc;

	*changed = false;
	pthread_mutex_lock(&t->reload_lock);
	if ((rc = web_tls_ctx_new(t->cert_path, t->key_path, t->compat, &next)) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "the API keeps its current TLS certificate");
	} else {
		ctx_fingerprint(next, nfp);
		snprintf(fp, 65, "%s", nfp);
		*changed = swap_current(t, next, nfp);
	}
	pthread_mutex_unlock(&t->reload_lock);
	return rc;
}

/* ---- installing a CA-signed certificate ------------------------------------ */

/* The leaf (first PEM certificate of pem) and the number of certificates
 * after it; NVR_ERR_INVAL with *refusal if a block is not one. Caller
 * X509_free()s *leaf. */
static nvr_err
read_chain(const char *pem, size_t len, X509 **leaf, enum web_tls_refusal *refusal)
{
	BIO *b = len > 0 && len <= (size_t)INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
	X509 *x;
	unsigned long e;

	*leaf = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	*refusal = *leaf == NULL ? WEB_TLS_NOT_PEM : 0;
	ERR_clear_error();
	/* As SSL_CTX_use_certificate_chain_file reads the rest: certificates
	 * until the end, which PEM reports as "no start line". */
	while (*leaf != NULL && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		X509_free(x);
	e = ERR_peek_last_error();
	if (*leaf != NULL && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
		*refusal = WEB_TLS_BAD_CHAIN;
	ERR_clear_error();
	BIO_free(b);
	if (*refusal != 0) {
		X509_free(*leaf);
		*leaf = NULL;
		return NVR_ERR_INVAL;
	}
	return NVR_OK;
}

EVP_PKEY *
web_tls_read_key(const char *path)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	ERR_clear_error();
	return k;
}

/* The checks `nvrctl tls install` has always made; the leaf's hash. */
static nvr_err
check_leaf(EVP_PKEY *key, X509 *x, struct web_tls_leaf *leaf, enum web_tls_refusal *refusal)
{
	uint8_t fp[32];
	nvr_err rc = NVR_ERR_INVAL;

	if (X509_check_private_key(x, key) != 1)
		*refusal = WEB_TLS_WRONG_KEY;
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0 || X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		*refusal = WEB_TLS_NOT_VALID_NOW;
	else if ((rc = stg_cert_fingerprint(x, fp)) == NVR_OK)
		nvr_hex_encode(fp, sizeof(fp), leaf->sha256);
	ERR_clear_error();
	return rc;
}

static void
name_text(const X509_NAME *n, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long len = 0;

	out[0] = '\0';
	if (b != NULL && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0 && (len = BIO_get_mem_data(b, &p)) > 0)
		snprintf(out, size, "%.*s", (int)len, p);
	BIO_free(b);
}

/* Writes len bytes to path through a new file beside it and rename. */
static nvr_err
replace_file(const char *path, const char *data, size_t len)
{
	char tmp[4096];
	int fd, saved;
	size_t off = 0;
	ssize_t n;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return NVR_ERR_TOOBIG;
	if ((fd = mkstemp(tmp)) < 0)
		return NVR_ERR_IO;
	while (off < len && ((n = write(fd, data + off, len - off)) > 0 || (n < 0 && errno == EINTR)))
		off += n > 0 ? (size_t)n : 0;
	if (off == len && fchmod(fd, 0644) == 0 && fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		if (rename(tmp, path) == 0)
			return NVR_OK;
	}
	saved = off == len ? errno : ENOSPC; /* a short write: treated as a full disk */
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return NVR_ERR_IO;
}

nvr_err
web_tls_install(const char *cert_path, const char *key_path, const char *pem, size_t len,
    struct web_tls_leaf *leaf, enum web_tls_refusal *refusal)
{
	EVP_PKEY *key = web_tls_read_key(key_path);
	X509 *x = NULL;
	nvr_err rc = NVR_ERR_INVAL;

	memset(leaf, 0, sizeof(*leaf));
	*refusal = 0;
	if (key == NULL) {
		*refusal = WEB_TLS_NO_KEY;
		goto out;
	}
	/* The certificate file is world-readable: never a key in it. */
	if (memmem(pem, len, "PRIVATE KEY", 11) != NULL) {
		*refusal = WEB_TLS_HAS_KEY;
		goto out;
	}
	if ((rc = read_chain(pem, len, &x, refusal)) != NVR_OK || (rc = check_leaf(key, x, leaf, refusal)) != NVR_OK)
		goto out;
	name_text(X509_get_subject_name(x), leaf->subject, sizeof(leaf->subject));
	name_text(X509_get_issuer_name(x), leaf->issuer, sizeof(leaf->issuer));
	rc = replace_file(cert_path, pem, len);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

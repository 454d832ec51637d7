/*
 * tls.h: the API's TLS policy and certificate.
 *
 * TLS 1.2 and 1.3 only. TLS 1.2 with ECDHE key exchange and an AEAD cipher
 * (AES-GCM, ChaCha20-Poly1305) only, as NIST SP 800-52r2 3.3.1 lists them;
 * [web] tls_compat adds ECDHE suites with CBC and SHA-2 for old clients.
 * Never RSA key exchange, SHA-1 MACs, RC4, 3DES or NULL.
 */
#ifndef NVR_WEB_TLS_H
#define NVR_WEB_TLS_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "nvrd/err.h"

/* The TLS 1.2 suites, strongest first (OpenSSL names). */
#define WEB_TLS12_CIPHERS \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define WEB_TLS12_COMPAT_CIPHERS \
	"ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:" \
	"ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256"
#define WEB_TLS13_SUITES "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define WEB_TLS_GROUPS "X25519:P-256:P-384"

/*
 * Makes the certificate and key when neither file exists: a new P-256 key
 * (mode 0600) and a self-signed certificate for this host's name,
 * localhost, 127.0.0.1 and ::1, logged as a warning with its SHA-256
 * fingerprint. Nothing when both exist; an error (logged) when only one
 * does.
 */
nvr_err web_tls_ensure_cert(const char *cert_path, const char *key_path);

/*
 * A server SSL_CTX with the policy above, the certificate chain and the
 * key (checked to match). The caller owns *out (SSL_CTX_free). Failures
 * are logged with OpenSSL's reason.
 */
nvr_err web_tls_ctx_new(const char *cert_path, const char *key_path, bool compat, SSL_CTX **out);

/*
 * The API's TLS: the context civetweb serves with, and the certificate in
 * use, which can be replaced while running. Each new handshake is moved
 * (at its ClientHello) to the current certificate's context, so a new
 * certificate takes effect without restarting the server or dropping a
 * connection; connections already open keep theirs.
 */
struct web_tls;

/* Loads the certificate and key (made at first start). Caller frees with
 * web_tls_free() after civetweb stopped. */
nvr_err web_tls_new(const char *cert_path, const char *key_path, bool compat, struct web_tls **out);
void web_tls_free(struct web_tls *t);
/* The context to give civetweb (owned by t). */
SSL_CTX *web_tls_ctx(struct web_tls *t);
/* Loads the files again; if they hold another certificate, new handshakes
 * use it (*changed). On failure (logged) the certificate in use stays.
 * fp gets the loaded certificate's SHA-256 (hex). Thread-safe: reloads
 * (SIGHUP, the API) are serialised. */
nvr_err web_tls_reload(struct web_tls *t, char fp[65], bool *changed);

/* The private key in PEM file path, or NULL (OpenSSL's error queue
 * cleared). Caller frees with EVP_PKEY_free(). */
EVP_PKEY *web_tls_read_key(const char *path);

/* Why web_tls_install() refused a certificate (NVR_ERR_INVAL). */
enum web_tls_refusal {
	WEB_TLS_NO_KEY = 1,    /* the API's key cannot be read */
	WEB_TLS_NOT_PEM,       /* no PEM certificate */
	WEB_TLS_HAS_KEY,       /* a private key among the certificates */
	WEB_TLS_WRONG_KEY,     /* the certificate is not for the API's key */
	WEB_TLS_NOT_VALID_NOW, /* before its notBefore or after its notAfter */
	WEB_TLS_BAD_CHAIN,     /* a block after the first is not a certificate */
};

/* The leaf of an installed certificate. */
struct web_tls_leaf {
	char sha256[65];  /* of its DER, hex */
	char subject[256]; /* RFC 2253 */
	char issuer[256];
};

/*
 * Installs a CA-signed certificate for the API's key (`nvrctl tls install`,
 * PUT /api/v1/tls/certificate): pem (len bytes, the leaf first, then its
 * chain) must belong to the key in key_path and be valid now; then it
 * replaces cert_path atomically (a new file in the same folder, fsync'd,
 * mode 0644, renamed over it). NVR_ERR_INVAL with *refusal; NVR_ERR_IO
 * (errno set) when the file cannot be written. nvrd uses it for new
 * handshakes after web_tls_reload().
 */
nvr_err web_tls_install(const char *cert_path, const char *key_path, const char *pem, size_t len,
    struct web_tls_leaf *leaf, enum web_tls_refusal *refusal);

#endif

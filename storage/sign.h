/*
 * sign.h: the recorder's signing key, which signs every segment manifest
 * (ECDSA P-256 over SHA-256, DER signatures, so that `openssl dgst -sha256
 * -verify` checks them with nothing of ours), and verification.
 *
 * The key is long-term: this interface is the only code that touches it,
 * so that it can move behind a separate process (or an OpenSSL provider for
 * a TPM or PKCS#11 token) without its callers changing.
 */
#ifndef NVR_STG_SIGN_H
#define NVR_STG_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "nvrd/err.h"

struct stg_signer;

/*
 * Loads the key and its certificate and checks that they belong together.
 * With create, both are made when neither file exists: a new P-256 key
 * (mode 0600) and a self-signed certificate, logged with its fingerprint.
 * Caller frees *out with stg_signer_free(). Failures are logged.
 */
nvr_err stg_signer_load(const char *key_path, const char *cert_path, bool create,
    struct stg_signer **out);
void stg_signer_free(struct stg_signer *s);

/* DER ECDSA signature of SHA-256(data) in a new buffer the caller frees. */
nvr_err stg_signer_sign(const struct stg_signer *s, const void *data, size_t len,
    uint8_t **sig, size_t *siglen);

/* SHA-256 of the certificate's DER: how manifests name their signer. */
const uint8_t *stg_signer_fingerprint(const struct stg_signer *s);

/* The certificate in PEM (owned by s). */
const char *stg_signer_cert_pem(const struct stg_signer *s);

/* Checks a DER ECDSA/SHA-256 signature with a certificate's public key:
 * NVR_OK, or NVR_ERR_CRYPTO when it does not verify. */
nvr_err stg_sig_verify(X509 *cert, const void *data, size_t len, const uint8_t *sig, size_t siglen);

/* SHA-256 of a certificate's DER. */
nvr_err stg_cert_fingerprint(X509 *cert, uint8_t fp[32]);

/* One X.509v3 extension, as X509V3_EXT_conf_nid() spells it. */
struct stg_cert_ext {
	int nid;
	const char *value;
};

/* A new self-signed certificate for key with subject CN=cn, valid from now
 * for days, with the extensions given. Caller X509_free()s; NULL when
 * OpenSSL fails. */
X509 *stg_cert_self_signed(EVP_PKEY *key, const char *cn, long days, const struct stg_cert_ext *ext, size_t n);

/* Writes key (if not NULL) or else cert as PEM into a new file (O_EXCL,
 * mode), fsync'd; a partial file is removed. On NVR_ERR_IO errno says why. */
nvr_err stg_pem_write(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert);

/* Reads a PEM certificate file; caller X509_free()s. */
nvr_err stg_cert_read(const char *path, X509 **out);

#endif

/*
 * sign.c: the recorder's manifest signing key.
 * It must never write the private key anywhere but its own file (0600),
 * nor log anything of it but the certificate's fingerprint.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "nvrd/util.h"
#include "storage/sign.h"

#define CERT_DAYS (20L * 365)

struct stg_signer {
	EVP_PKEY *key;
	X509 *cert;
	uint8_t fp[32];
	char *pem;
};

nvr_err
stg_cert_fingerprint(X509 *cert, uint8_t fp[32])
{
	unsigned int n = 32;

	return X509_digest(cert, EVP_sha256(), fp, &n) == 1 && n == 32 ? NVR_OK : NVR_ERR_CRYPTO;
}

nvr_err
stg_cert_read(const char *path, X509 **out)
{
	FILE *f = fopen(path, "re");

	*out = NULL;
	if (f == NULL)
		return NVR_ERR_IO;
	*out = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return *out ? NVR_OK : NVR_ERR_INVAL;
}

X509 *
stg_cert_self_signed(EVP_PKEY *key, const char *cn, long days, const struct stg_cert_ext *ext, size_t n)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e = NULL;
	uint8_t serial[16];
	BIGNUM *bn = NULL;

	if (x == NULL || name == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f; /* RFC 5280 4.1.2.2: a positive serial */
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_set_version(x, 2) || !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), days * 86400) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, key))
		goto fail;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	for (size_t i = 0; i < n; i++) {
		if ((e = X509V3_EXT_conf_nid(NULL, &ctx, ext[i].nid, ext[i].value)) == NULL || !X509_add_ext(x, e, -1))
			goto fail;
		X509_EXTENSION_free(e);
		e = NULL;
	}
	if (!X509_sign(x, key, EVP_sha256()))
		goto fail;
	X509_NAME_free(name);
	BN_free(bn);
	return x;
fail:
	X509_EXTENSION_free(e);
	X509_NAME_free(name);
	BN_free(bn);
	X509_free(x);
	return NULL;
}

nvr_err
stg_pem_write(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	int ok, saved;

	if (f == NULL) {
		saved = errno;
		if (fd >= 0)
			close(fd);
		errno = saved;
		return NVR_ERR_IO;
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	saved = errno;
	fclose(f);
	if (!ok)
		unlink(path);
	errno = saved;
	return ok ? NVR_OK : NVR_ERR_IO;
}

static nvr_err
create_pair(const char *key_path, const char *cert_path)
{
	static const struct stg_cert_ext ext[] = {
		{ NID_key_usage, "critical,digitalSignature,nonRepudiation" },
	};
	EVP_PKEY *key = EVP_EC_gen("P-256");
	char host[128] = "unknown", cn[200];
	X509 *cert;
	uint8_t fp[32];
	char hex[65];
	nvr_err rc = NVR_ERR_CRYPTO;

	gethostname(host, sizeof(host) - 1);
	snprintf(cn, sizeof(cn), "nvr recorder %s manifest signing", host);
	cert = key ? stg_cert_self_signed(key, cn, CERT_DAYS, ext, NVR_ARRAY_LEN(ext)) : NULL;
	if (cert != NULL && (rc = stg_pem_write(key_path, 0600, key, NULL)) == NVR_OK &&
	    (rc = stg_pem_write(cert_path, 0644, NULL, cert)) != NVR_OK) {
		int saved = errno;
		unlink(key_path);
		errno = saved;
	}
	if (rc == NVR_OK && stg_cert_fingerprint(cert, fp) == NVR_OK) {
		nvr_hex_encode(fp, 32, hex);
		nvr_log_ex(NVR_LOG_WARNING, NULL,
		    "keep a copy of the certificate where investigators can trust it; every manifest is signed by this key",
		    "created a self-signed manifest signing key %s, certificate %s (SHA-256 %s)", key_path,
		    cert_path, hex);
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

static nvr_err
read_pair(const char *key_path, const char *cert_path, struct stg_signer *s)
{
	FILE *f = fopen(key_path, "re");
	struct stat st;

	if (f == NULL) {
		nvr_log(NVR_LOG_ERROR, "cannot read the signing key %s: %s", key_path, strerror(errno));
		return NVR_ERR_IO;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		nvr_log_ex(NVR_LOG_WARNING, NULL, "chmod 600 it", "the signing key %s is readable by group or others", key_path);
	s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (s->key == NULL || !EVP_PKEY_is_a(s->key, "EC")) {
		nvr_log(NVR_LOG_ERROR, "the signing key %s is not an EC private key in PEM", key_path);
		return NVR_ERR_CONFIG;
	}
	if (stg_cert_read(cert_path, &s->cert) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "cannot read the signing certificate %s", cert_path);
		return NVR_ERR_CONFIG;
	}
	if (X509_check_private_key(s->cert, s->key) != 1) {
		nvr_log(NVR_LOG_ERROR, "the signing certificate %s does not match the key %s", cert_path, key_path);
		return NVR_ERR_CONFIG;
	}
	return NVR_OK;
}

static nvr_err
cert_to_pem(X509 *cert, char **out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;

	*out = NULL;
	if (b == NULL || !PEM_write_bio_X509(b, cert) || (n = BIO_get_mem_data(b, &data)) <= 0 ||
	    (*out = strndup(data, (size_t)n)) == NULL) {
		BIO_free(b);
		return NVR_ERR_NOMEM;
	}
	BIO_free(b);
	return NVR_OK;
}

nvr_err
stg_signer_load(const char *key_path, const char *cert_path, bool create, struct stg_signer **out)
{
	struct stg_signer *s = calloc(1, sizeof(*s));
	nvr_err rc;

	*out = NULL;
	if (s == NULL)
		return NVR_ERR_NOMEM;
	if (create && access(key_path, F_OK) != 0 && access(cert_path, F_OK) != 0 &&
	    (rc = create_pair(key_path, cert_path)) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "cannot create the signing key %s: %s", key_path,
		    rc == NVR_ERR_IO ? strerror(errno) : nvr_err_str(rc));
		goto out;
	}
	if ((rc = read_pair(key_path, cert_path, s)) != NVR_OK || (rc = stg_cert_fingerprint(s->cert, s->fp)) != NVR_OK ||
	    (rc = cert_to_pem(s->cert, &s->pem)) != NVR_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	stg_signer_free(s);
	return rc;
}

void
stg_signer_free(struct stg_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	free(s->pem);
	free(s);
}

nvr_err
stg_signer_sign(const struct stg_signer *s, const void *data, size_t len, uint8_t **sig, size_t *siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	nvr_err rc = NVR_ERR_CRYPTO;
	size_t n = 0;

	*sig = NULL;
	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->key) != 1 ||
	    EVP_DigestSign(md, NULL, &n, data, len) != 1)
		goto out;
	if ((*sig = malloc(n)) == NULL) {
		rc = NVR_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSign(md, *sig, &n, data, len) != 1) {
		free(*sig);
		*sig = NULL;
		goto out;
	}
	*siglen = n;
	rc = NVR_OK;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

const uint8_t *
stg_signer_fingerprint(const struct stg_signer *s)
{
	return s->fp;
}

const char *
stg_signer_cert_pem(const struct stg_signer *s)
{
	return s->pem;
}

nvr_err
stg_sig_verify(X509 *cert, const void *data, size_t len, const uint8_t *sig, size_t siglen)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	nvr_err rc = NVR_ERR_CRYPTO;

	if (pub != NULL && md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(md, sig, siglen, data, len) == 1)
		rc = NVR_OK;
	EVP_MD_CTX_free(md);
	return rc;
}

/*
 * secret.c: the recorder-local secret and AES-256-GCM at rest with it.
 * It must never log the key or a plaintext, and wipes both after use.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "nvrd/log.h"
#include "storage/secret.h"

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define BOX_VERSION 1
#define MAX_PLAIN 4096

struct stg_secret {
	uint8_t key[KEY_LEN];
};

static nvr_err
create_secret(const char *path)
{
	uint8_t key[KEY_LEN];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), saved;
	nvr_err rc = NVR_OK;

	if (fd < 0)
		return NVR_ERR_IO;
	if (RAND_bytes(key, sizeof(key)) != 1)
		rc = NVR_ERR_CRYPTO;
	else if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) || fsync(fd) != 0)
		rc = NVR_ERR_IO;
	OPENSSL_cleanse(key, sizeof(key));
	saved = errno;
	close(fd);
	if (rc != NVR_OK)
		unlink(path);
	errno = saved; /* for the caller's message */
	if (rc == NVR_OK)
		nvr_log(NVR_LOG_NOTICE, "created the recorder secret %s", path);
	return rc;
}

static nvr_err
read_secret(const char *path, struct stg_secret *s)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	nvr_err rc = NVR_OK;

	if (fd < 0) {
		nvr_log_ex(NVR_LOG_ERROR, strerror(errno), "it is made at first start; check [nvrd] secret_file",
		    "cannot read the recorder secret %s", path);
		return NVR_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
		nvr_log_ex(NVR_LOG_ERROR, NULL, "chmod 600 it, owned by the nvrd user",
		    "the recorder secret %s is readable by group or others; refusing it", path);
		rc = NVR_ERR_CONFIG;
	} else if (st.st_size != KEY_LEN || read(fd, s->key, KEY_LEN) != KEY_LEN) {
		nvr_log(NVR_LOG_ERROR, "the recorder secret %s is not %d bytes; refusing it", path, KEY_LEN);
		rc = NVR_ERR_CONFIG;
	}
	close(fd);
	return rc;
}

nvr_err
stg_secret_load(const char *path, bool create, struct stg_secret **out)
{
	struct stg_secret *s;
	nvr_err rc;

	*out = NULL;
	if (create && access(path, F_OK) != 0 && errno == ENOENT && (rc = create_secret(path)) != NVR_OK) {
		nvr_log_ex(NVR_LOG_ERROR, rc == NVR_ERR_IO ? strerror(errno) : nvr_err_str(rc),
		    "check [nvrd] secret_file and that its folder exists and is writable by nvrd",
		    "cannot create the recorder secret %s", path);
		return rc;
	}
	/* The secure heap when the process set one up, else OPENSSL_zalloc. */
	if ((s = OPENSSL_secure_zalloc(sizeof(*s))) == NULL)
		return NVR_ERR_NOMEM;
	if ((rc = read_secret(path, s)) != NVR_OK) {
		stg_secret_free(s);
		return rc;
	}
	*out = s;
	return NVR_OK;
}

void
stg_secret_free(struct stg_secret *s)
{
	if (s == NULL)
		return;
	OPENSSL_secure_clear_free(s, sizeof(*s));
}

/* AES-256-GCM; tag is written when encrypting and read when decrypting. */
static nvr_err
run_gcm(int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aadlen,
    const uint8_t *in, size_t len, uint8_t tag[TAG_LEN], uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;
	nvr_err rc = NVR_ERR_CRYPTO;

	if (c == NULL || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) != 1 ||
	    (aadlen > 0 && EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) != 1) ||
	    EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &fin) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
		goto out;
	rc = NVR_OK;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

nvr_err
stg_secret_seal(const struct stg_secret *s, const uint8_t *aad, size_t aadlen, const uint8_t *in,
    size_t len, uint8_t **out, size_t *outlen)
{
	size_t total = 1 + NONCE_LEN + len + TAG_LEN;
	uint8_t *b;
	nvr_err rc;

	*out = NULL;
	if (len > MAX_PLAIN)
		return NVR_ERR_TOOBIG;
	if ((b = malloc(total)) == NULL)
		return NVR_ERR_NOMEM;
	b[0] = BOX_VERSION;
	if (RAND_bytes(b + 1, NONCE_LEN) != 1) {
		free(b);
		return NVR_ERR_CRYPTO;
	}
	rc = run_gcm(1, s->key, b + 1, aad, aadlen, in, len, b + 1 + NONCE_LEN + len, b + 1 + NONCE_LEN);
	if (rc != NVR_OK) {
		free(b);
		return rc;
	}
	*out = b;
	*outlen = total;
	return NVR_OK;
}

nvr_err
stg_secret_open(const struct stg_secret *s, const uint8_t *aad, size_t aadlen, const uint8_t *in,
    size_t len, uint8_t **out, size_t *outlen)
{
	uint8_t tag[TAG_LEN];
	size_t plen;
	uint8_t *p;
	nvr_err rc;

	*out = NULL;
	if (len < 1 + NONCE_LEN + TAG_LEN || in[0] != BOX_VERSION || len > 1 + NONCE_LEN + TAG_LEN + MAX_PLAIN)
		return NVR_ERR_INVAL;
	plen = len - 1 - NONCE_LEN - TAG_LEN;
	if ((p = malloc(plen + 1)) == NULL)
		return NVR_ERR_NOMEM;
	memcpy(tag, in + len - TAG_LEN, TAG_LEN);
	rc = run_gcm(0, s->key, in + 1, aad, aadlen, in + 1 + NONCE_LEN, plen, tag, p);
	if (rc != NVR_OK) {
		OPENSSL_cleanse(p, plen + 1);
		free(p);
		return rc;
	}
	p[plen] = '\0';
	*out = p;
	*outlen = plen;
	return NVR_OK;
}

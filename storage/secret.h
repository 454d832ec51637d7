/*
 * secret.h: the recorder-local secret, a 32-byte key in a file only the
 * nvrd user can read, and what it protects at rest in the database:
 * camera passwords (AES-256-GCM; docs/FORMAT.md "sealed with the recorder
 * secret"). Losing the file means re-entering the camera passwords, nothing
 * more: recordings are never encrypted with it.
 */
#ifndef NVR_STG_SECRET_H
#define NVR_STG_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

struct stg_secret;

/*
 * Reads the secret at path; with create, makes it (mode 0600, from the
 * DRBG, fsync'd) when the file does not exist. Refuses a file of the wrong
 * size or readable by group or others. On NVR_OK the caller owns *out and
 * frees it with stg_secret_free(). Failures are logged.
 */
nvr_err stg_secret_load(const char *path, bool create, struct stg_secret **out);

/* Wipes the key and frees. NULL is allowed. */
void stg_secret_free(struct stg_secret *s);

/* Encrypts len bytes bound to aad (e.g. the camera id); *out is a new
 * buffer (version byte || nonce || ciphertext || tag) the caller frees. */
nvr_err stg_secret_seal(const struct stg_secret *s, const uint8_t *aad, size_t aadlen,
    const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);

/* Decrypts what stg_secret_seal() made with the same aad into a new
 * NUL-terminated buffer the caller wipes (OPENSSL_cleanse) and frees.
 * NVR_ERR_CRYPTO when the key, aad or bytes do not match. */
nvr_err stg_secret_open(const struct stg_secret *s, const uint8_t *aad, size_t aadlen,
    const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);

#endif

/*
 * seal.h: session keys sealed to key holders' public keys.
 *
 * For each SRTP master key (master key || master salt) and each key holder:
 * an ephemeral P-256 key, ECDH with the holder's public key, HKDF-SHA256
 * (salt = the 16 bytes of the key id, info = "nvr-seal-v1") to a 32-byte
 * key, AES-256-GCM with a random 12-byte nonce and the key id as associated
 * data. The same construction runs in the browser (WebCrypto); the bytes
 * are in docs/FORMAT.md with a test vector.
 *
 * The recorder only ever seals: it holds no private key that could open
 * what it sealed. stg_unseal() is for key holders' tools and tests.
 */
#ifndef NVR_STG_SEAL_H
#define NVR_STG_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "nvrd/err.h"
#include "nvrd/uuid.h"

#define STG_SEAL_ALG "ECDH-P256+HKDF-SHA256+A256GCM"
#define STG_SEAL_INFO "nvr-seal-v1"
#define STG_SEAL_MAX_SECRET 64 /* bytes: an AES-256 master key and salt is 46 */

/*
 * Seals secret (len <= STG_SEAL_MAX_SECRET) for the holder whose public key
 * is pub. On NVR_OK, *out is a new JSON object (caller json_decref()s):
 *   {"alg", "key_holder", "fingerprint", "epk", "nonce", "ciphertext"}
 * The secret is not kept; the caller still owns and wipes it.
 */
nvr_err stg_seal(const nvr_uuid *key_id, const nvr_uuid *holder, EVP_PKEY *pub,
    const uint8_t *secret, size_t len, json_t **out);

/* As stg_seal() with a given ephemeral private key and nonce: for test
 * vectors only, never with fixed values in production. */
nvr_err stg_seal_with(const nvr_uuid *key_id, const nvr_uuid *holder, EVP_PKEY *pub,
    EVP_PKEY *ephemeral, const uint8_t nonce[12], const uint8_t *secret, size_t len,
    json_t **out);

/* Opens a sealed object with the holder's private key into out (room for
 * STG_SEAL_MAX_SECRET bytes); *len is set. NVR_ERR_CRYPTO when the key is
 * wrong or anything was altered. The caller wipes out. */
nvr_err stg_unseal(const nvr_uuid *key_id, EVP_PKEY *priv, const json_t *sealed,
    uint8_t *out, size_t *len);

/* SHA-256 of the DER SubjectPublicKeyInfo: how key holders are named. */
nvr_err stg_seal_fingerprint(EVP_PKEY *pub, uint8_t fp[32]);

/* Reads a PEM P-256 public key; refuses any other curve or type. Caller
 * frees with EVP_PKEY_free(). */
nvr_err stg_seal_read_public(const char *pem, size_t len, EVP_PKEY **out);

#endif

/*
 * seal.c: ECDH P-256 + HKDF-SHA256 + AES-256-GCM sealing of session keys.
 * It must never keep, log or return a session key or a derived key: every
 * one is wiped with OPENSSL_cleanse before its buffer is released.
 */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "nvrd/encode.h"
#include "storage/seal.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define POINT_LEN 65 /* uncompressed P-256 point: 0x04 || X || Y */

nvr_err
stg_seal_fingerprint(EVP_PKEY *pub, uint8_t fp[32])
{
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int n = i2d_PUBKEY(pub, &der);
	nvr_err rc = NVR_OK;

	if (n <= 0)
		return NVR_ERR_CRYPTO;
	if (!EVP_Digest(der, (size_t)n, fp, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		rc = NVR_ERR_CRYPTO;
	OPENSSL_free(der);
	return rc;
}

static bool
is_p256(EVP_PKEY *k)
{
	char group[32];

	return EVP_PKEY_is_a(k, "EC") &&
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) &&
	    strcmp(group, "prime256v1") == 0;
}

nvr_err
stg_seal_read_public(const char *pem, size_t len, EVP_PKEY **out)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = NULL;

	*out = NULL;
	if (b == NULL || len > 16384)
		goto out;
	k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	if (k != NULL && !is_p256(k)) {
		EVP_PKEY_free(k);
		k = NULL;
	}
out:
	BIO_free(b);
	*out = k;
	return k ? NVR_OK : NVR_ERR_INVAL;
}

/* The 32-byte x coordinate of priv * pub (SEC 1 ECDH, as WebCrypto's
 * deriveBits returns it). */
static nvr_err
ecdh(EVP_PKEY *priv, EVP_PKEY *pub, uint8_t z[32])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	size_t zlen = 32;
	nvr_err rc = NVR_ERR_CRYPTO;

	if (ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, pub) == 1 &&
	    EVP_PKEY_derive(ctx, z, &zlen) == 1 && zlen == 32)
		rc = NVR_OK;
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* HKDF-SHA256(ikm = z, salt = key id, info = "nvr-seal-v1") -> 32 bytes.
 * OSSL_PARAMs take non-const pointers: they get local copies. */
static nvr_err
hkdf(uint8_t z[32], const nvr_uuid *key_id, uint8_t key[32])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	char digest[] = "SHA256", info[] = STG_SEAL_INFO;
	uint8_t salt[16];
	OSSL_PARAM p[5];
	nvr_err rc = NVR_ERR_CRYPTO;

	memcpy(salt, key_id->b, sizeof(salt));
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, 32);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt));
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, strlen(info));
	p[4] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_KDF_derive(ctx, key, 32, p) == 1)
		rc = NVR_OK;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* AES-256-GCM with the key id as associated data; out gets len + 16 bytes
 * (ciphertext || tag, as WebCrypto lays it out). */
static nvr_err
gcm(int enc, const uint8_t key[32], const uint8_t nonce[NONCE_LEN], const nvr_uuid *aad,
    const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t tag[TAG_LEN];
	int n = 0, fin = 0;
	nvr_err rc = NVR_ERR_CRYPTO;

	if (c == NULL || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, aad->b, 16) != 1 ||
	    EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc)
		memcpy(tag, in + len, TAG_LEN);
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &fin) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + len) != 1)
		goto out;
	rc = NVR_OK;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* Adds a base64 string member to o; NVR_ERR_NOMEM on failure. */
static nvr_err
set_b64(json_t *o, const char *key, const uint8_t *data, size_t len)
{
	char *s = nvr_b64_encode(data, len);
	int r = s ? json_object_set_new(o, key, json_string(s)) : -1;

	free(s);
	return r == 0 ? NVR_OK : NVR_ERR_NOMEM;
}

static json_t *
seal_json(const nvr_uuid *holder, const uint8_t fp[32], const uint8_t epk[POINT_LEN],
    const uint8_t nonce[NONCE_LEN], const uint8_t *ct, size_t ctlen)
{
	char id[NVR_UUID_STRLEN], fphex[65];
	json_t *o = json_object();

	nvr_uuid_format(holder, id);
	nvr_hex_encode(fp, 32, fphex);
	if (o == NULL || json_object_set_new(o, "alg", json_string(STG_SEAL_ALG)) != 0 ||
	    json_object_set_new(o, "key_holder", json_string(id)) != 0 ||
	    json_object_set_new(o, "fingerprint", json_string(fphex)) != 0 ||
	    set_b64(o, "epk", epk, POINT_LEN) != NVR_OK || set_b64(o, "nonce", nonce, NONCE_LEN) != NVR_OK ||
	    set_b64(o, "ciphertext", ct, ctlen) != NVR_OK) {
		json_decref(o);
		return NULL;
	}
	return o;
}

nvr_err
stg_seal_with(const nvr_uuid *key_id, const nvr_uuid *holder, EVP_PKEY *pub, EVP_PKEY *eph,
    const uint8_t nonce[12], const uint8_t *secret, size_t len, json_t **out)
{
	uint8_t z[32], key[32], fp[32], epk[POINT_LEN], ct[STG_SEAL_MAX_SECRET + TAG_LEN];
	size_t epklen = 0;
	nvr_err rc;

	*out = NULL;
	if (len == 0 || len > STG_SEAL_MAX_SECRET || !is_p256(pub) || !is_p256(eph))
		return NVR_ERR_INVAL;
	if (EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, epk, sizeof(epk),
		&epklen) != 1 || epklen != POINT_LEN)
		return NVR_ERR_CRYPTO;
	if ((rc = stg_seal_fingerprint(pub, fp)) != NVR_OK || (rc = ecdh(eph, pub, z)) != NVR_OK ||
	    (rc = hkdf(z, key_id, key)) != NVR_OK || (rc = gcm(1, key, nonce, key_id, secret, len, ct)) != NVR_OK)
		goto out;
	if ((*out = seal_json(holder, fp, epk, nonce, ct, len + TAG_LEN)) == NULL)
		rc = NVR_ERR_NOMEM;
out:
	OPENSSL_cleanse(z, sizeof(z));
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

nvr_err
stg_seal(const nvr_uuid *key_id, const nvr_uuid *holder, EVP_PKEY *pub, const uint8_t *secret,
    size_t len, json_t **out)
{
	EVP_PKEY *eph = EVP_EC_gen("P-256");
	uint8_t nonce[NONCE_LEN];
	nvr_err rc = NVR_ERR_CRYPTO;

	*out = NULL;
	if (eph != NULL && RAND_bytes(nonce, sizeof(nonce)) == 1)
		rc = stg_seal_with(key_id, holder, pub, eph, nonce, secret, len, out);
	EVP_PKEY_free(eph);
	return rc;
}

/* Decodes a base64 member of exactly want bytes (0: any up to max). */
static nvr_err
get_b64(const json_t *o, const char *key, size_t want, size_t max, uint8_t **out, size_t *len)
{
	const char *s = json_string_value(json_object_get(o, key));
	nvr_err rc;

	if (s == NULL)
		return NVR_ERR_INVAL;
	if ((rc = nvr_b64_decode(s, max, out, len)) != NVR_OK)
		return rc;
	if (want != 0 && *len != want) {
		free(*out);
		*out = NULL;
		return NVR_ERR_INVAL;
	}
	return NVR_OK;
}

static EVP_PKEY *
point_to_pkey(uint8_t *point, size_t len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	char group[] = "prime256v1";
	EVP_PKEY *k = NULL;
	OSSL_PARAM p[3];

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, len);
	p[2] = OSSL_PARAM_construct_end();
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, p) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	return k;
}

nvr_err
stg_unseal(const nvr_uuid *key_id, EVP_PKEY *priv, const json_t *sealed, uint8_t *out, size_t *len)
{
	uint8_t *epk = NULL, *nonce = NULL, *ct = NULL, z[32], key[32];
	size_t epklen, noncelen, ctlen = 0;
	EVP_PKEY *eph = NULL;
	nvr_err rc;

	if (!json_is_string(json_object_get(sealed, "alg")) ||
	    strcmp(json_string_value(json_object_get(sealed, "alg")), STG_SEAL_ALG) != 0)
		return NVR_ERR_INVAL;
	if ((rc = get_b64(sealed, "epk", POINT_LEN, POINT_LEN, &epk, &epklen)) != NVR_OK ||
	    (rc = get_b64(sealed, "nonce", NONCE_LEN, NONCE_LEN, &nonce, &noncelen)) != NVR_OK ||
	    (rc = get_b64(sealed, "ciphertext", 0, STG_SEAL_MAX_SECRET + TAG_LEN, &ct, &ctlen)) != NVR_OK)
		goto out;
	rc = NVR_ERR_CRYPTO;
	if (ctlen <= TAG_LEN || (eph = point_to_pkey(epk, epklen)) == NULL)
		goto out;
	if ((rc = ecdh(priv, eph, z)) != NVR_OK || (rc = hkdf(z, key_id, key)) != NVR_OK ||
	    (rc = gcm(0, key, nonce, key_id, ct, ctlen - TAG_LEN, out)) != NVR_OK)
		goto out;
	*len = ctlen - TAG_LEN;
out:
	OPENSSL_cleanse(z, sizeof(z));
	OPENSSL_cleanse(key, sizeof(key));
	EVP_PKEY_free(eph);
	free(epk);
	free(nonce);
	free(ct);
	return rc;
}

/*
 * check_crypto.c: sealing session keys to key holders (with the fixed test
 * vector of docs/FORMAT.md), the recorder secret, and manifest signing.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "nvrd/encode.h"
#include "storage/seal.h"
#include "storage/secret.h"
#include "storage/sign.h"
#include "tests/harness/files.h"
#include "tests/harness/run.h"

/* The docs/FORMAT.md test vector: a key holder, an ephemeral key, a key
 * id, a nonce and a 30-byte SRTP master key || salt. */
static const char holder_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9yQNanW1lgZZFrzV\n"
    "TjYvtULFdGLceVHCYsivp7WPahmhRANCAATFUUPaZjfeEO4h31vd0UezRaxUATvh\n"
    "f2iO/SA2TP1Lxpix2SRaavHWNrjmOQrcCVd+ctBg2p2saV5+f7bKjRNM\n"
    "-----END PRIVATE KEY-----\n";
static const char ephemeral_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgI4Jwu+mtH+o9irhy\n"
    "znymGPhbbdfp1GYTd+pU8n7tw3OhRANCAAS2mc7yIxGnOk02fsSXPrw03t2TX64A\n"
    "M/T6bTlzXQzP0lVCUXgRa5cZtYbYH2DoqY0BxrIew+eYgpUq6o9VZHuR\n"
    "-----END PRIVATE KEY-----\n";
#define VECTOR_KEY_ID "6f1c1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5"
#define VECTOR_HOLDER_ID "0a0b0c0d-0e0f-4011-8213-141516171819"
#define VECTOR_NONCE "000102030405060708090a0b"
#define VECTOR_SECRET "e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6"
#define VECTOR_EPK "BLaZzvIjEac6TTZ+xJc+vDTe3ZNfrgAz9PptOXNdDM/SVUJReBFrlxm1htgfYOipjQHGsh7D55iClSrqj1Vke5E="
#define VECTOR_CIPHERTEXT "s30FCOu+I32Zt5AMcbSC6RejyxLPYP+kMSjiwur4rkms+rQ7aXW7b2DuM/KYqw=="

static EVP_PKEY *
pem_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);

	BIO_free(b);
	ck_assert_ptr_nonnull(k);
	return k;
}

START_TEST(seal_vector)
{
	EVP_PKEY *holder = pem_key(holder_pem), *eph = pem_key(ephemeral_pem);
	nvr_uuid kid, hid;
	uint8_t nonce[12], secret[30], opened[STG_SEAL_MAX_SECRET];
	size_t len = 0;
	json_t *o = NULL;

	ck_assert_int_eq(nvr_uuid_parse(VECTOR_KEY_ID, &kid), NVR_OK);
	ck_assert_int_eq(nvr_uuid_parse(VECTOR_HOLDER_ID, &hid), NVR_OK);
	ck_assert_int_eq(nvr_hex_decode(VECTOR_NONCE, nonce, 12), NVR_OK);
	ck_assert_int_eq(nvr_hex_decode(VECTOR_SECRET, secret, 30), NVR_OK);
	ck_assert_int_eq(stg_seal_with(&kid, &hid, holder, eph, nonce, secret, 30, &o), NVR_OK);
	ck_assert_str_eq(json_string_value(json_object_get(o, "alg")), STG_SEAL_ALG);
	ck_assert_str_eq(json_string_value(json_object_get(o, "key_holder")), VECTOR_HOLDER_ID);
	ck_assert_str_eq(json_string_value(json_object_get(o, "epk")), VECTOR_EPK);
	ck_assert_str_eq(json_string_value(json_object_get(o, "nonce")), "AAECAwQFBgcICQoL");
	ck_assert_str_eq(json_string_value(json_object_get(o, "ciphertext")), VECTOR_CIPHERTEXT);
	ck_assert_int_eq(stg_unseal(&kid, holder, o, opened, &len), NVR_OK);
	ck_assert_uint_eq(len, 30);
	ck_assert_mem_eq(opened, secret, 30);
	json_decref(o);
	EVP_PKEY_free(holder);
	EVP_PKEY_free(eph);
}
END_TEST

START_TEST(seal_round_trip_and_tamper)
{
	EVP_PKEY *holder = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	uint8_t secret[46], opened[STG_SEAL_MAX_SECRET];
	nvr_uuid kid, kid2, hid;
	size_t len = 0;
	json_t *o = NULL, *o2 = NULL;
	char *ct;

	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 3);
	nvr_uuid_new(&kid);
	nvr_uuid_new(&kid2);
	nvr_uuid_new(&hid);
	ck_assert_int_eq(stg_seal(&kid, &hid, holder, secret, sizeof(secret), &o), NVR_OK);
	ck_assert_int_eq(stg_seal(&kid, &hid, holder, secret, sizeof(secret), &o2), NVR_OK);
	/* fresh ephemeral key and nonce each time */
	ck_assert_str_ne(json_string_value(json_object_get(o, "epk")), json_string_value(json_object_get(o2, "epk")));
	ck_assert_int_eq(stg_unseal(&kid, holder, o, opened, &len), NVR_OK);
	ck_assert_mem_eq(opened, secret, sizeof(secret));
	/* another holder, or the same ciphertext presented under another key id */
	ck_assert_int_eq(stg_unseal(&kid, other, o, opened, &len), NVR_ERR_CRYPTO);
	ck_assert_int_eq(stg_unseal(&kid2, holder, o, opened, &len), NVR_ERR_CRYPTO);
	/* a changed ciphertext */
	ct = strdup(json_string_value(json_object_get(o, "ciphertext")));
	ct[3] = ct[3] == 'A' ? 'B' : 'A';
	json_object_set_new(o, "ciphertext", json_string(ct));
	ck_assert_int_eq(stg_unseal(&kid, holder, o, opened, &len), NVR_ERR_CRYPTO);
	free(ct);
	/* too long a secret */
	json_decref(o2);
	ck_assert_int_eq(stg_seal(&kid, &hid, holder, secret, STG_SEAL_MAX_SECRET + 1, &o2), NVR_ERR_INVAL);
	json_decref(o);
	EVP_PKEY_free(holder);
	EVP_PKEY_free(other);
}
END_TEST

START_TEST(public_keys)
{
	static const char pub[] =
	    "-----BEGIN PUBLIC KEY-----\n"
	    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExVFD2mY33hDuId9b3dFHs0WsVAE7\n"
	    "4X9ojv0gNkz9S8aYsdkkWmrx1ja45jkK3AlXfnLQYNqdrGlefn+2yo0TTA==\n"
	    "-----END PUBLIC KEY-----\n";
	EVP_PKEY *k = NULL, *rsa = EVP_RSA_gen(2048);
	uint8_t fp[32];
	char hex[65], *pem = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	long n;

	ck_assert_int_eq(stg_seal_read_public(pub, strlen(pub), &k), NVR_OK);
	ck_assert_int_eq(stg_seal_fingerprint(k, fp), NVR_OK);
	nvr_hex_encode(fp, 32, hex);
	ck_assert_uint_eq(strlen(hex), 64);
	EVP_PKEY_free(k);
	ck_assert_int_eq(stg_seal_read_public("garbage", 7, &k), NVR_ERR_INVAL);
	/* RSA is refused: the construction is P-256 only */
	PEM_write_bio_PUBKEY(b, rsa);
	n = BIO_get_mem_data(b, &pem);
	ck_assert_int_eq(stg_seal_read_public(pem, (size_t)n, &k), NVR_ERR_INVAL);
	BIO_free(b);
	EVP_PKEY_free(rsa);
}
END_TEST

static char dir[64];

static void
mkdir_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/nvr-check-crypto.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
mkdir_teardown(void)
{
	harness_rm_rf(dir);
}

START_TEST(recorder_secret)
{
	struct stg_secret *s = NULL, *s2 = NULL;
	char path[128];
	uint8_t aad[] = "camera-id", *box = NULL, *plain = NULL;
	size_t boxlen, plen;
	struct stat st;

	snprintf(path, sizeof(path), "%s/secret.key", dir);
	ck_assert_int_eq(stg_secret_load(path, false, &s), NVR_ERR_IO);
	ck_assert_int_eq(stg_secret_load(path, true, &s), NVR_OK);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stg_secret_seal(s, aad, 9, (const uint8_t *)"Cam-Pass-42!", 12, &box, &boxlen), NVR_OK);
	ck_assert_ptr_null(memmem(box, boxlen, "Cam-Pass", 8));
	/* the same file read again opens it */
	ck_assert_int_eq(stg_secret_load(path, true, &s2), NVR_OK);
	ck_assert_int_eq(stg_secret_open(s2, aad, 9, box, boxlen, &plain, &plen), NVR_OK);
	ck_assert_str_eq((char *)plain, "Cam-Pass-42!");
	free(plain);
	/* other associated data (another camera) or a flipped byte fail */
	ck_assert_int_eq(stg_secret_open(s2, (const uint8_t *)"other", 5, box, boxlen, &plain, &plen), NVR_ERR_CRYPTO);
	box[boxlen - 1] ^= 1;
	ck_assert_int_eq(stg_secret_open(s2, aad, 9, box, boxlen, &plain, &plen), NVR_ERR_CRYPTO);
	free(box);
	stg_secret_free(s);
	stg_secret_free(s2);
	/* a secret readable by others is refused */
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(stg_secret_load(path, true, &s), NVR_ERR_CONFIG);
}
END_TEST

START_TEST(signing)
{
	struct stg_signer *sg = NULL;
	char key[128], crt[128], other[128];
	uint8_t *sig = NULL, fp[32];
	size_t siglen;
	X509 *cert = NULL;
	const char msg[] = "{\"format\":\"nvr-manifest-1\"}";
	struct stat st;

	snprintf(key, sizeof(key), "%s/signing.key", dir);
	snprintf(crt, sizeof(crt), "%s/signing.crt", dir);
	ck_assert_int_eq(stg_signer_load(key, crt, false, &sg), NVR_ERR_IO);
	ck_assert_int_eq(stg_signer_load(key, crt, true, &sg), NVR_OK);
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stg_signer_sign(sg, msg, strlen(msg), &sig, &siglen), NVR_OK);
	ck_assert_int_eq(stg_cert_read(crt, &cert), NVR_OK);
	ck_assert_int_eq(stg_cert_fingerprint(cert, fp), NVR_OK);
	ck_assert_mem_eq(fp, stg_signer_fingerprint(sg), 32);
	ck_assert_int_eq(stg_sig_verify(cert, msg, strlen(msg), sig, siglen), NVR_OK);
	ck_assert_int_eq(stg_sig_verify(cert, msg, strlen(msg) - 1, sig, siglen), NVR_ERR_CRYPTO);
	sig[siglen - 1] ^= 1;
	ck_assert_int_eq(stg_sig_verify(cert, msg, strlen(msg), sig, siglen), NVR_ERR_CRYPTO);
	free(sig);
	stg_signer_free(sg);
	/* a certificate from another key is refused */
	snprintf(other, sizeof(other), "%s/other.key", dir);
	snprintf(key, sizeof(key), "%s/o.crt", dir);
	ck_assert_int_eq(stg_signer_load(other, key, true, &sg), NVR_OK);
	stg_signer_free(sg);
	snprintf(key, sizeof(key), "%s/signing.key", dir);
	snprintf(other, sizeof(other), "%s/o.crt", dir);
	ck_assert_int_eq(stg_signer_load(key, other, false, &sg), NVR_ERR_CONFIG);
	X509_free(cert);
}
END_TEST

START_TEST(uuids_and_encodings)
{
	nvr_uuid a, b;
	char s[NVR_UUID_STRLEN];
	uint8_t *d = NULL;
	size_t n;
	char *e;

	ck_assert_int_eq(nvr_uuid_new(&a), NVR_OK);
	nvr_uuid_format(&a, s);
	ck_assert_int_eq(s[14], '4');
	ck_assert_int_eq(nvr_uuid_parse(s, &b), NVR_OK);
	ck_assert_mem_eq(a.b, b.b, 16);
	ck_assert_int_eq(nvr_uuid_parse("6f1c1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f", &b), NVR_ERR_INVAL);
	ck_assert_int_eq(nvr_uuid_parse("6f1c1d2e+3a4b-4c5d-8e9f-a0b1c2d3e4f5", &b), NVR_ERR_INVAL);
	e = nvr_b64_encode((const uint8_t *)"nvr", 3);
	ck_assert_str_eq(e, "bnZy");
	free(e);
	ck_assert_int_eq(nvr_b64_decode("bnZyMQ==", 16, &d, &n), NVR_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(d, "nvr1", 4);
	free(d);
	ck_assert_int_eq(nvr_b64_decode("bnZy!Q==", 16, &d, &n), NVR_ERR_INVAL);
	ck_assert_int_eq(nvr_b64_decode("bnZyMQ=", 16, &d, &n), NVR_ERR_INVAL);
	ck_assert_int_eq(nvr_b64_decode("bnZyMQ==", 3, &d, &n), NVR_ERR_TOOBIG);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc = tcase_create("seal");
	TCase *tf = tcase_create("files");

	tcase_add_test(tc, seal_vector);
	tcase_add_test(tc, seal_round_trip_and_tamper);
	tcase_add_test(tc, public_keys);
	tcase_add_test(tc, uuids_and_encodings);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tf, mkdir_setup, mkdir_teardown);
	tcase_add_test(tf, recorder_secret);
	tcase_add_test(tf, signing);
	suite_add_tcase(s, tf);
	return harness_run(s);
}

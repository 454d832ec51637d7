/*
 * password.c: user name and password rules, scrypt password hashes (RFC
 * 7914, through OpenSSL's EVP_KDF "SCRYPT") and HTTP Digest HA1 values
 * (RFC 7616 3.4.2). It must never put a password in a message, and wipes
 * derived keys and its own copies of a password after use.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "nvrd/encode.h"
#include "web/password.h"

/* New hashes: N = 2^15, r = 8, p = 1, which is 32 MiB and well under a
 * second per login, with a 16-byte salt and a 32-byte key. */
#define SCRYPT_N 32768
#define SCRYPT_R 8
#define SCRYPT_P 1
#define SALT_LEN 16
#define KEY_LEN 32

/* Bounds on a stored hash. They leave room to raise the cost later while
 * keeping a tampered row from making us allocate gigabytes or spin. The
 * key is always KEY_LEN bytes: scrypt's output for a shorter length is a
 * prefix of the longer one, so a truncated key would still match. */
#define STORED_N_MAX (1u << 20)
#define STORED_R_MAX 32
#define STORED_P_MAX 16
#define STORED_MEM_MAX ((uint64_t)256 << 20)
#define STORED_WORK_MAX ((uint64_t)1 << 22) /* N r p: 16 times ours */
#define STORED_SALT_MIN 8
#define STORED_SALT_MAX 64

#define PREFIX "scrypt$"

#define MSG_LENGTH "the password must be 8 to 32 characters long"
#define MSG_CLASSES                                                                        \
	"the password needs at least three of: upper-case letters, lower-case letters, "   \
	"digits, symbols"
#define MSG_USER "the password must not contain the user name"

struct scrypt_params {
	uint64_t n;
	uint32_t r, p;
};

/* C0 controls and DEL; C1 controls (U+0080 to U+009F) are C2 80 to C2 9F. */
static bool
is_control(const unsigned char *s, size_t len)
{
	return (len == 1 && (s[0] < 0x20 || s[0] == 0x7f)) ||
	    (len == 2 && s[0] == 0xc2 && s[1] <= 0x9f);
}

const char *
web_user_name_problem(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t len;

	if (name == NULL || name[0] == '\0' || strlen(name) > WEB_USER_MAX)
		return "the user name must be 1 to 32 bytes long";
	/* Names reach JSON, PostgreSQL and the audit log: they must be UTF-8. */
	for (; *s != '\0'; s += len) {
		if ((len = nvr_utf8_len(s)) == 0)
			return "the user name must be valid UTF-8";
		if (is_control(s, len))
			return "the user name must not contain control characters";
		if (len == 1 && strchr("\"&;`", *s) != NULL)
			return "the user name must not contain \", &, ; or `";
		/* RFC 7617 2: Basic cannot carry a user name with a colon. */
		if (len == 1 && *s == ':')
			return "the user name must not contain a colon";
	}
	return NULL;
}

/* The number of characters in s, a well-formed UTF-8 sequence counting as
 * one and any other byte as one; stops counting past max. */
static size_t
count_chars(const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0, len;

	for (; *u != '\0' && n <= max; u += len, n++) {
		if ((len = nvr_utf8_len(u)) == 0)
			len = 1;
	}
	return n;
}

/* How many of upper case, lower case, digits and symbols s uses. Any byte
 * that is not an ASCII letter or digit, non-ASCII included, is a symbol. */
static int
count_classes(const char *s)
{
	bool upper = false, lower = false, digit = false, symbol = false;

	for (; *s != '\0'; s++) {
		if (*s >= 'A' && *s <= 'Z')
			upper = true;
		else if (*s >= 'a' && *s <= 'z')
			lower = true;
		else if (*s >= '0' && *s <= '9')
			digit = true;
		else
			symbol = true;
	}
	return (int)upper + (int)lower + (int)digit + (int)symbol;
}

static int
ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Whether hay contains needle, ASCII letters compared without case. Not
 * strcasestr: that one follows the locale. */
static bool
contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++) {
		size_t i = 0;

		while (i < n && hay[i] != '\0' &&
		    ascii_lower((unsigned char)hay[i]) == ascii_lower((unsigned char)needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return false;
}

const char *
web_password_problem(const char *user, const char *password)
{
	size_t chars;

	if (password == NULL)
		return MSG_LENGTH;
	chars = count_chars(password, WEB_PASSWORD_MAX);
	if (chars < WEB_PASSWORD_MIN || chars > WEB_PASSWORD_MAX)
		return MSG_LENGTH;
	if (count_classes(password) < 3)
		return MSG_CLASSES;
	/* an empty name is in every password: there is nothing to compare */
	if (user != NULL && user[0] != '\0' && contains_nocase(password, user))
		return MSG_USER;
	return NULL;
}

/* Runs the scrypt KDF with params into key[keylen]. */
static nvr_err
run_scrypt(const OSSL_PARAM *params, uint8_t *key, size_t keylen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	nvr_err rc = NVR_ERR_CRYPTO;

	if (ctx != NULL && EVP_KDF_derive(ctx, key, keylen, params) == 1)
		rc = NVR_OK;
	/* OpenSSL clears its own copy of the password here. */
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* scrypt of password into key[keylen]. OSSL_PARAMs take non-const
 * pointers, so they get copies; the password's is wiped after use. The
 * memory limit is what OpenSSL will ask for (128 r (N + 2) + 128 r p
 * bytes): its default of 1 GiB would hide our own bound. */
static nvr_err
scrypt_derive(const char *password, const uint8_t *salt, size_t saltlen,
    const struct scrypt_params *sp, uint8_t *key, size_t keylen)
{
	uint64_t n = sp->n, maxmem = 128 * (uint64_t)sp->r * (sp->n + 2 + sp->p);
	uint32_t r = sp->r, p = sp->p;
	size_t pwlen = strlen(password);
	uint8_t s[STORED_SALT_MAX];
	OSSL_PARAM params[7];
	char *pw;
	nvr_err rc;

	if (saltlen > sizeof(s))
		return NVR_ERR_INVAL;
	if ((pw = OPENSSL_malloc(pwlen + 1)) == NULL)
		return NVR_ERR_NOMEM;
	memcpy(pw, password, pwlen + 1);
	memcpy(s, salt, saltlen);
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, pw, pwlen);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, s, saltlen);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	params[6] = OSSL_PARAM_construct_end();
	rc = run_scrypt(params, key, keylen);
	OPENSSL_clear_free(pw, pwlen + 1);
	return rc;
}

nvr_err
web_password_hash(const char *password, char out[WEB_PASSWORD_HASH_MAX])
{
	const struct scrypt_params sp = { SCRYPT_N, SCRYPT_R, SCRYPT_P };
	uint8_t salt[SALT_LEN], key[KEY_LEN];
	char *salt64 = NULL, *key64 = NULL;
	nvr_err rc;
	int n;

	out[0] = '\0';
	if (password == NULL)
		return NVR_ERR_INVAL;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return NVR_ERR_CRYPTO;
	if ((rc = scrypt_derive(password, salt, sizeof(salt), &sp, key, sizeof(key))) != NVR_OK)
		goto out;
	if ((salt64 = nvr_b64_encode(salt, sizeof(salt))) == NULL ||
	    (key64 = nvr_b64_encode(key, sizeof(key))) == NULL) {
		rc = NVR_ERR_NOMEM;
		goto out;
	}
	n = snprintf(out, WEB_PASSWORD_HASH_MAX, PREFIX "%d$%d$%d$%s$%s", SCRYPT_N, SCRYPT_R,
	    SCRYPT_P, salt64, key64);
	if (n < 0 || n >= WEB_PASSWORD_HASH_MAX) {
		out[0] = '\0';
		rc = NVR_ERR_INTERNAL;
	}
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(salt64);
	free(key64);
	return rc;
}

/* A stored hash, taken apart. */
struct stored {
	struct scrypt_params sp;
	uint8_t *salt, *key;
	size_t saltlen, keylen;
};

/* A decimal number at *s from 1 to max, without sign or leading zero and
 * followed by '$'; *s then points past the '$'. */
static bool
parse_num(const char **s, uint64_t max, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (*p < '1' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if ((v = v * 10 + (uint64_t)(*p - '0')) > max)
			return false;
	}
	if (*p != '$')
		return false;
	*s = p + 1;
	*out = v;
	return true;
}

#define B64_MAX ((size_t)4 * ((STORED_SALT_MAX + 2) / 3))

/* The len bytes of base64 at s, decoding to min to max bytes, into a new
 * buffer the caller frees. */
static bool
parse_b64(const char *s, size_t len, size_t min, size_t max, uint8_t **out, size_t *outlen)
{
	char text[B64_MAX + 1], *again = NULL;
	bool ok = false;

	*out = NULL;
	if (len == 0 || len > B64_MAX)
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	if (nvr_b64_decode(text, max, out, outlen) != NVR_OK || *outlen < min)
		goto out;
	/* EVP_DecodeBlock lets some odd spellings through (blanks, spare
	 * bits set): take only the one we write. */
	again = nvr_b64_encode(*out, *outlen);
	ok = again != NULL && strcmp(again, text) == 0;
out:
	free(again);
	if (!ok) {
		free(*out);
		*out = NULL;
	}
	return ok;
}

/* "scrypt$N$r$p$<salt>$<key>" within our bounds into st; st->salt and
 * st->key, when set, are the caller's to free. */
static bool
parse_stored(const char *stored, struct stored *st)
{
	const char *p = stored, *dollar;
	uint64_t n, r, pp;

	if (strlen(stored) >= WEB_PASSWORD_HASH_MAX || strncmp(p, PREFIX, strlen(PREFIX)) != 0)
		return false;
	p += strlen(PREFIX);
	if (!parse_num(&p, STORED_N_MAX, &n) || n < 2 || (n & (n - 1)) != 0 ||
	    !parse_num(&p, STORED_R_MAX, &r) || !parse_num(&p, STORED_P_MAX, &pp))
		return false;
	if (128 * r * (n + 2 + pp) > STORED_MEM_MAX || n * r * pp > STORED_WORK_MAX)
		return false;
	st->sp.n = n;
	st->sp.r = (uint32_t)r;
	st->sp.p = (uint32_t)pp;
	if ((dollar = strchr(p, '$')) == NULL)
		return false;
	return parse_b64(p, (size_t)(dollar - p), STORED_SALT_MIN, STORED_SALT_MAX, &st->salt,
	           &st->saltlen) &&
	    parse_b64(dollar + 1, strlen(dollar + 1), KEY_LEN, KEY_LEN, &st->key, &st->keylen);
}

bool
web_password_verify(const char *password, const char *stored)
{
	struct stored st = { 0 };
	uint8_t key[KEY_LEN];
	bool ok = false;

	if (password == NULL || stored == NULL || !parse_stored(stored, &st))
		goto out;
	/* parse_stored took only keys of KEY_LEN bytes */
	if (scrypt_derive(password, st.salt, st.saltlen, &st.sp, key, sizeof(key)) != NVR_OK)
		goto out;
	ok = CRYPTO_memcmp(key, st.key, sizeof(key)) == 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(st.salt);
	free(st.key);
	return ok;
}

/* The hex of digest md over len bytes of text into hex. */
static nvr_err
digest_hex(const EVP_MD *md, const char *text, size_t len, char *hex)
{
	uint8_t out[EVP_MAX_MD_SIZE];
	unsigned outlen = 0;
	nvr_err rc = NVR_ERR_CRYPTO;

	if (EVP_Digest(text, len, out, &outlen, md, NULL) == 1) {
		nvr_hex_encode(out, outlen, hex);
		rc = NVR_OK;
	}
	OPENSSL_cleanse(out, sizeof(out));
	return rc;
}

nvr_err
web_digest_ha1(const char *user, const char *realm, const char *password, char md5_hex[33],
    char sha256_hex[65])
{
	size_t len;
	char *text;
	nvr_err rc;

	md5_hex[0] = sha256_hex[0] = '\0';
	if (user == NULL || realm == NULL || password == NULL)
		return NVR_ERR_INVAL;
	/* RFC 7616 3.4.2: A1 = unq(username) ":" unq(realm) ":" passwd */
	len = strlen(user) + strlen(realm) + strlen(password) + 2;
	if ((text = OPENSSL_malloc(len + 1)) == NULL)
		return NVR_ERR_NOMEM;
	snprintf(text, len + 1, "%s:%s:%s", user, realm, password);
	if ((rc = digest_hex(EVP_md5(), text, len, md5_hex)) != NVR_OK ||
	    (rc = digest_hex(EVP_sha256(), text, len, sha256_hex)) != NVR_OK)
		md5_hex[0] = sha256_hex[0] = '\0';
	OPENSSL_clear_free(text, len + 1);
	return rc;
}

/*
 * password.h: the rules for user names and passwords, and how passwords
 * are kept: scrypt (OpenSSL's EVP_KDF "SCRYPT") for session logins, and
 * the two HTTP Digest HA1 values (MD5 and SHA-256, RFC 7616), which the
 * caller seals under the recorder-local secret.
 */
#ifndef NVR_WEB_PASSWORD_H
#define NVR_WEB_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "nvrd/err.h"

#define WEB_USER_MAX 32
#define WEB_PASSWORD_MIN 8
#define WEB_PASSWORD_MAX 32
#define WEB_PASSWORD_HASH_MAX 160 /* bytes of a stored hash, with its NUL */

/* NULL if name is a valid user name (1 to 32 bytes of well-formed UTF-8,
 * none of " & ; ` or a control character, C0, DEL or C1), else a static
 * sentence saying which rule it breaks. */
const char *web_user_name_problem(const char *name);

/* NULL if password is acceptable for user, else a static sentence naming
 * the first rule broken (never quoting the password): 8 to 32 characters,
 * a UTF-8 sequence counting as one character and any other byte as one; at
 * least three of upper case, lower case, digits and symbols (anything not
 * an ASCII letter or digit, non-ASCII included, is a symbol); must not
 * contain the user name (ASCII letters compared without regard to case;
 * no check when user is NULL or empty). */
const char *web_password_problem(const char *user, const char *password);

/* Hashes password with scrypt (N = 32768, r = 8, p = 1) under a fresh
 * 16-byte random salt into out ("scrypt$N$r$p$<salt b64>$<hash b64>",
 * base64 with padding, a 32-byte hash, NUL-terminated). */
nvr_err web_password_hash(const char *password, char out[WEB_PASSWORD_HASH_MAX]);

/* Whether password matches a stored hash; the comparison is constant-time.
 * A malformed stored hash (or parameters over our bounds: N a power of two
 * from 2 to 2^20, r 1 to 32, p 1 to 16, at most 256 MiB and 16 times our
 * own cost, a salt of 8 to 64 bytes, a hash of exactly 32) never matches. */
bool web_password_verify(const char *password, const char *stored);

/* The Digest HA1 values, lower-case hex, NUL-terminated:
 * MD5(user:realm:password) and SHA-256(user:realm:password). */
nvr_err web_digest_ha1(const char *user, const char *realm, const char *password,
    char md5_hex[33], char sha256_hex[65]);

#endif

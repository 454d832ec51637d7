/*
 * digest.h: HTTP Digest authentication as a server (RFC 7616): SHA-256 and
 * MD5, qop=auth only, nonces that expire, and nonce counts that must grow
 * (a replayed request is refused).
 *
 * Why not civetweb's own Digest: it reads a password file, knows MD5 only,
 * and does not refuse a replayed nonce count. Here HA1 comes from the
 * database (sealed), and each nonce's highest count is remembered.
 *
 * A nonce is hex(time || random || HMAC-SHA256(server key, time || random)
 * truncated): the server checks its own nonces without storing them; only
 * nonces in use take a slot in the nonce-count table.
 */
#ifndef NVR_WEB_DIGEST_H
#define NVR_WEB_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

#define WEB_DIGEST_FIELD_MAX 256  /* bytes of a parameter, with its NUL */
#define WEB_DIGEST_URI_MAX 2048   /* bytes of the uri parameter */
#define WEB_DIGEST_HEADER_MAX 4096
#define WEB_DIGEST_CHALLENGE_MAX 320
#define WEB_DIGEST_NONCE_SLOTS 65536 /* nonces whose counts are tracked at once */

enum web_digest_alg { WEB_DIGEST_MD5, WEB_DIGEST_SHA256 };

/* The parameters of an Authorization: Digest header. */
struct web_digest_creds {
	enum web_digest_alg alg;
	char username[WEB_DIGEST_FIELD_MAX];
	char realm[WEB_DIGEST_FIELD_MAX];
	char nonce[WEB_DIGEST_FIELD_MAX];
	char uri[WEB_DIGEST_URI_MAX];
	char response[WEB_DIGEST_FIELD_MAX];
	char cnonce[WEB_DIGEST_FIELD_MAX];
	char qop[WEB_DIGEST_FIELD_MAX];
	char nc_text[9]; /* as sent: the response hashes these 8 digits */
	bool auth_int;   /* qop=auth-int: the response covers the body */
	uint32_t nc;
};

enum web_digest_result {
	WEB_DIGEST_OK,
	WEB_DIGEST_WRONG,  /* bad response (or an unknown user: the caller passes a dummy HA1) */
	WEB_DIGEST_STALE,  /* our nonce, expired: the client retries with a new one */
	WEB_DIGEST_REPLAY, /* a nonce count already used */
	WEB_DIGEST_FOREIGN /* not a nonce we made, or for another realm or request */
};

struct web_digest;

/* Makes a server key from the DRBG. Caller frees with web_digest_free(). */
nvr_err web_digest_new(int64_t nonce_lifetime_ms, struct web_digest **out);
void web_digest_free(struct web_digest *d);

/* The WWW-Authenticate value for alg with a fresh nonce. */
void web_digest_challenge(struct web_digest *d, const char *realm, enum web_digest_alg alg, bool stale,
    char out[WEB_DIGEST_CHALLENGE_MAX]);

/*
 * Parses the value of an Authorization header that starts with "Digest".
 * Every field is bounded; a missing field, a duplicate, userhash=true, a
 * qop other than auth or auth-int, an nc that is not 8 hex digits, or an unknown
 * algorithm is refused with why (static text). Unknown parameters are
 * ignored (RFC 7616 3.4).
 */
nvr_err web_digest_parse(const char *value, struct web_digest_creds *c, const char **why);

/*
 * Checks parsed credentials for a request: our nonce and not expired, the
 * realm ours, the uri the request's (path and query, as sent), the
 * response right for ha1_hex (of c->alg), and the nonce count higher than
 * any seen with this nonce. Thread-safe.
 */
enum web_digest_result web_digest_check(struct web_digest *d, const struct web_digest_creds *c,
    const char *realm, const char *method, const char *request_uri, const char *ha1_hex);

/* As web_digest_check(), for qop=auth-int: body (len bytes) is the
 * request's entity body, hashed into the response (RFC 7616 3.4.3). */
enum web_digest_result web_digest_check_body(struct web_digest *d, const struct web_digest_creds *c,
    const char *realm, const char *method, const char *request_uri, const char *ha1_hex, const char *body,
    size_t len);

#endif

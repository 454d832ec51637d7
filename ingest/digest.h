/*
 * digest.h: HTTP/RTSP authentication as a client: Digest (RFC 7616, SHA-256
 * and MD5, with or without qop=auth, the -sess variants; RFC 2069 style
 * when a camera sends no qop, as gst-rtsp-server does) and, only when a
 * camera's entry allows it, Basic.
 *
 * The challenge parser reads server input: every field is bounded and a
 * malformed header is refused with a reason.
 */
#ifndef NVR_ING_DIGEST_H
#define NVR_ING_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

#define ING_DIGEST_MAX_FIELD 256

enum ing_auth_scheme { ING_AUTH_NONE, ING_AUTH_BASIC, ING_AUTH_DIGEST };
enum ing_digest_alg { ING_DIGEST_MD5, ING_DIGEST_SHA256, ING_DIGEST_MD5_SESS, ING_DIGEST_SHA256_SESS };

struct ing_auth_challenge {
	enum ing_auth_scheme scheme;
	enum ing_digest_alg alg;
	char realm[ING_DIGEST_MAX_FIELD];
	char nonce[ING_DIGEST_MAX_FIELD];
	char opaque[ING_DIGEST_MAX_FIELD];
	bool has_opaque;
	bool qop_auth; /* the server offered qop=auth */
	bool stale;    /* the nonce expired: retry, the password was right */
};

/*
 * Parses the values of every WWW-Authenticate header of a 401 and keeps the
 * strongest challenge we accept: Digest SHA-256, then Digest MD5, then
 * Basic only if allow_basic. NVR_ERR_INVAL with why when nothing usable
 * was offered (e.g. Basic only, not allowed) or a header is malformed.
 */
nvr_err ing_auth_parse(const char *const *values, size_t n, bool allow_basic,
    struct ing_auth_challenge *best, const char **why);

/*
 * Writes an Authorization header value for method and uri into out.
 * nc counts requests made with this nonce (from 1); cnonce is the client
 * nonce for qop and -sess (ignored otherwise). NVR_ERR_TOOBIG if out is
 * too small. The password is not kept.
 */
nvr_err ing_auth_header(const struct ing_auth_challenge *c, const char *user, const char *password,
    const char *method, const char *uri, uint32_t nc, const char *cnonce, char *out, size_t size);

const char *ing_digest_alg_name(enum ing_digest_alg alg);

#endif

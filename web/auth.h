/*
 * auth.h: who is calling. Console sessions (a cookie and a CSRF token),
 * HTTP Digest for REST clients, Basic only when [web] allow_basic is on;
 * lock-outs per user name and per client address; every failure audited.
 * Replies never tell whether a user name exists.
 */
#ifndef NVR_WEB_AUTH_H
#define NVR_WEB_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"
#include "storage/secret.h"
#include "web/api.h"

#define WEB_CSRF_HEADER "X-CSRF-Token"

/*
 * Authenticates r: on success fills r->user and r->via_session and
 * returns 0. Otherwise the reply (401 with Digest challenges, or 403 for a
 * missing CSRF token) has been sent, the failure audited, and its status
 * is returned.
 */
int web_auth_request(struct web_req *r);

/*
 * Session login (POST /api/v1/session): checks name and password (scrypt)
 * under the same lock-out and audit as Digest, then makes a session.
 * token_hex gets the cookie value, csrf_hex the CSRF token.
 * NVR_ERR_INVAL: wrong name or password, or locked out (reply not sent).
 */
nvr_err web_auth_login(struct web_req *r, const char *name, const char *password, char token_hex[65],
    char csrf_hex[65], int64_t *expires_unix);

/* Revokes the caller's session (DELETE /api/v1/session). */
nvr_err web_auth_logout(struct web_req *r);

/* The HA1 values of a password, sealed for users.ha1_sealed under the
 * recorder secret and bound to the user id. *out is the caller's. */
nvr_err web_auth_seal_ha1(const struct stg_secret *s, const nvr_uuid *user, const char *name, const char *realm,
    const char *password, uint8_t **out, size_t *outlen);

#endif

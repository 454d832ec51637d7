/*
 * auth.c: authentication of API requests.
 * It must never log or audit a password, an HA1, a session token or a
 * CSRF token; only user names, addresses and reasons.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "nvrd/util.h"
#include "storage/db.h"
#include "web/auth.h"
#include "web/digest.h"
#include "web/http.h"
#include "web/password.h"
#include "web/server_priv.h"
#include "web/sesscache.h"

#define TOUCH_SECONDS "30"
#define HA1_SEALED_LEN (32 + 1 + 64) /* "md5hex:sha256hex" */
#define USER_COLUMNS "u.id, u.name, u.role, u.all_cameras, u.key_holder_id, u.ha1_sealed, u.password_hash"

/* What authentication needs of a user row; secrets wiped after use. */
struct user_row {
	struct web_user u;
	uint8_t *ha1_sealed;
	size_t ha1_sealed_len;
	char password_hash[WEB_PASSWORD_HASH_MAX];
};

/* Lock-outs run on the monotonic clock: setting the wall clock back must
 * not lift one, nor setting it forward start one early. */
static int64_t
now_ms(void)
{
	return nvr_monotonic_ms();
}

static void
row_clear(struct user_row *row)
{
	PQfreemem(row->ha1_sealed);
	OPENSSL_cleanse(row->password_hash, sizeof(row->password_hash));
	memset(row, 0, sizeof(*row));
}

/* Fills row from result row 0 (columns USER_COLUMNS). */
static nvr_err
row_read(PGresult *res, struct user_row *row)
{
	memset(row, 0, sizeof(*row));
	if (nvr_uuid_parse(PQgetvalue(res, 0, 0), &row->u.id) != NVR_OK)
		return NVR_ERR_DB;
	snprintf(row->u.name, sizeof(row->u.name), "%s", PQgetvalue(res, 0, 1));
	row->u.role = web_role_parse(PQgetvalue(res, 0, 2));
	row->u.all_cameras = PQgetvalue(res, 0, 3)[0] == 't';
	row->u.has_key_holder = !PQgetisnull(res, 0, 4) && nvr_uuid_parse(PQgetvalue(res, 0, 4), &row->u.key_holder) == NVR_OK;
	row->ha1_sealed = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 5), &row->ha1_sealed_len);
	snprintf(row->password_hash, sizeof(row->password_hash), "%s", PQgetvalue(res, 0, 6));
	return row->ha1_sealed != NULL && row->u.role != 0 ? NVR_OK : NVR_ERR_DB;
}

/* An enabled user by name: NVR_OK, NVR_ERR_INVAL if there is none. */
static nvr_err
user_by_name(PGconn *db, const char *name, struct user_row *row)
{
	const char *p[1] = { name };
	PGresult *res;
	nvr_err rc;

	memset(row, 0, sizeof(*row));
	res = PQexecParams(db,
	    "SELECT " USER_COLUMNS " FROM users u WHERE u.name = $1 AND u.removed_at IS NULL AND NOT u.disabled", 1,
	    NULL, p, NULL, NULL, 0);
	if ((rc = stg_db_check(db, res, PGRES_TUPLES_OK, "looking up an API user")) != NVR_OK)
		return rc;
	rc = PQntuples(res) == 1 ? row_read(res, row) : NVR_ERR_INVAL;
	PQclear(res);
	return rc;
}

/* ---- HA1 ---------------------------------------------------------------- */

static void
ha1_aad(const nvr_uuid *user, uint8_t aad[24])
{
	/* Not a camera password sealed under the same secret. */
	static const uint8_t purpose[8] = { 'n', 'v', 'r', '-', 'h', 'a', '1', ':' };

	memcpy(aad, purpose, sizeof(purpose));
	memcpy(aad + 8, user->b, 16);
}

nvr_err
web_auth_seal_ha1(const struct stg_secret *s, const nvr_uuid *user, const char *name, const char *realm,
    const char *password, uint8_t **out, size_t *outlen)
{
	char md5[33], sha[65], plain[HA1_SEALED_LEN + 1];
	uint8_t aad[24];
	nvr_err rc;

	if ((rc = web_digest_ha1(name, realm, password, md5, sha)) == NVR_OK) {
		snprintf(plain, sizeof(plain), "%s:%s", md5, sha);
		ha1_aad(user, aad);
		rc = stg_secret_seal(s, aad, sizeof(aad), (const uint8_t *)plain, HA1_SEALED_LEN, out, outlen);
	}
	OPENSSL_cleanse(md5, sizeof(md5));
	OPENSSL_cleanse(sha, sizeof(sha));
	OPENSSL_cleanse(plain, sizeof(plain));
	return rc;
}

/* The user's HA1 for alg into out (65 bytes). */
static nvr_err
ha1_open(const struct stg_secret *s, const struct user_row *row, enum web_digest_alg alg, char out[65])
{
	uint8_t aad[24], *plain = NULL;
	size_t len = 0;
	nvr_err rc;

	ha1_aad(&row->u.id, aad);
	rc = stg_secret_open(s, aad, sizeof(aad), row->ha1_sealed, row->ha1_sealed_len, &plain, &len);
	if (rc == NVR_OK && (len != HA1_SEALED_LEN || plain[32] != ':'))
		rc = NVR_ERR_CRYPTO;
	if (rc == NVR_OK && alg == WEB_DIGEST_MD5)
		snprintf(out, 65, "%.32s", (const char *)plain);
	else if (rc == NVR_OK)
		snprintf(out, 65, "%.64s", (const char *)plain + 33);
	if (plain != NULL) {
		OPENSSL_cleanse(plain, len);
		free(plain);
	}
	return rc;
}

/* ---- replies ------------------------------------------------------------ */

/* 401 with both Digest challenges (SHA-256 preferred: RFC 7616 3.7). */
static int
challenge(struct web_req *r, bool stale, const char *code, const char *msg)
{
	char sha[WEB_DIGEST_CHALLENGE_MAX], md5[WEB_DIGEST_CHALLENGE_MAX], extra[2 * WEB_DIGEST_CHALLENGE_MAX + 64];
	const char *realm = r->srv->cfg->web_realm;

	web_digest_challenge(r->srv->digest, realm, WEB_DIGEST_SHA256, stale, sha);
	web_digest_challenge(r->srv->digest, realm, WEB_DIGEST_MD5, stale, md5);
	snprintf(extra, sizeof(extra), "WWW-Authenticate: %s\r\nWWW-Authenticate: %s\r\n", sha, md5);
	return web_reply_error(r->conn, 401, code, extra, "%s", msg);
}

static void
audit_failure(struct web_req *r, const char *user, const char *reason)
{
	json_t *d = json_pack("{s:s,s:s}", "reason", reason, "method", r->ri->request_method);
	char *text = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
	struct web_audit_event ev = {
		.actor = user != NULL && user[0] != '\0' ? user : "-",
		.address = r->addr,
		.action = "auth.failure",
		.object = r->path,
		.outcome = WEB_AUDIT_DENIED,
		.detail = text,
	};

	/* A client can fail as often as it likes: a flood is summarised. */
	web_audit_record_limited(r->srv->audit, &ev, WEB_AUDIT_FLOOD_FULL);
	atomic_fetch_add_explicit(&r->srv->auth_failures, 1, memory_order_relaxed);
	free(text);
	json_decref(d);
}

/* A lock-out starting (its own action, so that counting failures counts
 * attempts only). */
static void
audit_lockout(struct web_req *r, const char *user, const char *what)
{
	char detail[96];
	struct web_audit_event ev = {
		.actor = user != NULL && user[0] != '\0' ? user : "-",
		.address = r->addr,
		.action = "auth.lockout",
		.object = "",
		.outcome = WEB_AUDIT_DENIED,
		.detail = detail,
	};

	snprintf(detail, sizeof(detail), "{\"locked\":\"%s\",\"reason\":\"%s locked out\"}", what, what);
	web_audit_record_limited(r->srv->audit, &ev, WEB_AUDIT_FLOOD_FULL);
}

/* The lock-out keys of a user name and of the client address. An IPv6
 * client is counted by its /64: one host usually holds the whole prefix,
 * and could otherwise take a fresh address for every guess. */
static void
lock_keys(const struct web_req *r, const char *user, char ukey[WEB_LOCKOUT_KEY_MAX], char akey[WEB_LOCKOUT_KEY_MAX])
{
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];

	snprintf(ukey, WEB_LOCKOUT_KEY_MAX, "user:%s", user);
	if (strchr(r->addr, ':') != NULL && inet_pton(AF_INET6, r->addr, &a6) == 1) {
		memset(a6.s6_addr + 8, 0, 8);
		inet_ntop(AF_INET6, &a6, text, sizeof(text));
		snprintf(akey, WEB_LOCKOUT_KEY_MAX, "addr:%s/64", text);
	} else {
		snprintf(akey, WEB_LOCKOUT_KEY_MAX, "addr:%s", r->addr);
	}
}

/* Failures one address may make across all user names before it is
 * locked: more than one user's worth (an office behind one NAT), few
 * enough that spraying guesses over many names stays slow. */
static int
addr_limit(const struct web_req *r)
{
	return (int)r->srv->cfg->web_lockout_failures * WEB_LOCKOUT_ADDR_FACTOR;
}

/* Why a login may not be tried now, or NULL. Untracked keys (the table
 * full of live counts) are refused too: nothing is tried uncounted. */
static const char *
locked(struct web_req *r, const char *user)
{
	char ukey[WEB_LOCKOUT_KEY_MAX], akey[WEB_LOCKOUT_KEY_MAX];
	int64_t now = now_ms(), u, a;

	lock_keys(r, user, ukey, akey);
	a = web_lockout_remaining(r->srv->lockout, akey, now);
	u = web_lockout_remaining(r->srv->lockout, ukey, now);
	if (a > 0)
		return "address locked out";
	if (u > 0)
		return "user locked out";
	if (a == WEB_LOCKOUT_FULL || u == WEB_LOCKOUT_FULL)
		return "lock-out table full: login refused";
	return NULL;
}

/* Counts a failed login for the user name and the address (also while
 * locked: each further failure doubles the lock); audits it. */
static void
failed(struct web_req *r, const char *user, const char *reason, bool was_locked)
{
	char ukey[WEB_LOCKOUT_KEY_MAX], akey[WEB_LOCKOUT_KEY_MAX];
	int64_t now = now_ms();
	enum web_lockout_result lu, la;

	lock_keys(r, user, ukey, akey);
	lu = web_lockout_fail(r->srv->lockout, ukey, (int)r->srv->cfg->web_lockout_failures, now);
	la = web_lockout_fail(r->srv->lockout, akey, addr_limit(r), now);
	audit_failure(r, user, reason);
	if ((lu == WEB_LOCKOUT_LOCKED || la == WEB_LOCKOUT_LOCKED) && !was_locked) {
		nvr_log(NVR_LOG_WARNING, "API: %s locked out after repeated login failures (from %s)",
		    lu == WEB_LOCKOUT_LOCKED ? "a user name" : "a client address", r->addr);
		audit_lockout(r, user, lu == WEB_LOCKOUT_LOCKED ? "user" : "address");
	}
	if (lu == WEB_LOCKOUT_UNTRACKED || la == WEB_LOCKOUT_UNTRACKED)
		atomic_fetch_add_explicit(&r->srv->lockout_untracked, 1, memory_order_relaxed);
}

/* A right password clears the user name's count. Not the address's: a
 * client with one valid account could otherwise log in between guesses
 * at other names and never reach the address limit. */
static void
succeeded(struct web_req *r, const char *user)
{
	char ukey[WEB_LOCKOUT_KEY_MAX], akey[WEB_LOCKOUT_KEY_MAX];

	lock_keys(r, user, ukey, akey);
	web_lockout_clear(r->srv->lockout, ukey);
}

static void
audit_success(struct web_req *r, const char *how)
{
	char detail[64];
	struct web_audit_event ev = {
		.actor = r->user.name,
		.address = r->addr,
		.action = "auth.login",
		.object = "",
		.outcome = WEB_AUDIT_OK,
		.detail = detail,
	};

	snprintf(detail, sizeof(detail), "{\"method\":\"%s\"}", how);
	web_audit_record(r->srv->audit, &ev);
}

/* ---- Digest and Basic --------------------------------------------------- */

/* Whether the Digest uri names this request (RFC 7616 3.4.6): the
 * request target as sent, path and query (civetweb's decode_url is off,
 * so request_uri is the path as sent). */
static bool
uri_matches(const struct mg_request_info *ri, const char *uri)
{
	const char *q = strchr(uri, '?');
	size_t plen = q != NULL ? (size_t)(q - uri) : strlen(uri);

	if (ri->request_uri == NULL || strlen(ri->request_uri) != plen || strncmp(uri, ri->request_uri, plen) != 0)
		return false;
	if (q == NULL)
		return ri->query_string == NULL || ri->query_string[0] == '\0';
	return ri->query_string != NULL && strcmp(q + 1, ri->query_string) == 0;
}

static int
auth_digest(struct web_req *r, const char *value)
{
	struct web_digest_creds c;
	struct user_row row;
	char ha1[65];
	const char *why = NULL, *body = ""; /* qop=auth: no body in the hash */
	size_t body_len = 0;
	enum web_digest_result res;
	bool known;

	if (web_digest_parse(value, &c, &why) != NVR_OK) {
		audit_failure(r, NULL, why);
		return challenge(r, false, "unauthorized", why);
	}
	if ((why = locked(r, c.username)) != NULL) {
		failed(r, c.username, why, true);
		return challenge(r, false, "unauthorized", "wrong user name or password");
	}
	if (nvr_text_problem(c.username) != NULL) {
		/* Counted and audited like a wrong name; never sent to PostgreSQL. */
		failed(r, c.username, "user name not valid UTF-8 or has a control character", false);
		return challenge(r, false, "unauthorized", "the user name is not valid UTF-8 text");
	}
	if (user_by_name(r->db, c.username, &row) == NVR_ERR_DB)
		return web_reply_db_error(r->conn);
	known = row.u.role != 0;
	/* An unknown user is checked against a random HA1: same work, same answer. */
	if (!known || ha1_open(r->srv->secret, &row, c.alg, ha1) != NVR_OK) {
		uint8_t rnd[32];
		RAND_bytes(rnd, sizeof(rnd));
		nvr_hex_encode(rnd, c.alg == WEB_DIGEST_MD5 ? 16 : 32, ha1);
	}
	res = WEB_DIGEST_FOREIGN;
	if (uri_matches(r->ri, c.uri) && (!c.auth_int || web_body_read(r->conn, &body, &body_len)))
		res = web_digest_check_body(r->srv->digest, &c, r->srv->cfg->web_realm, r->ri->request_method, c.uri,
		    ha1, body, body_len);
	OPENSSL_cleanse(ha1, sizeof(ha1));
	if (res == WEB_DIGEST_OK && known) {
		r->user = row.u;
		row_clear(&row);
		succeeded(r, c.username);
		if (c.nc == 1)
			audit_success(r, "digest");
		return 0;
	}
	row_clear(&row);
	switch (res) {
	case WEB_DIGEST_STALE:
		return challenge(r, true, "unauthorized", "the nonce expired; retry with the new one");
	case WEB_DIGEST_FOREIGN:
		audit_failure(r, c.username, "nonce, realm or uri not issued for this request");
		return challenge(r, true, "unauthorized", "the nonce, realm or uri does not match this request");
	case WEB_DIGEST_REPLAY:
		failed(r, c.username, "replayed nonce count", false);
		return challenge(r, false, "unauthorized", "nonce count already used");
	default:
		failed(r, c.username, known ? "wrong password" : "unknown user", false);
		return challenge(r, false, "unauthorized", "wrong user name or password");
	}
}

/* Checks name and password with scrypt, under lock-out; fills r->user. */
static nvr_err
check_password(struct web_req *r, const char *name, const char *password, const char *how)
{
	struct user_row row;
	const char *why;
	nvr_err rc;
	bool ok;

	if ((why = locked(r, name)) != NULL) {
		failed(r, name, why, true);
		return NVR_ERR_INVAL;
	}
	if (nvr_text_problem(name) != NULL) {
		failed(r, name, "user name not valid UTF-8 or has a control character", false);
		return NVR_ERR_INVAL;
	}
	if ((rc = user_by_name(r->db, name, &row)) == NVR_ERR_DB)
		return rc;
	/* Unknown user: scrypt runs anyway, on a hash that matches nothing. */
	ok = web_password_verify(password, rc == NVR_OK ? row.password_hash : "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	if (rc == NVR_OK && ok) {
		r->user = row.u;
		row_clear(&row);
		succeeded(r, name);
		audit_success(r, how);
		return NVR_OK;
	}
	row_clear(&row);
	failed(r, name, rc == NVR_OK ? "wrong password" : "unknown user", false);
	return NVR_ERR_INVAL;
}

static int
auth_basic(struct web_req *r, const char *value)
{
	uint8_t *dec = NULL;
	size_t len = 0;
	char *colon;
	nvr_err rc = NVR_ERR_INVAL;

	if (!r->srv->cfg->web_allow_basic) {
		audit_failure(r, NULL, "Basic authentication is off");
		return challenge(r, false, "digest_required", "use HTTP Digest: Basic authentication is off");
	}
	value += 5;
	while (*value == ' ')
		value++;
	/* nvr_b64_decode leaves room for a NUL after the bytes. */
	if (nvr_b64_decode(value, 512, &dec, &len) == NVR_OK && (dec[len] = '\0', memchr(dec, '\0', len) == NULL) &&
	    (colon = memchr(dec, ':', len)) != NULL) {
		*colon = '\0';
		rc = check_password(r, (const char *)dec, colon + 1, "basic");
	}
	if (dec != NULL) {
		OPENSSL_cleanse(dec, len);
		free(dec);
	}
	if (rc == NVR_ERR_DB)
		return web_reply_db_error(r->conn);
	return rc == NVR_OK ? 0 : challenge(r, false, "unauthorized", "wrong user name or password");
}

/* ---- sessions ----------------------------------------------------------- */

/* The CSRF token of a session: SHA-256("nvr-csrf-v1" || token). Only the
 * holder of the cookie (HttpOnly: not script on another site) can know it,
 * and it survives a restart of nvrd without a stored key. */
static bool
csrf_of(const uint8_t token[WEB_TOKEN_BYTES], char hex[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t h[32];
	unsigned int n = 0;
	bool ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) && EVP_DigestUpdate(md, "nvr-csrf-v1", 11) &&
	    EVP_DigestUpdate(md, token, WEB_TOKEN_BYTES) && EVP_DigestFinal_ex(md, h, &n);

	EVP_MD_CTX_free(md);
	if (ok)
		nvr_hex_encode(h, 32, hex);
	return ok;
}

static void
token_hash(const uint8_t token[WEB_TOKEN_BYTES], uint8_t h[32])
{
	unsigned int n = 32;

	EVP_Digest(token, WEB_TOKEN_BYTES, h, &n, EVP_sha256(), NULL);
}

/* The session token from the cookie, if there is a well-formed one. */
static bool
cookie_token(const struct web_req *r, uint8_t token[WEB_TOKEN_BYTES])
{
	const char *cookie = mg_get_header(r->conn, "Cookie");
	char hex[WEB_TOKEN_BYTES * 2 + 2];

	return cookie != NULL && mg_get_cookie(cookie, WEB_SESSION_COOKIE, hex, sizeof(hex)) == WEB_TOKEN_BYTES * 2 &&
	    nvr_hex_decode(hex, token, WEB_TOKEN_BYTES) == NVR_OK;
}

/* A live session's user. last_used_at (for [web] session_idle) is written
 * at most every TOUCH_SECONDS: a write per request would make every API
 * read a database commit. */
static nvr_err
session_user(struct web_req *r, const uint8_t token[WEB_TOKEN_BYTES])
{
	uint8_t h[32];
	char idle[32];
	const char *p[2] = { (const char *)h, idle };
	const int len[2] = { 32, 0 }, fmt[2] = { 1, 0 };
	struct user_row row = { 0 };
	PGresult *res;
	nvr_err rc;

	token_hash(token, h);
	if (web_sesscache_get(r->srv->sessions, h, nvr_monotonic_ms(), &r->user))
		return NVR_OK;
	snprintf(idle, sizeof(idle), "%lld", (long long)r->srv->cfg->web_session_idle_ms);
	res = PQexecParams(r->db,
	    "WITH s AS (SELECT user_id FROM api_sessions WHERE token_sha256 = $1 AND revoked_at IS NULL "
	    "  AND expires_at > now() AND last_used_at > now() - $2::bigint * interval '1 millisecond'), "
	    " t AS (UPDATE api_sessions SET last_used_at = now() WHERE token_sha256 = $1 "
	    "  AND last_used_at < now() - interval '" TOUCH_SECONDS " seconds' AND EXISTS (SELECT 1 FROM s)) "
	    "SELECT " USER_COLUMNS " FROM users u JOIN s ON s.user_id = u.id WHERE u.removed_at IS NULL AND NOT u.disabled",
	    2, NULL, p, len, fmt, 0);
	if ((rc = stg_db_check(r->db, res, PGRES_TUPLES_OK, "checking an API session")) != NVR_OK)
		return rc;
	rc = PQntuples(res) == 1 ? row_read(res, &row) : NVR_ERR_INVAL;
	PQclear(res);
	if (rc == NVR_OK) {
		r->user = row.u;
		web_sesscache_put(r->srv->sessions, h, nvr_monotonic_ms(), &r->user);
	}
	row_clear(&row);
	return rc;
}

static bool
changes_state(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && strcmp(method, "OPTIONS") != 0;
}

static int
auth_session(struct web_req *r, const uint8_t token[WEB_TOKEN_BYTES])
{
	const char *sent = mg_get_header(r->conn, WEB_CSRF_HEADER);
	char want[65];
	nvr_err rc = session_user(r, token);

	if (rc == NVR_ERR_DB)
		return web_reply_db_error(r->conn);
	if (rc != NVR_OK) {
		audit_failure(r, NULL, "session expired or revoked");
		return challenge(r, false, "session_expired", "the session has expired or was ended; log in again");
	}
	if (changes_state(r->ri->request_method)) {
		if (sent == NULL || strlen(sent) != 64 || !csrf_of(token, want) || CRYPTO_memcmp(sent, want, 64) != 0) {
			audit_failure(r, r->user.name, "missing or wrong CSRF token");
			return web_reply_error(r->conn, 403, "csrf", NULL,
			    "this request needs the session's CSRF token in the " WEB_CSRF_HEADER " header");
		}
	}
	r->via_session = true;
	return 0;
}

int
web_auth_request(struct web_req *r)
{
	const char *h = mg_get_header(r->conn, "Authorization");
	uint8_t token[WEB_TOKEN_BYTES];
	int rc;

	if (h != NULL && strncasecmp(h, "Digest ", 7) == 0)
		return auth_digest(r, h);
	if (h != NULL && strncasecmp(h, "Basic ", 6) == 0)
		return auth_basic(r, h);
	if (h != NULL) {
		audit_failure(r, NULL, "unsupported authentication scheme");
		return challenge(r, false, "unauthorized", "use HTTP Digest (SHA-256 or MD5) or a session");
	}
	if (cookie_token(r, token)) {
		rc = auth_session(r, token);
		OPENSSL_cleanse(token, sizeof(token));
		return rc;
	}
	return challenge(r, false, "unauthorized", "authentication required: HTTP Digest, or a session from POST /api/v1/session");
}

nvr_err
web_auth_login(struct web_req *r, const char *name, const char *password, char token_hex[65], char csrf_hex[65],
    int64_t *expires_unix)
{
	uint8_t token[WEB_TOKEN_BYTES], h[32];
	char uid[NVR_UUID_STRLEN], life[32], exp[32];
	const char *p[4] = { (const char *)h, uid, r->addr, life };
	const int len[4] = { 32, 0, 0, 0 }, fmt[4] = { 1, 0, 0, 0 };
	PGresult *res;
	nvr_err rc;

	if ((rc = check_password(r, name, password, "session")) != NVR_OK)
		return rc;
	if (RAND_bytes(token, sizeof(token)) != 1)
		return NVR_ERR_CRYPTO;
	token_hash(token, h);
	nvr_uuid_format(&r->user.id, uid);
	snprintf(life, sizeof(life), "%lld", (long long)r->srv->cfg->web_session_lifetime_ms);
	res = PQexecParams(r->db,
	    "INSERT INTO api_sessions (token_sha256, user_id, address, expires_at) "
	    "VALUES ($1, $2, $3, now() + $4::bigint * interval '1 millisecond') "
	    "RETURNING extract(epoch FROM expires_at)::bigint",
	    4, NULL, p, len, fmt, 0);
	if ((rc = stg_db_check(r->db, res, PGRES_TUPLES_OK, "making an API session")) == NVR_OK) {
		snprintf(exp, sizeof(exp), "%s", PQgetvalue(res, 0, 0));
		*expires_unix = strtoll(exp, NULL, 10);
		PQclear(res);
		nvr_hex_encode(token, sizeof(token), token_hex);
		if (!csrf_of(token, csrf_hex))
			rc = NVR_ERR_CRYPTO;
	}
	OPENSSL_cleanse(token, sizeof(token));
	return rc;
}

nvr_err
web_auth_logout(struct web_req *r)
{
	uint8_t token[WEB_TOKEN_BYTES], h[32];
	const char *p[1] = { (const char *)h };
	const int len[1] = { 32 }, fmt[1] = { 1 };
	PGresult *res;

	if (!cookie_token(r, token))
		return NVR_ERR_INVAL;
	token_hash(token, h);
	OPENSSL_cleanse(token, sizeof(token));
	web_sesscache_drop(r->srv->sessions, h);
	res = PQexecParams(r->db, "UPDATE api_sessions SET revoked_at = now() WHERE token_sha256 = $1 AND revoked_at IS NULL",
	    1, NULL, p, len, fmt, 0);
	if (stg_db_check(r->db, res, PGRES_COMMAND_OK, "ending an API session") != NVR_OK)
		return NVR_ERR_DB;
	PQclear(res);
	return NVR_OK;
}

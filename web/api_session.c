/*
 * api_session.c: console log-in and log-out, and who the caller is.
 * The session token goes only into an HttpOnly cookie; the CSRF token only
 * into the reply body. Neither is logged.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "storage/retention.h"
#include "web/api.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/password.h"
#include "web/server_priv.h"

static json_t *
whoami(const struct web_req *r)
{
	return json_pack("{s:s,s:s,s:s}", "user", r->user.name, "role", web_role_name(r->user.role), "via",
	    r->via_session ? "session" : "http-auth");
}

int
web_api_health(struct web_req *r)
{
	json_t *j = whoami(r);

	json_object_set_new(j, "status", json_string("ok"));
	json_object_set_new(j, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(j, "storage", json_string(stg_retention_alarm_name(stg_retention_alarm())));
	return web_reply_json(r->conn, 200, j, NULL);
}

int
web_api_session_get(struct web_req *r)
{
	return web_reply_json(r->conn, 200, whoami(r), NULL);
}

/* A string member of at most max bytes, or NULL. */
static const char *
member(json_t *body, const char *name, size_t max)
{
	json_t *v = json_object_get(body, name);

	return json_is_string(v) && json_string_length(v) <= max ? json_string_value(v) : NULL;
}

int
web_api_session_post(struct web_req *r)
{
	int status = 400;
	json_t *body = web_read_json(r->conn, &status), *reply;
	const char *name, *password;
	char token[65], csrf[65], cookie[256];
	int64_t expires = 0;
	nvr_err rc;

	if (body == NULL)
		return status;
	name = member(body, "user", WEB_USER_MAX);
	password = member(body, "password", 256);
	if (name == NULL || password == NULL) {
		json_decref(body);
		return web_reply_error(r->conn, 400, "bad_request", NULL,
		    "the body must be {\"user\": \"...\", \"password\": \"...\"}");
	}
	rc = web_auth_login(r, name, password, token, csrf, &expires);
	json_decref(body); /* jansson cannot wipe its copy of the password: it is freed here */
	if (rc == NVR_ERR_DB)
		return web_reply_db_error(r->conn);
	if (rc != NVR_OK)
		return web_reply_error(r->conn, 401, "unauthorized", NULL, "wrong user name or password");
	snprintf(cookie, sizeof(cookie),
	    "Set-Cookie: " WEB_SESSION_COOKIE "=%s; Path=/; Max-Age=%lld; Secure; HttpOnly; SameSite=Strict\r\n", token,
	    (long long)(r->srv->cfg->web_session_lifetime_ms / 1000));
	OPENSSL_cleanse(token, sizeof(token));
	r->via_session = true; /* what the caller holds from now on */
	reply = whoami(r);
	json_object_set_new(reply, "csrf_token", json_string(csrf));
	json_object_set_new(reply, "expires_at", json_integer(expires));
	status = web_reply_json(r->conn, 201, reply, cookie);
	OPENSSL_cleanse(cookie, sizeof(cookie));
	OPENSSL_cleanse(csrf, sizeof(csrf));
	return status;
}

int
web_api_session_delete(struct web_req *r)
{
	static const char clear[] =
	    "Set-Cookie: " WEB_SESSION_COOKIE "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict\r\n";

	if (!r->via_session)
		return web_reply_error(r->conn, 400, "no_session", NULL, "this request did not come with a session cookie");
	if (web_auth_logout(r) != NVR_OK)
		return web_reply_db_error(r->conn);
	web_req_audit(r, "auth.logout", "", WEB_AUDIT_OK, NULL);
	return web_reply(r->conn, 204, "application/json", clear, NULL, 0);
}

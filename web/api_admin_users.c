/*
 * api_admin_users.c: user accounts through the API (POST, PATCH and DELETE
 * under /api/v1/users), with nvrctl user's rules and words, on the same
 * store (web/users.c). An admin may not remove, demote or disable their
 * own account, nor leave the recorder without an enabled admin.
 * It never logs, audits or returns a password or anything made from one.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrd/log.h"
#include "nvrd/util.h"
#include "web/api.h"
#include "web/http.h"
#include "web/password.h"
#include "web/server_priv.h"
#include "web/users.h"

#define PASSWORD_BYTES_MAX 256 /* as POST /api/v1/session reads one */

/* A request body, its strings borrowed from the JSON it was read from. */
struct user_body {
	const char *name;
	const char *password;       /* NULL: unchanged */
	unsigned role;              /* 0: unchanged */
	bool has_cameras;
	struct web_users_grants grants;
	const char **names;         /* owned (the array, not the strings): grants.names */
	bool set_key_holder;
	const char *key_holder;
	int disabled;               /* -1: unchanged */
};

static void
body_clear(struct user_body *b)
{
	free(b->names);
	b->names = NULL;
}

/* The members below return 0, or the status of the error reply sent. */

static int
read_role(struct web_req *r, json_t *v, struct user_body *b)
{
	if (v == NULL)
		return 0;
	if (json_is_string(v) && (b->role = web_role_parse(json_string_value(v))) != 0)
		return 0;
	return web_reply_error(r->conn, 400, "bad_value", NULL, "unknown role '%.32s': admin, operator, viewer or auditor",
	    json_is_string(v) ? json_string_value(v) : "(not a string)");
}

/* "all", or a list of camera names (each checked when granted). */
static int
read_cameras(struct web_req *r, json_t *v, struct user_body *b)
{
	size_t i;
	json_t *name;

	if (v == NULL)
		return 0;
	b->has_cameras = true;
	if (json_is_string(v) && strcmp(json_string_value(v), "all") == 0) {
		b->grants.all = true;
		return 0;
	}
	if (json_is_array(v) && (b->names = calloc(json_array_size(v) + 1, sizeof(*b->names))) != NULL) {
		json_array_foreach (v, i, name) {
			if (!json_is_string(name) || json_string_length(name) > STG_NAME_MAX)
				break;
			b->names[i] = json_string_value(name);
		}
		b->grants.names = b->names;
		b->grants.n = json_array_size(v);
		if (i == json_array_size(v))
			return 0;
	}
	return web_reply_error(r->conn, 400, "bad_value", NULL, "cameras must be \"all\" or a list of camera names");
}

static int
read_key_holder(struct web_req *r, json_t *v, struct user_body *b)
{
	if (v == NULL)
		return 0;
	b->set_key_holder = true;
	if (json_is_null(v))
		return 0;
	if (json_is_string(v) && json_string_length(v) <= STG_NAME_MAX) {
		b->key_holder = json_string_value(v);
		return 0;
	}
	return web_reply_error(r->conn, 400, "bad_value", NULL, "key_holder must be a key holder's name, or null for none");
}

static int
read_disabled(struct web_req *r, json_t *v, struct user_body *b)
{
	b->disabled = -1;
	if (v == NULL)
		return 0;
	if (json_is_boolean(v)) {
		b->disabled = json_is_true(v);
		return 0;
	}
	return web_reply_error(r->conn, 400, "bad_value", NULL, "disabled must be true or false");
}

/* The password policy, as nvrctl applies it, for user name. */
static int
read_password(struct web_req *r, json_t *v, const char *name, struct user_body *b)
{
	const char *why;

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) > PASSWORD_BYTES_MAX)
		return web_reply_error(r->conn, 400, "bad_value", NULL, "password must be a string");
	if ((why = web_password_problem(name, json_string_value(v))) != NULL)
		return web_reply_error(r->conn, 400, "weak_password", NULL, "%s", why);
	b->password = json_string_value(v);
	return 0;
}

/* Everything but the name, for user name (add) or the user changed. */
static int
read_body(struct web_req *r, json_t *body, const char *name, struct user_body *b)
{
	int st;

	if ((st = read_role(r, json_object_get(body, "role"), b)) != 0 ||
	    (st = read_cameras(r, json_object_get(body, "cameras"), b)) != 0 ||
	    (st = read_key_holder(r, json_object_get(body, "key_holder"), b)) != 0 ||
	    (st = read_disabled(r, json_object_get(body, "disabled"), b)) != 0)
		return st;
	return read_password(r, json_object_get(body, "password"), name, b);
}

/* Hashes and seals b's password for user id/name into *sp. */
static int
make_password(struct web_req *r, const nvr_uuid *id, const char *name, const struct user_body *b,
    struct web_users_password *sp)
{
	memset(sp, 0, sizeof(*sp));
	if (b->password == NULL)
		return 0;
	if (web_users_password_make(r->srv->secret, r->srv->cfg->web_realm, id, name, b->password, sp) == NVR_OK)
		return 0;
	return web_reply_error(r->conn, 503, "internal", NULL, "cannot hash the password");
}

/* The answer to a refused change (NVR_ERR_INVAL from web/users.h). */
static int
refused(struct web_req *r, const char *action, const char *user, const struct web_users_why *why)
{
	switch (why->what) {
	case WEB_USERS_NAME_TAKEN:
		return web_reply_error(r->conn, 409, "exists", NULL, "a user named %s exists", user);
	case WEB_USERS_NO_KEY_HOLDER:
		return web_reply_error(r->conn, 400, "no_such_key_holder", NULL, "no key holder named %s", why->name);
	case WEB_USERS_NO_CAMERA:
		return web_reply_error(r->conn, 400, "no_such_camera", NULL, "no camera named %s", why->name);
	case WEB_USERS_LAST_ADMIN:
		web_req_audit_json(r, action, user, WEB_AUDIT_DENIED, json_pack("{s:s}", "reason", "last enabled admin"));
		return web_reply_error(r->conn, 409, "last_admin", NULL,
		    "%s is the last enabled admin: make another admin first", user);
	default:
		return web_reply_error(r->conn, 404, "not_found", NULL, "no user named %s", user);
	}
}

/* {"role":..., "cameras": "all"|"some"|"none"}, as nvrctl user add audits. */
static json_t *
add_detail(const struct user_body *b)
{
	return json_pack("{s:s,s:s}", "role", web_role_name(b->role), "cameras",
	    b->grants.all ? "all" : b->grants.n > 0 ? "some" : "none");
}

/* The user's row as the answer, with status. */
static int
reply_user(struct web_req *r, int status, const nvr_uuid *id)
{
	json_t *j = web_user_json(r->db, id);

	return j != NULL ? web_reply_json(r->conn, status, j, NULL) : web_reply_db_error(r->conn);
}

static int
check_new(struct web_req *r, json_t *body, struct user_body *b)
{
	static const char *const known[] = { "name", "role", "password", "cameras", "key_holder", NULL };
	json_t *name = json_object_get(body, "name");
	const char *why = "name must be a string";
	int st = 400;

	if (!web_json_known(r->conn, body, known, &st))
		return st;
	if (!json_is_string(name) || (why = web_user_name_problem(json_string_value(name))) != NULL)
		return web_reply_error(r->conn, 400, "bad_value", NULL, "bad user name: %s",
		    why);
	b->name = json_string_value(name);
	if ((st = read_body(r, body, b->name, b)) != 0)
		return st;
	if (b->role == 0 || b->password == NULL)
		return web_reply_error(r->conn, 400, "bad_request", NULL,
		    "a new user needs name, role and password; cameras and key_holder are optional");
	return 0;
}

int
web_api_user_add(struct web_req *r)
{
	int st = 400;
	json_t *body = web_read_json(r->conn, &st);
	struct user_body b = { 0 };
	struct web_users_new u = { 0 };
	struct web_users_password sp = { 0 };
	struct web_users_why why = { 0 };
	nvr_err rc;

	if (body == NULL)
		return st;
	if ((st = check_new(r, body, &b)) != 0)
		goto out;
	u = (struct web_users_new){ .name = b.name, .role = b.role, .cameras = b.grants, .key_holder = b.key_holder };
	if (nvr_uuid_new(&u.id) != NVR_OK || (st = make_password(r, &u.id, b.name, &b, &sp)) != 0) {
		st = st != 0 ? st : web_reply_error(r->conn, 503, "internal", NULL, "cannot make a user id");
		goto out;
	}
	if ((rc = web_users_insert(r->db, &u, &sp, &why)) != NVR_OK) {
		st = rc == NVR_ERR_INVAL ? refused(r, "user.add", b.name, &why) : web_reply_db_error(r->conn);
		goto out;
	}
	nvr_log(NVR_LOG_NOTICE, "API: %s added the user %s with the role %s", r->user.name, b.name, web_role_name(b.role));
	web_req_audit_json(r, "user.add", b.name, WEB_AUDIT_OK, add_detail(&b));
	st = reply_user(r, 201, &u.id);
out:
	web_users_password_clear(&sp);
	body_clear(&b);
	json_decref(body); /* jansson cannot wipe its copy of the password: it is freed here */
	return st;
}

/* The user named by the path: 0, or the 404 or 503 sent. */
static int
path_user(struct web_req *r, struct web_users_row *row)
{
	nvr_err rc = web_users_get(r->db, r->path_arg, row);

	if (rc == NVR_ERR_INVAL)
		return web_reply_error(r->conn, 404, "not_found", NULL, "no user named %s", r->path_arg);
	return rc == NVR_OK ? 0 : web_reply_db_error(r->conn);
}

/* What an admin may not do to their own account: 0, or the 409 sent. */
static int
own_account(struct web_req *r, const struct web_users_row *row, const char *action, const char *what)
{
	if (memcmp(row->id.b, r->user.id.b, sizeof(row->id.b)) != 0)
		return 0;
	web_req_audit_json(r, action, r->path_arg, WEB_AUDIT_DENIED, json_pack("{s:s}", "reason", "own account"));
	return web_reply_error(r->conn, 409, "own_account", NULL,
	    "you may not %s your own account: another admin must do it", what);
}

/* The audit detail of a change: what changed, never the password. */
static json_t *
change_detail(const struct user_body *b)
{
	json_t *d = json_object();

	if (b->role != 0)
		json_object_set_new(d, "role", json_string(web_role_name(b->role)));
	if (b->has_cameras)
		json_object_set_new(d, "cameras", json_string(b->grants.all ? "all" : b->grants.n > 0 ? "some" : "none"));
	if (b->set_key_holder)
		json_object_set_new(d, "key_holder", b->key_holder != NULL ? json_string(b->key_holder) : json_null());
	if (b->disabled >= 0)
		json_object_set_new(d, "disabled", json_boolean(b->disabled));
	return d;
}

static int
check_change(struct web_req *r, json_t *body, const struct web_users_row *row, struct user_body *b)
{
	static const char *const known[] = { "role", "cameras", "key_holder", "disabled", "password", NULL };
	int st = 400;

	if (!web_json_known(r->conn, body, known, &st))
		return st;
	if ((st = read_body(r, body, r->path_arg, b)) != 0)
		return st;
	if (json_object_size(body) == 0)
		return web_reply_error(r->conn, 400, "bad_request", NULL,
		    "nothing to change: give role, cameras, key_holder, disabled or password");
	if (b->role != 0 && b->role != WEB_ROLE_ADMIN && (st = own_account(r, row, "user.change", "demote")) != 0)
		return st;
	if (b->disabled == 1 && (st = own_account(r, row, "user.change", "disable")) != 0)
		return st;
	return 0;
}

/* After a change is committed: the cache forgets the user's sessions,
 * and the change is logged and audited. */
static void
changed(struct web_req *r, const nvr_uuid *id, const struct user_body *b)
{
	web_sesscache_drop_user(r->srv->sessions, id, nvr_monotonic_ms());
	nvr_log(NVR_LOG_NOTICE, "API: %s changed the user %s", r->user.name, r->path_arg);
	if (b->role != 0 || b->has_cameras || b->set_key_holder || b->disabled >= 0)
		web_req_audit_json(r, "user.change", r->path_arg, WEB_AUDIT_OK, change_detail(b));
	if (b->password != NULL)
		web_req_audit(r, "user.passwd", r->path_arg, WEB_AUDIT_OK, NULL);
}

int
web_api_user_change(struct web_req *r)
{
	int st = 400;
	json_t *body = web_read_json(r->conn, &st);
	struct user_body b = { .disabled = -1 };
	struct web_users_row row;
	struct web_users_password sp = { 0 };
	struct web_users_change c;
	struct web_users_why why = { 0 };
	nvr_err rc;

	if (body == NULL)
		return st;
	if ((st = path_user(r, &row)) != 0 || (st = check_change(r, body, &row, &b)) != 0 ||
	    (st = make_password(r, &row.id, r->path_arg, &b, &sp)) != 0)
		goto out;
	c = (struct web_users_change){ .role = b.role, .cameras = b.has_cameras ? &b.grants : NULL,
		.set_key_holder = b.set_key_holder, .key_holder = b.key_holder, .disabled = b.disabled,
		.password = b.password != NULL ? &sp : NULL };
	if ((rc = web_users_update(r->db, &row.id, &c, true, &why)) != NVR_OK) {
		st = rc == NVR_ERR_INVAL ? refused(r, "user.change", r->path_arg, &why) : web_reply_db_error(r->conn);
		goto out;
	}
	changed(r, &row.id, &b);
	st = reply_user(r, 200, &row.id);
out:
	web_users_password_clear(&sp);
	body_clear(&b);
	json_decref(body);
	return st;
}

int
web_api_user_remove(struct web_req *r)
{
	struct web_users_row row;
	struct web_users_why why = { 0 };
	nvr_err rc;
	int st;

	if ((st = path_user(r, &row)) != 0 || (st = own_account(r, &row, "user.remove", "remove")) != 0)
		return st;
	if ((rc = web_users_remove(r->db, &row.id, true, &why)) != NVR_OK)
		return rc == NVR_ERR_INVAL ? refused(r, "user.remove", r->path_arg, &why) : web_reply_db_error(r->conn);
	web_sesscache_drop_user(r->srv->sessions, &row.id, nvr_monotonic_ms());
	nvr_log(NVR_LOG_NOTICE, "API: %s removed the user %s", r->user.name, r->path_arg);
	web_req_audit(r, "user.remove", r->path_arg, WEB_AUDIT_OK, NULL);
	return web_reply(r->conn, 204, "application/json", NULL, NULL, 0);
}

int
web_api_user_sessions_end(struct web_req *r)
{
	struct web_users_row row;
	int64_t ended = 0;
	int st;

	if ((st = path_user(r, &row)) != 0)
		return st;
	if (web_users_end_sessions(r->db, &row.id, &ended) != NVR_OK)
		return web_reply_db_error(r->conn);
	web_sesscache_drop_user(r->srv->sessions, &row.id, nvr_monotonic_ms());
	nvr_log(NVR_LOG_NOTICE, "API: %s ended the %lld sessions of %s", r->user.name, (long long)ended, r->path_arg);
	web_req_audit_json(r, "user.revoke_sessions", r->path_arg, WEB_AUDIT_OK,
	    json_pack("{s:I}", "sessions", (json_int_t)ended));
	return web_reply(r->conn, 204, "application/json", NULL, NULL, 0);
}

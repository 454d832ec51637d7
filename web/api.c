/*
 * api.c: the one table of API routes and the roles each allows, and what
 * every handler shares (audit, camera grants). A route not in this table
 * does not exist; tests/integration/web.test checks every route against
 * every role from docs/API.md's table, which lists the same routes.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/db.h"
#include "web/api.h"
#include "web/http.h"
#include "web/server_priv.h"

static const struct web_route routes[] = {
	{ "GET", "/api/v1/health", WEB_ROLE_ANY, web_api_health, "the recorder is up; who you are" },
	{ "GET", "/api/v1/session", WEB_ROLE_ANY, web_api_session_get, "the caller and how they authenticated" },
	{ "POST", "/api/v1/session", 0, web_api_session_post, "log in: a session cookie and its CSRF token" },
	{ "DELETE", "/api/v1/session", WEB_ROLE_ANY, web_api_session_delete, "log out: end this session" },
	{ "GET", "/api/v1/cameras", WEB_ROLE_WATCH, web_api_cameras, "cameras granted to the caller, with ingest state" },
	{ "GET", "/api/v1/cameras/*/recordings", WEB_ROLE_WATCH, web_api_recordings,
	    "a camera's segments overlapping [from, to), and the gaps between them" },
	{ "GET", "/api/v1/segments/*", WEB_ROLE_WATCH, web_api_segment, "a segment's bytes, as recorded (HTTP Range)" },
	{ "HEAD", "/api/v1/segments/*", WEB_ROLE_WATCH, web_api_segment, "a segment's size" },
	{ "GET", "/api/v1/keys/*", WEB_ROLE_WATCH, web_api_key, "a session key sealed to the caller's key holder" },
	{ "GET", "/api/v1/users", WEB_ROLE_ADMIN, web_api_users, "user accounts" },
	{ "POST", "/api/v1/users", WEB_ROLE_ADMIN, web_api_user_add, "add a user, as nvrctl user add" },
	{ "PATCH", "/api/v1/users/*", WEB_ROLE_ADMIN, web_api_user_change,
	    "change a user's role, cameras, key holder, password, or disable it" },
	{ "DELETE", "/api/v1/users/*", WEB_ROLE_ADMIN, web_api_user_remove, "remove a user; its sessions end" },
	{ "DELETE", "/api/v1/users/*/sessions", WEB_ROLE_ADMIN, web_api_user_sessions_end,
	    "end every session of a user" },
	{ "POST", "/api/v1/cameras", WEB_ROLE_ADMIN, web_api_camera_add, "add a camera, as nvrctl camera add" },
	{ "PATCH", "/api/v1/cameras/*", WEB_ROLE_ADMIN, web_api_camera_change,
	    "change a camera's URL, credentials, trust, retention, or switch it on or off" },
	{ "DELETE", "/api/v1/cameras/*", WEB_ROLE_ADMIN, web_api_camera_remove, "remove a camera; its recordings stay" },
	{ "GET", "/api/v1/exports", WEB_ROLE_ADMIN | WEB_ROLE_OPERATOR, web_api_exports,
	    "evidence exports: the caller's (an admin's: all), newest first" },
	{ "POST", "/api/v1/exports", WEB_ROLE_ADMIN | WEB_ROLE_OPERATOR, web_api_export_add,
	    "export cameras granted over a time range: holds it, then writes a bundle (202)" },
	{ "GET", "/api/v1/exports/*", WEB_ROLE_ADMIN | WEB_ROLE_OPERATOR, web_api_export,
	    "an export's state and progress (bytes done of total)" },
	{ "GET", "/api/v1/exports/*/bundle", WEB_ROLE_ADMIN | WEB_ROLE_OPERATOR, web_api_export_bundle,
	    "the finished bundle (tar, HTTP Range)" },
	{ "GET", "/api/v1/holds", WEB_ROLE_ADMIN, web_api_holds, "evidence holds not released" },
	{ "POST", "/api/v1/holds", WEB_ROLE_ADMIN, web_api_hold_add,
	    "hold a camera's time range: retention keeps it until released" },
	{ "DELETE", "/api/v1/holds/*", WEB_ROLE_ADMIN, web_api_hold_release, "release a hold; retention may delete its range" },
	{ "GET", "/api/v1/keyholders", WEB_ROLE_ADMIN, web_api_keyholders, "key holders, with their fingerprints" },
	{ "POST", "/api/v1/keyholders", WEB_ROLE_ADMIN, web_api_keyholder_add, "register a key holder's P-256 public key" },
	{ "DELETE", "/api/v1/keyholders/*", WEB_ROLE_ADMIN, web_api_keyholder_remove,
	    "stop sealing new keys to a key holder" },
	{ "PUT", "/api/v1/tls/certificate", WEB_ROLE_ADMIN, web_api_tls_certificate,
	    "install a CA-signed certificate for the API's key; new connections use it" },
	{ "GET", "/api/v1/audit", WEB_ROLE_ADMIN | WEB_ROLE_AUDITOR, web_api_audit, "the audit log, filtered and paged" },
	{ "GET", "/api/v1/settings", WEB_ROLE_ADMIN, web_api_settings, "settings changed at run time, and their source" },
	{ "PUT", "/api/v1/settings/web.allow", WEB_ROLE_ADMIN, web_api_settings_allow,
	    "set the host filter; refused if it would lock out the caller" },
	{ "GET", "/metrics", WEB_ROLE_ADMIN | WEB_ROLE_AUDITOR, web_api_metrics, "Prometheus metrics (counts only)" },
};

const struct web_route *
web_routes(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

static const struct {
	unsigned bit;
	const char *name;
} role_names[] = {
	{ WEB_ROLE_ADMIN, "admin" },
	{ WEB_ROLE_OPERATOR, "operator" },
	{ WEB_ROLE_VIEWER, "viewer" },
	{ WEB_ROLE_AUDITOR, "auditor" },
};

const char *
web_role_name(unsigned role)
{
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (role_names[i].bit == role)
			return role_names[i].name;
	return NULL;
}

unsigned
web_role_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcmp(role_names[i].name, name) == 0)
			return role_names[i].bit;
	return 0;
}

void
web_req_audit(struct web_req *r, const char *action, const char *object, enum web_audit_outcome outcome,
    const char *detail)
{
	struct web_audit_event ev = {
		.actor = r->user.name[0] != '\0' ? r->user.name : "-",
		.address = r->addr,
		.action = action,
		.object = object,
		.outcome = outcome,
		.detail = detail,
	};

	web_audit_record(r->srv->audit, &ev);
}

void
web_req_audit_json(struct web_req *r, const char *action, const char *object, enum web_audit_outcome outcome,
    json_t *detail)
{
	char *text = detail != NULL ? json_dumps(detail, JSON_COMPACT) : NULL;

	web_req_audit(r, action, object, outcome, text);
	free(text);
	json_decref(detail);
}

static const struct web_stmt camera_allowed_stmt = { "camera_allowed",
	"SELECT 1 FROM cameras c WHERE c.id = $2::uuid AND ($3::boolean OR EXISTS "
	" (SELECT 1 FROM user_cameras g WHERE g.user_id = $1::uuid AND g.camera_id = c.id))" };

bool
web_req_path_uuid(struct web_req *r, const char *what)
{
	nvr_uuid u;

	if (nvr_uuid_parse(r->path_arg, &u) == NVR_OK)
		return true;
	web_reply_error(r->conn, 404, "not_found", NULL, "no such %s", what);
	return false;
}

int
web_req_not_found(struct web_req *r, const char *what, const char *action)
{
	web_req_audit(r, action, r->path_arg, WEB_AUDIT_DENIED, "{\"reason\":\"not found or not granted\"}");
	return web_reply_error(r->conn, 404, "not_found", NULL, "no such %s", what);
}

const char *
web_req_all_cameras(const struct web_req *r)
{
	return r->user.role == WEB_ROLE_ADMIN || r->user.all_cameras ? "true" : "false";
}

bool
web_req_camera_allowed(struct web_req *r, const char *camera_id)
{
	char uid[NVR_UUID_STRLEN];
	const char *all = web_req_all_cameras(r);
	const char *p[3] = { uid, camera_id, all };
	PGresult *res;
	bool ok;

	/* A camera that does not exist is not allowed either: the same 404.
	 * Removed cameras stay: their recordings are evidence. */
	nvr_uuid_format(&r->user.id, uid);
	res = web_pool_exec(r->db, &camera_allowed_stmt, 3, p, 0);
	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "checking a camera grant") != NVR_OK)
		return false;
	ok = PQntuples(res) == 1;
	PQclear(res);
	return ok;
}

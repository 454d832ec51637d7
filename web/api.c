/*
 * api.c: the one table of API routes and the roles each allows, and what
 * every handler shares (audit, camera grants). A route not in this table
 * does not exist; tests/integration/web.test checks every route against
 * every role from docs/API.md's table, which lists the same routes.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "storage/db.h"
#include "web/api.h"
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

static const struct web_stmt camera_allowed_stmt = { "camera_allowed",
	"SELECT 1 FROM cameras c WHERE c.id = $2::uuid AND ($3::boolean OR EXISTS "
	" (SELECT 1 FROM user_cameras g WHERE g.user_id = $1::uuid AND g.camera_id = c.id))" };

bool
web_req_camera_allowed(struct web_req *r, const char *camera_id)
{
	char uid[NVR_UUID_STRLEN];
	const char *all = r->user.role == WEB_ROLE_ADMIN || r->user.all_cameras ? "true" : "false";
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

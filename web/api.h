/*
 * api.h: what the API's pipeline and handlers share: the caller, the
 * request context, and the one table of routes with the roles each allows
 * (api.c). Every request goes: host filter, authentication, role check,
 * handler, audit (docs/API.md).
 */
#ifndef NVR_WEB_API_H
#define NVR_WEB_API_H

#include <stdbool.h>
#include <stdint.h>

#include <civetweb.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "nvrd/uuid.h"
#include "web/audit.h"

enum web_role {
	WEB_ROLE_ADMIN = 1u << 0,    /* everything */
	WEB_ROLE_OPERATOR = 1u << 1, /* live, playback, export of the cameras granted */
	WEB_ROLE_VIEWER = 1u << 2,   /* live and playback of the cameras granted */
	WEB_ROLE_AUDITOR = 1u << 3,  /* the audit log only */
};
#define WEB_ROLE_ANY (WEB_ROLE_ADMIN | WEB_ROLE_OPERATOR | WEB_ROLE_VIEWER | WEB_ROLE_AUDITOR)
#define WEB_ROLE_WATCH (WEB_ROLE_ADMIN | WEB_ROLE_OPERATOR | WEB_ROLE_VIEWER)

/* "admin" ... for a role bit; NULL for anything else. */
const char *web_role_name(unsigned role);
/* The role bit for a name, 0 if none. */
unsigned web_role_parse(const char *name);

struct web_user {
	nvr_uuid id;
	char name[64];
	unsigned role;      /* one WEB_ROLE_ bit */
	bool all_cameras;
	bool has_key_holder;
	nvr_uuid key_holder;
};

struct web_server;

#define WEB_PATH_MAX 2048 /* bytes of a decoded request path */

/* One request being served. */
struct web_req {
	struct mg_connection *conn;
	const struct mg_request_info *ri;
	struct web_server *srv;
	PGconn *db;            /* this worker thread's connection */
	struct web_user user;  /* the authenticated caller */
	bool via_session;      /* cookie (console) rather than Digest or Basic */
	char path[WEB_PATH_MAX]; /* the request's path, URL-decoded and checked (server.c) */
	char path_arg[128];    /* what matched the route's first "*", or "" */
	char addr[64];         /* client address, IPv4-mapped IPv6 shown as IPv4 */
};

/* Queues an audit event for this request: actor and address filled in. */
void web_req_audit(struct web_req *r, const char *action, const char *object, enum web_audit_outcome outcome,
    const char *detail);

/* As web_req_audit(), with a JSON object as detail (taken; NULL: "{}"). */
void web_req_audit_json(struct web_req *r, const char *action, const char *object, enum web_audit_outcome outcome,
    json_t *detail);

/* Whether the id in the path is a UUID: if not, 404 "no such what" is
 * sent (the database never sees junk). */
bool web_req_path_uuid(struct web_req *r, const char *what);

/* 404 for something the caller may not see, as for one that does not
 * exist (a viewer learns nothing of cameras not granted); audited as
 * action, denied. Returns 404. */
int web_req_not_found(struct web_req *r, const char *what, const char *action);

/* Whether the caller sees every camera (admin, or all_cameras): "true"
 * or "false", as a query parameter. */
const char *web_req_all_cameras(const struct web_req *r);

/* Whether the caller may see camera id: admin, all_cameras, or a grant. */
bool web_req_camera_allowed(struct web_req *r, const char *camera_id);

/* Sends size bytes of fd (HEAD: only the headers) as type, honouring one
 * HTTP Range (206, or 416 for one that cannot be satisfied); headers (may
 * be NULL) are extra "Name: value\r\n" lines. Returns the status sent. */
int web_send_file(struct web_req *r, int fd, uint64_t size, const char *type, const char *headers);

typedef int (*web_handler)(struct web_req *r);

#define WEB_PAGE_QUERY_PARAMS 8

/* The total of a paged listing: from the count(*) OVER () column col of
 * res, or, when res is a page past the end, from the same sql (n
 * parameters p, the last two being limit and offset) asked again for its
 * first row. */
int64_t web_page_total(PGconn *db, PGresult *res, const char *sql, int n, const char *const *p, int col);

struct web_route {
	const char *method;
	const char *path;   /* each "*" matches one path segment */
	unsigned roles;     /* WEB_ROLE_ bits allowed; 0: no authentication */
	web_handler handler;
	const char *doc;    /* one line, for docs/API.md and the matrix test */
};

/* The route table and its length. */
const struct web_route *web_routes(size_t *n);

/* A user as GET /api/v1/users lists it (api_list.c); NULL if it is gone
 * or the database failed (logged). Caller json_decref()s. */
json_t *web_user_json(PGconn *db, const nvr_uuid *id);
/* A key holder as GET /api/v1/keyholders lists it; the same terms. */
json_t *web_keyholder_json(PGconn *db, const nvr_uuid *id);

/* Handlers (api_*.c). */
int web_api_health(struct web_req *r);
int web_api_session_get(struct web_req *r);
int web_api_session_post(struct web_req *r);
int web_api_session_delete(struct web_req *r);
int web_api_cameras(struct web_req *r);
int web_api_users(struct web_req *r);
int web_api_audit(struct web_req *r);
int web_api_recordings(struct web_req *r);
int web_api_segment(struct web_req *r);
int web_api_key(struct web_req *r);
int web_api_metrics(struct web_req *r);
int web_api_settings(struct web_req *r);
int web_api_settings_allow(struct web_req *r);
int web_api_keyholders(struct web_req *r);
/* The admin half (api_admin_*.c): changes that nvrctl makes on the machine. */
int web_api_user_add(struct web_req *r);
int web_api_user_change(struct web_req *r);
int web_api_user_remove(struct web_req *r);
int web_api_user_sessions_end(struct web_req *r);
int web_api_camera_add(struct web_req *r);
int web_api_camera_change(struct web_req *r);
int web_api_camera_remove(struct web_req *r);
int web_api_keyholder_add(struct web_req *r);
int web_api_keyholder_remove(struct web_req *r);
int web_api_tls_certificate(struct web_req *r);
int web_api_exports(struct web_req *r);
int web_api_export_add(struct web_req *r);
int web_api_export(struct web_req *r);
int web_api_export_bundle(struct web_req *r);
int web_api_holds(struct web_req *r);
int web_api_hold_add(struct web_req *r);
int web_api_hold_release(struct web_req *r);

#endif

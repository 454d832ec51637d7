/*
 * api_exports.c: evidence exports through the API. An operator (of the
 * cameras granted) or an admin asks for one; the request takes the holds
 * and writes the audit rows before it answers, so the bundle, written by
 * a job (exports.h), holds them; the job's progress and the finished
 * bundle (with HTTP Range) are served to whoever asked, and to admins.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvrd/log.h"
#include "storage/db.h"
#include "web/api.h"
#include "web/exports.h"
#include "web/http.h"
#include "web/server_priv.h"

#define UTC(t) "to_char(" t " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define EXPORT_JSON                                                                                          \
	"json_build_object('id', e.id, 'created_by', e.created_by, 'reason', e.reason, 'cameras', e.cameras,"   \
	" 'from', " UTC("lower(e.time_range)") ", 'to', " UTC("upper(e.time_range)") ", 'state', e.state,"    \
	" 'bytes_total', e.bytes_total, 'size', e.size, 'error', e.error, 'created_at', " UTC("e.created_at") "," \
	" 'finished_at', " UTC("e.finished_at") ", 'complete', e.report -> 'complete',"                           \
	" 'missing', e.report -> 'missing', 'damaged', e.report -> 'damaged')"

/* The cameras of the body, each known and granted to the caller; else a
 * 400 (a camera not granted is "unknown", as a viewer learns nothing of
 * cameras it may not see), audited as denied. */
static bool
cameras_granted(struct web_req *r, const json_t *cams, const char **names, size_t *n, int *st)
{
	size_t i;
	json_t *c;

	*n = 0;
	if (!json_is_array(cams) || json_array_size(cams) == 0 || json_array_size(cams) > STG_EXPORT_CAMERAS_MAX) {
		*st = web_reply_error(r->conn, 400, "bad_value", NULL, "cameras must be an array of 1 to %d names",
		    STG_EXPORT_CAMERAS_MAX);
		return false;
	}
	json_array_foreach(cams, i, c) {
		const char *p[1] = { json_string_value(c) };
		PGresult *res;
		bool ok;
		if (p[0] == NULL) {
			*st = web_reply_error(r->conn, 400, "bad_value", NULL, "cameras must be names (strings)");
			return false;
		}
		res = PQexecParams(r->db, "SELECT id FROM cameras WHERE name = $1 AND removed_at IS NULL", 1, NULL, p,
		    NULL, NULL, 0);
		if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "export cameras") != NVR_OK) {
			*st = web_reply_db_error(r->conn);
			return false;
		}
		ok = PQntuples(res) == 1 && web_req_camera_allowed(r, PQgetvalue(res, 0, 0));
		PQclear(res);
		if (!ok) {
			web_req_audit(r, "export.create", p[0], WEB_AUDIT_DENIED, "{\"reason\":\"camera unknown or not granted\"}");
			*st = web_reply_error(r->conn, 400, "bad_value", NULL, "no camera named %s", p[0]);
			return false;
		}
		names[(*n)++] = p[0];
	}
	return true;
}

/* The holds and the export, in the log before the job reads it. */
static void
audit_start(struct web_req *r, const struct stg_export_req *req, json_t *holds)
{
	struct web_audit_event ev[STG_EXPORT_CAMERAS_MAX + 1];
	char *texts[STG_EXPORT_CAMERAS_MAX + 1] = { 0 }, id[NVR_UUID_STRLEN];
	json_t *d = json_pack("{s:[], s:s, s:s, s:s, s:O}", "cameras", "from", req->from, "to", req->to, "reason",
	    req->reason, "holds", holds);
	size_t n = json_array_size(holds);

	nvr_uuid_format(&req->id, id);
	for (size_t i = 0; d != NULL && i < req->ncameras; i++)
		json_array_append_new(json_object_get(d, "cameras"), json_string(req->cameras[i]));
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_array_get(holds, i);
		texts[i] = json_dumps(h, JSON_COMPACT);
		ev[i] = (struct web_audit_event){ r->user.name, r->addr, "hold.add",
			json_string_value(json_object_get(h, "id")), WEB_AUDIT_OK, texts[i] };
	}
	texts[n] = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	ev[n] = (struct web_audit_event){ r->user.name, r->addr, "export.create", id, WEB_AUDIT_OK, texts[n] };
	if (web_audit_append(r->db, ev, n + 1, r->srv->signer) != NVR_OK)
		nvr_log(NVR_LOG_ERROR, "export %s: its holds and request could not be audited; it goes on", id);
	for (size_t i = 0; i <= n; i++)
		free(texts[i]);
	json_decref(d);
}

static nvr_err
insert_row(struct web_req *r, const struct stg_export_req *req, const json_t *cams)
{
	char id[NVR_UUID_STRLEN], *arr = json_dumps(cams, JSON_COMPACT);
	const char *p[7] = { id, r->user.name, r->addr, req->reason, arr, req->from, req->to };
	PGresult *res;

	nvr_uuid_format(&req->id, id);
	res = PQexecParams(r->db,
	    "INSERT INTO exports (id, created_by, address, reason, cameras, time_range, state)"
	    " SELECT $1::uuid, $2, $3, $4, ARRAY(SELECT json_array_elements_text($5::json)),"
	    " tstzrange($6::timestamptz, $7::timestamptz, '[)'), 'running'",
	    7, NULL, p, NULL, NULL, 0);
	free(arr);
	if (stg_db_check(r->db, res, PGRES_COMMAND_OK, "recording an export") != NVR_OK)
		return NVR_ERR_DB;
	PQclear(res);
	return NVR_OK;
}

static int
start(struct web_req *r, struct stg_export_req *req, json_t *cams, json_t *holds)
{
	char id[NVR_UUID_STRLEN], loc[160];
	nvr_err rc;

	nvr_uuid_format(&req->id, id);
	audit_start(r, req, holds);
	if (insert_row(r, req, cams) != NVR_OK) {
		json_decref(holds);
		return web_reply_db_error(r->conn);
	}
	if ((rc = web_exports_start(r->srv->exports, req, holds)) != NVR_OK) {
		const char *p[1] = { id };
		PQclear(PQexecParams(r->db, "UPDATE exports SET state = 'failed', error = 'not started: too many exports"
		    " running', finished_at = now() WHERE id = $1::uuid", 1, NULL, p, NULL, NULL, 0));
		return web_reply_error(r->conn, rc == NVR_ERR_TOOBIG ? 429 : 500, "busy", NULL,
		    "%d exports are running: try again when one ends (its holds stay: release them)",
		    WEB_EXPORTS_RUNNING_MAX);
	}
	nvr_log(NVR_LOG_NOTICE, "API: %s: export %s of %zu camera%s started", r->user.name, id, req->ncameras,
	    req->ncameras == 1 ? "" : "s");
	snprintf(loc, sizeof(loc), "Location: /api/v1/exports/%s\r\n", id);
	return web_reply_json(r->conn, 202, json_pack("{s:s, s:s, s:s, s:s}", "id", id, "state", "running", "self",
	    loc + 10, "bundle", "available once state is done: GET <self>/bundle"), loc);
}

/* {cameras: [names], from, to, reason}: 202 with the job's id. */
int
web_api_export_add(struct web_req *r)
{
	static const char *const known[] = { "cameras", "from", "to", "reason", "allow_damaged", NULL };
	const char *names[STG_EXPORT_CAMERAS_MAX];
	struct stg_export_req req = { .cameras = names, .actor = r->user.name, .address = r->addr };
	char why[512];
	int st = 400;
	json_t *body = web_read_json(r->conn, &st), *holds = NULL;
	nvr_err rc;

	if (body == NULL)
		return st;
	if (!web_json_known(r->conn, body, known, &st) ||
	    !cameras_granted(r, json_object_get(body, "cameras"), names, &req.ncameras, &st))
		goto out;
	req.from = json_string_value(json_object_get(body, "from"));
	req.to = json_string_value(json_object_get(body, "to"));
	req.reason = json_string_value(json_object_get(body, "reason"));
	if (req.from == NULL || req.to == NULL || req.reason == NULL) {
		st = web_reply_error(r->conn, 400, "bad_value", NULL, "from, to and reason must be strings");
		goto out;
	}
	if (json_object_get(body, "allow_damaged") != NULL && !json_is_boolean(json_object_get(body, "allow_damaged"))) {
		st = web_reply_error(r->conn, 400, "bad_value", NULL, "allow_damaged must be true or false");
		goto out;
	}
	req.allow_damaged = json_is_true(json_object_get(body, "allow_damaged"));
	if (nvr_uuid_new(&req.id) != NVR_OK) {
		st = web_reply_error(r->conn, 500, "internal", NULL, "cannot make an id");
		goto out;
	}
	if ((rc = stg_export_prepare(r->db, &req, &holds, why, sizeof(why))) != NVR_OK) {
		st = rc == NVR_ERR_INVAL ? web_reply_error(r->conn, 400, "bad_value", NULL, "cannot export: %s", why)
		                         : web_reply_db_error(r->conn);
		goto out;
	}
	st = start(r, &req, json_object_get(body, "cameras"), holds);
out:
	json_decref(body);
	return st;
}

/* The row of export r->path_arg if the caller may see it (its maker or an
 * admin); else 404 sent and NULL. */
static PGresult *
visible_row(struct web_req *r, const char *cols, int *st)
{
	char sql[1024];
	const char *p[2] = { r->path_arg, r->user.name };
	PGresult *res;

	if (!web_req_path_uuid(r, "export")) {
		*st = 404;
		return NULL;
	}
	snprintf(sql, sizeof(sql), "SELECT %s FROM exports e WHERE e.id = $1::uuid%s", cols,
	    r->user.role == WEB_ROLE_ADMIN ? "" : " AND e.created_by = $2");
	res = PQexecParams(r->db, sql, r->user.role == WEB_ROLE_ADMIN ? 1 : 2, NULL, p, NULL, NULL, 0);
	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "finding an export") != NVR_OK) {
		*st = web_reply_db_error(r->conn);
		return NULL;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		*st = web_req_not_found(r, "export", "export.read");
		return NULL;
	}
	return res;
}

/* A job's row with its progress: bytes_done while it runs; a row still
 * "running" whose job is not here was cut short by a stop of nvrd. */
static json_t *
with_progress(struct web_req *r, const char *text)
{
	json_t *e = json_loads(text, 0, NULL);
	uint64_t done = 0, total = 0;

	if (e == NULL || strcmp(json_string_value(json_object_get(e, "state")), "running") != 0)
		return e;
	if (web_exports_progress(r->srv->exports, r->path_arg, &done, &total)) {
		json_object_set_new(e, "bytes_done", json_integer((json_int_t)done));
		json_object_set_new(e, "bytes_total", json_integer((json_int_t)total));
	} else {
		json_object_set_new(e, "state", json_string("failed"));
		json_object_set_new(e, "error", json_string("interrupted: nvrd stopped while it ran; export again"));
	}
	return e;
}

int
web_api_export(struct web_req *r)
{
	int st = 404;
	PGresult *res = visible_row(r, EXPORT_JSON, &st);
	json_t *e;

	if (res == NULL)
		return st;
	e = with_progress(r, PQgetvalue(res, 0, 0));
	PQclear(res);
	if (e == NULL)
		return web_reply_error(r->conn, 500, "internal", NULL, "cannot read the export");
	return web_reply_json(r->conn, 200, e, NULL);
}

/* The caller's exports (an admin's: all), newest first, at most 100. */
int
web_api_exports(struct web_req *r)
{
	const char *p[1] = { r->user.name };
	bool admin = r->user.role == WEB_ROLE_ADMIN;
	PGresult *res = PQexecParams(r->db,
	    admin ? "SELECT " EXPORT_JSON " FROM exports e ORDER BY e.created_at DESC LIMIT 100"
		  : "SELECT " EXPORT_JSON " FROM exports e WHERE e.created_by = $1 ORDER BY e.created_at DESC LIMIT 100",
	    admin ? 0 : 1, NULL, admin ? NULL : p, NULL, NULL, 0);
	json_t *items = json_array();

	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "listing exports") != NVR_OK) {
		json_decref(items);
		return web_reply_db_error(r->conn);
	}
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(items, json_loads(PQgetvalue(res, i, 0), 0, NULL));
	PQclear(res);
	return web_reply_json(r->conn, 200, json_pack("{s:o}", "items", items), NULL);
}

/* The finished bundle, with HTTP Range: downloads resume. */
int
web_api_export_bundle(struct web_req *r)
{
	char path[4200], hdr[200];
	int st = 404, fd;
	PGresult *res = visible_row(r, "e.state, e.path", &st);
	struct stat sb;

	if (res == NULL)
		return st;
	if (strcmp(PQgetvalue(res, 0, 0), "done") != 0) {
		PQclear(res);
		return web_reply_error(r->conn, 409, "not_ready", NULL, "the export is not done: see GET /api/v1/exports/%s",
		    r->path_arg);
	}
	snprintf(path, sizeof(path), "%s/%s", r->srv->cfg->storage_root, PQgetvalue(res, 0, 1));
	PQclear(res);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &sb) != 0) {
		nvr_log(NVR_LOG_ERROR, "API: export %s is done but %s cannot be read: %s", r->path_arg, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		web_req_audit(r, "export.download", r->path_arg, WEB_AUDIT_FAILED, "{\"reason\":\"file missing\"}");
		return web_reply_error(r->conn, 410, "gone", NULL, "the bundle's file is missing");
	}
	snprintf(hdr, sizeof(hdr), "Content-Disposition: attachment; filename=\"nvr-export-%s.tar\"\r\n", r->path_arg);
	st = web_send_file(r, fd, (uint64_t)sb.st_size, "application/x-tar", hdr);
	close(fd);
	web_req_audit(r, "export.download", r->path_arg, st < 400 ? WEB_AUDIT_OK : WEB_AUDIT_DENIED, NULL);
	return st;
}

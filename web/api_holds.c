/*
 * api_holds.c: evidence holds through the API (admin only): list, add,
 * release, on the same table as nvrctl hold, each change audited
 * (hold.add, hold.release). A hold is never deleted, only released.
 */
#include "autoconfig.h"

#include <string.h>

#include "nvrd/log.h"
#include "storage/hold.h"
#include "web/api.h"
#include "web/http.h"
#include "web/server_priv.h"

int
web_api_holds(struct web_req *r)
{
	json_t *v = NULL;

	if (stg_hold_list(r->db, false, &v) != NVR_OK)
		return web_reply_db_error(r->conn);
	return web_reply_json(r->conn, 200, json_pack("{s:o}", "items", v), NULL);
}

/* {camera, from, to, reason}: all strings. */
int
web_api_hold_add(struct web_req *r)
{
	static const char *const known[] = { "camera", "from", "to", "reason", NULL };
	int st = 400;
	json_t *body = web_read_json(r->conn, &st), *h = NULL;
	const char *f[4], *why = NULL;
	nvr_err rc;

	if (body == NULL)
		return st;
	if (!web_json_known(r->conn, body, known, &st))
		goto out;
	for (int i = 0; i < 4; i++) {
		if ((f[i] = json_string_value(json_object_get(body, known[i]))) == NULL) {
			st = web_reply_error(r->conn, 400, "bad_value", NULL, "%s must be a string", known[i]);
			goto out;
		}
	}
	rc = stg_hold_add(r->db, f[0], f[1], f[2], f[3], r->user.name, &h, &why);
	if (rc != NVR_OK) {
		st = rc == NVR_ERR_INVAL ? web_reply_error(r->conn, 400, "bad_value", NULL, "cannot hold %s: %s", f[0], why)
		                         : web_reply_db_error(r->conn);
		goto out;
	}
	nvr_log(NVR_LOG_NOTICE, "API: %s: hold.add %s on camera %s", r->user.name,
	    json_string_value(json_object_get(h, "id")), f[0]);
	web_req_audit_json(r, "hold.add", json_string_value(json_object_get(h, "id")), WEB_AUDIT_OK, json_incref(h));
	st = web_reply_json(r->conn, 201, h, NULL);
	h = NULL;
out:
	json_decref(h);
	json_decref(body);
	return st;
}

int
web_api_hold_release(struct web_req *r)
{
	json_t *h = NULL;
	nvr_err rc;

	if (!web_req_path_uuid(r, "hold"))
		return 404;
	if ((rc = stg_hold_release(r->db, r->path_arg, r->user.name, &h)) == NVR_ERR_INVAL)
		return web_reply_error(r->conn, 404, "not_found", NULL, "no active hold %s", r->path_arg);
	if (rc != NVR_OK)
		return web_reply_db_error(r->conn);
	nvr_log(NVR_LOG_NOTICE, "API: %s: hold.release %s", r->user.name, r->path_arg);
	web_req_audit_json(r, "hold.release", r->path_arg, WEB_AUDIT_OK, h);
	return web_reply(r->conn, 204, "application/json", NULL, NULL, 0);
}

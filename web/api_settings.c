/*
 * api_settings.c: settings changed at run time through the API, kept in
 * the settings table. For now one: web.allow, the host filter, which
 * once set here takes precedence over [web] allow in the file (a change
 * must not be undone by the next SIGHUP). A change that would lock out the
 * admin making it is refused.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrd/log.h"
#include "storage/db.h"
#include "web/api.h"
#include "web/http.h"
#include "web/server_priv.h"

static json_t *
allow_json(struct web_server *s)
{
	char text[WEB_HOSTFILTER_MAX_TEXT];

	pthread_rwlock_rdlock(&s->allow_lock);
	if (web_hostfilter_format(s->allow, text, sizeof(text)) != NVR_OK)
		snprintf(text, sizeof(text), "?");
	pthread_rwlock_unlock(&s->allow_lock);
	return json_pack("{s:s,s:s}", "value", text, "source", atomic_load(&s->allow_from_db) ? "database" : "configuration");
}

int
web_api_settings(struct web_req *r)
{
	return web_reply_json(r->conn, 200, json_pack("{s:o}", "web.allow", allow_json(r->srv)), NULL);
}

static nvr_err
store_allow(PGconn *db, const char *text)
{
	json_t *v = json_string(text);
	char *js = v != NULL ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
	const char *p[1] = { js };
	PGresult *res;
	nvr_err rc = NVR_ERR_NOMEM;

	if (js != NULL) {
		res = PQexecParams(db,
		    "INSERT INTO settings (name, value) VALUES ('web.allow', $1::jsonb) "
		    "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
		    1, NULL, p, NULL, NULL, 0);
		if ((rc = stg_db_check(db, res, PGRES_COMMAND_OK, "saving web.allow")) == NVR_OK)
			PQclear(res);
	}
	free(js);
	json_decref(v);
	return rc;
}

/* {"value": text} for the audit log, JSON-escaped by jansson. */
static void
value_detail(const char *text, char *out, size_t size)
{
	json_t *d = json_pack("{s:s}", "value", text);
	char *ds = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;

	snprintf(out, size, "%s", ds != NULL ? ds : "{}");
	free(ds);
	json_decref(d);
}

int
web_api_settings_allow(struct web_req *r)
{
	int status = 400;
	json_t *body = web_read_json(r->conn, &status), *v;
	struct web_hostfilter *next = NULL, *old;
	char why[256], text[WEB_HOSTFILTER_MAX_TEXT], detail[WEB_HOSTFILTER_MAX_TEXT + 64];

	if (body == NULL)
		return status;
	v = json_object_get(body, "value");
	if (!json_is_string(v))
		snprintf(why, sizeof(why), "the body must be {\"value\": \"10.0.0.0/8, ::1\"}");
	else if (web_hostfilter_parse(json_string_value(v), &next, why, sizeof(why)) == NVR_OK)
		why[0] = '\0';
	json_decref(body); /* v goes with it */
	if (next == NULL)
		return web_reply_error(r->conn, 400, "bad_value", NULL, "%s", why);
	if (!web_hostfilter_allows(next, r->addr)) {
		web_hostfilter_free(next);
		web_req_audit(r, "settings.change", "web.allow", WEB_AUDIT_DENIED, "{\"reason\":\"would lock out the caller\"}");
		return web_reply_error(r->conn, 409, "would_lock_out", NULL,
		    "this list does not allow your own address %s: the change would lock you out", r->addr);
	}
	if (web_hostfilter_format(next, text, sizeof(text)) != NVR_OK || store_allow(r->db, text) != NVR_OK) {
		web_hostfilter_free(next);
		return web_reply_error(r->conn, 503, "database", NULL, "the setting could not be saved; nothing changed");
	}
	pthread_rwlock_wrlock(&r->srv->allow_lock);
	old = r->srv->allow;
	r->srv->allow = next;
	atomic_store(&r->srv->allow_from_db, true);
	pthread_rwlock_unlock(&r->srv->allow_lock);
	web_hostfilter_free(old);
	nvr_log(NVR_LOG_NOTICE, "API: %s set web.allow to '%s'", r->user.name, text);
	value_detail(text, detail, sizeof(detail));
	web_req_audit(r, "settings.change", "web.allow", WEB_AUDIT_OK, detail);
	return web_reply_json(r->conn, 200, json_pack("{s:o}", "web.allow", allow_json(r->srv)), NULL);
}

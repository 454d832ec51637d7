/*
 * api_admin_cameras.c: cameras through the API (POST, PATCH and DELETE
 * under /api/v1/cameras), with nvrctl camera's rules, on the same catalog;
 * every change ends with NOTIFY, so nvrd follows it without a restart.
 * A camera password is sealed to the camera as nvrctl seals it, and is
 * never returned, logged or audited.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/camera.h"
#include "ingest/rtsp.h"
#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "storage/catalog.h"
#include "web/api.h"
#include "web/http.h"
#include "web/server_priv.h"

#define CAMERA_USER_MAX 256
#define CAMERA_PASSWORD_MAX 1024

/* How the request says to trust the camera's certificate. */
struct trust {
	bool given;     /* the body has "tls" */
	int n;          /* ways given: exactly one for rtsps */
	bool system_ca;
};

/* The setters below return 0, or the status of the error reply sent. */

static int
set_string(struct web_req *r, json_t *v, const char *name, size_t max, char **field)
{
	char *copy;

	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
		return web_reply_error(r->conn, 400, "bad_value", NULL, "%s must be a string of 1 to %zu bytes", name, max);
	if ((copy = strdup(json_string_value(v))) == NULL)
		return web_reply_error(r->conn, 503, "internal", NULL, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

static int
set_flag(struct web_req *r, json_t *v, const char *name, bool *field)
{
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return web_reply_error(r->conn, 400, "bad_value", NULL, "%s must be true or false", name);
	*field = json_is_true(v);
	return 0;
}

/* username and password: null removes both; the password is sealed to
 * the camera's id at once, and jansson's copy freed with the body. */
static int
set_credentials(struct web_req *r, json_t *body, struct stg_camera *c)
{
	json_t *u = json_object_get(body, "username"), *p = json_object_get(body, "password");
	int st;

	if (json_is_null(u) && (p == NULL || json_is_null(p))) {
		free(c->username);
		free(c->password_sealed);
		c->username = NULL;
		c->password_sealed = NULL;
		c->password_sealed_len = 0;
		return 0;
	}
	if (u != NULL && (st = set_string(r, u, "username", CAMERA_USER_MAX, &c->username)) != 0)
		return st;
	if (p == NULL)
		return 0;
	if (!json_is_string(p) || json_string_length(p) == 0 || json_string_length(p) > CAMERA_PASSWORD_MAX)
		return web_reply_error(r->conn, 400, "bad_value", NULL, "password must be a string of 1 to %d bytes",
		    CAMERA_PASSWORD_MAX);
	if (stg_catalog_camera_seal_password(r->srv->secret, c, json_string_value(p)) != NVR_OK)
		return web_reply_error(r->conn, 503, "internal", NULL, "cannot seal the camera password");
	return 0;
}

/* tls: {"ca_pem": PEM} | {"pin_sha256": hex} | {"system_ca": true}; {}
 * for none (rtsp://). Replaces the camera's trust. */
static int
set_trust(struct web_req *r, json_t *v, struct stg_camera *c, struct trust *t)
{
	static const char *const known[] = { "ca_pem", "pin_sha256", "system_ca", NULL };
	json_t *ca = json_object_get(v, "ca_pem"), *pin = json_object_get(v, "pin_sha256");
	json_t *sys = json_object_get(v, "system_ca");
	int st = 400;

	t->given = v != NULL;
	if (!t->given)
		return 0;
	if (!json_is_object(v))
		return web_reply_error(r->conn, 400, "bad_value", NULL, "tls must be an object: ca_pem, pin_sha256 or system_ca");
	if (!web_json_known(r->conn, v, known, &st))
		return st;
	free(c->tls_ca_pem);
	c->tls_ca_pem = NULL;
	c->has_pin = false;
	t->system_ca = json_is_true(sys);
	t->n = (ca != NULL) + (pin != NULL) + t->system_ca;
	if (sys != NULL && !t->system_ca)
		return web_reply_error(r->conn, 400, "bad_value", NULL, "tls.system_ca can only be true");
	if (pin != NULL && !(json_is_string(pin) && (c->has_pin = stg_catalog_parse_pin(json_string_value(pin), c->pin))))
		return web_reply_error(r->conn, 400, "bad_value", NULL,
		    "bad tls.pin_sha256: 64 hex digits, colons allowed (openssl x509 -noout -fingerprint -sha256)");
	if (ca == NULL)
		return 0;
	if (!json_is_string(ca) || !stg_catalog_ca_pem_ok(json_string_value(ca), json_string_length(ca)))
		return web_reply_error(r->conn, 400, "bad_value", NULL,
		    "tls.ca_pem holds no PEM certificate: give the camera vendor's root (and intermediate) certificates");
	return set_string(r, ca, "tls.ca_pem", WEB_BODY_MAX, &c->tls_ca_pem);
}

/* transport: "tcp", "udp" or "tunnel"; absent keeps the camera's. As
 * nvrctl: a tunnel URL is always tunnelled, so tcp becomes tunnel there
 * and udp is refused (the tunnel carries RTP on its HTTP connections). */
static int
set_transport(struct web_req *r, json_t *v, const struct ing_rtsp_url *u, struct stg_camera *c)
{
	enum ing_transport t = ING_TRANSPORT_TCP;

	if (v != NULL && (!json_is_string(v) || ing_transport_parse(json_string_value(v), &t) != NVR_OK))
		return web_reply_error(r->conn, 400, "bad_value", NULL, "unknown transport '%.16s': give tcp, udp or tunnel",
		    json_is_string(v) ? json_string_value(v) : "");
	if (v == NULL && c->transport[0] != '\0' && ing_transport_parse(c->transport, &t) != NVR_OK)
		t = ING_TRANSPORT_TCP; /* the database allows no other name */
	if (ing_transport_for_url(t, u, &t) != NVR_OK)
		return web_reply_error(r->conn, 400, "bad_value", NULL,
		    "UDP cannot go through an HTTP tunnel: an https:// or http:// URL is always tunnelled; "
		    "leave transport out, or use rtsps://");
	snprintf(c->transport, sizeof(c->transport), "%s", ing_transport_name(t));
	return 0;
}

/* The rules of nvrctl camera add, on the camera as it would be stored.
 * old_tls: the URL before the change had TLS (false when adding). */
static int
check_camera(struct web_req *r, struct stg_camera *c, bool url_changed, bool old_tls, const struct trust *t,
    bool insecure, json_t *transport)
{
	struct ing_rtsp_url u;
	const char *why = NULL;
	int st;

	if (c->url == NULL || ing_rtsp_url_parse(c->url, &u, &why) != NVR_OK)
		return web_reply_error(r->conn, 400, "bad_value", NULL,
		    "bad or missing url: %s (e.g. rtsps://192.0.2.10:322/stream1)", why != NULL ? why : "none given");
	if (u.tls && (t->given || !old_tls) && t->n != 1)
		return web_reply_error(r->conn, 400, "bad_value", NULL,
		    "an rtsps camera needs exactly one way to trust its certificate: tls.ca_pem (the vendor's root), "
		    "tls.pin_sha256 (the camera's own certificate) or tls.system_ca");
	if (!u.tls && t->given && t->n != 0)
		return web_reply_error(r->conn, 400, "bad_value", NULL, "tls applies to rtsps:// and https:// cameras only");
	if (!u.tls && url_changed && !insecure)
		return web_reply_error(r->conn, 400, "bad_value", NULL,
		    "%s sends the camera's login exchange and its SRTP keys across the network in clear: "
		    "use rtsps:// or https:// (TLS) if the camera can; set insecure_rtsp to accept the risk",
		    u.tunnel ? "http:// (a tunnel without TLS)" : "rtsp://");
	if ((st = set_transport(r, transport, &u, c)) != 0)
		return st;
	if (!u.tls) { /* nothing to trust without TLS */
		free(c->tls_ca_pem);
		c->tls_ca_pem = NULL;
		c->has_pin = false;
	}
	if ((c->username == NULL) != (c->password_sealed == NULL))
		return web_reply_error(r->conn, 400, "bad_value", NULL, "username and password go together");
	return 0;
}

/* Applies the members of body (other than name) to c, then checks it. */
static int
apply(struct web_req *r, json_t *body, struct stg_camera *c, bool adding)
{
	json_t *url = json_object_get(body, "url");
	bool old_tls = !adding && c->url != NULL && ing_rtsp_url_tls(c->url), insecure = false;
	struct trust t = { 0 };
	int st;

	if ((url != NULL && (st = set_string(r, url, "url", 2048, &c->url)) != 0) ||
	    (st = set_credentials(r, body, c)) != 0 || (st = set_trust(r, json_object_get(body, "tls"), c, &t)) != 0 ||
	    (st = set_flag(r, json_object_get(body, "allow_basic"), "allow_basic", &c->allow_basic)) != 0 ||
	    (st = set_flag(r, json_object_get(body, "plain_rtp"), "plain_rtp", &c->plain_rtp)) != 0 ||
	    (st = set_flag(r, json_object_get(body, "enabled"), "enabled", &c->enabled)) != 0 ||
	    (st = set_flag(r, json_object_get(body, "insecure_rtsp"), "insecure_rtsp", &insecure)) != 0)
		return st;
	return check_camera(r, c, adding || url != NULL, old_tls, &t, insecure, json_object_get(body, "transport"));
}

static const char *
trust_name(const struct stg_camera *c)
{
	if (c->has_pin)
		return "pin_sha256";
	if (c->tls_ca_pem != NULL)
		return "ca_pem";
	return c->url != NULL && ing_rtsp_url_tls(c->url) ? "system_ca" : "none";
}

/* A camera's settings, as the admin calls answer them (never the
 * password, only whether one is set); for the audit log too. */
static json_t *
camera_json(const struct stg_camera *c, bool with_id)
{
	char id[NVR_UUID_STRLEN], pin[65];
	json_t *j;

	nvr_uuid_format(&c->id, id);
	if (c->has_pin)
		nvr_hex_encode(c->pin, 32, pin);
	j = json_pack("{s:s,s:s,s:o,s:b,s:s,s:o,s:b,s:b,s:s,s:b}", "name", c->name, "url", c->url, "username",
	    c->username != NULL ? json_string(c->username) : json_null(), "password_set", c->password_sealed != NULL,
	    "trust", trust_name(c), "pin_sha256", c->has_pin ? json_string(pin) : json_null(), "allow_basic",
	    c->allow_basic, "plain_rtp", c->plain_rtp, "transport", c->transport[0] ? c->transport : "tcp", "enabled",
	    c->enabled);
	if (j != NULL && with_id)
		json_object_set_new(j, "id", json_string(id));
	if (j != NULL)
		json_object_set_new(j, "retention",
		    json_pack("{s:o,s:o}", "max_age_days", c->keep_days > 0 ? json_real(c->keep_days) : json_null(),
			"max_bytes", c->keep_bytes > 0 ? json_integer(c->keep_bytes) : json_null()));
	return j;
}

/* After a change is stored: nvrd is told (NOTIFY), and it is audited;
 * marking a camera plain RTP, or unmarking it, has its own event. */
static void
changed(struct web_req *r, const char *action, const struct stg_camera *c, bool plain_changed)
{
	if (stg_catalog_notify(r->db) != NVR_OK)
		nvr_log(NVR_LOG_ERROR, "API: camera %s changed, but nvrd was not told; it applies the change when it restarts",
		    c->name);
	nvr_log(NVR_LOG_NOTICE, "API: %s: %s %s", r->user.name, action, c->name);
	web_req_audit_json(r, action, c->name, WEB_AUDIT_OK, camera_json(c, false));
	if (plain_changed)
		web_req_audit_json(r, "camera.plain_rtp", c->name, WEB_AUDIT_OK, json_pack("{s:b}", "plain_rtp", c->plain_rtp));
}

static int
check_new(struct web_req *r, json_t *body, struct stg_camera *c)
{
	static const char *const known[] = { "name", "url", "username", "password", "tls", "allow_basic", "plain_rtp",
		"transport", "insecure_rtsp", "enabled", NULL };
	json_t *name = json_object_get(body, "name");
	const char *why = "name must be a string";
	int st = 400;

	if (!web_json_known(r->conn, body, known, &st))
		return st;
	if (!json_is_string(name) || (why = stg_catalog_check_name(json_string_value(name), false)) != NULL)
		return web_reply_error(r->conn, 400, "bad_value", NULL, "bad camera name '%.64s': %s",
		    json_is_string(name) ? json_string_value(name) : "", why);
	snprintf(c->name, sizeof(c->name), "%s", json_string_value(name));
	c->enabled = true;
	if (nvr_uuid_new(&c->id) != NVR_OK) /* before the password is sealed to it */
		return web_reply_error(r->conn, 503, "internal", NULL, "cannot make a camera id");
	return apply(r, body, c, true);
}

int
web_api_camera_add(struct web_req *r)
{
	int st = 400;
	json_t *body = web_read_json(r->conn, &st);
	struct stg_camera c = { 0 };
	nvr_err rc;

	if (body == NULL)
		return st;
	if ((st = check_new(r, body, &c)) != 0)
		goto out;
	if ((rc = stg_catalog_camera_add(r->db, &c)) != NVR_OK) {
		st = rc == NVR_ERR_INVAL ? web_reply_error(r->conn, 409, "exists", NULL, "a camera named %s exists", c.name)
		                         : web_reply_db_error(r->conn);
		goto out;
	}
	changed(r, "camera.add", &c, c.plain_rtp);
	st = web_reply_json(r->conn, 201, camera_json(&c, true), NULL);
out:
	stg_camera_clear(&c);
	json_decref(body);
	return st;
}

/* The camera named by the path: 0, or the 404 or 503 sent. */
static int
path_camera(struct web_req *r, struct stg_camera *c)
{
	nvr_err rc = stg_catalog_camera_get(r->db, r->path_arg, c);

	if (rc == NVR_ERR_INVAL)
		return web_reply_error(r->conn, 404, "not_found", NULL, "no camera named %s", r->path_arg);
	return rc == NVR_OK ? 0 : web_reply_db_error(r->conn);
}

/* One retention limit: absent (NULL, unchanged), null ("", none) or a
 * number above 0 (its text in buf). Returns 0 or the 400 sent. */
static int
limit(struct web_req *r, json_t *v, const char *name, bool integer, char *buf, size_t size, const char **out)
{
	*out = NULL;
	if (v == NULL)
		return 0;
	if (json_is_null(v)) {
		*out = "";
		return 0;
	}
	if (integer && json_is_integer(v) && json_integer_value(v) > 0)
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else if (!integer && json_is_number(v) && json_number_value(v) > 0 && json_number_value(v) < 1e6)
		snprintf(buf, size, "%.9g", json_number_value(v));
	else
		return web_reply_error(r->conn, 400, "bad_value", NULL, "retention.%s must be a number above 0, or null",
		    name);
	*out = buf;
	return 0;
}

/* retention: {max_age_days, max_bytes}, each null for no limit; stored
 * without restarting the camera. Returns 0 or the reply sent. */
static int
set_retention(struct web_req *r, json_t *v, struct stg_camera *c)
{
	static const char *const known[] = { "max_age_days", "max_bytes", NULL };
	char dbuf[32], bbuf[32];
	const char *days, *bytes;
	int st = 400;
	nvr_err rc;

	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return web_reply_error(r->conn, 400, "bad_value", NULL, "retention must be an object: max_age_days, max_bytes");
	if (!web_json_known(r->conn, v, known, &st))
		return st;
	if ((st = limit(r, json_object_get(v, "max_age_days"), "max_age_days", false, dbuf, sizeof(dbuf), &days)) != 0 ||
	    (st = limit(r, json_object_get(v, "max_bytes"), "max_bytes", true, bbuf, sizeof(bbuf), &bytes)) != 0)
		return st;
	if ((rc = stg_catalog_camera_retention(r->db, c->name, days, bytes)) != NVR_OK)
		return rc == NVR_ERR_INVAL ? web_reply_error(r->conn, 404, "not_found", NULL, "no camera named %s", c->name)
		                           : web_reply_db_error(r->conn);
	if (days != NULL)
		c->keep_days = days[0] ? strtod(days, NULL) : 0;
	if (bytes != NULL)
		c->keep_bytes = bytes[0] ? strtoll(bytes, NULL, 10) : 0;
	return 0;
}

int
web_api_camera_change(struct web_req *r)
{
	static const char *const known[] = { "url", "username", "password", "tls", "allow_basic", "plain_rtp",
		"transport", "insecure_rtsp", "enabled", "retention", NULL };
	int st = 400;
	json_t *body = web_read_json(r->conn, &st);
	struct stg_camera c = { 0 };
	bool was_plain;
	nvr_err rc;

	if (body == NULL)
		return st;
	if (!web_json_known(r->conn, body, known, &st) || (st = path_camera(r, &c)) != 0)
		goto out;
	if (json_object_size(body) == 0) {
		st = web_reply_error(r->conn, 400, "bad_request", NULL,
		    "nothing to change: give url, username, password, tls, allow_basic, plain_rtp, transport, enabled or retention");
		goto out;
	}
	was_plain = c.plain_rtp;
	if ((st = apply(r, body, &c, false)) != 0 || (st = set_retention(r, json_object_get(body, "retention"), &c)) != 0)
		goto out;
	/* retention alone does not restart the camera */
	if (json_object_size(body) == 1 && json_object_get(body, "retention") != NULL) {
		changed(r, "camera.change", &c, false);
		st = web_reply_json(r->conn, 200, camera_json(&c, true), NULL);
		goto out;
	}
	if ((rc = stg_catalog_camera_update(r->db, &c)) != NVR_OK) {
		st = rc == NVR_ERR_INVAL ? web_reply_error(r->conn, 409, "conflict", NULL,
		                               "camera %s was changed or removed meanwhile; read it again", c.name)
		                         : web_reply_db_error(r->conn);
		goto out;
	}
	changed(r, "camera.change", &c, c.plain_rtp != was_plain);
	st = web_reply_json(r->conn, 200, camera_json(&c, true), NULL);
out:
	stg_camera_clear(&c);
	json_decref(body);
	return st;
}

int
web_api_camera_remove(struct web_req *r)
{
	nvr_err rc = stg_catalog_camera_remove(r->db, r->path_arg);

	if (rc == NVR_ERR_INVAL)
		return web_reply_error(r->conn, 404, "not_found", NULL, "no camera named %s", r->path_arg);
	if (rc != NVR_OK)
		return web_reply_db_error(r->conn);
	if (stg_catalog_notify(r->db) != NVR_OK)
		nvr_log(NVR_LOG_ERROR, "API: camera %s removed, but nvrd was not told; it stops it when it restarts",
		    r->path_arg);
	nvr_log(NVR_LOG_NOTICE, "API: %s: camera.remove %s (its recordings are kept)", r->user.name, r->path_arg);
	web_req_audit(r, "camera.remove", r->path_arg, WEB_AUDIT_OK, NULL);
	return web_reply(r->conn, 204, "application/json", NULL, NULL, 0);
}

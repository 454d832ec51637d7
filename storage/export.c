/*
 * export.c: choosing what an export holds and taking its holds
 * (export.h). The tar itself is written by export_write.c; what they
 * share is in export_priv.h.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrd/util.h"
#include "storage/db.h"
#include "storage/export_priv.h"
#include "storage/hold.h"
#include "storage/manifest.h"

/* The hold's reason: the export's id, then the export's reason, cut on a
 * character boundary to fit a hold's bound. */
static void
hold_reason(const struct stg_export_req *req, char out[STG_HOLD_REASON_MAX + 1])
{
	char id[NVR_UUID_STRLEN];
	size_t n;

	nvr_uuid_format(&req->id, id);
	n = (size_t)snprintf(out, STG_HOLD_REASON_MAX + 1, "export %s: %s", id, req->reason);
	if (n > STG_HOLD_REASON_MAX) {
		n = STG_HOLD_REASON_MAX;
		while (n > 0 && ((unsigned char)out[n] & 0xc0) == 0x80)
			n--;
		out[n] = '\0';
	}
}

static nvr_err
check_req(const struct stg_export_req *req, const char **why)
{
	int64_t from_ns, to_ns;

	if (req->ncameras == 0 || req->ncameras > STG_EXPORT_CAMERAS_MAX) {
		*why = "an export names 1 to 64 cameras";
		return NVR_ERR_INVAL;
	}
	if (req->reason == NULL || req->reason[0] == '\0' || strlen(req->reason) > STG_EXPORT_REASON_MAX) {
		*why = "an export needs a reason of 1 to 1024 bytes";
		return NVR_ERR_INVAL;
	}
	if (req->from == NULL || req->to == NULL) {
		*why = "an export needs a time range: from and to";
		return NVR_ERR_INVAL;
	}
	/* checked here, not left to timestamptz, which reads a time without a
	 * zone in the server's time zone: the bundle keeps these strings */
	if (stg_time_parse_utc(req->from, &from_ns) != NVR_OK || stg_time_parse_utc(req->to, &to_ns) != NVR_OK) {
		*why = "from and to must be UTC times (RFC 3339, e.g. 2026-11-22T10:00:00Z)";
		return NVR_ERR_INVAL;
	}
	if (from_ns >= to_ns) {
		*why = "from must be before to";
		return NVR_ERR_INVAL;
	}
	for (size_t i = 0; i < req->ncameras; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(req->cameras[i], req->cameras[j]) == 0) {
				*why = "a camera is named twice";
				return NVR_ERR_INVAL;
			}
	return NVR_OK;
}

nvr_err
stg_export_prepare(PGconn *db, const struct stg_export_req *req, json_t **holds, char *why, size_t whysize)
{
	char reason[STG_HOLD_REASON_MAX + 1];
	const char *w = NULL;
	json_t *h = NULL;
	nvr_err rc;

	*holds = NULL;
	if ((rc = check_req(req, &w)) != NVR_OK) {
		snprintf(why, whysize, "%s", w);
		return rc;
	}
	if ((*holds = json_array()) == NULL)
		return NVR_ERR_NOMEM;
	hold_reason(req, reason);
	if ((rc = stg_db_exec(db, "BEGIN", "export holds")) != NVR_OK)
		goto out;
	for (size_t i = 0; i < req->ncameras; i++) {
		rc = stg_hold_add(db, req->cameras[i], req->from, req->to, reason, req->actor, &h, &w);
		if (rc == NVR_ERR_INVAL)
			snprintf(why, whysize, "camera '%s': %s", req->cameras[i], w);
		if (rc != NVR_OK)
			break;
		json_array_append_new(*holds, h);
	}
	rc = rc == NVR_OK ? stg_db_exec(db, "COMMIT", "export holds") : rc;
out:
	if (rc != NVR_OK) {
		stg_db_exec(db, "ROLLBACK", "export holds");
		json_decref(*holds);
		*holds = NULL;
		if (rc != NVR_ERR_INVAL)
			snprintf(why, whysize, "cannot take the evidence holds: %s", nvr_err_str(rc));
	}
	return rc;
}

/* ---- choosing the segments --------------------------------------------- */

/* The segments of the cameras overlapping the range, by camera (in the
 * request's order), stream name and seq, capped one past the bound so a
 * bigger export is refused rather than cut. */
static const char segments_sql[] =
    "SELECT c.id, c.name, s.id, s.name, g.id, g.seq, g.key_id, g.path, g.bytes,"
    " (extract(epoch FROM lower(g.time_range)) * 1000000)::bigint,"
    " (extract(epoch FROM upper(g.time_range)) * 1000000)::bigint"
    " FROM unnest($1::text[]) WITH ORDINALITY AS want(name, n)"
    " JOIN cameras c ON c.name = want.name AND c.removed_at IS NULL JOIN streams s ON s.camera_id = c.id"
    " JOIN segments g ON g.stream_id = s.id"
    " WHERE g.time_range && tstzrange($2::timestamptz, $3::timestamptz, '[)')"
    " ORDER BY want.n, s.name, g.seq LIMIT " NVR_STR(STG_EXPORT_SEGMENTS_MAX) " + 1";

/* A PostgreSQL text[] literal of the camera names: each quoted, with \ and
 * " escaped. A new string the caller frees. */
static char *
names_array(const struct stg_export_req *req)
{
	size_t cap = 3;
	char *s, *p;

	for (size_t i = 0; i < req->ncameras; i++)
		cap += 2 * strlen(req->cameras[i]) + 3;
	if ((s = p = malloc(cap)) == NULL)
		return NULL;
	*p++ = '{';
	for (size_t i = 0; i < req->ncameras; i++) {
		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		for (const char *c = req->cameras[i]; *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				*p++ = '\\';
			*p++ = *c;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return s;
}

static nvr_err
copy_row(PGresult *r, int i, struct xseg *s)
{
	snprintf(s->camera_id, sizeof(s->camera_id), "%s", PQgetvalue(r, i, 0));
	snprintf(s->camera, sizeof(s->camera), "%s", PQgetvalue(r, i, 1));
	snprintf(s->stream_id, sizeof(s->stream_id), "%s", PQgetvalue(r, i, 2));
	snprintf(s->stream, sizeof(s->stream), "%s", PQgetvalue(r, i, 3));
	snprintf(s->id, sizeof(s->id), "%s", PQgetvalue(r, i, 4));
	s->seq = strtoull(PQgetvalue(r, i, 5), NULL, 10);
	snprintf(s->key_id, sizeof(s->key_id), "%s", PQgetvalue(r, i, 6));
	s->bytes = strtoull(PQgetvalue(r, i, 8), NULL, 10);
	s->start_ns = strtoll(PQgetvalue(r, i, 9), NULL, 10) * 1000;
	s->end_ns = strtoll(PQgetvalue(r, i, 10), NULL, 10) * 1000;
	/* A path the recorder wrote, relative to the root: never absolute,
	 * never climbing out of it. */
	if (snprintf(s->path, sizeof(s->path), "%s", PQgetvalue(r, i, 7)) >= (int)sizeof(s->path) ||
	    s->path[0] == '/' || strstr(s->path, "..") != NULL)
		return NVR_ERR_INVAL;
	return NVR_OK;
}

/* The id of each camera named, in the request's order ("" if none). */
static nvr_err
camera_ids(PGconn *db, const char *names, const struct stg_export_req *req, struct xplan *pl)
{
	const char *p[1] = { names };
	PGresult *r = PQexecParams(db,
	    "SELECT c.id, coalesce(st.state = 'recording', false) FROM unnest($1::text[]) WITH ORDINALITY AS want(name, n)"
	    " LEFT JOIN cameras c ON c.name = want.name AND c.removed_at IS NULL"
	    " LEFT JOIN camera_status st ON st.camera_id = c.id ORDER BY want.n",
	    1, NULL, p, NULL, NULL, 0);

	if (stg_db_check(db, r, PGRES_TUPLES_OK, "export cameras") != NVR_OK)
		return NVR_ERR_DB;
	if ((pl->camera_ids = calloc(req->ncameras, sizeof(*pl->camera_ids))) == NULL ||
	    (pl->recording = calloc(req->ncameras, sizeof(*pl->recording))) == NULL) {
		PQclear(r);
		return NVR_ERR_NOMEM;
	}
	for (int i = 0; i < PQntuples(r) && (size_t)i < req->ncameras; i++) {
		snprintf(pl->camera_ids[i], sizeof(pl->camera_ids[i]), "%s", PQgetvalue(r, i, 0));
		pl->recording[i] = PQgetvalue(r, i, 1)[0] == 't';
	}
	PQclear(r);
	return NVR_OK;
}

nvr_err
stg_export_select(PGconn *db, const struct stg_export_req *req, struct xplan *pl, char *why, size_t whysize)
{
	char *names = names_array(req);
	const char *p[3] = { names, req->from, req->to };
	PGresult *r = NULL;
	nvr_err rc = NVR_ERR_NOMEM;
	int n;

	if (names == NULL)
		goto out;
	r = PQexecParams(db, segments_sql, 3, NULL, p, NULL, NULL, 0);
	if ((rc = stg_db_check(db, r, PGRES_TUPLES_OK, "export segments")) != NVR_OK) {
		r = NULL;
		snprintf(why, whysize, "cannot list the segments: PostgreSQL refused the query");
		goto out;
	}
	if ((n = PQntuples(r)) > STG_EXPORT_SEGMENTS_MAX) {
		snprintf(why, whysize, "the range holds more than %d segments: export it in parts",
		    STG_EXPORT_SEGMENTS_MAX);
		rc = NVR_ERR_TOOBIG;
		goto out;
	}
	rc = NVR_ERR_NOMEM;
	if (n > 0 && (pl->segs = calloc((size_t)n, sizeof(*pl->segs))) == NULL)
		goto out;
	for (pl->nsegs = 0; pl->nsegs < (size_t)n; pl->nsegs++) {
		if (copy_row(r, (int)pl->nsegs, &pl->segs[pl->nsegs]) != NVR_OK) {
			snprintf(why, whysize, "segment %s has an index path outside the storage root",
			    PQgetvalue(r, (int)pl->nsegs, 4));
			rc = NVR_ERR_INVAL;
			goto out;
		}
	}
	rc = camera_ids(db, names, req, pl);
out:
	PQclear(r);
	free(names);
	return rc;
}

void
stg_export_plan_free(struct xplan *pl)
{
	free(pl->segs);
	free(pl->camera_ids);
	free(pl->recording);
	memset(pl, 0, sizeof(*pl));
}

/* ---- audit rows ---------------------------------------------------------- */

/* Rows about the export, its holds, the cameras or the segments, in id
 * order, as JSON text PostgreSQL writes (hashes in hex, time in
 * microseconds, as docs/FORMAT.md 11.2 hashes them). */
static const char audit_sql[] =
    "WITH objs AS (SELECT unnest($1::text[]) AS o UNION SELECT c.id::text FROM cameras c"
    "  WHERE c.name = ANY($2::text[]) UNION SELECT g.id::text FROM segments g"
    "  JOIN streams s ON s.id = g.stream_id JOIN cameras c ON c.id = s.camera_id"
    "  WHERE c.name = ANY($2::text[]) AND g.time_range && tstzrange($3::timestamptz, $4::timestamptz, '[)'))"
    " SELECT json_build_object('id', a.id, 'at_us', (extract(epoch FROM a.at) * 1000000)::bigint,"
    "  'at', to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    "  'actor', a.actor, 'address', a.address, 'action', a.action, 'object', a.object,"
    "  'outcome', a.outcome, 'detail', a.detail, 'prev_sha256', encode(a.prev_sha256, 'hex'),"
    "  'sha256', encode(a.sha256, 'hex'))::text, a.id"
    " FROM audit_log a WHERE a.object IN (SELECT o FROM objs) ORDER BY a.id"
    " LIMIT " NVR_STR(STG_EXPORT_AUDIT_MAX);

/* The export's own id, its holds' ids and the camera names (names, as
 * names_array made it), as a text[] literal: all are UUIDs or camera
 * names (no quotes or backslashes in a UUID; names are escaped). A new
 * string the caller frees. */
static char *
audit_objects(const struct stg_export_req *req, const json_t *holds, const char *names)
{
	char *s, id[NVR_UUID_STRLEN];
	size_t cap = strlen(names) + (json_array_size(holds) + 1) * (NVR_UUID_STRLEN + 3) + 4, off;

	if ((s = malloc(cap)) == NULL)
		return NULL;
	nvr_uuid_format(&req->id, id);
	/* names is "{...}": reuse its inside. */
	off = (size_t)snprintf(s, cap, "{\"%s\"", id);
	for (size_t i = 0; i < json_array_size(holds); i++)
		off += (size_t)snprintf(s + off, cap - off, ",\"%s\"",
		    json_string_value(json_object_get(json_array_get(holds, i), "id")));
	snprintf(s + off, cap - off, "%s%s", strlen(names) > 2 ? "," : "", names + 1);
	return s;
}

nvr_err
stg_export_audit(PGconn *db, const struct stg_export_req *req, const json_t *holds, PGresult **rows)
{
	char *names = names_array(req), *objs = names != NULL ? audit_objects(req, holds, names) : NULL;
	const char *p[4] = { objs, names, req->from, req->to };
	PGresult *r;
	nvr_err rc = NVR_ERR_NOMEM;

	*rows = NULL;
	if (objs != NULL && names != NULL) {
		r = PQexecParams(db, audit_sql, 4, NULL, p, NULL, NULL, 0);
		if ((rc = stg_db_check(db, r, PGRES_TUPLES_OK, "export audit rows")) == NVR_OK)
			*rows = r;
	}
	free(objs);
	free(names);
	return rc;
}

/*
 * hold.c: evidence holds in PostgreSQL. The rows are turned into JSON by
 * PostgreSQL itself, so nvrctl and the API show exactly the same fields.
 * It must never delete a hold row: a released hold is part of the record.
 */
#include "autoconfig.h"

#include <string.h>

#include "nvrd/uuid.h"
#include "storage/db.h"
#include "storage/hold.h"
#include "storage/manifest.h"

/* Times as the API writes them everywhere: UTC, microseconds, Z. */
#define UTC(t) "to_char(" t " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define HOLD_JSON                                                                                 \
	"json_build_object('id', h.id, 'camera', c.name, 'from', " UTC("lower(h.time_range)") ","    \
	" 'to', " UTC("upper(h.time_range)") ", 'reason', h.reason, 'created_by', h.created_by,"     \
	" 'created_at', " UTC("h.created_at") ", 'released_at', " UTC("h.released_at") ","           \
	" 'released_by', h.released_by)"

/* One JSON text value of a result into a new json_t. */
static nvr_err
parse_json(PGresult *r, json_t **out)
{
	*out = PQntuples(r) == 1 ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
	return *out != NULL ? NVR_OK : NVR_ERR_INTERNAL;
}

/* Runs sql; a data error (SQLSTATE class 22: a malformed time, an
 * empty range) or a check violation (23514) is NVR_ERR_INVAL, unlogged. */
static nvr_err
run(PGconn *db, const char *sql, int n, const char *const *p, PGresult **out)
{
	PGresult *r = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	*out = NULL;
	if (state != NULL && (strncmp(state, "22", 2) == 0 || strcmp(state, "23514") == 0)) {
		PQclear(r);
		return NVR_ERR_INVAL;
	}
	if (stg_db_check(db, r, PGRES_TUPLES_OK, "holds") != NVR_OK)
		return NVR_ERR_DB;
	*out = r;
	return NVR_OK;
}

nvr_err
stg_hold_add(PGconn *db, const char *camera, const char *from, const char *to, const char *reason,
    const char *by, json_t **out, const char **why)
{
	char id[NVR_UUID_STRLEN];
	nvr_uuid u;
	const char *p[6] = { id, camera, from, to, reason, by };
	int64_t from_ns, to_ns;
	PGresult *r;
	nvr_err rc;

	*out = NULL;
	*why = NULL;
	if (reason == NULL || reason[0] == '\0' || strlen(reason) > STG_HOLD_REASON_MAX) {
		*why = "a reason of 1 to 1024 bytes is required";
		return NVR_ERR_INVAL;
	}
	/* checked here, not left to timestamptz, which reads a time without
	 * a zone in the server's time zone, and words such as 'yesterday' */
	if (stg_time_parse_utc(from, &from_ns) != NVR_OK || stg_time_parse_utc(to, &to_ns) != NVR_OK) {
		*why = "from and to must be UTC times (RFC 3339, e.g. 2026-11-22T10:00:00Z)";
		return NVR_ERR_INVAL;
	}
	if (from_ns >= to_ns) {
		*why = "from must be before to";
		return NVR_ERR_INVAL;
	}
	if (nvr_uuid_new(&u) != NVR_OK)
		return NVR_ERR_INTERNAL;
	nvr_uuid_format(&u, id);
	rc = run(db,
	    "WITH h AS (INSERT INTO holds (id, camera_id, time_range, reason, created_by)"
	    " SELECT $1::uuid, c.id, tstzrange($3::timestamptz, $4::timestamptz, '[)'), $5, $6 FROM cameras c"
	    " WHERE c.name = $2 AND c.removed_at IS NULL AND $3::timestamptz < $4::timestamptz RETURNING *)"
	    " SELECT " HOLD_JSON " FROM h JOIN cameras c ON c.id = h.camera_id",
	    6, p, &r);
	if (rc != NVR_OK)
		return rc;
	if (PQntuples(r) == 0) {
		*why = "no such camera";
		rc = NVR_ERR_INVAL;
	} else {
		rc = parse_json(r, out);
	}
	PQclear(r);
	return rc;
}

nvr_err
stg_hold_list(PGconn *db, bool all, json_t **out)
{
	const char *p[1] = { all ? "t" : "f" };
	PGresult *r;
	nvr_err rc = run(db,
	    "SELECT coalesce(json_agg(" HOLD_JSON " ORDER BY h.created_at DESC, h.id), '[]') FROM holds h"
	    " JOIN cameras c ON c.id = h.camera_id WHERE $1::boolean OR h.released_at IS NULL",
	    1, p, &r);

	*out = NULL;
	if (rc != NVR_OK)
		return rc;
	rc = parse_json(r, out);
	PQclear(r);
	return rc;
}

nvr_err
stg_hold_release(PGconn *db, const char *id, const char *by, json_t **out)
{
	const char *p[2] = { id, by };
	PGresult *r;
	json_t *j = NULL;
	nvr_uuid u;
	nvr_err rc;

	if (out != NULL)
		*out = NULL;
	if (nvr_uuid_parse(id, &u) != NVR_OK)
		return NVR_ERR_INVAL;
	rc = run(db,
	    "WITH h AS (UPDATE holds SET released_at = now(), released_by = $2 WHERE id = $1::uuid"
	    " AND released_at IS NULL RETURNING *) SELECT " HOLD_JSON " FROM h JOIN cameras c ON c.id = h.camera_id",
	    2, p, &r);
	if (rc != NVR_OK)
		return rc;
	rc = PQntuples(r) == 1 ? parse_json(r, &j) : NVR_ERR_INVAL;
	PQclear(r);
	if (out != NULL)
		*out = j;
	else
		json_decref(j);
	return rc;
}

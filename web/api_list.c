/*
 * api_list.c: the read-only listings: cameras (with ingest state), users,
 * key holders, and the audit log. Every list is paged; every filter is validated before
 * it reaches SQL, and reaches it only as a parameter.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/db.h"
#include "storage/manifest.h"
#include "web/api.h"
#include "web/http.h"
#include "web/pool.h"
#include "web/server_priv.h"

/* A column as JSON by the type prefix of its name: '#' integer, '?'
 * boolean (PostgreSQL's 't'), '@' JSON made by PostgreSQL, none string;
 * NULL as null. */
static json_t *
col(PGresult *res, int row, int c, char type)
{
	const char *v = PQgetvalue(res, row, c);

	if (PQgetisnull(res, row, c))
		return json_null();
	if (type == '#')
		return json_integer(strtoll(v, NULL, 10));
	if (type == '?')
		return json_boolean(v[0] == 't');
	if (type == '@')
		return json_loads(v, JSON_DECODE_ANY, NULL);
	return json_string(v);
}

/* Row i as an object; names[c] == NULL ends the columns, each named as
 * col() reads its type. */
static json_t *
row_of(PGresult *res, int i, const char *const *names)
{
	json_t *o = json_object();
	char type;

	for (int c = 0; names[c] != NULL; c++) {
		type = '\0';
		if (names[c][0] == '#' || names[c][0] == '?' || names[c][0] == '@')
			type = names[c][0];
		json_object_set_new(o, names[c] + (type != '\0'), col(res, i, c, type));
	}
	return o;
}

/* {"items": [...], "total": N, "limit": L, "offset": O}, the items as
 * row_of() makes them. */
static json_t *
page_of(PGresult *res, const char *const *names, int64_t total, int64_t limit, int64_t offset)
{
	json_t *items = json_array();

	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(items, row_of(res, i, names));
	return json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t)total, "limit", (json_int_t)limit,
	    "offset", (json_int_t)offset);
}

int64_t
web_page_total(PGconn *db, PGresult *res, const char *sql, int n, const char *const *p, int col)
{
	const char *q[WEB_PAGE_QUERY_PARAMS];
	PGresult *again;
	int64_t total = 0;

	/* count(*) OVER () rides on every row; past the last page no row
	 * carries it, so the first row is asked for (limit and offset are
	 * the last two parameters). */
	if (PQntuples(res) > 0)
		return strtoll(PQgetvalue(res, 0, col), NULL, 10);
	if (n < 2 || n > WEB_PAGE_QUERY_PARAMS || strcmp(p[n - 1], "0") == 0)
		return 0;
	memcpy(q, p, (size_t)n * sizeof(*q));
	q[n - 2] = "1";
	q[n - 1] = "0";
	again = PQexecParams(db, sql, n, NULL, q, NULL, NULL, 0);
	if (stg_db_check(db, again, PGRES_TUPLES_OK, "counting a listing") == NVR_OK) {
		if (PQntuples(again) > 0)
			total = strtoll(PQgetvalue(again, 0, col), NULL, 10);
		PQclear(again);
	}
	return total;
}

static const char cameras_sql[] =
    "SELECT c.id, c.name, c.enabled, c.transport, coalesce(s.state, 'unknown'), s.last_error, "
    " to_char(s.since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    " s.packets, s.bytes, s.forged, s.replayed, s.lost, s.reconnects, s.warning, count(*) OVER () "
    "FROM cameras c LEFT JOIN camera_status s ON s.camera_id = c.id "
    "WHERE c.removed_at IS NULL AND ($1::boolean OR c.id IN "
    " (SELECT camera_id FROM user_cameras WHERE user_id = $2::uuid)) "
    "ORDER BY c.name LIMIT $3::bigint OFFSET $4::bigint";
static const struct web_stmt cameras_stmt = { "cameras", cameras_sql };

int
web_api_cameras(struct web_req *r)
{
	static const char *const names[] = { "id", "name", "?enabled", "transport", "state", "last_error", "since",
		"#packets", "#bytes", "#forged", "#replayed", "#lost", "#reconnects", "warning", NULL };
	char uid[NVR_UUID_STRLEN];
	const char *all = web_req_all_cameras(r);
	struct web_page pg;
	const char *p[4] = { all, uid, pg.limit_text, pg.offset_text };
	int64_t total;
	json_t *j;
	PGresult *res;

	if (!web_page(r->conn, &pg))
		return 400;
	nvr_uuid_format(&r->user.id, uid);
	res = web_pool_exec(r->db, &cameras_stmt, 4, p, 0);
	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "listing cameras for the API") != NVR_OK)
		return web_reply_db_error(r->conn);
	/* count(*) OVER () follows the named columns */
	total = web_page_total(r->db, res, cameras_sql, 4, p, (int)(sizeof(names) / sizeof(names[0])) - 1);
	j = page_of(res, names, total, pg.limit, pg.offset);
	PQclear(res);
	return web_reply_json(r->conn, 200, j, NULL);
}

/* Users with their grants (cameras not removed) and key holder; the WHERE
 * clause follows. */
#define USERS_SELECT \
	"SELECT u.id, u.name, u.role, u.all_cameras, u.disabled, " \
	" to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
	" coalesce((SELECT json_agg(c.name ORDER BY c.name) FROM user_cameras g JOIN cameras c ON c.id = g.camera_id " \
	"  WHERE g.user_id = u.id AND c.removed_at IS NULL), '[]')::text, k.name, count(*) OVER () " \
	"FROM users u LEFT JOIN key_holders k ON k.id = u.key_holder_id "

static const char *const user_names[] = { "id", "name", "role", "?all_cameras", "?disabled", "created_at", "@cameras",
	"key_holder", NULL };

static const char users_sql[] =
    USERS_SELECT "WHERE u.removed_at IS NULL ORDER BY u.name LIMIT $1::bigint OFFSET $2::bigint";

/* One page of sql ($1 limit, $2 offset; its total in column count_col)
 * as {items, total, limit, offset}, items named by names. */
static int
reply_page(struct web_req *r, const char *sql, const char *const *names, int count_col, const char *what)
{
	struct web_page pg;
	const char *p[2] = { pg.limit_text, pg.offset_text };
	int64_t total;
	PGresult *res;
	json_t *j;

	if (!web_page(r->conn, &pg))
		return 400;
	res = PQexecParams(r->db, sql, 2, NULL, p, NULL, NULL, 0);
	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, what) != NVR_OK)
		return web_reply_db_error(r->conn);
	total = web_page_total(r->db, res, sql, 2, p, count_col);
	j = page_of(res, names, total, pg.limit, pg.offset);
	PQclear(res);
	return web_reply_json(r->conn, 200, j, NULL);
}

int
web_api_users(struct web_req *r)
{
	return reply_page(r, users_sql, user_names, 8, "listing users for the API");
}

/* The one row of sql ($1 the id) as an object of names; NULL if there is
 * none or the database failed (logged). Caller owns the object. */
static json_t *
one_row(PGconn *db, const char *sql, const nvr_uuid *id, const char *const *names, const char *what)
{
	char text[NVR_UUID_STRLEN];
	const char *p[1] = { text };
	PGresult *res;
	json_t *j = NULL;

	nvr_uuid_format(id, text);
	res = PQexecParams(db, sql, 1, NULL, p, NULL, NULL, 0);
	if (stg_db_check(db, res, PGRES_TUPLES_OK, what) != NVR_OK)
		return NULL;
	if (PQntuples(res) == 1)
		j = row_of(res, 0, names);
	PQclear(res);
	return j;
}

json_t *
web_user_json(PGconn *db, const nvr_uuid *id)
{
	return one_row(db, USERS_SELECT "WHERE u.id = $1 AND u.removed_at IS NULL", id, user_names,
	    "reading a user for the API");
}

#define KEYHOLDERS_SELECT \
	"SELECT id, name, encode(fingerprint, 'hex'), " \
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), count(*) OVER () FROM key_holders "

static const char *const keyholder_names[] = { "id", "name", "fingerprint", "created_at", NULL };

static const char keyholders_sql[] =
    KEYHOLDERS_SELECT "WHERE removed_at IS NULL ORDER BY name LIMIT $1::bigint OFFSET $2::bigint";

json_t *
web_keyholder_json(PGconn *db, const nvr_uuid *id)
{
	return one_row(db, KEYHOLDERS_SELECT "WHERE id = $1 AND removed_at IS NULL", id, keyholder_names,
	    "reading a key holder for the API");
}

int
web_api_keyholders(struct web_req *r)
{
	return reply_page(r, keyholders_sql, keyholder_names, 4, "listing key holders for the API");
}

/* ---- audit -------------------------------------------------------------- */

/* An optional RFC 3339 time filter, as microseconds text for SQL. */
static bool
time_filter(struct web_req *r, const char *name, char *out, size_t size, const char **param)
{
	char v[WEB_QUERY_VALUE_MAX];
	bool bad = false;
	int64_t ns;

	*param = NULL;
	if (!web_query(r->conn, name, v, sizeof(v), &bad) && !bad)
		return true;
	if (bad || !web_parse_time(v, &ns)) {
		web_reply_error(r->conn, 400, "bad_parameter", NULL, "%s must be a UTC time like 2026-11-22T05:00:00Z", name);
		return false;
	}
	snprintf(out, size, "%lld", (long long)(ns / 1000));
	*param = out;
	return true;
}

static bool
text_filter(struct web_req *r, const char *name, char *out, size_t size, const char **param)
{
	bool bad = false;

	*param = web_query(r->conn, name, out, size, &bad) ? out : NULL;
	if (bad)
		web_reply_error(r->conn, 400, "bad_parameter", NULL, "%s is longer than %zu bytes", name, size - 1);
	return !bad;
}

static const char audit_sql[] =
    "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, address, action, "
    " object, outcome, detail, count(*) OVER () FROM audit_log "
    "WHERE ($1::bigint IS NULL OR at >= 'epoch'::timestamptz + $1::bigint * interval '1 microsecond') "
    " AND ($2::bigint IS NULL OR at < 'epoch'::timestamptz + $2::bigint * interval '1 microsecond') "
    " AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR action = $4) "
    "ORDER BY id LIMIT $5::bigint OFFSET $6::bigint";

int
web_api_audit(struct web_req *r)
{
	static const char *const names[] = { "#id", "at", "actor", "address", "action", "object", "outcome", "detail",
		NULL };
	char since[24], until[24], actor[WEB_QUERY_VALUE_MAX], action[WEB_QUERY_VALUE_MAX];
	struct web_page pg;
	const char *p[6] = { NULL, NULL, NULL, NULL, pg.limit_text, pg.offset_text };
	int64_t total;
	PGresult *res;
	json_t *j;

	if (!web_page(r->conn, &pg) || !time_filter(r, "since", since, sizeof(since), &p[0]) ||
	    !time_filter(r, "until", until, sizeof(until), &p[1]) ||
	    !text_filter(r, "actor", actor, sizeof(actor), &p[2]) || !text_filter(r, "action", action, sizeof(action), &p[3]))
		return 400;
	res = PQexecParams(r->db, audit_sql, 6, NULL, p, NULL, NULL, 0);
	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "listing the audit log for the API") != NVR_OK)
		return web_reply_db_error(r->conn);
	total = web_page_total(r->db, res, audit_sql, 6, p, 8);
	j = page_of(res, names, total, pg.limit, pg.offset);
	PQclear(res);
	web_req_audit(r, "audit.read", "", WEB_AUDIT_OK, NULL);
	return web_reply_json(r->conn, 200, j, NULL);
}

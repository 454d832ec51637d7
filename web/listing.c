/*
 * listing.c: GET /api/v1/cameras/{id}/recordings: a camera's segments
 * overlapping [from, to) and the gaps between them, from one index-only
 * query (sql/0004_listing.sql), kept in the listing cache (listcache.h)
 * while the camera's index generation stands.
 *
 * The JSON is written as text here rather than built as a jansson tree:
 * an hour of minute segments is some 700 values, and allocating and
 * freeing them was 60% of the server's CPU for a listing (perf, bench/
 * api.sh). The shape is fixed and every member is a number, a boolean, a
 * UUID or a time we format; the one free string, the stream name, is
 * still escaped by jansson (once per stream).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrd/uuid.h"
#include "storage/db.h"
#include "storage/index.h"
#include "storage/manifest.h"
#include "web/api.h"
#include "web/http.h"
#include "web/server_priv.h"

#define GAP_TOLERANCE_NS ((int64_t)2000000000) /* shorter breaks are frame spacing, not gaps */
#define PG_EPOCH_US INT64_C(946684800000000)   /* 2000-01-01 in Unix microseconds */

/* ---- text ---------------------------------------------------------------- */

/* A growing string; oom once any append failed (then text is incomplete). */
struct text {
	char *p; /* owned */
	size_t len, cap;
	bool oom;
};

static void
put(struct text *t, const char *s, size_t n)
{
	char *np;
	size_t cap;

	if (t->oom)
		return;
	if (t->len + n + 1 > t->cap) {
		cap = t->cap == 0 ? 16384 : t->cap;
		while (cap < t->len + n + 1)
			cap *= 2;
		if ((np = realloc(t->p, cap)) == NULL) {
			t->oom = true;
			return;
		}
		t->p = np;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
puts_(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

static void
put_i64(struct text *t, int64_t v)
{
	char b[24], *e = b + sizeof(b), *s = e;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do
		*--s = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--s = '-';
	put(t, s, (size_t)(e - s));
}

/* "name":"time" with a comma before unless first. */
static void
put_time(struct text *t, const char *name, int64_t ns)
{
	char b[32];

	stg_time_format(ns, b);
	puts_(t, name);
	put(t, "\"", 1);
	puts_(t, b);
	put(t, "\"", 1);
}

/* ---- rows ---------------------------------------------------------------- */

/* Binary result columns (the query asks for binary: PostgreSQL then skips
 * formatting 12 columns of every row as text, and we skip parsing them).
 * Formats are PostgreSQL's send functions: int8 and timestamptz (us since
 * 2000-01-01) big-endian 8 bytes, uuid 16 bytes, bool 1 byte, text bytes. */
static int64_t
col_i64(PGresult *res, int i, int c)
{
	const unsigned char *v = (const unsigned char *)PQgetvalue(res, i, c);
	uint64_t x = 0;

	if (PQgetlength(res, i, c) != 8)
		return 0;
	for (int k = 0; k < 8; k++)
		x = x << 8 | v[k];
	return (int64_t)x;
}

static void
put_uuid(struct text *t, PGresult *res, int i, int c)
{
	nvr_uuid u = { { 0 } };
	char b[NVR_UUID_STRLEN];

	if (PQgetlength(res, i, c) == (int)sizeof(u.b))
		memcpy(u.b, PQgetvalue(res, i, c), sizeof(u.b));
	nvr_uuid_format(&u, b);
	put(t, "\"", 1);
	put(t, b, NVR_UUID_STRLEN - 1);
	put(t, "\"", 1);
}

static void
put_bool(struct text *t, PGresult *res, int i, int c)
{
	puts_(t, PQgetlength(res, i, c) == 1 && PQgetvalue(res, i, c)[0] != 0 ? "true" : "false");
}

/* Where the walk through the rows is: the stream (name and its JSON form)
 * and the end of its last segment (the window's start at first). */
struct span {
	char *name;   /* owned; NULL before the first row */
	char *quoted; /* owned; jansson's escaping of name, with its quotes */
	int64_t end_ns;
	struct text items, gaps;
};

static void
put_gap(struct span *sp, int64_t from_ns, int64_t to_ns)
{
	puts_(&sp->gaps, sp->gaps.len > 0 ? ",{\"stream\":" : "{\"stream\":");
	puts_(&sp->gaps, sp->quoted != NULL ? sp->quoted : "\"\"");
	put_time(&sp->gaps, ",\"from\":", from_ns);
	put_time(&sp->gaps, ",\"to\":", to_ns);
	put(&sp->gaps, "}", 1);
}

static void
next_stream(struct span *sp, const char *name, int64_t from_ns)
{
	json_t *s = json_string(name);

	free(sp->quoted);
	free(sp->name);
	sp->quoted = s != NULL ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	sp->name = strdup(name);
	json_decref(s);
	if (sp->quoted == NULL || sp->name == NULL)
		sp->items.oom = true;
	sp->end_ns = from_ns;
}

/* Adds row i to the items, and the gaps before it (and after the stream
 * before it) to the gaps. Columns as recordings_stmt selects them. */
static void
add_row(struct span *sp, PGresult *res, int i, int64_t from_ns, int64_t to_ns)
{
	const char *stream = PQgetvalue(res, i, 1);
	int64_t start = (col_i64(res, i, 3) + PG_EPOCH_US) * 1000;
	int64_t end = (col_i64(res, i, 4) + PG_EPOCH_US) * 1000;
	struct text *t = &sp->items;

	if (sp->name == NULL || strcmp(sp->name, stream) != 0) {
		if (sp->name != NULL && to_ns - sp->end_ns > GAP_TOLERANCE_NS)
			put_gap(sp, sp->end_ns, to_ns);
		next_stream(sp, stream, from_ns);
	}
	if (start - sp->end_ns > GAP_TOLERANCE_NS)
		put_gap(sp, sp->end_ns, start);
	if (end > sp->end_ns)
		sp->end_ns = end;
	puts_(t, t->len > 0 ? ",{\"id\":" : "{\"id\":");
	put_uuid(t, res, i, 0);
	puts_(t, ",\"stream\":");
	puts_(t, sp->quoted != NULL ? sp->quoted : "\"\"");
	puts_(t, ",\"seq\":");
	put_i64(t, col_i64(res, i, 2));
	put_time(t, ",\"start\":", start);
	put_time(t, ",\"end\":", end);
	puts_(t, ",\"bytes\":");
	put_i64(t, col_i64(res, i, 5));
	puts_(t, ",\"packets\":");
	put_i64(t, col_i64(res, i, 6));
	puts_(t, ",\"key_id\":");
	put_uuid(t, res, i, 7);
	puts_(t, ",\"clean_start\":");
	put_bool(t, res, i, 8);
	puts_(t, ",\"tag_verified\":");
	put_bool(t, res, i, 9);
	puts_(t, ",\"forged\":");
	put_i64(t, col_i64(res, i, 10));
	puts_(t, ",\"lost\":");
	put_i64(t, col_i64(res, i, 11));
	put(t, "}", 1);
}

/* ---- the query ----------------------------------------------------------- */

/* Overlap with [from, to): a start in [from - the stream's longest
 * segment, to), an index-only scan of segments_stream_start (sql/0004),
 * of a camera the caller may see: the grant check rides on the listing, so
 * a listing costs one round trip (an empty one asks web_req_camera_allowed
 * whether it is empty or refused). Parameters: camera, from, to
 * (timestamptz text), stream or NULL, user id, all cameras (boolean), then
 * limit and offset for the page. */
#define RECORDINGS_FROM \
	"FROM segments g JOIN streams s ON s.id = g.stream_id " \
	"WHERE s.camera_id = $1::uuid AND ($4::text IS NULL OR s.name = $4) " \
	" AND lower(g.time_range) < $3::timestamptz AND lower(g.time_range) >= $2::timestamptz - s.max_span " \
	" AND upper(g.time_range) > $2::timestamptz " \
	" AND ($6::boolean OR EXISTS (SELECT 1 FROM user_cameras u WHERE u.user_id = $5::uuid AND u.camera_id = $1::uuid)) "
static const struct web_stmt recordings_stmt = { "recordings",
	"SELECT g.id, s.name, g.seq, lower(g.time_range), upper(g.time_range), g.bytes, g.packets, g.key_id, "
	" g.clean_start, g.tag_verified, g.forged, g.lost " RECORDINGS_FROM
	"ORDER BY s.name, lower(g.time_range) LIMIT $7::bigint OFFSET $8::bigint" };
static const struct web_stmt recordings_count_stmt = { "recordings_count",
	"SELECT count(*) " RECORDINGS_FROM };

/* What a listing asks: the query's parameters p, and the window. */
struct ask {
	const char *p[8];
	struct web_page pg;
	int64_t from_ns, to_ns;
};

/* The listing's total. A page that is not full and not past the end says
 * it; otherwise (the common timeline page is not full) it is counted. */
static int64_t
total_of(struct web_req *r, PGresult *res, const struct ask *a)
{
	int n = PQntuples(res);
	int64_t total = -1;
	PGresult *c;

	if (n < a->pg.limit && (n > 0 || a->pg.offset == 0))
		return a->pg.offset + n;
	c = web_pool_exec(r->db, &recordings_count_stmt, 6, a->p, 0);
	if (stg_db_check(r->db, c, PGRES_TUPLES_OK, "counting recordings for the API") == NVR_OK) {
		total = strtoll(PQgetvalue(c, 0, 0), NULL, 10);
		PQclear(c);
	}
	return total;
}

/* The listing's JSON text from the database, in *out (the caller frees
 * out->p), and *rows the segments in it. NVR_ERR_DB_UNREACHABLE or
 * NVR_ERR_NOMEM. */
static nvr_err
listing_text(struct web_req *r, const struct ask *a, struct text *out, int *rows)
{
	struct span sp = { 0 };
	int64_t total;
	PGresult *res = web_pool_exec(r->db, &recordings_stmt, 8, a->p, 1);
	nvr_err rc = NVR_ERR_DB_UNREACHABLE;

	memset(out, 0, sizeof(*out));
	*rows = 0;
	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "listing recordings for the API") != NVR_OK)
		return rc;
	*rows = PQntuples(res);
	if ((total = total_of(r, res, a)) < 0)
		goto out;
	for (int i = 0; i < PQntuples(res); i++)
		add_row(&sp, res, i, a->from_ns, a->to_ns);
	/* The last stream's tail is known only on the last page. */
	if (sp.name != NULL && a->pg.offset + PQntuples(res) >= total && a->to_ns - sp.end_ns > GAP_TOLERANCE_NS)
		put_gap(&sp, sp.end_ns, a->to_ns);
	puts_(out, "{\"items\":[");
	put(out, sp.items.p != NULL ? sp.items.p : "", sp.items.len);
	puts_(out, "],\"gaps\":[");
	put(out, sp.gaps.p != NULL ? sp.gaps.p : "", sp.gaps.len);
	puts_(out, "],\"total\":");
	put_i64(out, total);
	puts_(out, ",\"limit\":");
	put_i64(out, a->pg.limit);
	puts_(out, ",\"offset\":");
	put_i64(out, a->pg.offset);
	put(out, "}", 1);
	rc = out->oom || sp.items.oom || sp.gaps.oom ? NVR_ERR_NOMEM : NVR_OK;
out:
	PQclear(res);
	free(sp.items.p);
	free(sp.gaps.p);
	free(sp.name);
	free(sp.quoted);
	if (rc != NVR_OK) {
		free(out->p);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

/* ---- the call ------------------------------------------------------------ */

/* Sends the listing, or the same 404 as for an unknown camera if the
 * caller may not see it: the cached text while the camera's generation
 * stands, else read, sent and kept. The generation is taken before the
 * database is read, so a segment indexed meanwhile makes the entry stale. */
static int
reply(struct web_req *r, const struct ask *a)
{
	char key[WEB_LISTCACHE_KEY_MAX], *cached;
	struct text t;
	size_t len;
	nvr_uuid camera;
	uint64_t gen;
	bool cache;
	int st, n, rows;
	nvr_err rc;

	(void)nvr_uuid_parse(r->path_arg, &camera);
	gen = stg_index_generation(&camera);
	/* Unambiguous: only the stream may hold a '|', and two numbers follow
	 * it. The caller is not in the key: the grant is checked every time. */
	n = snprintf(key, sizeof(key), "%s|%s|%s|%c%s|%s|%s", a->p[0], a->p[1], a->p[2], a->p[3] != NULL ? 's' : '-',
	    a->p[3] != NULL ? a->p[3] : "", a->p[6], a->p[7]);
	cache = n > 0 && (size_t)n < sizeof(key);
	if (cache && web_listcache_get(r->srv->listings, key, gen, &cached, &len)) {
		st = web_req_camera_allowed(r, r->path_arg) ? web_reply(r->conn, 200, "application/json", NULL, cached, len)
		                                            : web_req_not_found(r, "camera", "recording.list");
		free(cached);
		return st;
	}
	if ((rc = listing_text(r, a, &t, &rows)) != NVR_OK)
		return rc == NVR_ERR_NOMEM ? web_reply_error(r->conn, 503, "internal", NULL, "out of memory")
		                           : web_reply_db_error(r->conn);
	if (rows == 0 && !web_req_camera_allowed(r, r->path_arg)) {
		free(t.p);
		return web_req_not_found(r, "camera", "recording.list");
	}
	if (cache)
		web_listcache_put(r->srv->listings, key, gen, t.p, t.len);
	st = web_reply(r->conn, 200, "application/json", NULL, t.p, t.len);
	free(t.p);
	return st;
}

/* The window [from, to) of the query: both required, to after from, at
 * most 31 days (a listing is for a timeline, not a dump). */
static bool
window(struct web_req *r, int64_t *from_ns, int64_t *to_ns)
{
	char a[WEB_QUERY_VALUE_MAX], b[WEB_QUERY_VALUE_MAX];
	bool bad = false;

	if (!web_query(r->conn, "from", a, sizeof(a), &bad) || !web_query(r->conn, "to", b, sizeof(b), &bad) || bad ||
	    !web_parse_time(a, from_ns) || !web_parse_time(b, to_ns) || *to_ns <= *from_ns ||
	    *to_ns - *from_ns > (int64_t)31 * 86400 * 1000000000) {
		web_reply_error(r->conn, 400, "bad_parameter", NULL,
		    "from and to are required, UTC times like 2026-11-22T05:00:00Z, to after from, at most 31 days apart");
		return false;
	}
	return true;
}

int
web_api_recordings(struct web_req *r)
{
	char stream[WEB_QUERY_VALUE_MAX], from[32], to[32], uid[NVR_UUID_STRLEN];
	const char *all = web_req_all_cameras(r);
	struct ask a = { .p = { r->path_arg, from, to, NULL, uid, all, a.pg.limit_text, a.pg.offset_text } };
	bool bad = false, has_stream;
	int st;

	if (!web_req_path_uuid(r, "camera"))
		return 404;
	if (!window(r, &a.from_ns, &a.to_ns) || !web_page(r->conn, &a.pg))
		return 400;
	has_stream = web_query(r->conn, "stream", stream, sizeof(stream), &bad);
	if (bad)
		return web_reply_error(r->conn, 400, "bad_parameter", NULL, "stream is longer than %zu bytes",
		    sizeof(stream) - 1);
	stg_time_format(a.from_ns / 1000 * 1000, from);
	stg_time_format(a.to_ns / 1000 * 1000, to);
	nvr_uuid_format(&r->user.id, uid);
	a.p[3] = has_stream ? stream : NULL;
	if ((st = reply(r, &a)) == 200)
		web_req_audit(r, "recording.list", r->path_arg, WEB_AUDIT_OK, NULL);
	return st;
}

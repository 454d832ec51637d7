/*
 * api_media.c: playback's three calls: what was recorded (segments and
 * the gaps between them), the bytes of a segment (with HTTP Range), and
 * the sealed session key for the caller's key holder. What they serve is
 * ciphertext and sealed keys only: nothing here can decrypt. Every call is
 * checked against the caller's camera grants and audited.
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
#include "nvrd/uuid.h"
#include "storage/db.h"
#include "storage/index.h"
#include "storage/manifest.h"
#include "web/api.h"
#include "web/http.h"
#include "web/server_priv.h"

#define GAP_TOLERANCE_NS ((int64_t)2000000000) /* shorter breaks are frame spacing, not gaps */
#define SEND_CHUNK ((size_t)256 * 1024)
#define RANGE_MAX 80 /* bytes of a Range header we read */

static int
db_error(struct web_req *r)
{
	return web_reply_error(r->conn, 503, "database", NULL, "the database is unavailable; try again");
}

/* The id in the path, checked as a UUID (the database never sees junk). */
static bool
path_uuid(struct web_req *r, const char *what)
{
	nvr_uuid u;

	if (nvr_uuid_parse(r->path_arg, &u) == NVR_OK)
		return true;
	web_reply_error(r->conn, 404, "not_found", NULL, "no such %s", what);
	return false;
}

/* 404 for a camera the caller may not see, as for one that does not exist:
 * a viewer learns nothing about cameras not granted. */
static int
not_found(struct web_req *r, const char *what, const char *action)
{
	web_req_audit(r, action, r->path_arg, WEB_AUDIT_DENIED, "{\"reason\":\"not found or not granted\"}");
	return web_reply_error(r->conn, 404, "not_found", NULL, "no such %s", what);
}

/* ---- recordings --------------------------------------------------------- */

struct span {
	char stream[64];
	int64_t end_ns; /* end of the last segment seen; the window's start at first */
};

static json_t *
gap(const char *stream, int64_t from_ns, int64_t to_ns)
{
	char a[32], b[32];

	stg_time_format(from_ns, a);
	stg_time_format(to_ns, b);
	return json_pack("{s:s,s:s,s:s}", "stream", stream, "from", a, "to", b);
}

/* Binary result columns (recordings_sql asks for binary: PostgreSQL then
 * skips formatting 12 columns of every row as text, half its work for a
 * listing, and we skip parsing them back). Formats are PostgreSQL's send
 * functions: int8 and timestamptz (microseconds since 2000-01-01) big-endian
 * 8 bytes, uuid 16 bytes, bool 1 byte, text its bytes. */
#define PG_EPOCH_US INT64_C(946684800000000) /* 2000-01-01 in Unix microseconds */

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
col_uuid(PGresult *res, int i, int c, char out[NVR_UUID_STRLEN])
{
	nvr_uuid u = { { 0 } };

	if (PQgetlength(res, i, c) == (int)sizeof(u.b))
		memcpy(u.b, PQgetvalue(res, i, c), sizeof(u.b));
	nvr_uuid_format(&u, out);
}

static bool
col_bool(PGresult *res, int i, int c)
{
	return PQgetlength(res, i, c) == 1 && PQgetvalue(res, i, c)[0] != 0;
}

/* Adds one segment row (columns of recordings_sql) to items, and the gap
 * before it to gaps. */
static void
add_segment(PGresult *res, int i, struct span *sp, int64_t from_ns, int64_t to_ns, json_t *items, json_t *gaps)
{
	const char *stream = PQgetvalue(res, i, 1);
	int64_t start = (col_i64(res, i, 3) + PG_EPOCH_US) * 1000;
	int64_t end = (col_i64(res, i, 4) + PG_EPOCH_US) * 1000;
	char id[NVR_UUID_STRLEN], key[NVR_UUID_STRLEN], a[32], b[32];

	if (strcmp(sp->stream, stream) != 0) {
		if (sp->stream[0] != '\0' && to_ns - sp->end_ns > GAP_TOLERANCE_NS)
			json_array_append_new(gaps, gap(sp->stream, sp->end_ns, to_ns));
		snprintf(sp->stream, sizeof(sp->stream), "%s", stream);
		sp->end_ns = from_ns;
	}
	if (start - sp->end_ns > GAP_TOLERANCE_NS)
		json_array_append_new(gaps, gap(stream, sp->end_ns, start));
	if (end > sp->end_ns)
		sp->end_ns = end;
	stg_time_format(start, a);
	stg_time_format(end, b);
	col_uuid(res, i, 0, id);
	col_uuid(res, i, 7, key);
	json_array_append_new(items,
	    json_pack("{s:s,s:s,s:I,s:s,s:s,s:I,s:I,s:s,s:b,s:b,s:I,s:I}", "id", id, "stream", stream, "seq",
	        (json_int_t)col_i64(res, i, 2), "start", a, "end", b, "bytes", (json_int_t)col_i64(res, i, 5),
	        "packets", (json_int_t)col_i64(res, i, 6), "key_id", key, "clean_start", col_bool(res, i, 8),
	        "tag_verified", col_bool(res, i, 9), "forged", (json_int_t)col_i64(res, i, 10), "lost",
	        (json_int_t)col_i64(res, i, 11)));
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

/* Overlap with [from, to): a start in [from - the stream's longest
 * segment, to), an index-only scan of segments_stream_start (sql/0004).
 * Parameters: camera, from, to (timestamptz text), stream or NULL, then
 * limit and offset for the page. */
#define RECORDINGS_FROM \
	"FROM segments g JOIN streams s ON s.id = g.stream_id " \
	"WHERE s.camera_id = $1::uuid AND ($4::text IS NULL OR s.name = $4) " \
	" AND lower(g.time_range) < $3::timestamptz AND lower(g.time_range) >= $2::timestamptz - s.max_span " \
	" AND upper(g.time_range) > $2::timestamptz "
static const struct web_stmt recordings_stmt = { "recordings",
	"SELECT g.id, s.name, g.seq, lower(g.time_range), upper(g.time_range), g.bytes, g.packets, g.key_id, "
	" g.clean_start, g.tag_verified, g.forged, g.lost " RECORDINGS_FROM
	"ORDER BY s.name, lower(g.time_range) LIMIT $5::bigint OFFSET $6::bigint" };
static const struct web_stmt recordings_count_stmt = { "recordings_count",
	"SELECT count(*) " RECORDINGS_FROM };

/* The listing's total. A page that is not full and not past the end says
 * it; otherwise (the common timeline page is not full) it is counted. */
static int64_t
recordings_total(struct web_req *r, PGresult *res, const struct web_page *pg, const char *const *p)
{
	int n = PQntuples(res);
	int64_t total = -1;
	PGresult *c;

	if (n < pg->limit && (n > 0 || pg->offset == 0))
		return pg->offset + n;
	c = web_pool_exec(r->db, &recordings_count_stmt, 4, p, 0);
	if (stg_db_check(r->db, c, PGRES_TUPLES_OK, "counting recordings for the API") == NVR_OK) {
		total = strtoll(PQgetvalue(c, 0, 0), NULL, 10);
		PQclear(c);
	}
	return total;
}

/* The listing's JSON from the database: NULL if it could not be read. */
static json_t *
recordings_json(struct web_req *r, const struct web_page *pg, const char *const *p, int64_t from_ns, int64_t to_ns)
{
	struct span sp = { "", 0 };
	json_t *items, *gaps;
	int64_t total;
	PGresult *res = web_pool_exec(r->db, &recordings_stmt, 6, p, 1);

	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "listing recordings for the API") != NVR_OK)
		return NULL;
	if ((total = recordings_total(r, res, pg, p)) < 0) {
		PQclear(res);
		return NULL;
	}
	items = json_array();
	gaps = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		add_segment(res, i, &sp, from_ns, to_ns, items, gaps);
	/* The last stream's tail is known only on the last page. */
	if (sp.stream[0] != '\0' && pg->offset + PQntuples(res) >= total && to_ns - sp.end_ns > GAP_TOLERANCE_NS)
		json_array_append_new(gaps, gap(sp.stream, sp.end_ns, to_ns));
	PQclear(res);
	return json_pack("{s:o,s:o,s:I,s:I,s:I}", "items", items, "gaps", gaps, "total", (json_int_t)total, "limit",
	    (json_int_t)pg->limit, "offset", (json_int_t)pg->offset);
}

/* Sends the listing: the cached text while the camera's generation
 * stands, else read, sent and kept. The generation is taken before the
 * database is read, so a segment indexed meanwhile makes the entry stale. */
static int
recordings_reply(struct web_req *r, const struct web_page *pg, const char *const *p, int64_t from_ns, int64_t to_ns)
{
	char key[WEB_LISTCACHE_KEY_MAX], *text;
	size_t len;
	nvr_uuid camera;
	uint64_t gen;
	json_t *j;
	bool cache;
	int rc, n;

	(void)nvr_uuid_parse(r->path_arg, &camera);
	gen = stg_index_generation(&camera);
	/* Unambiguous: only the stream may hold a '|', and two numbers follow it. */
	n = snprintf(key, sizeof(key), "%s|%s|%s|%c%s|%s|%s", p[0], p[1], p[2], p[3] != NULL ? 's' : '-',
	    p[3] != NULL ? p[3] : "", p[4], p[5]);
	cache = n > 0 && (size_t)n < sizeof(key);
	if (cache && web_listcache_get(r->srv->listings, key, gen, &text, &len)) {
		rc = web_reply(r->conn, 200, "application/json", NULL, text, len);
		free(text);
		return rc;
	}
	if ((j = recordings_json(r, pg, p, from_ns, to_ns)) == NULL)
		return db_error(r);
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text == NULL)
		return web_reply_error(r->conn, 503, "internal", NULL, "out of memory");
	len = strlen(text);
	if (cache)
		web_listcache_put(r->srv->listings, key, gen, text, len);
	rc = web_reply(r->conn, 200, "application/json", NULL, text, len);
	free(text);
	return rc;
}

int
web_api_recordings(struct web_req *r)
{
	char stream[WEB_QUERY_VALUE_MAX], from[32], to[32];
	struct web_page pg;
	const char *p[6] = { r->path_arg, from, to, NULL, pg.limit_text, pg.offset_text };
	bool bad = false, has_stream;
	int64_t from_ns, to_ns;
	int rc;

	if (!path_uuid(r, "camera"))
		return 404;
	if (!web_req_camera_allowed(r, r->path_arg))
		return not_found(r, "camera", "recording.list");
	if (!window(r, &from_ns, &to_ns) || !web_page(r->conn, &pg))
		return 400;
	has_stream = web_query(r->conn, "stream", stream, sizeof(stream), &bad);
	if (bad)
		return web_reply_error(r->conn, 400, "bad_parameter", NULL, "stream is longer than %zu bytes",
		    sizeof(stream) - 1);
	stg_time_format(from_ns / 1000 * 1000, from);
	stg_time_format(to_ns / 1000 * 1000, to);
	p[3] = has_stream ? stream : NULL;
	if ((rc = recordings_reply(r, &pg, p, from_ns, to_ns)) == 200)
		web_req_audit(r, "recording.list", r->path_arg, WEB_AUDIT_OK, NULL);
	return rc;
}

/* ---- segment bytes ------------------------------------------------------ */

/* A single "bytes=a-b", "bytes=a-" or "bytes=-n" range within size:
 * 1 and [*first, *last]; 0 if there is no Range header; -1 if it cannot
 * be satisfied (416). Several ranges are not served (RFC 9110 14.2 lets
 * a server ignore them; we answer 416 rather than send everything). */
static int
parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
	char *end;
	unsigned long long a, b;

	if (h == NULL)
		return 0;
	if (strlen(h) > RANGE_MAX || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL || size == 0)
		return -1;
	h += 6;
	if (*h == '-') {
		errno = 0;
		b = strtoull(h + 1, &end, 10);
		if (errno != 0 || *end != '\0' || end == h + 1 || b == 0)
			return -1;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 1;
	}
	errno = 0;
	a = strtoull(h, &end, 10);
	if (errno != 0 || end == h || *end != '-' || a >= size)
		return -1;
	h = end + 1;
	b = *h == '\0' ? size - 1 : strtoull(h, &end, 10);
	if (*h != '\0' && (errno != 0 || *end != '\0' || b < a))
		return -1;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return 1;
}

/* Writes [first, last] of fd; false if the file or the client failed. */
static bool
send_range(struct mg_connection *c, int fd, uint64_t first, uint64_t last)
{
	char *buf = malloc(SEND_CHUNK);
	uint64_t off = first;
	ssize_t n;
	bool ok = buf != NULL;

	while (ok && off <= last) {
		size_t want = last - off + 1 < SEND_CHUNK ? (size_t)(last - off + 1) : SEND_CHUNK;
		n = pread(fd, buf, want, (off_t)off);
		ok = n > 0 && mg_write(c, buf, (size_t)n) == (int)n;
		off += n > 0 ? (uint64_t)n : 0;
	}
	free(buf);
	return ok;
}

/* The segment's file (relative path) and camera, if it exists. */
static PGresult *
segment_query(struct web_req *r)
{
	const char *p[1] = { r->path_arg };

	return PQexecParams(r->db,
	    "SELECT g.path, s.camera_id FROM segments g JOIN streams s ON s.id = g.stream_id WHERE g.id = $1::uuid", 1,
	    NULL, p, NULL, NULL, 0);
}

static int
send_segment(struct web_req *r, int fd, uint64_t size)
{
	uint64_t first = 0, last = size - 1;
	int range = parse_range(mg_get_header(r->conn, "Range"), size, &first, &last);
	char extra[160];

	if (range < 0) {
		snprintf(extra, sizeof(extra), "Content-Range: bytes */%llu\r\nAccept-Ranges: bytes\r\n",
		    (unsigned long long)size);
		return web_reply_error(r->conn, 416, "range", extra, "one range within the %llu bytes, like bytes=0-1023",
		    (unsigned long long)size);
	}
	snprintf(extra, sizeof(extra), "Accept-Ranges: bytes\r\n");
	if (range > 0)
		snprintf(extra, sizeof(extra), "Accept-Ranges: bytes\r\nContent-Range: bytes %llu-%llu/%llu\r\n",
		    (unsigned long long)first, (unsigned long long)last, (unsigned long long)size);
	web_reply_head(r->conn, range > 0 ? 206 : 200, "application/vnd.nvr.segment", extra, size == 0 ? 0 : last - first + 1);
	if (size > 0 && strcmp(r->ri->request_method, "HEAD") != 0)
		send_range(r->conn, fd, first, last);
	return range > 0 ? 206 : 200;
}

int
web_api_segment(struct web_req *r)
{
	char path[4096];
	struct stat st;
	PGresult *res;
	int fd, status;

	if (!path_uuid(r, "segment"))
		return 404;
	res = segment_query(r);
	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "finding a segment for the API") != NVR_OK)
		return db_error(r);
	if (PQntuples(res) != 1 || !web_req_camera_allowed(r, PQgetvalue(res, 0, 1))) {
		PQclear(res);
		return not_found(r, "segment", "recording.read");
	}
	/* The path was written by nvrd (relative, checked at indexing). */
	snprintf(path, sizeof(path), "%s/%s", r->srv->cfg->storage_root, PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &st) != 0) {
		nvr_log(NVR_LOG_ERROR, "API: segment %s is indexed but %s cannot be read: %s", r->path_arg, path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		web_req_audit(r, "recording.read", r->path_arg, WEB_AUDIT_FAILED, "{\"reason\":\"file missing\"}");
		return web_reply_error(r->conn, 410, "gone", NULL, "the segment's file is missing; see nvrctl verify");
	}
	status = send_segment(r, fd, (uint64_t)st.st_size);
	close(fd);
	web_req_audit(r, "recording.read", r->path_arg, status < 400 ? WEB_AUDIT_OK : WEB_AUDIT_DENIED, NULL);
	return status;
}

/* ---- sealed keys -------------------------------------------------------- */

/* keys/<key_id>.sealed.json (docs/FORMAT.md), the file a key holder's
 * tools read, with only the caller's entry in "sealed": the envelope (suite,
 * SSRC, rollover counter) is what decryption needs besides the key. */
static json_t *
sealed_for(struct web_req *r, const char *key_holder, json_error_t *err)
{
	char path[4096];
	json_t *j, *all, *mine = json_array();
	size_t i;
	json_t *e;

	snprintf(path, sizeof(path), "%s/keys/%s.sealed.json", r->srv->cfg->storage_root, r->path_arg);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, err);
	all = json_object_get(j, "sealed");
	if (j == NULL || !json_is_array(all) || mine == NULL) {
		json_decref(j);
		json_decref(mine);
		return NULL;
	}
	json_array_foreach(all, i, e) {
		if (json_is_string(json_object_get(e, "key_holder")) &&
		    strcmp(json_string_value(json_object_get(e, "key_holder")), key_holder) == 0)
			json_array_append(mine, e);
	}
	json_object_set_new(j, "sealed", mine);
	return j;
}

int
web_api_key(struct web_req *r)
{
	char kh[NVR_UUID_STRLEN];
	const char *p[2] = { r->path_arg, kh };
	PGresult *res;
	json_t *sealed;
	json_error_t err;

	if (!path_uuid(r, "key"))
		return 404;
	if (!r->user.has_key_holder) {
		web_req_audit(r, "key.read", r->path_arg, WEB_AUDIT_DENIED, "{\"reason\":\"no key holder\"}");
		return web_reply_error(r->conn, 403, "no_key_holder", NULL,
		    "this user is not a key holder: an admin links one with nvrctl user add ... --keyholder NAME");
	}
	nvr_uuid_format(&r->user.key_holder, kh);
	res = PQexecParams(r->db,
	    "SELECT 1, s.camera_id FROM sealed_keys k JOIN rtsp_sessions x ON x.key_id = k.key_id "
	    "JOIN streams s ON s.id = x.stream_id WHERE k.key_id = $1::uuid AND k.key_holder_id = $2::uuid",
	    2, NULL, p, NULL, NULL, 0);
	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "finding a sealed key for the API") != NVR_OK)
		return db_error(r);
	if (PQntuples(res) != 1 || !web_req_camera_allowed(r, PQgetvalue(res, 0, 1))) {
		PQclear(res);
		return not_found(r, "key sealed to this key holder", "key.read");
	}
	PQclear(res);
	if ((sealed = sealed_for(r, kh, &err)) == NULL) {
		nvr_log(NVR_LOG_ERROR, "API: the sealed key file of %s cannot be read: %s", r->path_arg, err.text);
		web_req_audit(r, "key.read", r->path_arg, WEB_AUDIT_FAILED, "{\"reason\":\"key file unreadable\"}");
		return web_reply_error(r->conn, 410, "gone", NULL, "the sealed key file is missing or damaged");
	}
	web_req_audit(r, "key.read", r->path_arg, WEB_AUDIT_OK, NULL);
	return web_reply_json(r->conn, 200, sealed, NULL);
}

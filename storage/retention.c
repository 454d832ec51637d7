/*
 * retention.c: the retention worker (see retention.h for the order of a
 * deletion and why it is crash-safe).
 * It must never delete a segment that overlaps an active hold, nor the
 * newest segment of a stream: that one carries the stream's chain head,
 * which nvrd reads back from the index at start to go on with the next
 * seq (without it a restart would begin a second chain at seq 0).
 */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "nvrd/log.h"
#include "nvrd/util.h"
#include "nvrd/uuid.h"
#include "storage/db.h"
#include "storage/fileio.h"
#include "storage/index.h"
#include "storage/retention.h"

#define BATCH 5000 /* segments moved by one statement: bounds its transaction */
#define STR(x) #x
#define XSTR(x) STR(x)

/* Whether an active hold covers segment g (columns camera_id, time_range). */
#define HELD(g)                                                                               \
	" EXISTS (SELECT 1 FROM holds d WHERE d.camera_id = " g ".camera_id"                 \
	" AND d.released_at IS NULL AND d.time_range && " g ".time_range) "
/* What may go, of a segment g with columns id, stream_id, seq, time_range,
 * camera_id: not the newest of its stream, not held. */
#define DELETABLE(g)                                                                          \
	" " g ".seq < (SELECT max(h.seq) FROM segments h WHERE h.stream_id = " g ".stream_id)" \
	" AND NOT" HELD(g)
#define SEGMENTS \
	"(SELECT g.id, g.stream_id, g.seq, g.time_range, g.bytes, s.camera_id FROM segments g" \
	" JOIN streams s ON s.id = g.stream_id)"
/* Moves the victims v from segments to segment_tombstones in one
 * statement, so they leave listings at once; returns what moved. */
#define MOVE                                                                                              \
	", m AS (DELETE FROM segments g USING v, streams s WHERE g.id = v.id AND s.id = g.stream_id"     \
	" RETURNING g.id, s.camera_id, g.path, g.bytes, g.time_range),"                                  \
	" t AS (INSERT INTO segment_tombstones (segment_id, camera_id, path, bytes, time_range)"         \
	" SELECT id, camera_id, path, bytes, time_range FROM m)"                                         \
	" SELECT m.id, m.camera_id, c.name, m.path, m.bytes, to_json(lower(m.time_range)) #>> '{}',"     \
	" to_json(upper(m.time_range)) #>> '{}', (extract(epoch FROM lower(m.time_range)) * 1e6)::bigint" \
	" FROM m JOIN cameras c ON c.id = m.camera_id"

enum stmt { S_LIMITS, S_AGE, S_BYTES, S_HIGH, S_TOMBSTONES, S_FORGET, S_COUNT };

static const char *const stmt_sql[S_COUNT] = {
	[S_LIMITS] = "SELECT id, extract(epoch FROM retain_max_age)::bigint, retain_max_bytes FROM cameras"
		     " WHERE retain_max_age IS NOT NULL OR retain_max_bytes IS NOT NULL",
	/* $1 camera, $2 max age in seconds: ended before now - max age */
	[S_AGE] = "WITH v AS (SELECT g.id FROM " SEGMENTS " g WHERE g.camera_id = $1::uuid"
		  " AND upper(g.time_range) < now() - make_interval(secs => $2::bigint) AND" DELETABLE("g")
		  "ORDER BY lower(g.time_range) LIMIT " XSTR(BATCH) ")" MOVE,
	/* $1 camera, $2 max bytes: the camera's bytes counted from its newest
	 * segment back; held segments are exempt: they neither go nor count */
	[S_BYTES] = "WITH v AS (SELECT g.id FROM (SELECT b.*, sum(CASE WHEN" HELD("b") "THEN 0 ELSE b.bytes END)"
		    " OVER (ORDER BY lower(b.time_range) DESC, b.id)"
		    " AS newer FROM " SEGMENTS " b WHERE b.camera_id = $1::uuid) g WHERE g.newer > $2::bigint AND"
		    DELETABLE("g") "ORDER BY lower(g.time_range) LIMIT " XSTR(BATCH) ")" MOVE,
	/* $1 bytes to free: the oldest deletable segments of all cameras
	 * until their sum reaches it */
	[S_HIGH] = "WITH v AS (SELECT g.id FROM (SELECT b.id, b.time_range, sum(b.bytes) OVER (ORDER BY lower(b.time_range),"
		   " b.id) - b.bytes AS older FROM " SEGMENTS " b WHERE" DELETABLE("b") ") g"
		   " WHERE g.older < $1::bigint ORDER BY lower(g.time_range) LIMIT " XSTR(BATCH) ")" MOVE,
	[S_TOMBSTONES] = "SELECT segment_id, camera_id, path FROM segment_tombstones",
	[S_FORGET] = "DELETE FROM segment_tombstones WHERE segment_id = $1::uuid",
};

static const char *const stmt_name[S_COUNT] = { "rt_limits", "rt_age", "rt_bytes", "rt_high", "rt_tombstones",
	"rt_forget" };

enum why { WHY_AGE = 1, WHY_BYTES = 2, WHY_HIGH = 4 };

/* What one pass removed of one camera, for its audit row and log line. */
struct removed {
	nvr_uuid camera;
	char name[65];
	unsigned why;
	int64_t count, bytes;
	int64_t oldest_us, newest_us;
	char oldest[40], newest[40];
};

struct pass {
	struct removed *v;
	size_t n, cap;
	int64_t bytes; /* all cameras */
};

struct stg_retention {
	pthread_t thread;
	pthread_mutex_t lock; /* protects stop (and the wait on cond) */
	pthread_cond_t cond;
	bool stop;
	/* owned by the thread */
	char *root, *conninfo;
	int64_t interval_ms;
	int high, low;
	stg_retention_audit_fn audit;
	void *audit_ctx;
	PGconn *db;
};

static _Atomic int alarm_state = STG_RETENTION_OK;

enum stg_retention_alarm
stg_retention_alarm(void)
{
	return (enum stg_retention_alarm)atomic_load(&alarm_state);
}

const char *
stg_retention_alarm_name(enum stg_retention_alarm a)
{
	return a == STG_RETENTION_FULL_HELD ? "full_held" : "ok";
}

uint64_t
stg_retention_excess(uint64_t used, uint64_t avail, int high, int low)
{
	long double total = (long double)used + (long double)avail, keep;

	if (total <= 0 || (long double)used * 100 <= total * high)
		return 0;
	keep = total * low / 100;
	return (long double)used > keep ? (uint64_t)((long double)used - keep) : 0;
}

/* ---- files ------------------------------------------------------------------ */

/* The folder of a relative segment path, in dir. */
static void
dir_of(const char *root, const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');

	snprintf(dir, size, "%s/%.*s", root, slash != NULL ? (int)(slash - path) : 0, path);
}

/* Unlinks a segment's three files; a file already gone is fine (a crash
 * after its unlink). A path the index should never hold is refused. */
static nvr_err
unlink_segment(const char *root, const char *path)
{
	static const char *const ext[] = { ".nvrseg", ".manifest.json", ".manifest.json.sig" };
	size_t len = strlen(path);
	char file[PATH_MAX];
	nvr_err rc = NVR_OK;

	if (path[0] == '/' || strstr(path, "..") != NULL || len < 8 || strcmp(path + len - 7, ".nvrseg") != 0) {
		nvr_log(NVR_LOG_ERROR, "retention: the index names a strange segment path '%s': left alone", path);
		return NVR_ERR_INVAL;
	}
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(file, sizeof(file), "%s/%.*s%s", root, (int)(len - 7), path, ext[i]);
		if (unlink(file) != 0 && errno != ENOENT) {
			nvr_log(NVR_LOG_ERROR, "retention: cannot delete %s: %s", file, strerror(errno));
			rc = NVR_ERR_IO;
		}
	}
	return rc;
}

/* ---- tombstones ---------------------------------------------------------------- */

static nvr_err
forget(PGconn *db, const char *id)
{
	const char *p[1] = { id };
	PGresult *r = PQexecParams(db, stmt_sql[S_FORGET], 1, NULL, p, NULL, NULL, 0);
	nvr_err rc = stg_db_check(db, r, PGRES_COMMAND_OK, "retention: deleting a tombstone");

	if (rc == NVR_OK)
		PQclear(r);
	return rc;
}

/*
 * Unlinks the files of rows (segment id, camera id, path in columns 0, 1,
 * 3 or 2), syncs each folder once, then deletes their tombstones: a
 * tombstone outlives its files on disk, so a crash in between only
 * repeats the unlink. A segment whose files cannot be deleted keeps its
 * tombstone, retried at the next pass.
 */
static nvr_err
finish(PGconn *db, const char *root, PGresult *res, int path_col)
{
	char dir[PATH_MAX], last[PATH_MAX] = "";
	int n = PQntuples(res);
	bool *ok = calloc((size_t)n + 1, sizeof(*ok));
	nvr_uuid cam;
	nvr_err rc = NVR_OK;

	if (ok == NULL)
		return NVR_ERR_NOMEM;
	for (int i = 0; i < n; i++) {
		ok[i] = unlink_segment(root, PQgetvalue(res, i, path_col)) == NVR_OK;
		dir_of(root, PQgetvalue(res, i, path_col), dir, sizeof(dir));
		if (strcmp(dir, last) != 0 && last[0] != '\0')
			stg_sync_dir(last);
		snprintf(last, sizeof(last), "%s", dir);
	}
	if (last[0] != '\0')
		stg_sync_dir(last);
	for (int i = 0; i < n && rc == NVR_OK; i++) {
		if (ok[i])
			rc = forget(db, PQgetvalue(res, i, 0));
		if (nvr_uuid_parse(PQgetvalue(res, i, 1), &cam) == NVR_OK)
			stg_index_changed(&cam);
	}
	free(ok);
	return rc;
}

nvr_err
stg_retention_recover(const char *root, PGconn *db)
{
	PGresult *res = PQexec(db, stmt_sql[S_TOMBSTONES]);
	nvr_err rc = stg_db_check(db, res, PGRES_TUPLES_OK, "retention: reading interrupted deletions");

	if (rc != NVR_OK)
		return rc;
	if (PQntuples(res) > 0)
		nvr_log(NVR_LOG_NOTICE, "retention: finishing %d segment deletion%s a stop interrupted", PQntuples(res),
		    PQntuples(res) == 1 ? "" : "s");
	rc = finish(db, root, res, 2);
	PQclear(res);
	return rc;
}

/* ---- a pass ----------------------------------------------------------------------- */

static struct removed *
removed_for(struct pass *p, const char *camera, const char *name)
{
	nvr_uuid id;

	if (nvr_uuid_parse(camera, &id) != NVR_OK)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		if (memcmp(p->v[i].camera.b, id.b, 16) == 0)
			return &p->v[i];
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;
		struct removed *v = realloc(p->v, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		p->v = v;
		p->cap = cap;
	}
	memset(&p->v[p->n], 0, sizeof(p->v[0]));
	p->v[p->n].camera = id;
	p->v[p->n].oldest_us = INT64_MAX;
	p->v[p->n].newest_us = INT64_MIN;
	snprintf(p->v[p->n].name, sizeof(p->v[0].name), "%s", name);
	return &p->v[p->n++];
}

/* Counts what a MOVE statement returned: id, camera, name, path, bytes,
 * start, end, start in microseconds. */
static void
count_moved(struct pass *p, PGresult *res, unsigned why)
{
	for (int i = 0; i < PQntuples(res); i++) {
		struct removed *e = removed_for(p, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
		int64_t bytes = strtoll(PQgetvalue(res, i, 4), NULL, 10), us = strtoll(PQgetvalue(res, i, 7), NULL, 10);

		p->bytes += bytes;
		if (e == NULL)
			continue;
		e->why |= why;
		e->count++;
		e->bytes += bytes;
		if (us < e->oldest_us) {
			e->oldest_us = us;
			snprintf(e->oldest, sizeof(e->oldest), "%s", PQgetvalue(res, i, 5));
		}
		if (us > e->newest_us) {
			e->newest_us = us;
			snprintf(e->newest, sizeof(e->newest), "%s", PQgetvalue(res, i, 6));
		}
	}
}

/* Runs one MOVE statement (repeated while it fills a batch), then
 * finishes what it moved. Returns the number of segments moved, or -1. */
static int64_t
move(struct stg_retention *rt, struct pass *p, enum stmt s, int n, const char *const *params, unsigned why)
{
	int64_t total = 0;
	int got;

	do {
		PGresult *res = PQexecPrepared(rt->db, stmt_name[s], n, params, NULL, NULL, 0);
		if (stg_db_check(rt->db, res, PGRES_TUPLES_OK, "retention: choosing segments to delete") != NVR_OK)
			return -1;
		got = PQntuples(res);
		count_moved(p, res, why);
		for (int i = 0; i < got; i++) { /* out of listings now */
			nvr_uuid cam;
			if (nvr_uuid_parse(PQgetvalue(res, i, 1), &cam) == NVR_OK)
				stg_index_changed(&cam);
		}
		if (finish(rt->db, rt->root, res, 3) != NVR_OK) {
			PQclear(res);
			return -1;
		}
		PQclear(res);
		total += got;
	} while (got == BATCH && s != S_HIGH);
	return total;
}

/* Each camera with limits: its age, then its bytes. */
static nvr_err
pass_cameras(struct stg_retention *rt, struct pass *p)
{
	PGresult *res = PQexecPrepared(rt->db, stmt_name[S_LIMITS], 0, NULL, NULL, NULL, 0);
	nvr_err rc = NVR_OK;

	if (stg_db_check(rt->db, res, PGRES_TUPLES_OK, "retention: reading camera limits") != NVR_OK)
		return NVR_ERR_DB;
	for (int i = 0; rc == NVR_OK && i < PQntuples(res); i++) {
		const char *age[2] = { PQgetvalue(res, i, 0), PQgetvalue(res, i, 1) };
		const char *bytes[2] = { PQgetvalue(res, i, 0), PQgetvalue(res, i, 2) };

		if (!PQgetisnull(res, i, 1) && move(rt, p, S_AGE, 2, age, WHY_AGE) < 0)
			rc = NVR_ERR_DB;
		if (rc == NVR_OK && !PQgetisnull(res, i, 2) && move(rt, p, S_BYTES, 2, bytes, WHY_BYTES) < 0)
			rc = NVR_ERR_DB;
	}
	PQclear(res);
	return rc;
}

/* Bytes above the low-water mark once above the high-water mark, or 0. */
static uint64_t
excess(const struct stg_retention *rt)
{
	struct statvfs st;

	if (statvfs(rt->root, &st) != 0) {
		nvr_log(NVR_LOG_WARNING, "retention: cannot read the free space of %s: %s", rt->root, strerror(errno));
		return 0;
	}
	return stg_retention_excess((uint64_t)(st.f_blocks - st.f_bfree) * st.f_frsize,
	    (uint64_t)st.f_bavail * st.f_frsize, rt->high, rt->low);
}

static void
set_alarm(const struct stg_retention *rt, enum stg_retention_alarm a)
{
	if (atomic_exchange(&alarm_state, (int)a) == (int)a)
		return;
	if (a == STG_RETENTION_FULL_HELD)
		nvr_log_ex(NVR_LOG_ERROR, "recording goes on until the disk is full, then segments are lost",
		    "release holds (nvrctl hold list, nvrctl hold release ID), lower retention or add storage",
		    "retention: %s is above its high-water mark (%d%%) and nothing is left to delete: every segment left "
		    "is held or the newest of its stream", rt->root, rt->high);
	else
		nvr_log(NVR_LOG_NOTICE, "retention: %s is below its high-water mark again, or has segments to delete", rt->root);
}

/* Above high water: the oldest of all cameras until low water. */
static nvr_err
pass_high_water(struct stg_retention *rt, struct pass *p)
{
	uint64_t need = excess(rt), freed = 0;
	char num[24];
	const char *params[1] = { num };
	int64_t before, n;

	while (need > freed) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)(need - freed));
		before = p->bytes;
		if ((n = move(rt, p, S_HIGH, 1, params, WHY_HIGH)) < 0)
			return NVR_ERR_DB;
		if (n == 0)
			break;
		freed += (uint64_t)(p->bytes - before);
	}
	/* Measured again: files another process holds open free nothing yet. */
	set_alarm(rt, need > freed && excess(rt) > 0 ? STG_RETENTION_FULL_HELD : STG_RETENTION_OK);
	return NVR_OK;
}

static void
report(struct stg_retention *rt, const struct removed *e)
{
	json_t *why = json_array();
	json_t *j;
	char *text;

	if (e->why & WHY_AGE)
		json_array_append_new(why, json_string("max_age"));
	if (e->why & WHY_BYTES)
		json_array_append_new(why, json_string("max_bytes"));
	if (e->why & WHY_HIGH)
		json_array_append_new(why, json_string("high_water"));
	j = json_pack("{s:I,s:I,s:s,s:s,s:o}", "count", (json_int_t)e->count, "bytes", (json_int_t)e->bytes, "oldest",
	    e->oldest, "newest", e->newest, "reasons", why);
	text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	nvr_log(NVR_LOG_NOTICE, "retention: camera %s: deleted %lld segment%s (%lld bytes) from %s to %s %s", e->name,
	    (long long)e->count, e->count == 1 ? "" : "s", (long long)e->bytes, e->oldest, e->newest,
	    text != NULL ? text : "");
	if (rt->audit != NULL && text != NULL)
		rt->audit(rt->audit_ctx, rt->db, e->name, text);
	free(text);
	json_decref(j);
}

static void
run_pass(struct stg_retention *rt)
{
	struct pass p = { 0 };

	/* tombstones a failed unlink left behind */
	if (stg_retention_recover(rt->root, rt->db) == NVR_OK && pass_cameras(rt, &p) == NVR_OK)
		(void)pass_high_water(rt, &p);
	for (size_t i = 0; i < p.n; i++)
		report(rt, &p.v[i]);
	free(p.v);
}

/* ---- the thread -------------------------------------------------------------------- */

static nvr_err
prepare_all(PGconn *db)
{
	nvr_err rc = stg_db_exec(db, "SET TimeZone = 'UTC'", "retention: setting the time zone");

	return rc == NVR_OK ? stg_db_prepare(db, S_COUNT, stmt_name, stmt_sql, "retention: preparing statements") : rc;
}

static bool
ensure_db(struct stg_retention *rt)
{
	char why[256];

	if (rt->db != NULL && PQstatus(rt->db) == CONNECTION_OK)
		return true;
	if (rt->db != NULL)
		PQfinish(rt->db);
	rt->db = NULL;
	if (stg_db_connect(rt->conninfo, 5000, -1, &rt->db, why, sizeof(why)) != NVR_OK) {
		nvr_log_ex(NVR_LOG_WARNING, why, NULL, "retention: PostgreSQL unreachable; retried at the next pass");
		rt->db = NULL;
		return false;
	}
	if (prepare_all(rt->db) != NVR_OK) {
		PQfinish(rt->db);
		rt->db = NULL;
		return false;
	}
	return true;
}

/* Waits ms or until stop; returns whether to stop. */
static bool
wait_stop(struct stg_retention *rt, int64_t ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rt->lock);
	if (!rt->stop)
		pthread_cond_timedwait(&rt->cond, &rt->lock, &ts);
	stop = rt->stop;
	pthread_mutex_unlock(&rt->lock);
	return stop;
}

static void *
retention_main(void *arg)
{
	struct stg_retention *rt = arg;

	pthread_setname_np(pthread_self(), "nvr-retention");
	while (!wait_stop(rt, rt->interval_ms)) {
		if (ensure_db(rt))
			run_pass(rt);
	}
	return NULL;
}

nvr_err
stg_retention_start(const struct stg_retention_config *cfg, struct stg_retention **out)
{
	struct stg_retention *rt = calloc(1, sizeof(*rt));

	*out = NULL;
	if (rt == NULL || (rt->root = strdup(cfg->root)) == NULL || (rt->conninfo = strdup(cfg->conninfo)) == NULL) {
		if (rt != NULL)
			free(rt->root);
		free(rt);
		return NVR_ERR_NOMEM;
	}
	rt->interval_ms = cfg->interval_ms;
	rt->high = cfg->high_water;
	rt->low = cfg->low_water < cfg->high_water ? cfg->low_water : cfg->high_water;
	rt->audit = cfg->audit;
	rt->audit_ctx = cfg->audit_ctx;
	pthread_mutex_init(&rt->lock, NULL);
	pthread_cond_init(&rt->cond, NULL);
	if (pthread_create(&rt->thread, NULL, retention_main, rt) != 0) {
		pthread_mutex_destroy(&rt->lock);
		pthread_cond_destroy(&rt->cond);
		free(rt->conninfo);
		free(rt->root);
		free(rt);
		return NVR_ERR_INTERNAL;
	}
	*out = rt;
	return NVR_OK;
}

void
stg_retention_stop(struct stg_retention *rt)
{
	if (rt == NULL)
		return;
	pthread_mutex_lock(&rt->lock);
	rt->stop = true;
	pthread_cond_signal(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
	pthread_join(rt->thread, NULL);
	if (rt->db != NULL)
		PQfinish(rt->db);
	pthread_mutex_destroy(&rt->lock);
	pthread_cond_destroy(&rt->cond);
	free(rt->conninfo);
	free(rt->root);
	free(rt);
}

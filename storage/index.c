/*
 * index.c: the index writer thread: queued rows, written in batches.
 * It must never block a caller on the database, never drop a segment,
 * session or stream row because PostgreSQL is down, and never let one bad
 * row block the others forever.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nvrd/backoff.h"
#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "nvrd/util.h"
#include "storage/db.h"
#include "storage/index.h"

#define MAX_PARAMS 16
#define BATCH 256
#define TICK_MS 200
#define MAX_QUEUED 1000000 /* rows; past it, the oldest are dropped (and re-indexed at start) */

enum stmt { S_STREAM, S_SESSION, S_SEALED, S_SESSION_END, S_SEGMENT, S_STATUS, S_COUNT };

static const char *const stmt_sql[S_COUNT] = {
	[S_STREAM] = "INSERT INTO streams (id, camera_id, name, codec, clock_rate) VALUES ($1, $2, $3, $4, $5)"
		     " ON CONFLICT DO NOTHING",
	[S_SESSION] = "INSERT INTO rtsp_sessions (key_id, stream_id, ssrc, suite, started_at)"
		      " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
	[S_SEALED] = "INSERT INTO sealed_keys (key_id, key_holder_id, sealed)"
		     " SELECT $1::uuid, (e->>'key_holder')::uuid, e FROM jsonb_array_elements($2::jsonb) e"
		     " ON CONFLICT DO NOTHING",
	[S_SESSION_END] = "UPDATE rtsp_sessions SET ended_at = $2 WHERE key_id = $1",
	[S_SEGMENT] = "INSERT INTO segments (id, stream_id, seq, key_id, path, time_range, bytes, packets, sha256,"
		      " manifest_sha256, prev_manifest_sha256, forged, lost, clean_start, tag_verified)"
		      " VALUES ($1, $2, $3, $4, $5, tstzrange($6, $7, '[)'), $8, $9, decode($10, 'hex'),"
		      " decode($11, 'hex'), decode($12, 'hex'), $13, $14, $15, $16) ON CONFLICT (id) DO NOTHING",
	[S_STATUS] = "INSERT INTO camera_status (camera_id, state, last_error, packets, bytes, forged, replayed, lost,"
		     " reconnects, warning) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
		     " ON CONFLICT (camera_id) DO UPDATE SET"
		     " since = CASE WHEN camera_status.state = EXCLUDED.state THEN camera_status.since ELSE now() END,"
		     " state = EXCLUDED.state, last_error = EXCLUDED.last_error, updated_at = now(),"
		     " packets = EXCLUDED.packets, bytes = EXCLUDED.bytes, forged = EXCLUDED.forged,"
		     " replayed = EXCLUDED.replayed, lost = EXCLUDED.lost, reconnects = EXCLUDED.reconnects,"
		     " warning = EXCLUDED.warning",
};

static const char *const stmt_name[S_COUNT] = { "stream", "session", "sealed", "session_end", "segment", "status" };

struct row {
	struct row *next;
	enum stmt stmt;
	int n;
	char *v[MAX_PARAMS]; /* owned; NULL is SQL NULL */
	nvr_uuid camera;     /* S_STATUS: which camera it replaces; S_SEGMENT: whose */
};

struct stg_index {
	pthread_t thread;
	pthread_mutex_t lock; /* protects every field below it */
	pthread_cond_t cond;
	struct row *head, **tail;
	size_t n;
	struct row *status; /* latest per camera, unordered */
	bool stop;
	int64_t stop_deadline;
	/* owned by the thread */
	char *conninfo;
	int64_t timeout_ms;
	PGconn *db;
	bool prepared;
};

static void
row_free(struct row *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r);
}

/* A row of n parameters copied from vals (NULL stays NULL). */
static struct row *
row_new(enum stmt s, int n, const char *const *vals)
{
	struct row *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->stmt = s;
	r->n = n;
	for (int i = 0; i < n; i++) {
		if (vals[i] != NULL && (r->v[i] = strdup(vals[i])) == NULL) {
			row_free(r);
			return NULL;
		}
	}
	return r;
}

static void
enqueue(struct stg_index *ix, struct row *r)
{
	struct row *old;

	if (r == NULL) {
		nvr_log(NVR_LOG_ERROR, "index: out of memory; a row is lost (it is re-indexed at the next start)");
		return;
	}
	pthread_mutex_lock(&ix->lock);
	*ix->tail = r;
	ix->tail = &r->next;
	ix->n++;
	if (ix->n > MAX_QUEUED) {
		old = ix->head;
		ix->head = old->next;
		ix->n--;
		row_free(old);
	}
	pthread_cond_signal(&ix->cond);
	pthread_mutex_unlock(&ix->lock);
}

/* ---- generations ------------------------------------------------------- */

/* One counter per slot of camera ids hashed: two cameras sharing a slot
 * only ever see a change that was not theirs, which costs a cache miss. */
#define GEN_SLOTS 1024
static _Atomic uint64_t generations[GEN_SLOTS];

static size_t
gen_slot(const nvr_uuid *camera)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < sizeof(camera->b); i++)
		h = (h ^ camera->b[i]) * 16777619u;
	return h % GEN_SLOTS;
}

uint64_t
stg_index_generation(const nvr_uuid *camera)
{
	return atomic_load(&generations[gen_slot(camera)]);
}

void
stg_index_changed(const nvr_uuid *camera)
{
	atomic_fetch_add(&generations[gen_slot(camera)], 1);
}

/* ---- the thread ------------------------------------------------------------ */

static bool
ensure_db(struct stg_index *ix)
{
	char why[256];

	if (ix->db != NULL && PQstatus(ix->db) == CONNECTION_OK)
		return true;
	if (ix->db != NULL) {
		PQfinish(ix->db);
		ix->db = NULL;
	}
	if (stg_db_connect(ix->conninfo, ix->timeout_ms, -1, &ix->db, why, sizeof(why)) != NVR_OK) {
		nvr_log_ex(NVR_LOG_WARNING, why, NULL, "index: PostgreSQL unreachable; %zu rows wait", ix->n);
		ix->db = NULL;
		return false;
	}
	if (stg_db_prepare(ix->db, S_COUNT, stmt_name, stmt_sql, "index: preparing statements") != NVR_OK) {
		PQfinish(ix->db);
		ix->db = NULL;
		return false;
	}
	return true;
}

static nvr_err
exec_row(struct stg_index *ix, const struct row *r)
{
	PGresult *res = PQexecPrepared(ix->db, stmt_name[r->stmt], r->n, (const char *const *)r->v, NULL, NULL, 0);
	nvr_err rc = stg_db_check(ix->db, res, PGRES_COMMAND_OK, "index: writing a row");

	if (rc == NVR_OK)
		PQclear(res);
	return rc;
}

/* One transaction for the whole batch; if it fails on a live connection,
 * each row alone, so that a bad row is dropped (logged) and not the batch. */
static bool
write_batch(struct stg_index *ix, struct row *batch)
{
	nvr_err rc = stg_db_exec(ix->db, "BEGIN", "index: BEGIN");

	for (struct row *r = batch; r != NULL && rc == NVR_OK; r = r->next)
		rc = exec_row(ix, r);
	if (rc == NVR_OK && stg_db_exec(ix->db, "COMMIT", "index: COMMIT") == NVR_OK)
		return true;
	PQclear(PQexec(ix->db, "ROLLBACK"));
	if (PQstatus(ix->db) != CONNECTION_OK)
		return false;
	for (struct row *r = batch; r != NULL; r = r->next) {
		if (exec_row(ix, r) != NVR_OK) {
			if (PQstatus(ix->db) != CONNECTION_OK)
				return false;
			nvr_log(NVR_LOG_ERROR, "index: a %s row was refused and dropped", stmt_name[r->stmt]);
		}
	}
	return true;
}

/* Takes up to BATCH rows: statuses first (they are few and replaceable). */
static struct row *
take_batch(struct stg_index *ix)
{
	struct row *batch = ix->status, **tail = &batch;
	int n = 0;

	ix->status = NULL;
	while (*tail != NULL)
		tail = &(*tail)->next;
	while (ix->head != NULL && n < BATCH) {
		struct row *r = ix->head;
		ix->head = r->next;
		r->next = NULL;
		*tail = r;
		tail = &r->next;
		ix->n--;
		n++;
	}
	if (ix->head == NULL)
		ix->tail = &ix->head;
	return batch;
}

/* Puts an unwritten batch back at the front, in order. */
static void
give_back(struct stg_index *ix, struct row *batch)
{
	struct row **tail = &batch;
	size_t n = 0;

	while (*tail != NULL) {
		tail = &(*tail)->next;
		n++;
	}
	*tail = ix->head;
	if (ix->head == NULL)
		ix->tail = tail;
	ix->head = batch;
	ix->n += n;
}

static void
wait_tick(struct stg_index *ix, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&ix->cond, &ix->lock, &ts);
}

static void *
index_main(void *arg)
{
	struct stg_index *ix = arg;
	struct nvr_backoff bo;
	struct row *batch;
	bool ok;

	/* named, for top -H, perf and gdb */
	pthread_setname_np(pthread_self(), "nvr-index");

	nvr_backoff_init(&bo, 500, 10000);
	pthread_mutex_lock(&ix->lock);
	for (;;) {
		if (ix->head == NULL && ix->status == NULL) {
			if (ix->stop)
				break;
			wait_tick(ix, TICK_MS);
			continue;
		}
		if (ix->stop && nvr_monotonic_ms() > ix->stop_deadline)
			break;
		batch = take_batch(ix);
		pthread_mutex_unlock(&ix->lock);
		ok = ensure_db(ix) && write_batch(ix, batch);
		pthread_mutex_lock(&ix->lock);
		if (ok) {
			while (batch != NULL) {
				struct row *next = batch->next;
				if (batch->stmt == S_SEGMENT)
					stg_index_changed(&batch->camera);
				row_free(batch);
				batch = next;
			}
			nvr_backoff_reset(&bo);
		} else {
			give_back(ix, batch);
			wait_tick(ix, nvr_backoff_next(&bo));
		}
	}
	pthread_mutex_unlock(&ix->lock);
	return NULL;
}

/* ---- public ------------------------------------------------------------------ */

nvr_err
stg_index_start(const char *conninfo, int64_t connect_timeout_ms, struct stg_index **out)
{
	struct stg_index *ix = calloc(1, sizeof(*ix));

	*out = NULL;
	if (ix == NULL || (ix->conninfo = strdup(conninfo)) == NULL) {
		free(ix);
		return NVR_ERR_NOMEM;
	}
	ix->tail = &ix->head;
	ix->timeout_ms = connect_timeout_ms;
	pthread_mutex_init(&ix->lock, NULL);
	pthread_cond_init(&ix->cond, NULL);
	if (pthread_create(&ix->thread, NULL, index_main, ix) != 0) {
		free(ix->conninfo);
		free(ix);
		return NVR_ERR_INTERNAL;
	}
	*out = ix;
	return NVR_OK;
}

void
stg_index_stop(struct stg_index *ix, int64_t wait_ms)
{
	struct row *r;

	if (ix == NULL)
		return;
	pthread_mutex_lock(&ix->lock);
	ix->stop = true;
	ix->stop_deadline = nvr_monotonic_ms() + wait_ms;
	pthread_cond_signal(&ix->cond);
	pthread_mutex_unlock(&ix->lock);
	pthread_join(ix->thread, NULL);
	if (ix->n > 0)
		nvr_log(NVR_LOG_WARNING, "index: %zu rows not written at stop; they are re-indexed at the next start", ix->n);
	while ((r = ix->head) != NULL) {
		ix->head = r->next;
		row_free(r);
	}
	while ((r = ix->status) != NULL) {
		ix->status = r->next;
		row_free(r);
	}
	if (ix->db != NULL)
		PQfinish(ix->db);
	pthread_mutex_destroy(&ix->lock);
	pthread_cond_destroy(&ix->cond);
	free(ix->conninfo);
	free(ix);
}

size_t
stg_index_pending(struct stg_index *ix)
{
	size_t n;

	pthread_mutex_lock(&ix->lock);
	n = ix->n;
	pthread_mutex_unlock(&ix->lock);
	return n;
}

void
stg_index_stream(struct stg_index *ix, const nvr_uuid *stream, const nvr_uuid *camera, const char *name,
    const char *codec, int clock_rate)
{
	char sid[NVR_UUID_STRLEN], cid[NVR_UUID_STRLEN], rate[16];
	const char *v[5] = { sid, cid, name, codec, rate };

	nvr_uuid_format(stream, sid);
	nvr_uuid_format(camera, cid);
	snprintf(rate, sizeof(rate), "%d", clock_rate);
	enqueue(ix, row_new(S_STREAM, 5, v));
}

void
stg_index_session(struct stg_index *ix, const nvr_uuid *key, const nvr_uuid *stream, uint32_t ssrc,
    const char *suite, int64_t started_ns, const char *sealed)
{
	char kid[NVR_UUID_STRLEN], sid[NVR_UUID_STRLEN], ss[16], ts[32];
	const char *v[5] = { kid, sid, ss, suite, ts };
	const char *s[2] = { kid, sealed };

	nvr_uuid_format(key, kid);
	nvr_uuid_format(stream, sid);
	snprintf(ss, sizeof(ss), "%u", ssrc);
	stg_time_format(started_ns, ts);
	enqueue(ix, row_new(S_SESSION, 5, v));
	enqueue(ix, row_new(S_SEALED, 2, s));
}

void
stg_index_session_end(struct stg_index *ix, const nvr_uuid *key, int64_t ended_ns)
{
	char kid[NVR_UUID_STRLEN], ts[32];
	const char *v[2] = { kid, ts };

	nvr_uuid_format(key, kid);
	stg_time_format(ended_ns, ts);
	enqueue(ix, row_new(S_SESSION_END, 2, v));
}

void
stg_index_segment(struct stg_index *ix, const struct stg_manifest *m, const char *path,
    const uint8_t manifest_sha256[32])
{
	char id[NVR_UUID_STRLEN], sid[NVR_UUID_STRLEN], kid[NVR_UUID_STRLEN], seq[24], t0[32], t1[32];
	char bytes[24], pkts[24], sha[65], msha[65], prev[65], forged[24], lost[24];
	const char *v[16] = { id, sid, seq, kid, path, t0, t1, bytes, pkts, sha, msha, m->has_prev ? prev : NULL,
		forged, lost, m->clean_start ? "t" : "f", m->tag_verified ? "t" : "f" };
	struct row *r;

	nvr_uuid_format(&m->segment, id);
	nvr_uuid_format(&m->stream, sid);
	nvr_uuid_format(&m->key, kid);
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)m->seq);
	stg_time_format(m->start_ns, t0);
	/* a half-open range must not be empty: at least 1 us long */
	stg_time_format(m->end_ns > m->start_ns ? m->end_ns : m->start_ns + 1000, t1);
	snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)m->bytes);
	snprintf(pkts, sizeof(pkts), "%llu", (unsigned long long)m->packets);
	nvr_hex_encode(m->sha256, 32, sha);
	nvr_hex_encode(manifest_sha256, 32, msha);
	nvr_hex_encode(m->prev_sha256, 32, prev);
	snprintf(forged, sizeof(forged), "%llu", (unsigned long long)m->forged);
	snprintf(lost, sizeof(lost), "%llu", (unsigned long long)m->lost);
	if ((r = row_new(S_SEGMENT, 16, v)) != NULL)
		r->camera = m->camera;
	enqueue(ix, r);
}

void
stg_index_status(struct stg_index *ix, const nvr_uuid *camera, const char *state, const char *error,
    const char *warning, const int64_t counters[6])
{
	char cid[NVR_UUID_STRLEN], num[6][24];
	const char *v[10] = { cid, state, error };
	struct row *r, **pp;

	nvr_uuid_format(camera, cid);
	for (int i = 0; i < 6; i++) {
		snprintf(num[i], sizeof(num[i]), "%lld", (long long)(counters ? counters[i] : 0));
		v[3 + i] = num[i];
	}
	v[9] = warning;
	if ((r = row_new(S_STATUS, 10, v)) == NULL)
		return;
	r->camera = *camera;
	pthread_mutex_lock(&ix->lock);
	for (pp = &ix->status; *pp != NULL; pp = &(*pp)->next) {
		if (memcmp((*pp)->camera.b, camera->b, 16) == 0) {
			struct row *old = *pp;
			r->next = old->next;
			*pp = r;
			row_free(old);
			r = NULL;
			break;
		}
	}
	if (r != NULL) {
		r->next = ix->status;
		ix->status = r;
	}
	pthread_cond_signal(&ix->cond);
	pthread_mutex_unlock(&ix->lock);
}

/*
 * audit.c: the hash-chained audit log: what an event becomes (bounded,
 * well-formed UTF-8), appending under the advisory lock, and the writer
 * thread. The chain itself (row hash, checkpoint text) and its
 * verification are in audit_verify.c.
 * It must never make a caller of web_audit_record wait for PostgreSQL,
 * never drop a queued event because PostgreSQL went away for a while (only
 * a full queue, a row PostgreSQL refuses, or a stop that cannot reach it
 * loses events, and each says how many), and never store a row whose hash
 * was not computed over exactly the bytes stored.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "nvrd/backoff.h"
#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "nvrd/util.h"
#include "storage/db.h"
#include "storage/manifest.h"
#include "web/audit.h"
#include "web/audit_priv.h"
#include "web/keyed.h"

/* pg_advisory_xact_lock key: "NVRAUDIT" as a big-endian int64 (as the
 * schema's "NVRSCHEM"). docs/FORMAT.md gives it: any other writer must take
 * it too, or two writers would number rows from the same head. */
#define LOCK_KEY "5644789623512385876"

#define COLS 10             /* parameters per inserted row */
#define INSERT_ROWS 500     /* rows per INSERT: 5000 parameters, under the protocol's 65535 */
#define BATCH 500           /* events per writer transaction */
#define LINGER_MS 20        /* how long the first queued event waits for others to share its transaction */
#define CHECKPOINT_EVERY_MS ((int64_t)60 * 1000) /* at most this long without a signed head */
#define CONNECT_TIMEOUT_MS 5000
#define TICK_MS 1000
#define FLOOD_SLOTS 1024
#define FLOOD_WINDOW_MS ((int64_t)60 * 1000)
#define STOP_WAIT_MS 5000   /* how long stop keeps writing what is queued */
#define CUT_GRACE_MS 1000   /* then how long before it cuts a connection that does not answer */

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD, for bytes that are not UTF-8 */

static const char *const outcome_name[] = {
	[WEB_AUDIT_OK] = "ok",
	[WEB_AUDIT_DENIED] = "denied",
	[WEB_AUDIT_FAILED] = "failed",
};

/* One event as it is hashed and stored, in one allocation (f[] points
 * into text, each field NUL-terminated). */
struct row {
	struct row *next; /* in the writer's queue */
	int64_t at_us;    /* microseconds since the epoch (CLOCK_REALTIME) */
	const char *f[NF];
	size_t len[NF];
	char text[];
};

/* The newest row; id 0 and 32 zero bytes while the log is empty. */
struct head {
	int64_t id;
	uint8_t sha[32];
};

/* One append transaction, and what the writer needs to know when it fails. */
struct tx {
	PGconn *c;
	bool bad_data;    /* PostgreSQL refused the data itself (SQLSTATE class 22) */
	bool unsure;      /* COMMIT was sent but its answer lost: it may have happened */
	struct head head; /* after the rows inserted so far */
};

/* ---- events: bounded, well-formed UTF-8 ------------------------------------------ */

/* Copies s into out (NULL: only measures) as well-formed UTF-8, each byte
 * that is not replaced by U+FFFD, and stops before a character that would
 * take it past max bytes (*cut is then true). Returns the length; writes
 * no NUL. */
static size_t
utf8_clean(const char *s, size_t max, char *out, bool *cut)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0, n, take;

	*cut = false;
	while (*p != '\0') {
		n = nvr_utf8_len(p);
		take = n > 0 ? n : sizeof(REPLACEMENT) - 1;
		if (len + take > max) {
			*cut = true;
			break;
		}
		if (out != NULL)
			memcpy(out + len, n > 0 ? (const char *)p : REPLACEMENT, take);
		len += take;
		p += n > 0 ? n : 1;
	}
	return len;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* '{' first and '}' last, blanks aside: a shape check, not a parse
 * (docs/FORMAT.md "Audit chain" says why). */
static bool
looks_like_object(const char *s)
{
	size_t a = 0, b = strlen(s);

	while (a < b && is_blank(s[a]))
		a++;
	while (b > a && is_blank(s[b - 1]))
		b--;
	return b - a >= 2 && s[a] == '{' && s[b - 1] == '}';
}

/* {"<key>": "<text>"} within WEB_AUDIT_DETAIL_MAX bytes, text cut on a
 * character boundary as far as its escapes need. text is well-formed UTF-8.
 * Returns a string the caller frees, or NULL. */
static char *
wrap_detail(const char *key, const char *text, size_t len)
{
	size_t out, keep;
	json_t *o;
	char *s;

	for (;;) {
		o = json_pack("{s:s%}", key, text, len);
		s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (s == NULL || (out = strlen(s)) <= WEB_AUDIT_DETAIL_MAX || len == 0)
			return s;
		free(s);
		/* shrink in proportion to the overshoot, by one byte at least */
		keep = len * WEB_AUDIT_DETAIL_MAX / out;
		len = keep < len ? keep : len - 1;
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--;
	}
}

/* The detail as stored: "{}" for none; an object within bounds as given
 * (bad bytes replaced); anything else kept for the auditor as a JSON string
 * inside {"invalid_detail": ...} or {"truncated_detail": ...}, so that
 * detail is always an object. Returns a string the caller frees, or NULL. */
static char *
clean_detail(const char *in)
{
	bool cut, object;
	size_t len;
	char *s, *w;

	if (in == NULL || *in == '\0')
		return strdup("{}");
	if ((s = malloc(WEB_AUDIT_DETAIL_MAX + 1)) == NULL)
		return NULL;
	len = utf8_clean(in, WEB_AUDIT_DETAIL_MAX, s, &cut);
	s[len] = '\0';
	object = looks_like_object(in);
	if (object && !cut)
		return s;
	w = wrap_detail(object ? "truncated_detail" : "invalid_detail", s, len);
	free(s);
	return w;
}

/* A bounded, well-formed copy of ev, dated at_us; NULL when out of memory. */
static struct row *
row_new(const struct web_audit_event *ev, int64_t at_us)
{
	const char *in[NF] = { ev->actor, ev->address, ev->action, ev->object, NULL, NULL };
	char *detail = clean_detail(ev->detail), *p;
	size_t total = 0, max;
	struct row *r = NULL;
	bool cut;

	if (detail == NULL)
		return NULL;
	/* an outcome outside the enum is a caller's bug; "failed" claims least */
	in[F_OUTCOME] = "failed";
	if ((unsigned)ev->outcome < NVR_ARRAY_LEN(outcome_name))
		in[F_OUTCOME] = outcome_name[ev->outcome];
	in[F_DETAIL] = detail;
	for (int i = 0; i < NF; i++) {
		in[i] = in[i] != NULL ? in[i] : "";
		max = i == F_DETAIL ? SIZE_MAX : WEB_AUDIT_FIELD_MAX;
		total += utf8_clean(in[i], max, NULL, &cut) + 1;
	}
	if ((r = malloc(sizeof(*r) + total)) == NULL)
		goto out;
	r->next = NULL;
	r->at_us = at_us;
	p = r->text;
	for (int i = 0; i < NF; i++) {
		max = i == F_DETAIL ? SIZE_MAX : WEB_AUDIT_FIELD_MAX;
		r->f[i] = p;
		r->len[i] = utf8_clean(in[i], max, p, &cut);
		p[r->len[i]] = '\0';
		p += r->len[i] + 1;
	}
out:
	free(detail);
	return r;
}

static int64_t
realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- appending ------------------------------------------------------------------- */

/* stg_db_check, noting first whether PostgreSQL refused the data itself
 * (SQLSTATE class 22, such as a character the database's encoding lacks)
 * rather than the statement or the connection. */
static nvr_err
tx_check(struct tx *t, PGresult *r, ExecStatusType want, const char *what)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	bool bad_data = state != NULL && strncmp(state, "22", 2) == 0;
	nvr_err rc = stg_db_check(t->c, r, want, what);

	if (rc != NVR_OK && bad_data)
		t->bad_data = true;
	return rc;
}

/* BEGIN, the lock and the head in one round trip. READ COMMITTED whatever
 * the server's default, so that the head is read in a snapshot taken after
 * the lock. client_encoding is UTF8 for the transaction, as in
 * web_audit_verify: the hash covers the bytes sent, and verification must
 * read the same bytes back. */
static nvr_err
tx_begin(struct tx *t)
{
	PGresult *r = PQexec(t->c,
	    "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL client_encoding TO 'UTF8';"
	    " SELECT pg_advisory_xact_lock(" LOCK_KEY ");"
	    " SELECT id, encode(sha256, 'hex') FROM audit_log ORDER BY id DESC LIMIT 1");
	nvr_err rc = tx_check(t, r, PGRES_TUPLES_OK, "audit: reading the head of the log");

	if (rc != NVR_OK)
		return rc;
	memset(&t->head, 0, sizeof(t->head));
	if (PQntuples(r) == 1 && (!web_audit_parse_i64(PQgetvalue(r, 0, 0), &t->head.id) ||
				     nvr_hex_decode(PQgetvalue(r, 0, 1), t->head.sha, 32) != NVR_OK)) {
		nvr_log(NVR_LOG_ERROR, "audit: the head of the log is malformed");
		rc = NVR_ERR_DB;
	}
	PQclear(r);
	return rc;
}

/* A COMMIT that fails on a live connection did not happen; one whose
 * connection is gone may have. */
static nvr_err
tx_commit(struct tx *t)
{
	PGresult *r = PQexec(t->c, "COMMIT");
	nvr_err rc = tx_check(t, r, PGRES_COMMAND_OK, "audit: COMMIT");

	if (rc == NVR_OK)
		PQclear(r);
	else if (PQstatus(t->c) != CONNECTION_OK)
		t->unsure = true;
	return rc;
}

/* Parameters of one INSERT of up to INSERT_ROWS rows. sha[0] is the head
 * before them, sha[i + 1] the hash of row i. */
struct chunk {
	const char *v[INSERT_ROWS * COLS];
	int len[INSERT_ROWS * COLS];
	int fmt[INSERT_ROWS * COLS];
	char num[INSERT_ROWS][2][24];
	uint8_t sha[INSERT_ROWS + 1][32];
	int sql_rows; /* how many rows sql is for (0: not built) */
	char sql[128 + INSERT_ROWS * 160];
};

/* `at` goes in as an exact count of microseconds: a text timestamp would be
 * parsed with the session's settings, and a float could round. */
static void
chunk_sql(struct chunk *k, int n)
{
	size_t off;

	if (k->sql_rows == n)
		return;
	off = (size_t)snprintf(k->sql, sizeof(k->sql), "INSERT INTO audit_log"
	    " (id, at, actor, address, action, object, outcome, detail, prev_sha256, sha256) VALUES ");
	for (int i = 0, p = 1; i < n && off < sizeof(k->sql); i++, p += COLS)
		off += (size_t)snprintf(k->sql + off, sizeof(k->sql) - off,
		    "%s($%d, 'epoch'::timestamptz + $%d::bigint * interval '1 microsecond',"
		    " $%d, $%d, $%d, $%d, $%d, $%d, $%d::bytea, $%d::bytea)",
		    i > 0 ? ", " : "", p, p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8, p + 9);
	k->sql_rows = n;
}

/* Numbers rows[0..n) after h, hashes them, points the parameters at them,
 * and moves h to the last. bytea parameters go in binary: 32 raw bytes. */
static nvr_err
chunk_fill(struct chunk *k, struct row *const *rows, int n, struct head *h)
{
	nvr_err rc;

	memcpy(k->sha[0], h->sha, 32);
	for (int i = 0; i < n; i++) {
		const char **v = k->v + (size_t)i * COLS;
		int *len = k->len + (size_t)i * COLS, *fmt = k->fmt + (size_t)i * COLS;
		int64_t id = h->id + 1 + i;

		rc = web_audit_row_hash(id, rows[i]->at_us, rows[i]->f, rows[i]->len, k->sha[i], k->sha[i + 1]);
		if (rc != NVR_OK)
			return rc;
		snprintf(k->num[i][0], sizeof(k->num[i][0]), "%lld", (long long)id);
		snprintf(k->num[i][1], sizeof(k->num[i][1]), "%lld", (long long)rows[i]->at_us);
		v[0] = k->num[i][0];
		v[1] = k->num[i][1];
		for (int j = 0; j < NF; j++)
			v[2 + j] = rows[i]->f[j];
		v[8] = (const char *)k->sha[i];
		v[9] = (const char *)k->sha[i + 1];
		memset(len, 0, COLS * sizeof(*len));
		memset(fmt, 0, COLS * sizeof(*fmt));
		len[8] = len[9] = 32;
		fmt[8] = fmt[9] = 1;
	}
	h->id += n;
	memcpy(h->sha, k->sha[n], 32);
	return NVR_OK;
}

static nvr_err
insert_rows(struct tx *t, struct chunk *k, struct row *const *rows, int n)
{
	PGresult *r;
	nvr_err rc;

	if ((rc = chunk_fill(k, rows, n, &t->head)) != NVR_OK)
		return rc;
	chunk_sql(k, n);
	r = PQexecParams(t->c, k->sql, n * COLS, NULL, k->v, k->len, k->fmt, 0);
	if ((rc = tx_check(t, r, PGRES_COMMAND_OK, "audit: inserting rows")) == NVR_OK)
		PQclear(r);
	return rc;
}

/* Signs the head and records the signature; a checkpoint already there
 * for that row is kept. */
static nvr_err
insert_checkpoint(struct tx *t, const struct stg_signer *s)
{
	char text[128], id[24];
	size_t tlen = web_audit_checkpoint_text(t->head.id, t->head.sha, text, sizeof(text)), siglen = 0;
	const char *v[4] = { id, (const char *)t->head.sha, (const char *)stg_signer_fingerprint(s),
		NULL };
	int len[4] = { 0, 32, 32, 0 }, fmt[4] = { 0, 1, 1, 1 };
	uint8_t *sig = NULL;
	PGresult *r;
	nvr_err rc;

	/* the rows matter more than their checkpoint: the next one covers them */
	if (stg_signer_sign(s, text, tlen, &sig, &siglen) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "audit: cannot sign a checkpoint at row %lld; the rows are"
		    " written without it", (long long)t->head.id);
		return NVR_OK;
	}
	snprintf(id, sizeof(id), "%lld", (long long)t->head.id);
	v[3] = (const char *)sig;
	len[3] = (int)siglen;
	r = PQexecParams(t->c,
	    "INSERT INTO audit_checkpoints (audit_id, sha256, cert_sha256, signature)"
	    " VALUES ($1, $2::bytea, $3::bytea, $4::bytea) ON CONFLICT (audit_id) DO NOTHING",
	    4, NULL, v, len, fmt, 0);
	if ((rc = tx_check(t, r, PGRES_COMMAND_OK, "audit: writing a checkpoint")) == NVR_OK)
		PQclear(r);
	free(sig);
	return rc;
}

/* One transaction: rows numbered after the head, then a checkpoint when
 * the head crossed a multiple of WEB_AUDIT_CHECKPOINT_ROWS (or always, with
 * force) if there is a signer. Rolled back on failure. */
static nvr_err
tx_append(struct tx *t, struct row *const *rows, size_t n, const struct stg_signer *signer, bool force)
{
	struct chunk *k = NULL;
	int64_t before;
	nvr_err rc;

	if ((rc = tx_begin(t)) != NVR_OK)
		goto out;
	if (n > 0 && (k = malloc(sizeof(*k))) == NULL) {
		rc = NVR_ERR_NOMEM;
		goto out;
	}
	if (k != NULL)
		k->sql_rows = 0;
	before = t->head.id;
	for (size_t i = 0; i < n && rc == NVR_OK; i += INSERT_ROWS)
		rc = insert_rows(t, k, rows + i, n - i < INSERT_ROWS ? (int)(n - i) : INSERT_ROWS);
	if (rc == NVR_OK && signer != NULL && t->head.id > 0 &&
	    (force || t->head.id / WEB_AUDIT_CHECKPOINT_ROWS != before / WEB_AUDIT_CHECKPOINT_ROWS))
		rc = insert_checkpoint(t, signer);
	if (rc == NVR_OK)
		rc = tx_commit(t);
out:
	if (rc != NVR_OK && PQtransactionStatus(t->c) != PQTRANS_IDLE && PQstatus(t->c) == CONNECTION_OK)
		PQclear(PQexec(t->c, "ROLLBACK"));
	free(k);
	return rc;
}

nvr_err
web_audit_append(PGconn *c, const struct web_audit_event *ev, size_t n, const struct stg_signer *signer)
{
	struct tx t = { .c = c };
	struct row **rows;
	int64_t now = realtime_us();
	nvr_err rc = NVR_OK;

	if (PQtransactionStatus(c) != PQTRANS_IDLE) {
		nvr_log(NVR_LOG_ERROR, "audit: asked to append inside a transaction (a bug); nothing written");
		return NVR_ERR_INVAL;
	}
	if (n == 0)
		return NVR_OK;
	if ((rows = calloc(n, sizeof(struct row *))) == NULL)
		return NVR_ERR_NOMEM;
	for (size_t i = 0; i < n && rc == NVR_OK; i++)
		if ((rows[i] = row_new(&ev[i], now)) == NULL)
			rc = NVR_ERR_NOMEM;
	if (rc == NVR_OK)
		rc = tx_append(&t, rows, n, signer, false);
	for (size_t i = 0; i < n; i++)
		free(rows[i]);
	free(rows);
	if (rc != NVR_OK)
		nvr_log(NVR_LOG_ERROR, "audit: %zu events not written: %s", n, nvr_err_str(rc));
	return rc;
}

/* One address and action whose events web_audit_record_limited() counts
 * within a minute. */
struct flood_slot {
	char address[64], action[40];
	int64_t window_ms;         /* monotonic start of the minute; 0: free */
	int64_t first_us, last_us; /* wall clock of the first and last event summarised */
	uint32_t passed;           /* recorded in full this minute */
	uint64_t suppressed;       /* counted for the summary */
};

/* ---- the writer thread -------------------------------------------------------------- */

struct web_audit {
	pthread_t thread;
	pthread_mutex_t lock; /* protects every field from head down to sock */
	pthread_cond_t wake; /* for the thread: events queued, a flush, stop */
	pthread_cond_t done; /* for flush and stop: a batch done, the thread ended */
	struct row *head, **tail;
	size_t queued, in_flight; /* waiting, and being written (both count against the bound) */
	uint64_t accepted, finished; /* events ever queued, and taken off it for good */
	uint64_t written, lost;
	uint64_t burst_lost; /* lost since the queue was last below half full */
	bool stop, exited;
	int64_t stop_deadline, retry_at; /* monotonic ms */
	int64_t first_at;                /* monotonic ms: when the queue last became non-empty */
	uint64_t flush_upto;             /* a flush waits for the events accepted up to this */
	int sock;                        /* the connection's socket, or -1: stop may cut it */
	/* set at start, read-only after */
	char *conninfo;
	const struct stg_signer *signer;
	int wake_fd[2]; /* written at stop: cuts short a connection attempt */
	struct flood_slot flood[FLOOD_SLOTS]; /* web_audit_record_limited(), under lock */
	uint8_t flood_key[WEB_KEYED_KEY];
	int64_t flood_swept; /* monotonic ms */
	/* owned by the thread */
	PGconn *db;
	int64_t checkpoint_due; /* monotonic ms; 0: every row written is checkpointed */
	bool unsure;       /* a COMMIT's answer was lost ... */
	struct head sent;  /* ... that would have made this the head ... */
	size_t sent_rows;  /* ... with this many rows from the front of the queue */
};

static void flood_sweep_locked(struct web_audit *a, int64_t now); /* with web_audit_record_limited() */

static struct timespec
monotonic_ts(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	return ts;
}

static void
drop_db(struct web_audit *a)
{
	pthread_mutex_lock(&a->lock);
	a->sock = -1;
	pthread_mutex_unlock(&a->lock);
	PQfinish(a->db);
	a->db = NULL;
}

/* A live connection, or false. While stopping (deadline > 0) an attempt
 * takes no longer than the time left; before, stop interrupts it. */
static bool
ensure_db(struct web_audit *a, int64_t deadline)
{
	int64_t timeout = CONNECT_TIMEOUT_MS, left = deadline - nvr_monotonic_ms();
	PGconn *c = NULL;
	char why[256];
	nvr_err rc;

	if (a->db != NULL && PQstatus(a->db) == CONNECTION_OK)
		return true;
	if (a->db != NULL)
		drop_db(a);
	if (deadline > 0 && left <= 0)
		return false;
	if (deadline > 0 && left < timeout)
		timeout = left;
	rc = stg_db_connect(a->conninfo, timeout, deadline > 0 ? -1 : a->wake_fd[0], &c, why,
	    sizeof(why));
	if (rc != NVR_OK) {
		if (rc != NVR_ERR_INTERRUPTED)
			nvr_log_ex(NVR_LOG_WARNING, why, NULL,
			    "audit: PostgreSQL unreachable; events wait in the queue");
		return false;
	}
	pthread_mutex_lock(&a->lock);
	a->db = c;
	a->sock = PQsocket(c);
	pthread_mutex_unlock(&a->lock);
	return true;
}

static void
note_unsure(struct web_audit *a, const struct tx *t, size_t rows)
{
	if (!t->unsure)
		return;
	a->unsure = true;
	a->sent = t->head;
	a->sent_rows = rows;
}

/* After a lost COMMIT answer: were those rows written? No other writer can
 * make the row (id, sha256) it would have made. Sets *done to the rows from
 * the front of the queue that are in; false if it could not ask. */
static bool
settle_unsure(struct web_audit *a, size_t *done)
{
	char id[24];
	const char *v[2] = { id, (const char *)a->sent.sha };
	int len[2] = { 0, 32 }, fmt[2] = { 0, 1 };
	PGresult *r;

	snprintf(id, sizeof(id), "%lld", (long long)a->sent.id);
	r = PQexecParams(a->db, "SELECT 1 FROM audit_log WHERE id = $1 AND sha256 = $2::bytea", 2,
	    NULL, v, len, fmt, 0);
	if (stg_db_check(a->db, r, PGRES_TUPLES_OK, "audit: checking an unanswered COMMIT") != NVR_OK) {
		if (PQstatus(a->db) != CONNECTION_OK)
			drop_db(a);
		return false;
	}
	*done = PQntuples(r) == 1 ? a->sent_rows : 0;
	PQclear(r);
	a->unsure = false;
	return true;
}

/* After PostgreSQL refused a batch's data: each row alone, so that only
 * the rows it refuses are dropped (and logged). Returns the rows done. */
static size_t
write_each(struct web_audit *a, struct row **rows, size_t n, uint64_t *dropped)
{
	for (size_t i = 0; i < n; i++) {
		struct tx t = { .c = a->db };

		if (tx_append(&t, rows + i, 1, a->signer, false) == NVR_OK)
			continue;
		if (!t.bad_data || PQstatus(a->db) != CONNECTION_OK) {
			note_unsure(a, &t, 1);
			if (PQstatus(a->db) != CONNECTION_OK)
				drop_db(a);
			return i;
		}
		nvr_log(NVR_LOG_ERROR, "audit: PostgreSQL refused an event (%s by %s); it is dropped",
		    rows[i]->f[F_ACTION], rows[i]->f[F_ACTOR]);
		(*dropped)++;
	}
	return n;
}

/* Writes rows[0..n) in one transaction. Returns how many from the front
 * are done with (written, or refused and dropped); the others wait. */
static size_t
write_batch(struct web_audit *a, struct row **rows, size_t n, int64_t deadline, uint64_t *dropped)
{
	struct tx t = { 0 };
	size_t done = 0;

	if (!ensure_db(a, deadline))
		return 0;
	if (a->unsure && (!settle_unsure(a, &done) || done > 0))
		return done < n ? done : n;
	t.c = a->db;
	if (tx_append(&t, rows, n, a->signer, false) == NVR_OK)
		return n;
	note_unsure(a, &t, n);
	if (PQstatus(a->db) != CONNECTION_OK) {
		drop_db(a);
		return 0;
	}
	return t.bad_data ? write_each(a, rows, n, dropped) : 0;
}

/* Takes up to BATCH events from the front of the queue. Called locked. */
static size_t
take_batch(struct web_audit *a, struct row **batch)
{
	size_t n = 0;

	while (a->head != NULL && n < BATCH) {
		batch[n++] = a->head;
		a->head = a->head->next;
	}
	if (a->head == NULL)
		a->tail = &a->head;
	a->queued -= n;
	a->in_flight = n;
	return n;
}

/* Frees the events done, puts the others back in front, in order, and
 * wakes flushers. Returns the events lost in a burst that is over (to log
 * once the lock is let go), or 0. Called locked. */
static uint64_t
finish_batch(struct web_audit *a, struct row **batch, size_t n, size_t done, uint64_t dropped)
{
	uint64_t burst = 0;

	for (size_t i = 0; i < done; i++)
		free(batch[i]);
	for (size_t i = n; i > done; i--) {
		batch[i - 1]->next = a->head;
		if (a->head == NULL)
			a->tail = &batch[i - 1]->next;
		a->head = batch[i - 1];
	}
	a->queued += n - done;
	a->in_flight = 0;
	a->finished += done;
	a->written += done - dropped;
	a->lost += dropped;
	if (a->burst_lost > 0 && a->queued < WEB_AUDIT_QUEUE_MAX / 2) {
		burst = a->burst_lost;
		a->burst_lost = 0;
	}
	pthread_cond_broadcast(&a->done);
	return burst;
}

/* Waits for work until the next retry, a tick, or the stop deadline. Called locked. */
static void
idle(struct web_audit *a, int64_t now)
{
	int64_t until = a->head == NULL ? now + TICK_MS : a->retry_at;
	struct timespec ts;

	if (a->checkpoint_due != 0 && a->checkpoint_due < until)
		until = a->checkpoint_due;

	if (a->stop && until > a->stop_deadline)
		until = a->stop_deadline;
	ts = monotonic_ts(until);
	pthread_cond_timedwait(&a->wake, &a->lock, &ts);
}

/* Whether to wait for more events before writing: each transaction costs
 * the chain head's lock and read, so at thousands of events a second a
 * few large ones cost PostgreSQL far less than many small ones. Not while
 * a flush or stop waits. Called locked. */
static bool
lingering(const struct web_audit *a, int64_t now)
{
	return a->queued < BATCH && !a->stop && a->flush_upto <= a->finished && now < a->first_at + LINGER_MS;
}

static void
linger(struct web_audit *a)
{
	struct timespec ts = monotonic_ts(a->first_at + LINGER_MS);

	pthread_cond_timedwait(&a->wake, &a->lock, &ts);
}

/* One batch, written unlocked; with backoff while the database is away.
 * Called locked. */
static void
write_next(struct web_audit *a, struct nvr_backoff *bo)
{
	struct row *batch[BATCH];
	int64_t deadline = a->stop ? a->stop_deadline : 0;
	size_t n = take_batch(a, batch), done;
	uint64_t dropped = 0, burst;

	pthread_mutex_unlock(&a->lock);
	done = write_batch(a, batch, n, deadline, &dropped);
	pthread_mutex_lock(&a->lock);
	burst = finish_batch(a, batch, n, done, dropped);
	if (done < n) {
		a->retry_at = nvr_monotonic_ms() + nvr_backoff_next(bo);
	} else {
		a->retry_at = 0;
		nvr_backoff_reset(bo);
	}
	if (done > 0 && a->checkpoint_due == 0)
		a->checkpoint_due = nvr_monotonic_ms() + CHECKPOINT_EVERY_MS;
	if (burst > 0) {
		pthread_mutex_unlock(&a->lock);
		nvr_log(NVR_LOG_ERROR, "audit: the queue has room again; %llu events were lost while it"
		    " was full", (unsigned long long)burst);
		pthread_mutex_lock(&a->lock);
	}
}

/* Signs the head when rows have waited CHECKPOINT_EVERY_MS without one:
 * rows deleted from the end of the log after the last checkpoint cannot
 * be detected, so that window is kept short. Called locked. */
static void
checkpoint_idle(struct web_audit *a)
{
	struct tx t = { .c = a->db };

	a->checkpoint_due = 0;
	if (a->signer == NULL || a->db == NULL)
		return;
	pthread_mutex_unlock(&a->lock);
	if (tx_append(&t, NULL, 0, a->signer, true) != NVR_OK)
		drop_db(a);
	pthread_mutex_lock(&a->lock);
}

static void *
writer_main(void *arg)
{
	struct web_audit *a = arg;
	struct nvr_backoff bo;
	struct tx t = { 0 };
	int64_t now;
	bool drained;

	/* named, for top -H, perf and gdb */
	pthread_setname_np(pthread_self(), "nvr-audit");
	nvr_backoff_init(&bo, 250, 10000);
	pthread_mutex_lock(&a->lock);
	for (;;) {
		now = nvr_monotonic_ms();
		flood_sweep_locked(a, now);
		if (a->stop && (a->head == NULL || now >= a->stop_deadline))
			break;
		if (a->checkpoint_due != 0 && now >= a->checkpoint_due && a->head == NULL)
			checkpoint_idle(a);
		else if (a->head == NULL || now < a->retry_at)
			idle(a, now);
		else if (lingering(a, now))
			linger(a);
		else
			write_next(a, &bo);
	}
	drained = a->head == NULL;
	pthread_mutex_unlock(&a->lock);
	/* the rows written since the last checkpoint are signed too */
	if (drained && a->signer != NULL && a->db != NULL) {
		t.c = a->db;
		tx_append(&t, NULL, 0, a->signer, true);
	}
	pthread_mutex_lock(&a->lock);
	a->exited = true;
	pthread_cond_broadcast(&a->done);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static void
writer_free(struct web_audit *a)
{
	struct row *r;

	while ((r = a->head) != NULL) {
		a->head = r->next;
		free(r);
	}
	if (a->db != NULL)
		PQfinish(a->db);
	for (int i = 0; i < 2; i++)
		if (a->wake_fd[i] >= 0)
			close(a->wake_fd[i]);
	if (a->conninfo != NULL) {
		OPENSSL_cleanse(a->conninfo, strlen(a->conninfo));
		free(a->conninfo);
	}
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->wake);
	pthread_cond_destroy(&a->done);
	free(a);
}

nvr_err
web_audit_start(const char *conninfo, const struct stg_signer *signer, struct web_audit **out)
{
	struct web_audit *a = calloc(1, sizeof(*a));
	pthread_condattr_t ca;

	*out = NULL;
	if (a == NULL)
		return NVR_ERR_NOMEM;
	a->tail = &a->head;
	a->sock = a->wake_fd[0] = a->wake_fd[1] = -1;
	a->signer = signer;
	if (RAND_bytes(a->flood_key, sizeof(a->flood_key)) != 1) {
		free(a);
		return NVR_ERR_CRYPTO;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines come from nvr_monotonic_ms */
	pthread_cond_init(&a->wake, &ca);
	pthread_cond_init(&a->done, &ca);
	pthread_condattr_destroy(&ca);
	if ((a->conninfo = strdup(conninfo)) == NULL) {
		writer_free(a);
		return NVR_ERR_NOMEM;
	}
	if (pipe2(a->wake_fd, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    pthread_create(&a->thread, NULL, writer_main, a) != 0) {
		nvr_log(NVR_LOG_ERROR, "audit: cannot start the writer thread: %s", strerror(errno));
		writer_free(a);
		return NVR_ERR_INTERNAL;
	}
	*out = a;
	return NVR_OK;
}

/* Queues r (taken; NULL: out of memory) with the lock held. Returns what
 * to log once unlocked: 0 nothing, 1 out of memory, 2 the queue is full. */
static int
enqueue_locked(struct web_audit *a, struct row *r)
{
	if (r != NULL && a->queued + a->in_flight < WEB_AUDIT_QUEUE_MAX) {
		*a->tail = r;
		a->tail = &r->next;
		if (a->queued++ == 0)
			a->first_at = nvr_monotonic_ms();
		a->accepted++;
		/* The thread waits out the linger on its own; it needs waking
		 * only for the first event of a batch or a full one. */
		if (a->queued == 1 || a->queued == BATCH)
			pthread_cond_signal(&a->wake);
		return 0;
	}
	a->lost++;
	if (r == NULL)
		return 1;
	free(r);
	return a->burst_lost++ == 0 ? 2 : 0;
}

static void
enqueue_complaint(int what)
{
	if (what == 1)
		nvr_log(NVR_LOG_ERROR, "audit: out of memory: an event is lost");
	else if (what == 2)
		nvr_log_ex(NVR_LOG_ERROR, NULL, "check that PostgreSQL runs and keeps up",
		    "audit: the queue is full (%d events wait): new events are lost until it drains",
		    WEB_AUDIT_QUEUE_MAX);
}

void
web_audit_record(struct web_audit *a, const struct web_audit_event *ev)
{
	struct row *r = row_new(ev, realtime_us());
	int what;

	pthread_mutex_lock(&a->lock);
	what = enqueue_locked(a, r);
	pthread_mutex_unlock(&a->lock);
	enqueue_complaint(what);
}

/* Queues the summary row of a slot's minute, and empties the slot's
 * counts. Called locked. */
static int
flood_summary_locked(struct web_audit *a, struct flood_slot *f)
{
	char action[64], detail[256], from[32], to[32];
	struct web_audit_event ev = {
		.actor = "-", .address = f->address, .action = action, .object = "",
		.outcome = WEB_AUDIT_DENIED, .detail = detail,
	};
	int what = 0;

	if (f->suppressed > 0) {
		stg_time_format(f->first_us * 1000, from);
		stg_time_format(f->last_us * 1000, to);
		snprintf(action, sizeof(action), "%s.summary", f->action);
		snprintf(detail, sizeof(detail),
		    "{\"count\":%llu,\"first\":\"%s\",\"last\":\"%s\",\"recorded_in_full\":%u}",
		    (unsigned long long)f->suppressed, from, to, f->passed);
		what = enqueue_locked(a, row_new(&ev, realtime_us()));
	}
	f->suppressed = 0;
	f->passed = 0;
	return what;
}

/* Summarises the minutes that have ended. Called locked, at most once a
 * second, by the writer thread. */
static void
flood_sweep_locked(struct web_audit *a, int64_t now)
{
	if (now - a->flood_swept < 1000 && !a->stop)
		return;
	a->flood_swept = now;
	for (size_t i = 0; i < FLOOD_SLOTS; i++) {
		struct flood_slot *f = &a->flood[i];

		if (f->window_ms != 0 && (a->stop || now - f->window_ms >= FLOOD_WINDOW_MS)) {
			flood_summary_locked(a, f);
			f->window_ms = 0;
		}
	}
}

static size_t
flood_index(const struct web_audit *a, const char *address, const char *action)
{
	char key[128];

	snprintf(key, sizeof(key), "%s|%s", address, action);
	return web_keyed_index(a->flood_key, key, FLOOD_SLOTS);
}

void
web_audit_record_limited(struct web_audit *a, const struct web_audit_event *ev, unsigned per_minute)
{
	const char *address = ev->address != NULL ? ev->address : "", *action = ev->action != NULL ? ev->action : "";
	size_t i = flood_index(a, address, action);
	int64_t now = nvr_monotonic_ms(), at_us = realtime_us();
	struct flood_slot *f;
	int what = 0;

	pthread_mutex_lock(&a->lock);
	f = &a->flood[i];
	if (f->window_ms != 0 && (strcmp(f->address, address) != 0 || strcmp(f->action, action) != 0 ||
	                             now - f->window_ms >= FLOOD_WINDOW_MS)) {
		what = flood_summary_locked(a, f); /* another key, or a minute over */
		f->window_ms = 0;
	}
	if (f->window_ms == 0) {
		snprintf(f->address, sizeof(f->address), "%s", address);
		snprintf(f->action, sizeof(f->action), "%s", action);
		f->window_ms = now;
	}
	if (f->passed < per_minute) {
		f->passed++;
		int queued = enqueue_locked(a, row_new(ev, at_us));

		what = what != 0 ? what : queued;
	} else {
		if (f->suppressed++ == 0)
			f->first_us = at_us;
		f->last_us = at_us;
	}
	pthread_mutex_unlock(&a->lock);
	enqueue_complaint(what);
}

nvr_err
web_audit_flush(struct web_audit *a, int64_t timeout_ms)
{
	struct timespec ts = monotonic_ts(nvr_monotonic_ms() + timeout_ms);
	nvr_err rc = NVR_OK;
	uint64_t target;

	pthread_mutex_lock(&a->lock);
	target = a->accepted;
	if (a->flush_upto < target)
		a->flush_upto = target;
	pthread_cond_signal(&a->wake);
	while (a->finished < target && rc == NVR_OK)
		if (pthread_cond_timedwait(&a->done, &a->lock, &ts) == ETIMEDOUT && a->finished < target)
			rc = NVR_ERR_DB_UNREACHABLE;
	pthread_mutex_unlock(&a->lock);
	return rc;
}

void
web_audit_counts(struct web_audit *a, uint64_t *written, uint64_t *lost)
{
	pthread_mutex_lock(&a->lock);
	*written = a->written;
	*lost = a->lost;
	pthread_mutex_unlock(&a->lock);
}

/* A statement on a server that stopped answering would hold stop forever:
 * past the deadline, the connection's socket is shut down under it (not
 * closed: the descriptor cannot be reused while the thread still has it). */
static void
cut_if_stalled(struct web_audit *a)
{
	struct timespec ts;

	pthread_mutex_lock(&a->lock);
	ts = monotonic_ts(a->stop_deadline + CUT_GRACE_MS);
	while (!a->exited && pthread_cond_timedwait(&a->done, &a->lock, &ts) != ETIMEDOUT)
		;
	if (!a->exited && a->sock >= 0) {
		nvr_log(NVR_LOG_WARNING, "audit: PostgreSQL does not answer; the connection is cut");
		shutdown(a->sock, SHUT_RDWR);
	}
	pthread_mutex_unlock(&a->lock);
}

void
web_audit_stop(struct web_audit *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	a->stop_deadline = nvr_monotonic_ms() + STOP_WAIT_MS;
	a->retry_at = 0; /* one more try at once, not after the backoff */
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	if (write(a->wake_fd[1], "x", 1) < 0 && errno != EAGAIN)
		nvr_log(NVR_LOG_WARNING, "audit: cannot wake the writer: %s", strerror(errno));
	cut_if_stalled(a);
	pthread_join(a->thread, NULL);
	if (a->queued > 0) {
		a->lost += a->queued;
		nvr_log_ex(NVR_LOG_ERROR, NULL, "check that PostgreSQL runs before stopping nvrd",
		    "audit: %zu event%s could not be written before stop and %s lost"
		    " (%llu lost since start)", a->queued, a->queued == 1 ? "" : "s",
		    a->queued == 1 ? "is" : "are", (unsigned long long)a->lost);
	}
	writer_free(a);
}

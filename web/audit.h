/*
 * audit.h: the append-only, hash-chained audit log (sql/0003_access.sql,
 * docs/FORMAT.md section 11 "Audit chain").
 *
 * Row n's hash is SHA-256 over a fixed encoding of its fields and row n-1's
 * hash (32 zero bytes before row 1). Writers take a transaction-scoped
 * advisory lock (its key is in docs/FORMAT.md 11.4), read the head, and
 * insert rows numbered from it, so nvrd and nvrctl can both append. Every
 * WEB_AUDIT_CHECKPOINT_ROWS rows, a minute after rows without one, and at
 * stop, the head is signed with the recorder's signing key.
 *
 * nvrd appends through a web_audit writer: callers queue events (never
 * waiting for PostgreSQL) and one thread inserts them in batches, so
 * auditing every request costs one transaction per batch, not per request.
 * The first event of a batch waits up to 20 ms for others (unless a flush
 * or stop is waiting): events answered in the last 20 ms before a crash of
 * nvrd itself may be missing from the log, never altered in it.
 */
#ifndef NVR_WEB_AUDIT_H
#define NVR_WEB_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <openssl/x509.h>

#include "nvrd/err.h"
#include "storage/sign.h"

#define WEB_AUDIT_CHECKPOINT_ROWS 1000
#define WEB_AUDIT_QUEUE_MAX 65536 /* events waiting; more are counted as lost and logged */
#define WEB_AUDIT_FIELD_MAX 1024  /* bytes of actor, address, action, object */
#define WEB_AUDIT_DETAIL_MAX 8192 /* bytes of detail */
#define WEB_AUDIT_FLOOD_FULL 20   /* refusals per address a minute recorded in full; then one summary */

enum web_audit_outcome { WEB_AUDIT_OK, WEB_AUDIT_DENIED, WEB_AUDIT_FAILED };

/* One event. Strings are copied when queued; NULL means "" (detail: "{}").
 * Nothing is refused: bytes that are not UTF-8 become U+FFFD, longer fields
 * are cut on a character boundary, and a detail that is not shaped like a
 * JSON object ({ ... }) or is too long is kept as a JSON string inside
 * {"invalid_detail": ...} or {"truncated_detail": ...} (docs/FORMAT.md 11.1). */
struct web_audit_event {
	const char *actor;   /* user name, "nvrctl:<login>", "nvrd", or "-" */
	const char *address; /* client address, or "local" */
	const char *action;  /* "auth.login", "auth.failure", "camera.add" ... */
	const char *object;  /* what was acted on */
	enum web_audit_outcome outcome;
	const char *detail;  /* a JSON object, e.g. {"reason":"bad password"} */
};

/* Appends events in one transaction on c (which must not be in one:
 * NVR_ERR_INVAL), all dated now. signer may be NULL (nvrctl without the
 * signing key): no checkpoint then; a checkpoint that cannot be signed is
 * logged and left out, not the rows. On failure nothing is written (rolled
 * back) and the reason is logged. */
nvr_err web_audit_append(PGconn *c, const struct web_audit_event *ev, size_t n,
    const struct stg_signer *signer);

struct web_audit;

/* Starts the writer thread with its own connection (conninfo is copied).
 * signer must outlive the writer. Caller stops it with web_audit_stop(). */
nvr_err web_audit_start(const char *conninfo, const struct stg_signer *signer, struct web_audit **out);

/* Queues an event, dated now; never blocks on PostgreSQL. Thread-safe. */
void web_audit_record(struct web_audit *a, const struct web_audit_event *ev);

/* As web_audit_record(), for events a client can cause at will (failed
 * logins, refused addresses): per address and action, the first
 * per_minute in a minute are recorded in full; the rest of that minute
 * become one "<action>.summary" row with their count and first and last
 * times, written when the minute ends (docs/API.md "Audit"). */
void web_audit_record_limited(struct web_audit *a, const struct web_audit_event *ev, unsigned per_minute);

/* Waits until everything queued before the call is in the database (or
 * timeout_ms passes): NVR_OK, or NVR_ERR_DB_UNREACHABLE on timeout. */
nvr_err web_audit_flush(struct web_audit *a, int64_t timeout_ms);

/* Rows written, and rows lost because the queue was full. */
void web_audit_counts(struct web_audit *a, uint64_t *written, uint64_t *lost);

/* Flushes (waiting a bounded time while PostgreSQL is reachable), writes
 * a checkpoint, stops the thread, frees. NULL is allowed. */
void web_audit_stop(struct web_audit *a);

/* What web_audit_verify found. */
struct web_audit_report {
	int64_t rows;         /* rows checked */
	int64_t checkpoints;  /* checkpoint signatures checked */
	int64_t first_bad;    /* id of the first row that fails (0: none) */
	char why[256];        /* why it fails, naming the row */
};

/*
 * Walks the whole chain in id order (in bounded batches, in one read-only
 * snapshot; c must not be in a transaction) and checks: ids consecutive
 * from 1, each row's prev_sha256 and sha256, and every checkpoint's
 * signature against cert (not NULL) and the row it names. NVR_OK when
 * everything holds; NVR_ERR_INVAL with report->why when the log was
 * edited, a row deleted or inserted, or a checkpoint does not verify;
 * NVR_ERR_DB (logged) when the log cannot be read.
 */
nvr_err web_audit_verify(PGconn *c, X509 *cert, struct web_audit_report *report);

#endif

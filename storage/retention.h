/*
 * retention.h: the retention worker, one thread with its own PostgreSQL
 * connection that deletes the oldest segments nobody holds: per camera
 * past its maximum age, then past its maximum bytes, then, when the
 * storage root's filesystem is above its high-water mark, the oldest of
 * all cameras down to the low-water mark.
 *
 * A deletion is crash-safe in either order: one statement moves the rows
 * from segments to segment_tombstones (the listing no longer shows them),
 * then the three files are unlinked and their folder synced, then the
 * tombstones are deleted. stg_retention_recover() finishes tombstones left
 * by a crash; nvrd runs it before the reconciliation, which would
 * otherwise index the files again.
 */
#ifndef NVR_STG_RETENTION_H
#define NVR_STG_RETENTION_H

#include <stdint.h>

#include <libpq-fe.h>

#include "nvrd/err.h"

/* What the storage root's filesystem is like, for /metrics and health. */
enum stg_retention_alarm {
	STG_RETENTION_OK = 0,
	STG_RETENTION_FULL_HELD, /* above high water, nothing to delete: all held (or a stream's newest) */
};

/* Called once per camera per pass that deleted something: detail is a
 * JSON object (count, bytes, oldest, newest); db is the worker's
 * connection, not in a transaction. */
typedef void (*stg_retention_audit_fn)(void *ctx, PGconn *db, const char *camera, const char *detail);

struct stg_retention_config {
	const char *root;     /* copied */
	const char *conninfo; /* copied */
	int64_t interval_ms;
	int high_water, low_water; /* percent of the filesystem */
	stg_retention_audit_fn audit;
	void *audit_ctx;
};

struct stg_retention;

/* Finishes deletions a crash interrupted (files unlinked, tombstones
 * deleted), on db. Before stg_reconcile(). */
nvr_err stg_retention_recover(const char *root, PGconn *db);

/* Starts the worker; *out is freed by stg_retention_stop. */
nvr_err stg_retention_start(const struct stg_retention_config *cfg, struct stg_retention **out);

/* Stops the thread (a pass in progress finishes its statement) and frees.
 * NULL is allowed. */
void stg_retention_stop(struct stg_retention *rt);

/* The current alarm state, readable from any thread. */
enum stg_retention_alarm stg_retention_alarm(void);
const char *stg_retention_alarm_name(enum stg_retention_alarm a);

/* Bytes a high-water pass must free: 0 while used / (used + avail) is at
 * or below high percent, else what brings it down to low percent. Pure,
 * for tests. */
uint64_t stg_retention_excess(uint64_t used, uint64_t avail, int high, int low);

#endif

/*
 * schema.h: the database schema's migrations.
 *
 * Migrations are sql/NNNN_name.sql, embedded at build time (sql/embed.sh).
 * nvrd applies the pending ones at start, all in one transaction under an
 * advisory lock, so that two nvrd processes starting together apply each
 * exactly once and a failure leaves the schema as it was.
 */
#ifndef NVR_STG_SCHEMA_H
#define NVR_STG_SCHEMA_H

#include <stddef.h>

#include <libpq-fe.h>

#include "nvrd/err.h"

struct stg_migration {
	int version; /* 1, 2, 3 ... */
	const char *name;
	const char *sql;
};

/* Generated from the sql/NNNN_name.sql files, in version order. */
extern const struct stg_migration stg_migrations[];
extern const size_t stg_migrations_count;

struct stg_schema_result {
	int from_version; /* before: 0 for an empty database */
	int to_version;   /* after */
};

/*
 * Brings the schema up to the newest version this build knows.
 * Refuses (NVR_ERR_SCHEMA, nothing changed) a database at a newer version,
 * one whose applied migrations differ from ours, or one with a gap.
 * Every failure is logged with what to do about it.
 */
nvr_err stg_schema_migrate(PGconn *c, struct stg_schema_result *res);

/* The newest version this build knows. */
int stg_schema_latest(void);

#endif

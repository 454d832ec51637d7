/*
 * schema.c: applies sql/ migrations at start.
 * It must never apply a migration twice, never half-apply one, and never
 * run against a schema it does not know.
 */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "nvrd/log.h"
#include "storage/db.h"
#include "storage/schema.h"

/* pg_advisory_xact_lock key: "NVRSCHEM" as a big-endian int64, so that it
 * does not collide with locks taken by other software on a shared server. */
#define SCHEMA_LOCK_KEY "5644789700520068429"

int
stg_schema_latest(void)
{
	return (int)stg_migrations_count;
}

/* Hex SHA-256 of a migration's text: detects a migration edited after it
 * was applied somewhere. */
static nvr_err
sql_digest(const char *sql, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!EVP_Digest(sql, strlen(sql), md, &len, EVP_sha256(), NULL) || len != 32)
		return NVR_ERR_CRYPTO;
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return NVR_OK;
}

/* A version number from schema_migrations; -1 if it is not one. */
static int
parse_version(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > INT_MAX)
		return -1;
	return (int)v;
}

/* Compares what the database says was applied with what we carry.
 * Sets *current to the highest applied version. */
static nvr_err
check_applied(PGconn *c, int *current)
{
	PGresult *r = PQexec(c, "SELECT version, sha256 FROM schema_migrations ORDER BY version");
	char hex[65];
	int n, v, newest;
	nvr_err rc;

	if ((rc = stg_db_check(c, r, PGRES_TUPLES_OK, "reading schema_migrations")) != NVR_OK)
		return rc;
	n = PQntuples(r);
	newest = n > 0 ? parse_version(PQgetvalue(r, n - 1, 0)) : 0;
	if (newest > stg_schema_latest()) {
		nvr_log_ex(NVR_LOG_ERROR, NULL,
		    "upgrade nvrd to the version that made this schema, or restore the database from a backup taken before that upgrade",
		    "database schema is at version %d, newer than this nvrd knows (%d); refusing to start",
		    newest, stg_schema_latest());
		rc = NVR_ERR_SCHEMA;
	}
	for (int i = 0; i < n && rc == NVR_OK; i++) {
		v = parse_version(PQgetvalue(r, i, 0));
		if (v != i + 1) {
			nvr_log(NVR_LOG_ERROR, "schema_migrations lacks version %d (found %d next); the schema was changed by hand",
			    i + 1, v);
			rc = NVR_ERR_SCHEMA;
		} else if ((rc = sql_digest(stg_migrations[i].sql, hex)) == NVR_OK &&
		    strcmp(hex, PQgetvalue(r, i, 1)) != 0) {
			nvr_log_ex(NVR_LOG_ERROR, NULL, "migrations must never be edited once released; add a new one instead",
			    "migration %04d_%s applied to this database differs from the one built into this nvrd",
			    v, stg_migrations[i].name);
			rc = NVR_ERR_SCHEMA;
		}
	}
	*current = newest;
	PQclear(r);
	return rc;
}

static nvr_err
apply_one(PGconn *c, const struct stg_migration *m)
{
	char what[128], hex[65], ver[16];
	const char *params[3] = { ver, m->name, hex };
	PGresult *r;
	nvr_err rc;

	snprintf(what, sizeof(what), "applying migration %04d_%s", m->version, m->name);
	snprintf(ver, sizeof(ver), "%d", m->version);
	if ((rc = sql_digest(m->sql, hex)) != NVR_OK)
		return rc;
	/* Simple query protocol: one migration may hold many statements. */
	if ((rc = stg_db_exec(c, m->sql, what)) != NVR_OK)
		return rc;
	r = PQexecParams(c, "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
	    3, NULL, params, NULL, NULL, 0);
	if ((rc = stg_db_check(c, r, PGRES_COMMAND_OK, what)) != NVR_OK)
		return rc;
	PQclear(r);
	nvr_log(NVR_LOG_NOTICE, "applied migration %04d_%s", m->version, m->name);
	return NVR_OK;
}

nvr_err
stg_schema_migrate(PGconn *c, struct stg_schema_result *res)
{
	PGresult *r;
	int current = 0;
	nvr_err rc;

	res->from_version = res->to_version = 0;
	if ((rc = stg_db_exec(c, "BEGIN", "starting the migration transaction")) != NVR_OK)
		return rc;
	/* Held until COMMIT or ROLLBACK: a second nvrd waits here, then finds
	 * the work done. */
	r = PQexec(c, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")");
	if ((rc = stg_db_check(c, r, PGRES_TUPLES_OK, "taking the schema lock")) == NVR_OK)
		PQclear(r);
	if (rc == NVR_OK)
		rc = stg_db_exec(c,
		    "CREATE TABLE IF NOT EXISTS schema_migrations ("
		    " version integer PRIMARY KEY,"
		    " name text NOT NULL,"
		    " sha256 text NOT NULL,"
		    " applied_at timestamptz NOT NULL DEFAULT now())",
		    "creating schema_migrations");
	if (rc == NVR_OK)
		rc = check_applied(c, &current);
	res->from_version = current;
	for (int v = current + 1; rc == NVR_OK && v <= stg_schema_latest(); v++)
		rc = apply_one(c, &stg_migrations[v - 1]);
	if (rc == NVR_OK)
		rc = stg_db_exec(c, "COMMIT", "committing the migrations");
	if (rc != NVR_OK) {
		/* Best effort: the server rolls back on disconnect anyway. */
		PQclear(PQexec(c, "ROLLBACK"));
		return rc;
	}
	res->to_version = stg_schema_latest();
	return NVR_OK;
}

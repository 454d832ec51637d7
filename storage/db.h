/*
 * db.h: PostgreSQL connections and checked statements.
 *
 * Every libpq result goes through stg_db_check(), which logs PostgreSQL's
 * own message, detail and hint and clears the result on failure, so no
 * caller forgets either. Never pass a conninfo to a log call: it may hold a
 * password.
 */
#ifndef NVR_STG_DB_H
#define NVR_STG_DB_H

#include <stdint.h>

#include <libpq-fe.h>

#include "nvrd/err.h"

/*
 * Opens a connection without blocking: waits at most timeout_ms, and gives
 * up with NVR_ERR_INTERRUPTED as soon as wake_fd (-1: none) is readable, so
 * that a stop request is never stuck behind an unreachable server.
 * On NVR_OK, *out is a connection the caller closes with PQfinish().
 * On failure the reason is copied into why (may be truncated).
 */
nvr_err stg_db_connect(const char *conninfo, int64_t timeout_ms, int wake_fd,
    PGconn **out, char *why, size_t whysize);

/*
 * Checks a result against the status wanted (PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK). On success returns NVR_OK and leaves r to the caller.
 * On failure logs "<what>: <PostgreSQL's message>" with its detail and
 * hint, clears r, and returns NVR_ERR_DB. A NULL r (out of memory or lost
 * connection) is a failure too.
 */
nvr_err stg_db_check(PGconn *c, PGresult *r, ExecStatusType want, const char *what);

/* Runs one statement without parameters or rows; logs and returns
 * NVR_ERR_DB on failure. */
nvr_err stg_db_exec(PGconn *c, const char *sql, const char *what);

/* "host:port/dbname" or "socket dir/dbname": where a connection went,
 * without user or password, for logs. */
/* Prepares n statements (names[i] for sqls[i]) on c, the statements a
 * worker thread runs on its own connection: NVR_OK, or NVR_ERR_DB (logged
 * with what) at the first PostgreSQL refuses. */
nvr_err stg_db_prepare(PGconn *c, int n, const char *const *names, const char *const *sqls, const char *what);

void stg_db_describe(PGconn *c, char *buf, size_t size);

#endif

/*
 * pool.h: PostgreSQL connections for the API's worker threads.
 *
 * civetweb gives each keep-alive client a thread for as long as it keeps
 * its connection, so the threads must be many; PostgreSQL connections are
 * costly, so they are few and shared: a request takes one for as long as
 * its handler runs.
 */
#ifndef NVR_WEB_POOL_H
#define NVR_WEB_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "nvrd/err.h"

struct web_pool;

/* At most size connections to conninfo (copied), made when first needed.
 * Caller frees with web_pool_free() once no connection is out. */
nvr_err web_pool_new(const char *conninfo, int size, struct web_pool **out);
void web_pool_free(struct web_pool *p);

/* A connection, waiting up to timeout_ms for one to be free; NULL if none
 * came or PostgreSQL is unreachable (logged). Give it back with
 * web_pool_put(). */
PGconn *web_pool_get(struct web_pool *p, int64_t timeout_ms);

/* Returns c; a broken connection is closed and made again later. */
void web_pool_put(struct web_pool *p, PGconn *c);

/* A statement the API runs often: prepared once on each pooled
 * connection the first time it runs there, so PostgreSQL parses and plans
 * it once rather than on every request (half its work for a listing).
 * Names are unique among the API's statements. */
struct web_stmt {
	const char *name;
	const char *sql;
};

/* Runs st with n text parameters p on c, as PQexecParams would, results
 * in text (binary 0) or PostgreSQL's binary formats (1): prepared on a
 * pooled connection outside a transaction, else (or if preparing fails)
 * parsed for this call only. Caller clears the result. */
PGresult *web_pool_exec(PGconn *c, const struct web_stmt *st, int n, const char *const *p, int binary);

#endif

/*
 * pgtest.h: a private PostgreSQL for one test program (contrib/nvr-pg.sh in
 * a temporary folder, Unix socket only), and a fresh database per test.
 * Start it in an unchecked fixture, so that it is made once per suite and
 * outlives Check's forked test processes.
 */
#ifndef NVR_TEST_PGTEST_H
#define NVR_TEST_PGTEST_H

#include <limits.h>

#include <libpq-fe.h>

struct pgtest {
	char dir[PATH_MAX];  /* temporary folder; removed by pgtest_stop */
	char host[PATH_MAX]; /* socket folder */
};

/* Aborts the test program (with the reason) if the server cannot start. */
void pgtest_start(struct pgtest *pg);
void pgtest_stop(struct pgtest *pg);

/* Creates a new, empty database and writes a conninfo for it into buf. */
void pgtest_new_database(struct pgtest *pg, char *conninfo, size_t size);

/* Connects or aborts; caller PQfinish()es. */
PGconn *pgtest_connect(const char *conninfo);

/* Runs SQL that must succeed; returns the first column of the first row as
 * a string (static storage, overwritten by the next call), or "". */
const char *pgtest_query(PGconn *c, const char *sql);

#endif

/*
 * pgtest.c: private PostgreSQL instances for Check tests.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/pgtest.h"

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "pgtest: %s: %s\n", what, detail);
	abort();
}

static const char *
script(void)
{
	const char *s = getenv("NVR_PG_SCRIPT");

	if (s == NULL)
		die("NVR_PG_SCRIPT is not set", "run the tests through make check");
	return s;
}

/* Runs contrib/nvr-pg.sh with args, no shell in between; the first line it
 * prints goes to out (may be NULL). Returns its exit status. */
static int
run_script(const char *cmd, const char *dir, const char *opt, char *out, size_t outsize)
{
	int fds[2], status = -1;
	pid_t pid;
	FILE *f;

	if (pipe(fds) != 0)
		die("pipe", strerror(errno));
	if ((pid = fork()) < 0)
		die("fork", strerror(errno));
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl(script(), script(), cmd, dir, opt, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (out != NULL && (f == NULL || fgets(out, (int)outsize, f) == NULL))
		out[0] = '\0';
	if (f != NULL)
		fclose(f);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void
pgtest_start(struct pgtest *pg)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(pg->dir, sizeof(pg->dir), "%s/nvr-pgtest.XXXXXX", tmp);
	if (mkdtemp(pg->dir) == NULL)
		die("mkdtemp", pg->dir);
	if (run_script("start", pg->dir, "--fast", pg->host, sizeof(pg->host)) != 0)
		die("cannot start PostgreSQL in", pg->dir);
	pg->host[strcspn(pg->host, "\n")] = '\0';
}

void
pgtest_stop(struct pgtest *pg)
{
	if (run_script("destroy", pg->dir, NULL, NULL, 0) != 0)
		fprintf(stderr, "pgtest: could not remove %s\n", pg->dir);
}

/* Server notices ("relation exists, skipping") are not test output. */
static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

PGconn *
pgtest_connect(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK)
		die("cannot connect", PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

const char *
pgtest_query(PGconn *c, const char *sql)
{
	static char value[1024];
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		die(sql, PQresultErrorMessage(r));
	value[0] = '\0';
	if (st == PGRES_TUPLES_OK && PQntuples(r) > 0)
		snprintf(value, sizeof(value), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return value;
}

void
pgtest_new_database(struct pgtest *pg, char *conninfo, size_t size)
{
	static unsigned n;
	char admin[PATH_MAX + 64], sql[128];
	PGconn *c;

	snprintf(admin, sizeof(admin), "host=%s user=nvr dbname=postgres", pg->host);
	c = pgtest_connect(admin);
	snprintf(sql, sizeof(sql), "CREATE DATABASE t_%ld_%u", (long)getpid(), ++n);
	pgtest_query(c, sql);
	PQfinish(c);
	snprintf(conninfo, size, "host=%s user=nvr dbname=t_%ld_%u", pg->host, (long)getpid(), n);
}

/*
 * check_schema.c: migrations and connections against a real, private
 * PostgreSQL (tests/harness/pgtest.c): applied once, refused when the schema
 * is newer or edited, atomic on failure, safe when nvrd processes race.
 */
#include "autoconfig.h"

#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nvrd/util.h"
#include "storage/db.h"
#include "storage/schema.h"
#include "tests/harness/pgtest.h"
#include "tests/harness/run.h"

static struct pgtest pg;
static char conninfo[PATH_MAX + 128];
static PGconn *db;

static void
suite_setup(void)
{
	pgtest_start(&pg);
}

static void
suite_teardown(void)
{
	pgtest_stop(&pg);
}

static void
test_setup(void)
{
	pgtest_new_database(&pg, conninfo, sizeof(conninfo));
	db = pgtest_connect(conninfo);
}

static void
test_teardown(void)
{
	PQfinish(db);
}

static long
count(const char *sql)
{
	return strtol(pgtest_query(db, sql), NULL, 10);
}

START_TEST(fresh_database_migrates_to_latest)
{
	struct stg_schema_result r;

	ck_assert_int_gt(stg_schema_latest(), 0);
	ck_assert_int_eq(stg_schema_migrate(db, &r), NVR_OK);
	ck_assert_int_eq(r.from_version, 0);
	ck_assert_int_eq(r.to_version, stg_schema_latest());
	ck_assert_int_eq(count("SELECT count(*) FROM schema_migrations"), stg_schema_latest());
	ck_assert_int_eq(count("SELECT max(version) FROM schema_migrations"), stg_schema_latest());
	ck_assert_str_eq(pgtest_query(db, "SELECT to_regclass('settings') IS NOT NULL"), "t");
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
}
END_TEST

START_TEST(second_run_applies_nothing)
{
	struct stg_schema_result r;

	ck_assert_int_eq(stg_schema_migrate(db, &r), NVR_OK);
	pgtest_query(db, "INSERT INTO settings (name, value) VALUES ('marker', '1')");
	ck_assert_int_eq(stg_schema_migrate(db, &r), NVR_OK);
	ck_assert_int_eq(r.from_version, stg_schema_latest());
	ck_assert_int_eq(r.to_version, stg_schema_latest());
	ck_assert_int_eq(count("SELECT count(*) FROM schema_migrations"), stg_schema_latest());
	ck_assert_int_eq(count("SELECT count(*) FROM settings"), 1);
}
END_TEST

START_TEST(newer_schema_refused)
{
	struct stg_schema_result r;
	char sql[256];

	ck_assert_int_eq(stg_schema_migrate(db, &r), NVR_OK);
	snprintf(sql, sizeof(sql),
	    "INSERT INTO schema_migrations (version, name, sha256) VALUES (%d, 'from_the_future', 'x')",
	    stg_schema_latest() + 1);
	pgtest_query(db, sql);
	ck_assert_int_eq(stg_schema_migrate(db, &r), NVR_ERR_SCHEMA);
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
	ck_assert_int_eq(count("SELECT count(*) FROM schema_migrations"), stg_schema_latest() + 1);
}
END_TEST

START_TEST(edited_migration_refused)
{
	struct stg_schema_result r;

	ck_assert_int_eq(stg_schema_migrate(db, &r), NVR_OK);
	pgtest_query(db, "UPDATE schema_migrations SET sha256 = repeat('0', 64) WHERE version = 1");
	ck_assert_int_eq(stg_schema_migrate(db, &r), NVR_ERR_SCHEMA);
}
END_TEST

START_TEST(failed_migration_leaves_nothing)
{
	struct stg_schema_result r;

	/* Migration 0001 creates "settings": make it fail half-way. */
	pgtest_query(db, "CREATE TABLE settings (in_the_way int)");
	ck_assert_int_eq(stg_schema_migrate(db, &r), NVR_ERR_DB);
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
	ck_assert_str_eq(pgtest_query(db, "SELECT to_regclass('schema_migrations') IS NULL"), "t");
	ck_assert_int_eq(count("SELECT count(*) FROM information_schema.columns WHERE table_name = 'settings'"), 1);
}
END_TEST

struct racer {
	const char *conninfo;
	nvr_err rc;
	struct stg_schema_result r;
};

static void *
race(void *arg)
{
	struct racer *x = arg;
	PGconn *c = pgtest_connect(x->conninfo);

	x->rc = stg_schema_migrate(c, &x->r);
	PQfinish(c);
	return NULL;
}

START_TEST(concurrent_starts_apply_once)
{
	enum { N = 4 };
	struct racer x[N];
	pthread_t t[N];
	int fresh = 0;

	for (int i = 0; i < N; i++) {
		x[i].conninfo = conninfo;
		ck_assert_int_eq(pthread_create(&t[i], NULL, race, &x[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(x[i].rc, NVR_OK);
		ck_assert_int_eq(x[i].r.to_version, stg_schema_latest());
		fresh += x[i].r.from_version == 0;
	}
	ck_assert_int_eq(fresh, 1);
	ck_assert_int_eq(count("SELECT count(*) FROM schema_migrations"), stg_schema_latest());
}
END_TEST

/* The build must embed every sql/NNNN_*.sql file, unchanged. */
START_TEST(every_sql_file_is_embedded)
{
	const char *top = getenv("top_srcdir");
	char dir[PATH_MAX], path[PATH_MAX + 300];
	struct dirent *e;
	DIR *d;
	int files = 0;

	ck_assert_ptr_nonnull(top);
	snprintf(dir, sizeof(dir), "%s/sql", top);
	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		int v;
		char *text;
		long len;
		FILE *f;

		char *end;

		v = (int)strtol(e->d_name, &end, 10);
		if (end != e->d_name + 4 || *end != '_' || strstr(e->d_name, ".sql") == NULL)
			continue;
		files++;
		ck_assert_int_le(v, (int)stg_migrations_count);
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ck_assert_ptr_nonnull(f = fopen(path, "r"));
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		text = calloc(1, (size_t)len + 1);
		ck_assert_uint_eq(fread(text, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		ck_assert_str_eq(stg_migrations[v - 1].sql, text);
		free(text);
	}
	closedir(d);
	ck_assert_int_eq(files, (int)stg_migrations_count);
}
END_TEST

START_TEST(connect_to_nothing_fails_clearly)
{
	PGconn *c = NULL;
	char why[256];

	ck_assert_int_eq(stg_db_connect("host=/nonexistent-nvr-dir dbname=x", 2000, -1, &c, why, sizeof(why)),
	    NVR_ERR_DB_UNREACHABLE);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(why, "/nonexistent-nvr-dir"));
	ck_assert_int_eq(stg_db_connect("not a conninfo", 2000, -1, &c, why, sizeof(why)), NVR_ERR_DB_UNREACHABLE);
	ck_assert_int_ne(why[0], '\0');
}
END_TEST

/* A server that accepts the connection and never answers: the connect must
 * time out, or end at once when the wake fd fires (a stop request). */
START_TEST(stalled_server_times_out_or_is_interrupted)
{
	char dir[] = "/tmp/nvr-stall.XXXXXX", info[256], why[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ls, wake[2];
	int64_t t0;
	PGconn *c = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.s.PGSQL.5999", dir);
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(ls, 4), 0);
	snprintf(info, sizeof(info), "host=%s port=5999 dbname=x user=x", dir);

	t0 = nvr_monotonic_ms();
	ck_assert_int_eq(stg_db_connect(info, 1000, -1, &c, why, sizeof(why)), NVR_ERR_DB_UNREACHABLE);
	ck_assert_int_ge(nvr_monotonic_ms() - t0, 900);
	ck_assert_ptr_nonnull(strstr(why, "no answer within 1000 ms"));

	ck_assert_int_eq(pipe(wake), 0);
	ck_assert_int_eq(write(wake[1], "x", 1), 1);
	ck_assert_int_eq(stg_db_connect(info, 60000, wake[0], &c, why, sizeof(why)), NVR_ERR_INTERRUPTED);
	ck_assert_ptr_null(c);
	close(wake[0]);
	close(wake[1]);
	close(ls);
	unlink(sa.sun_path);
	rmdir(dir);
}
END_TEST

START_TEST(failed_statement_reported)
{
	PGconn *c = NULL;
	char why[256];

	ck_assert_int_eq(stg_db_connect(conninfo, 5000, -1, &c, why, sizeof(why)), NVR_OK);
	ck_assert_int_eq(stg_db_exec(c, "SELECT * FROM no_such_table", "reading nothing"), NVR_ERR_DB);
	ck_assert_int_eq(stg_db_exec(c, "SELECT 1", "a query where a command was expected"), NVR_ERR_DB);
	ck_assert_int_eq(stg_db_exec(c, "CREATE TABLE t (x int)", "creating t"), NVR_OK);
	stg_db_describe(c, why, sizeof(why));
	ck_assert_ptr_nonnull(strstr(why, pg.host));
	ck_assert_ptr_null(strstr(why, "user"));
	PQfinish(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("migrations");
	TCase *tcc = tcase_create("connections");

	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_add_test(tc, fresh_database_migrates_to_latest);
	tcase_add_test(tc, second_run_applies_nothing);
	tcase_add_test(tc, newer_schema_refused);
	tcase_add_test(tc, edited_migration_refused);
	tcase_add_test(tc, failed_migration_leaves_nothing);
	tcase_add_test(tc, concurrent_starts_apply_once);
	tcase_add_test(tc, every_sql_file_is_embedded);
	tcase_add_test(tc, failed_statement_reported);
	suite_add_tcase(s, tc);
	tcase_add_test(tcc, connect_to_nothing_fails_clearly);
	tcase_add_test(tcc, stalled_server_times_out_or_is_interrupted);
	suite_add_tcase(s, tcc);
	return harness_run(s);
}

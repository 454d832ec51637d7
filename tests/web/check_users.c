/*
 * check_users.c: the user store (web/users.c) against a real, private
 * PostgreSQL: adding a user with grants and a key holder, every refusal
 * leaving nothing behind, changes, passwords and removals ending sessions,
 * and the last enabled admin kept when asked.
 */
#include "autoconfig.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/schema.h"
#include "storage/secret.h"
#include "tests/harness/files.h"
#include "tests/harness/pgtest.h"
#include "tests/harness/run.h"
#include "web/api.h"
#include "web/users.h"

static struct pgtest pg;
static char dir[PATH_MAX];
static char conninfo[PATH_MAX + 128];
static struct stg_secret *secret;
static PGconn *db;

static void
suite_setup(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[PATH_MAX + 32];

	pgtest_start(&pg);
	snprintf(dir, sizeof(dir), "%s/nvr-users.XXXXXX", tmp);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret.key", dir);
	ck_assert_int_eq(stg_secret_load(path, true, &secret), NVR_OK);
}

static void
suite_teardown(void)
{
	stg_secret_free(secret);
	harness_rm_rf(dir);
	pgtest_stop(&pg);
}

static void
test_setup(void)
{
	struct stg_schema_result r;

	pgtest_new_database(&pg, conninfo, sizeof(conninfo));
	db = pgtest_connect(conninfo);
	ck_assert_int_eq(stg_schema_migrate(db, &r), NVR_OK);
	pgtest_query(db, "INSERT INTO cameras (id, name, url) VALUES "
	                 "('00000000-0000-4000-8000-0000000000c1', 'cam1', 'rtsps://192.0.2.1/1'), "
	                 "('00000000-0000-4000-8000-0000000000c2', 'cam2', 'rtsps://192.0.2.1/2')");
	pgtest_query(db, "INSERT INTO key_holders (id, name, public_key_pem, fingerprint) VALUES "
	                 "('00000000-0000-4000-8000-0000000000a1', 'kh', 'x', decode(repeat('ab', 32), 'hex'))");
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

/* Adds name with role and grants; returns its id. */
static nvr_uuid
add(const char *name, unsigned role, const char *const *cams, size_t n, const char *kh, nvr_err want,
    enum web_users_refusal why_want)
{
	struct web_users_new u = { .name = name, .role = role, .cameras = { .names = cams, .n = n }, .key_holder = kh };
	struct web_users_password pw;
	struct web_users_why why = { 0 };

	ck_assert_int_eq(nvr_uuid_new(&u.id), NVR_OK);
	ck_assert_int_eq(web_users_password_make(secret, "nvr", &u.id, name, "Some-Pass-42", &pw), NVR_OK);
	ck_assert_int_eq(web_users_insert(db, &u, &pw, &why), want);
	if (want == NVR_ERR_INVAL)
		ck_assert_int_eq(why.what, why_want);
	web_users_password_clear(&pw);
	return u.id;
}

/* A live session of user name. */
static void
session(const char *name, int i)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
	    "INSERT INTO api_sessions (token_sha256, user_id, address, expires_at) "
	    "SELECT decode(repeat('%02x', 32), 'hex'), id, '::1', now() + interval '1 hour' FROM users WHERE name = '%s'",
	    i, name);
	pgtest_query(db, sql);
}

static long
live_sessions(const char *name)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
	    "SELECT count(*) FROM api_sessions s JOIN users u ON u.id = s.user_id WHERE u.name = '%s' "
	    "AND s.revoked_at IS NULL", name);
	return count(sql);
}

START_TEST(insert_with_grants)
{
	static const char *const cams[] = { "cam2", "cam1", "cam2" };
	struct web_users_row row;

	add("alice", WEB_ROLE_VIEWER, cams, 3, "kh", NVR_OK, 0);
	ck_assert_int_eq(web_users_get(db, "alice", &row), NVR_OK);
	ck_assert_uint_eq(row.role, WEB_ROLE_VIEWER);
	ck_assert(!row.disabled);
	ck_assert_int_eq(count("SELECT count(*) FROM user_cameras"), 2); /* a name given twice: one grant */
	ck_assert_str_eq(pgtest_query(db, "SELECT k.name FROM users u JOIN key_holders k ON k.id = u.key_holder_id"),
	    "kh");
	ck_assert_str_eq(pgtest_query(db, "SELECT left(password_hash, 7) FROM users"), "scrypt$");
	ck_assert_int_eq(web_users_get(db, "nobody", &row), NVR_ERR_INVAL);
}
END_TEST

START_TEST(refusals_keep_nothing)
{
	static const char *const cams[] = { "cam1", "nosuch" };

	add("alice", WEB_ROLE_VIEWER, NULL, 0, NULL, NVR_OK, 0);
	add("alice", WEB_ROLE_ADMIN, NULL, 0, NULL, NVR_ERR_INVAL, WEB_USERS_NAME_TAKEN);
	add("bob", WEB_ROLE_VIEWER, NULL, 0, "nokh", NVR_ERR_INVAL, WEB_USERS_NO_KEY_HOLDER);
	add("bob", WEB_ROLE_VIEWER, cams, 2, NULL, NVR_ERR_INVAL, WEB_USERS_NO_CAMERA);
	ck_assert_int_eq(count("SELECT count(*) FROM users"), 1);
	ck_assert_int_eq(count("SELECT count(*) FROM user_cameras"), 0);
	ck_assert_str_eq(pgtest_query(db, "SELECT role FROM users"), "viewer");
	/* the connection is usable: no transaction left open */
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
}
END_TEST

START_TEST(changes)
{
	static const char *const cams[] = { "cam2" };
	const struct web_users_grants g = { .names = cams, .n = 1 }, all = { .all = true };
	struct web_users_change c = { .role = WEB_ROLE_OPERATOR, .cameras = &g, .set_key_holder = true,
		.key_holder = "kh", .disabled = -1 };
	struct web_users_why why = { 0 };
	nvr_uuid id = add("alice", WEB_ROLE_VIEWER, NULL, 0, NULL, NVR_OK, 0);

	session("alice", 1);
	ck_assert_int_eq(web_users_update(db, &id, &c, true, &why), NVR_OK);
	ck_assert_str_eq(pgtest_query(db, "SELECT role || ' ' || all_cameras FROM users"), "operator false");
	ck_assert_int_eq(count("SELECT count(*) FROM user_cameras WHERE camera_id = '00000000-0000-4000-8000-0000000000c2'"), 1);
	ck_assert_int_eq(live_sessions("alice"), 1); /* a role change keeps the sessions */
	c = (struct web_users_change){ .cameras = &all, .set_key_holder = true, .key_holder = NULL, .disabled = 1 };
	ck_assert_int_eq(web_users_update(db, &id, &c, true, &why), NVR_OK);
	ck_assert_str_eq(pgtest_query(db, "SELECT all_cameras || ' ' || disabled || ' ' || (key_holder_id IS NULL) FROM users"),
	    "true true true");
	ck_assert_int_eq(count("SELECT count(*) FROM user_cameras"), 0);
	ck_assert_int_eq(live_sessions("alice"), 0); /* disabling ends them */
	c = (struct web_users_change){ .set_key_holder = true, .key_holder = "nokh", .disabled = -1 };
	ck_assert_int_eq(web_users_update(db, &id, &c, true, &why), NVR_ERR_INVAL);
	ck_assert_int_eq(why.what, WEB_USERS_NO_KEY_HOLDER);
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
}
END_TEST

START_TEST(passwords_end_sessions)
{
	struct web_users_password pw;
	struct web_users_change c = { .disabled = -1 };
	struct web_users_why why = { 0 };
	int64_t ended = -1;
	nvr_uuid id = add("alice", WEB_ROLE_VIEWER, NULL, 0, NULL, NVR_OK, 0);
	char before[200];

	snprintf(before, sizeof(before), "%s", pgtest_query(db, "SELECT password_hash FROM users"));
	session("alice", 1);
	session("alice", 2);
	ck_assert_int_eq(web_users_password_make(secret, "nvr", &id, "alice", "Other-Pass-43", &pw), NVR_OK);
	c.password = &pw;
	ck_assert_int_eq(web_users_update(db, &id, &c, true, &why), NVR_OK);
	ck_assert_str_ne(pgtest_query(db, "SELECT password_hash FROM users"), before);
	ck_assert_int_eq(live_sessions("alice"), 0);
	session("alice", 3);
	ck_assert_int_eq(web_users_set_password(db, &id, &pw), NVR_OK);
	ck_assert_int_eq(live_sessions("alice"), 0);
	session("alice", 4);
	session("alice", 5);
	ck_assert_int_eq(web_users_end_sessions(db, &id, &ended), NVR_OK);
	ck_assert_int_eq(ended, 2);
	web_users_password_clear(&pw);
}
END_TEST

START_TEST(last_admin_kept)
{
	struct web_users_change demote = { .role = WEB_ROLE_VIEWER, .disabled = -1 }, disable = { .disabled = 1 };
	struct web_users_why why = { 0 };
	nvr_uuid a = add("root", WEB_ROLE_ADMIN, NULL, 0, NULL, NVR_OK, 0);
	nvr_uuid b = add("root2", WEB_ROLE_ADMIN, NULL, 0, NULL, NVR_OK, 0);

	ck_assert_int_eq(web_users_update(db, &b, &disable, true, &why), NVR_OK);
	ck_assert_int_eq(web_users_update(db, &a, &demote, true, &why), NVR_ERR_INVAL);
	ck_assert_int_eq(why.what, WEB_USERS_LAST_ADMIN);
	ck_assert_int_eq(web_users_update(db, &a, &disable, true, &why), NVR_ERR_INVAL);
	ck_assert_int_eq(web_users_remove(db, &a, true, &why), NVR_ERR_INVAL);
	ck_assert_int_eq(why.what, WEB_USERS_LAST_ADMIN);
	ck_assert_int_eq(count("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled AND removed_at IS NULL"), 1);
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
	/* a disabled admin may go; nvrctl (keep_an_admin false) may remove the last one */
	ck_assert_int_eq(web_users_remove(db, &b, true, &why), NVR_OK);
	session("root", 1);
	ck_assert_int_eq(web_users_remove(db, &a, false, NULL), NVR_OK);
	ck_assert_int_eq(count("SELECT count(*) FROM users WHERE removed_at IS NULL"), 0);
	ck_assert_int_eq(live_sessions("root"), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("users");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_add_test(tc, insert_with_grants);
	tcase_add_test(tc, refusals_keep_nothing);
	tcase_add_test(tc, changes);
	tcase_add_test(tc, passwords_end_sessions);
	tcase_add_test(tc, last_admin_kept);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

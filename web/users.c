/*
 * users.c: the user store in PostgreSQL (users, user_cameras,
 * api_sessions), for nvrctl and the API alike.
 * It must never put a password in clear into a statement or a log, and
 * never leave a transaction open on a connection it was lent.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "storage/db.h"
#include "web/api.h"
#include "web/auth.h"
#include "web/users.h"

nvr_err
web_users_password_make(const struct stg_secret *s, const char *realm, const nvr_uuid *id, const char *name,
    const char *password, struct web_users_password *out)
{
	nvr_err rc;

	memset(out, 0, sizeof(*out));
	if ((rc = web_password_hash(password, out->hash)) != NVR_OK ||
	    (rc = web_auth_seal_ha1(s, id, name, realm, password, &out->ha1, &out->ha1_len)) != NVR_OK)
		web_users_password_clear(out);
	return rc;
}

void
web_users_password_clear(struct web_users_password *p)
{
	OPENSSL_cleanse(p->hash, sizeof(p->hash));
	free(p->ha1);
	p->ha1 = NULL;
	p->ha1_len = 0;
}

static void
refuse(struct web_users_why *why, enum web_users_refusal what, const char *name)
{
	why->what = what;
	snprintf(why->name, sizeof(why->name), "%s", name != NULL ? name : "");
}

/* Runs sql (text parameters, NULL for SQL NULL) and checks it; *out is the
 * caller's (PQclear). */
static nvr_err
run(PGconn *db, const char *sql, int n, const char *const *p, ExecStatusType want, const char *what, PGresult **out)
{
	PGresult *res = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
	nvr_err rc = stg_db_check(db, res, want, what);

	*out = rc == NVR_OK ? res : NULL;
	return rc;
}

/* Runs sql for its effect only. */
static nvr_err
exec(PGconn *db, const char *sql, int n, const char *const *p, const char *what)
{
	PGresult *res;
	nvr_err rc = run(db, sql, n, p, PGRES_COMMAND_OK, what, &res);

	PQclear(res);
	return rc;
}

/* Whether the one-row, one-column answer of sql is "t". */
static nvr_err
ask(PGconn *db, const char *sql, int n, const char *const *p, const char *what, bool *yes)
{
	PGresult *res;
	nvr_err rc = run(db, sql, n, p, PGRES_TUPLES_OK, what, &res);

	*yes = rc == NVR_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

static nvr_err
key_holder_exists(PGconn *db, const char *name, struct web_users_why *why)
{
	const char *p[1] = { name };
	bool yes;
	nvr_err rc;

	if (name == NULL)
		return NVR_OK;
	rc = ask(db, "SELECT EXISTS (SELECT 1 FROM key_holders WHERE name = $1 AND removed_at IS NULL)", 1, p,
	    "looking up a key holder", &yes);
	if (rc == NVR_OK && !yes) {
		refuse(why, WEB_USERS_NO_KEY_HOLDER, name);
		rc = NVR_ERR_INVAL;
	}
	return rc;
}

/* Replaces the grants of user uid (in the caller's transaction). A name
 * given twice is granted once. */
static nvr_err
grant(PGconn *db, const char *uid, const struct web_users_grants *g, struct web_users_why *why)
{
	const char *p[2] = { uid, NULL };
	bool yes;
	nvr_err rc;

	if ((rc = exec(db, "DELETE FROM user_cameras WHERE user_id = $1", 1, p, "replacing camera grants")) != NVR_OK)
		return rc;
	for (size_t i = 0; !g->all && i < g->n && rc == NVR_OK; i++) {
		p[1] = g->names[i];
		rc = ask(db,
		    "WITH c AS (SELECT id FROM cameras WHERE name = $2 AND removed_at IS NULL), "
		    " g AS (INSERT INTO user_cameras (user_id, camera_id) SELECT $1, id FROM c ON CONFLICT DO NOTHING) "
		    "SELECT EXISTS (SELECT 1 FROM c)",
		    2, p, "granting a camera", &yes);
		if (rc == NVR_OK && !yes) {
			refuse(why, WEB_USERS_NO_CAMERA, g->names[i]);
			rc = NVR_ERR_INVAL;
		}
	}
	return rc;
}

/* Ends a transaction: COMMIT after rc == NVR_OK, else ROLLBACK. */
static nvr_err
finish(PGconn *db, nvr_err rc)
{
	if (rc == NVR_OK)
		return stg_db_exec(db, "COMMIT", "committing a user change");
	stg_db_exec(db, "ROLLBACK", "undoing a failed user change");
	return rc;
}

static nvr_err
insert_row(PGconn *db, const struct web_users_new *u, const char *uid, const struct web_users_password *pw,
    struct web_users_why *why)
{
	const char *p[7] = { uid, u->name, web_role_name(u->role), pw->hash, (const char *)pw->ha1,
		u->cameras.all ? "true" : "false", u->key_holder };
	const int len[7] = { 0, 0, 0, 0, (int)pw->ha1_len, 0, 0 }, fmt[7] = { 0, 0, 0, 0, 1, 0, 0 };
	PGresult *res;
	nvr_err rc;

	res = PQexecParams(db,
	    "INSERT INTO users (id, name, role, password_hash, ha1_sealed, all_cameras, key_holder_id) "
	    "VALUES ($1, $2, $3, $4, $5, $6, (SELECT id FROM key_holders WHERE name = $7 AND removed_at IS NULL)) "
	    "ON CONFLICT DO NOTHING",
	    7, NULL, p, len, fmt, 0);
	if ((rc = stg_db_check(db, res, PGRES_COMMAND_OK, "adding a user")) != NVR_OK)
		return rc;
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		refuse(why, WEB_USERS_NAME_TAKEN, NULL);
		rc = NVR_ERR_INVAL;
	}
	PQclear(res);
	return rc;
}

nvr_err
web_users_insert(PGconn *db, const struct web_users_new *u, const struct web_users_password *pw,
    struct web_users_why *why)
{
	char uid[NVR_UUID_STRLEN];
	nvr_err rc;

	nvr_uuid_format(&u->id, uid);
	if ((rc = stg_db_exec(db, "BEGIN", "starting a transaction")) != NVR_OK)
		return rc;
	if ((rc = key_holder_exists(db, u->key_holder, why)) == NVR_OK &&
	    (rc = insert_row(db, u, uid, pw, why)) == NVR_OK)
		rc = grant(db, uid, &u->cameras, why);
	return finish(db, rc);
}

nvr_err
web_users_get(PGconn *db, const char *name, struct web_users_row *out)
{
	const char *p[1] = { name };
	PGresult *res;
	nvr_err rc;

	memset(out, 0, sizeof(*out));
	rc = run(db, "SELECT id, role, disabled FROM users WHERE name = $1 AND removed_at IS NULL", 1, p,
	    PGRES_TUPLES_OK, "looking up a user", &res);
	if (rc != NVR_OK)
		return rc;
	if (PQntuples(res) != 1 || nvr_uuid_parse(PQgetvalue(res, 0, 0), &out->id) != NVR_OK)
		rc = NVR_ERR_INVAL;
	out->role = rc == NVR_OK ? web_role_parse(PQgetvalue(res, 0, 1)) : 0;
	out->disabled = rc == NVR_OK && PQgetvalue(res, 0, 2)[0] == 't';
	PQclear(res);
	return rc;
}

/*
 * In a transaction: whether user uid is the only enabled admin. Every
 * enabled admin's row is locked (FOR UPDATE), so two admins demoting or
 * removing each other at once are serialised, and the second one sees
 * the first one's change.
 */
static nvr_err
only_admin(PGconn *db, const char *uid, bool *only)
{
	const char *p[1] = { uid };
	PGresult *res;
	nvr_err rc;

	rc = run(db,
	    "SELECT bool_or(id = $1::uuid) AND count(*) = 1 FROM (SELECT id FROM users "
	    " WHERE role = 'admin' AND NOT disabled AND removed_at IS NULL FOR UPDATE) a",
	    1, p, PGRES_TUPLES_OK, "counting the enabled admins", &res);
	*only = rc == NVR_OK && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

/* Refuses (WEB_USERS_LAST_ADMIN) when uid is the only enabled admin. */
static nvr_err
keep_admin(PGconn *db, const char *uid, struct web_users_why *why)
{
	bool only;
	nvr_err rc = only_admin(db, uid, &only);

	if (rc == NVR_OK && only) {
		refuse(why, WEB_USERS_LAST_ADMIN, NULL);
		rc = NVR_ERR_INVAL;
	}
	return rc;
}

static const char end_sessions_sql[] =
    "UPDATE api_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL";

/* The new password; the sessions end with it (nvrctl user passwd's SQL). */
static nvr_err
set_password(PGconn *db, const char *uid, const struct web_users_password *pw)
{
	const char *p[3] = { uid, pw->hash, (const char *)pw->ha1 };
	const int len[3] = { 0, 0, (int)pw->ha1_len }, fmt[3] = { 0, 0, 1 };
	PGresult *res;
	nvr_err rc;

	res = PQexecParams(db,
	    "WITH u AS (UPDATE users SET password_hash = $2, ha1_sealed = $3, updated_at = now() WHERE id = $1) "
	    "UPDATE api_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
	    3, NULL, p, len, fmt, 0);
	if ((rc = stg_db_check(db, res, PGRES_COMMAND_OK, "changing a password")) == NVR_OK)
		PQclear(res);
	return rc;
}

nvr_err
web_users_set_password(PGconn *db, const nvr_uuid *id, const struct web_users_password *pw)
{
	char uid[NVR_UUID_STRLEN];

	nvr_uuid_format(id, uid);
	return set_password(db, uid, pw);
}

/* Role, disabled and key holder of user uid; NO_USER if it is gone. */
static nvr_err
update_row(PGconn *db, const char *uid, const struct web_users_change *c, struct web_users_why *why)
{
	const char *p[6] = { uid, c->role != 0 ? web_role_name(c->role) : NULL,
		c->disabled < 0 ? NULL : c->disabled ? "true" : "false",
		c->cameras == NULL ? NULL : c->cameras->all ? "true" : "false", c->set_key_holder ? "true" : "false",
		c->key_holder };
	PGresult *res;
	nvr_err rc;

	rc = run(db,
	    "UPDATE users SET role = coalesce($2, role), disabled = coalesce($3::boolean, disabled), "
	    " all_cameras = coalesce($4::boolean, all_cameras), "
	    " key_holder_id = CASE WHEN $5::boolean THEN "
	    "  (SELECT id FROM key_holders WHERE name = $6 AND removed_at IS NULL) ELSE key_holder_id END, "
	    " updated_at = now() WHERE id = $1 AND removed_at IS NULL",
	    6, p, PGRES_COMMAND_OK, "changing a user", &res);
	if (rc == NVR_OK && strcmp(PQcmdTuples(res), "1") != 0) {
		refuse(why, WEB_USERS_NO_USER, NULL);
		rc = NVR_ERR_INVAL;
	}
	PQclear(res);
	return rc;
}

/* The steps of a change, in the caller's transaction. */
static nvr_err
apply_change(PGconn *db, const char *uid, const struct web_users_change *c, bool keep_an_admin,
    struct web_users_why *why)
{
	const char *p[1] = { uid };
	bool demotes = (c->role != 0 && c->role != WEB_ROLE_ADMIN) || c->disabled == 1;
	nvr_err rc = NVR_OK;

	if (keep_an_admin && demotes)
		rc = keep_admin(db, uid, why);
	if (rc == NVR_OK && c->set_key_holder)
		rc = key_holder_exists(db, c->key_holder, why);
	if (rc == NVR_OK)
		rc = update_row(db, uid, c, why);
	if (rc == NVR_OK && c->cameras != NULL)
		rc = grant(db, uid, c->cameras, why);
	if (rc == NVR_OK && c->password != NULL)
		rc = set_password(db, uid, c->password);
	/* A disabled account keeps no session: enabling it again must not
	 * bring old cookies back. */
	if (rc == NVR_OK && c->disabled == 1)
		rc = exec(db, end_sessions_sql, 1, p, "ending a user's sessions");
	return rc;
}

nvr_err
web_users_update(PGconn *db, const nvr_uuid *id, const struct web_users_change *c, bool keep_an_admin,
    struct web_users_why *why)
{
	char uid[NVR_UUID_STRLEN];
	nvr_err rc;

	nvr_uuid_format(id, uid);
	if ((rc = stg_db_exec(db, "BEGIN", "starting a transaction")) != NVR_OK)
		return rc;
	return finish(db, apply_change(db, uid, c, keep_an_admin, why));
}

/* nvrctl user remove's statement: the user and its sessions. */
static nvr_err
remove_row(PGconn *db, const char *uid)
{
	const char *p[1] = { uid };

	return exec(db,
	    "WITH u AS (UPDATE users SET removed_at = now() WHERE id = $1) "
	    "UPDATE api_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
	    1, p, "removing a user");
}

nvr_err
web_users_remove(PGconn *db, const nvr_uuid *id, bool keep_an_admin, struct web_users_why *why)
{
	char uid[NVR_UUID_STRLEN];
	nvr_err rc;

	nvr_uuid_format(id, uid);
	if (!keep_an_admin)
		return remove_row(db, uid);
	if ((rc = stg_db_exec(db, "BEGIN", "starting a transaction")) != NVR_OK)
		return rc;
	if ((rc = keep_admin(db, uid, why)) == NVR_OK)
		rc = remove_row(db, uid);
	return finish(db, rc);
}

nvr_err
web_users_end_sessions(PGconn *db, const nvr_uuid *id, int64_t *ended)
{
	char uid[NVR_UUID_STRLEN];
	const char *p[1] = { uid };
	PGresult *res;
	nvr_err rc;

	nvr_uuid_format(id, uid);
	*ended = 0;
	if ((rc = run(db, end_sessions_sql, 1, p, PGRES_COMMAND_OK, "ending a user's sessions", &res)) != NVR_OK)
		return rc;
	*ended = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return NVR_OK;
}

/*
 * catalog.c: cameras, key holders, streams and camera status in PostgreSQL.
 * It must never put a clear password in a statement, and never leave a
 * PGresult uncleared.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "storage/catalog.h"
#include "storage/db.h"
#include "storage/seal.h"

void
stg_camera_clear(struct stg_camera *c)
{
	if (c == NULL)
		return;
	free(c->url);
	free(c->username);
	free(c->password_sealed);
	free(c->tls_ca_pem);
	free(c->last_error);
	free(c->warning);
	memset(c, 0, sizeof(*c));
}

void
stg_cameras_free(struct stg_camera *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		stg_camera_clear(&v[i]);
	free(v);
}

void
stg_keyholders_free(struct stg_keyholder *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		EVP_PKEY_free(v[i].pub);
	free(v);
}

const char *
stg_catalog_check_name(const char *name, bool keyholder)
{
	size_t n = strlen(name);

	if (n == 0 || n > STG_NAME_MAX)
		return "a name is 1 to 64 characters";
	if (!isalnum((unsigned char)name[0]))
		return "a name starts with a letter or a digit";
	for (const char *p = name; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-' && !(keyholder && *p == '@'))
			return keyholder ? "a name holds only letters, digits and . _ - @"
					 : "a name holds only letters, digits and . _ -";
	}
	return NULL;
}

/* Runs a statement with text parameters (NULL for SQL NULL); lengths and
 * formats given for bytea parameters. Returns the checked result. A unique
 * violation (SQLSTATE 23505: a name or key already taken) is returned as
 * NVR_ERR_INVAL without being logged: the caller words it for the user. */
static nvr_err
run(PGconn *db, const char *sql, int n, const char *const *vals, const int *lens, const int *fmts,
    ExecStatusType want, const char *what, PGresult **out)
{
	PGresult *r = PQexecParams(db, sql, n, NULL, vals, lens, fmts, 0);
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	nvr_err rc;

	*out = NULL;
	if (state != NULL && strcmp(state, "23505") == 0) {
		PQclear(r);
		return NVR_ERR_INVAL;
	}
	if ((rc = stg_db_check(db, r, want, what)) == NVR_OK)
		*out = r;
	return rc;
}

static char *
dup_or_null(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

/* bytea text output ("\x...") into a new buffer. */
static uint8_t *
bytea(PGresult *r, int row, int col, size_t *len)
{
	unsigned char *u;
	uint8_t *copy;

	*len = 0;
	if (PQgetisnull(r, row, col) ||
	    (u = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), len)) == NULL)
		return NULL;
	copy = malloc(*len ? *len : 1);
	if (copy != NULL)
		memcpy(copy, u, *len);
	PQfreemem(u);
	return copy;
}

#define CAMERA_COLUMNS                                                                       \
	"c.id, c.name, c.url, c.username, c.password_sealed, c.tls_ca_pem, c.tls_pin_sha256, " \
	"c.allow_basic, c.plain_rtp, c.enabled, c.updated_at, s.state, s.last_error, "           \
	"extract(epoch FROM c.retain_max_age) / 86400, c.retain_max_bytes, c.transport, s.warning "
#define CAMERA_FROM "FROM cameras c LEFT JOIN camera_status s ON s.camera_id = c.id "

static nvr_err
camera_from_row(PGresult *r, int i, struct stg_camera *c)
{
	uint8_t *pin;
	size_t len;

	memset(c, 0, sizeof(*c));
	if (nvr_uuid_parse(PQgetvalue(r, i, 0), &c->id) != NVR_OK)
		return NVR_ERR_INTERNAL;
	snprintf(c->name, sizeof(c->name), "%s", PQgetvalue(r, i, 1));
	c->url = strdup(PQgetvalue(r, i, 2));
	c->username = dup_or_null(r, i, 3);
	c->password_sealed = bytea(r, i, 4, &c->password_sealed_len);
	c->tls_ca_pem = dup_or_null(r, i, 5);
	if ((pin = bytea(r, i, 6, &len)) != NULL && len == 32) {
		memcpy(c->pin, pin, 32);
		c->has_pin = true;
	}
	free(pin);
	c->allow_basic = PQgetvalue(r, i, 7)[0] == 't';
	c->plain_rtp = PQgetvalue(r, i, 8)[0] == 't';
	c->enabled = PQgetvalue(r, i, 9)[0] == 't';
	snprintf(c->updated_at, sizeof(c->updated_at), "%s", PQgetvalue(r, i, 10));
	snprintf(c->state, sizeof(c->state), "%s", PQgetisnull(r, i, 11) ? "never started" : PQgetvalue(r, i, 11));
	c->last_error = dup_or_null(r, i, 12);
	c->keep_days = PQgetisnull(r, i, 13) ? 0 : strtod(PQgetvalue(r, i, 13), NULL);
	c->keep_bytes = PQgetisnull(r, i, 14) ? 0 : strtoll(PQgetvalue(r, i, 14), NULL, 10);
	snprintf(c->transport, sizeof(c->transport), "%s", PQgetvalue(r, i, 15));
	c->warning = dup_or_null(r, i, 16);
	return c->url ? NVR_OK : NVR_ERR_NOMEM;
}

bool
stg_catalog_parse_pin(const char *s, uint8_t pin[32])
{
	char hex[65];
	size_t n = 0;

	for (; *s && n < 64; s++) {
		if (*s != ':')
			hex[n++] = *s;
	}
	hex[n] = '\0';
	return *s == '\0' && nvr_hex_decode(hex, pin, 32) == NVR_OK;
}

bool
stg_catalog_ca_pem_ok(const char *text, size_t len)
{
	BIO *b = len > 0 && len <= (size_t)INT_MAX ? BIO_new_mem_buf(text, (int)len) : NULL;
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	bool ok = x != NULL;

	X509_free(x);
	BIO_free(b);
	return ok;
}

nvr_err
stg_catalog_camera_seal_password(const struct stg_secret *s, struct stg_camera *c, const char *password)
{
	uint8_t *sealed = NULL;
	size_t len = 0;
	nvr_err rc;

	rc = stg_secret_seal(s, c->id.b, sizeof(c->id.b), (const uint8_t *)password, strlen(password), &sealed, &len);
	if (rc != NVR_OK)
		return rc;
	free(c->password_sealed);
	c->password_sealed = sealed;
	c->password_sealed_len = len;
	return NVR_OK;
}

/* The columns of a camera as statement parameters, in the order
 * $1 id, $2 name, $3 url, $4 username, $5 password_sealed, $6 tls_ca_pem,
 * $7 tls_pin_sha256, $8 allow_basic, $9 plain_rtp, $10 enabled,
 * $11 transport. */
struct camera_params {
	char id[NVR_UUID_STRLEN];
	const char *vals[11];
	int lens[11], fmts[11];
};

static void
camera_params(const struct stg_camera *c, struct camera_params *p)
{
	memset(p, 0, sizeof(*p));
	nvr_uuid_format(&c->id, p->id);
	p->vals[0] = p->id;
	p->vals[1] = c->name;
	p->vals[2] = c->url;
	p->vals[3] = c->username;
	p->vals[4] = (const char *)c->password_sealed;
	p->lens[4] = (int)c->password_sealed_len;
	p->fmts[4] = 1;
	p->vals[5] = c->tls_ca_pem;
	p->vals[6] = c->has_pin ? (const char *)c->pin : NULL;
	p->lens[6] = 32;
	p->fmts[6] = 1;
	p->vals[7] = c->allow_basic ? "t" : "f";
	p->vals[8] = c->plain_rtp ? "t" : "f";
	p->vals[9] = c->enabled ? "t" : "f";
	p->vals[10] = c->transport[0] ? c->transport : "tcp";
}

nvr_err
stg_catalog_camera_add(PGconn *db, struct stg_camera *c)
{
	struct camera_params p;
	PGresult *r;
	nvr_err rc;

	if (nvr_uuid_is_nil(&c->id) && (rc = nvr_uuid_new(&c->id)) != NVR_OK)
		return rc;
	camera_params(c, &p);
	rc = run(db,
	    "INSERT INTO cameras (id, name, url, username, password_sealed, tls_ca_pem, tls_pin_sha256,"
	    " allow_basic, plain_rtp, enabled, transport) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
	    11, p.vals, p.lens, p.fmts, PGRES_COMMAND_OK, "adding the camera", &r);
	if (rc != NVR_OK)
		return rc;
	PQclear(r);
	return NVR_OK;
}

nvr_err
stg_catalog_camera_update(PGconn *db, const struct stg_camera *c)
{
	struct camera_params p;
	PGresult *r;
	nvr_err rc;

	camera_params(c, &p);
	p.vals[1] = c->updated_at; /* the name does not change: $2 is the version read */
	rc = run(db,
	    "UPDATE cameras SET url = $3, username = $4, password_sealed = $5, tls_ca_pem = $6, tls_pin_sha256 = $7,"
	    " allow_basic = $8, plain_rtp = $9, enabled = $10, transport = $11, updated_at = now()"
	    " WHERE id = $1 AND removed_at IS NULL AND updated_at = $2::timestamptz",
	    11, p.vals, p.lens, p.fmts, PGRES_COMMAND_OK, "changing the camera", &r);
	if (rc != NVR_OK)
		return rc;
	rc = strcmp(PQcmdTuples(r), "1") == 0 ? NVR_OK : NVR_ERR_INVAL;
	PQclear(r);
	return rc;
}

nvr_err
stg_catalog_cameras(PGconn *db, struct stg_camera **v, size_t *n)
{
	PGresult *r;
	nvr_err rc;
	int rows;

	*v = NULL;
	*n = 0;
	rc = run(db, "SELECT " CAMERA_COLUMNS CAMERA_FROM "WHERE c.removed_at IS NULL ORDER BY c.name", 0, NULL,
	    NULL, NULL, PGRES_TUPLES_OK, "listing cameras", &r);
	if (rc != NVR_OK)
		return rc;
	rows = PQntuples(r);
	if ((*v = calloc((size_t)rows + 1, sizeof(**v))) == NULL) {
		PQclear(r);
		return NVR_ERR_NOMEM;
	}
	for (int i = 0; i < rows && rc == NVR_OK; i++) {
		rc = camera_from_row(r, i, &(*v)[i]);
		*n = (size_t)i + 1;
	}
	PQclear(r);
	if (rc != NVR_OK) {
		stg_cameras_free(*v, *n);
		*v = NULL;
		*n = 0;
	}
	return rc;
}

nvr_err
stg_catalog_camera_get(PGconn *db, const char *name, struct stg_camera *c)
{
	const char *vals[1] = { name };
	PGresult *r;
	nvr_err rc;

	rc = run(db, "SELECT " CAMERA_COLUMNS CAMERA_FROM "WHERE c.removed_at IS NULL AND c.name = $1", 1, vals,
	    NULL, NULL, PGRES_TUPLES_OK, "reading the camera", &r);
	if (rc != NVR_OK)
		return rc;
	rc = PQntuples(r) == 1 ? camera_from_row(r, 0, c) : NVR_ERR_INVAL;
	PQclear(r);
	return rc;
}

/* Runs an UPDATE/DELETE by name and reports whether a row matched. */
static nvr_err
change_by_name(PGconn *db, const char *sql, const char *name, const char *what)
{
	const char *vals[1] = { name };
	PGresult *r;
	nvr_err rc = run(db, sql, 1, vals, NULL, NULL, PGRES_COMMAND_OK, what, &r);

	if (rc != NVR_OK)
		return rc;
	rc = strcmp(PQcmdTuples(r), "0") == 0 ? NVR_ERR_INVAL : NVR_OK;
	PQclear(r);
	return rc;
}

nvr_err
stg_catalog_camera_retention(PGconn *db, const char *name, const char *max_age_days, const char *max_bytes)
{
	const char *vals[3] = { name, max_age_days, max_bytes };
	PGresult *r = PQexecParams(db,
	    /* nullif before the cast: "" never reaches float8 or bigint */
	    "UPDATE cameras SET retain_max_age = CASE WHEN $2::text IS NULL THEN retain_max_age"
	    " ELSE make_interval(secs => nullif($2, '')::float8 * 86400) END,"
	    " retain_max_bytes = CASE WHEN $3::text IS NULL THEN retain_max_bytes ELSE nullif($3, '')::bigint END"
	    " WHERE name = $1 AND removed_at IS NULL",
	    3, NULL, vals, NULL, NULL, 0);
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	nvr_err rc;

	/* 22xxx: not a number; 23514: not above 0 */
	if (state != NULL && (strncmp(state, "22", 2) == 0 || strcmp(state, "23514") == 0)) {
		PQclear(r);
		return NVR_ERR_INVAL;
	}
	if ((rc = stg_db_check(db, r, PGRES_COMMAND_OK, "changing the camera's retention")) != NVR_OK)
		return rc;
	rc = strcmp(PQcmdTuples(r), "0") == 0 ? NVR_ERR_INVAL : NVR_OK;
	PQclear(r);
	return rc;
}

nvr_err
stg_catalog_camera_remove(PGconn *db, const char *name)
{
	return change_by_name(db,
	    "UPDATE cameras SET removed_at = now(), enabled = false, updated_at = now()"
	    " WHERE name = $1 AND removed_at IS NULL",
	    name, "removing the camera");
}

nvr_err
stg_catalog_keyholder_add(PGconn *db, const char *name, const char *pem, struct stg_keyholder *out)
{
	char id[NVR_UUID_STRLEN];
	const char *vals[4];
	int lens[4] = { 0 }, fmts[4] = { 0, 0, 0, 1 };
	EVP_PKEY *k = NULL;
	PGresult *r;
	nvr_err rc;

	memset(out, 0, sizeof(*out));
	if ((rc = stg_seal_read_public(pem, strlen(pem), &k)) != NVR_OK)
		return rc;
	rc = stg_seal_fingerprint(k, out->fingerprint);
	EVP_PKEY_free(k);
	if (rc != NVR_OK || (rc = nvr_uuid_new(&out->id)) != NVR_OK)
		return rc;
	nvr_uuid_format(&out->id, id);
	snprintf(out->name, sizeof(out->name), "%s", name);
	vals[0] = id;
	vals[1] = name;
	vals[2] = pem;
	vals[3] = (const char *)out->fingerprint;
	lens[3] = 32;
	rc = run(db, "INSERT INTO key_holders (id, name, public_key_pem, fingerprint) VALUES ($1, $2, $3, $4)",
	    4, vals, lens, fmts, PGRES_COMMAND_OK, "adding the key holder", &r);
	if (rc != NVR_OK)
		return rc;
	PQclear(r);
	return NVR_OK;
}

static nvr_err
keyholder_from_row(PGresult *r, int i, bool keys, struct stg_keyholder *k)
{
	uint8_t *fp;
	size_t len;
	const char *pem = PQgetvalue(r, i, 3);

	if (nvr_uuid_parse(PQgetvalue(r, i, 0), &k->id) != NVR_OK)
		return NVR_ERR_INTERNAL;
	snprintf(k->name, sizeof(k->name), "%s", PQgetvalue(r, i, 1));
	if ((fp = bytea(r, i, 2, &len)) == NULL || len != 32) {
		free(fp);
		return NVR_ERR_INTERNAL;
	}
	memcpy(k->fingerprint, fp, 32);
	free(fp);
	snprintf(k->created_at, sizeof(k->created_at), "%s", PQgetvalue(r, i, 4));
	if (keys && stg_seal_read_public(pem, strlen(pem), &k->pub) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "key holder %s: the stored public key is not a P-256 key; skipped", k->name);
		return NVR_ERR_INVAL;
	}
	return NVR_OK;
}

nvr_err
stg_catalog_keyholders(PGconn *db, bool keys, struct stg_keyholder **v, size_t *n)
{
	PGresult *r;
	nvr_err rc;
	size_t got = 0;
	int rows;

	*v = NULL;
	*n = 0;
	rc = run(db,
	    "SELECT id, name, fingerprint, public_key_pem,"
	    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM key_holders"
	    " WHERE removed_at IS NULL ORDER BY created_at, name",
	    0, NULL, NULL, NULL, PGRES_TUPLES_OK, "listing key holders", &r);
	if (rc != NVR_OK)
		return rc;
	rows = PQntuples(r);
	if ((*v = calloc((size_t)rows + 1, sizeof(**v))) == NULL) {
		PQclear(r);
		return NVR_ERR_NOMEM;
	}
	for (int i = 0; i < rows; i++) {
		if ((rc = keyholder_from_row(r, i, keys, &(*v)[got])) == NVR_OK)
			got++;
		else if (rc != NVR_ERR_INVAL)
			break;
	}
	PQclear(r);
	*n = got;
	return rc == NVR_ERR_INVAL ? NVR_OK : rc;
}

nvr_err
stg_catalog_keyholder_remove(PGconn *db, const char *name)
{
	return change_by_name(db, "UPDATE key_holders SET removed_at = now() WHERE name = $1 AND removed_at IS NULL",
	    name, "removing the key holder");
}

nvr_err
stg_catalog_notify(PGconn *db)
{
	return stg_db_exec(db, "NOTIFY " STG_NOTIFY_CHANNEL, "notifying nvrd");
}

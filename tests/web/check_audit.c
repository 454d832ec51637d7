/*
 * check_audit.c: the audit log against a real, private PostgreSQL
 * (tests/harness/pgtest.c): appends that verify (also from several
 * connections at once), the example of docs/FORMAT.md section 11 (read
 * from the document itself), checkpoints, the append-only trigger, and
 * every kind of tampering the owner can do with the trigger disabled; then
 * the writer thread: many threads, a lost connection, a row PostgreSQL
 * refuses, a full queue, and stops that must not hang.
 *
 * Rows are hashed here with a second, independent encoder written from
 * docs/FORMAT.md, never with web/audit_verify.c's.
 */
#include "autoconfig.h"

#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "nvrd/encode.h"
#include "nvrd/util.h"
#include "storage/schema.h"
#include "storage/sign.h"
#include "tests/harness/files.h"
#include "tests/harness/pgtest.h"
#include "tests/harness/run.h"
#include "web/audit.h"

static struct pgtest pg;
static char keydir[PATH_MAX];
static struct stg_signer *signer, *other_signer;
static X509 *cert;
static char conninfo[PATH_MAX + 128];
static PGconn *db;

static void
suite_setup(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char key[PATH_MAX + 32], crt[PATH_MAX + 32];

	pgtest_start(&pg);
	snprintf(keydir, sizeof(keydir), "%s/nvr-audit-keys.XXXXXX", tmp);
	ck_assert_ptr_nonnull(mkdtemp(keydir));
	snprintf(key, sizeof(key), "%s/other.key", keydir);
	snprintf(crt, sizeof(crt), "%s/other.crt", keydir);
	ck_assert_int_eq(stg_signer_load(key, crt, true, &other_signer), NVR_OK);
	snprintf(key, sizeof(key), "%s/recorder.key", keydir);
	snprintf(crt, sizeof(crt), "%s/recorder.crt", keydir);
	ck_assert_int_eq(stg_signer_load(key, crt, true, &signer), NVR_OK);
	ck_assert_int_eq(stg_cert_read(crt, &cert), NVR_OK);
}

static void
suite_teardown(void)
{
	X509_free(cert);
	stg_signer_free(signer);
	stg_signer_free(other_signer);
	harness_rm_rf(keydir);
	pgtest_stop(&pg);
}

static void
test_setup(void)
{
	struct stg_schema_result r;

	pgtest_new_database(&pg, conninfo, sizeof(conninfo));
	db = pgtest_connect(conninfo);
	ck_assert_int_eq(stg_schema_migrate(db, &r), NVR_OK);
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

/* n events numbered from first: object "o<i>", one in three denied. */
static nvr_err
append(int first, int n, const struct stg_signer *s)
{
	struct web_audit_event *ev = calloc((size_t)n, sizeof(*ev));
	char (*obj)[24] = calloc((size_t)n, sizeof(*obj));
	nvr_err rc;

	ck_assert_ptr_nonnull(ev);
	ck_assert_ptr_nonnull(obj);
	for (int i = 0; i < n; i++) {
		snprintf(obj[i], sizeof(obj[i]), "o%d", first + i);
		ev[i] = (struct web_audit_event){ .actor = "alice", .address = "192.0.2.10",
			.action = "camera.show", .object = obj[i], .detail = "{\"n\":1}",
			.outcome = (first + i) % 3 == 0 ? WEB_AUDIT_DENIED : WEB_AUDIT_OK };
	}
	rc = web_audit_append(db, ev, (size_t)n, s);
	free(obj);
	free(ev);
	return rc;
}

static nvr_err
verify(struct web_audit_report *rep)
{
	return web_audit_verify(db, cert, rep);
}

/* Verification fails at row bad, and says so with these words. */
static void
assert_fails(int64_t bad, const char *words)
{
	struct web_audit_report rep;

	ck_assert_int_eq(verify(&rep), NVR_ERR_INVAL);
	ck_assert_msg(rep.first_bad == bad, "first bad %lld, not %lld: %s", (long long)rep.first_bad,
	    (long long)bad, rep.why);
	ck_assert_msg(strstr(rep.why, words) != NULL, "why \"%s\" lacks \"%s\"", rep.why, words);
}

static void
assert_verifies(int64_t rows, int64_t checkpoints)
{
	struct web_audit_report rep;

	ck_assert_msg(verify(&rep) == NVR_OK, "verify: %s", rep.why);
	ck_assert_int_eq(rep.rows, rows);
	ck_assert_int_eq(rep.checkpoints, checkpoints);
	ck_assert_int_eq(rep.first_bad, 0);
	ck_assert_str_eq(rep.why, "");
}

/* The owner can do what the trigger refuses to everyone else. */
static void
disable_triggers(void)
{
	pgtest_query(db, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only");
	pgtest_query(db, "ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only");
}

/* ---- the encoding, again, from docs/FORMAT.md --------------------------------------- */

static size_t
put(uint8_t *buf, size_t off, const char *s, size_t len)
{
	buf[off] = (uint8_t)(len >> 24);
	buf[off + 1] = (uint8_t)(len >> 16);
	buf[off + 2] = (uint8_t)(len >> 8);
	buf[off + 3] = (uint8_t)len;
	memcpy(buf + off + 4, s, len);
	return off + 4 + len;
}

/* f: id, at, actor, address, action, object, outcome, detail (text). */
static size_t
encode_row(const char *const f[8], const uint8_t prev[32], uint8_t *buf, size_t size)
{
	static const uint8_t tag[12] = { 'n', 'v', 'r', '-', 'a', 'u', 'd', 'i', 't', '-', 'v', '1' };
	size_t off = sizeof(tag), need = off + 32;

	for (int i = 0; i < 8; i++)
		need += 4 + strlen(f[i]);
	ck_assert_uint_le(need, size);
	memcpy(buf, tag, off);
	for (int i = 0; i < 8; i++)
		off = put(buf, off, f[i], strlen(f[i]));
	memcpy(buf + off, prev, 32);
	return off + 32;
}

static void
hash_row(const char *const f[8], const uint8_t prev[32], uint8_t out[32])
{
	uint8_t buf[20000];
	size_t len = encode_row(f, prev, buf, sizeof(buf));

	ck_assert_int_eq(EVP_Digest(buf, len, out, NULL, EVP_sha256(), NULL), 1);
}

#define ROW_COLUMNS                                                                                        \
	"id::text AS id_text, ((extract(epoch FROM at) * 1000000)::bigint)::text, actor, address,"  \
	" action, object, outcome, detail, encode(prev_sha256, 'hex'), encode(sha256, 'hex')"

/* Inserts a row with the given prev and its hash computed here; id and at
 * are text. Returns nothing: it must work. */
static void
insert_row(const char *const f[8], const uint8_t prev[32], uint8_t sha[32])
{
	char ph[65], sh[65];
	const char *v[10];
	PGresult *r;

	hash_row(f, prev, sha);
	nvr_hex_encode(prev, 32, ph);
	nvr_hex_encode(sha, 32, sh);
	for (int i = 0; i < 8; i++)
		v[i] = f[i];
	v[8] = ph;
	v[9] = sh;
	r = PQexecParams(db, "INSERT INTO audit_log VALUES ($1,"
			     " 'epoch'::timestamptz + $2::bigint * interval '1 microsecond', $3, $4, $5, $6,"
			     " $7, $8, decode($9, 'hex'), decode($10, 'hex'))", 10, NULL, v, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "insert: %s", PQresultErrorMessage(r));
	PQclear(r);
}

/* Recomputes, here, every row's hash from row `from` on, as a forger
 * would after editing a row, and rewrites prev_sha256 and sha256. */
static void
rewrite_chain_from(int64_t from)
{
	char sql[256], sh[65], ph[65], id[24];
	const char *v[3] = { ph, sh, id };
	uint8_t prev[32], sha[32];
	PGresult *r, *u;

	snprintf(sql, sizeof(sql), "SELECT " ROW_COLUMNS " FROM audit_log WHERE id >= %lld - 1 ORDER BY id",
	    (long long)from);
	r = PQexec(db, sql);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_int_eq(nvr_hex_decode(PQgetvalue(r, 0, 9), prev, 32), NVR_OK);
	pgtest_query(db, "BEGIN");
	for (int i = 1; i < PQntuples(r); i++) {
		const char *f[8];

		for (int k = 0; k < 8; k++)
			f[k] = PQgetvalue(r, i, k);
		hash_row(f, prev, sha);
		nvr_hex_encode(prev, 32, ph);
		nvr_hex_encode(sha, 32, sh);
		snprintf(id, sizeof(id), "%s", f[0]);
		u = PQexecParams(db, "UPDATE audit_log SET prev_sha256 = decode($1, 'hex'),"
				     " sha256 = decode($2, 'hex') WHERE id = $3", 3, NULL, v, NULL, NULL, 0);
		ck_assert_int_eq(PQresultStatus(u), PGRES_COMMAND_OK);
		PQclear(u);
		memcpy(prev, sha, 32);
	}
	pgtest_query(db, "COMMIT");
	PQclear(r);
}

/* Every stored hash equals the one computed here from the stored row. */
static void
assert_hashes_independent(void)
{
	PGresult *r = PQexec(db, "SELECT " ROW_COLUMNS " FROM audit_log ORDER BY id");
	uint8_t prev[32] = { 0 }, sha[32], stored[32];

	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	for (int i = 0; i < PQntuples(r); i++) {
		const char *f[8];

		for (int k = 0; k < 8; k++)
			f[k] = PQgetvalue(r, i, k);
		ck_assert_int_eq(nvr_hex_decode(PQgetvalue(r, i, 9), stored, 32), NVR_OK);
		hash_row(f, prev, sha);
		ck_assert_msg(memcmp(sha, stored, 32) == 0, "row %s: stored hash is not the documented"
		    " encoding's", f[0]);
		memcpy(prev, sha, 32);
	}
	PQclear(r);
}

/* ---- appending and verifying ------------------------------------------------------------ */

START_TEST(batches_verify)
{
	struct web_audit_event none = { 0 };

	ck_assert_int_eq(web_audit_append(db, NULL, 0, signer), NVR_OK);
	assert_verifies(0, 0);
	ck_assert_int_eq(append(1, 1, NULL), NVR_OK);
	ck_assert_int_eq(append(2, 7, signer), NVR_OK);
	ck_assert_int_eq(append(9, 600, NULL), NVR_OK); /* more than one INSERT */
	ck_assert_int_eq(web_audit_append(db, &none, 1, NULL), NVR_OK);
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
	assert_verifies(609, 0);
	ck_assert_int_eq(count("SELECT count(DISTINCT object) FROM audit_log WHERE object LIKE 'o%'"), 608);
	ck_assert_int_eq(count("SELECT count(*) FROM audit_log WHERE outcome = 'denied'"), 202);
	ck_assert_str_eq(pgtest_query(db, "SELECT actor || '|' || object || '|' || outcome || '|' || detail"
					  " FROM audit_log WHERE id = 609"), "||ok|{}");
	/* within the last minute, to the microsecond as hashed */
	ck_assert_int_eq(count("SELECT count(*) FROM audit_log WHERE at > now() - interval '1 minute'"), 609);
	assert_hashes_independent();
}
END_TEST

START_TEST(fields_sanitised)
{
	char *actor = malloc(4001), *object = malloc(3001), *big = malloc(12001), *ctl = malloc(9003);
	struct web_audit_event ev[4];
	json_error_t je;
	json_t *o;
	PGresult *r;

	actor[0] = 'a'; /* then é, é ...: a cut at 1024 bytes would split one */
	for (size_t i = 1; i + 1 < 4000; i += 2) {
		actor[i] = '\xc3';
		actor[i + 1] = '\xa9';
	}
	actor[3999] = '\0';
	memset(object, 'x', 3000);
	object[3000] = '\0';
	big[0] = '{';
	memset(big + 1, 'y', 11999);
	big[11999] = '}';
	big[12000] = '\0';
	ctl[0] = '[';
	memset(ctl + 1, '\x01', 9001); /* 6 bytes each once escaped */
	ctl[9002] = '\0';
	ev[0] = (struct web_audit_event){ .actor = actor, .address = "10.0.0.1\xff\xfe",
		.action = "a\xed\xa0\x80", .object = object, .outcome = WEB_AUDIT_FAILED,
		.detail = "not json" };
	ev[1] = (struct web_audit_event){ .actor = "bob", .detail = big, .outcome = WEB_AUDIT_DENIED };
	ev[2] = (struct web_audit_event){ .actor = "bob", .detail = ctl };
	ev[3] = (struct web_audit_event){ .actor = "bob", .detail = "  {\"ok\":true}\n" };
	ck_assert_int_eq(web_audit_append(db, ev, 4, signer), NVR_OK);
	ck_assert_int_eq(count("SELECT octet_length(actor) FROM audit_log WHERE id = 1"), 1023);
	ck_assert_int_eq(count("SELECT octet_length(object) FROM audit_log WHERE id = 1"), 1024);
	ck_assert_str_eq(pgtest_query(db, "SELECT address || '|' || action || '|' || outcome || '|' || detail"
					  " FROM audit_log WHERE id = 1"),
	    "10.0.0.1\xef\xbf\xbd\xef\xbf\xbd|a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|failed|"
	    "{\"invalid_detail\":\"not json\"}");
	ck_assert_str_eq(pgtest_query(db, "SELECT detail FROM audit_log WHERE id = 4"), "  {\"ok\":true}\n");
	r = PQexec(db, "SELECT detail FROM audit_log WHERE id IN (2, 3) ORDER BY id");
	ck_assert_int_eq(PQntuples(r), 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_le(strlen(PQgetvalue(r, i, 0)), WEB_AUDIT_DETAIL_MAX);
		/* cut no more than needed */
		ck_assert_uint_gt(strlen(PQgetvalue(r, i, 0)), WEB_AUDIT_DETAIL_MAX - 16);
		ck_assert_ptr_nonnull(o = json_loads(PQgetvalue(r, i, 0), 0, &je));
		ck_assert(json_is_string(json_object_get(o, i == 0 ? "truncated_detail" : "invalid_detail")));
		json_decref(o);
	}
	PQclear(r);
	assert_verifies(4, 0);
	assert_hashes_independent();
	free(actor);
	free(object);
	free(big);
	free(ctl);
}
END_TEST

struct appender {
	int first;
	nvr_err rc;
};

static void *
append_concurrently(void *arg)
{
	struct appender *x = arg;
	PGconn *c = pgtest_connect(conninfo);
	struct web_audit_event ev[10];
	char obj[10][24];

	for (int b = 0; b < 50 && x->rc == NVR_OK; b++) {
		for (int i = 0; i < 10; i++) {
			snprintf(obj[i], sizeof(obj[i]), "o%d", x->first + b * 10 + i);
			ev[i] = (struct web_audit_event){ .actor = "nvrctl:root", .address = "local",
				.action = "test.event", .object = obj[i] };
		}
		x->rc = web_audit_append(c, ev, 10, signer);
	}
	PQfinish(c);
	return NULL;
}

/* nvrd and nvrctl append at once: the lock keeps them from numbering rows
 * from the same head. */
START_TEST(concurrent_appenders)
{
	struct appender x[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		x[i] = (struct appender){ .first = i * 1000, .rc = NVR_OK };
		ck_assert_int_eq(pthread_create(&t[i], NULL, append_concurrently, &x[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(x[i].rc, NVR_OK);
	}
	ck_assert_int_eq(count("SELECT count(DISTINCT object) FROM audit_log"), 2000);
	assert_verifies(2000, 2);
}
END_TEST

/* ---- the example of docs/FORMAT.md section 11 ------------------------------------------ */

static char *
read_format_md(void)
{
	const char *top = getenv("top_srcdir");
	char path[PATH_MAX];
	FILE *f;
	char *text;
	long len;

	ck_assert_msg(top != NULL, "top_srcdir is not set: run through make check");
	snprintf(path, sizeof(path), "%s/docs/FORMAT.md", top);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	ck_assert_ptr_nonnull(text = calloc(1, (size_t)len + 1));
	ck_assert_uint_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

/* The fenced block after the line that holds lead (in section 11), as a
 * new string without its ``` lines. */
static char *
block_after(const char *doc, const char *lead)
{
	const char *s = strstr(doc, "## 11. Audit chain"), *b, *e;

	ck_assert_ptr_nonnull(s);
	ck_assert_msg((s = strstr(s, lead)) != NULL, "docs/FORMAT.md lacks \"%s\"", lead);
	ck_assert_ptr_nonnull(b = strstr(s, "```"));
	ck_assert_ptr_nonnull(b = strchr(b, '\n'));
	ck_assert_ptr_nonnull(e = strstr(++b, "```"));
	return strndup(b, (size_t)(e - b));
}

/* The block's hex, '#' comments and blanks left out. */
static size_t
hex_bytes(const char *block, uint8_t *out, size_t max)
{
	char hex[4096];
	size_t n = 0;
	bool comment = false;

	for (const char *p = block; *p != '\0'; p++) {
		if (*p == '\n')
			comment = false;
		else if (*p == '#')
			comment = true;
		else if (!comment && *p != ' ' && n < sizeof(hex) - 1)
			hex[n++] = *p;
	}
	hex[n] = '\0';
	ck_assert_uint_le(n / 2, max);
	ck_assert_int_eq(nvr_hex_decode(hex, out, n / 2), NVR_OK);
	return n / 2;
}

static const char *const example[8] = { "1", "1795323600250000", "alice", "192.0.2.10",
	"auth.login", "", "ok", "{\"method\":\"session\"}" };

START_TEST(documented_example)
{
	char *doc = read_format_md();
	char *enc = block_after(doc, "Its encoding, 140 bytes");
	char *hash = block_after(doc, "Its SHA-256, the row's");
	char *query = block_after(doc, "PostgreSQL alone can recompute");
	uint8_t bytes[512], mine[512], zero[32] = { 0 }, sha[32], doc_sha[32];
	size_t n = hex_bytes(enc, bytes, sizeof(bytes));

	/* the document's bytes hash to the document's hash */
	ck_assert_uint_eq(n, 140);
	hash[strcspn(hash, "\n")] = '\0';
	ck_assert_int_eq(nvr_hex_decode(hash, doc_sha, 32), NVR_OK);
	ck_assert_int_eq(EVP_Digest(bytes, n, sha, NULL, EVP_sha256(), NULL), 1);
	ck_assert_mem_eq(sha, doc_sha, 32);
	/* the document's bytes are the documented encoding of the row */
	ck_assert_uint_eq(encode_row(example, zero, mine, sizeof(mine)), n);
	ck_assert_mem_eq(mine, bytes, n);
	/* the recorder computes the same hash: it verifies the row */
	insert_row(example, zero, sha);
	ck_assert_str_eq(pgtest_query(db, "SELECT (at AT TIME ZONE 'UTC')::text FROM audit_log"),
	    "2026-11-22 05:00:00.25");
	assert_verifies(1, 0);
	ck_assert_int_eq(append(2, 3, NULL), NVR_OK);
	assert_verifies(4, 0);
	/* the document's query finds nothing in a whole log, and the edit */
	ck_assert_str_eq(pgtest_query(db, query), "");
	disable_triggers();
	pgtest_query(db, "UPDATE audit_log SET actor = 'mallory' WHERE id = 3");
	ck_assert_str_eq(pgtest_query(db, query), "3");
	free(doc);
	free(enc);
	free(hash);
	free(query);
}
END_TEST

/* ---- checkpoints ------------------------------------------------------------------------ */

START_TEST(checkpoint_when_crossing_1000)
{
	char text[128], hex[65], *h, *sighex;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	int len;

	ck_assert_int_eq(append(1, 999, signer), NVR_OK);
	ck_assert_int_eq(count("SELECT count(*) FROM audit_checkpoints"), 0);
	ck_assert_int_eq(append(1000, 2, signer), NVR_OK);
	ck_assert_int_eq(count("SELECT count(*) FROM audit_checkpoints"), 1);
	ck_assert_int_eq(count("SELECT audit_id FROM audit_checkpoints"), 1001);
	ck_assert_int_eq(append(1002, 1001, signer), NVR_OK); /* 1002 to 2002 in one: crosses 2000 */
	ck_assert_int_eq(count("SELECT max(audit_id) FROM audit_checkpoints"), 2002);
	ck_assert_int_eq(append(2003, 5, NULL), NVR_OK); /* no signer, no checkpoint */
	assert_verifies(2007, 2);
	/* the signature is over the documented text, with the certificate's fingerprint */
	h = strdup(pgtest_query(db, "SELECT encode(sha256, 'hex') FROM audit_log WHERE id = 1001"));
	ck_assert_str_eq(pgtest_query(db, "SELECT encode(sha256, 'hex') FROM audit_checkpoints"
					  " WHERE audit_id = 1001"), h);
	len = snprintf(text, sizeof(text), "nvr-audit-checkpoint-v1\n1001\n%s\n", h);
	sighex = strdup(pgtest_query(db, "SELECT encode(signature, 'hex') FROM audit_checkpoints"
					 " WHERE audit_id = 1001"));
	siglen = strlen(sighex) / 2;
	ck_assert_ptr_nonnull(sig = malloc(siglen));
	ck_assert_int_eq(nvr_hex_decode(sighex, sig, siglen), NVR_OK);
	ck_assert_int_eq(stg_sig_verify(cert, text, (size_t)len, sig, siglen), NVR_OK);
	nvr_hex_encode(stg_signer_fingerprint(signer), 32, hex);
	ck_assert_str_eq(pgtest_query(db, "SELECT encode(cert_sha256, 'hex') FROM audit_checkpoints"
					  " WHERE audit_id = 1001"), hex);
	free(sig);
	free(sighex);
	free(h);
}
END_TEST

/* ---- append-only, and tampering by the owner ------------------------------------------------- */

/* The statement fails with SQLSTATE 42501 (the trigger's). */
static void
assert_refused(const char *sql)
{
	PGresult *r = PQexec(db, sql);

	ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	ck_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
	ck_assert_ptr_nonnull(strstr(PQresultErrorMessage(r), "append-only"));
	PQclear(r);
}

START_TEST(append_only_trigger)
{
	ck_assert_int_eq(append(1, 1001, signer), NVR_OK);
	assert_refused("UPDATE audit_log SET detail = '{}' WHERE id = 3");
	assert_refused("DELETE FROM audit_log WHERE id = 3");
	assert_refused("TRUNCATE audit_log CASCADE");
	assert_refused("UPDATE audit_checkpoints SET sha256 = sha256");
	assert_refused("DELETE FROM audit_checkpoints");
	assert_refused("TRUNCATE audit_checkpoints");
	ck_assert_int_eq(count("SELECT count(*) FROM audit_log"), 1001);
	assert_verifies(1001, 1);
}
END_TEST

START_TEST(edited_row_named)
{
	ck_assert_int_eq(append(1, 10, signer), NVR_OK);
	disable_triggers();
	pgtest_query(db, "UPDATE audit_log SET detail = '{\"n\":2}' WHERE id = 7");
	assert_fails(7, "row 7 was edited: its hash does not match its contents");
}
END_TEST

START_TEST(edited_time_named)
{
	ck_assert_int_eq(append(1, 10, signer), NVR_OK);
	disable_triggers();
	pgtest_query(db, "UPDATE audit_log SET at = at + interval '1 microsecond' WHERE id = 4");
	assert_fails(4, "row 4 was edited");
}
END_TEST

START_TEST(deleted_rows_named)
{
	ck_assert_int_eq(append(1, 10, signer), NVR_OK);
	disable_triggers();
	pgtest_query(db, "DELETE FROM audit_log WHERE id = 5");
	assert_fails(5, "row 5 is missing: row 6 comes after row 4 (it was deleted)");
	pgtest_query(db, "DELETE FROM audit_log WHERE id IN (6, 7)");
	assert_fails(5, "rows 5 to 7 are missing");
	pgtest_query(db, "DELETE FROM audit_log WHERE id = 1");
	assert_fails(1, "row 1 is missing: the log starts at row 2");
}
END_TEST

START_TEST(forged_rows_named)
{
	const char *f[8] = { "11", "1795323600250000", "mallory", "local", "user.add", "mallory", "ok",
		"{}" };
	uint8_t prev[32], sha[32];

	ck_assert_int_eq(append(1, 10, signer), NVR_OK);
	/* a row appended by hand, hashed right, but not linked to row 10 */
	memset(prev, 0x5a, 32);
	insert_row(f, prev, sha);
	assert_fails(11, "row 11 does not follow row 10");
	/* a row added at the start would have to be row 0, or displace row 1 */
	disable_triggers();
	pgtest_query(db, "DELETE FROM audit_log WHERE id = 11");
	assert_verifies(10, 0);
	pgtest_query(db, "ALTER TABLE audit_log DROP CONSTRAINT audit_log_id_check");
	f[0] = "0";
	memset(prev, 0, 32);
	insert_row(f, prev, sha);
	assert_fails(0, "row 0 is out of place");
}
END_TEST

/* Row 4 deleted and inserted again with other contents, its own hash
 * right and linked to row 3: row 5 no longer follows it. */
START_TEST(replaced_row_named)
{
	const char *f[8];
	uint8_t prev[32], sha[32];
	char at[24];

	ck_assert_int_eq(append(1, 10, signer), NVR_OK);
	disable_triggers();
	ck_assert_int_eq(nvr_hex_decode(pgtest_query(db, "SELECT encode(sha256, 'hex') FROM audit_log"
							 " WHERE id = 3"), prev, 32), NVR_OK);
	snprintf(at, sizeof(at), "%s", pgtest_query(db, "SELECT (extract(epoch FROM at) * 1000000)::bigint"
							  " FROM audit_log WHERE id = 4"));
	pgtest_query(db, "DELETE FROM audit_log WHERE id = 4");
	f[0] = "4", f[1] = at, f[2] = "alice", f[3] = "192.0.2.10", f[4] = "camera.show", f[5] = "o4";
	f[6] = "ok", f[7] = "{\"n\":2}"; /* row 4 said {"n":1} */
	insert_row(f, prev, sha);
	assert_fails(5, "row 5 does not follow row 4");
}
END_TEST

/* A forger who edits a row and recomputes every hash after it still
 * cannot make the signed checkpoint agree, nor edit the checkpoint. */
START_TEST(rewritten_chain_caught_by_checkpoint)
{
	ck_assert_int_eq(append(1, 1001, signer), NVR_OK);
	ck_assert_int_eq(append(1002, 5, signer), NVR_OK);
	disable_triggers();
	pgtest_query(db, "UPDATE audit_log SET outcome = 'ok' WHERE id = 12");
	assert_fails(12, "row 12 was edited");
	rewrite_chain_from(12);
	assert_fails(1001, "the log was rewritten up to row 1001");
	pgtest_query(db, "UPDATE audit_checkpoints"
			 " SET sha256 = (SELECT sha256 FROM audit_log WHERE id = 1001)");
	assert_fails(1001, "the checkpoint at row 1001 does not verify");
}
END_TEST

START_TEST(checkpoint_by_another_key)
{
	ck_assert_int_eq(append(1, 1001, other_signer), NVR_OK);
	assert_fails(1001, "the checkpoint at row 1001 was signed by another key");
}
END_TEST

/* The newest rows deleted, with a checkpoint that signs them left in
 * place (its foreign key dropped first). */
START_TEST(deleted_tail_named)
{
	ck_assert_int_eq(append(1, 1001, signer), NVR_OK);
	disable_triggers();
	pgtest_query(db, "ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_audit_id_fkey");
	pgtest_query(db, "DELETE FROM audit_log WHERE id = 1001");
	assert_fails(1001, "row 1001 is missing: a checkpoint signs it, but the log ends at row 1000");
	pgtest_query(db, "DELETE FROM audit_log WHERE id >= 990");
	assert_fails(990, "rows 990 to 1001 are missing");
}
END_TEST

/* ---- the writer thread --------------------------------------------------------------------- */

struct recorder {
	struct web_audit *a;
	int thread;
};

static void *
record_many(void *arg)
{
	struct recorder *r = arg;
	struct web_audit_event ev = { .actor = "nvrd", .address = "local", .action = "test.event" };
	char obj[32];

	ev.object = obj;
	for (int i = 0; i < 1250; i++) {
		snprintf(obj, sizeof(obj), "t%d-%d", r->thread, i);
		web_audit_record(r->a, &ev);
	}
	return NULL;
}

START_TEST(writer_many_threads)
{
	struct web_audit *a = NULL;
	struct recorder r[4];
	pthread_t t[4];
	uint64_t written = 0, lost = 0;
	struct web_audit_report rep;

	ck_assert_int_eq(web_audit_start(conninfo, signer, &a), NVR_OK);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct recorder){ .a = a, .thread = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, record_many, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(web_audit_flush(a, 30000), NVR_OK);
	web_audit_counts(a, &written, &lost);
	ck_assert_uint_eq(written, 5000);
	ck_assert_uint_eq(lost, 0);
	ck_assert_int_eq(count("SELECT count(DISTINCT object) FROM audit_log"), 5000);
	web_audit_stop(a);
	ck_assert_int_eq(verify(&rep), NVR_OK);
	ck_assert_int_eq(rep.rows, 5000);
	/* one per thousand crossed; the one at stop signs the head, 5000, again or anew */
	ck_assert_int_ge(rep.checkpoints, 5);
	ck_assert_int_eq(count("SELECT max(audit_id) FROM audit_checkpoints"), 5000);
}
END_TEST

START_TEST(writer_survives_lost_connection)
{
	struct web_audit_event ev = { .actor = "nvrd", .action = "test.event", .outcome = WEB_AUDIT_OK };
	struct web_audit *a = NULL;
	uint64_t written = 0, lost = 0;

	ck_assert_int_eq(web_audit_start(conninfo, signer, &a), NVR_OK);
	for (int i = 0; i < 10; i++)
		web_audit_record(a, &ev);
	ck_assert_int_eq(web_audit_flush(a, 10000), NVR_OK);
	ck_assert_int_eq(count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
			       " WHERE datname = current_database() AND pid <> pg_backend_pid()"), 1);
	for (int i = 0; i < 10; i++)
		web_audit_record(a, &ev);
	ck_assert_int_eq(web_audit_flush(a, 15000), NVR_OK);
	web_audit_counts(a, &written, &lost);
	ck_assert_uint_eq(written, 20);
	ck_assert_uint_eq(lost, 0);
	web_audit_stop(a);
	assert_verifies(20, 1);
}
END_TEST

/* A LATIN1 database cannot hold "€": PostgreSQL refuses that event's data
 * (SQLSTATE 22P05). The writer drops it alone, and says so; the events
 * around it are written. */
START_TEST(writer_drops_only_refused_event)
{
	struct web_audit_event ev = { .actor = "nvrd", .action = "test.event", .object = "caf\xc3\xa9" };
	struct web_audit_event euro = { .actor = "nvrd", .action = "test.event", .object = "\xe2\x82\xac" };
	char admin[PATH_MAX + 64], info[PATH_MAX + 64];
	struct stg_schema_result sr;
	struct web_audit *a = NULL;
	uint64_t written = 0, lost = 0;
	PGconn *c;

	snprintf(admin, sizeof(admin), "host=%s user=nvr dbname=postgres", pg.host);
	c = pgtest_connect(admin);
	pgtest_query(c, "CREATE DATABASE latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'"
			" TEMPLATE template0");
	PQfinish(c);
	snprintf(info, sizeof(info), "host=%s user=nvr dbname=latin1", pg.host);
	PQfinish(db);
	db = pgtest_connect(info);
	ck_assert_int_eq(stg_schema_migrate(db, &sr), NVR_OK);
	ck_assert_int_eq(web_audit_append(db, &euro, 1, signer), NVR_ERR_DB);
	ck_assert_int_eq(PQtransactionStatus(db), PQTRANS_IDLE);
	ck_assert_int_eq(web_audit_start(info, signer, &a), NVR_OK);
	web_audit_record(a, &ev);
	web_audit_record(a, &euro);
	web_audit_record(a, &ev);
	ck_assert_int_eq(web_audit_flush(a, 10000), NVR_OK);
	web_audit_counts(a, &written, &lost);
	ck_assert_uint_eq(written, 2);
	ck_assert_uint_eq(lost, 1);
	web_audit_stop(a);
	assert_verifies(2, 1); /* on a session whose client_encoding is LATIN1 */
	pgtest_query(db, "SET client_encoding TO 'UTF8'");
	ck_assert_str_eq(pgtest_query(db, "SELECT min(object) FROM audit_log"), "caf\xc3\xa9");
}
END_TEST

/* A conninfo to a socket folder where no server listens, inside the test
 * server's folder (removed with it, even if the test dies first). */
static void
nowhere(char *dir, size_t dirsize, char *info, size_t infosize)
{
	ck_assert_uint_lt(strlen(pg.dir), 60); /* a socket's path is at most 107 bytes */
	snprintf(dir, dirsize, "%.60s/nopg.XXXXXX", pg.dir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(info, infosize, "host=%s port=5999 dbname=x user=x", dir);
}

START_TEST(writer_queue_full_then_stop_unreachable)
{
	struct web_audit_event ev = { .actor = "nvrd", .action = "test.event" };
	char dir[80], info[PATH_MAX + 64];
	struct web_audit *a = NULL;
	uint64_t written = 1, lost = 0;
	int64_t t0;

	nowhere(dir, sizeof(dir), info, sizeof(info));
	ck_assert_int_eq(web_audit_start(info, signer, &a), NVR_OK);
	for (int i = 0; i < WEB_AUDIT_QUEUE_MAX + 100; i++)
		web_audit_record(a, &ev);
	ck_assert_int_eq(web_audit_flush(a, 300), NVR_ERR_DB_UNREACHABLE);
	web_audit_counts(a, &written, &lost);
	ck_assert_uint_eq(written, 0);
	ck_assert_uint_eq(lost, 100);
	t0 = nvr_monotonic_ms();
	web_audit_stop(a);
	ck_assert_int_lt(nvr_monotonic_ms() - t0, 8000);
	harness_rm_rf(dir);
}
END_TEST

/* A server that accepts connections and never answers: a connection
 * attempt begun before stop must not hold it. */
START_TEST(writer_stop_with_stalled_server)
{
	struct web_audit_event ev = { .actor = "nvrd", .action = "test.event" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[80], info[PATH_MAX + 64];
	struct web_audit *a = NULL;
	int ls;
	int64_t t0;

	nowhere(dir, sizeof(dir), info, sizeof(info));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.s.PGSQL.5999", dir);
	ck_assert_int_ge(ls = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(ls, 4), 0);
	ck_assert_int_eq(web_audit_start(info, signer, &a), NVR_OK);
	web_audit_record(a, &ev);
	ck_assert_int_eq(web_audit_flush(a, 500), NVR_ERR_DB_UNREACHABLE);
	t0 = nvr_monotonic_ms();
	web_audit_stop(a);
	ck_assert_int_lt(nvr_monotonic_ms() - t0, 8000);
	close(ls);
	harness_rm_rf(dir);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("audit");

	/* each stop test waits out the writer's 5 s stop deadline */
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_add_test(tc, batches_verify);
	tcase_add_test(tc, fields_sanitised);
	tcase_add_test(tc, concurrent_appenders);
	tcase_add_test(tc, documented_example);
	tcase_add_test(tc, checkpoint_when_crossing_1000);
	tcase_add_test(tc, append_only_trigger);
	tcase_add_test(tc, edited_row_named);
	tcase_add_test(tc, edited_time_named);
	tcase_add_test(tc, deleted_rows_named);
	tcase_add_test(tc, forged_rows_named);
	tcase_add_test(tc, replaced_row_named);
	tcase_add_test(tc, rewritten_chain_caught_by_checkpoint);
	tcase_add_test(tc, checkpoint_by_another_key);
	tcase_add_test(tc, deleted_tail_named);
	tcase_add_test(tc, writer_many_threads);
	tcase_add_test(tc, writer_survives_lost_connection);
	tcase_add_test(tc, writer_drops_only_refused_event);
	tcase_add_test(tc, writer_queue_full_then_stop_unreachable);
	tcase_add_test(tc, writer_stop_with_stalled_server);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

/*
 * audit_verify.c: the audit chain as docs/FORMAT.md "Audit chain" defines
 * it (the row hash and what a checkpoint signs), and web_audit_verify,
 * which walks the whole log and its checkpoints (nvrctl audit verify).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "nvrd/util.h"
#include "storage/db.h"
#include "storage/sign.h"
#include "web/audit.h"
#include "web/audit_priv.h"

#define VERIFY_ROWS 1000 /* rows (or checkpoints) per query in web_audit_verify */
#define STR_(x) #x
#define STR(x) STR_(x)

/* A whole decimal int64, as PostgreSQL prints one. */
bool
web_audit_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

/* ---- the row hash and checkpoint text (docs/FORMAT.md "Audit chain") ---------------- */

/* One field: its length as 4 bytes big-endian, then its bytes. */
static bool
put_field(EVP_MD_CTX *md, const void *p, size_t len)
{
	uint8_t be[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
		(uint8_t)len };

	return len <= UINT32_MAX && EVP_DigestUpdate(md, be, 4) == 1 &&
	    EVP_DigestUpdate(md, p, len) == 1;
}

/* SHA-256 of "nvr-audit-v1", id and at in decimal, the six text fields,
 * each field length-prefixed, then prev's 32 bytes. */
nvr_err
web_audit_row_hash(int64_t id, int64_t at_us, const char *const f[NF], const size_t len[NF],
    const uint8_t prev[32], uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char num[2][24];
	unsigned int n = 0;
	bool ok;

	snprintf(num[0], sizeof(num[0]), "%lld", (long long)id);
	snprintf(num[1], sizeof(num[1]), "%lld", (long long)at_us);
	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, ROW_TAG, strlen(ROW_TAG)) == 1 &&
	    put_field(md, num[0], strlen(num[0])) && put_field(md, num[1], strlen(num[1]));
	for (int i = 0; ok && i < NF; i++)
		ok = put_field(md, f[i], len[i]);
	ok = ok && EVP_DigestUpdate(md, prev, 32) == 1 && EVP_DigestFinal_ex(md, out, &n) == 1 &&
	    n == 32;
	EVP_MD_CTX_free(md);
	return ok ? NVR_OK : NVR_ERR_CRYPTO;
}

/* What a checkpoint signs: "nvr-audit-checkpoint-v1\n<id>\n<hex sha256>\n".
 * Returns its length. */
size_t
web_audit_checkpoint_text(int64_t id, const uint8_t sha[32], char *buf, size_t size)
{
	char hex[65];
	int n;

	nvr_hex_encode(sha, 32, hex);
	n = snprintf(buf, size, CHECKPOINT_TAG "\n%lld\n%s\n", (long long)id, hex);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* ---- verification ------------------------------------------------------------------ */

/* A walk over one table in key order, VERIFY_ROWS rows per query; the
 * query's first column is the key, $1 the last key seen, $2 the limit. */
struct cursor {
	const char *sql;
	PGresult *r;
	int i, n;
	int64_t key; /* of the row last returned */
	bool end;
};

static const char rows_sql[] =
	"SELECT id, (extract(epoch from at) * 1000000)::bigint, actor, address, action, object,"
	" outcome, detail, encode(prev_sha256, 'hex'), encode(sha256, 'hex')"
	" FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2";
static const char checkpoints_sql[] =
	"SELECT audit_id, encode(sha256, 'hex'), encode(cert_sha256, 'hex'), encode(signature, 'hex')"
	" FROM audit_checkpoints WHERE audit_id > $1 ORDER BY audit_id LIMIT $2";

/* The next row's index in cur->r, or -1 at the end. */
static nvr_err
cursor_next(PGconn *c, struct cursor *cur, int *row)
{
	char key[24];
	const char *v[2] = { key, STR(VERIFY_ROWS) };

	*row = -1;
	if (cur->r != NULL && cur->i == cur->n) {
		cur->end = cur->n < VERIFY_ROWS;
		PQclear(cur->r);
		cur->r = NULL;
	}
	if (cur->r == NULL) {
		if (cur->end)
			return NVR_OK;
		snprintf(key, sizeof(key), "%lld", (long long)cur->key);
		cur->r = PQexecParams(c, cur->sql, 2, NULL, v, NULL, NULL, 0);
		if (stg_db_check(c, cur->r, PGRES_TUPLES_OK, "audit: reading the log") != NVR_OK) {
			cur->r = NULL;
			return NVR_ERR_DB;
		}
		cur->i = 0;
		if ((cur->n = PQntuples(cur->r)) == 0) {
			cur->end = true;
			return NVR_OK;
		}
	}
	if (!web_audit_parse_i64(PQgetvalue(cur->r, cur->i, 0), &cur->key)) {
		nvr_log(NVR_LOG_ERROR, "audit: a malformed id in the log");
		return NVR_ERR_DB;
	}
	*row = cur->i++;
	return NVR_OK;
}

struct walk {
	PGconn *c;
	X509 *cert;
	uint8_t fp[32]; /* cert's SHA-256 */
	struct cursor rows, cps;
	int cp;         /* the next checkpoint: its index in cps.r, -1 when none is left */
	int64_t id;     /* the last row that held (0 before row 1) ... */
	uint8_t sha[32]; /* ... and its hash */
	struct web_audit_report *rep;
};

static nvr_err NVR_PRINTF(3, 4)
fail(struct web_audit_report *rep, int64_t id, const char *fmt, ...)
{
	va_list ap;

	rep->first_bad = id;
	va_start(ap, fmt);
	vsnprintf(rep->why, sizeof(rep->why), fmt, ap);
	va_end(ap);
	return NVR_ERR_INVAL;
}

/* Row id came where row w->id + 1 should have. */
static nvr_err
gap(struct walk *w, int64_t id)
{
	long long want = (long long)w->id + 1, got = (long long)id;

	if (id < want)
		return fail(w->rep, id, "row %lld is out of place: rows are numbered 1, 2, 3 ..."
		    " and it comes after row %lld", got, want - 1);
	if (want == 1 && got == 2)
		return fail(w->rep, 1, "row 1 is missing: the log starts at row 2 (it was deleted)");
	if (want == 1)
		return fail(w->rep, 1, "rows 1 to %lld are missing: the log starts at row %lld"
		    " (they were deleted)", got - 1, got);
	if (got == want + 1)
		return fail(w->rep, want, "row %lld is missing: row %lld comes after row %lld"
		    " (it was deleted)", want, got, want - 1);
	return fail(w->rep, want, "rows %lld to %lld are missing: row %lld comes after row %lld"
	    " (they were deleted)", want, got - 1, got, want - 1);
}

/* Row i of r: in sequence, linked to the row before, and unchanged. */
static nvr_err
check_row(struct walk *w, PGresult *r, int i)
{
	const char *f[NF];
	size_t len[NF];
	int64_t id, at;
	uint8_t prev[32], sha[32], want[32];

	if (!web_audit_parse_i64(PQgetvalue(r, i, 0), &id) || !web_audit_parse_i64(PQgetvalue(r, i, 1), &at) ||
	    nvr_hex_decode(PQgetvalue(r, i, 8), prev, 32) != NVR_OK ||
	    nvr_hex_decode(PQgetvalue(r, i, 9), sha, 32) != NVR_OK)
		return fail(w->rep, w->id + 1, "row %.24s is malformed", PQgetvalue(r, i, 0));
	if (id != w->id + 1)
		return gap(w, id);
	if (memcmp(prev, w->sha, 32) != 0 && id == 1)
		return fail(w->rep, 1, "row 1 does not start the chain: its prev_sha256 is not"
		    " 32 zero bytes (it was forged)");
	if (memcmp(prev, w->sha, 32) != 0)
		return fail(w->rep, id, "row %lld does not follow row %lld: its prev_sha256 is not"
		    " row %lld's hash (a row was inserted, replaced or deleted there)", (long long)id,
		    (long long)w->id, (long long)w->id);
	for (int k = 0; k < NF; k++) {
		f[k] = PQgetvalue(r, i, 2 + k);
		len[k] = (size_t)PQgetlength(r, i, 2 + k);
	}
	if (web_audit_row_hash(id, at, f, len, prev, want) != NVR_OK)
		return NVR_ERR_CRYPTO;
	if (memcmp(want, sha, 32) != 0)
		return fail(w->rep, id, "row %lld was edited: its hash does not match its contents",
		    (long long)id);
	w->id = id;
	memcpy(w->sha, sha, 32);
	w->rep->rows++;
	return NVR_OK;
}

/* Checkpoint i of r, which names row id, the last row checked: signed by
 * the trusted certificate, over that row's hash. */
static nvr_err
check_checkpoint(struct walk *w, PGresult *r, int i, int64_t id)
{
	const char *sighex = PQgetvalue(r, i, 3);
	size_t siglen = strlen(sighex) / 2, tlen;
	uint8_t sha[32], fp[32], sig[256];
	char text[128], hex[65];
	long long n = (long long)id;

	if (nvr_hex_decode(PQgetvalue(r, i, 1), sha, 32) != NVR_OK ||
	    nvr_hex_decode(PQgetvalue(r, i, 2), fp, 32) != NVR_OK || siglen > sizeof(sig) ||
	    nvr_hex_decode(sighex, sig, siglen) != NVR_OK)
		return fail(w->rep, id, "the checkpoint at row %lld is malformed", n);
	if (memcmp(fp, w->fp, 32) != 0) {
		nvr_hex_encode(fp, 32, hex);
		return fail(w->rep, id, "the checkpoint at row %lld was signed by another key"
		    " (certificate SHA-256 %s), not the trusted certificate", n, hex);
	}
	tlen = web_audit_checkpoint_text(id, sha, text, sizeof(text));
	if (stg_sig_verify(w->cert, text, tlen, sig, siglen) != NVR_OK) {
		ERR_clear_error();
		return fail(w->rep, id, "the checkpoint at row %lld does not verify: its signature is"
		    " not the trusted certificate's over its contents (it was forged or edited)", n);
	}
	if (memcmp(sha, w->sha, 32) != 0)
		return fail(w->rep, id, "the log was rewritten up to row %lld: that row's hash is not"
		    " the one its checkpoint signs (rows up to it were changed and the chain"
		    " recomputed)", n);
	w->rep->checkpoints++;
	return NVR_OK;
}

/* The checkpoints that name rows up to the last one checked. */
static nvr_err
checkpoints_upto(struct walk *w)
{
	nvr_err rc;

	while (w->cp >= 0 && w->cps.key <= w->id) {
		if (w->cps.key != w->id)
			return fail(w->rep, w->cps.key, "the checkpoint at row %lld is out of place",
			    (long long)w->cps.key);
		if ((rc = check_checkpoint(w, w->cps.r, w->cp, w->id)) != NVR_OK ||
		    (rc = cursor_next(w->c, &w->cps, &w->cp)) != NVR_OK)
			return rc;
	}
	return NVR_OK;
}

/* Checkpoints left after the last row sign rows that are gone: the
 * newest rows were deleted. */
static nvr_err
tail_missing(struct walk *w)
{
	long long from = (long long)w->id + 1, to = (long long)w->cps.key;

	if (from == to)
		return fail(w->rep, from, "row %lld is missing: a checkpoint signs it, but the log"
		    " ends at row %lld (the newest rows were deleted)", to, from - 1);
	return fail(w->rep, from, "rows %lld to %lld are missing: a checkpoint signs row %lld, but"
	    " the log ends at row %lld (the newest rows were deleted)", from, to, to, from - 1);
}

nvr_err
web_audit_verify(PGconn *c, X509 *cert, struct web_audit_report *report)
{
	struct walk w = { .c = c, .cert = cert, .rep = report };
	nvr_err rc;
	int row = -1;

	memset(report, 0, sizeof(*report));
	w.rows = (struct cursor){ .sql = rows_sql, .key = INT64_MIN };
	w.cps = (struct cursor){ .sql = checkpoints_sql, .key = INT64_MIN };
	if (cert == NULL || stg_cert_fingerprint(cert, w.fp) != NVR_OK)
		return fail(report, 0, "no certificate to check the checkpoints with");
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		return fail(report, 0, "asked to verify inside a transaction (a bug)");
	/* one snapshot: rows and checkpoints appended meanwhile are not half-seen */
	rc = stg_db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
			    " SET LOCAL client_encoding TO 'UTF8'", "audit: starting to read the log");
	if (rc != NVR_OK)
		return rc;
	rc = cursor_next(c, &w.cps, &w.cp);
	while (rc == NVR_OK && (rc = cursor_next(c, &w.rows, &row)) == NVR_OK && row >= 0)
		if ((rc = check_row(&w, w.rows.r, row)) == NVR_OK)
			rc = checkpoints_upto(&w);
	if (rc == NVR_OK && w.cp >= 0)
		rc = tail_missing(&w);
	PQclear(w.rows.r);
	PQclear(w.cps.r);
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

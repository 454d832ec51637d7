/*
 * export_write.c: writes an export bundle (export.h, docs/FORMAT.md
 * section 12) as one pass over the segment files: each block read is
 * hashed and written once, so a bundle costs one read of the recording
 * and one write, and never more memory than one block and the lists.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "storage/export_priv.h"
#include "storage/fileio.h"
#include "storage/manifest.h"
#include "storage/sign.h"
#include "storage/tar.h"

#define XW_BLOCK ((size_t)1 << 20)
#define EXPORT_FORMAT "nvr-export-manifest/1"
#define REL_MAX 600 /* a member's path: an index path (512) with another suffix */

/* The bundle being written. */
struct xw {
	int fd;
	char top[64];      /* "nvr-export-<id>" */
	int64_t mtime;     /* of every member: when the export was made */
	uint8_t *buf;      /* XW_BLOCK bytes */
	EVP_MD_CTX *md;
	struct stg_export_progress *p;
	json_t *members;   /* {path, bytes, sha256} of every listed member */
	char *sums;        /* SHA256SUMS, growing */
	size_t sums_len, sums_cap;
	bool allow_damaged; /* the request's: a damaged segment is kept (and said), not refused */
	json_t *damaged;   /* {camera, stream, seq, segment, why} of each damaged segment kept */
	char *why;
	size_t whysize;
};

/* One stream's segments in the bundle, summed for the export manifest. */
struct xstream {
	const struct xseg *first;
	uint64_t segments, last_seq, packets, forged, lost;
	int64_t from_ns, to_ns;
	json_t *gaps, *damaged;
};

static nvr_err __attribute__((format(printf, 3, 4)))
xw_fail(struct xw *w, nvr_err rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->why, w->whysize, fmt, ap);
	va_end(ap);
	return rc;
}

static nvr_err
xw_put(struct xw *w, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return xw_fail(w, n < 0 && errno != ENOSPC ? NVR_ERR_IO : NVR_ERR_NOSPACE,
			    "cannot write the bundle: %s", n < 0 ? strerror(errno) : "short write");
		p += n;
		len -= (size_t)n;
	}
	return NVR_OK;
}

static nvr_err
member_begin(struct xw *w, const char *rel, uint64_t size)
{
	uint8_t hdr[STG_TAR_BLOCK];
	char path[STG_TAR_PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", w->top, rel) >= sizeof(path) ||
	    stg_tar_header(hdr, path, size, w->mtime) != NVR_OK)
		return xw_fail(w, NVR_ERR_INVAL, "member %s cannot be named in a tar file", rel);
	if (EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1)
		return xw_fail(w, NVR_ERR_CRYPTO, "OpenSSL cannot start a SHA-256");
	return xw_put(w, hdr, sizeof(hdr));
}

static nvr_err
sums_add(struct xw *w, const char *hex, const char *rel)
{
	size_t need = 64 + 2 + strlen(rel) + 2;

	if (w->sums_len + need > w->sums_cap) {
		size_t cap = (w->sums_cap + need) * 2;
		char *s = realloc(w->sums, cap);
		if (s == NULL)
			return NVR_ERR_NOMEM;
		w->sums = s;
		w->sums_cap = cap;
	}
	w->sums_len += (size_t)snprintf(w->sums + w->sums_len, w->sums_cap - w->sums_len, "%s  %s\n", hex, rel);
	return NVR_OK;
}

/* Pads the member to its block, and lists it (when listed) in members and
 * SHA256SUMS; its SHA-256 goes to sha (may be NULL). */
static nvr_err
member_end(struct xw *w, const char *rel, uint64_t size, bool listed, uint8_t sha[32])
{
	static const uint8_t zeros[STG_TAR_BLOCK];
	uint8_t d[32];
	char hex[65];
	json_t *m;
	nvr_err rc;

	if (EVP_DigestFinal_ex(w->md, d, NULL) != 1)
		return xw_fail(w, NVR_ERR_CRYPTO, "OpenSSL cannot finish a SHA-256");
	if (sha != NULL)
		memcpy(sha, d, 32);
	if ((rc = xw_put(w, zeros, stg_tar_padding(size))) != NVR_OK || !listed)
		return rc;
	nvr_hex_encode(d, 32, hex);
	m = json_pack("{s:s, s:I, s:s}", "path", rel, "bytes", (json_int_t)size, "sha256", hex);
	if (m == NULL || json_array_append_new(w->members, m) != 0 || sums_add(w, hex, rel) != NVR_OK)
		return xw_fail(w, NVR_ERR_NOMEM, "out of memory");
	return NVR_OK;
}

static nvr_err
put_mem(struct xw *w, const char *rel, const void *data, size_t len, bool listed, uint8_t sha[32])
{
	nvr_err rc;

	if ((rc = member_begin(w, rel, len)) != NVR_OK)
		return rc;
	if (EVP_DigestUpdate(w->md, data, len) != 1)
		return xw_fail(w, NVR_ERR_CRYPTO, "OpenSSL cannot hash");
	if ((rc = xw_put(w, data, len)) != NVR_OK)
		return rc;
	return member_end(w, rel, len, listed, sha);
}

/* Copies a file of the storage root into the bundle, hashing it on the
 * way; *size is its size. counted: its bytes are the progress's. */
static nvr_err
put_file(struct xw *w, const char *root, const char *rel, bool counted, uint8_t sha[32], uint64_t *size)
{
	char path[PATH_MAX + REL_MAX];
	struct stat st;
	uint64_t left;
	nvr_err rc = NVR_ERR_IO;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = xw_fail(w, NVR_ERR_IO, "cannot read %s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	*size = left = (uint64_t)st.st_size;
	if ((rc = member_begin(w, rel, left)) != NVR_OK)
		goto out;
	while (left > 0) {
		ssize_t n = read(fd, w->buf, left < XW_BLOCK ? (size_t)left : XW_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = xw_fail(w, NVR_ERR_IO, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "it shrank");
			goto out;
		}
		if (EVP_DigestUpdate(w->md, w->buf, (size_t)n) != 1 || (rc = xw_put(w, w->buf, (size_t)n)) != NVR_OK) {
			rc = rc != NVR_OK ? rc : xw_fail(w, NVR_ERR_CRYPTO, "OpenSSL cannot hash");
			goto out;
		}
		left -= (uint64_t)n;
		if (counted && w->p != NULL)
			atomic_fetch_add(&w->p->done, (uint64_t)n);
		if (w->p != NULL && atomic_load(&w->p->cancel)) {
			rc = xw_fail(w, NVR_ERR_INTERRUPTED, "cancelled: the recorder is stopping");
			goto out;
		}
	}
	rc = member_end(w, rel, *size, true, sha);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* A small file (a manifest or signature, at most max bytes) into a new
 * buffer the caller frees; why says what failed. */
static nvr_err
read_small(struct xw *w, const char *path, size_t max, char **out, size_t *len)
{
	nvr_err rc = stg_read_small(path, max, O_NOFOLLOW, out, len);

	if (rc == NVR_OK || rc == NVR_ERR_NOMEM)
		return rc == NVR_OK ? rc : xw_fail(w, rc, "out of memory");
	return xw_fail(w, NVR_ERR_IO, "cannot read %s: %s", path,
	    rc == NVR_ERR_TOOBIG ? "larger than a manifest may be" : strerror(errno));
}

/* ---- one stream's summary -------------------------------------------------- */

static void
stream_start(struct xstream *s, const struct xseg *g)
{
	json_decref(s->gaps);
	json_decref(s->damaged);
	memset(s, 0, sizeof(*s));
	s->first = g;
	s->gaps = json_array();
	s->damaged = json_array();
}

static void
stream_add(struct xstream *s, const struct xseg *g, const struct stg_manifest *m, bool damaged)
{
	if (s->segments > 0 && g->seq != s->last_seq + 1)
		json_array_append_new(s->gaps, json_pack("{s:I, s:I}", "after_seq", (json_int_t)s->last_seq,
		    "before_seq", (json_int_t)g->seq));
	if (damaged)
		json_array_append_new(s->damaged, json_integer((json_int_t)g->seq));
	if (s->segments == 0 || m->start_ns < s->from_ns)
		s->from_ns = m->start_ns;
	if (s->segments == 0 || m->end_ns > s->to_ns)
		s->to_ns = m->end_ns;
	s->segments++;
	s->last_seq = g->seq;
	s->packets += m->packets;
	s->forged += m->forged;
	s->lost += m->lost;
}

static json_t *
time_json(int64_t ns)
{
	char t[32];

	stg_time_format(ns, t);
	return json_string(t);
}

/* The stream's entry in export.json, appended to its camera's. */
static void
stream_close(struct xstream *s, json_t *cameras)
{
	json_t *st;

	if (s->first == NULL)
		return;
	st = json_pack("{s:s, s:s, s:I, s:I, s:I, s:{s:o, s:o}, s:O, s:O, s:I, s:I, s:I}",
	    "id", s->first->stream_id, "name", s->first->stream, "segments", (json_int_t)s->segments,
	    "first_seq", (json_int_t)s->first->seq, "last_seq", (json_int_t)s->last_seq,
	    "covered", "from", time_json(s->from_ns), "to", time_json(s->to_ns), "gaps", s->gaps,
	    "damaged", s->damaged, "packets", (json_int_t)s->packets, "forged_packets", (json_int_t)s->forged,
	    "lost_packets", (json_int_t)s->lost);
	for (size_t i = 0; i < json_array_size(cameras); i++) {
		json_t *c = json_array_get(cameras, i);
		if (strcmp(json_string_value(json_object_get(c, "name")), s->first->camera) == 0) {
			json_array_append(json_object_get(c, "streams"), st);
			break;
		}
	}
	json_decref(st);
	stream_start(s, NULL);
}

/* ---- the segments ------------------------------------------------------------ */

/* Certificates that signed something in the bundle, by fingerprint, with
 * the certificate of certs/ (NULL if it cannot be read) that checks the
 * manifests they signed. */
struct signers {
	uint8_t (*fp)[32];
	X509 **cert;
	size_t n, cap;
};

static nvr_err
signers_add(struct signers *s, const uint8_t fp[32], const char *root)
{
	char hex[65], path[PATH_MAX + 80];

	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->fp[i], fp, 32) == 0)
			return NVR_OK;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 4;
		void *p = realloc(s->fp, cap * sizeof(*s->fp)), *q = p ? realloc(s->cert, cap * sizeof(X509 *)) : NULL;
		if (p != NULL)
			s->fp = p;
		if (q == NULL)
			return NVR_ERR_NOMEM;
		s->cert = q;
		s->cap = cap;
	}
	memcpy(s->fp[s->n], fp, 32);
	s->cert[s->n] = NULL;
	nvr_hex_encode(fp, 32, hex);
	snprintf(path, sizeof(path), "%s/certs/%s.crt", root, hex);
	if (stg_cert_read(path, &s->cert[s->n]) != NVR_OK)
		s->cert[s->n] = NULL;
	s->n++;
	return NVR_OK;
}

static X509 *
signers_cert(const struct signers *s, const uint8_t fp[32])
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->fp[i], fp, 32) == 0)
			return s->cert[i];
	return NULL;
}

static void
signers_free(struct signers *s)
{
	for (size_t i = 0; i < s->n; i++)
		X509_free(s->cert[i]);
	free(s->cert);
	free(s->fp);
}

/* Why a segment as read for the bundle is not what the recorder signed, or
 * NULL: its file against its manifest, its manifest against its signature
 * (checked with the signer's certificate in certs/, as nvrctl verify will). */
static const char *
damage(const struct stg_manifest *m, const uint8_t sha[32], uint64_t size, X509 *cert, const char *text, size_t len,
    const char *sig, size_t siglen)
{
	if (size != m->bytes)
		return "its file is not of the size its manifest says";
	if (memcmp(sha, m->sha256, 32) != 0)
		return "its file's SHA-256 is not the one its manifest says";
	if (cert == NULL)
		return "its signer's certificate is not in certs/ of the storage root";
	if (stg_sig_verify(cert, text, len, (const uint8_t *)sig, siglen) != NVR_OK)
		return "its manifest's signature does not verify";
	return NULL;
}

/* rel with its ".nvrseg" replaced by suffix. */
static void
sibling(const char *rel, const char *suffix, char out[REL_MAX])
{
	size_t n = strlen(rel) - strlen(".nvrseg");

	snprintf(out, REL_MAX, "%.*s%s", (int)n, rel, suffix);
}

/* One segment's three files; its manifest's claims go to the stream's
 * summary and its signer to signers. */
static nvr_err
put_segment(struct xw *w, const char *root, const struct xseg *g, struct xstream *st, struct signers *sg)
{
	char rel[REL_MAX], path[PATH_MAX + REL_MAX + 8], *text = NULL, *sig = NULL;
	struct stg_manifest m;
	uint8_t sha[32];
	uint64_t size;
	size_t len, siglen;
	const char *why, *bad;
	nvr_err rc;

	sibling(g->path, ".manifest.json", rel);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if ((rc = read_small(w, path, STG_MANIFEST_MAX, &text, &len)) != NVR_OK)
		goto out;
	if (stg_manifest_decode(text, len, &m, &why) != NVR_OK) {
		rc = xw_fail(w, NVR_ERR_INVAL, "the manifest of segment %s does not decode (%s): run nvrctl verify",
		    g->id, why);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s.sig", root, rel);
	if ((rc = read_small(w, path, 256, &sig, &siglen)) != NVR_OK ||
	    (rc = put_file(w, root, g->path, true, sha, &size)) != NVR_OK ||
	    (rc = put_mem(w, rel, text, len, true, NULL)) != NVR_OK)
		goto out;
	snprintf(path, sizeof(path), "%s.sig", rel);
	if ((rc = put_mem(w, path, sig, siglen, true, NULL)) != NVR_OK)
		goto out;
	if (signers_add(sg, m.signer, root) != NVR_OK) {
		rc = xw_fail(w, NVR_ERR_NOMEM, "out of memory");
		goto out;
	}
	bad = damage(&m, sha, size, signers_cert(sg, m.signer), text, len, sig, siglen);
	if (bad != NULL && !w->allow_damaged) {
		/* The recorder does not sign a bundle it knows to be damaged. */
		rc = xw_fail(w, NVR_ERR_INVAL, "segment %s (camera %s, stream %s, seq %" PRIu64 ") is damaged: %s; nothing "
		    "is exported (nvrctl verify of the storage root names it; --allow-damaged exports it anyway, marked "
		    "damaged)", g->id, g->camera, g->stream, g->seq, bad);
		goto out;
	}
	if (bad != NULL) {
		nvr_log(NVR_LOG_ERROR, "export: segment %s (camera %s, stream %s, seq %" PRIu64 ") is damaged: %s; "
		    "exported anyway (allow_damaged), marked so", g->id, g->camera, g->stream, g->seq, bad);
		json_array_append_new(w->damaged, json_pack("{s:s, s:s, s:I, s:s, s:s}", "camera", g->camera, "stream",
		    g->stream, "seq", (json_int_t)g->seq, "segment", g->id, "why", bad));
	}
	stream_add(st, g, &m, bad != NULL);
out:
	free(text);
	free(sig);
	return rc;
}

static int
cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct xseg *)a)->key_id, ((const struct xseg *)b)->key_id);
}

/* The sealed key file of every key the segments use, once each. */
static nvr_err
put_keys(struct xw *w, const char *root, const struct xplan *pl)
{
	struct xseg *k = pl->nsegs ? malloc(pl->nsegs * sizeof(*k)) : NULL;
	char rel[80];
	uint64_t size;
	nvr_err rc = NVR_OK;

	if (pl->nsegs > 0 && k == NULL)
		return xw_fail(w, NVR_ERR_NOMEM, "out of memory");
	if (k != NULL)
		memcpy(k, pl->segs, pl->nsegs * sizeof(*k));
	if (k != NULL)
		qsort(k, pl->nsegs, sizeof(*k), cmp_key);
	for (size_t i = 0; i < pl->nsegs && rc == NVR_OK; i++) {
		if (i > 0 && strcmp(k[i].key_id, k[i - 1].key_id) == 0)
			continue;
		snprintf(rel, sizeof(rel), "keys/%s.sealed.json", k[i].key_id);
		rc = put_file(w, root, rel, false, NULL, &size);
	}
	free(k);
	return rc;
}

/* Every signer's certificate from certs/ of the root; the export's own
 * signer from memory when certs/ lacks it. */
static nvr_err
put_certs(struct xw *w, const char *root, const struct signers *sg, const struct stg_signer *signer)
{
	char hex[65], rel[80], path[PATH_MAX + 80];
	uint64_t size;
	nvr_err rc = NVR_OK;

	for (size_t i = 0; i < sg->n && rc == NVR_OK; i++) {
		nvr_hex_encode(sg->fp[i], 32, hex);
		snprintf(rel, sizeof(rel), "certs/%s.crt", hex);
		snprintf(path, sizeof(path), "%s/%s", root, rel);
		if (memcmp(sg->fp[i], stg_signer_fingerprint(signer), 32) == 0 && access(path, F_OK) != 0) {
			const char *pem = stg_signer_cert_pem(signer);
			rc = put_mem(w, rel, pem, strlen(pem), true, NULL);
		} else {
			rc = put_file(w, root, rel, false, NULL, &size);
		}
	}
	return rc;
}

static nvr_err
put_audit(struct xw *w, PGresult *rows)
{
	uint64_t size = 0;
	int n = PQntuples(rows);
	nvr_err rc;

	for (int i = 0; i < n; i++)
		size += (uint64_t)PQgetlength(rows, i, 0) + 1;
	if ((rc = member_begin(w, "audit.jsonl", size)) != NVR_OK)
		return rc;
	for (int i = 0; i < n; i++) {
		const char *v = PQgetvalue(rows, i, 0);
		size_t len = (size_t)PQgetlength(rows, i, 0);
		if (EVP_DigestUpdate(w->md, v, len) != 1 || EVP_DigestUpdate(w->md, "\n", 1) != 1)
			return xw_fail(w, NVR_ERR_CRYPTO, "OpenSSL cannot hash");
		if ((rc = xw_put(w, v, len)) != NVR_OK || (rc = xw_put(w, "\n", 1)) != NVR_OK)
			return rc;
	}
	return member_end(w, "audit.jsonl", size, true, NULL);
}

/* ---- export.json ---------------------------------------------------------- */

static json_t *
cameras_json(const struct stg_export_req *req, const struct xplan *pl)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < req->ncameras; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:[]}", "id", pl->camera_ids[i], "name",
		    req->cameras[i], "streams"));
	return a;
}

static json_t *
hold_ids(const json_t *holds)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < json_array_size(holds); i++)
		json_array_append(a, json_object_get(json_array_get(holds, i), "id"));
	return a;
}

/* export.json's fields that are not lists of what was written. */
static json_t *
manifest_head(const struct stg_export_req *req, const char *id, const char *created, const char *recorder,
    const struct stg_signer *signer, const json_t *holds)
{
	char hex[65];

	nvr_hex_encode(stg_signer_fingerprint(signer), 32, hex);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s}", "format", EXPORT_FORMAT,
	    "export_id", id, "created", created, "actor", req->actor, "address", req->address, "reason",
	    req->reason, "range", "from", req->from, "to", req->to, "holds", hold_ids(holds), "signer_sha256", hex,
	    "recorder", recorder);
}

/* SHA256SUMS, export.json and its signature: the end of the bundle. */
static nvr_err
put_manifest(struct xw *w, json_t *man, const struct stg_signer *signer)
{
	uint8_t sha[32], *sig = NULL;
	char hex[65], *text = NULL;
	size_t siglen;
	nvr_err rc;

	if ((rc = put_mem(w, "SHA256SUMS", w->sums, w->sums_len, false, sha)) != NVR_OK)
		return rc;
	nvr_hex_encode(sha, 32, hex);
	json_object_set_new(man, "sha256sums_sha256", json_string(hex));
	json_object_set(man, "members", w->members);
	text = json_dumps(man, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_ENSURE_ASCII);
	if (text == NULL)
		return xw_fail(w, NVR_ERR_NOMEM, "cannot encode export.json");
	/* One final newline, as segment manifests end. */
	size_t len = strlen(text);
	char *t = realloc(text, len + 2);
	if (t == NULL || len + 1 > STG_EXPORT_MANIFEST_MAX) {
		free(t != NULL ? t : text);
		return xw_fail(w, NVR_ERR_TOOBIG, "export.json would be too large");
	}
	text = t;
	memcpy(text + len, "\n", 2);
	if ((rc = stg_signer_sign(signer, text, len + 1, &sig, &siglen)) != NVR_OK)
		rc = xw_fail(w, rc, "cannot sign export.json");
	else if ((rc = put_mem(w, "export.json", text, len + 1, false, NULL)) == NVR_OK)
		rc = put_mem(w, "export.json.sig", sig, siglen, false, NULL);
	free(sig);
	free(text);
	return rc;
}

static nvr_err
put_all(struct xw *w, PGconn *db, const char *root, const struct stg_signer *signer,
    const struct stg_export_req *req, const json_t *holds, const struct xplan *pl, json_t *man)
{
	struct xstream st = { 0 };
	struct signers sg = { 0 };
	json_t *cams = json_object_get(man, "cameras");
	PGresult *rows = NULL;
	nvr_err rc = NVR_OK;

	stream_start(&st, NULL);
	for (size_t i = 0; i < pl->nsegs && rc == NVR_OK; i++) {
		const struct xseg *g = &pl->segs[i];
		if (st.first == NULL || strcmp(st.first->stream_id, g->stream_id) != 0) {
			stream_close(&st, cams);
			stream_start(&st, g);
		}
		rc = put_segment(w, root, g, &st, &sg);
	}
	stream_close(&st, cams);
	json_decref(st.gaps);
	json_decref(st.damaged);
	if (rc == NVR_OK && (rc = signers_add(&sg, stg_signer_fingerprint(signer), root)) != NVR_OK)
		rc = xw_fail(w, rc, "out of memory");
	if (rc == NVR_OK && (rc = put_keys(w, root, pl)) == NVR_OK && (rc = put_certs(w, root, &sg, signer)) == NVR_OK) {
		if ((rc = stg_export_audit(db, req, holds, &rows)) != NVR_OK)
			rc = xw_fail(w, rc, "cannot read the audit rows");
		else if ((rc = put_audit(w, rows)) == NVR_OK)
			json_object_set_new(man, "audit", json_pack("{s:i, s:I, s:I}", "rows", PQntuples(rows),
			    "first_id", (json_int_t)(PQntuples(rows) ? strtoll(PQgetvalue(rows, 0, 1), NULL, 10) : 0),
			    "last_id", (json_int_t)(PQntuples(rows) ? strtoll(PQgetvalue(rows, PQntuples(rows) - 1, 1),
			    NULL, 10) : 0)));
	}
	PQclear(rows);
	signers_free(&sg);
	return rc;
}

static void
recorder_name(char out[192])
{
	char host[128] = "unknown";

	gethostname(host, sizeof(host) - 1);
	snprintf(out, 192, "%.127s %s/%s", host, PACKAGE_NAME, PACKAGE_VERSION);
}

/* The paragraph of README.txt that says what the bundle lacks of the
 * range asked for, or that it lacks nothing: a new string, or NULL. */
static char *
cover_text(const json_t *missing, bool allow_damaged)
{
	char *text = NULL;
	size_t len = 0, i;
	json_t *e;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	if (json_array_size(missing) == 0)
		fprintf(f, "Covered: the segments cover the whole range asked for.\n");
	else
		fprintf(f, "NOT COMPLETE: the bundle lacks what follows of the range asked for.\n");
	json_array_foreach(missing, i, e) {
		fprintf(f, "  - %s%s%s: %s to %s: %s\n", json_string_value(json_object_get(e, "camera")),
		    json_is_string(json_object_get(e, "stream")) ? " " : "",
		    json_is_string(json_object_get(e, "stream")) ? json_string_value(json_object_get(e, "stream")) : "",
		    json_string_value(json_object_get(e, "from")), json_string_value(json_object_get(e, "to")),
		    json_string_value(json_object_get(e, "why")));
	}
	if (allow_damaged)
		fprintf(f, "DAMAGED SEGMENTS ALLOWED: this export was made with --allow-damaged; a segment that did not\n"
			   "match its manifest or signature on the recorder is in it, listed under \"damaged\" in\n"
			   "export.json, and nvrctl verify names it.\n");
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* What the caller learns of the bundle: complete, what is missing, what
 * damaged segment was kept (export.h). */
static json_t *
report_of(const json_t *missing, const json_t *damaged)
{
	return json_pack("{s:b, s:O, s:O}", "complete", json_array_size(missing) == 0 && json_array_size(damaged) == 0,
	    "missing", missing, "damaged", damaged);
}

/* README.txt, then everything else, then export.json: the bundle. */
static nvr_err
put_bundle(struct xw *w, PGconn *db, const char *root, const struct stg_signer *signer,
    const struct stg_export_req *req, const json_t *holds, const struct xplan *pl, const char *readme_text,
    json_t *man, const json_t *missing)
{
	static const uint8_t end[2 * STG_TAR_BLOCK];
	const char *script = stg_export_verify_sh();
	nvr_err rc;

	if ((rc = put_mem(w, "README.txt", readme_text, strlen(readme_text), true, NULL)) != NVR_OK ||
	    (rc = put_mem(w, "verify.sh", script, strlen(script), true, NULL)) != NVR_OK ||
	    (rc = put_all(w, db, root, signer, req, holds, pl, man)) != NVR_OK)
		return rc;
	json_object_set_new(man, "complete",
	    json_boolean(json_array_size(missing) == 0 && json_array_size(w->damaged) == 0));
	if ((rc = put_manifest(w, man, signer)) != NVR_OK)
		return rc;
	return xw_put(w, end, sizeof(end));
}

nvr_err
stg_export_write(PGconn *db, const char *root, const struct stg_signer *signer,
    const struct stg_export_req *req, const json_t *holds, int fd, struct stg_export_progress *p,
    json_t **report, char *why, size_t whysize)
{
	struct xw w = { .fd = fd, .p = p, .why = why, .whysize = whysize, .allow_damaged = req->allow_damaged };
	struct xplan pl = { 0 };
	struct timespec now;
	char id[NVR_UUID_STRLEN], created[32], recorder[192], cert[80], hex[65], *text = NULL, *cover = NULL;
	json_t *man = NULL, *missing = NULL;
	nvr_err rc = NVR_ERR_NOMEM;

	if (report != NULL)
		*report = NULL;
	clock_gettime(CLOCK_REALTIME, &now);
	w.mtime = now.tv_sec;
	stg_time_format((int64_t)now.tv_sec * 1000000000 + now.tv_nsec, created);
	nvr_uuid_format(&req->id, id);
	snprintf(w.top, sizeof(w.top), "nvr-export-%s", id);
	recorder_name(recorder);
	nvr_hex_encode(stg_signer_fingerprint(signer), 32, hex);
	snprintf(cert, sizeof(cert), "certs/%s.crt", hex);
	if ((w.buf = malloc(XW_BLOCK)) == NULL || (w.md = EVP_MD_CTX_new()) == NULL ||
	    (w.members = json_array()) == NULL || (w.damaged = json_array()) == NULL) {
		snprintf(why, whysize, "out of memory");
		goto out;
	}
	if ((rc = stg_export_select(db, req, &pl, why, whysize)) != NVR_OK)
		goto out;
	for (size_t i = 0; p != NULL && i < pl.nsegs; i++)
		atomic_fetch_add(&p->total, pl.segs[i].bytes);
	rc = NVR_ERR_NOMEM;
	if ((missing = stg_export_missing(req, &pl, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec)) == NULL ||
	    (cover = cover_text(missing, req->allow_damaged)) == NULL ||
	    (text = stg_export_readme(req, id, created, recorder, cert, cover)) == NULL ||
	    (man = manifest_head(req, id, created, recorder, signer, holds)) == NULL ||
	    json_object_set_new(man, "cameras", cameras_json(req, &pl)) != 0 ||
	    json_object_set(man, "missing", missing) != 0 ||
	    json_object_set_new(man, "allow_damaged", json_boolean(req->allow_damaged)) != 0) {
		snprintf(why, whysize, "out of memory");
		goto out;
	}
	if ((rc = put_bundle(&w, db, root, signer, req, holds, &pl, text, man, missing)) == NVR_OK && report != NULL)
		*report = report_of(missing, w.damaged);
out:
	free(text);
	free(cover);
	json_decref(man);
	json_decref(missing);
	json_decref(w.members);
	json_decref(w.damaged);
	free(w.sums);
	free(w.buf);
	EVP_MD_CTX_free(w.md);
	stg_export_plan_free(&pl);
	return rc;
}

nvr_err
stg_export_to_file(PGconn *db, const char *root, const struct stg_signer *signer,
    const struct stg_export_req *req, const json_t *holds, const char *dest, struct stg_export_progress *p,
    uint64_t *size, json_t **report, char *why, size_t whysize)
{
	char tmp[PATH_MAX + 16], dir[PATH_MAX], *slash;
	struct stat st;
	nvr_err rc;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.partXXXXXX", dest);
	if ((fd = mkstemp(tmp)) < 0) {
		snprintf(why, whysize, "cannot create a file beside %s: %s", dest, strerror(errno));
		return NVR_ERR_IO;
	}
	(void)fchmod(fd, 0640);
	rc = stg_export_write(db, root, signer, req, holds, fd, p, report, why, whysize);
	if (rc == NVR_OK && (fsync(fd) != 0 || fstat(fd, &st) != 0)) {
		snprintf(why, whysize, "cannot sync %s: %s", tmp, strerror(errno));
		rc = NVR_ERR_IO;
	}
	if (close(fd) != 0 && rc == NVR_OK) {
		snprintf(why, whysize, "cannot close %s: %s", tmp, strerror(errno));
		rc = NVR_ERR_IO;
	}
	if (rc == NVR_OK && rename(tmp, dest) != 0) {
		snprintf(why, whysize, "cannot rename the bundle to %s: %s", dest, strerror(errno));
		rc = NVR_ERR_IO;
	}
	if (rc != NVR_OK) {
		unlink(tmp);
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s", dest);
	slash = strrchr(dir, '/');
	stg_sync_dir(slash == NULL ? "." : slash == dir ? "/" : (*slash = '\0', dir));
	if (size != NULL)
		*size = (uint64_t)st.st_size;
	return NVR_OK;
}

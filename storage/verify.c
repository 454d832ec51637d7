/*
 * verify.c: offline verification of segments, manifests, signatures and
 * hash chains (storage/verify.h, docs/FORMAT.md).
 *
 * Every byte it reads may have been written by the person it is meant to
 * catch: every read is bounded, every length is checked before use, and a
 * file name is printed escaped. It must never write, move or delete
 * anything, and never follow a symbolic link inside the tree it walks.
 *
 * It works in two passes per group of segments (a stream folder, or all
 * that PATH holds below it): first each manifest is read, hashed, decoded
 * and its signature checked; then the segments are sorted by stream and
 * seq, and each segment file is streamed through SHA-256 and the record
 * check while the chain is checked against its predecessor. Groups keep
 * memory to one stream's segments at a time, not the whole root's.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "nvrd/encode.h"
#include "nvrd/util.h"
#include "nvrd/uuid.h"
#include "storage/fileio.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/sign.h"
#include "storage/verify.h"

#define BLOCK ((size_t)1024 * 1024) /* bytes read from a segment at a time */
#define MAX_RECORD (STG_SEG_RECORD_HEADER + STG_SEG_MAX_PAYLOAD)
#define WINDOW (BLOCK + MAX_RECORD) /* a block and the record that straddles it */
#define SIG_MAX 256                 /* a DER ECDSA P-256 signature is at most 72 bytes */
#define MAX_DEPTH 8                 /* folders below a stream folder: the layout uses 3 */
#define SEG_PATH (PATH_MAX + 64)    /* a folder, '/', a UUID and the longest suffix */
#define MSG_MAX (2 * SEG_PATH + 512) /* a reason may name two files */

enum { F_SEG = 1, F_MANIFEST = 2, F_SIG = 4 };

static const struct {
	const char *suffix;
	unsigned flag;
} file_kinds[] = {
	{ ".nvrseg", F_SEG },
	{ ".manifest.json", F_MANIFEST },
	{ ".manifest.json.sig", F_SIG },
};

/* One segment, named by the UUID in its file names; what its manifest
 * claims is kept for the second pass, nothing more. */
struct seg {
	size_t dir;     /* index into group.dirs */
	nvr_uuid id;    /* from the file name */
	unsigned files; /* F_SEG | F_MANIFEST | F_SIG found */
	bool decoded;   /* the manifest was read and decoded: the claims below are set */
	bool authentic; /* ... and its signature verified with the right certificate */
	bool failed;
	char *why; /* the first failure of pass 1, printed in pass 2 */
	nvr_uuid camera, stream, key;
	char stream_name[16];
	uint64_t seq, bytes;
	uint64_t packets, rtcp_packets;
	uint8_t sha256[32];
	bool has_prev;
	uint8_t prev[32];
	uint8_t msha[32]; /* SHA-256 of the manifest file's bytes */
};

struct group {
	char **dirs;
	size_t ndirs, cdirs;
	struct seg *v;
	size_t n, cap;
};

/* A certificate met through a manifest's signer_sha256 (looked up once). */
struct signer {
	struct signer *next;
	uint8_t fp[32];
	X509 *cert; /* NULL: unusable, why says why */
	char *why;
	uint64_t used;
};

struct vctx {
	const struct stg_verify_opts *o;
	struct stg_verify_counts *c;
	char top[PATH_MAX];  /* real path of PATH */
	char root[PATH_MAX]; /* real path of the storage root; "" when none */
	bool trusted;        /* opts->trust given: its signer entry is the only one */
	uint8_t trust_fp[32];
	struct signer *signers;
	uint8_t *win;  /* WINDOW bytes: the segment read window */
	char *text;    /* STG_MANIFEST_MAX + 1 bytes: one manifest */
	EVP_MD_CTX *md;
	nvr_uuid last_key; /* the sealed key file last looked for, and whether it was there */
	bool last_key_set, last_key_ok;
};

/* ---- the report ----------------------------------------------------------- */

/* Control characters, backslashes and anything not ASCII as \xNN: a file
 * name cannot start a line of its own, move a terminal's cursor, or pass
 * for another name (the names the recorder makes are all ASCII). */
static void
put_escaped(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
}

static void
vline(struct vctx *v, const char *tag, const char *path, const char *fmt, va_list ap)
{
	char msg[MSG_MAX];

	size_t n = v->o->strip != NULL ? strlen(v->o->strip) : 0;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(v->o->out, "%s ", tag);
	if (n > 0 && strncmp(path, v->o->strip, n) == 0 && (path[n] == '/' || path[n] == '\0')) {
		put_escaped(v->o->out, v->o->shown_as);
		path += n + (path[n] == '/'); /* "BUNDLE:camera/...", as the bundle names it */
	}
	put_escaped(v->o->out, path);
	fputs(": ", v->o->out);
	put_escaped(v->o->out, msg);
	fputc('\n', v->o->out);
}

static void __attribute__((format(printf, 4, 5)))
fail(struct vctx *v, struct seg *s, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(v, "FAIL", path, fmt, ap);
	va_end(ap);
	if (s != NULL)
		s->failed = true;
	else
		v->c->problems++;
}

static void __attribute__((format(printf, 3, 4)))
note(struct vctx *v, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(v, "NOTE", path, fmt, ap);
	va_end(ap);
	v->c->notes++;
}

/* Lines only a verbose report has (OK, SKIP, STREAM): never a finding. */
static void __attribute__((format(printf, 4, 5)))
say(struct vctx *v, const char *tag, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (!v->o->verbose)
		return;
	va_start(ap, fmt);
	vline(v, tag, path, fmt, ap);
	va_end(ap);
}

/* Pass 1 keeps the first failure of a segment for pass 2, which prints the
 * report in stream and seq order. */
static void __attribute__((format(printf, 2, 3)))
defer_fail(struct seg *s, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	s->failed = true;
	if (s->why != NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->why = strdup(msg); /* NULL: pass 2 still reports the failure */
}

static const char *
plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void
seg_path(const struct group *g, const struct seg *s, const char *suffix, char out[SEG_PATH])
{
	char id[NVR_UUID_STRLEN];

	nvr_uuid_format(&s->id, id);
	snprintf(out, SEG_PATH, "%s/%s%s", g->dirs[s->dir], id, suffix);
}

static void
hex32(const uint8_t b[32], char out[65])
{
	nvr_hex_encode(b, 32, out);
}

/* ---- bounded reads -------------------------------------------------------- */

static uint32_t
get32(const uint8_t *p)
{
	/* segment.h decodes records but gives no field reader: the reasons
	 * for refusing a record header are worded here */
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Opens a regular file without following a symbolic link. */
static int
open_regular(const char *path, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (fd < 0) {
		*why = errno == ELOOP ? "it is a symbolic link" : strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why = "it is not a regular file";
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads a whole file of at most max bytes into buf (max + 1 bytes of room):
 * NVR_ERR_TOOBIG past max, NVR_ERR_IO with why. */
static nvr_err
read_small(const char *path, uint8_t *buf, size_t max, size_t *len, const char **why)
{
	int fd = open_regular(path, why);
	ssize_t n;

	if (fd < 0)
		return NVR_ERR_IO;
	n = stg_read_full(fd, buf, max + 1);
	if (n < 0)
		*why = strerror(errno);
	close(fd);
	if (n < 0)
		return NVR_ERR_IO;
	if ((size_t)n > max)
		return NVR_ERR_TOOBIG;
	*len = (size_t)n;
	return NVR_OK;
}

static nvr_err
sha256(struct vctx *v, const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	if (EVP_DigestInit_ex(v->md, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(v->md, data, len) != 1 ||
	    EVP_DigestFinal_ex(v->md, out, &n) != 1 || n != 32)
		return NVR_ERR_CRYPTO;
	return NVR_OK;
}

/* ---- signers -------------------------------------------------------------- */

/* Reads certs/<hex>.crt of the storage root once; a file whose certificate
 * is not the one its name says is refused. */
static struct signer *
signer_load(struct vctx *v, const uint8_t fp[32])
{
	struct signer *sg = calloc(1, sizeof(*sg));
	char hex[65], got_hex[65], path[PATH_MAX + 80], msg[PATH_MAX + 256];
	uint8_t got[32];
	X509 *x = NULL;
	nvr_err rc;

	if (sg == NULL)
		return NULL;
	memcpy(sg->fp, fp, 32);
	hex32(fp, hex);
	snprintf(path, sizeof(path), "%s/certs/%s.crt", v->root, hex);
	rc = stg_cert_read(path, &x);
	if (rc == NVR_ERR_IO) {
		snprintf(msg, sizeof(msg), "its signer's certificate %s cannot be read: %s", path, strerror(errno));
	} else if (rc != NVR_OK) {
		snprintf(msg, sizeof(msg), "its signer's certificate %s is not a PEM certificate", path);
	} else if (stg_cert_fingerprint(x, got) != NVR_OK) {
		snprintf(msg, sizeof(msg), "its signer's certificate %s cannot be hashed (OpenSSL failed)", path);
	} else if (memcmp(got, fp, 32) != 0) {
		hex32(got, got_hex);
		snprintf(msg, sizeof(msg), "%s holds another certificate (SHA-256 %s), not its signer's", path, got_hex);
	} else {
		sg->cert = x;
		x = NULL;
	}
	if (sg->cert == NULL)
		sg->why = strdup(msg);
	X509_free(x);
	sg->next = v->signers;
	v->signers = sg;
	return sg;
}

/* The signer whose certificate must verify a manifest naming fp, or NULL
 * with why: with a trusted certificate, that one and no other. */
static struct signer *
signer_for(struct vctx *v, const uint8_t fp[32], char *why, size_t size)
{
	struct signer *sg;
	char a[65], b[65];

	if (v->trusted && memcmp(fp, v->trust_fp, 32) != 0) {
		hex32(fp, a);
		hex32(v->trust_fp, b);
		snprintf(why, size, "signed by another key: its signer_sha256 is %s, the trusted certificate's SHA-256 is %s",
		    a, b);
		return NULL;
	}
	hex32(fp, a);
	if (v->o->pin != NULL && strcmp(a, v->o->pin) != 0) {
		snprintf(why, size, "signed by another key: its signer_sha256 is %s, the pinned fingerprint is %s", a,
		    v->o->pin);
		return NULL;
	}
	for (sg = v->signers; sg != NULL && memcmp(sg->fp, fp, 32) != 0; sg = sg->next)
		;
	if (sg == NULL && (sg = signer_load(v, fp)) == NULL) {
		snprintf(why, size, "out of memory while loading its signer's certificate");
		return NULL;
	}
	if (sg->cert == NULL) {
		snprintf(why, size, "%s", sg->why != NULL ? sg->why : "its signer's certificate cannot be used");
		return NULL;
	}
	return sg;
}

static nvr_err
load_trust(struct vctx *v, char *why, size_t whysize)
{
	struct signer *sg = calloc(1, sizeof(*sg));
	nvr_err rc;

	if (sg == NULL)
		return NVR_ERR_NOMEM;
	sg->next = v->signers;
	v->signers = sg;
	rc = stg_cert_read(v->o->trust, &sg->cert);
	if (rc != NVR_OK) {
		snprintf(why, whysize, "cannot read the trusted certificate %s: %s", v->o->trust,
		    rc == NVR_ERR_IO ? strerror(errno) : "not a PEM certificate");
		return NVR_ERR_INVAL;
	}
	if (stg_cert_fingerprint(sg->cert, sg->fp) != NVR_OK) {
		snprintf(why, whysize, "cannot hash the trusted certificate %s", v->o->trust);
		return NVR_ERR_CRYPTO;
	}
	memcpy(v->trust_fp, sg->fp, 32);
	v->trusted = true;
	return NVR_OK;
}

static void
signers_free(struct vctx *v)
{
	while (v->signers != NULL) {
		struct signer *sg = v->signers;

		v->signers = sg->next;
		X509_free(sg->cert);
		free(sg->why);
		free(sg);
	}
}

/* ---- pass 1: manifests and signatures ------------------------------------- */

static void
keep_claims(struct seg *s, const struct stg_manifest *m)
{
	s->decoded = true;
	s->camera = m->camera;
	s->stream = m->stream;
	s->key = m->key;
	memcpy(s->stream_name, m->stream_name, sizeof(s->stream_name));
	s->seq = m->seq;
	s->bytes = m->bytes;
	s->packets = m->packets;
	s->rtcp_packets = m->rtcp_packets;
	memcpy(s->sha256, m->sha256, 32);
	s->has_prev = m->has_prev;
	memcpy(s->prev, m->prev_sha256, 32);
}

/* The manifest's bytes are in v->text (len of them). */
static void
check_signature(struct vctx *v, const struct group *g, struct seg *s, const struct stg_manifest *m, size_t len)
{
	uint8_t sig[SIG_MAX + 1];
	char path[SEG_PATH], why[MSG_MAX], hex[65];
	const char *err = NULL;
	struct signer *sg;
	size_t siglen = 0;
	nvr_err rc;

	seg_path(g, s, ".manifest.json.sig", path);
	if (!(s->files & F_SIG)) {
		defer_fail(s, "no signature: %s is missing", path);
		return;
	}
	if ((rc = read_small(path, sig, SIG_MAX, &siglen, &err)) != NVR_OK) {
		if (rc == NVR_ERR_TOOBIG)
			defer_fail(s, "its signature %s is over %d bytes: not a DER ECDSA P-256 signature", path, SIG_MAX);
		else
			defer_fail(s, "cannot read its signature %s: %s", path, err);
		return;
	}
	if ((sg = signer_for(v, m->signer, why, sizeof(why))) == NULL) {
		defer_fail(s, "%s", why);
		return;
	}
	if (stg_sig_verify(sg->cert, v->text, len, sig, siglen) != NVR_OK) {
		hex32(sg->fp, hex);
		defer_fail(s, "the signature %s does not verify with certificate %s: the manifest was altered or signed by another key",
		    path, hex);
		return;
	}
	sg->used++;
	s->authentic = true;
}

static void
check_manifest(struct vctx *v, const struct group *g, struct seg *s)
{
	struct stg_manifest m;
	char path[SEG_PATH], id[NVR_UUID_STRLEN];
	const char *why = NULL;
	size_t len = 0;
	nvr_err rc;

	seg_path(g, s, ".manifest.json", path);
	if (!(s->files & F_MANIFEST)) {
		defer_fail(s, "no manifest: %s is missing", path);
		return;
	}
	if ((rc = read_small(path, (uint8_t *)v->text, (size_t)STG_MANIFEST_MAX, &len, &why)) != NVR_OK) {
		if (rc == NVR_ERR_TOOBIG)
			defer_fail(s, "its manifest %s is over %zu bytes", path, STG_MANIFEST_MAX);
		else
			defer_fail(s, "cannot read its manifest %s: %s", path, why);
		return;
	}
	if (sha256(v, v->text, len, s->msha) != NVR_OK) {
		defer_fail(s, "cannot hash its manifest: OpenSSL failed");
		return;
	}
	if (stg_manifest_decode(v->text, len, &m, &why) != NVR_OK) {
		defer_fail(s, "its manifest %s is not valid: %s", path, why);
		return;
	}
	keep_claims(s, &m);
	if (memcmp(m.segment.b, s->id.b, 16) != 0) {
		nvr_uuid_format(&m.segment, id);
		defer_fail(s, "its manifest %s describes segment %s, not this one: files were renamed", path, id);
	}
	check_signature(v, g, s, &m, len);
}

/* ---- pass 2: segment files ------------------------------------------------ */

/* A segment file is read in blocks into the window; records are checked
 * while a whole record is sure to be in it, which holds as long as at
 * least MAX_RECORD bytes are left before the end of what was read. */
struct scan {
	int fd;
	uint64_t base;  /* file offset of win[0] */
	size_t have;    /* bytes in the window */
	size_t pos;     /* the next record starts at win[pos] */
	uint64_t total; /* bytes read (and hashed) */
	bool eof;
	bool hashed;    /* known[] holds the file's SHA-256: it is not hashed again */
	uint8_t known[32];
	uint64_t records;
	uint64_t kinds[STG_REC_PAD + 1]; /* records of each kind */
};

static nvr_err
scan_fill(struct vctx *v, struct scan *sc)
{
	ssize_t n;

	if (sc->pos > 0) {
		/* what is left is less than MAX_RECORD: a block fits after it */
		memmove(v->win, v->win + sc->pos, sc->have - sc->pos);
		sc->base += sc->pos;
		sc->have -= sc->pos;
		sc->pos = 0;
	}
	if ((n = stg_read_full(sc->fd, v->win + sc->have, BLOCK)) < 0)
		return NVR_ERR_IO;
	if (!sc->hashed && EVP_DigestUpdate(v->md, v->win + sc->have, (size_t)n) != 1)
		return NVR_ERR_CRYPTO;
	sc->eof = (size_t)n < BLOCK;
	sc->have += (size_t)n;
	sc->total += (uint64_t)n;
	return NVR_OK;
}


/* Why the n bytes at p (up to the end of the file) are not a record. */
static void
record_why(const uint8_t *p, size_t n, char *out, size_t size)
{
	uint32_t len;

	if (n < STG_SEG_RECORD_HEADER) {
		snprintf(out, size, "the file ends %zu bytes after the last whole record, too few for a record header", n);
		return;
	}
	len = get32(p + 4);
	if (nvr_all_zero(p, STG_SEG_RECORD_HEADER))
		snprintf(out, size, "zeros where a record header should be (a torn or zero-filled tail)");
	else if (p[0] < STG_REC_RTP || p[0] > STG_REC_PAD)
		snprintf(out, size, "unknown record kind %u", p[0]);
	else if (p[2] != 0 || p[3] != 0)
		snprintf(out, size, "the reserved bytes of its header are not zero");
	else if (len > STG_SEG_MAX_PAYLOAD || (len == 0 && p[0] != STG_REC_PAD))
		snprintf(out, size, "length %" PRIu32 " is out of bounds (1 to %d; 0 to %d for PAD)", len,
		    STG_SEG_MAX_PAYLOAD, STG_SEG_MAX_PAYLOAD);
	else
		snprintf(out, size, "length %" PRIu32 " runs past the end of the file (%zu bytes left)", len,
		    n - STG_SEG_RECORD_HEADER);
}

static bool
scan_record(struct vctx *v, struct scan *sc, struct seg *s, const char *path)
{
	const uint8_t *p = v->win + sc->pos;
	size_t n = sc->have - sc->pos;
	struct stg_record r;
	char why[256];

	/* stg_seg_record_decode() bounds no PAD length: past STG_SEG_MAX_PAYLOAD
	 * one is refused here, so that every record fits the window (the
	 * writer's are shorter than STG_SEG_ALIGN + STG_SEG_RECORD_HEADER) */
	if (n < STG_SEG_RECORD_HEADER || get32(p + 4) > STG_SEG_MAX_PAYLOAD ||
	    stg_seg_record_decode(p, n, &r) != NVR_OK) {
		record_why(p, n, why, sizeof(why));
		fail(v, s, path, "record at offset %" PRIu64 ": %s", sc->base + sc->pos, why);
		return false;
	}
	if (r.kind == STG_REC_PAD && !nvr_all_zero(r.data, r.len)) {
		fail(v, s, path, "PAD record at offset %" PRIu64 " holds bytes that are not zero", sc->base + sc->pos);
		return false;
	}
	sc->pos += STG_SEG_RECORD_HEADER + r.len;
	sc->records++;
	sc->kinds[r.kind]++;
	return true;
}

static bool
scan_records(struct vctx *v, struct scan *sc, struct seg *s, const char *path)
{
	nvr_err rc;

	for (;;) {
		while (sc->have - sc->pos >= MAX_RECORD || (sc->eof && sc->have > sc->pos))
			if (!scan_record(v, sc, s, path))
				return false;
		if (sc->eof)
			return true;
		if ((rc = scan_fill(v, sc)) != NVR_OK) {
			fail(v, s, path, "cannot read it: %s", rc == NVR_ERR_IO ? strerror(errno) : "OpenSSL failed");
			return false;
		}
		if (sc->total > s->bytes) {
			fail(v, s, path, "it grew past the %" PRIu64 " bytes of its manifest while it was read", s->bytes);
			return false;
		}
	}
}

static void
size_fail(struct vctx *v, struct seg *s, const char *path, uint64_t size)
{
	fail(v, s, path, "it is %" PRIu64 " bytes, its manifest says %" PRIu64 ": %s", size, s->bytes,
	    size < s->bytes ? "it was truncated" : "bytes were added");
}

/* The id in the header that differs from the manifest's, or NULL. */
static const char *
header_mismatch(const struct stg_seg_header *h, const struct seg *s, const nvr_uuid **hv, const nvr_uuid **mv)
{
	static const char *const names[] = { "camera", "stream", "key" };
	const nvr_uuid *hs[] = { &h->camera, &h->stream, &h->key };
	const nvr_uuid *ms[] = { &s->camera, &s->stream, &s->key };

	for (size_t i = 0; i < NVR_ARRAY_LEN(names); i++) {
		if (memcmp(hs[i]->b, ms[i]->b, 16) != 0) {
			*hv = hs[i];
			*mv = ms[i];
			return names[i];
		}
	}
	return NULL;
}

/* Splits the folder of a segment below the storage root into at most max
 * components (copied into buf); returns how many there are in all. */
static size_t
below_root(const struct vctx *v, const char *dir, char *buf, size_t size, const char **parts, size_t max)
{
	size_t rl = strlen(v->root), n = 0;
	char *save = NULL, *p;

	if (strcmp(v->root, "/") != 0 && (strncmp(dir, v->root, rl) != 0 || (dir[rl] != '/' && dir[rl] != '\0')))
		return 0;
	snprintf(buf, size, "%s", dir + (strcmp(v->root, "/") == 0 ? 0 : rl));
	for (p = strtok_r(buf, "/", &save); p != NULL; p = strtok_r(NULL, "/", &save)) {
		if (n < max)
			parts[n] = p;
		n++;
	}
	return n;
}

/* Within a storage root a segment lies in <camera id>/<stream>/<yyyy>/<mm>/
 * <dd>/ of what its manifest and header say (the day its header's start
 * time falls on, UTC): one moved elsewhere would mislead whoever looks for
 * a camera's recordings by folder. */
static void
check_place(struct vctx *v, const struct group *g, struct seg *s, const char *path, int64_t start_ns)
{
	char buf[PATH_MAX], cam[NVR_UUID_STRLEN], want[PATH_MAX], when[32];
	const char *parts[2] = { NULL, NULL }, *dir = g->dirs[s->dir], *rel;
	size_t n;

	if (v->root[0] == '\0')
		return;
	n = below_root(v, dir, buf, sizeof(buf), parts, 2);
	nvr_uuid_format(&s->camera, cam);
	rel = dir + (strcmp(v->root, "/") == 0 ? 0 : strlen(v->root));
	if (n != 5) {
		fail(v, s, path, "it lies outside <camera id>/<stream>/<yyyy>/<mm>/<dd>/ of the storage root %s", v->root);
	} else if (strcmp(parts[0], cam) != 0 || strcmp(parts[1], s->stream_name) != 0) {
		fail(v, s, path, "it lies in the folder of camera %s stream %s, but its manifest is of camera %s stream %s",
		    parts[0], parts[1], cam, s->stream_name);
	} else if (stg_seg_dir("", &s->camera, s->stream_name, start_ns, want, sizeof(want)) != NVR_OK ||
		   strcmp(want, rel) != 0) {
		stg_time_format(start_ns, when);
		fail(v, s, path, "it lies in %s, but its header starts it at %s, which belongs in %s", rel + 1, when,
		    want + 1);
	}
}

/* The header (first in the window) against the manifest; *start_ns is its
 * start time. */
static bool
check_header(struct vctx *v, struct scan *sc, struct seg *s, const char *path, uint64_t size, int64_t *start_ns)
{
	char a[NVR_UUID_STRLEN], b[NVR_UUID_STRLEN];
	struct stg_seg_header h;
	const nvr_uuid *hv, *mv;
	const char *why = NULL, *what;

	if (stg_seg_header_decode(v->win, sc->have, &h, &why) != NVR_OK) {
		if (size != s->bytes)
			size_fail(v, s, path, size);
		else
			fail(v, s, path, "%s", why);
		return false;
	}
	if (memcmp(h.segment.b, s->id.b, 16) != 0) {
		nvr_uuid_format(&h.segment, a);
		fail(v, s, path, "its header is that of segment %s (seq %" PRIu64 "), not this one: files were swapped or renamed",
		    a, h.seq);
		return false;
	}
	if ((what = header_mismatch(&h, s, &hv, &mv)) != NULL) {
		nvr_uuid_format(hv, a);
		nvr_uuid_format(mv, b);
		fail(v, s, path, "its header names %s %s, its manifest %s", what, a, b);
		return false;
	}
	if (h.seq != s->seq) {
		fail(v, s, path, "its header has seq %" PRIu64 ", its manifest seq %" PRIu64, h.seq, s->seq);
		return false;
	}
	sc->pos = STG_SEG_HEADER_LEN;
	*start_ns = h.start_ns;
	return true;
}

/* The size of the open file, and its first block read and hashed. */
/* A file the caller hashed as it wrote it (a bundle's member, extracted
 * into our own private folder) is not hashed twice: that is half of what
 * verifying a bundle costs. Its records are still read to the end. */
static nvr_err
scan_start(struct vctx *v, struct scan *sc, const char *path, struct stat *st)
{
	if (fstat(sc->fd, st) != 0)
		return NVR_ERR_IO;
	sc->hashed = v->o->known_sha256 != NULL &&
	    v->o->known_sha256(v->o->known_arg, path, (uint64_t)st->st_size, sc->known);
	if (!sc->hashed && EVP_DigestInit_ex(v->md, EVP_sha256(), NULL) != 1)
		return NVR_ERR_CRYPTO;
	return scan_fill(v, sc);
}

/* What the whole file adds up to, once its records were read to the end. */
static void
check_totals(struct vctx *v, const struct scan *sc, struct seg *s, const char *path)
{
	char a[65], b[65];
	uint8_t got[32];
	unsigned int n = 0;

	if (sc->hashed) {
		memcpy(got, sc->known, 32);
		n = 32;
	}
	if (!sc->hashed && (EVP_DigestFinal_ex(v->md, got, &n) != 1 || n != 32)) {
		fail(v, s, path, "cannot hash it: OpenSSL failed");
	} else if (sc->total != s->bytes) {
		size_fail(v, s, path, sc->total); /* it changed while it was read */
	} else if (memcmp(got, s->sha256, 32) != 0) {
		hex32(got, a);
		hex32(s->sha256, b);
		fail(v, s, path, "its SHA-256 is %s, its manifest says %s: its bytes were altered", a, b);
	} else if (sc->kinds[STG_REC_RTP] != s->packets || sc->kinds[STG_REC_RTCP] != s->rtcp_packets) {
		/* the bytes are the signed ones: the manifest misdescribes them */
		fail(v, s, path, "it holds %" PRIu64 " RTP and %" PRIu64 " RTCP records, its manifest says %" PRIu64
				 " and %" PRIu64,
		    sc->kinds[STG_REC_RTP], sc->kinds[STG_REC_RTCP], s->packets, s->rtcp_packets);
	}
}

/* Header, place, size, records to the end, SHA-256, record counts: in the
 * order that gives the most telling reason first (a swapped file says so
 * before its hash does, a truncated one before its records do). */
static void
check_file(struct vctx *v, const struct group *g, struct seg *s, const char *path, uint64_t *records)
{
	struct scan sc = { .fd = -1 };
	int64_t start_ns = 0;
	const char *why = NULL;
	struct stat st;
	nvr_err rc;

	if (!(s->files & F_SEG)) {
		fail(v, s, path, "the segment file is missing (its manifest is there)");
		return;
	}
	if ((sc.fd = open_regular(path, &why)) < 0) {
		fail(v, s, path, "cannot read it: %s", why);
		return;
	}
	if ((rc = scan_start(v, &sc, path, &st)) != NVR_OK) {
		fail(v, s, path, "cannot read it: %s", rc == NVR_ERR_IO ? strerror(errno) : "OpenSSL failed");
		goto out;
	}
	if (!check_header(v, &sc, s, path, (uint64_t)st.st_size, &start_ns))
		goto out;
	check_place(v, g, s, path, start_ns);
	if ((uint64_t)st.st_size != s->bytes) {
		size_fail(v, s, path, (uint64_t)st.st_size);
		goto out;
	}
	if (!scan_records(v, &sc, s, path))
		goto out;
	check_totals(v, &sc, s, path);
	*records = sc.records;
out:
	close(sc.fd);
}

/* The sealed key file must exist (its content is for key holders, whose
 * tools open it): a segment without one can never be decrypted. */
static void
check_key_file(struct vctx *v, struct seg *s, const char *path)
{
	char id[NVR_UUID_STRLEN], kpath[PATH_MAX + 64];
	struct stat st;

	if (v->root[0] == '\0' || nvr_uuid_is_nil(&s->key))
		return;
	nvr_uuid_format(&s->key, id);
	if (!v->last_key_set || memcmp(v->last_key.b, s->key.b, 16) != 0) {
		snprintf(kpath, sizeof(kpath), "%s/keys/%s.sealed.json", v->root, id);
		v->last_key_ok = lstat(kpath, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
		v->last_key = s->key;
		v->last_key_set = true;
	}
	if (!v->last_key_ok)
		fail(v, s, path, "the sealed key file keys/%s.sealed.json of its key is missing or empty: no key holder can decrypt it",
		    id);
}

/* ---- pass 2: chains ------------------------------------------------------- */

/* s against the segment before it in its stream (prev, NULL for the first
 * found). */
static void
check_link(struct vctx *v, const struct group *g, struct seg *s, const struct seg *prev, const char *path)
{
	char ppath[SEG_PATH], a[65], b[65], gap[64];

	if (prev == NULL) {
		if (s->has_prev) {
			hex32(s->prev, a);
			note(v, path, "seq %" PRIu64 " is the first of its stream here; the manifest before it (SHA-256 %s) is "
				      "not here (removed by retention, or outside the path): the chain is checked from this segment on",
			    s->seq, a);
		}
		return;
	}
	seg_path(g, prev, ".manifest.json", ppath);
	if (s->seq == prev->seq) {
		fail(v, s, path, "seq %" PRIu64 " is also that of %s", s->seq, ppath);
	} else if (s->seq != prev->seq + 1) {
		if (s->seq - prev->seq == 2)
			snprintf(gap, sizeof(gap), "seq %" PRIu64 " is", prev->seq + 1);
		else
			snprintf(gap, sizeof(gap), "seqs %" PRIu64 " to %" PRIu64 " are", prev->seq + 1, s->seq - 1);
		fail(v, s, path, "%s missing (no readable manifest): the stream goes from %s (seq %" PRIu64
				 ") to this segment (seq %" PRIu64 ")",
		    gap, ppath, prev->seq, s->seq);
	} else if (!s->has_prev) {
		fail(v, s, path, "its manifest starts a new chain (prev_manifest_sha256 is null) after %s (seq %" PRIu64 ")",
		    ppath, prev->seq);
	} else if (memcmp(s->prev, prev->msha, 32) != 0) {
		hex32(s->prev, a);
		hex32(prev->msha, b);
		fail(v, s, path, "its prev_manifest_sha256 is %s, but the previous manifest %s has SHA-256 %s: it was altered or replaced",
		    a, ppath, b);
	}
}

/* ---- groups --------------------------------------------------------------- */

static nvr_err
group_dir(struct group *g, const char *dir, size_t *idx)
{
	if (g->ndirs == g->cdirs) {
		size_t c = g->cdirs ? 2 * g->cdirs : 16;
		char **d = realloc(g->dirs, c * sizeof(*d));

		if (d == NULL)
			return NVR_ERR_NOMEM;
		g->dirs = d;
		g->cdirs = c;
	}
	if ((g->dirs[g->ndirs] = strdup(dir)) == NULL)
		return NVR_ERR_NOMEM;
	*idx = g->ndirs++;
	return NVR_OK;
}

/* One file of a segment; the files of one segment are merged later. */
static nvr_err
group_file(struct group *g, size_t dir, const nvr_uuid *id, unsigned flag)
{
	if (g->n == g->cap) {
		size_t c = g->cap ? 2 * g->cap : 64;
		struct seg *s = realloc(g->v, c * sizeof(*s));

		if (s == NULL)
			return NVR_ERR_NOMEM;
		g->v = s;
		g->cap = c;
	}
	memset(&g->v[g->n], 0, sizeof(g->v[g->n]));
	g->v[g->n].dir = dir;
	g->v[g->n].id = *id;
	g->v[g->n].files = flag;
	g->n++;
	return NVR_OK;
}

static void
group_free(struct group *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i].why);
	for (size_t i = 0; i < g->ndirs; i++)
		free(g->dirs[i]);
	free(g->v);
	free(g->dirs);
	memset(g, 0, sizeof(*g));
}

static int
cmp_file(const void *pa, const void *pb)
{
	const struct seg *a = pa, *b = pb;

	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	return memcmp(a->id.b, b->id.b, 16);
}

/* Streams, then seq; segments whose manifest could not be decoded last. */
static int
cmp_stream(const void *pa, const void *pb)
{
	const struct seg *a = pa, *b = pb;
	int r;

	if (a->decoded != b->decoded)
		return a->decoded ? -1 : 1;
	if (a->decoded) {
		if ((r = memcmp(a->camera.b, b->camera.b, 16)) != 0 || (r = memcmp(a->stream.b, b->stream.b, 16)) != 0)
			return r;
		if (a->seq != b->seq)
			return a->seq < b->seq ? -1 : 1;
	}
	return cmp_file(pa, pb);
}

static void
merge_files(struct group *g)
{
	size_t o = 0;

	qsort(g->v, g->n, sizeof(*g->v), cmp_file);
	for (size_t i = 0; i < g->n; i++) {
		if (o > 0 && cmp_file(&g->v[o - 1], &g->v[i]) == 0)
			g->v[o - 1].files |= g->v[i].files;
		else
			g->v[o++] = g->v[i];
	}
	g->n = o;
}

static bool
same_stream(const struct seg *a, const struct seg *b)
{
	return memcmp(a->camera.b, b->camera.b, 16) == 0 && memcmp(a->stream.b, b->stream.b, 16) == 0;
}

/* ---- pass 2: the group in stream and seq order ----------------------------- */

/*
 * A segment file alone, whose header makes it the next segment of a stream
 * found here, is what the segment being recorded looks like: its manifest
 * is written when it is closed. Its bytes are not verified (nothing signs
 * them yet); removing the last manifest of a stream this way hides no more
 * than removing the whole last segment would, which no verifier can see.
 */
static const struct seg *
open_segment_of(const struct group *g, const struct seg *s, size_t ndecoded, uint64_t *seq)
{
	uint8_t hb[STG_SEG_HEADER_LEN];
	struct stg_seg_header h;
	char path[SEG_PATH];
	const struct seg *last = NULL;
	const char *why;
	ssize_t n;
	int fd;

	if (s->files != F_SEG)
		return NULL;
	seg_path(g, s, ".nvrseg", path);
	if ((fd = open_regular(path, &why)) < 0)
		return NULL;
	n = stg_read_full(fd, hb, sizeof(hb));
	close(fd);
	if (n != (ssize_t)sizeof(hb) || stg_seg_header_decode(hb, sizeof(hb), &h, &why) != NVR_OK ||
	    memcmp(h.segment.b, s->id.b, 16) != 0)
		return NULL;
	for (size_t i = 0; i < ndecoded; i++) {
		const struct seg *c = &g->v[i];

		if (memcmp(c->camera.b, h.camera.b, 16) == 0 && memcmp(c->stream.b, h.stream.b, 16) == 0)
			last = c; /* sorted by seq: the last one wins */
	}
	*seq = h.seq;
	return last != NULL && last->seq + 1 == h.seq ? last : NULL;
}

static void
finish_seg(struct vctx *v, const struct group *g, struct seg *s, const struct seg *prev)
{
	char path[SEG_PATH];
	uint64_t records = 0;

	seg_path(g, s, ".nvrseg", path);
	v->c->checked++;
	if (s->failed || !s->authentic) {
		/* a file is only ever compared with a manifest whose signature holds */
		fail(v, s, path, "%s", s->why != NULL ? s->why : "its manifest could not be checked (out of memory)");
	} else {
		check_key_file(v, s, path);
		check_file(v, g, s, path, &records);
	}
	if (s->decoded)
		check_link(v, g, s, prev, path);
	if (s->failed)
		v->c->failed++;
	else
		say(v, "OK", path, "seq %" PRIu64 ", %" PRIu64 " bytes, %" PRIu64 " records", s->seq, s->bytes, records);
}

static void
say_stream(struct vctx *v, const struct group *g, const struct seg *first, const struct seg *last, size_t n)
{
	char cam[NVR_UUID_STRLEN], st[NVR_UUID_STRLEN];

	nvr_uuid_format(&first->camera, cam);
	nvr_uuid_format(&first->stream, st);
	say(v, "STREAM", g->dirs[first->dir], "camera %s stream %s (%s): %zu %s, seq %" PRIu64 " to %" PRIu64, cam,
	    first->stream_name, st, n, plural(n, "segment", "segments"), first->seq, last->seq);
}

/* The segments without a decoded manifest (g->v[from ..]). */
static void
finish_undecoded(struct vctx *v, const struct group *g, size_t from)
{
	char path[SEG_PATH], lpath[SEG_PATH];
	const struct seg *last;
	uint64_t seq = 0;

	for (size_t i = from; i < g->n; i++) {
		if ((last = open_segment_of(g, &g->v[i], from, &seq)) == NULL) {
			finish_seg(v, g, &g->v[i], NULL);
			continue;
		}
		seg_path(g, &g->v[i], ".nvrseg", path);
		seg_path(g, last, ".nvrseg", lpath);
		note(v, path, "not verified: no manifest yet; its header makes it seq %" PRIu64 ", next after %s (the segment "
			      "being recorded: verify again once it is closed)",
		    seq, lpath);
	}
}

static void
verify_group(struct vctx *v, struct group *g)
{
	size_t i = 0, j;

	if (g->n == 0)
		return; /* qsort() must not see the NULL of an empty group */
	merge_files(g);
	for (size_t k = 0; k < g->n; k++)
		check_manifest(v, g, &g->v[k]);
	qsort(g->v, g->n, sizeof(*g->v), cmp_stream);
	while (i < g->n && g->v[i].decoded) {
		for (j = i + 1; j < g->n && g->v[j].decoded && same_stream(&g->v[i], &g->v[j]); j++)
			;
		v->c->streams++;
		say_stream(v, g, &g->v[i], &g->v[j - 1], j - i);
		for (size_t k = i; k < j; k++)
			finish_seg(v, g, &g->v[k], k > i ? &g->v[k - 1] : NULL);
		i = j;
	}
	finish_undecoded(v, g, i);
}

/* ---- walking the tree ----------------------------------------------------- */

/* "<uuid><suffix>", the UUID in the canonical lower-case form the writer
 * uses: any other spelling would not name the segment's other files. */
static bool
match_name(const char *name, nvr_uuid *id, unsigned *flag)
{
	char s[NVR_UUID_STRLEN], back[NVR_UUID_STRLEN];

	if (strlen(name) <= NVR_UUID_STRLEN - 1)
		return false;
	memcpy(s, name, NVR_UUID_STRLEN - 1);
	s[NVR_UUID_STRLEN - 1] = '\0';
	if (nvr_uuid_parse(s, id) != NVR_OK)
		return false;
	nvr_uuid_format(id, back);
	if (strcmp(back, s) != 0)
		return false;
	for (size_t i = 0; i < NVR_ARRAY_LEN(file_kinds); i++) {
		if (strcmp(name + NVR_UUID_STRLEN - 1, file_kinds[i].suffix) == 0) {
			*flag = file_kinds[i].flag;
			return true;
		}
	}
	return false;
}

/*
 * The tree is walked with two work lists rather than by recursion: the
 * folders still to read for the group being gathered, and the folders that
 * start groups of their own. The storage root and camera folders (level
 * 0 and 1 below the root) hold one group per subfolder, so that a stream
 * folder is one group; without a storage root (level -1) PATH is one.
 */
struct todo {
	char *path;
	int level; /* below the storage root; -1 without one */
	int depth; /* below the folder its group starts at */
};

struct todos {
	struct todo *v;
	size_t n, cap;
};

struct walk {
	struct todos inside; /* folders of the group being gathered */
	struct todos groups; /* folders that start a group, popped in path order */
};

static nvr_err
todo_push(struct todos *t, const char *path, int level, int depth)
{
	if (t->n == t->cap) {
		size_t c = t->cap ? 2 * t->cap : 16;
		struct todo *nv = realloc(t->v, c * sizeof(*nv));

		if (nv == NULL)
			return NVR_ERR_NOMEM;
		t->v = nv;
		t->cap = c;
	}
	if ((t->v[t->n].path = strdup(path)) == NULL)
		return NVR_ERR_NOMEM;
	t->v[t->n].level = level;
	t->v[t->n].depth = depth;
	t->n++;
	return NVR_OK;
}

/* Takes the last entry; the caller frees its path. */
static bool
todo_pop(struct todos *t, struct todo *out)
{
	if (t->n == 0)
		return false;
	*out = t->v[--t->n];
	return true;
}

static void
todos_free(struct todos *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].path);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* Descending, so that popping from the end gives ascending path order. */
static int
cmp_todo_desc(const void *pa, const void *pb)
{
	return strcmp(((const struct todo *)pb)->path, ((const struct todo *)pa)->path);
}

static nvr_err
walk_dir(struct vctx *v, struct walk *w, const char *child, const char *name, const struct todo *at)
{
	/* exports/: bundles the API made (verify each with nvrctl verify FILE). */
	if (at->level == 0 && (strcmp(name, "certs") == 0 || strcmp(name, "keys") == 0 || strcmp(name, "exports") == 0))
		return NVR_OK;
	if (at->level == 0 && strcmp(name, "quarantine") == 0) {
		note(v, child, "not verified: files the recorder set aside at start-up (torn or not indexed)");
		return NVR_OK;
	}
	if (at->level >= 0 && at->level < 2)
		return todo_push(&w->groups, child, at->level + 1, 0);
	if (at->depth >= MAX_DEPTH) {
		note(v, child, "not searched: more than %d folders below a stream folder", MAX_DEPTH);
		return NVR_OK;
	}
	return todo_push(&w->inside, child, at->level < 0 ? -1 : at->level + 1, at->depth + 1);
}

/* One entry of folder at (open as d); *di is its index in g once a
 * segment file was found in it. */
static nvr_err
walk_entry(struct vctx *v, struct group *g, struct walk *w, DIR *d, const struct todo *at, const char *name,
    size_t *di)
{
	char child[PATH_MAX];
	struct stat st;
	unsigned flag = 0;
	nvr_uuid id;
	nvr_err rc;
	int n = snprintf(child, sizeof(child), "%s/%s", strcmp(at->path, "/") == 0 ? "" : at->path, name);

	if (n < 0 || (size_t)n >= sizeof(child)) {
		fail(v, NULL, at->path, "an entry makes a path longer than %d bytes: not searched", PATH_MAX - 1);
		return NVR_OK;
	}
	if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		fail(v, NULL, child, "cannot read it: %s", strerror(errno));
		return NVR_OK;
	}
	if (S_ISDIR(st.st_mode))
		return walk_dir(v, w, child, name, at);
	if (S_ISLNK(st.st_mode)) {
		note(v, child, "a symbolic link: not followed (verify its target on its own)");
		return NVR_OK;
	}
	if (!S_ISREG(st.st_mode) || !match_name(name, &id, &flag)) {
		say(v, "SKIP", child, "not a segment, manifest or signature file");
		return NVR_OK;
	}
	if (*di == SIZE_MAX && (rc = group_dir(g, at->path, di)) != NVR_OK)
		return rc;
	return group_file(g, *di, &id, flag);
}

static nvr_err
read_folder(struct vctx *v, struct group *g, struct walk *w, const struct todo *at)
{
	DIR *d = opendir(at->path);
	size_t di = SIZE_MAX, groups_before = w->groups.n;
	struct dirent *e;
	nvr_err rc = NVR_OK;

	if (d == NULL) {
		fail(v, NULL, at->path, "cannot read this folder: %s", strerror(errno));
		return NVR_OK;
	}
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL)
			break;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((rc = walk_entry(v, g, w, d, at, e->d_name, &di)) != NVR_OK)
			break;
	}
	if (rc == NVR_OK && errno != 0)
		fail(v, NULL, at->path, "cannot list this folder to its end: %s", strerror(errno));
	closedir(d);
	qsort(w->groups.v + groups_before, w->groups.n - groups_before, sizeof(*w->groups.v), cmp_todo_desc);
	return rc;
}

/* Reads the folders of the group that starts at start, then verifies it. */
static nvr_err
do_group(struct vctx *v, struct walk *w, const struct todo *start)
{
	struct group g = { 0 };
	struct todo t;
	nvr_err rc = todo_push(&w->inside, start->path, start->level, 0);

	while (rc == NVR_OK && todo_pop(&w->inside, &t)) {
		rc = read_folder(v, &g, w, &t);
		free(t.path);
	}
	if (rc == NVR_OK)
		verify_group(v, &g);
	group_free(&g);
	return rc;
}

static nvr_err
verify_tree(struct vctx *v, int level)
{
	struct walk w = { { 0 }, { 0 } };
	struct todo t;
	nvr_err rc = todo_push(&w.groups, v->top, level, 0);

	while (rc == NVR_OK && todo_pop(&w.groups, &t)) {
		rc = do_group(v, &w, &t);
		free(t.path);
	}
	todos_free(&w.inside);
	todos_free(&w.groups);
	return rc;
}

/* PATH is one file: its segment alone, its other files found beside it. */
static nvr_err
verify_one(struct vctx *v, char *why, size_t whysize)
{
	const char *slash = strrchr(v->top, '/'), *name = slash + 1;
	char dir[PATH_MAX], path[SEG_PATH], id_s[NVR_UUID_STRLEN];
	struct group g = { 0 };
	struct stat st;
	unsigned flag;
	nvr_uuid id;
	size_t di;
	nvr_err rc;

	if (!match_name(name, &id, &flag)) {
		snprintf(why, whysize, "%s is not a segment file (<uuid>.nvrseg, .manifest.json or .manifest.json.sig)",
		    v->top);
		return NVR_ERR_INVAL;
	}
	snprintf(dir, sizeof(dir), "%.*s", slash == v->top ? 1 : (int)(slash - v->top), v->top);
	nvr_uuid_format(&id, id_s);
	if ((rc = group_dir(&g, dir, &di)) != NVR_OK)
		goto out;
	for (size_t i = 0; i < NVR_ARRAY_LEN(file_kinds); i++) {
		snprintf(path, sizeof(path), "%s/%s%s", slash == v->top ? "" : dir, id_s, file_kinds[i].suffix);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (rc = group_file(&g, di, &id, file_kinds[i].flag)) != NVR_OK)
			goto out;
	}
	verify_group(v, &g);
out:
	group_free(&g);
	return rc;
}

/* The storage root: the nearest folder at or above PATH with certs/. */
static void
find_root(struct vctx *v, bool isdir)
{
	char d[PATH_MAX], certs[PATH_MAX + 8];
	struct stat st;
	char *slash;

	snprintf(d, sizeof(d), "%s", v->top);
	for (bool first = true;; first = false) {
		if (!first || !isdir) {
			if (strcmp(d, "/") == 0)
				return;
			slash = strrchr(d, '/');
			slash[slash == d ? 1 : 0] = '\0';
		}
		snprintf(certs, sizeof(certs), "%s/certs", strcmp(d, "/") == 0 ? "" : d);
		if (stat(certs, &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(v->root, sizeof(v->root), "%s", d);
			return;
		}
	}
}

/* How many folders PATH is below the storage root; -1 without one. */
static int
level_of_top(const struct vctx *v)
{
	char buf[PATH_MAX];
	const char *parts[1];

	if (v->root[0] == '\0')
		return -1;
	return (int)below_root(v, v->top, buf, sizeof(buf), parts, 0);
}

/* ---- the whole run -------------------------------------------------------- */

static void
summary(struct vctx *v)
{
	const struct stg_verify_counts *c = v->c;
	FILE *f = v->o->out;
	char hex[65];

	for (const struct signer *sg = v->signers; sg != NULL; sg = sg->next) {
		if (sg->used == 0)
			continue;
		hex32(sg->fp, hex);
		fprintf(f, "signer: certificate SHA-256 %s signed %" PRIu64 " %s: %s\n", hex, sg->used,
		    plural(sg->used, "manifest", "manifests"),
		    v->trusted	     ? "the trusted certificate"
		    : v->o->pin != NULL ? "the pinned fingerprint"
					: "from certs/ of the storage root, checked against nothing; compare this "
					  "fingerprint with the recorder's published one");
	}
	fprintf(f, "%s: %" PRIu64 " %s in %" PRIu64 " %s checked, %" PRIu64 " failed, %" PRIu64 " other %s, %" PRIu64
		   " %s: %s\n",
	    v->o->summary != NULL ? v->o->summary : "summary", c->checked, plural(c->checked, "segment", "segments"),
	    c->streams, plural(c->streams, "stream", "streams"),
	    c->failed, c->problems, plural(c->problems, "failure", "failures"), c->notes, plural(c->notes, "note", "notes"),
	    c->failed == 0 && c->problems == 0 ? "all verified" : "NOT VERIFIED");
}

static nvr_err
run(struct vctx *v, char *why, size_t whysize)
{
	struct stat st;
	nvr_err rc;

	if (stat(v->top, &st) != 0) {
		snprintf(why, whysize, "cannot read %s: %s", v->top, strerror(errno));
		return NVR_ERR_IO;
	}
	find_root(v, S_ISDIR(st.st_mode));
	if (v->o->trust != NULL && (rc = load_trust(v, why, whysize)) != NVR_OK)
		return rc;
	if (v->root[0] == '\0' && !v->trusted) {
		snprintf(why, whysize, "no storage root (a folder with certs/) at or above %s to find signing certificates in",
		    v->top);
		return NVR_ERR_CONFIG;
	}
	if ((v->win = malloc(WINDOW)) == NULL || (v->text = malloc((size_t)STG_MANIFEST_MAX + 1)) == NULL ||
	    (v->md = EVP_MD_CTX_new()) == NULL)
		return NVR_ERR_NOMEM;
	if (v->root[0] == '\0')
		note(v, v->top, "no storage root (a folder with certs/) at or above it: sealed key files and folders are not checked");
	if (S_ISDIR(st.st_mode))
		rc = verify_tree(v, level_of_top(v));
	else if (S_ISREG(st.st_mode))
		rc = verify_one(v, why, whysize);
	else
		rc = NVR_ERR_INVAL;
	if (rc != NVR_OK)
		return rc;
	if (v->c->checked == 0)
		fail(v, NULL, v->top, "no segment found");
	summary(v);
	return NVR_OK;
}

nvr_err
stg_verify_path(const char *path, const struct stg_verify_opts *opts, struct stg_verify_counts *counts, char *why,
    size_t whysize)
{
	struct vctx *v = calloc(1, sizeof(*v));
	nvr_err rc = NVR_ERR_NOMEM;

	memset(counts, 0, sizeof(*counts));
	if (whysize > 0)
		why[0] = '\0';
	if (opts->out == NULL) {
		rc = NVR_ERR_INVAL;
		snprintf(why, whysize, "no stream to write the report to");
		goto out;
	}
	if (v == NULL)
		goto out;
	v->o = opts;
	v->c = counts;
	if (realpath(path, v->top) == NULL) {
		snprintf(why, whysize, "cannot read %s: %s", path, strerror(errno));
		rc = NVR_ERR_IO;
		goto out;
	}
	rc = run(v, why, whysize);
out:
	if (rc != NVR_OK && whysize > 0 && why[0] == '\0')
		snprintf(why, whysize, "%s: %s", path, rc == NVR_ERR_INVAL ? "not a file or folder" : nvr_err_str(rc));
	if (v != NULL) {
		signers_free(v);
		EVP_MD_CTX_free(v->md);
		free(v->text);
		free(v->win);
		free(v);
	}
	return rc;
}

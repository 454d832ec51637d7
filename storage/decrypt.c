/*
 * decrypt.c: one camera stream's recordings, decrypted with the key
 * holder's private key into an MP4 (storage/decrypt.h).
 *
 * In order: find the stream's manifests below the folder, choose the
 * camera and the segments that overlap the range, verify them
 * (storage/verify.h, and the hash chain between them), unseal each key,
 * then stream each segment file record by record through SRTP and into
 * the clip (storage/clip.h). Each segment's bytes are hashed again as they
 * are decrypted: what goes into the clip is what was verified, even if the
 * file changed in between.
 *
 * It must never write anything but the clip (under a temporary name until
 * it is whole), never print a key, and never hold a segment whole in
 * memory: one record at a time, the clip's queue bounded.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <gst/gst.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <srtp2/srtp.h>

#include "nvrd/encode.h"
#include "nvrd/uuid.h"
#include "storage/clip.h"
#include "storage/decrypt.h"
#include "storage/fileio.h"
#include "storage/manifest.h"
#include "storage/seal.h"
#include "storage/segment.h"
#include "storage/verify.h"

#define NS 1000000000LL

struct seg {
	struct stg_manifest m;
	uint8_t manifest_sha[32]; /* of its manifest's bytes: the next one's prev_manifest_sha256 */
	char *path;               /* its .nvrseg (owned) */
};

struct key {
	nvr_uuid id;
	uint8_t secret[STG_SEAL_MAX_SECRET]; /* master key || salt: wiped before it is freed */
	size_t len;
};

/* The clip's clock: RTP timestamps unwrapped from an anchor, which moves
 * to the manifests' wall-clock time where the RTP clock does not go on
 * (a new session, or missing segments). */
struct timeline {
	bool started;      /* a packet is in the clip */
	bool reanchor;     /* the next packet starts a new run of RTP time */
	int64_t t0_ns;     /* wall-clock time of the clip's first packet */
	uint32_t prev_ts;  /* RTP timestamp of the previous packet */
	int64_t ticks;     /* RTP ticks from the anchor to it */
	int64_t anchor_ns; /* clip time of the anchor */
	int64_t last_pts;
};

/* One decryption: everything stg_decrypt_dir() owns while it runs. */
struct run {
	const struct stg_decrypt_opts *o;
	const char *dir, *stream;
	FILE *report;
	struct seg *segs; /* of the stream, then of the camera and range chosen */
	size_t nsegs, cap;
	nvr_uuid *broken; /* cameras with a manifest that does not decode */
	size_t nbroken;
	uint64_t twins; /* segments left out for a seq another one claims (drop_twins) */
	struct key *keys; /* room for keycap */
	size_t nkeys, keycap;
	uint8_t *rec;     /* one record: header and up to 65535 bytes */
	struct stg_clip *clip;
	char *tmp;        /* the clip's temporary path; NULL once gone */
	struct timeline tl;
	struct stg_decrypt_result *res;
	char *why;
	size_t whysize;
};

static const struct suite {
	const char *name;
	void (*set)(srtp_crypto_policy_t *);
	size_t secret_len; /* master key || salt (FORMAT.md 7.2) */
} suites[] = {
	{ "AES_CM_128_HMAC_SHA1_80", srtp_crypto_policy_set_rtp_default, 30 }, /* a macro for it */
	{ "AES_CM_128_HMAC_SHA1_32", srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32, 30 },
	{ "AES_256_CM_HMAC_SHA1_80", srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80, 46 },
	{ "AES_256_CM_HMAC_SHA1_32", srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32, 46 },
	{ "AEAD_AES_128_GCM", srtp_crypto_policy_set_aes_gcm_128_16_auth, 28 },
	{ "AEAD_AES_256_GCM", srtp_crypto_policy_set_aes_gcm_256_16_auth, 44 },
};

static nvr_err __attribute__((format(printf, 3, 4)))
fail(struct run *r, nvr_err rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, r->whysize, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- finding the segments ------------------------------------------------ */

/* Adds the segment of one manifest file of camera cam. One that cannot be
 * read is not a segment to decrypt, but it is a failure to verify. */
static nvr_err
add_manifest(struct run *r, const nvr_uuid *cam, const char *dir, const char *name)
{
	char *path = g_build_filename(dir, name, NULL), *text = NULL;
	struct seg *s;
	const char *why = NULL;
	size_t len = 0;
	nvr_err rc = NVR_OK;

	if (r->nsegs == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->segs = g_renew(struct seg, r->segs, r->cap);
	}
	s = &r->segs[r->nsegs];
	memset(s, 0, sizeof(*s));
	if (stg_read_small(path, STG_MANIFEST_MAX, 0, &text, &len) != NVR_OK || stg_manifest_decode(text, len, &s->m, &why) != NVR_OK) {
		fprintf(r->report, "FAIL %s: %s\n", path, why != NULL ? why : "cannot read it");
		r->broken = g_renew(nvr_uuid, r->broken, r->nbroken + 1);
		r->broken[r->nbroken++] = *cam;
		goto out;
	}
	if (EVP_Digest(text, len, s->manifest_sha, NULL, EVP_sha256(), NULL) != 1) {
		rc = NVR_ERR_CRYPTO;
		goto out;
	}
	s->path = g_strdup_printf("%.*s.nvrseg", (int)(strlen(path) - strlen(".manifest.json")), path);
	r->nsegs++;
out:
	free(text);
	g_free(path);
	return rc;
}

static bool
ends_with(const char *s, const char *end)
{
	size_t n = strlen(s), e = strlen(end);

	return n > e && strcmp(s + n - e, end) == 0;
}

/* Never through a symbolic link, as the verifier. */
static bool
is_dir(DIR *d, const struct dirent *e)
{
	struct stat st;

	if (e->d_type != DT_UNKNOWN) /* some file systems do not say */
		return e->d_type == DT_DIR;
	return fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

struct folder {
	char *path;
	int levels; /* below it to the day folders */
};

/* Lists one folder: subfolders onto todo while levels remain, manifests
 * once in a day folder. */
static nvr_err
scan_folder(struct run *r, const nvr_uuid *cam, const struct folder *f, GArray *todo)
{
	DIR *d = opendir(f->path);
	struct dirent *e;
	nvr_err rc = NVR_OK;

	if (d == NULL)
		return NVR_OK; /* no such stream below this camera */
	while (rc == NVR_OK && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (f->levels > 0 && is_dir(d, e)) {
			struct folder sub = { g_build_filename(f->path, e->d_name, NULL), f->levels - 1 };
			g_array_append_val(todo, sub);
		} else if (f->levels == 0 && ends_with(e->d_name, ".manifest.json")) {
			rc = add_manifest(r, cam, f->path, e->d_name);
		}
	}
	closedir(d);
	return rc;
}

/* Adds the manifests of one stream folder: <stream>/<yyyy>/<mm>/<dd>/. */
static nvr_err
scan_stream(struct run *r, const nvr_uuid *cam, const char *path)
{
	GArray *todo = g_array_new(FALSE, FALSE, sizeof(struct folder));
	struct folder f = { g_strdup(path), 3 };
	nvr_err rc = NVR_OK;

	g_array_append_val(todo, f);
	while (todo->len > 0) {
		f = g_array_index(todo, struct folder, todo->len - 1);
		g_array_set_size(todo, todo->len - 1);
		if (rc == NVR_OK)
			rc = scan_folder(r, cam, &f, todo);
		g_free(f.path);
	}
	g_array_free(todo, TRUE);
	return rc;
}

/* Every camera folder's stream folder: <dir>/<camera_id>/<stream>. */
static nvr_err
scan_root(struct run *r)
{
	DIR *d = opendir(r->dir);
	struct dirent *e;
	nvr_uuid id;
	nvr_err rc = NVR_OK;

	if (d == NULL)
		return fail(r, NVR_ERR_IO, "cannot read %s: %s", r->dir, strerror(errno));
	while (rc == NVR_OK && (e = readdir(d)) != NULL) {
		if (nvr_uuid_parse(e->d_name, &id) == NVR_OK) {
			char *sub = g_build_filename(r->dir, e->d_name, r->stream, NULL);
			rc = scan_stream(r, &id, sub);
			g_free(sub);
		}
	}
	closedir(d);
	return rc;
}

/* ---- choosing the camera and the range ---------------------------------- */

static bool
camera_is(const struct stg_manifest *m, const char *want)
{
	char id[NVR_UUID_STRLEN];

	nvr_uuid_format(&m->camera, id);
	return g_ascii_strcasecmp(id, want) == 0 || strcmp(m->camera_name, want) == 0;
}

static void
drop_seg(struct seg *s)
{
	g_free(s->path);
	s->path = NULL;
}

/* Keeps the segments for which keep() is true, in order. */
static void
filter(struct run *r, bool (*keep)(const struct run *, const struct seg *))
{
	size_t n = 0;

	for (size_t i = 0; i < r->nsegs; i++) {
		if (keep(r, &r->segs[i]))
			r->segs[n++] = r->segs[i];
		else
			drop_seg(&r->segs[i]);
	}
	r->nsegs = n;
}

static bool
keep_camera(const struct run *r, const struct seg *s)
{
	return camera_is(&s->m, r->o->camera);
}

static bool
keep_range(const struct run *r, const struct seg *s)
{
	return (!r->o->has_from || s->m.end_ns >= r->o->from_ns) && (!r->o->has_to || s->m.start_ns < r->o->to_ns);
}

/* The cameras found, for the message that asks to choose one. */
static nvr_err
ask_camera(struct run *r)
{
	GString *list = g_string_new(NULL);
	char id[NVR_UUID_STRLEN];

	for (size_t i = 0; i < r->nsegs; i++) {
		nvr_uuid_format(&r->segs[i].m.camera, id);
		if (strstr(list->str, id) == NULL)
			g_string_append_printf(list, "%s%s (%s)", list->len ? ", " : "", r->segs[i].m.camera_name, id);
	}
	fail(r, NVR_ERR_INVAL, "%s holds recordings of more than one camera: %s; choose one with --camera", r->dir,
	    list->str);
	g_string_free(list, TRUE);
	return NVR_ERR_INVAL;
}

/* By seq, then path: two files that claim one seq (a copy, or a forgery)
 * come in the same order every run. */
static int
by_seq(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	if (x->m.seq != y->m.seq)
		return x->m.seq < y->m.seq ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* One segment a seq: a stream's clock cannot run back. The others are said
 * (and nvrctl verify fails them: a stream has one segment a seq). */
static void
drop_twins(struct run *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nsegs; i++) {
		if (n > 0 && r->segs[i].m.seq == r->segs[n - 1].m.seq) {
			fprintf(r->report, "FAIL %s: it claims seq %" PRIu64 " as %s does: left out of the clip\n",
			    r->segs[i].path, r->segs[i].m.seq, r->segs[n - 1].path);
			drop_seg(&r->segs[i]);
			r->twins++;
			continue;
		}
		r->segs[n++] = r->segs[i];
	}
	r->nsegs = n;
}

static nvr_err
choose(struct run *r)
{
	if (r->o->camera != NULL)
		filter(r, keep_camera);
	for (size_t i = 1; i < r->nsegs; i++) {
		if (memcmp(r->segs[i].m.camera.b, r->segs[0].m.camera.b, 16) != 0)
			return ask_camera(r);
	}
	if (r->nsegs == 0)
		return fail(r, NVR_ERR_INVAL, "no recordings of stream %s%s%s below %s", r->stream,
		    r->o->camera ? " of camera " : "", r->o->camera ? r->o->camera : "", r->dir);
	qsort(r->segs, r->nsegs, sizeof(*r->segs), by_seq);
	drop_twins(r);
	filter(r, keep_range);
	if (r->nsegs == 0)
		return fail(r, NVR_ERR_INVAL, "no recording of stream %s overlaps the range asked for", r->stream);
	return NVR_OK;
}

/* ---- verifying ------------------------------------------------------------ */

/* Copies the FAIL lines of a verifier's report to the run's report. */
static void
copy_failures(struct run *r, FILE *f)
{
	char line[4096];

	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "FAIL ", 5) == 0)
			fputs(line, r->report);
	}
}

/* Each segment chosen as nvrctl verify checks it (signature, hash, records,
 * sealed key), and the chain between consecutive ones: only what goes
 * into the clip, not the whole folder. *bad counts what did not verify. */
static nvr_err
verify_chosen(struct run *r, uint64_t *bad)
{
	FILE *f = tmpfile();
	struct stg_verify_opts vo = { .out = f, .trust = r->o->trust, .pin = r->o->pin };
	struct stg_verify_counts c;
	char why[1024];
	nvr_err rc = NVR_OK;

	*bad = 0;
	if (f == NULL)
		return fail(r, NVR_ERR_IO, "cannot make a temporary file: %s", strerror(errno));
	if (r->nsegs > 0)
		nvr_hex_encode(r->segs[0].m.signer, 32, r->res->signer);
	for (size_t i = 0; i < r->nsegs && rc == NVR_OK; i++) {
		const struct seg *s = &r->segs[i], *p = i > 0 ? &r->segs[i - 1] : NULL;
		if ((rc = stg_verify_path(s->path, &vo, &c, why, sizeof(why))) != NVR_OK) {
			fail(r, rc, "cannot verify %s: %s", s->path, why);
		} else if (c.failed != 0 || c.problems != 0) {
			(*bad)++;
		} else if (memcmp(s->m.signer, r->segs[0].m.signer, 32) != 0) {
			/* one key for the clip, so that one fingerprint vouches for it */
			fprintf(f, "FAIL %s: signed by another key than seq %" PRIu64 " (%s)\n", s->path,
			    r->segs[0].m.seq, r->res->signer);
			(*bad)++;
		} else if (p != NULL && s->m.seq == p->m.seq + 1 &&
			   (!s->m.has_prev || memcmp(s->m.prev_sha256, p->manifest_sha, 32) != 0)) {
			fprintf(f, "FAIL %s: its prev_manifest_sha256 is not the SHA-256 of seq %" PRIu64 "'s manifest\n",
			    s->path, p->m.seq);
			(*bad)++;
		}
	}
	for (size_t i = 0; i < r->nbroken && r->nsegs > 0; i++)
		*bad += memcmp(r->broken[i].b, r->segs[0].m.camera.b, 16) == 0;
	*bad += r->twins;
	copy_failures(r, f);
	fclose(f);
	return rc;
}

/* Missing seqs between the segments chosen: said, not refused (retention
 * or an export may have left them out), and the clip's clock re-anchors. */
static void
note_gaps(struct run *r)
{
	for (size_t i = 1; i < r->nsegs; i++) {
		const struct stg_manifest *a = &r->segs[i - 1].m, *b = &r->segs[i].m;
		if (b->seq != a->seq + 1) {
			char from[32], to[32];
			stg_time_format(a->end_ns, from);
			stg_time_format(b->start_ns, to);
			fprintf(r->report, "nvrctl: segments %" PRIu64 " to %" PRIu64 " are missing: nothing from %s to %s\n",
			    a->seq + 1, b->seq - 1, from, to);
			r->res->gaps++;
		}
	}
}

/* ---- keys ------------------------------------------------------------------ */

static const struct suite *
suite_of(const char *name)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (strcmp(suites[i].name, name) == 0)
			return &suites[i];
	}
	return NULL;
}

/* Opens keys/<id>.sealed.json with the holder's key: the first of its
 * sealed copies that opens. */
static nvr_err
unseal_key(struct run *r, struct key *k)
{
	char id[NVR_UUID_STRLEN], *path;
	json_t *doc, *arr;
	json_error_t jerr;
	nvr_err rc = NVR_ERR_CRYPTO;

	nvr_uuid_format(&k->id, id);
	path = g_strdup_printf("%s/keys/%s.sealed.json", r->dir, id);
	if ((doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		rc = fail(r, NVR_ERR_INVAL, "cannot read the sealed key %s: %s", path, jerr.text);
		goto out;
	}
	arr = json_object_get(doc, "sealed");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		if (stg_unseal(&k->id, r->o->holder, json_array_get(arr, i), k->secret, &k->len) == NVR_OK) {
			rc = NVR_OK;
			goto out;
		}
	}
	fail(r, rc, "no sealed copy of key %s opens with this key (%s holds %zu, for other key holders)", id, path,
	    json_array_size(arr));
out:
	json_decref(doc);
	g_free(path);
	return rc;
}

/* Unseals every key the chosen segments need, before anything is written:
 * a wrong key fails at once. */
static nvr_err
unseal_all(struct run *r)
{
	nvr_err rc;

	r->keys = g_new0(struct key, r->nsegs);
	r->keycap = r->nsegs;
	for (size_t i = 0; i < r->nsegs; i++) {
		size_t k = 0;
		while (k < r->nkeys && memcmp(r->keys[k].id.b, r->segs[i].m.key.b, 16) != 0)
			k++;
		if (k < r->nkeys)
			continue;
		r->keys[k].id = r->segs[i].m.key;
		r->nkeys++;
		if ((rc = unseal_key(r, &r->keys[k])) != NVR_OK)
			return rc;
	}
	return NVR_OK;
}

static struct key *
key_of(const struct run *r, const nvr_uuid *id)
{
	for (size_t k = 0; k < r->nkeys; k++) {
		if (memcmp(r->keys[k].id.b, id->b, 16) == 0)
			return &r->keys[k];
	}
	return NULL;
}

/* A receiving SRTP session for one segment, its rollover counter set from
 * the manifest's first index: a session per segment decrypts any segment
 * on its own, whatever came before it (libsrtp takes the first packet's
 * index as ROC || its sequence number, RFC 3711 3.3.1). */
static nvr_err
open_session(struct run *r, const struct seg *s, srtp_t *out)
{
	const struct suite *su = suite_of(s->m.suite);
	struct key *k = key_of(r, &s->m.key);
	srtp_policy_t pol;

	if (su == NULL)
		return fail(r, NVR_ERR_INVAL, "%s: SRTP suite %s cannot be decrypted", s->path, s->m.suite);
	if (k == NULL || k->len != su->secret_len)
		return fail(r, NVR_ERR_CRYPTO, "%s: the unsealed key is not a %s key", s->path, su->name);
	memset(&pol, 0, sizeof(pol));
	su->set(&pol.rtp);
	su->set(&pol.rtcp);
	pol.ssrc.type = ssrc_specific;
	pol.ssrc.value = s->m.ssrc;
	pol.key = k->secret; /* copied by libsrtp, which wipes its copy */
	pol.window_size = 1024;
	if (srtp_create(out, &pol) != srtp_err_status_ok)
		return fail(r, NVR_ERR_CRYPTO, "libsrtp refuses suite %s", su->name);
	if (srtp_set_stream_roc(*out, s->m.ssrc, (uint32_t)(s->m.first_index >> 16)) != srtp_err_status_ok) {
		srtp_dealloc(*out);
		*out = NULL;
		return fail(r, NVR_ERR_CRYPTO, "libsrtp cannot set the rollover counter of %s", s->path);
	}
	return NVR_OK;
}

/* ---- reading a segment ---------------------------------------------------- */

/* A segment file read record by record, hashed as it is read. */
struct reader {
	FILE *f;
	EVP_MD_CTX *sha; /* NULL: not hashed */
	uint64_t off;    /* of the next byte */
};

static bool
read_exact(struct reader *rd, uint8_t *buf, size_t n)
{
	if (n > 0 && fread(buf, 1, n, rd->f) != n)
		return false;
	if (rd->sha != NULL && EVP_DigestUpdate(rd->sha, buf, n) != 1)
		return false;
	rd->off += n;
	return true;
}

/* The next record into buf (room for a whole one): 1, 0 at the exact end
 * of the file, -1 when what follows is not a record. */
static int
next_record(struct reader *rd, uint8_t *buf, struct stg_record *rec)
{
	uint32_t len;
	int c = getc(rd->f);

	if (c == EOF)
		return ferror(rd->f) ? -1 : 0;
	ungetc(c, rd->f);
	if (!read_exact(rd, buf, STG_SEG_RECORD_HEADER))
		return -1;
	len = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
	if (len > STG_SEG_MAX_PAYLOAD || !read_exact(rd, buf + STG_SEG_RECORD_HEADER, len))
		return -1;
	return stg_seg_record_decode(buf, STG_SEG_RECORD_HEADER + len, rec) == NVR_OK ? 1 : -1;
}

/* Opens a segment and reads its header, which must name its manifest's
 * segment and key. */
static nvr_err
open_segment(struct run *r, const struct seg *s, struct reader *rd, bool hash)
{
	uint8_t h[STG_SEG_HEADER_LEN];
	struct stg_seg_header hd;
	const char *why = "too short";

	memset(rd, 0, sizeof(*rd));
	if ((rd->f = fopen(s->path, "re")) == NULL)
		return fail(r, NVR_ERR_IO, "cannot read %s: %s", s->path, strerror(errno));
	setvbuf(rd->f, NULL, _IOFBF, (size_t)1 << 20);
	if (hash && ((rd->sha = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(rd->sha, EVP_sha256(), NULL) != 1))
		return fail(r, NVR_ERR_CRYPTO, "cannot hash %s", s->path);
	if (!read_exact(rd, h, sizeof(h)) || stg_seg_header_decode(h, sizeof(h), &hd, &why) != NVR_OK)
		return fail(r, NVR_ERR_INVAL, "%s: not a segment file: %s", s->path, why);
	if (memcmp(hd.segment.b, s->m.segment.b, 16) != 0 || memcmp(hd.key.b, s->m.key.b, 16) != 0)
		return fail(r, NVR_ERR_INVAL, "%s: its header does not name its manifest's segment and key", s->path);
	return NVR_OK;
}

static void
close_segment(struct reader *rd)
{
	if (rd->f != NULL)
		fclose(rd->f);
	EVP_MD_CTX_free(rd->sha);
	memset(rd, 0, sizeof(*rd));
}

static uint32_t
rtp_ts(const uint8_t *p)
{
	return (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
}

/* A segment's clock: the wall-clock time of each packet from the
 * manifest's start_time and the RTP ticks since its first packet. */
struct segclock {
	const struct stg_manifest *m;
	uint32_t prev;
	int64_t ticks;
};

static int64_t
segclock_time(struct segclock *sc, uint32_t ts)
{
	sc->ticks += (int32_t)(ts - sc->prev);
	sc->prev = ts;
	return sc->m->start_ns + sc->ticks * NS / sc->m->clock_rate;
}

/* Where the clip starts in the first segment when --from cuts it: at the
 * last clean point (key frame) at or before --from, so the moment asked
 * for can be decoded; else at the first clean point after it; else (no
 * clean point marked) at the first packet from --from on. */
static nvr_err
find_start(struct run *r, const struct seg *s, uint64_t *start)
{
	struct reader rd;
	struct stg_record rec;
	struct segclock sc = { &s->m, s->m.first_rtp_ts, 0 };
	uint64_t at, before = 0, after = 0, plain = 0;
	nvr_err rc;

	if ((rc = open_segment(r, s, &rd, false)) != NVR_OK)
		goto out;
	for (at = rd.off; after == 0 && next_record(&rd, r->rec, &rec) > 0; at = rd.off) {
		int64_t t;
		if (rec.kind != STG_REC_RTP || rec.len < 12)
			continue;
		t = segclock_time(&sc, rtp_ts(rec.data));
		if (t <= r->o->from_ns && (rec.flags & STG_REC_CLEAN))
			before = at;
		else if (t > r->o->from_ns && (rec.flags & STG_REC_CLEAN))
			after = at;
		if (t >= r->o->from_ns && plain == 0)
			plain = at;
	}
	*start = before ? before : after ? after : plain;
out:
	close_segment(&rd);
	return rc;
}

/* ---- the clip --------------------------------------------------------------- */

/* The temporary file next to the output that the clip is made in. */
static nvr_err
make_temp(struct run *r)
{
	char *dir = g_path_get_dirname(r->o->out), *base = g_path_get_basename(r->o->out);
	mode_t mask = umask(077);
	int fd;

	umask(mask);
	r->tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
	g_free(dir);
	g_free(base);
	if ((fd = mkstemp(r->tmp)) < 0) {
		g_free(r->tmp);
		r->tmp = NULL;
		return fail(r, NVR_ERR_IO, "cannot make a file next to %s: %s", r->o->out, strerror(errno));
	}
	/* a clip for sharing: as a file made by the user would be */
	if (fchmod(fd, 0666 & ~mask) != 0) {
		close(fd);
		return fail(r, NVR_ERR_IO, "cannot set the mode of %s: %s", r->tmp, strerror(errno));
	}
	close(fd);
	return NVR_OK;
}

/* What the signer was checked against, for the clip's comment. */
static const char *
anchor_of(const struct stg_decrypt_opts *o)
{
	if (o->trust != NULL)
		return "the trusted certificate (--trust)";
	if (o->pin != NULL)
		return "the pinned fingerprint (--fingerprint)";
	return "signer not checked against a trusted certificate";
}

static nvr_err
open_clip(struct run *r, const struct seg *s, int64_t t0)
{
	char id[NVR_UUID_STRLEN], start[32], *title, *comment;
	struct stg_clip_info info = {
		.codec = s->m.codec, .clock_rate = s->m.clock_rate, .payload_type = s->m.payload_type, .start_ns = t0,
	};
	nvr_err rc;

	nvr_uuid_format(&s->m.camera, id);
	title = g_strdup_printf("%s (camera %s), stream %s", s->m.camera_name, id, s->m.stream_name);
	stg_time_format(t0, start);
	comment = g_strdup_printf("%s; signed by the key of certificate SHA-256 %s, %s; starts %s (%s time)%s; "
				  "decrypted by nvrctl decrypt from signed recordings (docs/FORMAT.md)",
	    r->res->verified ? "verified" : "UNVERIFIED EVIDENCE: the recordings did not verify and were decrypted with --force",
	    r->res->signer, anchor_of(r->o), start, s->m.time_source, r->res->gaps ? "; segments are missing in between" : "");
	info.title = title;
	info.comment = comment;
	rc = stg_clip_open(r->tmp, &info, &r->clip, r->why, r->whysize);
	g_free(title);
	g_free(comment);
	return rc;
}

/* The clip time of a packet at wall-clock t with RTP timestamp ts. */
static uint64_t
clip_time(struct timeline *tl, const struct stg_manifest *m, uint32_t ts, int64_t t)
{
	int64_t pts;

	if (!tl->started) {
		tl->started = true;
		tl->t0_ns = t;
	}
	if (tl->reanchor) {
		tl->reanchor = false;
		tl->anchor_ns = t - tl->t0_ns > tl->last_pts ? t - tl->t0_ns : tl->last_pts;
		tl->ticks = 0;
		tl->prev_ts = ts;
	}
	tl->ticks += (int32_t)(ts - tl->prev_ts);
	tl->prev_ts = ts;
	pts = tl->anchor_ns + tl->ticks * NS / m->clock_rate;
	if (pts < 0)
		pts = 0;
	if (pts > tl->last_pts)
		tl->last_pts = pts;
	return (uint64_t)pts;
}

/* Decrypts one RTP record and, if it is in the range, queues it. Records
 * before the start (early) are decrypted too, so that libsrtp follows
 * the rollover counter. */
static nvr_err
take_packet(struct run *r, const struct seg *s, srtp_t srtp, const struct stg_record *rec, int64_t t, bool early,
    bool *done)
{
	uint8_t *pkt;
	int n = (int)rec->len;
	nvr_err rc;

	pkt = g_memdup2(rec->data, rec->len);
	if (srtp_unprotect(srtp, pkt, &n) != srtp_err_status_ok) {
		r->res->failed++;
		g_free(pkt);
		return NVR_OK;
	}
	if (early || (r->o->has_to && t >= r->o->to_ns)) {
		*done = !early;
		g_free(pkt);
		return NVR_OK;
	}
	if (r->clip == NULL && (rc = open_clip(r, s, t)) != NVR_OK) {
		g_free(pkt);
		return rc;
	}
	if (r->res->packets++ == 0)
		r->res->first_ns = t;
	r->res->last_ns = t;
	return stg_clip_push(r->clip, pkt, (size_t)n, clip_time(&r->tl, &s->m, rtp_ts(pkt), t), r->why, r->whysize);
}

/* Decrypts segment i into the clip from the record at offset start (0: all
 * of it), up to --to (then *done), and checks that the bytes read are
 * those its manifest signed. */
static nvr_err
decrypt_segment(struct run *r, size_t i, uint64_t start, bool *done)
{
	const struct seg *s = &r->segs[i];
	struct reader rd;
	struct stg_record rec;
	struct segclock sc = { &s->m, s->m.first_rtp_ts, 0 };
	srtp_t srtp = NULL;
	uint8_t sha[32];
	uint64_t at = STG_SEG_HEADER_LEN;
	nvr_err rc;
	int more;

	if ((rc = open_segment(r, s, &rd, true)) != NVR_OK || (rc = open_session(r, s, &srtp)) != NVR_OK)
		goto out;
	while ((more = next_record(&rd, r->rec, &rec)) > 0) {
		if (rec.kind != STG_REC_RTP || *done)
			; /* RTCP and PAD carry no media; past --to, only hashed */
		else if (rec.len < 12)
			r->res->failed++; /* no RTP header */
		else if ((rc = take_packet(r, s, srtp, &rec, segclock_time(&sc, rtp_ts(rec.data)), at < start, done)) !=
			 NVR_OK)
			goto out;
		at = rd.off;
	}
	if (more < 0 || EVP_DigestFinal_ex(rd.sha, sha, NULL) != 1 || memcmp(sha, s->m.sha256, 32) != 0) {
		if (!r->o->force) {
			rc = fail(r, NVR_ERR_INVAL, "%s changed since it was verified: it is not its manifest's", s->path);
			goto out;
		}
		fprintf(r->report, "nvrctl: WARNING: %s is not its manifest's (%s)\n", s->path,
		    more < 0 ? "its records end early" : "SHA-256 differs");
	}
	r->res->segments++;
out:
	if (srtp != NULL)
		srtp_dealloc(srtp);
	close_segment(&rd);
	return rc;
}

/* Whether segment i goes on where the one before it ended: same session
 * key, next seq. Otherwise the clip's clock re-anchors on wall time. */
static bool
continues(const struct run *r, size_t i)
{
	return i > 0 && r->segs[i].m.seq == r->segs[i - 1].m.seq + 1 &&
	    memcmp(r->segs[i].m.key.b, r->segs[i - 1].m.key.b, 16) == 0;
}

/* The codec and clock must stay those the clip was made for. */
static nvr_err
same_format(struct run *r, size_t i)
{
	const struct stg_manifest *a = &r->segs[0].m, *b = &r->segs[i].m;

	if (strcmp(a->codec, b->codec) != 0 || a->clock_rate != b->clock_rate || a->payload_type != b->payload_type ||
	    b->clock_rate <= 0)
		return fail(r, NVR_ERR_INVAL,
		    "the stream changes format at segment %" PRIu64 " (%s/%d to %s/%d): decrypt each part with --from and --to",
		    b->seq, a->codec, a->clock_rate, b->codec, b->clock_rate);
	return NVR_OK;
}

static nvr_err
decrypt_all(struct run *r)
{
	uint64_t start = 0;
	bool done = false;
	nvr_err rc;

	if (!stg_clip_codec_ok(r->segs[0].m.codec))
		return fail(r, NVR_ERR_INVAL, "no MP4 for codec %s (H264, H265 and JPEG are supported)", r->segs[0].m.codec);
	if (r->o->has_from && r->o->from_ns > r->segs[0].m.start_ns && (rc = find_start(r, &r->segs[0], &start)) != NVR_OK)
		return rc;
	for (size_t i = 0; i < r->nsegs && !done; i++) {
		if ((rc = same_format(r, i)) != NVR_OK)
			return rc;
		r->tl.reanchor = r->tl.reanchor || !continues(r, i);
		if ((rc = decrypt_segment(r, i, i == 0 ? start : 0, &done)) != NVR_OK)
			return rc;
	}
	if (r->clip == NULL)
		return fail(r, NVR_ERR_INVAL, "no packet decrypted in the range: nothing to write");
	return NVR_OK;
}

/* Finishes the clip, makes it durable, and puts it in place: link() so
 * that a file created meanwhile under that name is never replaced. */
static nvr_err
place_clip(struct run *r)
{
	struct stat st;
	nvr_err rc;
	int fd;

	if ((rc = stg_clip_finish(r->clip, r->why, r->whysize)) != NVR_OK)
		return rc;
	if ((fd = open(r->tmp, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) != 0 || fstat(fd, &st) != 0) {
		rc = fail(r, NVR_ERR_IO, "cannot write %s: %s", r->tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	if (link(r->tmp, r->o->out) != 0 && (errno == EEXIST || rename(r->tmp, r->o->out) != 0))
		return fail(r, NVR_ERR_IO, "cannot put the clip at %s: %s", r->o->out, strerror(errno));
	unlink(r->tmp); /* gone already if rename() placed it */
	g_free(r->tmp);
	r->tmp = NULL;
	r->res->bytes = (uint64_t)st.st_size;
	return NVR_OK;
}

/* Verifies the chosen segments; refuses unless forced, and then says so. */
static nvr_err
check_evidence(struct run *r)
{
	uint64_t bad;
	nvr_err rc;

	if ((rc = verify_chosen(r, &bad)) != NVR_OK)
		return rc;
	r->res->verified = bad == 0;
	if (bad == 0)
		return NVR_OK;
	if (!r->o->force)
		return fail(r, NVR_ERR_INVAL,
		    "%" PRIu64 " of %zu segments do not verify (above): nothing written; --force decrypts them anyway, "
		    "as unverified evidence", bad, r->nsegs);
	fprintf(r->report,
	    "nvrctl: WARNING: %" PRIu64 " of %zu segments DO NOT VERIFY. The clip is made with --force from\n"
	    "nvrctl: WARNING: UNVERIFIED EVIDENCE: it may have been altered; its metadata says so.\n", bad, r->nsegs);
	return NVR_OK;
}

static void
fill_result(struct run *r)
{
	const struct stg_manifest *m = &r->segs[r->nsegs - 1].m;

	nvr_uuid_format(&m->camera, r->res->camera_id);
	g_strlcpy(r->res->camera, m->camera_name, sizeof(r->res->camera));
	g_strlcpy(r->res->stream, m->stream_name, sizeof(r->res->stream));
	g_strlcpy(r->res->codec, m->codec, sizeof(r->res->codec));
}

static void
run_free(struct run *r)
{
	stg_clip_free(r->clip);
	if (r->tmp != NULL) {
		unlink(r->tmp);
		g_free(r->tmp);
	}
	for (size_t i = 0; i < r->nsegs; i++)
		drop_seg(&r->segs[i]);
	g_free(r->segs);
	g_free(r->broken);
	if (r->keys != NULL)
		OPENSSL_cleanse(r->keys, r->keycap * sizeof(*r->keys));
	g_free(r->keys);
	g_free(r->rec);
}

nvr_err
stg_decrypt_dir(const char *dir, const struct stg_decrypt_opts *opts, struct stg_decrypt_result *res, char *why,
    size_t whysize)
{
	struct run r = {
		.o = opts, .dir = dir, .stream = opts->stream ? opts->stream : "video",
		.report = opts->report ? opts->report : stderr, .res = res, .why = why, .whysize = whysize,
		.tl = { .reanchor = true },
	};
	struct stat st;
	nvr_err rc;

	memset(res, 0, sizeof(*res));
	if (lstat(opts->out, &st) == 0)
		return fail(&r, NVR_ERR_INVAL, "%s exists: choose another --out, or remove it", opts->out);
	if (!gst_is_initialized())
		gst_init(NULL, NULL);
	if (srtp_init() != srtp_err_status_ok)
		return fail(&r, NVR_ERR_CRYPTO, "libsrtp cannot start");
	r.rec = g_malloc(STG_SEG_RECORD_HEADER + STG_SEG_MAX_PAYLOAD);
	if ((rc = scan_root(&r)) != NVR_OK || (rc = choose(&r)) != NVR_OK)
		goto out;
	fill_result(&r);
	note_gaps(&r);
	if ((rc = check_evidence(&r)) == NVR_OK && (rc = unseal_all(&r)) == NVR_OK && (rc = make_temp(&r)) == NVR_OK &&
	    (rc = decrypt_all(&r)) == NVR_OK)
		rc = place_clip(&r);
out:
	run_free(&r);
	srtp_shutdown();
	return rc;
}

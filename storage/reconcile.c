/*
 * reconcile.c: start-up repair of what a crash or a database outage left:
 * unfinished segments closed (torn tails truncated), finished ones indexed,
 * inconsistent ones quarantined. It must never delete anything, never sign
 * bytes it has not just read from the segment file, and never index a
 * segment whose manifest does not verify.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ingest/rtp.h"
#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "storage/db.h"
#include "storage/fileio.h"
#include "storage/manifest.h"
#include "storage/reconcile.h"
#include "storage/segment.h"

#define MAX_PENDING 100000 /* segments needing work in one stream */

struct rc_ctx {
	const char *root;
	PGconn *db;
	struct stg_signer *signer;
	struct stg_index *index;
	struct stg_writer *writer;
	/* the stream being reconciled */
	nvr_uuid camera, stream;
	char camera_name[65], stream_name[16], codec[32];
	int clock_rate;
	bool has_last;
	uint64_t last_seq;
	uint8_t last_msha[32];
	bool advanced;
	bool overflow; /* more segments need work than one start takes */
};

struct pending {
	uint64_t seq;
	char *path; /* the .nvrseg; owned */
	bool has_manifest;
};

/* The segments of one stream that need work, grown as they are found. */
struct pending_list {
	struct pending *v;
	size_t n, cap;
};

static bool
pending_add(struct pending_list *l, uint64_t seq, const char *path, bool has_manifest)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct pending *v = cap <= MAX_PENDING ? realloc(l->v, cap * sizeof(*v)) : NULL;
		if (v == NULL)
			return false;
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n].path = strdup(path)) == NULL)
		return false;
	l->v[l->n].seq = seq;
	l->v[l->n].has_manifest = has_manifest;
	l->n++;
	return true;
}

static void
pending_free(struct pending_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
}

/* ---- small file helpers -------------------------------------------------------- */

/* "a/b" into out; false (and nothing usable) if it does not fit. */
static bool
join(char *out, size_t size, const char *a, const char *b)
{
	int n = snprintf(out, size, "%s/%s", a, b);

	return n > 0 && (size_t)n < size;
}

static nvr_err
file_sha256(const char *path, uint64_t len, uint8_t md[32])
{
	static uint8_t buf[1 << 20];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned int n = 32;
	uint64_t done = 0;
	nvr_err rc = NVR_ERR_IO;

	if (fd < 0 || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while (done < len) {
		ssize_t r = read(fd, buf, len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf));
		if (r <= 0 || EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
			goto out;
		done += (uint64_t)r;
	}
	if (EVP_DigestFinal_ex(ctx, md, &n) == 1)
		rc = NVR_OK;
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Moves a file into <root>/quarantine/, keeping its relative path. */
static void
quarantine(const struct rc_ctx *x, const char *path, const char *why)
{
	char dest[PATH_MAX + 16], dir[PATH_MAX + 16];
	size_t rl = strlen(x->root);

	if (access(path, F_OK) != 0)
		return;
	snprintf(dest, sizeof(dest), "%s/quarantine%s", x->root, path + rl);
	snprintf(dir, sizeof(dir), "%s", dest);
	*strrchr(dir, '/') = '\0';
	if (stg_make_dirs(dir) == NVR_OK && rename(path, dest) == 0)
		nvr_log(NVR_LOG_WARNING, "reconcile: quarantined %s: %s", path, why);
	else
		nvr_log(NVR_LOG_ERROR, "reconcile: cannot quarantine %s (%s): %s", path, why, strerror(errno));
}

static void
sibling(const char *seg, const char *suffix, char *out, size_t size)
{
	snprintf(out, size, "%.*s%s", (int)(strlen(seg) - strlen(".nvrseg")), seg, suffix);
}

static void
quarantine_segment(const struct rc_ctx *x, const char *seg, const char *why)
{
	char p[PATH_MAX + 32];

	quarantine(x, seg, why);
	sibling(seg, ".manifest.json", p, sizeof(p));
	quarantine(x, p, why);
	sibling(seg, ".manifest.json.sig", p, sizeof(p));
	quarantine(x, p, why);
}

/* ---- finished segments ---------------------------------------------------------- */

static void
advance(struct rc_ctx *x, uint64_t seq, const uint8_t msha[32])
{
	if (!x->has_last || seq >= x->last_seq) {
		x->has_last = true;
		x->last_seq = seq;
		memcpy(x->last_msha, msha, 32);
		x->advanced = true;
	}
}

static void
index_relative(struct rc_ctx *x, const struct stg_manifest *m, const char *seg, const uint8_t msha[32])
{
	stg_index_segment(x->index, m, seg + strlen(x->root) + 1, msha);
	advance(x, m->seq, msha);
}

/* A segment with its manifest but no index row: checked, then indexed. */
static void
index_finished(struct rc_ctx *x, const char *seg)
{
	char mpath[PATH_MAX + 32], spath[PATH_MAX + 32], cert[PATH_MAX + 80], hex[65], *mtext = NULL, *sig = NULL;
	struct stg_manifest m;
	size_t mlen, slen;
	uint8_t sha[32], msha[32];
	unsigned int n = 32;
	const char *why = "manifest unreadable";
	X509 *x509 = NULL;

	sibling(seg, ".manifest.json", mpath, sizeof(mpath));
	sibling(seg, ".manifest.json.sig", spath, sizeof(spath));
	if (stg_read_small(mpath, STG_MANIFEST_MAX, 0, &mtext, &mlen) != NVR_OK || stg_manifest_decode(mtext, mlen, &m, &why) != NVR_OK)
		goto bad;
	nvr_hex_encode(m.signer, 32, hex);
	snprintf(cert, sizeof(cert), "%s/certs/%s.crt", x->root, hex);
	why = "signature missing or not valid";
	if (stg_read_small(spath, 1024, 0, &sig, &slen) != NVR_OK || stg_cert_read(cert, &x509) != NVR_OK ||
	    stg_sig_verify(x509, mtext, mlen, (const uint8_t *)sig, slen) != NVR_OK)
		goto bad;
	why = "segment does not match its manifest";
	if (file_sha256(seg, m.bytes, sha) != NVR_OK || memcmp(sha, m.sha256, 32) != 0)
		goto bad;
	EVP_Digest(mtext, mlen, msha, &n, EVP_sha256(), NULL);
	index_relative(x, &m, seg, msha);
	nvr_log(NVR_LOG_NOTICE, "reconcile: indexed segment %llu of %s/%s (%s)", (unsigned long long)m.seq, x->camera_name,
	    x->stream_name, seg);
	goto out;
bad:
	quarantine_segment(x, seg, why);
out:
	X509_free(x509);
	free(mtext);
	free(sig);
}

/* ---- unfinished segments ---------------------------------------------------------- */

struct scan {
	size_t valid_end;
	uint64_t packets, rtcp;
	bool have_first, clean_start, onvif;
	uint16_t first_seq, last_seq;
	uint32_t first_ts, last_ts, ssrc;
	int pt;
	int64_t first_ns, last_ns;
};

static void
scan_rtp(struct scan *s, const struct stg_record *r)
{
	struct ing_rtp h;
	int64_t t = r->arrival_ns;

	if (ing_rtp_parse(r->data, r->len, &h) != NVR_OK)
		return;
	if (h.onvif) {
		t = ing_rtp_ntp_to_unix_ns(h.onvif_ntp);
		s->onvif = true;
	}
	if (!s->have_first) {
		s->have_first = true;
		s->first_seq = h.seq;
		s->first_ts = h.ts;
		s->ssrc = h.ssrc;
		s->pt = h.pt;
		s->first_ns = t;
		s->clean_start = (r->flags & STG_REC_CLEAN) != 0;
	}
	s->last_seq = h.seq;
	s->last_ts = h.ts;
	s->last_ns = t;
}

/* Walks records to the last whole one; a torn or zero tail ends it. */
static void
scan_records(const uint8_t *p, size_t size, struct scan *s)
{
	struct stg_record r;
	size_t off = STG_SEG_HEADER_LEN;

	memset(s, 0, sizeof(*s));
	while (off < size && stg_seg_record_decode(p + off, size - off, &r) == NVR_OK) {
		if (r.kind == STG_REC_RTP) {
			s->packets++;
			scan_rtp(s, &r);
		} else if (r.kind == STG_REC_RTCP) {
			s->rtcp++;
		}
		off += STG_SEG_RECORD_HEADER + r.len;
	}
	s->valid_end = off < size ? off : size;
}

/* Fills the suite and key source from the session's sealed-key file. */
static void
session_info(const struct rc_ctx *x, const nvr_uuid *key, struct stg_manifest *m)
{
	char path[PATH_MAX + 80], id[NVR_UUID_STRLEN], *text = NULL;
	size_t len;
	json_t *o;

	snprintf(m->suite, sizeof(m->suite), "unknown");
	snprintf(m->key_source, sizeof(m->key_source), "unknown");
	nvr_uuid_format(key, id);
	snprintf(path, sizeof(path), "%s/keys/%s.sealed.json", x->root, id);
	if (stg_read_small(path, 1 << 20, 0, &text, &len) != NVR_OK)
		return;
	if ((o = json_loadb(text, len, 0, NULL)) != NULL) {
		const char *s = json_string_value(json_object_get(o, "suite"));
		const char *k = json_string_value(json_object_get(o, "key_source"));
		if (s != NULL)
			snprintf(m->suite, sizeof(m->suite), "%s", s);
		if (k != NULL)
			snprintf(m->key_source, sizeof(m->key_source), "%s", k);
		json_decref(o);
	}
	free(text);
}

static void
fill_manifest(const struct rc_ctx *x, const struct stg_seg_header *h, const struct scan *s, struct stg_manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->segment = h->segment;
	m->camera = h->camera;
	m->stream = h->stream;
	m->key = h->key;
	snprintf(m->camera_name, sizeof(m->camera_name), "%s", x->camera_name);
	snprintf(m->stream_name, sizeof(m->stream_name), "%s", x->stream_name);
	snprintf(m->codec, sizeof(m->codec), "%s", x->codec);
	m->clock_rate = x->clock_rate;
	m->seq = h->seq;
	m->bytes = s->valid_end;
	session_info(x, &h->key, m);
	m->tag_verified = strncmp(m->suite, "AEAD", 4) != 0 && strcmp(m->suite, "unknown") != 0;
	m->ssrc = s->ssrc;
	m->payload_type = s->pt;
	/* without the rollover counter only the sequence numbers are known */
	m->first_index = s->first_seq;
	m->last_index = s->last_seq;
	m->first_rtp_ts = s->first_ts;
	m->last_rtp_ts = s->last_ts;
	m->start_ns = s->have_first ? s->first_ns : h->start_ns;
	m->end_ns = s->have_first ? s->last_ns : h->start_ns;
	snprintf(m->time_source, sizeof(m->time_source), "%s", s->onvif ? "onvif" : "arrival");
	m->clean_start = s->clean_start;
	m->packets = s->packets;
	m->rtcp_packets = s->rtcp;
	m->has_prev = x->has_last;
	if (x->has_last)
		memcpy(m->prev_sha256, x->last_msha, 32);
	memcpy(m->signer, stg_signer_fingerprint(x->signer), 32);
	snprintf(m->recorder, sizeof(m->recorder), "reconcile %s/%s", PACKAGE_NAME, PACKAGE_VERSION);
}

/* Manifest and signature for a repaired segment, durable, then indexed. */
static nvr_err
seal_repaired(struct rc_ctx *x, const char *seg, struct stg_manifest *m)
{
	char path[PATH_MAX + 32], *json = NULL, dir[PATH_MAX];
	uint8_t *sig = NULL, msha[32];
	size_t len, siglen;
	unsigned int n = 32;
	nvr_err rc;

	if ((rc = file_sha256(seg, m->bytes, m->sha256)) != NVR_OK || (rc = stg_manifest_encode(m, &json, &len)) != NVR_OK ||
	    (rc = stg_signer_sign(x->signer, json, len, &sig, &siglen)) != NVR_OK)
		goto out;
	sibling(seg, ".manifest.json", path, sizeof(path));
	if ((rc = stg_write_durable(path, json, len)) != NVR_OK)
		goto out;
	sibling(seg, ".manifest.json.sig", path, sizeof(path));
	if ((rc = stg_write_durable(path, sig, siglen)) != NVR_OK)
		goto out;
	snprintf(dir, sizeof(dir), "%s", seg);
	*strrchr(dir, '/') = '\0';
	stg_sync_dir(dir);
	EVP_Digest(json, len, msha, &n, EVP_sha256(), NULL);
	index_relative(x, m, seg, msha);
out:
	free(json);
	free(sig);
	return rc;
}

/* A segment nvrd was writing when it stopped: its last whole record is
 * its end; the rest (never synced) goes. */
static void
repair(struct rc_ctx *x, const char *seg)
{
	struct stg_seg_header h;
	struct stg_manifest m;
	struct scan s;
	struct stat st;
	const char *why = NULL;
	uint8_t *p = MAP_FAILED;
	int fd = open(seg, O_RDWR | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < STG_SEG_HEADER_LEN ||
	    (p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED ||
	    stg_seg_header_decode(p, (size_t)st.st_size, &h, &why) != NVR_OK) {
		if (p != MAP_FAILED)
			munmap(p, (size_t)st.st_size);
		if (fd >= 0)
			close(fd);
		quarantine_segment(x, seg, why ? why : "unreadable segment header");
		return;
	}
	scan_records(p, (size_t)st.st_size, &s);
	munmap(p, (size_t)st.st_size);
	if (s.packets + s.rtcp == 0) {
		close(fd);
		quarantine_segment(x, seg, "no packet reached the disk before the stop");
		return;
	}
	if (s.valid_end < (size_t)st.st_size) {
		if (ftruncate(fd, (off_t)s.valid_end) != 0 || fdatasync(fd) != 0) {
			close(fd);
			nvr_log(NVR_LOG_ERROR, "reconcile: cannot truncate %s: %s", seg, strerror(errno));
			return;
		}
		nvr_log(NVR_LOG_NOTICE, "reconcile: truncated the torn tail of %s at byte %zu (%lld bytes dropped)", seg,
		    s.valid_end, (long long)(st.st_size - (off_t)s.valid_end));
	}
	close(fd);
	fill_manifest(x, &h, &s, &m);
	if (seal_repaired(x, seg, &m) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "reconcile: cannot write the manifest of %s: %s", seg, strerror(errno));
		return;
	}
	nvr_log(NVR_LOG_NOTICE, "reconcile: closed segment %llu of %s/%s after an interrupted stop: %llu packets (%s)",
	    (unsigned long long)m.seq, x->camera_name, x->stream_name, (unsigned long long)m.packets, seg);
}

/* ---- walking a stream ----------------------------------------------------------- */

static bool
indexed(const struct rc_ctx *x, const nvr_uuid *segment)
{
	char id[NVR_UUID_STRLEN];
	const char *v[1] = { id };
	PGresult *r;
	bool yes;

	nvr_uuid_format(segment, id);
	/* A tombstone counts: retention is deleting that segment (its files
	 * could not be unlinked yet); indexing them would bring it back. */
	r = PQexecParams(x->db,
	    "SELECT 1 FROM segments WHERE id = $1 UNION ALL SELECT 1 FROM segment_tombstones WHERE segment_id = $1", 1,
	    NULL, v, NULL, NULL, 0);
	if (stg_db_check(x->db, r, PGRES_TUPLES_OK, "reconcile: reading the index") != NVR_OK)
		return true; /* cannot tell: leave it be */
	yes = PQntuples(r) > 0;
	PQclear(r);
	return yes;
}

static int
cmp_pending(const void *a, const void *b)
{
	const struct pending *pa = a, *pb = b;

	return pa->seq < pb->seq ? -1 : pa->seq > pb->seq;
}

/* Sorted sub-folder names of dir (years, months, days), newest first. */
static int
cmp_desc(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*b)->d_name, (*a)->d_name);
}

static int
digits_only(const struct dirent *e)
{
	return e->d_name[0] >= '0' && e->d_name[0] <= '9';
}

/* Looks at one day folder; adds its segments needing work to list (at
 * most MAX_PENDING per stream: the rest waits for the next start).
 * Returns false when everything in it was already fine. */
static bool
scan_day(struct rc_ctx *x, const char *day, struct pending_list *list)
{
	struct dirent **ents = NULL;
	int k = scandir(day, &ents, NULL, alphasort);
	bool work = false;

	for (int i = 0; i < k; i++) {
		const char *name = ents[i]->d_name;
		size_t len = strlen(name);
		char path[PATH_MAX], mpath[PATH_MAX + 32];
		struct stg_seg_header h;
		uint8_t hdr[STG_SEG_HEADER_LEN];
		const char *why;
		ssize_t got;
		int fd;

		if (len < 8 || strcmp(name + len - 7, ".nvrseg") != 0)
			continue;
		if (!join(path, sizeof(path), day, name))
			continue;
		sibling(path, ".manifest.json", mpath, sizeof(mpath));
		fd = open(path, O_RDONLY | O_CLOEXEC);
		got = fd >= 0 ? read(fd, hdr, sizeof(hdr)) : -1;
		if (fd >= 0)
			close(fd);
		if (got != (ssize_t)sizeof(hdr) || stg_seg_header_decode(hdr, sizeof(hdr), &h, &why) != NVR_OK) {
			/* Short: the writer's first block (header and first
			 * records) never reached the disk, as with a segment
			 * opened less than a sync tick before a crash. */
			quarantine_segment(x, path, got >= 0 && got < (ssize_t)sizeof(hdr)
			    ? "no packet reached the disk before the stop" : "unreadable segment header");
			work = true;
			continue;
		}
		if (memcmp(h.stream.b, x->stream.b, 16) != 0) {
			/* not this stream's: another id under the same name, which
			 * only a hand-made copy would give. Left as it is. */
			nvr_log(NVR_LOG_WARNING, "reconcile: %s belongs to another stream than %s/%s; left as it is", path,
			    x->camera_name, x->stream_name);
			continue;
		}
		bool has_manifest = access(mpath, F_OK) == 0;
		if (has_manifest && indexed(x, &h.segment))
			continue;
		if (!pending_add(list, h.seq, path, has_manifest)) {
			if (!x->overflow)
				nvr_log(NVR_LOG_WARNING, "reconcile: too many segments of %s/%s need work; the rest at the "
				    "next start", x->camera_name, x->stream_name);
			x->overflow = true;
			break;
		}
		work = true;
	}
	for (int i = 0; i < k; i++)
		free(ents[i]);
	free(ents);
	return work;
}

/* Walks a stream's days, newest first, until a day needed nothing. */
static void
reconcile_stream(struct rc_ctx *x, const char *dir)
{
	struct dirent **y = NULL, **m, **d;
	struct pending_list list = { 0 };
	char p[PATH_MAX];
	bool more = true;
	int ny = scandir(dir, &y, digits_only, cmp_desc);

	for (int i = 0; more && i < ny; i++) {
		int nm = join(p, sizeof(p), dir, y[i]->d_name) ? scandir(p, &m, digits_only, cmp_desc) : 0;
		for (int j = 0; more && j < nm; j++) {
			char pm[PATH_MAX];
			int nd = join(pm, sizeof(pm), p, m[j]->d_name) ? scandir(pm, &d, digits_only, cmp_desc) : 0;
			for (int k = 0; more && k < nd; k++) {
				char pd[PATH_MAX];
				if (join(pd, sizeof(pd), pm, d[k]->d_name))
					more = scan_day(x, pd, &list);
			}
			for (int k = 0; k < nd; k++)
				free(d[k]);
			free(nd > 0 ? d : NULL);
		}
		for (int j = 0; j < nm; j++)
			free(m[j]);
		free(nm > 0 ? m : NULL);
	}
	for (int i = 0; i < ny; i++)
		free(y[i]);
	free(ny > 0 ? y : NULL);
	if (list.n > 0)
		qsort(list.v, list.n, sizeof(*list.v), cmp_pending);
	for (size_t i = 0; i < list.n; i++) {
		if (list.v[i].has_manifest)
			index_finished(x, list.v[i].path);
		else
			repair(x, list.v[i].path);
	}
	pending_free(&list);
}

/* ---- the streams ------------------------------------------------------------------ */

static void
load_last(struct rc_ctx *x)
{
	char id[NVR_UUID_STRLEN];
	const char *v[1] = { id };
	PGresult *r;

	x->has_last = false;
	x->advanced = false;
	nvr_uuid_format(&x->stream, id);
	r = PQexecParams(x->db,
	    "SELECT seq, encode(manifest_sha256, 'hex') FROM segments WHERE stream_id = $1 ORDER BY seq DESC LIMIT 1", 1,
	    NULL, v, NULL, NULL, 0);
	if (stg_db_check(x->db, r, PGRES_TUPLES_OK, "reconcile: reading the last segment") != NVR_OK)
		return;
	if (PQntuples(r) == 1 && nvr_hex_decode(PQgetvalue(r, 0, 1), x->last_msha, 32) == NVR_OK) {
		x->has_last = true;
		x->last_seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	}
	PQclear(r);
}

/* Reconciles one stream whose fields in x are set; seeds the writer's
 * chain when segments were indexed. */
static void
reconcile_one(struct rc_ctx *x, const char *dir)
{
	load_last(x);
	x->overflow = false;
	reconcile_stream(x, dir);
	if (x->advanced)
		stg_writer_seed(x->writer, &x->stream, x->last_seq + 1, true, x->last_msha);
}

/* Sets x->camera_name from the database; false if the camera is unknown. */
static bool
camera_name(struct rc_ctx *x, const char *cam)
{
	const char *v[1] = { cam };
	PGresult *r = PQexecParams(x->db, "SELECT name FROM cameras WHERE id = $1", 1, NULL, v, NULL, NULL, 0);
	bool found;

	if (stg_db_check(x->db, r, PGRES_TUPLES_OK, "reconcile: looking a camera up") != NVR_OK) {
		snprintf(x->camera_name, sizeof(x->camera_name), "%.36s", cam);
		return true; /* cannot tell: do not call it unknown */
	}
	if ((found = PQntuples(r) == 1))
		snprintf(x->camera_name, sizeof(x->camera_name), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return found;
}

/* 1 if the database has the stream (camera, name), 0 if not, -1 on error. */
static int
stream_known(const struct rc_ctx *x, const char *cam, const char *name)
{
	const char *v[2] = { cam, name };
	PGresult *r = PQexecParams(x->db, "SELECT 1 FROM streams WHERE camera_id = $1 AND name = $2", 2, NULL, v, NULL,
	    NULL, 0);
	int known;

	if (stg_db_check(x->db, r, PGRES_TUPLES_OK, "reconcile: looking a stream up") != NVR_OK)
		return -1;
	known = PQntuples(r) > 0;
	PQclear(r);
	return known;
}

/* A stream folder the database does not know, of a camera it knows: the
 * crash came before the index thread wrote the stream's row. Stream ids
 * derive from camera and name (nvr_uuid_name), so the row is made again
 * and the folder reconciled like any other. */
static void
adopt_stream(struct rc_ctx *x, const char *cam, const char *name, const char *dir)
{
	char id[NVR_UUID_STRLEN];
	const char *v[3] = { id, cam, name };
	PGresult *r;

	if (nvr_uuid_name(&x->camera, name, &x->stream) != NVR_OK)
		return;
	nvr_uuid_format(&x->stream, id);
	r = PQexecParams(x->db, "INSERT INTO streams (id, camera_id, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3,
	    NULL, v, NULL, NULL, 0);
	if (stg_db_check(x->db, r, PGRES_COMMAND_OK, "reconcile: registering a stream") != NVR_OK)
		return;
	PQclear(r);
	nvr_log(NVR_LOG_NOTICE, "reconcile: stream %s/%s was on disk but not in the database (a crash came before its row "
	    "was written): registered", x->camera_name, name);
	snprintf(x->stream_name, sizeof(x->stream_name), "%s", name);
	x->codec[0] = '\0';
	x->clock_rate = 0;
	reconcile_one(x, dir);
}

/* The camera folders on disk, for streams the database lacks. */
static void
adopt_streams(struct rc_ctx *x)
{
	DIR *root = opendir(x->root), *cd;
	struct dirent *e, *f;
	char dir[PATH_MAX], sdir[PATH_MAX];

	while (root != NULL && (e = readdir(root)) != NULL) {
		if (nvr_uuid_parse(e->d_name, &x->camera) != NVR_OK || !join(dir, sizeof(dir), x->root, e->d_name) ||
		    (cd = opendir(dir)) == NULL)
			continue;
		if (!camera_name(x, e->d_name)) {
			nvr_log_ex(NVR_LOG_WARNING, "nvrctl verify checks them", NULL,
			    "reconcile: %s holds recordings of a camera the database does not know (restored from an older "
			    "backup?): left as they are", dir);
			closedir(cd);
			continue;
		}
		while ((f = readdir(cd)) != NULL) {
			if (f->d_name[0] == '.' || strlen(f->d_name) >= sizeof(x->stream_name) ||
			    !join(sdir, sizeof(sdir), dir, f->d_name) || stream_known(x, e->d_name, f->d_name) != 0)
				continue;
			adopt_stream(x, e->d_name, f->d_name, sdir);
		}
		closedir(cd);
	}
	if (root != NULL)
		closedir(root);
}

nvr_err
stg_reconcile(const char *root, PGconn *db, struct stg_signer *signer, struct stg_index *index,
    struct stg_writer *writer)
{
	struct rc_ctx x = { .root = root, .db = db, .signer = signer, .index = index, .writer = writer };
	char dir[PATH_MAX + 100], cam[NVR_UUID_STRLEN];
	PGresult *r = PQexec(db,
	    "SELECT s.id, s.camera_id, s.name, c.name, coalesce(s.codec, ''), coalesce(s.clock_rate, 0)"
	    " FROM streams s JOIN cameras c ON c.id = s.camera_id");
	nvr_err rc = stg_db_check(db, r, PGRES_TUPLES_OK, "reconcile: reading the streams");

	if (rc != NVR_OK)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		if (nvr_uuid_parse(PQgetvalue(r, i, 0), &x.stream) != NVR_OK ||
		    nvr_uuid_parse(PQgetvalue(r, i, 1), &x.camera) != NVR_OK)
			continue;
		snprintf(x.stream_name, sizeof(x.stream_name), "%s", PQgetvalue(r, i, 2));
		snprintf(x.camera_name, sizeof(x.camera_name), "%s", PQgetvalue(r, i, 3));
		snprintf(x.codec, sizeof(x.codec), "%s", PQgetvalue(r, i, 4));
		x.clock_rate = (int)strtol(PQgetvalue(r, i, 5), NULL, 10);
		nvr_uuid_format(&x.camera, cam);
		snprintf(dir, sizeof(dir), "%s/%s/%s", root, cam, x.stream_name);
		if (access(dir, F_OK) == 0)
			reconcile_one(&x, dir);
	}
	PQclear(r);
	adopt_streams(&x);
	return NVR_OK;
}

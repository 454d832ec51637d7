/*
 * bundle_verify.c: checking an extracted bundle against its signed
 * export.json (bundle.h). The segments themselves are storage/verify.c's
 * job; this adds what only a bundle has: the export manifest's signature,
 * the member list, SHA256SUMS, and each stream's counts and times.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "nvrd/encode.h"
#include "storage/bundle.h"
#include "storage/export.h"
#include "storage/fileio.h"
#include "storage/manifest.h"
#include "storage/sign.h"

struct bv {
	struct stg_bundle *b;
	const struct stg_verify_opts *o;
	struct stg_verify_counts *c;
	const char **order; /* the members' names in the tar's order */
	uint8_t signer[32]; /* export.json's signer, once its signature verified */
	bool signed_ok;
};

static void __attribute__((format(printf, 3, 4)))
bfail(struct bv *v, const char *member, const char *fmt, ...)
{
	va_list ap;

	fprintf(v->o->out, "FAIL %s:%s: ", v->b->name, member);
	va_start(ap, fmt);
	vfprintf(v->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', v->o->out);
	v->c->problems++;
}

static int
cmp_member(const void *a, const void *b)
{
	return strcmp(((const struct stg_bundle_member *)a)->path, ((const struct stg_bundle_member *)b)->path);
}

static int
cmp_name(const void *key, const void *m)
{
	return strcmp(key, ((const struct stg_bundle_member *)m)->path);
}

/* The member named path; members are sorted by stg_bundle_verify. */
static struct stg_bundle_member *
find(struct stg_bundle *b, const char *path)
{
	return b->n ? bsearch(path, b->members, b->n, sizeof(*b->members), cmp_name) : NULL;
}

/* A member's content into a new buffer (NUL-terminated) the caller frees;
 * NULL if it is missing, larger than max, or not what was extracted. */
static char *
slurp(struct stg_bundle *b, const char *rel, size_t max, size_t *len)
{
	struct stg_bundle_member *m = find(b, rel);
	char path[PATH_MAX + 64], *buf = NULL;

	if (m == NULL || m->size > max)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", b->root, rel);
	/* At most the size extracted: the buffer is no larger than the member. */
	if (stg_read_small(path, (size_t)m->size, O_NOFOLLOW, &buf, len) == NVR_OK && *len != m->size) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static bool
is_hex64(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

/* The certificate export.json is checked with: --trust, else its signer's
 * in certs/ of the bundle, which must hash to its name. */
static X509 *
signer_cert(struct bv *v, const char *hex)
{
	char rel[128], path[PATH_MAX + 128], got[65];
	uint8_t fp[32];
	X509 *x = NULL;

	/* a name, never a path: the value is the bundle's, untrusted */
	if (!is_hex64(hex)) {
		bfail(v, "export.json", "its signer_sha256 is not 64 hex digits");
		return NULL;
	}
	snprintf(rel, sizeof(rel), "certs/%s.crt", hex);
	snprintf(path, sizeof(path), "%s/%s", v->b->root, rel);
	if (stg_cert_read(v->o->trust != NULL ? v->o->trust : path, &x) != NVR_OK) {
		if (v->o->trust != NULL)
			bfail(v, "--trust", "cannot read the certificate");
		else
			bfail(v, "export.json", "its signer_sha256 names %s, which is not in the bundle or not a "
			    "certificate", rel);
		return NULL;
	}
	got[0] = '\0';
	if (stg_cert_fingerprint(x, fp) == NVR_OK)
		nvr_hex_encode(fp, 32, got);
	if (v->o->pin != NULL && strcmp(got, v->o->pin) != 0) {
		bfail(v, "export.json", "signed by the key of certificate %s, not the pinned %s", got, v->o->pin);
		X509_free(x);
		return NULL;
	}
	if (strcmp(got, hex) != 0) {
		bfail(v, "export.json", v->o->trust != NULL ? "signed by another certificate (%s) than the trusted one"
							: "its signer %s is not the certificate named after it",
		    hex);
		X509_free(x);
		return NULL;
	}
	return x;
}

/* export.json decodes and its signature verifies. */
static bool
check_manifest(struct bv *v)
{
	size_t len = 0, siglen = 0;
	char *text = slurp(v->b, "export.json", STG_EXPORT_MANIFEST_MAX, &len);
	char *sig = slurp(v->b, "export.json.sig", 256, &siglen);
	json_error_t err;
	X509 *x = NULL;
	bool ok = false;

	if (text == NULL || sig == NULL) {
		bfail(v, text == NULL ? "export.json" : "export.json.sig", "missing (or too large)");
		goto out;
	}
	v->b->manifest = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (v->b->manifest == NULL || strcmp(str(v->b->manifest, "format"), "nvr-export-manifest/1") != 0) {
		bfail(v, "export.json", "not an export manifest (%s)", v->b->manifest ? "format" : err.text);
		goto out;
	}
	if ((x = signer_cert(v, str(v->b->manifest, "signer_sha256"))) == NULL)
		goto out;
	if (stg_sig_verify(x, text, len, (const uint8_t *)sig, siglen) != NVR_OK) {
		bfail(v, "export.json.sig", "does not verify export.json: one of them was altered, or another key signed");
		goto out;
	}
	v->signed_ok = stg_cert_fingerprint(x, v->signer) == NVR_OK;
	ok = true;
out:
	X509_free(x);
	free(text);
	free(sig);
	return ok;
}

static bool
special(const char *path)
{
	return strcmp(path, "SHA256SUMS") == 0 || strcmp(path, "export.json") == 0 || strcmp(path, "export.json.sig") == 0;
}

/* Every member export.json lists is there, of its size and hash, and the
 * tar holds nothing else. seen[i] is for members[i]. */
static void
check_members(struct bv *v, bool *seen)
{
	json_t *list = json_object_get(v->b->manifest, "members"), *e;
	struct stg_bundle_member *m;
	char hex[65];
	size_t i;

	json_array_foreach(list, i, e) {
		const char *p = str(e, "path");
		if ((m = find(v->b, p)) == NULL) {
			bfail(v, p, "listed in export.json but not in the bundle: removed");
			continue;
		}
		seen[m - v->b->members] = true;
		nvr_hex_encode(m->sha, 32, hex);
		if ((uint64_t)json_integer_value(json_object_get(e, "bytes")) != m->size)
			bfail(v, p, "%" PRIu64 " bytes, export.json says %" PRId64 ": altered", m->size,
			    (int64_t)json_integer_value(json_object_get(e, "bytes")));
		else if (strcmp(hex, str(e, "sha256")) != 0)
			bfail(v, p, "its SHA-256 is %s, export.json says %s: altered", hex, str(e, "sha256"));
	}
	for (i = 0; i < v->b->n; i++)
		if (!seen[i] && !special(v->b->members[i].path))
			bfail(v, v->b->members[i].path, "not listed in export.json: added to the bundle");
}

/* Every member's tar time is the second export.json says the bundle was
 * made: one line if they all changed alike (the tar was made again),
 * otherwise one a member that changed. */
static void
check_times(struct bv *v, const char *top)
{
	const char *created = str(v->b->manifest, "created");
	int64_t want = INT64_MIN, t0 = v->b->n ? v->b->members[0].mtime : 0;
	bool alike = true;
	size_t i;

	if (stg_time_parse(created, &want) == NVR_OK)
		want /= 1000000000LL;
	for (i = 0; i < v->b->n; i++)
		alike = alike && v->b->members[i].mtime == t0;
	if (alike && t0 != want) {
		bfail(v, "(tar)", "its members' time (%lld) is not when export.json says the bundle was made (%s): the "
		    "tar was made again", (long long)t0, created);
		return;
	}
	for (i = 0; i < v->b->n && !alike; i++) {
		if (v->b->members[i].mtime != want)
			bfail(v, "(tar)", "member %s/%s: its tar header is not the one the recorder writes: its time (%lld) "
			    "is not when export.json says the bundle was made (%s)", top, v->b->members[i].path,
			    (long long)v->b->members[i].mtime, created);
	}
}

/* The tar holds export.json's members in its order, then SHA256SUMS,
 * export.json and its signature (FORMAT.md 12.1), below a top folder named
 * after export_id, every member with the time the export was made. Only
 * when it holds as many members as that: otherwise check_members names
 * what was added or removed. */
static void
check_layout(struct bv *v)
{
	static const char *const last[] = { "SHA256SUMS", "export.json", "export.json.sig" };
	json_t *list = json_object_get(v->b->manifest, "members");
	size_t n = json_array_size(list), i;
	const char *top = strrchr(v->b->root, '/'), *id = str(v->b->manifest, "export_id");

	if (top == NULL || strncmp(top + 1, "nvr-export-", 11) != 0 || strcmp(top + 12, id) != 0)
		bfail(v, "(tar)", "its top folder is %s, not nvr-export-%s of its export_id", top ? top + 1 : "?", id);
	check_times(v, top != NULL ? top + 1 : "?");
	if (v->b->n != n + 3)
		return;
	for (i = 0; i < v->b->n; i++) {
		const char *want = i < n ? str(json_array_get(list, i), "path") : last[i - n];
		if (strcmp(v->order[i], want) != 0) {
			bfail(v, v->order[i], "member %zu of the tar, where export.json puts %s: the members were "
			    "reordered", i + 1, want);
			return;
		}
	}
}

/* SHA256SUMS is the one export.json names, and lists what it lists. */
static void
check_sums(struct bv *v)
{
	struct stg_bundle_member *m = find(v->b, "SHA256SUMS");
	json_t *list = json_object_get(v->b->manifest, "members"), *e;
	char hex[65], *text, *want = NULL;
	size_t len = 0, wlen = 0, i;
	FILE *f;

	if (m == NULL) {
		bfail(v, "SHA256SUMS", "missing");
		return;
	}
	nvr_hex_encode(m->sha, 32, hex);
	if (strcmp(hex, str(v->b->manifest, "sha256sums_sha256")) != 0) {
		bfail(v, "SHA256SUMS", "its SHA-256 is %s, export.json says %s: altered", hex,
		    str(v->b->manifest, "sha256sums_sha256"));
		return;
	}
	if ((f = open_memstream(&want, &wlen)) == NULL)
		return;
	json_array_foreach(list, i, e) {
		fprintf(f, "%s  %s\n", str(e, "sha256"), str(e, "path"));
	}
	fclose(f);
	text = slurp(v->b, "SHA256SUMS", STG_EXPORT_MANIFEST_MAX, &len);
	if (text == NULL || len != wlen || memcmp(text, want, len) != 0)
		bfail(v, "SHA256SUMS", "does not list what export.json lists");
	free(text);
	free(want);
}

/* One stream as its manifests in the bundle describe it. */
struct agg {
	char id[NVR_UUID_STRLEN], camera[65], name[16];
	uint64_t segments, first_seq, last_seq, packets, forged, lost;
	int64_t from_ns, to_ns;
};

static struct agg *
agg_of(struct agg **a, size_t *n, const struct stg_manifest *m)
{
	char id[NVR_UUID_STRLEN];
	struct agg *p;

	nvr_uuid_format(&m->stream, id);
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*a)[i].id, id) == 0)
			return &(*a)[i];
	if ((p = realloc(*a, (*n + 1) * sizeof(**a))) == NULL)
		return NULL;
	*a = p;
	p = &(*a)[(*n)++];
	memset(p, 0, sizeof(*p));
	memcpy(p->id, id, sizeof(id));
	snprintf(p->camera, sizeof(p->camera), "%s", m->camera_name);
	snprintf(p->name, sizeof(p->name), "%s", m->stream_name);
	p->first_seq = UINT64_MAX;
	p->from_ns = INT64_MAX;
	p->to_ns = INT64_MIN;
	return p;
}

static void
agg_add(struct agg *g, const struct stg_manifest *m)
{
	g->segments++;
	g->first_seq = m->seq < g->first_seq ? m->seq : g->first_seq;
	g->last_seq = m->seq > g->last_seq ? m->seq : g->last_seq;
	g->from_ns = m->start_ns < g->from_ns ? m->start_ns : g->from_ns;
	g->to_ns = m->end_ns > g->to_ns ? m->end_ns : g->to_ns;
	g->packets += m->packets;
	g->forged += m->forged;
	g->lost += m->lost;
}

/* The streams of the manifests in the bundle (those that decode: the
 * others are verify.c's failures). */
/* A manifest signed by another key than export.json: the export was not
 * made by the recorder that recorded it (a forged export.json, signed by
 * a key of the forger's, beside the recorder's manifests), or the
 * recorder's key changed in between, which --trust alone can vouch for. */
static void
check_signer(struct bv *v, const char *path, const struct stg_manifest *m)
{
	char a[65], b[65];

	if (!v->signed_ok || memcmp(m->signer, v->signer, 32) == 0)
		return;
	nvr_hex_encode(m->signer, 32, a);
	nvr_hex_encode(v->signer, 32, b);
	bfail(v, path, "signed by the key of certificate %s, but export.json by %s: one key must sign a bundle's "
	    "manifests and its export.json", a, b);
}

static struct agg *
collect(struct bv *v, size_t *n)
{
	struct agg *a = NULL, *g;
	struct stg_manifest m;
	const char *why;
	size_t len, pl;

	*n = 0;
	for (size_t i = 0; i < v->b->n; i++) {
		const char *p = v->b->members[i].path;
		char *text;
		if ((pl = strlen(p)) < 14 || strcmp(p + pl - 14, ".manifest.json") != 0)
			continue;
		if ((text = slurp(v->b, p, STG_MANIFEST_MAX, &len)) == NULL)
			continue;
		if (stg_manifest_decode(text, len, &m, &why) == NVR_OK) {
			check_signer(v, p, &m);
			if ((g = agg_of(&a, n, &m)) != NULL)
				agg_add(g, &m);
		}
		free(text);
	}
	return a;
}

static void
say_stream(struct bv *v, const struct agg *g)
{
	char from[32], to[32];

	stg_time_format(g->from_ns, from);
	stg_time_format(g->to_ns, to);
	fprintf(v->o->out,
	    "STREAM %s %s (%s): %" PRIu64 " segments, seq %" PRIu64 " to %" PRIu64 ", covers %s to %s, %" PRIu64
	    " packets, %" PRIu64 " forged (refused at ingest), %" PRIu64 " lost\n",
	    g->camera, g->name, g->id, g->segments, g->first_seq, g->last_seq, from, to, g->packets, g->forged, g->lost);
	if (g->last_seq - g->first_seq + 1 != g->segments)
		fprintf(v->o->out, "STREAM %s %s: %" PRIu64 " segments missing between seq %" PRIu64 " and %" PRIu64 "\n",
		    g->camera, g->name, g->last_seq - g->first_seq + 1 - g->segments, g->first_seq, g->last_seq);
}

/* What export.json claims of one stream against its manifests. */
static void
check_stream(struct bv *v, const json_t *st, const struct agg *g)
{
	char from[32], to[32];
	const json_t *cov = json_object_get(st, "covered");

	stg_time_format(g->from_ns, from);
	stg_time_format(g->to_ns, to);
	if ((uint64_t)json_integer_value(json_object_get(st, "segments")) != g->segments ||
	    (uint64_t)json_integer_value(json_object_get(st, "first_seq")) != g->first_seq ||
	    (uint64_t)json_integer_value(json_object_get(st, "last_seq")) != g->last_seq ||
	    (uint64_t)json_integer_value(json_object_get(st, "packets")) != g->packets ||
	    strcmp(str(cov, "from"), from) != 0 || strcmp(str(cov, "to"), to) != 0)
		bfail(v, "export.json", "stream %s of camera %s: the bundle's segments are not those it lists", g->name,
		    g->camera);
}

static void
check_streams(struct bv *v)
{
	size_t n, i, j, k, matched = 0;
	struct agg *a = collect(v, &n);
	json_t *cams = json_object_get(v->b->manifest, "cameras"), *c, *st;

	json_array_foreach(cams, i, c) {
		json_array_foreach(json_object_get(c, "streams"), j, st) {
			for (k = 0; k < n && strcmp(a[k].id, str(st, "id")) != 0; k++)
				;
			if (k == n) {
				bfail(v, "export.json", "stream %s of camera %s: none of its segments is in the bundle",
				    str(st, "name"), str(c, "name"));
				continue;
			}
			matched++;
			say_stream(v, &a[k]);
			check_stream(v, st, &a[k]);
		}
	}
	if (matched != n)
		bfail(v, "export.json", "the bundle holds segments of %zu streams it does not list", n - matched);
	free(a);
}

/* What export.json says the bundle lacks of the range asked for, as NOTE
 * lines; the number of them. A bundle can verify and still not be all
 * that was asked: the last line says so too. */
static size_t
say_missing(struct bv *v)
{
	json_t *list = json_object_get(v->b->manifest, "missing"), *e;
	size_t i;

	json_array_foreach(list, i, e) {
		const char *st = json_string_value(json_object_get(e, "stream"));
		fprintf(v->o->out, "NOTE %s:export.json: %s%s%s: %s to %s is not in the bundle: %s\n", v->b->name,
		    str(e, "camera"), st ? " " : "", st ? st : "", str(e, "from"), str(e, "to"), str(e, "why"));
		v->c->notes++;
	}
	return json_array_size(list);
}

/* The last line: what was verified, and against what. Without a trusted
 * certificate or fingerprint, a bundle that verifies is only consistent:
 * anyone can make one with a key of their own, so the key's fingerprint
 * is on this line, to be compared with the recorder's published one. */
static void
verdict(struct bv *v)
{
	bool ok = v->c->failed == 0 && v->c->problems == 0;
	size_t missing = v->b->manifest != NULL ? say_missing(v) : 0;
	char hex[65];

	fprintf(v->o->out, "bundle: export %s made %s by %s for \"%s\": %s", str(v->b->manifest, "export_id"),
	    str(v->b->manifest, "created"), str(v->b->manifest, "actor"), str(v->b->manifest, "reason"),
	    ok ? "VERIFIED" : "NOT VERIFIED");
	if (missing > 0)
		fprintf(v->o->out, ", INCOMPLETE (%zu part%s of the range asked for not in it: NOTE lines above)", missing,
		    missing == 1 ? "" : "s");
	if (!v->signed_ok) {
		fputc('\n', v->o->out);
		return;
	}
	nvr_hex_encode(v->signer, 32, hex);
	if (v->o->trust != NULL)
		fprintf(v->o->out, ", signed by the trusted certificate %s (SHA-256 %s)\n", v->o->trust, hex);
	else if (v->o->pin != NULL)
		fprintf(v->o->out, ", signed by the key of the pinned certificate SHA-256 %s\n", hex);
	else
		fprintf(v->o->out, ", signed by the key of certificate SHA-256 %s, checked against nothing: anyone can "
				   "make a bundle that verifies; compare this fingerprint with the recorder's published "
				   "one, or verify with --trust RECORDER.crt\n", hex);
}

/* verify.h's known_sha256 for an extracted member: hashed on extraction,
 * into a folder only we can write, so its digest is the file's. */
struct known {
	struct stg_bundle *b;
	const char *root; /* the real path of b->root, as verify.c names files */
};

static bool
member_sha256(void *arg, const char *path, uint64_t size, uint8_t out[32])
{
	const struct known *k = arg;
	size_t n = strlen(k->root);
	struct stg_bundle_member *m;

	if (strncmp(path, k->root, n) != 0 || path[n] != '/' || (m = find(k->b, path + n + 1)) == NULL ||
	    m->size != size)
		return false;
	memcpy(out, m->sha, 32);
	return true;
}

nvr_err
stg_bundle_verify(struct stg_bundle *b, const struct stg_verify_opts *o, struct stg_verify_counts *counts,
    char *why, size_t whysize)
{
	struct stg_verify_counts seg;
	struct stg_verify_opts so = *o;
	struct bv v = { .b = b, .o = o, .c = counts };
	char real[PATH_MAX], shown[PATH_MAX + 8];
	struct known known = { .b = b, .root = real };
	bool *seen = calloc(b->n ? b->n : 1, sizeof(*seen));
	nvr_err rc = NVR_ERR_NOMEM;

	memset(counts, 0, sizeof(*counts));
	if (seen == NULL || (v.order = calloc(b->n ? b->n : 1, sizeof(*v.order))) == NULL) {
		free(seen);
		return rc;
	}
	for (size_t i = 0; i < b->n; i++)
		v.order[i] = b->members[i].path;
	for (size_t i = 0; i < b->nfindings; i++)
		bfail(&v, "(tar)", "%s", b->findings[i]);
	qsort(b->members, b->n, sizeof(*b->members), cmp_member);
	if (check_manifest(&v)) {
		check_layout(&v);
		check_members(&v, seen);
		check_sums(&v);
	}
	/* The segments, named as in the bundle, with the bundle's certs/ (or
	 * the trusted certificate). */
	if (realpath(b->root, real) == NULL)
		snprintf(real, sizeof(real), "%s", b->root);
	snprintf(shown, sizeof(shown), "%s:", b->name);
	so.summary = "segments";
	so.strip = real;
	so.shown_as = shown;
	so.known_sha256 = member_sha256;
	so.known_arg = &known;
	if ((rc = stg_verify_path(b->root, &so, &seg, why, whysize)) == NVR_OK) {
		counts->checked = seg.checked;
		counts->failed = seg.failed;
		counts->problems += seg.problems;
		counts->notes = seg.notes;
		counts->streams = seg.streams;
		if (b->manifest != NULL)
			check_streams(&v);
		verdict(&v);
	}
	free(v.order);
	free(seen);
	return rc;
}

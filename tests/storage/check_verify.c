/*
 * check_verify.c: offline verification (storage/verify.c) of a storage
 * root built here as the recorder lays it out: a signing key and its
 * certificate in certs/, sealed key files, two streams of signed segments
 * with their hash chains. Each kind of damage must fail and name the
 * segment it touched, and nothing else; what retention or recording leaves
 * must be a note, not a failure.
 */
#include "autoconfig.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "storage/manifest.h"
#include "storage/seal.h"
#include "storage/segment.h"
#include "storage/sign.h"
#include "storage/verify.h"
#include "tests/harness/files.h"
#include "tests/harness/run.h"

#define NSEG 5     /* segments of stream 0; stream 1 has 3 */
#define NPKT 9     /* records of a segment, one of them RTCP */
#define SEG_MAX ((size_t)32 * 1024)
#define MAX_RECORD_TEST ((size_t)STG_SEG_RECORD_HEADER + STG_SEG_MAX_PAYLOAD)

struct stream_fx {
	nvr_uuid camera, stream, key;
	const char *name;
	int64_t start_ns;
	int n;
	char base[NSEG][PATH_MAX]; /* a segment's path without its suffix */
};

/* Made before the tests of a case fork and removed after them, so that a
 * failed test, which never reaches its own teardown, leaves nothing. */
static char top_dir[64];

static struct {
	char dir[128];       /* this test's folder, in top_dir */
	char root[PATH_MAX]; /* <dir>/root, the storage root */
	char cert[PATH_MAX]; /* the signing certificate (outside the root) */
	struct stg_signer *sg;
	struct stream_fx s[2];
} fx;

static char *report;
static size_t report_len;
static struct stg_verify_counts counts;
static char why[8192];

/* ---- building a storage root ---------------------------------------------- */

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "we");

	ck_assert_msg(f != NULL, "cannot create %s", path);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = malloc(SEG_MAX + 1);

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(buf);
	*len = fread(buf, 1, SEG_MAX, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* snprintf that fails the test rather than cut a path */
#define FMT(buf, ...) ck_assert_int_lt(snprintf((buf), sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

static void
mkdir_p(const char *path)
{
	char p[PATH_MAX];

	FMT(p, "%s", path);
	for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s != NULL)
			*s = '\0';
		ck_assert_msg(mkdir(p, 0700) == 0 || errno == EEXIST, "cannot make %s", p);
		if (s == NULL)
			break;
		*s = '/';
	}
}

static void
copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = read_file(from, &len);

	write_file(to, data, len);
	free(data);
}

static void
path_of(char *out, size_t size, int s, int i, const char *suffix)
{
	snprintf(out, size, "%s%s", fx.s[s].base[i], suffix);
}

/* An SRTP-like packet: an RTP header (or an RTCP SR's first bytes), then
 * bytes that stand for the ciphertext and the 10-byte tag. */
static size_t
fake_packet(uint8_t *p, int seg, int i)
{
	size_t len = i == 4 ? 38 : 60 + 13 * (size_t)i;
	uint16_t rtp_seq = (uint16_t)(1000 + seg * NPKT + i);

	memset(p, 0, 12);
	p[0] = 0x80;
	p[1] = i == 4 ? 200 : 96;
	p[2] = (uint8_t)(rtp_seq >> 8);
	p[3] = (uint8_t)rtp_seq;
	p[11] = 0x42; /* SSRC 0x00000042 */
	for (size_t k = 12; k < len; k++)
		p[k] = (uint8_t)(k * 31 + (size_t)i * 7 + (size_t)seg);
	return len;
}

/* A segment as the writer lays it out: the header, then records, each
 * flush (every fourth record, and the last) padded to 4 KiB. */
static size_t
make_segment(uint8_t *buf, const struct stg_seg_header *h, struct stg_manifest *m)
{
	size_t off = STG_SEG_HEADER_LEN;

	stg_seg_header_encode(h, buf);
	for (int i = 0; i < NPKT; i++) {
		size_t len = fake_packet(buf + off + STG_SEG_RECORD_HEADER, (int)h->seq, i), pad;

		stg_seg_record_header(buf + off, i == 4 ? STG_REC_RTCP : STG_REC_RTP, i == 0 ? STG_REC_CLEAN : 0,
		    (uint32_t)len, h->start_ns + i * 10000000LL);
		off += STG_SEG_RECORD_HEADER + len;
		if (i % 4 == 3 || i == NPKT - 1) {
			pad = stg_seg_pad_len(off);
			stg_seg_pad(buf + off, pad);
			off += pad;
		}
	}
	m->packets = NPKT - 1;
	m->rtcp_packets = 1;
	m->end_ns = h->start_ns + (NPKT - 1) * 10000000LL;
	return off;
}

static void
sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	ck_assert_int_eq(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
}

static void
fill_manifest(struct stg_manifest *m, const struct stream_fx *st, const struct stg_seg_header *h)
{
	memset(m, 0, sizeof(*m));
	m->segment = h->segment;
	m->camera = st->camera;
	m->stream = st->stream;
	m->key = st->key;
	snprintf(m->camera_name, sizeof(m->camera_name), "gate-%s", st->name);
	snprintf(m->stream_name, sizeof(m->stream_name), "%s", st->name);
	m->seq = h->seq;
	snprintf(m->suite, sizeof(m->suite), "AES_CM_128_HMAC_SHA1_80");
	snprintf(m->key_source, sizeof(m->key_source), "mikey");
	m->tag_verified = true;
	m->ssrc = 0x42;
	snprintf(m->codec, sizeof(m->codec), "H264");
	m->clock_rate = 90000;
	m->payload_type = 96;
	m->first_index = 1000 + h->seq * NPKT;
	m->last_index = m->first_index + NPKT - 1;
	m->first_rtp_ts = (uint32_t)(h->seq * 5400000);
	m->last_rtp_ts = m->first_rtp_ts + 7200;
	m->start_ns = h->start_ns;
	snprintf(m->time_source, sizeof(m->time_source), "arrival");
	m->clean_start = true;
	memcpy(m->signer, stg_signer_fingerprint(fx.sg), 32);
	snprintf(m->recorder, sizeof(m->recorder), "check_verify nvr/" PACKAGE_VERSION);
}

/* Encodes, signs and writes a manifest; prev gets the SHA-256 of its bytes. */
static void
write_manifest(const struct stg_manifest *m, struct stg_signer *sg, const char *base, uint8_t prev[32])
{
	char path[PATH_MAX + 32], *text = NULL;
	uint8_t *sig = NULL;
	size_t len = 0, siglen = 0;

	ck_assert_int_eq(stg_manifest_encode(m, &text, &len), NVR_OK);
	ck_assert_int_eq(stg_signer_sign(sg, text, len, &sig, &siglen), NVR_OK);
	snprintf(path, sizeof(path), "%s.manifest.json", base);
	write_file(path, text, len);
	snprintf(path, sizeof(path), "%s.manifest.json.sig", base);
	write_file(path, sig, siglen);
	if (prev != NULL)
		sha256(text, len, prev);
	free(text);
	free(sig);
}

static void
make_stream(struct stream_fx *st)
{
	uint8_t *buf = malloc(SEG_MAX), prev[32] = { 0 };
	char dir[PATH_MAX], id[NVR_UUID_STRLEN];
	struct stg_seg_header h = { .camera = st->camera, .stream = st->stream, .key = st->key };
	struct stg_manifest m;
	size_t len;

	ck_assert_ptr_nonnull(buf);
	for (int i = 0; i < st->n; i++) {
		ck_assert_int_eq(nvr_uuid_new(&h.segment), NVR_OK);
		h.seq = (uint64_t)i;
		h.start_ns = st->start_ns + i * 60000000000LL;
		ck_assert_int_eq(stg_seg_dir(fx.root, &st->camera, st->name, h.start_ns, dir, sizeof(dir)), NVR_OK);
		mkdir_p(dir);
		nvr_uuid_format(&h.segment, id);
		FMT(st->base[i], "%s/%s", dir, id);
		fill_manifest(&m, st, &h);
		len = make_segment(buf, &h, &m);
		m.bytes = len;
		sha256(buf, len, m.sha256);
		m.has_prev = i > 0;
		memcpy(m.prev_sha256, prev, sizeof(prev));
		path_of(dir, sizeof(dir), (int)(st - fx.s), i, ".nvrseg");
		write_file(dir, buf, len);
		write_manifest(&m, fx.sg, st->base[i], prev);
	}
	free(buf);
}

/* keys/<key_id>.sealed.json, sealed to a key holder made here. */
static void
make_sealed_key(const struct stream_fx *st)
{
	EVP_PKEY *holder = EVP_EC_gen("P-256");
	uint8_t secret[30];
	char id[NVR_UUID_STRLEN], path[PATH_MAX + 64], *text;
	nvr_uuid hid;
	json_t *o = json_object(), *sealed = NULL, *arr = json_array();

	ck_assert_ptr_nonnull(holder);
	memset(secret, 0x5a, sizeof(secret));
	ck_assert_int_eq(nvr_uuid_new(&hid), NVR_OK);
	ck_assert_int_eq(stg_seal(&st->key, &hid, holder, secret, sizeof(secret), &sealed), NVR_OK);
	json_array_append_new(arr, sealed);
	nvr_uuid_format(&st->key, id);
	json_object_set_new(o, "format", json_string("nvr-sealed-key/1"));
	json_object_set_new(o, "key_id", json_string(id));
	json_object_set_new(o, "suite", json_string("AES_CM_128_HMAC_SHA1_80"));
	json_object_set_new(o, "sealed", arr);
	text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	snprintf(path, sizeof(path), "%s/keys/%s.sealed.json", fx.root, id);
	write_file(path, text, strlen(text));
	free(text);
	json_decref(o);
	EVP_PKEY_free(holder);
}

static void
make_signer(const char *name, struct stg_signer **out, char *cert, size_t certsize)
{
	char key[PATH_MAX];

	snprintf(key, sizeof(key), "%s/%s.key", fx.dir, name);
	snprintf(cert, certsize, "%s/%s.crt", fx.dir, name);
	ck_assert_int_eq(stg_signer_load(key, cert, true, out), NVR_OK);
}

static void
setup(void)
{
	char cert[PATH_MAX], path[PATH_MAX + 80], hex[65], real[PATH_MAX];
	const char *pem;

	nvr_log_set_level(NVR_LOG_ERROR); /* the new signing key is announced as a warning */
	memset(&fx, 0, sizeof(fx));
	FMT(fx.dir, "%s/test.XXXXXX", top_dir);
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	ck_assert_ptr_nonnull(realpath(fx.dir, real)); /* verify reports real paths */
	FMT(fx.root, "%s/root", real);
	FMT(path, "%s/certs", fx.root);
	mkdir_p(path);
	FMT(path, "%s/keys", fx.root);
	mkdir_p(path);
	make_signer("signing", &fx.sg, cert, sizeof(cert));
	snprintf(fx.cert, sizeof(fx.cert), "%s", cert);
	nvr_hex_encode(stg_signer_fingerprint(fx.sg), 32, hex);
	snprintf(path, sizeof(path), "%s/certs/%s.crt", fx.root, hex);
	pem = stg_signer_cert_pem(fx.sg);
	write_file(path, pem, strlen(pem));
	for (int s = 0; s < 2; s++) {
		struct stream_fx *st = &fx.s[s];

		ck_assert_int_eq(nvr_uuid_new(&st->camera), NVR_OK);
		ck_assert_int_eq(nvr_uuid_new(&st->stream), NVR_OK);
		ck_assert_int_eq(nvr_uuid_new(&st->key), NVR_OK);
		st->name = s == 0 ? "video" : "video2";
		st->n = s == 0 ? NSEG : 3;
		/* stream 0 crosses midnight: its segments lie in two day folders */
		ck_assert_int_eq(stg_time_parse(s == 0 ? "2026-11-21T23:58:30.000000Z" : "2026-11-22T05:00:00.000000Z",
					 &st->start_ns),
		    NVR_OK);
		make_stream(st);
		make_sealed_key(st);
	}
}

static void
teardown(void)
{
	stg_signer_free(fx.sg);
	fx.sg = NULL;
	free(report);
	report = NULL;
}

static void
top_setup(void)
{
	snprintf(top_dir, sizeof(top_dir), "/tmp/nvr-check-verify.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top_dir));
}

static void
top_teardown(void)
{
	if (getenv("NVR_TEST_KEEP") != NULL)
		fprintf(stderr, "kept %s\n", top_dir);
	else
		harness_rm_rf(top_dir);
}

/* ---- running and reading the report --------------------------------------- */

static nvr_err
verify(const char *path, const char *trust)
{
	FILE *f;
	struct stg_verify_opts o = { .trust = trust, .verbose = true };
	nvr_err rc;

	free(report);
	report = NULL;
	ck_assert_ptr_nonnull(f = open_memstream(&report, &report_len));
	o.out = f;
	rc = stg_verify_path(path, &o, &counts, why, sizeof(why));
	ck_assert_int_eq(fclose(f), 0);
	return rc;
}

static nvr_err
verify_root(void)
{
	return verify(fx.root, NULL);
}

/* Whether the report has a line "<tag> <path>: ...<needle>...". */
static bool
has_line(const char *tag, const char *path, const char *needle)
{
	char head[PATH_MAX + 128];
	size_t hl = (size_t)snprintf(head, sizeof(head), "%s %s: ", tag, path);

	for (const char *l = report; l != NULL && *l != '\0';) {
		const char *end = strchr(l, '\n');
		size_t ll = end ? (size_t)(end - l) : strlen(l);

		if (ll >= hl && memcmp(l, head, hl) == 0 && (needle == NULL || memmem(l, ll, needle, strlen(needle)) != NULL))
			return true;
		l = end ? end + 1 : NULL;
	}
	return false;
}

static int
count_lines(const char *tag)
{
	size_t tl = strlen(tag);
	int n = 0;

	for (const char *l = report; l != NULL && *l != '\0';) {
		if (strncmp(l, tag, tl) == 0 && l[tl] == ' ')
			n++;
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	return n;
}

/* Asserts a FAIL line for segment i of stream s that mentions needle. */
static void
assert_fail(int s, int i, const char *needle)
{
	char path[PATH_MAX + 32];

	path_of(path, sizeof(path), s, i, ".nvrseg");
	ck_assert_msg(has_line("FAIL", path, needle), "no FAIL line for stream %d segment %d mentioning '%s' in:\n%s", s,
	    i, needle, report);
}

static void
assert_counts(uint64_t checked, uint64_t failed, uint64_t notes)
{
	ck_assert_msg(counts.checked == checked && counts.failed == failed && counts.notes == notes &&
			  counts.problems == 0,
	    "checked %llu failed %llu notes %llu problems %llu, expected %llu %llu %llu 0; report:\n%s",
	    (unsigned long long)counts.checked, (unsigned long long)counts.failed, (unsigned long long)counts.notes,
	    (unsigned long long)counts.problems, (unsigned long long)checked, (unsigned long long)failed,
	    (unsigned long long)notes, report);
	if (failed == 0)
		ck_assert_int_eq(count_lines("FAIL"), 0);
}

static void
unlink_segment(int s, int i)
{
	static const char *const suffixes[] = { ".nvrseg", ".manifest.json", ".manifest.json.sig" };
	char path[PATH_MAX + 32];

	for (size_t k = 0; k < 3; k++) {
		path_of(path, sizeof(path), s, i, suffixes[k]);
		ck_assert_int_eq(unlink(path), 0);
	}
}

/* XORs one byte of a file at offset (from the end when negative). */
static void
flip_byte(const char *path, long offset, uint8_t mask)
{
	FILE *f = fopen(path, "r+e");
	int c;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, offset, offset < 0 ? SEEK_END : SEEK_SET), 0);
	c = fgetc(f);
	ck_assert_int_ne(c, EOF);
	ck_assert_int_eq(fseek(f, -1, SEEK_CUR), 0);
	fputc(c ^ mask, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void
dir_of(char *out, size_t size, int s, int i)
{
	snprintf(out, size, "%s", fx.s[s].base[i]);
	*strrchr(out, '/') = '\0';
}

/* A segment file of stream s with only its header and records: what the
 * writer has on disk before it closes a segment. */
static void
write_lone_segment(int s, uint64_t seq, char *path, size_t size)
{
	struct stg_seg_header h = { .camera = fx.s[s].camera, .stream = fx.s[s].stream, .key = fx.s[s].key, .seq = seq };
	uint8_t *buf = malloc(SEG_MAX);
	char dir[PATH_MAX], id[NVR_UUID_STRLEN];
	struct stg_manifest m;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(nvr_uuid_new(&h.segment), NVR_OK);
	h.start_ns = fx.s[s].start_ns + (int64_t)seq * 60000000000LL;
	dir_of(dir, sizeof(dir), s, fx.s[s].n - 1);
	nvr_uuid_format(&h.segment, id);
	snprintf(path, size, "%s/%s.nvrseg", dir, id);
	write_file(path, buf, make_segment(buf, &h, &m));
	free(buf);
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(all_verify)
{
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 0, 0);
	ck_assert_uint_eq(counts.streams, 2);
	ck_assert_int_eq(count_lines("OK"), 8);
	ck_assert_int_eq(count_lines("STREAM"), 2);
	ck_assert_ptr_nonnull(strstr(report, "all verified"));
	ck_assert_ptr_nonnull(strstr(report, "compare this fingerprint"));
	/* the same with the signer's certificate given as the trusted one */
	ck_assert_int_eq(verify(fx.root, fx.cert), NVR_OK);
	assert_counts(8, 0, 0);
	ck_assert_ptr_nonnull(strstr(report, "the trusted certificate"));
}
END_TEST

START_TEST(parts_verify_alone)
{
	char path[PATH_MAX + 32], id[NVR_UUID_STRLEN];

	/* one segment, named by any of its three files */
	path_of(path, sizeof(path), 0, 2, ".nvrseg");
	ck_assert_int_eq(verify(path, NULL), NVR_OK);
	assert_counts(1, 0, 1);
	ck_assert(has_line("NOTE", path, "the chain is checked from this segment on"));
	path_of(path, sizeof(path), 0, 2, ".manifest.json");
	ck_assert_int_eq(verify(path, NULL), NVR_OK);
	assert_counts(1, 0, 1);
	path_of(path, sizeof(path), 0, 0, ".manifest.json.sig");
	ck_assert_int_eq(verify(path, NULL), NVR_OK);
	assert_counts(1, 0, 0); /* the first of its stream: nothing before it */
	/* the second day folder of stream 0: its chain starts at seq 2 */
	dir_of(path, sizeof(path), 0, 2);
	ck_assert_int_eq(verify(path, NULL), NVR_OK);
	assert_counts(3, 0, 1);
	path_of(path, sizeof(path), 0, 2, ".nvrseg");
	ck_assert(has_line("NOTE", path, "seq 2 is the first of its stream here"));
	/* a camera folder */
	nvr_uuid_format(&fx.s[1].camera, id);
	FMT(path, "%s/%s", fx.root, id);
	ck_assert_int_eq(verify(path, NULL), NVR_OK);
	assert_counts(3, 0, 0);
}
END_TEST

START_TEST(flipped_byte)
{
	char path[PATH_MAX + 32];

	path_of(path, sizeof(path), 0, 1, ".nvrseg");
	flip_byte(path, STG_SEG_HEADER_LEN + STG_SEG_RECORD_HEADER + 20, 0x01);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 1, 0);
	assert_fail(0, 1, "its bytes were altered");
	ck_assert_ptr_nonnull(strstr(report, "NOT VERIFIED"));
}
END_TEST

START_TEST(middle_deleted)
{
	unlink_segment(0, 2);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(7, 1, 0);
	/* named: the segment after the gap, the missing seq and the one before */
	assert_fail(0, 3, "seq 2 is missing");
	assert_fail(0, 3, fx.s[0].base[1]);
}
END_TEST

START_TEST(files_swapped)
{
	char a[PATH_MAX + 32], b[PATH_MAX + 32], t[PATH_MAX + 32];

	path_of(a, sizeof(a), 0, 3, ".nvrseg");
	path_of(b, sizeof(b), 0, 4, ".nvrseg");
	FMT(t, "%s.tmp", a);
	ck_assert_int_eq(rename(a, t), 0);
	ck_assert_int_eq(rename(b, a), 0);
	ck_assert_int_eq(rename(t, b), 0);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 2, 0);
	assert_fail(0, 3, "its header is that of segment");
	assert_fail(0, 4, "its header is that of segment");
}
END_TEST

START_TEST(manifest_edited)
{
	char path[PATH_MAX + 32], *text, *p;
	size_t len;

	path_of(path, sizeof(path), 0, 2, ".manifest.json");
	text = read_file(path, &len);
	ck_assert_ptr_nonnull(p = strstr(text, "\"packets\": 8"));
	p[strlen("\"packets\": ")] = '9';
	write_file(path, text, len);
	free(text);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 2, 0);
	assert_fail(0, 2, "does not verify");
	/* and the next manifest's hash of it no longer matches */
	assert_fail(0, 3, "prev_manifest_sha256");
}
END_TEST

START_TEST(signature_removed)
{
	char path[PATH_MAX + 32];

	path_of(path, sizeof(path), 1, 1, ".manifest.json.sig");
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 1, 0);
	assert_fail(1, 1, "no signature");
}
END_TEST

START_TEST(resigned_by_another_key)
{
	struct stg_signer *other = NULL;
	char path[PATH_MAX + 80], ocert[PATH_MAX], hex[65], *text;
	struct stg_manifest m;
	const char *err = NULL;
	size_t len;

	make_signer("other", &other, ocert, sizeof(ocert));
	path_of(path, sizeof(path), 0, 3, ".manifest.json");
	text = read_file(path, &len);
	ck_assert_int_eq(stg_manifest_decode(text, len, &m, &err), NVR_OK);
	free(text);
	memcpy(m.signer, stg_signer_fingerprint(other), 32);
	write_manifest(&m, other, fx.s[0].base[3], NULL);

	/* its certificate is not in certs/ */
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 2, 0);
	assert_fail(0, 3, "cannot be read");
	assert_fail(0, 4, "prev_manifest_sha256");
	/* with the recorder's certificate trusted */
	ck_assert_int_eq(verify(fx.root, fx.cert), NVR_OK);
	assert_counts(8, 2, 0);
	assert_fail(0, 3, "signed by another key");
	/* its certificate slipped into certs/: the signature holds, the chain does not */
	nvr_hex_encode(stg_signer_fingerprint(other), 32, hex);
	snprintf(path, sizeof(path), "%s/certs/%s.crt", fx.root, hex);
	write_file(path, stg_signer_cert_pem(other), strlen(stg_signer_cert_pem(other)));
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 1, 0);
	assert_fail(0, 4, "prev_manifest_sha256");
	ck_assert_int_eq(count_lines("signer:"), 2);
	/* trusting the other key instead: all but the one it signed fail */
	ck_assert_int_eq(verify(fx.root, ocert), NVR_OK);
	assert_counts(8, 7, 0);
	stg_signer_free(other);
}
END_TEST

START_TEST(truncated)
{
	char path[PATH_MAX + 32];
	struct stat st;

	path_of(path, sizeof(path), 1, 1, ".nvrseg");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(truncate(path, st.st_size - 100), 0);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 1, 0);
	assert_fail(1, 1, "it was truncated");
}
END_TEST

START_TEST(records_corrupted)
{
	char path[PATH_MAX + 32];

	/* the first record's length: 60 + 65536, past any record */
	path_of(path, sizeof(path), 0, 0, ".nvrseg");
	flip_byte(path, STG_SEG_HEADER_LEN + 5, 0x01);
	/* off by one (60 -> 61): the next header is read one byte late */
	path_of(path, sizeof(path), 0, 4, ".nvrseg");
	flip_byte(path, STG_SEG_HEADER_LEN + 7, 0x01);
	/* inside the first PAD record: after 96 + 4 records of 16 + 60, 73, 86, 99 bytes */
	path_of(path, sizeof(path), 1, 0, ".nvrseg");
	flip_byte(path, 478 + STG_SEG_RECORD_HEADER + 8, 0x20);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 3, 0);
	assert_fail(0, 0, "record at offset 96: length 65596 is out of bounds");
	assert_fail(0, 4, "record at offset 173: unknown record kind 0");
	assert_fail(1, 0, "PAD record at offset 478 holds bytes that are not zero");
}
END_TEST

START_TEST(manifest_misdescribes)
{
	char path[PATH_MAX + 32], *text;
	struct stg_manifest m;
	const char *err = NULL;
	size_t len;

	/* signed by the recorder's own key, but counting one packet too few:
	 * the last of its stream, so no chain link changes */
	path_of(path, sizeof(path), 1, 2, ".manifest.json");
	text = read_file(path, &len);
	ck_assert_int_eq(stg_manifest_decode(text, len, &m, &err), NVR_OK);
	free(text);
	m.packets--;
	write_manifest(&m, fx.sg, fx.s[1].base[2], NULL);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 1, 0);
	assert_fail(1, 2, "it holds 8 RTP and 1 RTCP records, its manifest says 7 and 1");
}
END_TEST

START_TEST(first_segments_removed)
{
	char path[PATH_MAX + 32];

	unlink_segment(0, 0);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(7, 0, 1);
	path_of(path, sizeof(path), 0, 1, ".nvrseg");
	ck_assert(has_line("NOTE", path, "removed by retention"));
	unlink_segment(0, 1);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(6, 0, 1);
}
END_TEST

START_TEST(sealed_key_missing)
{
	char path[PATH_MAX + 64], id[NVR_UUID_STRLEN];

	nvr_uuid_format(&fx.s[1].key, id);
	snprintf(path, sizeof(path), "%s/keys/%s.sealed.json", fx.root, id);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 3, 0);
	for (int i = 0; i < 3; i++)
		assert_fail(1, i, "sealed key file");
}
END_TEST

START_TEST(segment_being_recorded)
{
	char open_seg[PATH_MAX + 64], stray[PATH_MAX + 64];

	write_lone_segment(0, NSEG, open_seg, sizeof(open_seg));
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 0, 1);
	ck_assert(has_line("NOTE", open_seg, "being recorded"));
	/* one that cannot be the next segment has no excuse */
	write_lone_segment(0, NSEG + 2, stray, sizeof(stray));
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(9, 1, 1);
	ck_assert(has_line("FAIL", stray, "no manifest"));
}
END_TEST

START_TEST(misplaced)
{
	static const char *const suffixes[] = { ".nvrseg", ".manifest.json", ".manifest.json.sig" };
	char from[PATH_MAX + 32], to[PATH_MAX + 64], dir[PATH_MAX], id[NVR_UUID_STRLEN];

	dir_of(dir, sizeof(dir), 0, 4);
	snprintf(id, sizeof(id), "%s", strrchr(fx.s[1].base[2], '/') + 1);
	for (size_t k = 0; k < 3; k++) {
		path_of(from, sizeof(from), 1, 2, suffixes[k]);
		snprintf(to, sizeof(to), "%s/%s%s", dir, id, suffixes[k]);
		ck_assert_int_eq(rename(from, to), 0);
	}
	/* and a segment of stream 0 into the day folder before its own */
	dir_of(dir, sizeof(dir), 0, 0);
	for (size_t k = 0; k < 3; k++) {
		path_of(from, sizeof(from), 0, 2, suffixes[k]);
		FMT(to, "%s%s%s", dir, strrchr(fx.s[0].base[2], '/'), suffixes[k]);
		ck_assert_int_eq(rename(from, to), 0);
	}
	ck_assert_int_eq(verify_root(), NVR_OK);
	/* each fails where it is; the one alone in another stream's folder
	 * starts a chain there, a note */
	assert_counts(8, 2, 1);
	FMT(to, "%s%s.nvrseg", dir, strrchr(fx.s[0].base[2], '/'));
	ck_assert(has_line("FAIL", to, "which belongs in"));
	dir_of(dir, sizeof(dir), 0, 4);
	FMT(to, "%s/%s.nvrseg", dir, id);
	ck_assert(has_line("FAIL", to, "lies in the folder of camera"));
}
END_TEST

START_TEST(names_escaped_and_skipped)
{
	char path[PATH_MAX + 64], dir[PATH_MAX];

	dir_of(dir, sizeof(dir), 0, 0);
	snprintf(path, sizeof(path), "%s/evil\nOK forged: all fine", dir);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/quarantine", fx.root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 0, 1);
	ck_assert(has_line("NOTE", path, "not verified"));
	ck_assert_ptr_null(strstr(report, "\nOK forged"));
	ck_assert_ptr_nonnull(strstr(report, "evil\\x0aOK forged"));
	ck_assert_int_eq(count_lines("SKIP"), 1);
}
END_TEST

START_TEST(unusable_paths)
{
	char path[PATH_MAX + 80], loose[PATH_MAX], hex[65];

	ck_assert_int_eq(verify("/nonexistent/nvr-check-verify", NULL), NVR_ERR_IO);
	ck_assert_ptr_nonnull(strstr(why, "No such file"));
	nvr_hex_encode(stg_signer_fingerprint(fx.sg), 32, hex);
	snprintf(path, sizeof(path), "%s/certs/%s.crt", fx.root, hex);
	ck_assert_int_eq(verify(path, NULL), NVR_ERR_INVAL);
	ck_assert_int_eq(verify(fx.root, "/nonexistent/recorder.crt"), NVR_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "trusted certificate"));
	/* a folder of the root with nothing in it: verified, but nothing was */
	snprintf(path, sizeof(path), "%s/empty", fx.root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(verify(path, NULL), NVR_OK);
	ck_assert_uint_eq(counts.checked, 0);
	ck_assert_uint_eq(counts.problems, 1);
	ck_assert(has_line("FAIL", path, "no segment found"));
	/* files copied out of the root: no certs/ above them */
	snprintf(loose, sizeof(loose), "%s/loose", fx.dir);
	ck_assert_int_eq(mkdir(loose, 0700), 0);
	for (size_t k = 0; k < 3; k++) {
		static const char *const suffixes[] = { ".nvrseg", ".manifest.json", ".manifest.json.sig" };
		char from[PATH_MAX + 32], to[PATH_MAX + 64];

		path_of(from, sizeof(from), 0, 0, suffixes[k]);
		FMT(to, "%s%s%s", loose, strrchr(fx.s[0].base[0], '/'), suffixes[k]);
		copy_file(from, to);
	}
	ck_assert_int_eq(verify(loose, NULL), NVR_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(why, "certs/"));
	/* ... unless the certificate is given */
	ck_assert_int_eq(verify(loose, fx.cert), NVR_OK);
	assert_counts(1, 0, 1);
}
END_TEST

START_TEST(manifest_garbage)
{
	char path[PATH_MAX + 32];

	path_of(path, sizeof(path), 1, 1, ".manifest.json");
	write_file(path, "{", 1);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(8, 2, 0);
	assert_fail(1, 1, "is not valid: not a JSON object");
	assert_fail(1, 2, "seq 1 is missing");
}
END_TEST

/* Stream 1 gets a fourth segment of 2.5 MiB whose records straddle the
 * 1 MiB blocks that verify reads; one record header starts 8 bytes before
 * the first block ends. Returns that header's offset. */
static uint64_t
append_big_segment(void)
{
	const size_t cap = (size_t)3 * 1024 * 1024, target = (size_t)1024 * 1024 - 8;
	struct stream_fx *st = &fx.s[1];
	struct stg_seg_header h = { .camera = st->camera, .stream = st->stream, .key = st->key, .seq = 3 };
	uint8_t *buf = malloc(cap);
	char dir[PATH_MAX], id[NVR_UUID_STRLEN], path[PATH_MAX + 32], *text;
	size_t off = STG_SEG_HEADER_LEN, len, mlen;
	struct stg_manifest m;
	int packets = 0;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(nvr_uuid_new(&h.segment), NVR_OK);
	h.start_ns = st->start_ns + 3 * 60000000000LL;
	stg_seg_header_encode(&h, buf);
	for (int i = 0; off < cap - 2 * MAX_RECORD_TEST - STG_SEG_ALIGN; i++) {
		len = i % 3 == 0 ? STG_SEG_MAX_PAYLOAD : i % 3 == 1 ? 1 : 1201;
		if (off < target && target - off - STG_SEG_RECORD_HEADER >= 1 &&
		    target - off - STG_SEG_RECORD_HEADER <= STG_SEG_MAX_PAYLOAD)
			len = target - off - STG_SEG_RECORD_HEADER;
		stg_seg_record_header(buf + off, STG_REC_RTP, 0, (uint32_t)len, h.start_ns + i);
		packets++;
		memset(buf + off + STG_SEG_RECORD_HEADER, 0xa0 + i % 16, len);
		off += STG_SEG_RECORD_HEADER + len;
		if (i % 16 == 15 && off != target) {
			size_t pad = stg_seg_pad_len(off);

			stg_seg_pad(buf + off, pad);
			off += pad;
		}
	}
	len = stg_seg_pad_len(off);
	stg_seg_pad(buf + off, len);
	off += len;
	ck_assert_int_eq(stg_seg_dir(fx.root, &st->camera, st->name, h.start_ns, dir, sizeof(dir)), NVR_OK);
	nvr_uuid_format(&h.segment, id);
	FMT(st->base[3], "%s/%s", dir, id);
	st->n = 4;
	fill_manifest(&m, st, &h);
	m.packets = (uint64_t)packets;
	m.rtcp_packets = 0;
	m.bytes = off;
	sha256(buf, off, m.sha256);
	m.has_prev = true;
	path_of(path, sizeof(path), 1, 2, ".manifest.json");
	text = read_file(path, &mlen);
	sha256(text, mlen, m.prev_sha256);
	free(text);
	path_of(path, sizeof(path), 1, 3, ".nvrseg");
	write_file(path, buf, off);
	write_manifest(&m, fx.sg, st->base[3], NULL);
	free(buf);
	return target;
}

START_TEST(big_segment_streamed)
{
	char path[PATH_MAX + 32], want[128];
	uint64_t at = append_big_segment();

	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(9, 0, 0);
	/* the kind byte of the header that straddles the first block */
	path_of(path, sizeof(path), 1, 3, ".nvrseg");
	flip_byte(path, (long)at, 0x04);
	ck_assert_int_eq(verify_root(), NVR_OK);
	assert_counts(9, 1, 0);
	snprintf(want, sizeof(want), "record at offset %llu: unknown record kind 5", (unsigned long long)at);
	assert_fail(1, 3, want);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("verify");
	TCase *ok = tcase_create("intact");
	TCase *bad = tcase_create("damaged");
	TCase *odd = tcase_create("edges");

	tcase_add_unchecked_fixture(ok, top_setup, top_teardown);
	tcase_add_checked_fixture(ok, setup, teardown);
	tcase_add_test(ok, all_verify);
	tcase_add_test(ok, parts_verify_alone);
	tcase_add_test(ok, first_segments_removed);
	tcase_add_test(ok, segment_being_recorded);
	tcase_add_test(ok, big_segment_streamed);
	suite_add_tcase(s, ok);
	tcase_add_unchecked_fixture(bad, top_setup, top_teardown);
	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_add_test(bad, flipped_byte);
	tcase_add_test(bad, middle_deleted);
	tcase_add_test(bad, files_swapped);
	tcase_add_test(bad, manifest_edited);
	tcase_add_test(bad, signature_removed);
	tcase_add_test(bad, resigned_by_another_key);
	tcase_add_test(bad, truncated);
	tcase_add_test(bad, records_corrupted);
	tcase_add_test(bad, sealed_key_missing);
	tcase_add_test(bad, manifest_garbage);
	tcase_add_test(bad, manifest_misdescribes);
	suite_add_tcase(s, bad);
	tcase_add_unchecked_fixture(odd, top_setup, top_teardown);
	tcase_add_checked_fixture(odd, setup, teardown);
	tcase_add_test(odd, misplaced);
	tcase_add_test(odd, names_escaped_and_skipped);
	tcase_add_test(odd, unusable_paths);
	suite_add_tcase(s, odd);
	return harness_run(s);
}

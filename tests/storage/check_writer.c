/*
 * check_writer.c: packets in through stg_out, segment files out: header,
 * records byte for byte, 4 KiB alignment of every flush, cuts at clean
 * points, manifests chained and signed, sealed-key files, buffer exhaustion.
 */
#include "autoconfig.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "nvrd/util.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/sign.h"
#include "storage/stats.h"
#include "storage/writer.h"
#include "tests/harness/files.h"
#include "tests/harness/run.h"

static char root[64];
static struct stg_signer *signer;
static struct stg_writer *w;

static void
setup(void)
{
	char key[128], crt[128];
	struct stg_writer_config cfg = { .threads = 2, .segment_duration_ms = 1000, .segment_max_bytes = 1 << 20,
		.max_buffers = 64 };

	snprintf(root, sizeof(root), "/tmp/nvr-check-writer.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(key, sizeof(key), "%s/s.key", root);
	snprintf(crt, sizeof(crt), "%s/s.crt", root);
	ck_assert_int_eq(stg_signer_load(key, crt, true, &signer), NVR_OK);
	cfg.root = root;
	cfg.signer = signer;
	ck_assert_int_eq(stg_writer_start(&cfg, &w), NVR_OK);
}

static void
teardown(void)
{
	if (w != NULL)
		stg_writer_stop(w);
	w = NULL;
	stg_signer_free(signer);
	harness_rm_rf(root);
}

static void
info(struct stg_out_info *in)
{
	memset(in, 0, sizeof(*in));
	nvr_uuid_new(&in->camera);
	nvr_uuid_new(&in->stream);
	nvr_uuid_new(&in->key);
	snprintf(in->camera_name, sizeof(in->camera_name), "cam1");
	snprintf(in->stream_name, sizeof(in->stream_name), "video");
	snprintf(in->suite, sizeof(in->suite), "AES_CM_128_HMAC_SHA1_80");
	snprintf(in->key_source, sizeof(in->key_source), "mikey");
	snprintf(in->codec, sizeof(in->codec), "H264");
	in->tag_verified = true;
	in->clock_rate = 90000;
	in->payload_type = 96;
}

/* A fake SRTP packet whose bytes encode its index, for later checks. */
static size_t
packet(uint8_t *buf, uint32_t i)
{
	size_t len = 100 + (i * 37) % 1300;

	for (size_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(i + k);
	return len;
}

/* Finds the segment files (*.nvrseg) under root, sorted by name. */
static int
list_segments(char paths[][512], int max)
{
	return harness_find(root, ".nvrseg", paths, max);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

START_TEST(one_segment_byte_for_byte)
{
	struct stg_out_info in;
	struct stg_out *o;
	struct stg_pkt pkt = { .ssrc = 42 };
	uint8_t buf[2048], *file, md[32];
	char segs[4][512], mpath[600];
	size_t len, off, mlen;
	struct stg_seg_header h;
	struct stg_record r;
	struct stg_manifest m;
	const char *why;
	unsigned int mdlen;
	char *mtext;
	uint32_t i = 0;

	info(&in);
	ck_assert_int_eq(stg_out_open(w, &in, &o), NVR_OK);
	for (i = 0; i < 300; i++) {
		pkt.index = 1000 + i;
		pkt.ts = i * 3600;
		len = packet(buf, i);
		ck_assert_int_eq(stg_out_packet(o, buf, len, &pkt, 1700000000000000000LL + i * 1000000LL,
		    nvr_monotonic_ms() * 1000), NVR_OK);
		if (i % 100 == 99)
			stg_out_flush(o); /* sync ticks mid-segment */
		if (i % 37 == 36) {
			/* and more, mid-chunk: the chunk goes on filling after the
			 * range handed over; a second tick with nothing new */
			stg_out_flush(o);
			stg_out_flush(o);
		}
	}
	stg_out_close(o);
	stg_writer_stop(w);
	ck_assert_int_eq(list_segments(segs, 4), 1);
	file = slurp(segs[0], &len);
	ck_assert_uint_eq(len % STG_SEG_ALIGN, 0);
	ck_assert_int_eq(stg_seg_header_decode(file, len, &h, &why), NVR_OK);
	ck_assert_mem_eq(h.stream.b, in.stream.b, 16);
	ck_assert_uint_eq(h.seq, 0);
	/* every packet, in order, byte for byte; pads between flushes */
	i = 0;
	for (off = STG_SEG_HEADER_LEN; off < len; off += STG_SEG_RECORD_HEADER + r.len) {
		ck_assert_int_eq(stg_seg_record_decode(file + off, len - off, &r), NVR_OK);
		if (r.kind == STG_REC_PAD)
			continue;
		ck_assert_int_eq(r.kind, STG_REC_RTP);
		ck_assert_uint_eq(r.len, packet(buf, i));
		ck_assert_mem_eq(r.data, buf, r.len);
		i++;
	}
	ck_assert_uint_eq(off, len);
	ck_assert_uint_eq(i, 300);
	/* the manifest: decodes, names the file's hash, is signed */
	snprintf(mpath, sizeof(mpath), "%.*s.manifest.json", (int)(strlen(segs[0]) - 7), segs[0]);
	mtext = (char *)slurp(mpath, &mlen);
	ck_assert_int_eq(stg_manifest_decode(mtext, mlen, &m, &why), NVR_OK);
	ck_assert_uint_eq(m.packets, 300);
	ck_assert_uint_eq(m.bytes, len);
	ck_assert_uint_eq(m.first_index, 1000);
	ck_assert_uint_eq(m.last_index, 1299);
	ck_assert(!m.has_prev);
	EVP_Digest(file, len, md, &mdlen, EVP_sha256(), NULL);
	ck_assert_mem_eq(md, m.sha256, 32);
	free(file);
	free(mtext);
	w = NULL;
}
END_TEST

START_TEST(cut_at_clean_points_and_chained)
{
	struct stg_out_info in;
	struct stg_out *o;
	struct stg_pkt pkt = { .onvif = true };
	uint8_t buf[2048], md[32], prev[32];
	char segs[16][512], mpath[600];
	int64_t t0 = nvr_monotonic_ms() * 1000;
	struct stg_manifest m;
	const char *why;
	unsigned int mdlen;
	size_t mlen;
	char *mtext;
	int n;

	info(&in);
	stg_writer_seed(w, &in.stream, 7, false, NULL);
	ck_assert_int_eq(stg_out_open(w, &in, &o), NVR_OK);
	/* 25 packets per "second", a clean point every 12: cut at the first
	 * clean point 1 s after the start (fake monotonic clock) */
	for (uint32_t i = 0; i < 100; i++) {
		pkt.index = i;
		pkt.clean = i % 12 == 0;
		pkt.ntp_ns = 1700000000000000000LL + (int64_t)i * 40000000LL;
		ck_assert_int_eq(stg_out_packet(o, buf, packet(buf, i), &pkt, pkt.ntp_ns, t0 + (int64_t)i * 40000), NVR_OK);
	}
	stg_out_close(o);
	stg_writer_stop(w);
	w = NULL;
	n = list_segments(segs, 16);
	ck_assert_int_ge(n, 3);
	/* follow the chain in seq order: each links the previous manifest */
	for (uint64_t seq = 7; seq < 7 + (uint64_t)n; seq++) {
		bool found = false;
		for (int k = 0; k < n && !found; k++) {
			snprintf(mpath, sizeof(mpath), "%.*s.manifest.json", (int)(strlen(segs[k]) - 7), segs[k]);
			mtext = (char *)slurp(mpath, &mlen);
			ck_assert_int_eq(stg_manifest_decode(mtext, mlen, &m, &why), NVR_OK);
			if (m.seq == seq) {
				found = true;
				ck_assert(m.clean_start);
				ck_assert_str_eq(m.time_source, "onvif");
				ck_assert(seq == 7 ? !m.has_prev : m.has_prev);
				if (seq > 7)
					ck_assert_mem_eq(m.prev_sha256, prev, 32);
				EVP_Digest(mtext, mlen, md, &mdlen, EVP_sha256(), NULL);
				memcpy(prev, md, 32);
			}
			free(mtext);
		}
		ck_assert_msg(found, "no segment with seq %llu", (unsigned long long)seq);
	}
}
END_TEST

START_TEST(keyfile_before_segments)
{
	struct stg_out_info in;
	char path[256];
	struct stat st;

	info(&in);
	ck_assert_int_eq(stg_writer_keyfile(w, &in.stream, &in.key, "{\"format\":\"nvr-sealed-key/1\"}\n"), NVR_OK);
	stg_writer_stop(w);
	w = NULL;
	nvr_uuid_format(&in.key, path + 200);
	snprintf(path, 200, "%s/keys/%s.sealed.json", root, path + 200);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
}
END_TEST

START_TEST(no_buffer_drops_whole_packets)
{
	struct stg_writer_config cfg = { .root = root, .threads = 1, .segment_duration_ms = 60000,
		.segment_max_bytes = 1 << 30, .max_buffers = 2, .signer = signer };
	struct stg_writer *small;
	struct stg_out_info in;
	struct stg_out *a, *b, *c;
	struct stg_pkt pkt = { 0 };
	uint8_t buf[2048];
	uint64_t before = stg_stats.dropped_storage;

	stg_writer_stop(w);
	w = NULL;
	ck_assert_int_eq(stg_writer_start(&cfg, &small), NVR_OK);
	info(&in);
	ck_assert_int_eq(stg_out_open(small, &in, &a), NVR_OK);
	nvr_uuid_new(&in.stream);
	ck_assert_int_eq(stg_out_open(small, &in, &b), NVR_OK);
	nvr_uuid_new(&in.stream);
	ck_assert_int_eq(stg_out_open(small, &in, &c), NVR_OK);
	ck_assert_int_eq(stg_out_packet(a, buf, packet(buf, 1), &pkt, 1, 1), NVR_OK);
	ck_assert_int_eq(stg_out_packet(b, buf, packet(buf, 1), &pkt, 1, 1), NVR_OK);
	/* two buffers, both in use: the third stream's packet is refused whole */
	ck_assert_int_eq(stg_out_packet(c, buf, packet(buf, 1), &pkt, 1, 1), NVR_ERR_NOSPACE);
	ck_assert_uint_eq(stg_stats.dropped_storage, before + 1);
	stg_out_close(a);
	stg_out_close(b);
	stg_out_close(c);
	stg_writer_stop(small);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("writer");
	TCase *tc = tcase_create("segments");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, one_segment_byte_for_byte);
	tcase_add_test(tc, cut_at_clean_points_and_chained);
	tcase_add_test(tc, keyfile_before_segments);
	tcase_add_test(tc, no_buffer_drops_whole_packets);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

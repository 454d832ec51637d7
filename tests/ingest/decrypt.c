/*
 * decrypt.c: nvr-test-decrypt, the key holder's side in a test: proves
 * that what the recorder stored is exactly what the camera sent.
 *
 *   nvr-test-decrypt unseal KEYHOLDER.key SEALED.json
 *       prints the master key || salt unsealed with the key holder's
 *       private key, as hex
 *   nvr-test-decrypt decode HEXKEY SEGMENT...
 *       decrypts every RTP record of the segments (in order) with libsrtp2
 *       and decodes the H.264 with GStreamer (appsrc, rtph264depay,
 *       h264parse, avdec_h264); prints "decoded N frames, M of P packets
 *       failed" and the first 16 bytes of the stream's SPS ("sps: HEX"),
 *       and exits 0 if frames were decoded and no packet failed.
 *   nvr-test-decrypt scan HEX FILE...
 *       looks for the bytes HEX in each file: raw, as hex (either case) and
 *       as base64 at each of the three alignments; prints every file that
 *       holds them and exits 1 if any does, 0 if none.
 *
 * The recorder's own code never decrypts; this tool is the proof that a
 * key holder can.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <openssl/pem.h>
#include <srtp2/srtp.h>

#include "ingest/rtp.h"
#include "nvrd/encode.h"
#include "storage/manifest.h"
#include "storage/seal.h"
#include "storage/segment.h"

static int
unseal(const char *keyfile, const char *sealed)
{
	FILE *f = fopen(keyfile, "r");
	EVP_PKEY *priv = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	json_t *doc = json_load_file(sealed, 0, NULL), *arr;
	uint8_t out[STG_SEAL_MAX_SECRET];
	char hex[2 * STG_SEAL_MAX_SECRET + 1];
	nvr_uuid kid;
	size_t len;

	if (f)
		fclose(f);
	if (priv == NULL || doc == NULL ||
	    nvr_uuid_parse(json_string_value(json_object_get(doc, "key_id")), &kid) != NVR_OK ||
	    (arr = json_object_get(doc, "sealed")) == NULL) {
		fprintf(stderr, "cannot read the key or the sealed-key file\n");
		return 1;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		if (stg_unseal(&kid, priv, json_array_get(arr, i), out, &len) == NVR_OK) {
			nvr_hex_encode(out, len, hex);
			printf("%s\n", hex);
			return 0;
		}
	}
	fprintf(stderr, "no sealed copy opens with this key\n");
	return 1;
}

static GstFlowReturn
on_sample(GstElement *sink, gpointer count)
{
	GstSample *s = NULL;

	g_signal_emit_by_name(sink, "pull-sample", &s);
	if (s != NULL) {
		(*(int *)count)++;
		gst_sample_unref(s);
	}
	return GST_FLOW_OK;
}

static char sps_hex[65];

/* Notes the first H.264 SPS seen in clear (a single NAL unit of type 7,
 * or one of the units of a STAP-A), for tests that look for it on disk. */
static void
note_sps(const uint8_t *p, size_t len)
{
	struct ing_rtp r;
	const uint8_t *nal;
	size_t n;

	if (sps_hex[0] != '\0' || ing_rtp_parse(p, len, &r) != NVR_OK || r.header_len + 4 > len)
		return;
	nal = p + r.header_len;
	n = len - r.header_len;
	if ((nal[0] & 0x1f) == 7 && n >= 12) {
		nvr_hex_encode(nal, n < 16 ? n : 16, sps_hex);
		return;
	}
	if ((nal[0] & 0x1f) != 24) /* STAP-A: units each after a 16-bit size */
		return;
	for (size_t off = 1; off + 2 < n;) {
		size_t u = (size_t)nal[off] << 8 | nal[off + 1];
		if (u == 0 || off + 2 + u > n)
			return;
		if ((nal[off + 2] & 0x1f) == 7 && u >= 12) {
			nvr_hex_encode(nal + off + 2, u < 16 ? u : 16, sps_hex);
			return;
		}
		off += 2 + u;
	}
}

/* Decrypts one segment's RTP records into the pipeline. */
static void
push_segment(const char *path, srtp_t srtp, GstAppSrc *src, int *failed, int *packets)
{
	gchar *data = NULL;
	gsize len = 0;
	struct stg_record r;
	struct stg_seg_header h;
	const char *why;
	size_t off = STG_SEG_HEADER_LEN;

	if (!g_file_get_contents(path, &data, &len, NULL) ||
	    stg_seg_header_decode((const uint8_t *)data, len, &h, &why) != NVR_OK) {
		fprintf(stderr, "%s: not a segment\n", path);
		(*failed)++;
		g_free(data);
		return;
	}
	while (off < len && stg_seg_record_decode((const uint8_t *)data + off, len - off, &r) == NVR_OK) {
		if (r.kind == STG_REC_RTP) {
			guint8 *copy = g_memdup2(r.data, r.len);
			int n = (int)r.len;
			(*packets)++;
			if (srtp_unprotect(srtp, copy, &n) == srtp_err_status_ok) {
				note_sps(copy, (size_t)n);
				gst_app_src_push_buffer(src, gst_buffer_new_wrapped(copy, (gsize)n));
			}
			else {
				(*failed)++;
				g_free(copy);
			}
		}
		off += STG_SEG_RECORD_HEADER + r.len;
	}
	g_free(data);
}

static int
decode(const char *hexkey, int nseg, char **segs)
{
	uint8_t key[46];
	srtp_policy_t pol;
	srtp_t srtp = NULL;
	GstElement *pipe, *src, *sink;
	GstMessage *msg;
	int frames = 0, failed = 0, packets = 0;
	size_t klen = strlen(hexkey) / 2;

	if ((klen != 30 && klen != 46) || nvr_hex_decode(hexkey, key, klen) != NVR_OK) {
		fprintf(stderr, "bad key\n");
		return 2;
	}
	memset(&pol, 0, sizeof(pol));
	if (klen == 46) {
		srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&pol.rtp);
		srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&pol.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	}
	pol.ssrc.type = ssrc_any_inbound;
	pol.key = key;
	pol.window_size = 1024;
	if (srtp_init() != srtp_err_status_ok || srtp_create(&srtp, &pol) != srtp_err_status_ok)
		return 2;
	pipe = gst_parse_launch("appsrc name=src is-live=false do-timestamp=true format=time "
				"caps=application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96 ! "
				"rtph264depay ! h264parse ! avdec_h264 ! appsink name=sink emit-signals=true sync=false",
	    NULL);
	src = gst_bin_get_by_name(GST_BIN(pipe), "src");
	sink = gst_bin_get_by_name(GST_BIN(pipe), "sink");
	g_signal_connect(sink, "new-sample", G_CALLBACK(on_sample), &frames);
	gst_element_set_state(pipe, GST_STATE_PLAYING);
	for (int i = 0; i < nseg; i++)
		push_segment(segs[i], srtp, GST_APP_SRC(src), &failed, &packets);
	gst_app_src_end_of_stream(GST_APP_SRC(src));
	msg = gst_bus_timed_pop_filtered(GST_ELEMENT_BUS(pipe), 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	if (msg == NULL || GST_MESSAGE_TYPE(msg) != GST_MESSAGE_EOS)
		fprintf(stderr, "the decoder did not reach the end of the stream\n");
	if (msg)
		gst_message_unref(msg);
	gst_element_set_state(pipe, GST_STATE_NULL);
	printf("decoded %d frames, %d of %d packets failed\n", frames, failed, packets);
	if (sps_hex[0] != '\0')
		printf("sps: %s\n", sps_hex);
	gst_object_unref(src);
	gst_object_unref(sink);
	gst_object_unref(pipe);
	srtp_dealloc(srtp);
	return frames > 0 && failed == 0 ? 0 : 1;
}

/* Adds `pattern` and `len` to the list of needles if there is room. */
static void
add_needle(char **needles, size_t *lens, int *n, char *pattern, size_t len)
{
	if (len >= 8) {
		needles[*n] = pattern;
		lens[*n] = len;
		(*n)++;
	} else
		g_free(pattern);
}

static int
scan(const char *hex, int nfiles, char **files)
{
	size_t blen = strlen(hex) / 2;
	uint8_t *bytes = g_malloc(blen + 1);
	char *needles[8];
	size_t lens[8];
	int n = 0, hits = 0;

	if (blen < 8 || nvr_hex_decode(hex, bytes, blen) != NVR_OK) {
		fprintf(stderr, "bad pattern\n");
		g_free(bytes);
		return 2;
	}
	add_needle(needles, lens, &n, g_memdup2(bytes, blen), blen);
	add_needle(needles, lens, &n, g_ascii_strdown(hex, -1), 2 * blen);
	add_needle(needles, lens, &n, g_ascii_strup(hex, -1), 2 * blen);
	for (size_t skip = 0; skip < 3; skip++) {
		/* Base64 of the bytes starting at a 3-byte boundary; the first
		 * and last characters depend on neighbours, so drop them. */
		gchar *b = g_base64_encode(bytes + skip, blen - skip);
		size_t bl = strlen(b);
		while (bl > 0 && b[bl - 1] == '=')
			bl--;
		add_needle(needles, lens, &n, g_strndup(b, bl > 1 ? bl - 1 : 0), bl > 1 ? bl - 1 : 0);
		g_free(b);
	}
	for (int i = 0; i < nfiles; i++) {
		gchar *data = NULL;
		gsize len = 0;
		if (!g_file_get_contents(files[i], &data, &len, NULL))
			continue;
		for (int k = 0; k < n; k++) {
			if (memmem(data, len, needles[k], lens[k]) != NULL) {
				printf("%s: holds the bytes (form %d)\n", files[i], k);
				hits++;
				break;
			}
		}
		g_free(data);
	}
	for (int k = 0; k < n; k++)
		g_free(needles[k]);
	g_free(bytes);
	return hits > 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	gst_init(&argc, &argv);
	if (argc == 4 && strcmp(argv[1], "unseal") == 0)
		return unseal(argv[2], argv[3]);
	if (argc >= 4 && strcmp(argv[1], "decode") == 0)
		return decode(argv[2], argc - 3, argv + 3);
	if (argc >= 3 && strcmp(argv[1], "scan") == 0)
		return scan(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "usage: nvr-test-decrypt unseal KEY SEALED.json | decode HEXKEY SEGMENT... | "
			"scan HEX FILE...\n");
	return 2;
}

/*
 * check_srtp.c: auth-only SRTP checks against packets protected by
 * libsrtp2 itself: key derivation (RFC 3711 B.3, RFC 6188 7.2 vectors),
 * tags, tampered and replayed packets, rollover, every suite, SRTCP.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "ingest/rtp.h"
#include "ingest/srtp.h"
#include "nvrd/encode.h"
#include "tests/harness/run.h"

#define SSRC 0x11223344u

static void
hex(const char *s, uint8_t *out, size_t n)
{
	ck_assert_int_eq(nvr_hex_decode(s, out, n), NVR_OK);
}

START_TEST(derivation_vectors)
{
	uint8_t key[32], salt[14], out[20], want[20];

	/* RFC 3711 B.3 */
	hex("e1f97a0d3e018be0d64fa32c06de4139", key, 16);
	hex("0ec675ad498afeebb6960b3aabe6", salt, 14);
	ck_assert_int_eq(ing_srtp_derive(ING_SRTP_AES128_SHA1_80, key, salt, 0x01, out, 20), NVR_OK);
	hex("cebe321f6ff7716b6fd4ab49af256a156d38baa4", want, 20);
	ck_assert_mem_eq(out, want, 20);
	ck_assert_int_eq(ing_srtp_derive(ING_SRTP_AES128_SHA1_80, key, salt, 0x00, out, 16), NVR_OK);
	hex("c61e7a93744f39ee10734afe3ff7a087", want, 16);
	ck_assert_mem_eq(out, want, 16);
	/* RFC 6188 7.2 */
	hex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6", key, 32);
	hex("3b04803de51ee7c96423ab5b78d2", salt, 14);
	ck_assert_int_eq(ing_srtp_derive(ING_SRTP_AES256_SHA1_80, key, salt, 0x01, out, 20), NVR_OK);
	hex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05", want, 20);
	ck_assert_mem_eq(out, want, 20);
}
END_TEST

/* A libsrtp2 sender with the given suite and a fixed key. */
struct sender {
	srtp_t session;
	uint8_t master[46];
	size_t key_len, salt_len;
};

static void
sender_init(struct sender *tx, enum ing_srtp_suite suite)
{
	srtp_policy_t pol;

	memset(&pol, 0, sizeof(pol));
	switch (suite) {
	case ING_SRTP_AES128_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
		break;
	case ING_SRTP_AES128_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol.rtp);
		break;
	case ING_SRTP_AES256_SHA1_80:
		srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&pol.rtp);
		break;
	case ING_SRTP_AES256_SHA1_32:
		srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(&pol.rtp);
		break;
	case ING_SRTP_AEAD_AES128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
		break;
	default:
		srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtp);
		break;
	}
	/* RFC 4568 6.2: SRTCP keeps an 80-bit tag with the _32 suites. */
	if (suite == ING_SRTP_AES128_SHA1_32)
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	else if (suite == ING_SRTP_AES256_SHA1_32)
		srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&pol.rtcp);
	else
		pol.rtcp = pol.rtp;
	tx->key_len = ing_srtp_key_len(suite);
	tx->salt_len = ing_srtp_salt_len(suite);
	for (size_t i = 0; i < sizeof(tx->master); i++)
		tx->master[i] = (uint8_t)(i * 7 + 3);
	pol.key = tx->master;
	pol.ssrc.type = ssrc_specific;
	pol.ssrc.value = SSRC;
	pol.window_size = 128;
	ck_assert_int_eq(srtp_create(&tx->session, &pol), srtp_err_status_ok);
}

/* An RTP packet with an ONVIF extension; returns the protected length. */
static int
make_rtp(struct sender *tx, uint16_t seq, size_t payload, uint8_t *buf)
{
	int len = (int)(12 + 16 + payload);

	memset(buf, 0, 12 + 16);
	buf[0] = 0x90; /* V=2, X=1 */
	buf[1] = 96;
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	buf[4] = 0x12;
	buf[8] = 0x11, buf[9] = 0x22, buf[10] = 0x33, buf[11] = 0x44;
	buf[12] = 0xAB, buf[13] = 0xAC, buf[15] = 3; /* profile 0xABAC, 3 words */
	buf[16] = 0xE9;                              /* NTP seconds, high byte */
	buf[24] = 0x80;                              /* C: clean point */
	for (size_t i = 0; i < payload; i++)
		buf[28 + i] = (uint8_t)(seq + i);
	ck_assert_int_eq(srtp_protect(tx->session, buf, &len), srtp_err_status_ok);
	return len;
}

static struct ing_srtp *
receiver(enum ing_srtp_suite suite, const struct sender *tx)
{
	struct ing_srtp *rx = NULL;

	ck_assert_int_eq(ing_srtp_new(suite, tx->master, tx->master + tx->key_len, 0, SSRC, &rx), NVR_OK);
	return rx;
}

static void
run_suite(enum ing_srtp_suite suite, enum ing_srtp_verdict good)
{
	struct sender tx;
	struct ing_srtp *rx;
	uint8_t buf[2048], keep[2048];
	uint64_t idx;
	int len, keep_len = 0;

	sender_init(&tx, suite);
	rx = receiver(suite, &tx);
	for (int i = 0; i < 300; i++) {
		len = make_rtp(&tx, (uint16_t)(1000 + i), (size_t)(i * 5 % 1400) + 1, buf);
		ck_assert_int_eq(ing_srtp_check_rtp(rx, buf, (size_t)len, &idx), good);
		ck_assert_uint_eq(idx, 1000u + (unsigned)i);
		if (i == 100) {
			memcpy(keep, buf, (size_t)len);
			keep_len = len;
		}
	}
	/* a replayed packet */
	ck_assert_int_eq(ing_srtp_check_rtp(rx, keep, (size_t)keep_len, &idx), ING_SRTP_REPLAYED);
	/* a tampered one: one payload bit; AEAD cannot tell, HMAC must */
	len = make_rtp(&tx, 1300, 500, buf);
	buf[100] ^= 0x01;
	ck_assert_int_eq(ing_srtp_check_rtp(rx, buf, (size_t)len, &idx),
	    good == ING_SRTP_OK ? ING_SRTP_FORGED : ING_SRTP_UNVERIFIED);
	/* after a forgery the stream goes on */
	len = make_rtp(&tx, 1301, 500, buf);
	ck_assert_int_eq(ing_srtp_check_rtp(rx, buf, (size_t)len, &idx), good);
	ing_srtp_free(rx);
	srtp_dealloc(tx.session);
}

START_TEST(suite_aes128_80) { run_suite(ING_SRTP_AES128_SHA1_80, ING_SRTP_OK); }
END_TEST
START_TEST(suite_aes128_32) { run_suite(ING_SRTP_AES128_SHA1_32, ING_SRTP_OK); }
END_TEST
START_TEST(suite_aes256_80) { run_suite(ING_SRTP_AES256_SHA1_80, ING_SRTP_OK); }
END_TEST
START_TEST(suite_aes256_32) { run_suite(ING_SRTP_AES256_SHA1_32, ING_SRTP_OK); }
END_TEST
START_TEST(suite_gcm128) { run_suite(ING_SRTP_AEAD_AES128_GCM, ING_SRTP_UNVERIFIED); }
END_TEST
START_TEST(suite_gcm256) { run_suite(ING_SRTP_AEAD_AES256_GCM, ING_SRTP_UNVERIFIED); }
END_TEST

START_TEST(every_byte_is_covered)
{
	struct sender tx;
	struct ing_srtp *rx;
	uint8_t buf[512], copy[512];
	uint64_t idx;
	int len;

	sender_init(&tx, ING_SRTP_AES128_SHA1_80);
	rx = receiver(ING_SRTP_AES128_SHA1_80, &tx);
	len = make_rtp(&tx, 7, 200, buf);
	/* Flipping any bit, header, extension, payload or tag, is caught;
	 * the SSRC bytes are caught earlier as a foreign source. */
	for (int i = 0; i < len; i++) {
		memcpy(copy, buf, (size_t)len);
		copy[i] ^= 0x40;
		enum ing_srtp_verdict v = ing_srtp_check_rtp(rx, copy, (size_t)len, &idx);
		ck_assert_msg(v == ING_SRTP_FORGED || v == ING_SRTP_MALFORMED, "byte %d flipped: verdict %d", i, v);
	}
	ck_assert_int_eq(ing_srtp_check_rtp(rx, buf, (size_t)len, &idx), ING_SRTP_OK);
	/* truncated */
	ck_assert_int_eq(ing_srtp_check_rtp(rx, buf, 15, &idx), ING_SRTP_MALFORMED);
	ing_srtp_free(rx);
	srtp_dealloc(tx.session);
}
END_TEST

START_TEST(rollover_and_reordering)
{
	struct sender tx;
	struct ing_srtp *rx;
	uint8_t a[512], b[512];
	uint64_t idx;
	int la, lb;

	sender_init(&tx, ING_SRTP_AES128_SHA1_80);
	rx = receiver(ING_SRTP_AES128_SHA1_80, &tx);
	/* 65530 .. 65535, 0 .. 20: the ROC goes from 0 to 1 on both sides;
	 * pairs are delivered swapped, inside the replay window. */
	for (uint32_t s = 65530; s < 65536 + 20; s += 2) {
		la = make_rtp(&tx, (uint16_t)s, 100, a);
		lb = make_rtp(&tx, (uint16_t)(s + 1), 100, b);
		ck_assert_int_eq(ing_srtp_check_rtp(rx, b, (size_t)lb, &idx), ING_SRTP_OK);
		ck_assert_uint_eq(idx, s + 1);
		ck_assert_int_eq(ing_srtp_check_rtp(rx, a, (size_t)la, &idx), ING_SRTP_OK);
		ck_assert_uint_eq(idx, s);
	}
	ing_srtp_free(rx);
	srtp_dealloc(tx.session);
}
END_TEST

START_TEST(stale_roc_from_mikey)
{
	struct sender tx;
	struct ing_srtp *rx;
	uint8_t buf[512];
	uint64_t idx;
	int len = 0;

	/* The sender wraps (ROC 0 to 1) between offering the key with ROC 0
	 * and the recorder's first packet, as a shared stream may. */
	sender_init(&tx, ING_SRTP_AES128_SHA1_80);
	for (uint32_t s = 65530; s <= 65536 + 5; s++)
		len = make_rtp(&tx, (uint16_t)s, 100, buf);
	rx = receiver(ING_SRTP_AES128_SHA1_80, &tx);
	ck_assert_int_eq(ing_srtp_check_rtp(rx, buf, (size_t)len, &idx), ING_SRTP_OK);
	ck_assert_uint_eq(idx, (1u << 16) | 5u);
	len = make_rtp(&tx, 6, 100, buf);
	ck_assert_int_eq(ing_srtp_check_rtp(rx, buf, (size_t)len, &idx), ING_SRTP_OK);
	ck_assert_uint_eq(idx, (1u << 16) | 6u);
	/* once a packet is authentic, no other ROC is tried: a packet the
	 * sender made with ROC 1 and relabelled by the network stays forged */
	len = make_rtp(&tx, 7, 100, buf);
	buf[20] ^= 0x40;
	ck_assert_int_eq(ing_srtp_check_rtp(rx, buf, (size_t)len, &idx), ING_SRTP_FORGED);
	ing_srtp_free(rx);
	srtp_dealloc(tx.session);

	/* Two rollovers off is not a stale offer: refused. */
	sender_init(&tx, ING_SRTP_AES128_SHA1_80);
	for (uint32_t s = 0; s <= 2 * 65536 + 5; s += 1000)
		len = make_rtp(&tx, (uint16_t)s, 10, buf);
	for (uint32_t s = 2 * 65536 - 10; s <= 2 * 65536 + 5; s++)
		len = make_rtp(&tx, (uint16_t)s, 10, buf);
	rx = receiver(ING_SRTP_AES128_SHA1_80, &tx);
	ck_assert_int_eq(ing_srtp_check_rtp(rx, buf, (size_t)len, &idx), ING_SRTP_FORGED);
	ing_srtp_free(rx);
	srtp_dealloc(tx.session);
}
END_TEST

START_TEST(old_packets_are_replays)
{
	struct sender tx;
	struct ing_srtp *rx;
	uint8_t first[512], buf[512];
	uint64_t idx;
	int lf, len;

	sender_init(&tx, ING_SRTP_AES128_SHA1_80);
	rx = receiver(ING_SRTP_AES128_SHA1_80, &tx);
	lf = make_rtp(&tx, 5, 100, first);
	for (uint16_t s = 6; s < 400; s++) {
		len = make_rtp(&tx, s, 100, buf);
		ck_assert_int_eq(ing_srtp_check_rtp(rx, buf, (size_t)len, &idx), ING_SRTP_OK);
	}
	/* never seen, but older than the 128-packet window */
	ck_assert_int_eq(ing_srtp_check_rtp(rx, first, (size_t)lf, &idx), ING_SRTP_REPLAYED);
	ing_srtp_free(rx);
	srtp_dealloc(tx.session);
}
END_TEST

START_TEST(rtcp_checked_and_replays_refused)
{
	struct sender tx;
	struct ing_srtp *rx;
	uint8_t sr[256], keep[256];
	int len, keep_len = 0;

	sender_init(&tx, ING_SRTP_AES128_SHA1_80);
	rx = receiver(ING_SRTP_AES128_SHA1_80, &tx);
	for (int i = 0; i < 5; i++) {
		memset(sr, 0, sizeof(sr));
		sr[0] = 0x80, sr[1] = 200, sr[3] = 6; /* SR, 7 words */
		sr[4] = 0x11, sr[5] = 0x22, sr[6] = 0x33, sr[7] = 0x44;
		sr[8] = (uint8_t)i;
		len = 28;
		ck_assert_int_eq(srtp_protect_rtcp(tx.session, sr, &len), srtp_err_status_ok);
		ck_assert(ing_rtp_is_rtcp(sr, (size_t)len));
		ck_assert_int_eq(ing_srtp_check_rtcp(rx, sr, (size_t)len), ING_SRTP_OK);
		if (i == 1) {
			memcpy(keep, sr, (size_t)len);
			keep_len = len;
		}
	}
	ck_assert_int_eq(ing_srtp_check_rtcp(rx, keep, (size_t)keep_len), ING_SRTP_REPLAYED);
	/* a new report altered in flight */
	memset(sr, 0, sizeof(sr));
	sr[0] = 0x80, sr[1] = 200, sr[3] = 6;
	sr[4] = 0x11, sr[5] = 0x22, sr[6] = 0x33, sr[7] = 0x44;
	len = 28;
	ck_assert_int_eq(srtp_protect_rtcp(tx.session, sr, &len), srtp_err_status_ok);
	sr[12] ^= 1;
	ck_assert_int_eq(ing_srtp_check_rtcp(rx, sr, (size_t)len), ING_SRTP_FORGED);
	ing_srtp_free(rx);
	srtp_dealloc(tx.session);
}
END_TEST

START_TEST(rtp_header_and_onvif)
{
	struct sender tx;
	uint8_t buf[512];
	struct ing_rtp r;
	int len;

	sender_init(&tx, ING_SRTP_AES128_SHA1_80);
	len = make_rtp(&tx, 4242, 50, buf);
	ck_assert_int_eq(ing_rtp_parse(buf, (size_t)len - 10, &r), NVR_OK);
	ck_assert_uint_eq(r.seq, 4242);
	ck_assert_uint_eq(r.ssrc, SSRC);
	ck_assert(r.onvif);
	ck_assert(r.clean_point);
	ck_assert_uint_eq(r.header_len, 28);
	ck_assert(!ing_rtp_is_rtcp(buf, (size_t)len));
	/* an extension that claims more words than the packet holds */
	buf[15] = 200;
	ck_assert_int_eq(ing_rtp_parse(buf, (size_t)len - 10, &r), NVR_ERR_INVAL);
	ck_assert_int_eq(ing_rtp_parse(buf, 11, &r), NVR_ERR_INVAL);
	/* 1970-01-01 in NTP is 2208988800 s */
	ck_assert_int_eq(ing_rtp_ntp_to_unix_ns((uint64_t)2208988801ULL << 32 | 0x80000000u), 1500000000LL);
	srtp_dealloc(tx.session);
}
END_TEST

START_TEST(names)
{
	enum ing_srtp_suite s;

	ck_assert_int_eq(ing_srtp_suite_parse("AES_256_CM_HMAC_SHA1_80", &s), NVR_OK);
	ck_assert_int_eq(s, ING_SRTP_AES256_SHA1_80);
	ck_assert_str_eq(ing_srtp_suite_name(ING_SRTP_AEAD_AES128_GCM), "AEAD_AES_128_GCM");
	ck_assert_int_eq(ing_srtp_suite_parse("NULL", &s), NVR_ERR_INVAL);
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("srtp");
	TCase *tc = tcase_create("auth-only");

	srtp_init();
	tcase_add_test(tc, derivation_vectors);
	tcase_add_test(tc, suite_aes128_80);
	tcase_add_test(tc, suite_aes128_32);
	tcase_add_test(tc, suite_aes256_80);
	tcase_add_test(tc, suite_aes256_32);
	tcase_add_test(tc, suite_gcm128);
	tcase_add_test(tc, suite_gcm256);
	tcase_add_test(tc, every_byte_is_covered);
	tcase_add_test(tc, rollover_and_reordering);
	tcase_add_test(tc, stale_roc_from_mikey);
	tcase_add_test(tc, old_packets_are_replays);
	tcase_add_test(tc, rtcp_checked_and_replays_refused);
	tcase_add_test(tc, rtp_header_and_onvif);
	tcase_add_test(tc, names);
	suite_add_tcase(su, tc);
	return harness_run(su);
}

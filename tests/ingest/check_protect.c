/*
 * check_protect.c: a plain-RTP camera's packets protected at ingest are
 * ordinary SRTP: libsrtp2 on the receiving side decrypts them with the key,
 * the plaintext does not appear in them, indexes follow RFC 3711 3.3.1
 * across a sequence-number wrap, and a repeated index is refused.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "ingest/protect.h"
#include "tests/harness/run.h"

#define SSRC 0x5eed1234u
#define PAYLOAD 600

/* What the simulator's H.264 looks like after the RTP header: an FU-A
 * indicator and header (RFC 6184 5.8) and a slice header, then data. */
static const uint8_t marker[] = { 0x7c, 0x85, 0x88, 0x84, 0x00, 0x33, 0xff, 0xfe, 0xf6, 0xf0, 0xfe, 0x05, 0x36, 0x56 };

static uint8_t key[16], salt[14];

static size_t
rtp_packet(uint8_t *p, uint16_t seq)
{
	p[0] = 0x80;
	p[1] = 96;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	memset(p + 4, 0, 4); /* timestamp */
	p[8] = (uint8_t)(SSRC >> 24);
	p[9] = (uint8_t)(SSRC >> 16);
	p[10] = (uint8_t)(SSRC >> 8);
	p[11] = (uint8_t)SSRC;
	for (size_t i = 0; i < PAYLOAD; i += sizeof(marker))
		memcpy(p + 12 + i, marker, PAYLOAD - i < sizeof(marker) ? PAYLOAD - i : sizeof(marker));
	return 12 + PAYLOAD;
}

/* The receiving side, as nvrctl decrypt makes it. */
static srtp_t
receiver(void)
{
	uint8_t secret[30];
	srtp_policy_t pol;
	srtp_t s;

	memcpy(secret, key, 16);
	memcpy(secret + 16, salt, 14);
	memset(&pol, 0, sizeof(pol));
	srtp_crypto_policy_set_rtp_default(&pol.rtp);
	srtp_crypto_policy_set_rtp_default(&pol.rtcp);
	pol.ssrc.type = ssrc_any_inbound;
	pol.key = secret;
	pol.window_size = 1024;
	ck_assert_int_eq(srtp_create(&s, &pol), srtp_err_status_ok);
	return s;
}

static void
setup(void)
{
	ck_assert_int_eq(ing_protect_key(ING_PROTECT_SUITE, key, salt), NVR_OK);
}

START_TEST(rtp_is_srtp_and_hides_the_payload)
{
	static const uint16_t seqs[] = { 65530, 65531, 65533, 65534, 65535, 0, 1, 65532, 2, 3 };
	static const uint64_t want[] = { 65530, 65531, 65533, 65534, 65535, 65536, 65537, 65532, 65538, 65539 };
	struct ing_protect *p;
	srtp_t rx = receiver();
	uint8_t in[12 + PAYLOAD], got[12 + PAYLOAD + SRTP_MAX_TRAILER_LEN];

	ck_assert_int_eq(ing_protect_new(ING_PROTECT_SUITE, key, salt, &p), NVR_OK);
	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		size_t len = rtp_packet(in, seqs[i]), out_len;
		const uint8_t *out;
		uint64_t idx;
		int n;

		ck_assert_int_eq(ing_protect_rtp(p, in, len, &out, &out_len, &idx), ING_SRTP_OK);
		ck_assert_uint_eq(idx, want[i]);
		ck_assert_uint_eq(out_len, len + 10);
		ck_assert_mem_eq(out, in, 12); /* the header stays clear */
		ck_assert_ptr_null(memmem(out, out_len, marker, 4));
		memcpy(got, out, out_len);
		n = (int)out_len;
		ck_assert_int_eq(srtp_unprotect(rx, got, &n), srtp_err_status_ok);
		ck_assert_int_eq(n, (int)len);
		ck_assert_mem_eq(got, in, len);
	}
	srtp_dealloc(rx);
	ing_protect_free(p);
}
END_TEST

START_TEST(repeated_index_refused)
{
	struct ing_protect *p;
	uint8_t in[12 + PAYLOAD];
	size_t len = rtp_packet(in, 7), out_len;
	const uint8_t *out;
	uint64_t idx;

	ck_assert_int_eq(ing_protect_new(ING_PROTECT_SUITE, key, salt, &p), NVR_OK);
	ck_assert_int_eq(ing_protect_rtp(p, in, len, &out, &out_len, &idx), ING_SRTP_OK);
	/* the same index again would be encrypted with the same keystream */
	ck_assert_int_eq(ing_protect_rtp(p, in, len, &out, &out_len, &idx), ING_SRTP_REPLAYED);
	ck_assert_int_eq(ing_protect_rtp(p, in, 5, &out, &out_len, &idx), ING_SRTP_MALFORMED);
	ing_protect_free(p);
}
END_TEST

START_TEST(rtcp_is_srtcp)
{
	struct ing_protect *p;
	srtp_t rx = receiver();
	uint8_t in[28 + 32], got[sizeof(in) + 4 + SRTP_MAX_TRAILER_LEN];
	const uint8_t *out;
	size_t out_len;
	int n;

	/* a sender report (RFC 3550 6.4.1) with a recognisable body */
	memset(in, 0, sizeof(in));
	in[0] = 0x80;
	in[1] = 200;
	in[3] = (uint8_t)(sizeof(in) / 4 - 1);
	in[4] = (uint8_t)(SSRC >> 24);
	in[5] = (uint8_t)(SSRC >> 16);
	in[6] = (uint8_t)(SSRC >> 8);
	in[7] = (uint8_t)SSRC;
	memcpy(in + 8, marker, sizeof(marker));
	ck_assert_int_eq(ing_protect_new(ING_PROTECT_SUITE, key, salt, &p), NVR_OK);
	ck_assert_int_eq(ing_protect_rtcp(p, in, sizeof(in), &out, &out_len), ING_SRTP_OK);
	ck_assert_uint_eq(out_len, sizeof(in) + 4 + 10); /* E flag and index, 80-bit tag */
	ck_assert_ptr_null(memmem(out, out_len, marker, 4));
	memcpy(got, out, out_len);
	n = (int)out_len;
	ck_assert_int_eq(srtp_unprotect_rtcp(rx, got, &n), srtp_err_status_ok);
	ck_assert_int_eq(n, (int)sizeof(in));
	ck_assert_mem_eq(got, in, sizeof(in));
	srtp_dealloc(rx);
	ing_protect_free(p);
}
END_TEST

START_TEST(fresh_keys_and_suites)
{
	uint8_t k2[16], s2[14];
	struct ing_protect *p;

	ck_assert_int_eq(ing_protect_key(ING_PROTECT_SUITE, k2, s2), NVR_OK);
	ck_assert(memcmp(k2, key, 16) != 0);
	ck_assert(memcmp(s2, salt, 14) != 0);
	ck_assert_int_eq(ing_protect_new(ING_SRTP_AEAD_AES128_GCM, key, salt, &p), NVR_ERR_INVAL);
	ck_assert_ptr_null(p);
	ing_protect_free(p); /* NULL: nothing */
	{
		uint8_t k32[32];

		memset(k32, 0x5a, sizeof(k32));
		ck_assert_int_eq(ing_protect_new(ING_SRTP_AES256_SHA1_32, k32, salt, &p), NVR_OK);
		ing_protect_free(p);
	}
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("protect");
	TCase *tc = tcase_create("ingest SRTP");

	srtp_init();
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, rtp_is_srtp_and_hides_the_payload);
	tcase_add_test(tc, repeated_index_refused);
	tcase_add_test(tc, rtcp_is_srtcp);
	tcase_add_test(tc, fresh_keys_and_suites);
	suite_add_tcase(su, tc);
	return harness_run(su);
}

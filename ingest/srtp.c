/*
 * srtp.c: SRTP/SRTCP tag and replay checks with derived keys only.
 * It must never derive or hold an encryption key (labels 0x00, 0x03) and
 * never keep the master key or salt past ing_srtp_new(); the auth keys are
 * wiped on free. Tag comparisons are constant-time.
 */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ingest/srtp.h"

#define AUTH_KEY_LEN 20 /* HMAC-SHA1 key: n_a = 160 bits (RFC 3711 4.2.1) */
#define WINDOW 128      /* replay window, as libsrtp's default */
#define RTCP_TAG_LEN 10 /* SRTCP always uses an 80-bit tag (RFC 4568 6.2.1) */
#define LABEL_RTP_AUTH 0x01
#define LABEL_RTCP_AUTH 0x04

struct suite_info {
	const char *name;
	size_t key_len, salt_len, tag_len;
	bool aead;
};

static const struct suite_info suites[ING_SRTP_SUITE_COUNT] = {
	[ING_SRTP_AES128_SHA1_80] = { "AES_CM_128_HMAC_SHA1_80", 16, 14, 10, false },
	[ING_SRTP_AES128_SHA1_32] = { "AES_CM_128_HMAC_SHA1_32", 16, 14, 4, false },
	[ING_SRTP_AES256_SHA1_80] = { "AES_256_CM_HMAC_SHA1_80", 32, 14, 10, false },
	[ING_SRTP_AES256_SHA1_32] = { "AES_256_CM_HMAC_SHA1_32", 32, 14, 4, false },
	[ING_SRTP_AEAD_AES128_GCM] = { "AEAD_AES_128_GCM", 16, 12, 16, true },
	[ING_SRTP_AEAD_AES256_GCM] = { "AEAD_AES_256_GCM", 32, 12, 16, true },
};

/* A sliding window over 2^48 packet indexes (RFC 3711 3.3.2). */
struct window {
	uint64_t top;       /* highest index accepted */
	uint64_t bits[2];   /* bit i: index top - i was seen */
	bool started;
};

struct ing_srtp {
	enum ing_srtp_suite suite;
	EVP_MAC_CTX *rtp_mac, *rtcp_mac; /* HMAC-SHA1 keyed with the auth keys */
	uint32_t ssrc;
	bool ssrc_known;
	uint32_t roc;  /* rollover counter of the highest index seen */
	uint16_t s_l;  /* highest sequence number seen */
	bool started;
	struct window rtp_win, rtcp_win;
};

const char *
ing_srtp_suite_name(enum ing_srtp_suite s)
{
	return (unsigned)s < ING_SRTP_SUITE_COUNT ? suites[s].name : "unknown";
}

nvr_err
ing_srtp_suite_parse(const char *name, enum ing_srtp_suite *out)
{
	for (int i = 0; i < ING_SRTP_SUITE_COUNT; i++) {
		if (strcmp(name, suites[i].name) == 0) {
			*out = (enum ing_srtp_suite)i;
			return NVR_OK;
		}
	}
	return NVR_ERR_INVAL;
}

size_t ing_srtp_key_len(enum ing_srtp_suite s) { return suites[s].key_len; }
size_t ing_srtp_salt_len(enum ing_srtp_suite s) { return suites[s].salt_len; }
size_t ing_srtp_tag_len(enum ing_srtp_suite s) { return suites[s].tag_len; }

nvr_err
ing_srtp_derive(enum ing_srtp_suite suite, const uint8_t *key, const uint8_t *salt, uint8_t label,
    uint8_t *out, size_t out_len)
{
	const EVP_CIPHER *aes = suites[suite].key_len == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr();
	uint8_t iv[16] = { 0 }, zero[64] = { 0 };
	EVP_CIPHER_CTX *c;
	int n = 0;
	nvr_err rc = NVR_ERR_CRYPTO;

	if (suites[suite].salt_len != 14 || out_len > sizeof(zero))
		return NVR_ERR_INVAL;
	/* x = (label || r) XOR master_salt, right-aligned: with kdr = 0, r = 0
	 * and the 56-bit key_id only touches salt byte 7. The PRF input is
	 * x * 2^16, i.e. IV = x || 0x0000 (RFC 3711 4.3.1 and 4.3.3). */
	memcpy(iv, salt, 14);
	iv[7] ^= label;
	if ((c = EVP_CIPHER_CTX_new()) != NULL && EVP_EncryptInit_ex(c, aes, NULL, key, iv) == 1 &&
	    EVP_EncryptUpdate(c, out, &n, zero, (int)out_len) == 1 && (size_t)n == out_len)
		rc = NVR_OK;
	EVP_CIPHER_CTX_free(c);
	return rc;
}

static EVP_MAC_CTX *
hmac_sha1(const uint8_t *key, size_t len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	char digest[] = "SHA1";
	OSSL_PARAM p[2];

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	p[1] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_MAC_init(ctx, key, len, p) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	EVP_MAC_free(mac); /* the context keeps its own reference */
	return ctx;
}

nvr_err
ing_srtp_new(enum ing_srtp_suite suite, const uint8_t *key, const uint8_t *salt, uint32_t roc,
    uint32_t ssrc, struct ing_srtp **out)
{
	uint8_t ka[AUTH_KEY_LEN];
	struct ing_srtp *s;
	nvr_err rc = NVR_OK;

	*out = NULL;
	if ((unsigned)suite >= ING_SRTP_SUITE_COUNT)
		return NVR_ERR_INVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NVR_ERR_NOMEM;
	s->suite = suite;
	s->roc = roc;
	s->ssrc = ssrc;
	s->ssrc_known = ssrc != 0;
	if (!suites[suite].aead) {
		if ((rc = ing_srtp_derive(suite, key, salt, LABEL_RTP_AUTH, ka, sizeof(ka))) == NVR_OK &&
		    (s->rtp_mac = hmac_sha1(ka, sizeof(ka))) == NULL)
			rc = NVR_ERR_CRYPTO;
		if (rc == NVR_OK && (rc = ing_srtp_derive(suite, key, salt, LABEL_RTCP_AUTH, ka, sizeof(ka))) == NVR_OK &&
		    (s->rtcp_mac = hmac_sha1(ka, sizeof(ka))) == NULL)
			rc = NVR_ERR_CRYPTO;
		OPENSSL_cleanse(ka, sizeof(ka));
	}
	if (rc != NVR_OK) {
		ing_srtp_free(s);
		return rc;
	}
	*out = s;
	return NVR_OK;
}

void
ing_srtp_free(struct ing_srtp *s)
{
	if (s == NULL)
		return;
	/* EVP_MAC_CTX_free cleanses the key it holds. */
	EVP_MAC_CTX_free(s->rtp_mac);
	EVP_MAC_CTX_free(s->rtcp_mac);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

/* ---- replay window ---------------------------------------------------- */

static bool
window_seen(const struct window *w, uint64_t idx)
{
	uint64_t d;

	if (!w->started || idx > w->top)
		return false;
	d = w->top - idx;
	if (d >= WINDOW)
		return true; /* too old to tell: treated as a replay */
	return (w->bits[d / 64] >> (d % 64)) & 1;
}

static void
window_add(struct window *w, uint64_t idx)
{
	uint64_t shift, d;

	if (!w->started) {
		w->started = true;
		w->top = idx;
		w->bits[0] = 1;
		w->bits[1] = 0;
		return;
	}
	if (idx > w->top) {
		shift = idx - w->top;
		if (shift >= WINDOW) {
			w->bits[0] = w->bits[1] = 0;
		} else if (shift >= 64) {
			w->bits[1] = w->bits[0] << (shift - 64);
			w->bits[0] = 0;
		} else {
			w->bits[1] = w->bits[1] << shift | w->bits[0] >> (64 - shift);
			w->bits[0] <<= shift;
		}
		w->bits[0] |= 1;
		w->top = idx;
		return;
	}
	d = w->top - idx;
	w->bits[d / 64] |= 1ULL << (d % 64);
}

/* ---- packets ------------------------------------------------------------ */

/* RFC 3711 3.3.1: the rollover counter a sequence number most likely
 * belongs to, given the highest one seen; -1 for a packet from before the
 * stream's first rollover period (too old to check). */
static int64_t
guess_roc(const struct ing_srtp *s, uint16_t seq)
{
	if (!s->started)
		return s->roc;
	if (s->s_l < 32768)
		return (int32_t)seq - (int32_t)s->s_l > 32768 ? (int64_t)s->roc - 1 : s->roc;
	return (int32_t)s->s_l - 32768 > (int32_t)seq ? (int64_t)s->roc + 1 : s->roc;
}

/* HMAC over the packet (and, for SRTP, the ROC) compared in constant time
 * with the tag_len bytes after it. */
static bool
tag_ok(EVP_MAC_CTX *mac, const uint8_t *p, size_t auth_len, const uint8_t *roc_be, size_t tag_len)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	size_t mdlen = 0;

	if (EVP_MAC_init(mac, NULL, 0, NULL) != 1 || EVP_MAC_update(mac, p, auth_len) != 1 ||
	    (roc_be != NULL && EVP_MAC_update(mac, roc_be, 4) != 1) ||
	    EVP_MAC_final(mac, md, &mdlen, sizeof(md)) != 1 || mdlen < tag_len)
		return false;
	return CRYPTO_memcmp(md, p + auth_len, tag_len) == 0;
}

static bool
rtp_tag_ok(struct ing_srtp *s, const uint8_t *p, size_t auth_len, uint32_t roc)
{
	uint8_t roc_be[4] = { (uint8_t)(roc >> 24), (uint8_t)(roc >> 16), (uint8_t)(roc >> 8), (uint8_t)roc };

	return tag_ok(s->rtp_mac, p, auth_len, roc_be, suites[s->suite].tag_len);
}

enum ing_srtp_verdict
ing_srtp_check_rtp(struct ing_srtp *s, const uint8_t *p, size_t len, uint64_t *index)
{
	const struct suite_info *si = &suites[s->suite];
	uint32_t ssrc, v;
	int64_t guess;
	uint16_t seq;
	uint64_t idx;

	if (len < 12 + si->tag_len || (p[0] >> 6) != 2)
		return ING_SRTP_MALFORMED;
	ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
	if (s->ssrc_known && ssrc != s->ssrc)
		return ING_SRTP_MALFORMED;
	seq = (uint16_t)(p[2] << 8 | p[3]);
	guess = guess_roc(s, seq);
	if (guess < 0 || guess > UINT32_MAX)
		return ING_SRTP_REPLAYED;
	v = (uint32_t)guess;
	idx = (uint64_t)v << 16 | seq;
	if (window_seen(&s->rtp_win, idx))
		return ING_SRTP_REPLAYED;
	if (!si->aead && !rtp_tag_ok(s, p, len - si->tag_len, v)) {
		/* Before the first authentic packet the ROC is MIKEY's, taken
		 * when the key was offered: a shared stream's sequence number
		 * may have wrapped since. The tag covers the ROC, so trying
		 * the neighbours cannot admit a forgery. */
		if (s->started)
			return ING_SRTP_FORGED;
		if (rtp_tag_ok(s, p, len - si->tag_len, v + 1))
			v++;
		else if (v > 0 && rtp_tag_ok(s, p, len - si->tag_len, v - 1))
			v--;
		else
			return ING_SRTP_FORGED;
		idx = (uint64_t)v << 16 | seq;
	}
	/* Authentic (or as authentic as an AEAD stream can be shown to be):
	 * now, and only now, move the state forward. */
	window_add(&s->rtp_win, idx);
	if (!s->started || v > s->roc || (v == s->roc && seq > s->s_l)) {
		s->roc = v;
		s->s_l = seq;
	}
	s->started = true;
	if (!s->ssrc_known) {
		s->ssrc = ssrc;
		s->ssrc_known = true;
	}
	*index = idx;
	return si->aead ? ING_SRTP_UNVERIFIED : ING_SRTP_OK;
}

enum ing_srtp_verdict
ing_srtp_check_rtcp(struct ing_srtp *s, const uint8_t *p, size_t len)
{
	const struct suite_info *si = &suites[s->suite];
	size_t tag_len = si->aead ? si->tag_len : RTCP_TAG_LEN, trailer;
	uint32_t e_index;

	if (len < 8 + 4 + tag_len || (p[0] >> 6) != 2)
		return ING_SRTP_MALFORMED;
	/* RFC 3711 3.4: ... || E | SRTCP index || tag; RFC 7714 9.2 puts the
	 * AEAD tag inside the encrypted portion, so the index comes last. */
	trailer = si->aead ? len - 4 : len - tag_len - 4;
	e_index = (uint32_t)p[trailer] << 24 | (uint32_t)p[trailer + 1] << 16 | (uint32_t)p[trailer + 2] << 8 |
	    p[trailer + 3];
	if (window_seen(&s->rtcp_win, e_index & 0x7fffffffu))
		return ING_SRTP_REPLAYED;
	if (!si->aead && !tag_ok(s->rtcp_mac, p, len - tag_len, NULL, tag_len))
		return ING_SRTP_FORGED;
	window_add(&s->rtcp_win, e_index & 0x7fffffffu);
	return si->aead ? ING_SRTP_UNVERIFIED : ING_SRTP_OK;
}

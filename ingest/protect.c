/*
 * protect.c: libsrtp2 outbound sessions that encrypt a plain-RTP camera's
 * packets before they reach storage.
 * It must never keep the master key or salt past ing_protect_new(), never
 * hand out a packet it did not protect, and never protect two packets
 * under one index (the same keystream twice would leak both plaintexts).
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <srtp2/srtp.h>

#include "ingest/protect.h"

/* RTP and RTCP packets are at most 65535 bytes (interleaved frames and
 * UDP datagrams alike); SRTCP adds its E flag and index before the tag. */
#define PKT_MAX 65535
#define BUF_LEN (PKT_MAX + 4 + SRTP_MAX_TRAILER_LEN)

struct ing_protect {
	srtp_t srtp;
	/* our own record of the highest index, per SSRC, to place each packet's
	 * sequence number the way libsrtp did (RFC 3711 3.3.1) */
	bool started;
	uint32_t ssrc;
	uint64_t high;
	uint8_t buf[BUF_LEN];
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* libsrtp's crypto kernel is process-wide and its initialisation is not
 * thread-safe; ingest workers may open sessions at the same moment. It is
 * never shut down: nvrd keeps it for its whole life. A second srtp_init()
 * fails (a test may have made the first): srtp_create() is what tells
 * whether the kernel works. */
static void
init_srtp(void)
{
	(void)srtp_init();
}

nvr_err
ing_protect_key(enum ing_srtp_suite suite, uint8_t *key, uint8_t *salt)
{
	if (RAND_bytes(key, (int)ing_srtp_key_len(suite)) != 1 || RAND_bytes(salt, (int)ing_srtp_salt_len(suite)) != 1)
		return NVR_ERR_CRYPTO;
	return NVR_OK;
}

static bool
set_policy(enum ing_srtp_suite suite, srtp_crypto_policy_t *p)
{
	switch (suite) {
	case ING_SRTP_AES128_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(p);
		return true;
	case ING_SRTP_AES128_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p);
		return true;
	case ING_SRTP_AES256_SHA1_80:
		srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(p);
		return true;
	case ING_SRTP_AES256_SHA1_32:
		srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(p);
		return true;
	default:
		return false; /* GCM needs a libsrtp2 built with OpenSSL: not assumed */
	}
}

nvr_err
ing_protect_new(enum ing_srtp_suite suite, const uint8_t *key, const uint8_t *salt, struct ing_protect **out)
{
	uint8_t secret[32 + 14];
	size_t kl = ing_srtp_key_len(suite), sl = ing_srtp_salt_len(suite);
	struct ing_protect *p = NULL;
	srtp_policy_t pol;
	nvr_err rc = NVR_OK;

	*out = NULL;
	memset(&pol, 0, sizeof(pol));
	if (!set_policy(suite, &pol.rtp) || !set_policy(suite, &pol.rtcp) || kl + sl > sizeof(secret))
		return NVR_ERR_INVAL;
	pthread_once(&init_once, init_srtp);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NVR_ERR_NOMEM;
	memcpy(secret, key, kl);
	memcpy(secret + kl, salt, sl);
	/* plain RTP announces no SSRC: a stream is made for each one the
	 * camera uses, from this template */
	pol.ssrc.type = ssrc_any_outbound;
	pol.key = secret;
	pol.window_size = 1024;
	pol.allow_repeat_tx = 0; /* a repeated index is refused, never re-encrypted */
	if (srtp_create(&p->srtp, &pol) != srtp_err_status_ok)
		rc = NVR_ERR_CRYPTO;
	/* libsrtp2 expanded the key into its own cipher and HMAC contexts (and
	 * wipes them in srtp_dealloc): our copy goes now */
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc != NVR_OK) {
		free(p);
		return rc;
	}
	*out = p;
	return NVR_OK;
}

void
ing_protect_free(struct ing_protect *p)
{
	if (p == NULL)
		return;
	srtp_dealloc(p->srtp);
	OPENSSL_cleanse(p->buf, sizeof(p->buf)); /* the last plaintext */
	free(p);
}

static enum ing_srtp_verdict
verdict_of(srtp_err_status_t st)
{
	if (st == srtp_err_status_replay_fail || st == srtp_err_status_replay_old)
		return ING_SRTP_REPLAYED;
	return ING_SRTP_MALFORMED;
}

/* The packet's index from the stream's rollover counter after protection:
 * libsrtp2 reports only the ROC of the highest index, so a packet that came
 * late across a wrap belongs to the ROC before (RFC 3711 3.3.1). Cheaper
 * than checking our own tag again. */
static uint64_t
index_of(struct ing_protect *p, uint32_t ssrc, uint16_t seq)
{
	uint32_t roc = 0;
	uint64_t idx;

	if (srtp_get_stream_roc(p->srtp, ssrc, &roc) != srtp_err_status_ok)
		roc = 0;
	idx = (uint64_t)roc << 16 | seq;
	if (!p->started || p->ssrc != ssrc) {
		p->started = true;
		p->ssrc = ssrc;
		p->high = idx;
		return idx;
	}
	if (idx > p->high && idx - p->high > 32768 && roc > 0)
		idx -= 65536;
	if (idx > p->high)
		p->high = idx;
	return idx;
}

enum ing_srtp_verdict
ing_protect_rtp(struct ing_protect *p, const uint8_t *in, size_t len, const uint8_t **out, size_t *out_len,
    uint64_t *index)
{
	int n = (int)len;
	uint32_t ssrc;
	uint16_t seq;
	srtp_err_status_t st;

	if (len < 12 || len > PKT_MAX || in[0] >> 6 != 2)
		return ING_SRTP_MALFORMED;
	memcpy(p->buf, in, len);
	if ((st = srtp_protect(p->srtp, p->buf, &n)) != srtp_err_status_ok)
		return verdict_of(st);
	seq = (uint16_t)(in[2] << 8 | in[3]);
	ssrc = (uint32_t)in[8] << 24 | (uint32_t)in[9] << 16 | (uint32_t)in[10] << 8 | in[11];
	*index = index_of(p, ssrc, seq);
	*out = p->buf;
	*out_len = (size_t)n;
	return ING_SRTP_OK;
}

enum ing_srtp_verdict
ing_protect_rtcp(struct ing_protect *p, const uint8_t *in, size_t len, const uint8_t **out, size_t *out_len)
{
	int n = (int)len;
	srtp_err_status_t st;

	if (len < 8 || len > PKT_MAX || in[0] >> 6 != 2)
		return ING_SRTP_MALFORMED;
	memcpy(p->buf, in, len);
	if ((st = srtp_protect_rtcp(p->srtp, p->buf, &n)) != srtp_err_status_ok)
		return verdict_of(st);
	*out = p->buf;
	*out_len = (size_t)n;
	return ING_SRTP_OK;
}

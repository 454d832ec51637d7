/*
 * srtp.h: SRTP and SRTCP authentication without decryption.
 *
 * From the master key and salt only the authentication keys are derived
 * (RFC 3711 4.3: labels 0x01 for SRTP, 0x04 for SRTCP); the encryption keys
 * never exist in the recorder. Each packet's HMAC-SHA1 tag and replay
 * window are checked; the packet itself is kept byte for byte.
 *
 * AEAD suites (RFC 7714, AES-GCM) put the tag inside the cipher: it cannot
 * be checked without the key that decrypts, so their packets are reported
 * ING_SRTP_UNVERIFIED and stored flagged as such, replay window still
 * enforced on the clear sequence numbers.
 */
#ifndef NVR_ING_SRTP_H
#define NVR_ING_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

enum ing_srtp_suite {
	ING_SRTP_AES128_SHA1_80, /* RFC 4568 AES_CM_128_HMAC_SHA1_80 */
	ING_SRTP_AES128_SHA1_32,
	ING_SRTP_AES256_SHA1_80, /* RFC 6188 AES_256_CM_HMAC_SHA1_80 */
	ING_SRTP_AES256_SHA1_32,
	ING_SRTP_AEAD_AES128_GCM, /* RFC 7714 */
	ING_SRTP_AEAD_AES256_GCM,
	ING_SRTP_SUITE_COUNT
};

enum ing_srtp_verdict {
	ING_SRTP_OK,         /* tag verified, not a replay */
	ING_SRTP_UNVERIFIED, /* AEAD suite: replay-checked only */
	ING_SRTP_FORGED,     /* tag does not match: altered or forged */
	ING_SRTP_REPLAYED,   /* index already seen or too old */
	ING_SRTP_MALFORMED,  /* too short, not RTP/RTCP, or foreign SSRC */
};

/* RFC 4568 / RFC 6188 / RFC 7714 name, e.g. "AES_CM_128_HMAC_SHA1_80". */
const char *ing_srtp_suite_name(enum ing_srtp_suite s);
/* The suite of an RFC name; NVR_ERR_INVAL if unknown. */
nvr_err ing_srtp_suite_parse(const char *name, enum ing_srtp_suite *out);
size_t ing_srtp_key_len(enum ing_srtp_suite s);  /* master key bytes */
size_t ing_srtp_salt_len(enum ing_srtp_suite s); /* master salt bytes */
size_t ing_srtp_tag_len(enum ing_srtp_suite s);  /* SRTP tag bytes */

struct ing_srtp;

/*
 * Derives the authentication keys from key (ing_srtp_key_len bytes) and
 * salt; keeps neither. roc is the initial rollover counter (MIKEY's
 * CS map, else 0). ssrc, when known (MIKEY), pins the stream's source;
 * 0 pins the first one seen. The caller still owns and wipes key and salt.
 * Caller frees *out with ing_srtp_free().
 */
nvr_err ing_srtp_new(enum ing_srtp_suite suite, const uint8_t *key, const uint8_t *salt,
    uint32_t roc, uint32_t ssrc, struct ing_srtp **out);
void ing_srtp_free(struct ing_srtp *s);

/* Checks one SRTP packet; on ING_SRTP_OK or _UNVERIFIED updates the replay
 * window and rollover counter, and sets *index (ROC << 16 | SEQ). */
enum ing_srtp_verdict ing_srtp_check_rtp(struct ing_srtp *s, const uint8_t *p, size_t len,
    uint64_t *index);

/* Checks one SRTCP packet (E flag and index trailer, RFC 3711 3.4). */
enum ing_srtp_verdict ing_srtp_check_rtcp(struct ing_srtp *s, const uint8_t *p, size_t len);

/* Derives one session key (RFC 3711 4.3.1, kdr 0): exposed for tests.
 * label 0..5, out_len bytes of AES-CM keystream. */
nvr_err ing_srtp_derive(enum ing_srtp_suite suite, const uint8_t *key, const uint8_t *salt,
    uint8_t label, uint8_t *out, size_t out_len);

#endif

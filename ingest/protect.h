/*
 * protect.h: SRTP protection at ingest, for cameras an administrator marked
 * as plain RTP (nvrctl camera add --plain-rtp).
 *
 * Such a camera sends RTP in the clear, which must never reach the disk.
 * Each session gets a fresh random master key (ing_protect_key); the caller
 * seals it to the key holders exactly like a camera's key and wipes it,
 * and every packet is then protected with libsrtp2 (RFC 3711) before it
 * goes the way a camera's SRTP goes. The stored result is ordinary SRTP:
 * `nvrctl decrypt` reads it unchanged.
 */
#ifndef NVR_ING_PROTECT_H
#define NVR_ING_PROTECT_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/srtp.h"
#include "nvrd/err.h"

/* The suite protected streams use: the one every SRTP stack has. */
#define ING_PROTECT_SUITE ING_SRTP_AES128_SHA1_80

/* Fills key (ing_srtp_key_len(suite) bytes) and salt from the CSPRNG.
 * NVR_ERR_CRYPTO if it has no entropy to give. The caller wipes both. */
nvr_err ing_protect_key(enum ing_srtp_suite suite, uint8_t *key, uint8_t *salt);

struct ing_protect;

/*
 * An outbound SRTP session under key and salt, for any SSRC the camera
 * uses. Neither is kept: libsrtp2 holds only its expanded session keys,
 * which it wipes when the session is freed. The caller still owns and
 * wipes key and salt. Only the AES-CM suites (NVR_ERR_INVAL otherwise).
 * Caller frees *out with ing_protect_free().
 */
nvr_err ing_protect_new(enum ing_srtp_suite suite, const uint8_t *key, const uint8_t *salt,
    struct ing_protect **out);
void ing_protect_free(struct ing_protect *p);

/*
 * Protects one RTP packet of len bytes. On ING_SRTP_OK, *out points to the
 * SRTP packet (*out_len bytes, inside p: valid until the next call) and
 * *index is its packet index (ROC << 16 | SEQ). ING_SRTP_REPLAYED for an
 * index already protected (encrypting it again would reuse keystream),
 * ING_SRTP_MALFORMED for what is not RTP.
 */
enum ing_srtp_verdict ing_protect_rtp(struct ing_protect *p, const uint8_t *in, size_t len, const uint8_t **out,
    size_t *out_len, uint64_t *index);

/* Protects one RTCP compound packet into SRTCP (RFC 3711 3.4), as above. */
enum ing_srtp_verdict ing_protect_rtcp(struct ing_protect *p, const uint8_t *in, size_t len, const uint8_t **out,
    size_t *out_len);

#endif

/*
 * encode.h: hex and base64 for files and the database. Base64 is OpenSSL's
 * (EVP_EncodeBlock/EVP_DecodeBlock, RFC 4648 with padding); hex is ours,
 * being four lines.
 */
#ifndef NVR_ENCODE_H
#define NVR_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

/* Lower-case hex of len bytes into out, which must hold 2 * len + 1. */
void nvr_hex_encode(const uint8_t *in, size_t len, char *out);

/* Exactly 2 * outlen hex digits (either case) into outlen bytes. */
nvr_err nvr_hex_decode(const char *in, uint8_t *out, size_t outlen);

/* Base64 of len bytes; returns a new string the caller frees. */
char *nvr_b64_encode(const uint8_t *in, size_t len);

/* Decodes base64 (padding required, no whitespace) into a new buffer the
 * caller frees; *outlen is its length. NVR_ERR_INVAL if malformed,
 * NVR_ERR_TOOBIG if longer than max bytes decoded. */
nvr_err nvr_b64_decode(const char *in, size_t max, uint8_t **out, size_t *outlen);

#endif

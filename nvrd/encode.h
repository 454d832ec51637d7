/*
 * encode.h: hex and base64 for files and the database, UTF-8 checking, and
 * the token and quoted-string syntax of HTTP and RTSP header parameters.
 * Base64 is OpenSSL's (EVP_EncodeBlock/EVP_DecodeBlock, RFC 4648 with
 * padding); hex is ours, being four lines.
 */
#ifndef NVR_ENCODE_H
#define NVR_ENCODE_H

#include <stdbool.h>
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

/* The length of the well-formed UTF-8 sequence at s (1 to 4), or 0 (RFC
 * 3629 4: no overlong forms, surrogates or values past U+10FFFF; what
 * PostgreSQL accepts in a UTF8 database). s is NUL-terminated, and a NUL
 * ends any sequence, so this never reads past it. */
size_t nvr_utf8_len(const unsigned char *s);

/* NULL if s is well-formed UTF-8 (nvr_utf8_len) without control
 * characters (U+0000 to U+001F, U+007F); else why not (static text), for
 * a 400 that names the problem before client text reaches PostgreSQL. */
const char *nvr_text_problem(const char *s);

/* The length of the RFC 7230 3.2.6 token at p (0: none). */
size_t nvr_http_token_len(const char *p);

/* Reads the token or quoted-string at *p into out (unescaped, at most
 * size - 1 bytes, NUL-terminated) and moves *p past it. false with why
 * (static text) if it is empty, unterminated or too long. */
bool nvr_http_read_value(const char **p, char *out, size_t size, const char **why);

#endif

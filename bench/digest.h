/*
 * digest.h: RFC 2617 Digest authentication with MD5 and no qop, the form
 * gst-rtsp-server and most cameras use for RTSP. The server side compares
 * in constant time; nothing here keeps or logs a password.
 */
#ifndef NVR_BENCH_DIGEST_H
#define NVR_BENCH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "nvrd/err.h"

#define BENCH_MD5_HEX 33 /* 32 hex digits and a NUL */

/* HA1 = MD5(user ":" realm ":" password), in lower-case hex. */
nvr_err bench_digest_ha1(const char *user, const char *realm, const char *password,
    char ha1[BENCH_MD5_HEX]);

/* response = MD5(HA1 ":" nonce ":" MD5(method ":" uri)), RFC 2617 3.2.2.1
 * without qop. */
nvr_err bench_digest_response(const char *ha1, const char *nonce, const char *method,
    const char *uri, char out[BENCH_MD5_HEX]);

/* The credentials of an Authorization header, each NUL-terminated. */
struct bench_digest_creds {
	char username[128];
	char realm[128];
	char nonce[128];
	char uri[1024];
	char response[64];
};

/* Parses `Digest k="v", k=v, ...` (RFC 2617 3.2.2). Unknown parameters are
 * skipped; a missing one, an over-long one or bad syntax is NVR_ERR_INVAL. */
nvr_err bench_digest_parse(const char *value, struct bench_digest_creds *c);

/* Finds the value of parameter `name` in a WWW-Authenticate or Authorization
 * header value, unquoted, into out. NVR_ERR_INVAL if absent or too long. */
nvr_err bench_digest_param(const char *value, const char *name, char *out, size_t size);

#endif

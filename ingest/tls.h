/*
 * tls.h: TLS to cameras (RTSPS). One client context for all cameras
 * (TLS 1.2 and 1.3; on 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305),
 * and per camera a trust: its CA bundle (vendors sign camera certificates
 * with their own root), a pinned SHA-256 of its certificate, or the system
 * store. The host name or IP address in the URL must match the
 * certificate, except with a pin, which names the certificate itself.
 * A self-signed certificate is refused unless pinned.
 */
#ifndef NVR_ING_TLS_H
#define NVR_ING_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "nvrd/err.h"

struct ing_tls_trust;

/* Makes the shared client context; once, before any worker starts. */
nvr_err ing_tls_init(void);
void ing_tls_cleanup(void);

/* A trust from a CA bundle (PEM text), a pin (32 bytes), or neither (the
 * system store). Caller frees with ing_tls_trust_free(). */
nvr_err ing_tls_trust_new(const char *ca_pem, const uint8_t *pin, struct ing_tls_trust **out);
void ing_tls_trust_free(struct ing_tls_trust *t);

/* A client SSL on a connected non-blocking socket, checking host. */
SSL *ing_tls_ssl(struct ing_tls_trust *t, const char *host, int fd);

/* After a failed handshake: true if the certificate was refused, with a
 * description (subject, issuer, SHA-256, reason) in detail. */
bool ing_tls_rejected(SSL *ssl, char *detail, size_t size);

/* The SHA-256 of the peer's certificate, as hex, into out (65 bytes). */
bool ing_tls_peer_fingerprint(SSL *ssl, char out[65]);

#endif

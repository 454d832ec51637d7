/*
 * tls.c: the camera-side TLS context and certificate trust.
 * It must never accept a certificate that neither chains to the camera's
 * trust nor matches its pin, and never fall back to no verification.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ingest/tls.h"
#include "nvrd/encode.h"

/* TLS 1.2 suites: ECDHE key exchange with AEAD only (NIST SP 800-52r2,
 * the cameras' own recommendations); TLS 1.3 suites are all AEAD. */
#define TLS12_CIPHERS                                                             \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"              \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"              \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"

struct ing_tls_trust {
	X509_STORE *store; /* NULL with a pin */
	bool pinned;
	uint8_t pin[32];
};

static SSL_CTX *client_ctx;
static X509_STORE *system_store; /* shared by every camera without a bundle */
static int trust_index = -1;     /* SSL ex_data slot: the connection's trust */

nvr_err
ing_tls_init(void)
{
	if (client_ctx != NULL)
		return NVR_OK;
	client_ctx = SSL_CTX_new(TLS_client_method());
	if (client_ctx == NULL || SSL_CTX_set_min_proto_version(client_ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(client_ctx, TLS12_CIPHERS) != 1)
		return NVR_ERR_CRYPTO;
	/* Buffers go back to the heap when a connection is idle. */
	SSL_CTX_set_mode(client_ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(client_ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* Cameras send a TLS record per RTP packet: without read-ahead each
	 * record costs two read() calls (header, then body); with it, one
	 * read() takes many. ingest/camera.c then must not rely on epoll for
	 * records already buffered (SSL_has_pending). */
	SSL_CTX_set_read_ahead(client_ctx, 1);
	if ((system_store = X509_STORE_new()) == NULL || X509_STORE_set_default_paths(system_store) != 1)
		return NVR_ERR_CRYPTO;
	trust_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return trust_index >= 0 ? NVR_OK : NVR_ERR_CRYPTO;
}

void
ing_tls_cleanup(void)
{
	SSL_CTX_free(client_ctx);
	X509_STORE_free(system_store);
	client_ctx = NULL;
	system_store = NULL;
}

static X509_STORE *
store_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	STACK_OF(X509_INFO) *infos = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
	X509_STORE *s = infos ? X509_STORE_new() : NULL;
	int added = 0;

	for (int i = 0; s != NULL && i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);
		if (xi->x509 != NULL && X509_STORE_add_cert(s, xi->x509) == 1)
			added++;
		if (xi->crl != NULL)
			X509_STORE_add_crl(s, xi->crl);
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(b);
	if (added == 0) {
		X509_STORE_free(s);
		return NULL;
	}
	return s;
}

nvr_err
ing_tls_trust_new(const char *ca_pem, const uint8_t *pin, struct ing_tls_trust **out)
{
	struct ing_tls_trust *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL)
		return NVR_ERR_NOMEM;
	if (pin != NULL) {
		t->pinned = true;
		memcpy(t->pin, pin, 32);
	} else if (ca_pem != NULL) {
		if ((t->store = store_from_pem(ca_pem)) == NULL) {
			free(t);
			return NVR_ERR_INVAL;
		}
	} else {
		X509_STORE_up_ref(system_store);
		t->store = system_store;
	}
	*out = t;
	return NVR_OK;
}

void
ing_tls_trust_free(struct ing_tls_trust *t)
{
	if (t == NULL)
		return;
	X509_STORE_free(t->store);
	free(t);
}

/* With a pin, the chain does not matter (a pinned camera may well be
 * self-signed): the leaf certificate must be the pinned one. */
static int
pin_verify(int preverify_ok, X509_STORE_CTX *ctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct ing_tls_trust *t = ssl ? SSL_get_ex_data(ssl, trust_index) : NULL;
	X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
	uint8_t md[32];
	unsigned int n = 32;

	(void)preverify_ok;
	if (t == NULL || cert == NULL)
		return 0;
	if (X509_STORE_CTX_get_error_depth(ctx) > 0)
		return 1;
	if (X509_digest(cert, EVP_sha256(), md, &n) == 1 && n == 32 && CRYPTO_memcmp(md, t->pin, 32) == 0) {
		X509_STORE_CTX_set_error(ctx, X509_V_OK);
		return 1;
	}
	X509_STORE_CTX_set_error(ctx, X509_V_ERR_CERT_REJECTED);
	return 0;
}

SSL *
ing_tls_ssl(struct ing_tls_trust *t, const char *host, int fd)
{
	SSL *ssl = SSL_new(client_ctx);
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;

	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_set_ex_data(ssl, trust_index, t) != 1)
		goto fail;
	SSL_set_connect_state(ssl);
	if (!is_ip && SSL_set_tlsext_host_name(ssl, host) != 1)
		goto fail;
	if (t->pinned) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, pin_verify);
		return ssl;
	}
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	if (SSL_set1_verify_cert_store(ssl, t->store) != 1)
		goto fail;
	if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1 : SSL_set1_host(ssl, host) != 1)
		goto fail;
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

bool
ing_tls_peer_fingerprint(SSL *ssl, char out[65])
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	uint8_t md[32];
	unsigned int n = 32;

	if (cert == NULL || X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
		return false;
	nvr_hex_encode(md, 32, out);
	return true;
}

static void
name_of(X509_NAME *name, char *out, size_t size)
{
	if (name == NULL || X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)size) < 0)
		snprintf(out, size, "?");
}

bool
ing_tls_rejected(SSL *ssl, char *detail, size_t size)
{
	long res = SSL_get_verify_result(ssl);
	X509 *cert = SSL_get0_peer_certificate(ssl);
	char subject[128], issuer[128], fp[65] = "?";

	if (res == X509_V_OK)
		return false;
	if (cert == NULL) {
		snprintf(detail, size, "%s", X509_verify_cert_error_string(res));
		return true;
	}
	name_of(X509_get_subject_name(cert), subject, sizeof(subject));
	name_of(X509_get_issuer_name(cert), issuer, sizeof(issuer));
	ing_tls_peer_fingerprint(ssl, fp);
	snprintf(detail, size, "%s; subject CN=%s, issuer CN=%s, SHA-256 %s", X509_verify_cert_error_string(res),
	    subject, issuer, fp);
	return true;
}

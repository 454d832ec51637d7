/*
 * server.h: the HTTPS API server (civetweb): TLS, the request pipeline
 * and its shared state. Started by nvrd after the recorder.
 */
#ifndef NVR_WEB_SERVER_H
#define NVR_WEB_SERVER_H

#include "nvrd/config.h"
#include "nvrd/err.h"
#include "storage/secret.h"
#include "storage/sign.h"

struct web_server;

/*
 * Starts the API on cfg's [web] listen addresses (nothing, *out NULL, when
 * empty). cfg, secret and signer must outlive the server. Makes a
 * self-signed certificate at first start. Failures are logged;
 * NVR_ERR_CONFIG for what an operator must fix.
 */
nvr_err web_server_start(const struct nvr_config *cfg, const struct stg_secret *secret,
    const struct stg_signer *signer, struct web_server **out);

/* Applies a new [web] allow list (SIGHUP); the old one stays if it does
 * not parse. */
nvr_err web_server_set_allow(struct web_server *s, const char *allow);

/* Loads [web] tls_certificate and tls_key again (SIGHUP, after `nvrctl tls
 * install`): new connections get the new certificate, none is dropped,
 * recordings are untouched. A pair that does not load (logged) leaves the
 * one in use. */
void web_server_reload_tls(struct web_server *s);

/* Stops serving (requests in flight finish), flushes the audit log, frees.
 * NULL is allowed. */
void web_server_stop(struct web_server *s);

#endif

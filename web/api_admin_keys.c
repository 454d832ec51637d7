/*
 * api_admin_keys.c: public key material through the API: key holders'
 * P-256 public keys (POST, DELETE /api/v1/keyholders) and the API's own
 * certificate (PUT /api/v1/tls/certificate), with nvrctl keyholder's and
 * nvrctl tls install's checks. A private key is never accepted: the
 * recorder must never hold a key holder's, and the TLS key stays in its
 * file.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "storage/catalog.h"
#include "storage/seal.h"
#include "web/api.h"
#include "web/http.h"
#include "web/server_priv.h"
#include "web/tls.h"

#define PUBLIC_KEY_MAX 16383 /* bytes of PEM, as nvrctl keyholder add reads */

/* The name and key of a new key holder: 0, or the 400 sent. */
static int
check_keyholder(struct web_req *r, json_t *body, const char **name, const char **pem)
{
	static const char *const known[] = { "name", "public_key_pem", NULL };
	json_t *n = json_object_get(body, "name"), *k = json_object_get(body, "public_key_pem");
	EVP_PKEY *key = NULL;
	const char *why = "name must be a string";
	int st = 400;

	if (!web_json_known(r->conn, body, known, &st))
		return st;
	if (!json_is_string(n) || (why = stg_catalog_check_name(json_string_value(n), true)) != NULL)
		return web_reply_error(r->conn, 400, "bad_value", NULL, "bad key holder name: %s",
		    why);
	if (!json_is_string(k) || json_string_length(k) > PUBLIC_KEY_MAX)
		return web_reply_error(r->conn, 400, "bad_value", NULL, "public_key_pem must be a PEM public key");
	if (strstr(json_string_value(k), "PRIVATE KEY") != NULL)
		return web_reply_error(r->conn, 400, "bad_key", NULL,
		    "this is a private key: it must never be given to the recorder; give the .pub.pem file that "
		    "`nvrctl keyholder new` made, and delete this copy of the private key");
	if (stg_seal_read_public(json_string_value(k), json_string_length(k), &key) != NVR_OK)
		return web_reply_error(r->conn, 400, "bad_key", NULL, "public_key_pem is not a P-256 public key in PEM");
	EVP_PKEY_free(key);
	*name = json_string_value(n);
	*pem = json_string_value(k);
	return 0;
}

int
web_api_keyholder_add(struct web_req *r)
{
	int st = 400;
	json_t *body = web_read_json(r->conn, &st), *j;
	struct stg_keyholder kh;
	const char *name = NULL, *pem = NULL;
	char hex[65];
	nvr_err rc;

	if (body == NULL)
		return st;
	if ((st = check_keyholder(r, body, &name, &pem)) != 0)
		goto out;
	if ((rc = stg_catalog_keyholder_add(r->db, name, pem, &kh)) != NVR_OK) {
		st = rc == NVR_ERR_INVAL ? web_reply_error(r->conn, 409, "exists", NULL,
		                               "the name %s or this key is already registered (GET /api/v1/keyholders)", name)
		                         : web_reply_db_error(r->conn);
		goto out;
	}
	if (stg_catalog_notify(r->db) != NVR_OK)
		nvr_log(NVR_LOG_ERROR, "API: key holder %s added, but nvrd was not told; it seals to it after a restart", name);
	nvr_hex_encode(kh.fingerprint, 32, hex);
	nvr_log(NVR_LOG_NOTICE, "API: %s added the key holder %s (fingerprint %s)", r->user.name, name, hex);
	web_req_audit_json(r, "keyholder.add", name, WEB_AUDIT_OK, json_pack("{s:s}", "fingerprint", hex));
	j = web_keyholder_json(r->db, &kh.id);
	st = j != NULL ? web_reply_json(r->conn, 201, j, NULL) : web_reply_db_error(r->conn);
out:
	json_decref(body);
	return st;
}

int
web_api_keyholder_remove(struct web_req *r)
{
	nvr_err rc = stg_catalog_keyholder_remove(r->db, r->path_arg);

	if (rc == NVR_ERR_INVAL)
		return web_reply_error(r->conn, 404, "not_found", NULL, "no key holder named %s", r->path_arg);
	if (rc != NVR_OK)
		return web_reply_db_error(r->conn);
	if (stg_catalog_notify(r->db) != NVR_OK)
		nvr_log(NVR_LOG_ERROR, "API: key holder %s removed, but nvrd was not told until it restarts", r->path_arg);
	nvr_log(NVR_LOG_NOTICE, "API: %s removed the key holder %s", r->user.name, r->path_arg);
	web_req_audit(r, "keyholder.remove", r->path_arg, WEB_AUDIT_OK, NULL);
	return web_reply(r->conn, 204, "application/json", NULL, NULL, 0);
}

/* ---- the API's certificate --------------------------------------------------- */

/* The answer to a refused installation, in nvrctl tls install's words. */
static int
tls_refused(struct web_req *r, enum web_tls_refusal why)
{
	switch (why) {
	case WEB_TLS_NO_KEY:
		return web_reply_error(r->conn, 500, "internal", NULL, "nvrd cannot read the API's TLS key %s",
		    r->srv->cfg->web_tls_key);
	case WEB_TLS_HAS_KEY:
		return web_reply_error(r->conn, 400, "bad_certificate", NULL,
		    "certificate_pem holds a private key: give the certificate and its chain only");
	case WEB_TLS_WRONG_KEY:
		return web_reply_error(r->conn, 400, "wrong_key", NULL,
		    "the certificate does not belong to the API's key: install the certificate made from this "
		    "recorder's CSR (nvrctl tls csr)");
	case WEB_TLS_NOT_VALID_NOW:
		return web_reply_error(r->conn, 400, "bad_certificate", NULL,
		    "the certificate is not valid now (see its notBefore and notAfter)");
	case WEB_TLS_BAD_CHAIN:
		return web_reply_error(r->conn, 400, "bad_certificate", NULL,
		    "certificate_pem holds something after the first certificate that is not a certificate");
	default:
		return web_reply_error(r->conn, 400, "bad_certificate", NULL, "certificate_pem is not a PEM certificate");
	}
}

/* Makes the running server use the installed file for new handshakes,
 * as SIGHUP does. */
static int
tls_use(struct web_req *r, const struct web_tls_leaf *leaf)
{
	char fp[65] = "";
	bool changed = false;

	if (web_tls_reload(r->srv->tls, fp, &changed) != NVR_OK)
		return web_reply_error(r->conn, 500, "internal", NULL,
		    "the certificate is in %s, but nvrd cannot load it (see its log); the one in use stays",
		    r->srv->cfg->web_tls_cert);
	if (changed)
		nvr_log(NVR_LOG_NOTICE, "API TLS certificate %s loaded (SHA-256 %s); new connections use it",
		    r->srv->cfg->web_tls_cert, fp);
	web_req_audit_json(r, "tls.install", "api", WEB_AUDIT_OK, json_pack("{s:s}", "sha256", leaf->sha256));
	return web_reply_json(r->conn, 200,
	    json_pack("{s:s,s:s,s:s}", "sha256", leaf->sha256, "subject", leaf->subject, "issuer", leaf->issuer), NULL);
}

int
web_api_tls_certificate(struct web_req *r)
{
	static const char *const known[] = { "certificate_pem", NULL };
	const struct nvr_config *cfg = r->srv->cfg;
	int st = 400;
	json_t *body = web_read_json(r->conn, &st), *pem;
	struct web_tls_leaf leaf;
	enum web_tls_refusal why = 0;
	nvr_err rc;

	if (body == NULL)
		return st;
	if (!web_json_known(r->conn, body, known, &st))
		goto out;
	if (!json_is_string(pem = json_object_get(body, "certificate_pem"))) {
		st = web_reply_error(r->conn, 400, "bad_value", NULL,
		    "certificate_pem must be the certificate, then its chain, in PEM");
		goto out;
	}
	rc = web_tls_install(cfg->web_tls_cert, cfg->web_tls_key, json_string_value(pem), json_string_length(pem), &leaf,
	    &why);
	if (rc == NVR_ERR_INVAL)
		st = tls_refused(r, why);
	else if (rc != NVR_OK)
		st = web_reply_error(r->conn, 500, "internal", NULL, "cannot write %s: %s", cfg->web_tls_cert,
		    strerror(errno));
	else
		st = tls_use(r, &leaf);
out:
	json_decref(body);
	return st;
}

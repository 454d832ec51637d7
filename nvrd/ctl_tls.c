/*
 * ctl_tls.c: nvrctl tls csr|install: replacing the API's self-signed
 * certificate with one from a CA. The private key never leaves its file:
 * the CSR is made from it here, and install (web_tls_install(), which the
 * API shares) checks that the certificate belongs to it before anything is
 * replaced.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "nvrd/ctl.h"
#include "web/audit.h"
#include "web/tls.h"

static EVP_PKEY *
read_key(const char *path)
{
	EVP_PKEY *k = web_tls_read_key(path);

	if (k == NULL)
		nvr_ctl_error("nvrd makes it at first start; run nvrctl as root or the nvrd user",
		    "cannot read the API's TLS key %s", path);
	return k;
}

/* A CSR for the API key: subject CN=cn, subjectAltName san. */
static int
tls_csr(struct nvr_ctl *ctl, const char *cn, const char *san)
{
	struct nvr_config *cfg = nvr_ctl_config(ctl);
	EVP_PKEY *key = cfg != NULL ? read_key(cfg->web_tls_key) : NULL;
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *e = NULL;
	int st = NVR_CTL_FAIL;

	if (key == NULL || req == NULL || name == NULL || exts == NULL)
		goto out;
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, key) ||
	    (e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san)) == NULL ||
	    !sk_X509_EXTENSION_push(exts, e) || !X509_REQ_add_extensions(req, exts) ||
	    !X509_REQ_sign(req, key, EVP_sha256()) || !PEM_write_X509_REQ(stdout, req)) {
		nvr_ctl_error("subjectAltName entries look like DNS:nvr.example.org,IP:192.0.2.10",
		    "cannot make the certificate signing request");
		goto out;
	}
	e = NULL; /* owned by exts */
	st = NVR_CTL_OK;
out:
	X509_EXTENSION_free(e);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return st;
}

/* The certificate file into a new NUL-terminated buffer (at most 1 MiB);
 * the caller frees it. NULL if it cannot be read. */
static char *
read_pem(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *text = f != NULL ? calloc(1, (size_t)1 << 20) : NULL;

	*len = 0;
	if (text != NULL)
		*len = fread(text, 1, ((size_t)1 << 20) - 1, f);
	if (f != NULL)
		fclose(f);
	return text;
}

/* Prints why web_tls_install() refused path, as nvrctl always worded it. */
static void
refused(const char *path, const char *key_path, enum web_tls_refusal why)
{
	switch (why) {
	case WEB_TLS_NO_KEY:
		nvr_ctl_error("nvrd makes it at first start; run nvrctl as root or the nvrd user",
		    "cannot read the API's TLS key %s", key_path);
		break;
	case WEB_TLS_HAS_KEY:
		nvr_ctl_error("give the certificate and its chain only; the key stays in its own file",
		    "%s holds a private key", path);
		break;
	case WEB_TLS_WRONG_KEY:
		nvr_ctl_error("install the certificate made from this recorder's CSR (nvrctl tls csr)",
		    "%s does not belong to the API's key", path);
		break;
	case WEB_TLS_NOT_VALID_NOW:
		nvr_ctl_error(NULL, "%s is not valid now (see its notBefore and notAfter)", path);
		break;
	case WEB_TLS_BAD_CHAIN:
		nvr_ctl_error("the file holds the certificate, then its chain, each in PEM",
		    "%s holds something after the first certificate that is not a certificate", path);
		break;
	default:
		nvr_ctl_error(NULL, "%s is not a PEM certificate", path);
		break;
	}
}

static int
tls_install(struct nvr_ctl *ctl, const char *path)
{
	struct nvr_config *cfg = nvr_ctl_config(ctl);
	char detail[128], who[96], *pem = NULL;
	struct web_audit_event ev = {
		.actor = who, .address = "local", .action = "tls.install", .object = "api", .outcome = WEB_AUDIT_OK,
		.detail = detail,
	};
	struct web_tls_leaf leaf;
	enum web_tls_refusal why = 0;
	size_t len = 0;
	PGconn *db;
	nvr_err rc;

	if (cfg == NULL)
		return NVR_CTL_FAIL;
	pem = read_pem(path, &len);
	rc = web_tls_install(cfg->web_tls_cert, cfg->web_tls_key, pem != NULL ? pem : "", len, &leaf, &why);
	free(pem);
	if (rc == NVR_ERR_INVAL || rc == NVR_ERR_IO) {
		if (rc == NVR_ERR_INVAL)
			refused(path, cfg->web_tls_key, why);
		else
			nvr_ctl_error(NULL, "cannot write %s: %s", cfg->web_tls_cert, strerror(errno));
		return NVR_CTL_FAIL;
	}
	if (rc != NVR_OK)
		return NVR_CTL_FAIL;
	nvr_ctl_actor(who, sizeof(who));
	snprintf(detail, sizeof(detail), "{\"sha256\":\"%s\"}", leaf.sha256);
	if ((db = nvr_ctl_db(ctl)) == NULL || web_audit_append(db, &ev, 1, NULL) != NVR_OK)
		nvr_ctl_error("nvrctl audit verify", "the certificate is installed, but the audit log could not record it");
	printf("installed %s as %s (SHA-256 %s)\n"
	       "  nvrd uses it for new connections after: systemctl reload nvrd (or kill -HUP); recordings go on\n",
	    path, cfg->web_tls_cert, leaf.sha256);
	return NVR_CTL_OK;
}

int
nvr_ctl_tls(struct nvr_ctl *ctl, int argc, char **argv)
{
	char host[128] = "localhost", cn[160], san[400];

	gethostname(host, sizeof(host) - 1);
	if (argc >= 1 && strcmp(argv[0], "csr") == 0 && (argc == 1 || argc == 3 || argc == 5)) {
		snprintf(cn, sizeof(cn), "%s", host);
		snprintf(san, sizeof(san), "DNS:%s", host);
		for (int i = 1; i + 1 < argc; i += 2) {
			if (strcmp(argv[i], "--cn") == 0)
				snprintf(cn, sizeof(cn), "%s", argv[i + 1]);
			else if (strcmp(argv[i], "--san") == 0)
				snprintf(san, sizeof(san), "%s", argv[i + 1]);
			else
				goto usage;
		}
		return tls_csr(ctl, cn, san);
	}
	if (argc == 2 && strcmp(argv[0], "install") == 0)
		return tls_install(ctl, argv[1]);
usage:
	nvr_ctl_error("nvrctl --help", "tls takes csr [--cn NAME] [--san DNS:name,IP:addr] or install CERT.pem");
	return NVR_CTL_USAGE;
}

/*
 * ctl_tls.c: nvrctl tls csr|install: replacing the API's self-signed
 * certificate with one from a CA. The private key never leaves its file:
 * the CSR is made from it here, and install checks that the certificate
 * belongs to it before anything is replaced.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "nvrd/ctl.h"
#include "nvrd/encode.h"
#include "storage/sign.h"
#include "web/audit.h"

static EVP_PKEY *
read_key(const char *path)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
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

/* The certificate must match the key and be valid now. */
static bool
check_cert(const char *path, EVP_PKEY *key, char fp_hex[65])
{
	X509 *x = NULL;
	uint8_t fp[32];
	bool ok = false;

	if (stg_cert_read(path, &x) != NVR_OK)
		nvr_ctl_error(NULL, "%s is not a PEM certificate", path);
	else if (X509_check_private_key(x, key) != 1)
		nvr_ctl_error("install the certificate made from this recorder's CSR (nvrctl tls csr)",
		    "%s does not belong to the API's key", path);
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0 || X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		nvr_ctl_error(NULL, "%s is not valid now (see its notBefore and notAfter)", path);
	else if (stg_cert_fingerprint(x, fp) == NVR_OK) {
		nvr_hex_encode(fp, sizeof(fp), fp_hex);
		ok = true;
	}
	X509_free(x);
	return ok;
}

/* Copies src to dst through dst.new and rename: never a half-written file. */
static bool
replace_file(const char *src, const char *dst)
{
	char tmp[4096];
	FILE *in = fopen(src, "re"), *out = NULL;
	char buf[8192];
	size_t n;
	bool ok = in != NULL;

	snprintf(tmp, sizeof(tmp), "%s.new", dst);
	if (ok && (out = fopen(tmp, "we")) == NULL)
		ok = false;
	while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		ok = fwrite(buf, 1, n, out) == n;
	ok = ok && fflush(out) == 0 && fsync(fileno(out)) == 0;
	if (out != NULL)
		ok = fclose(out) == 0 && ok;
	if (in != NULL)
		fclose(in);
	ok = ok && chmod(tmp, 0644) == 0 && rename(tmp, dst) == 0;
	if (!ok) {
		nvr_ctl_error(NULL, "cannot write %s: %s", dst, strerror(errno));
		unlink(tmp);
	}
	return ok;
}

static int
tls_install(struct nvr_ctl *ctl, const char *path)
{
	struct nvr_config *cfg = nvr_ctl_config(ctl);
	EVP_PKEY *key = cfg != NULL ? read_key(cfg->web_tls_key) : NULL;
	char fp[65], detail[128], who[96];
	struct web_audit_event ev = {
		.actor = who, .address = "local", .action = "tls.install", .object = "api", .outcome = WEB_AUDIT_OK,
		.detail = detail,
	};
	PGconn *db;
	int st = NVR_CTL_FAIL;

	if (key == NULL || !check_cert(path, key, fp) || !replace_file(path, cfg->web_tls_cert))
		goto out;
	nvr_ctl_actor(who, sizeof(who));
	snprintf(detail, sizeof(detail), "{\"sha256\":\"%s\"}", fp);
	if ((db = nvr_ctl_db(ctl)) == NULL || web_audit_append(db, &ev, 1, NULL) != NVR_OK)
		nvr_ctl_error("nvrctl audit verify", "the certificate is installed, but the audit log could not record it");
	printf("installed %s as %s (SHA-256 %s)\n"
	       "  nvrd uses it for new connections after: systemctl reload nvrd (or kill -HUP); recordings go on\n",
	    path, cfg->web_tls_cert, fp);
	st = NVR_CTL_OK;
out:
	EVP_PKEY_free(key);
	return st;
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

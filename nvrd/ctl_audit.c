/*
 * ctl_audit.c: nvrctl audit verify [--trust CERT]: checks the audit log's
 * hash chain and signed checkpoints (web/audit.h, docs/FORMAT.md section
 * 11) and says so in the exit status: 0 it verified, 1 it did not (or
 * could not be read), 2 bad usage. It reads the log in one read-only
 * transaction and must never change it.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrd/ctl.h"
#include "storage/sign.h"
#include "web/audit.h"

#define USAGE "nvrctl audit verify [--trust CERT]"

/* argv[0] is "verify", which getopt takes for the command's name.
 * Returns 0, or -1 after saying what is wrong. */
static int
parse(int argc, char **argv, const char **trust)
{
	static const struct option opts[] = {
		{ "trust", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch != 't') {
			nvr_ctl_error(USAGE, ch == ':' ? "--trust needs a certificate file" : "unknown option '%s'",
			    argv[optind - 1]);
			return -1;
		}
		*trust = optarg;
	}
	if (optind != argc) {
		nvr_ctl_error(USAGE, "audit verify takes no other argument");
		return -1;
	}
	return 0;
}

/* The certificate to check checkpoints with: --trust, else [signing] cert. */
static X509 *
trusted_cert(struct nvr_ctl *ctl, const char *trust)
{
	struct nvr_config *cfg;
	X509 *cert = NULL;

	if (trust == NULL) {
		if ((cfg = nvr_ctl_config(ctl)) == NULL)
			return NULL;
		trust = cfg->signing_cert;
	}
	if (stg_cert_read(trust, &cert) != NVR_OK)
		nvr_ctl_error("give the recorder's certificate with --trust CERT", "cannot read the certificate %s",
		    trust);
	return cert;
}

static int
audit_verify(struct nvr_ctl *ctl, int argc, char **argv)
{
	struct web_audit_report rep;
	const char *trust = NULL;
	X509 *cert = NULL;
	PGconn *db;
	nvr_err rc;
	int st = NVR_CTL_FAIL;

	if (parse(argc, argv, &trust) != 0)
		return NVR_CTL_USAGE;
	if ((cert = trusted_cert(ctl, trust)) == NULL || (db = nvr_ctl_db(ctl)) == NULL)
		goto out;
	rc = web_audit_verify(db, cert, &rep);
	if (rc == NVR_OK) {
		printf("audit log: %lld rows, %lld checkpoints verified\n", (long long)rep.rows,
		    (long long)rep.checkpoints);
		st = NVR_CTL_OK;
	} else if (rc == NVR_ERR_INVAL) {
		printf("audit log: NOT VERIFIED: %s\n", rep.why);
		printf("(%lld rows and %lld checkpoints verified before it)\n", (long long)rep.rows,
		    (long long)rep.checkpoints);
	} else {
		nvr_ctl_error(NULL, "cannot read the audit log: %s", nvr_err_str(rc));
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		nvr_ctl_error(NULL, "cannot write the report");
		st = NVR_CTL_FAIL;
	}
out:
	X509_free(cert);
	return st;
}

int
nvr_ctl_audit(struct nvr_ctl *ctl, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "verify") == 0)
		return audit_verify(ctl, argc, argv);
	nvr_ctl_error("nvrctl --help", "audit takes verify [--trust CERT]");
	return NVR_CTL_USAGE;
}

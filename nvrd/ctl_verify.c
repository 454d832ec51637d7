/*
 * ctl_verify.c: nvrctl verify PATH [--trust CERT] [--verbose]: checks
 * recordings offline (storage/verify.h) and says so in the exit status:
 * 0 everything found verified, 1 anything did not (or could not be
 * checked), 2 bad usage. It needs no database, configuration or key, so it
 * runs on any machine that has the files; it must never change any of them.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrd/ctl.h"
#include "storage/bundle.h"
#include "storage/verify.h"

#define USAGE "nvrctl verify PATH [--trust CERT | --fingerprint SHA256] [--verbose]"

/* getopt wants the command's name in argv[0]; ours starts at PATH. Returns
 * the index of PATH in args, or -1 after saying what is wrong. */
static int
parse(int argc, char **args, struct stg_verify_opts *o, char pin[65])
{
	static const struct option opts[] = {
		{ "trust", required_argument, NULL, 't' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, args, ":v", opts, NULL)) != -1) {
		if (ch == 't') {
			o->trust = optarg;
		} else if (ch == 'f' && nvr_ctl_fingerprint(optarg, pin)) {
			o->pin = pin;
		} else if (ch == 'v') {
			o->verbose = true;
		} else {
			nvr_ctl_error(USAGE, ch == ':' ? "%s needs a value" : ch == 'f' ? "--fingerprint %s is not a "
			    "SHA-256 fingerprint (64 hex digits)" : "unknown option '%s'", ch == 'f' ? optarg :
			    args[optind - 1]);
			return -1;
		}
	}
	if (o->trust != NULL && o->pin != NULL) {
		nvr_ctl_error(USAGE, "--trust and --fingerprint name the same thing: give one");
		return -1;
	}
	if (optind != argc - 1) {
		nvr_ctl_error(USAGE, "verify takes one PATH");
		return -1;
	}
	return optind;
}

static nvr_err
verify_bundle(const char *path, const struct stg_verify_opts *o, struct stg_verify_counts *c, char *why,
    size_t whysize)
{
	struct stg_bundle b;
	nvr_err rc = stg_bundle_extract(path, &b, why, whysize);

	if (rc == NVR_ERR_INVAL) {
		/* A malformed tar is a finding, not a failure to check. */
		fprintf(o->out, "FAIL %s: %s\nbundle: NOT VERIFIED\n", path, why);
		memset(c, 0, sizeof(*c));
		c->problems = 1;
		rc = NVR_OK;
	} else if (rc == NVR_OK) {
		rc = stg_bundle_verify(&b, o, c, why, whysize);
	}
	stg_bundle_close(&b);
	return rc;
}

int
nvr_ctl_verify(struct nvr_ctl *ctl, int argc, char **argv)
{
	static char name[] = "verify";
	struct stg_verify_opts o = { .out = stdout };
	struct stg_verify_counts c;
	char **args = calloc((size_t)argc + 2, sizeof(*args)), why[8192], pin[65];
	int idx, st = NVR_CTL_FAIL;

	(void)ctl; /* no configuration, no database: the files are all it needs */
	if (args == NULL) {
		nvr_ctl_error(NULL, "out of memory");
		return NVR_CTL_FAIL;
	}
	args[0] = name;
	memcpy(args + 1, argv, (size_t)argc * sizeof(*args));
	if ((idx = parse(argc + 1, args, &o, pin)) < 0) {
		st = NVR_CTL_USAGE;
	} else if ((stg_bundle_is(args[idx]) ? verify_bundle(args[idx], &o, &c, why, sizeof(why))
					  : stg_verify_path(args[idx], &o, &c, why, sizeof(why))) != NVR_OK) {
		fflush(stdout);
		nvr_ctl_error(NULL, "%s", why);
	} else if (fflush(stdout) != 0 || ferror(stdout)) {
		nvr_ctl_error(NULL, "cannot write the report");
	} else if (c.failed == 0 && c.problems == 0) {
		st = NVR_CTL_OK;
	}
	free(args);
	return st;
}

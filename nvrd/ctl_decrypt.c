/*
 * ctl_decrypt.c: nvrctl decrypt PATH --key KEYHOLDER.pem --out CLIP.mp4:
 * the key holder turns recorded SRTP into a playable MP4
 * (storage/decrypt.h). Exit 0 when the clip is in place, 1 when nothing
 * was written, 2 bad usage. Like verify, it needs no database and no
 * configuration, and it must never print or keep a key.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "nvrd/ctl.h"
#include "storage/bundle.h"
#include "storage/decrypt.h"
#include "storage/manifest.h"

#define USAGE                                                                                   \
	"nvrctl decrypt PATH --key KEYHOLDER.pem --out CLIP.mp4 [--camera NAME|ID] [--stream NAME]" \
	" [--from TIME] [--to TIME] [--trust CERT | --fingerprint SHA256] [--force]"

struct args {
	const char *path, *key, *from, *to;
	char pin[65];
	struct stg_decrypt_opts o;
};

/* Fills a from argv (getopt wants the command's name in argv[0]). */
static bool
parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' }, { "out", required_argument, NULL, 'o' },
		{ "camera", required_argument, NULL, 'c' }, { "stream", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' }, { "to", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'F' }, { "trust", required_argument, NULL, 'T' },
		{ "fingerprint", required_argument, NULL, 'P' }, { NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': a->key = optarg; break;
		case 'o': a->o.out = optarg; break;
		case 'c': a->o.camera = optarg; break;
		case 's': a->o.stream = optarg; break;
		case 'f': a->from = optarg; break;
		case 't': a->to = optarg; break;
		case 'F': a->o.force = true; break;
		case 'T': a->o.trust = optarg; break;
		case 'P':
			if (!nvr_ctl_fingerprint(optarg, a->pin)) {
				nvr_ctl_error(USAGE, "--fingerprint %s is not a SHA-256 fingerprint (64 hex digits)", optarg);
				return false;
			}
			a->o.pin = a->pin;
			break;
		default:
			nvr_ctl_error(USAGE, ch == ':' ? "%s needs a value" : "unknown option '%s'", argv[optind - 1]);
			return false;
		}
	}
	if (optind != argc - 1 || a->key == NULL || a->o.out == NULL) {
		nvr_ctl_error(USAGE, "decrypt takes one PATH, --key and --out");
		return false;
	}
	if (a->o.trust != NULL && a->o.pin != NULL) {
		nvr_ctl_error(USAGE, "--trust and --fingerprint name the same thing: give one");
		return false;
	}
	a->path = argv[optind];
	return true;
}

static bool
parse_range(struct args *a)
{
	if ((a->o.has_from = a->from != NULL) && stg_time_parse_utc(a->from, &a->o.from_ns) != NVR_OK) {
		nvr_ctl_error("times look like 2026-11-22T05:00:00Z (UTC)", "--from %s is not a time", a->from);
		return false;
	}
	if ((a->o.has_to = a->to != NULL) && stg_time_parse_utc(a->to, &a->o.to_ns) != NVR_OK) {
		nvr_ctl_error("times look like 2026-11-22T05:00:00Z (UTC)", "--to %s is not a time", a->to);
		return false;
	}
	if (a->o.has_from && a->o.has_to && a->o.to_ns <= a->o.from_ns) {
		nvr_ctl_error(NULL, "--to must be after --from");
		return false;
	}
	return true;
}

static EVP_PKEY *
read_key(const char *path)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	if (k == NULL)
		nvr_ctl_error("--key is the key holder's private key, PEM (nvrctl keyholder new makes one)",
		    "cannot read a private key from %s", path);
	return k;
}

static void
summary(const struct args *a, const struct stg_decrypt_result *r)
{
	char first[32], last[32];

	stg_time_format(r->first_ns, first);
	stg_time_format(r->last_ns, last);
	printf("camera:    %s (%s)\n", r->camera, r->camera_id);
	printf("stream:    %s (%s)\n", r->stream, r->codec);
	printf("segments:  %" PRIu64 "%s\n", r->segments, r->gaps ? ", with gaps (above)" : "");
	printf("packets:   %" PRIu64 " decrypted, %" PRIu64 " failed\n", r->packets, r->failed);
	printf("time:      %s to %s\n", first, last);
	printf("signer:    certificate SHA-256 %s, %s\n", r->signer,
	    a->o.trust != NULL ? "the trusted certificate"
	    : a->o.pin != NULL ? "the pinned fingerprint"
			       : "checked against nothing: compare it with the recorder's published fingerprint");
	printf("output:    %s (%" PRIu64 " bytes)%s\n", a->o.out, r->bytes,
	    r->verified ? "" : " FROM UNVERIFIED EVIDENCE");
}

/* A bundle: extracted, checked whole (export.json, every member, every
 * segment), then decrypted from the extracted folder. One that does not
 * verify is refused unless --force, as a folder is. */
static nvr_err
decrypt_bundle(struct args *a, struct stg_decrypt_result *res, char *why, size_t whysize)
{
	struct stg_verify_opts vo = { .out = stderr, .trust = a->o.trust, .pin = a->o.pin };
	struct stg_verify_counts c;
	struct stg_bundle b;
	FILE *quiet = tmpfile();
	nvr_err rc = stg_bundle_extract(a->path, &b, why, whysize);

	/* The full report only when something fails: FAIL lines matter. */
	vo.out = quiet != NULL ? quiet : stderr;
	if (rc == NVR_OK && (rc = stg_bundle_verify(&b, &vo, &c, why, whysize)) == NVR_OK &&
	    (c.failed > 0 || c.problems > 0)) {
		if (quiet != NULL) {
			char line[1024];
			rewind(quiet);
			while (fgets(line, sizeof(line), quiet) != NULL)
				if (strncmp(line, "FAIL ", 5) == 0)
					fputs(line, stderr);
		}
		if (!a->o.force) {
			snprintf(why, whysize, "%s does not verify (above): nothing written; --force writes it anyway", a->path);
			rc = NVR_ERR_INVAL;
		} else {
			fprintf(stderr, "nvrctl: WARNING: %s DOES NOT VERIFY: decrypting anyway (--force)\n", a->path);
		}
	}
	if (rc == NVR_OK)
		rc = stg_decrypt_dir(b.root, &a->o, res, why, whysize);
	stg_bundle_close(&b);
	if (quiet != NULL)
		fclose(quiet);
	return rc;
}

int
nvr_ctl_decrypt(struct nvr_ctl *ctl, int argc, char **argv)
{
	static char name[] = "decrypt";
	struct args a = { .o = { .report = stderr } };
	struct stg_decrypt_result res;
	char **args = calloc((size_t)argc + 2, sizeof(*args)), why[8192];
	int st = NVR_CTL_FAIL;

	(void)ctl; /* no configuration, no database: the files and the key */
	if (args == NULL) {
		nvr_ctl_error(NULL, "out of memory");
		return NVR_CTL_FAIL;
	}
	args[0] = name;
	memcpy(args + 1, argv, (size_t)argc * sizeof(*args));
	if (!parse(argc + 1, args, &a) || !parse_range(&a)) {
		st = NVR_CTL_USAGE;
	} else if ((a.o.holder = read_key(a.key)) == NULL) {
		st = NVR_CTL_FAIL;
	} else if ((stg_bundle_is(a.path) ? decrypt_bundle(&a, &res, why, sizeof(why))
					  : stg_decrypt_dir(a.path, &a.o, &res, why, sizeof(why))) != NVR_OK) {
		nvr_ctl_error(NULL, "%s", why);
	} else {
		summary(&a, &res);
		if (!res.verified)
			fprintf(stderr, "nvrctl: WARNING: %s IS MADE FROM UNVERIFIED EVIDENCE (--force)\n", a.o.out);
		st = fflush(stdout) == 0 && !ferror(stdout) ? NVR_CTL_OK : NVR_CTL_FAIL;
	}
	EVP_PKEY_free(a.o.holder);
	free(args);
	return st;
}

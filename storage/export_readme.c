/*
 * export_readme.c: the two texts every bundle carries for a stranger who
 * trusts nothing the recorder runs (docs/FORMAT.md section 12.3):
 * verify.sh, which checks the bundle with a POSIX shell, coreutils and
 * openssl alone, and README.txt, which says what the bundle is, how to
 * run the script and what each of its steps proves, and ends with the
 * script's text. Nothing here reads a file or the database: the texts
 * are fixed but for the export's facts.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>

#include "storage/export_priv.h"

const char *
stg_export_verify_sh(void)
{
	return stg_verify_sh_text;
}

/* The export's facts: what was asked for, by whom, when, and why. */
static void
readme_facts(FILE *f, const struct stg_export_req *req, const char *id, const char *created,
    const char *recorder, const char *cover)
{
	fprintf(f, "Evidence export %s\n\n", id);
	fprintf(f, "Made by the recorder %s\non %s for %s (%s).\n", recorder, created, req->actor, req->address);
	fprintf(f, "Reason: %s\nCameras:", req->reason);
	for (size_t i = 0; i < req->ncameras; i++)
		fprintf(f, " %s", req->cameras[i]);
	fprintf(f, "\nRange asked for: %s to %s (the first included, the last not).\n%s\n", req->from, req->to,
	    cover);
}

/* How to run verify.sh. The lines that start with "$ " are commands to
 * type, the same for every bundle but for its id and its signer's
 * certificate. */
static void
readme_run(FILE *f, const char *id)
{
	fprintf(f,
	    "The video is encrypted as the cameras sent it (SRTP): only a key holder\n"
	    "can watch it (nvrctl decrypt BUNDLE.tar --key KEYHOLDER.pem --out clip.mp4).\n"
	    "Anyone can check that the bundle is what the recorder stored and signed,\n"
	    "with a POSIX shell, coreutils and openssl alone (or with: nvrctl verify\n"
	    "BUNDLE.tar), in a terminal:\n\n"
	    "$ tar -xf BUNDLE.tar\n"
	    "$ cd nvr-export-%s\n"
	    "$ sh verify.sh\n\n"
	    "verify.sh writes nothing in the bundle's folder. It prints a line that\n"
	    "starts with FAIL and names the file for every problem, and ends with\n"
	    "\"VERIFIED: ...\" (exit status 0) only when all six steps passed:\n\n",
	    id);
}

/* What each step of verify.sh proves, in plain words. */
static void
readme_steps(FILE *f, const char *cert)
{
	fprintf(f,
	    "1. It prints the SHA-256 fingerprint of the certificate whose key signed\n"
	    "   the bundle,\n"
	    "   %s\n"
	    "   Compare it with the fingerprint the recorder's operator published or\n"
	    "   gave you by another channel (on paper, by telephone). No program can\n"
	    "   do this step for you: anyone can make a bundle that passes the five\n"
	    "   others with a key of their own.\n"
	    "2. export.json, the export's manifest, which lists every file of the\n"
	    "   bundle with its size and SHA-256, was signed with that certificate's key.\n"
	    "3. SHA256SUMS is the list export.json names (it prints both hashes).\n"
	    "4. Every file is the one SHA256SUMS lists (sha256sum -c SHA256SUMS), and\n"
	    "   the folder holds no other. SHA256SUMS lists every file but three:\n"
	    "   itself, export.json and export.json.sig, which are written after it (a\n"
	    "   list cannot hold its own hash) and are checked by steps 2 and 3.\n"
	    "5. Every segment (<id>.nvrseg, a few seconds of one camera) has the\n"
	    "   SHA-256 and size its manifest (<id>.manifest.json) gives, and every\n"
	    "   manifest was signed with the same key when the segment was recorded.\n"
	    "6. In each stream, each manifest names the SHA-256 of the one before it\n"
	    "   (seq - 1), so none can be removed, changed or reordered unseen. START\n"
	    "   marks each stream's first segment in the bundle, NOTE a gap in seq\n"
	    "   (export.json lists the gaps the recorder knew of).\n\n",
	    cert);
}

/* The two steps no script should be trusted for, as bare openssl
 * commands; the public key goes through a pipe, so that nothing is
 * written in the bundle's folder. */
static void
readme_by_hand(FILE *f, const char *cert)
{
	fprintf(f,
	    "The first two steps by hand (the second prints \"Verified OK\"):\n\n"
	    "$ openssl x509 -in %s -noout -fingerprint -sha256\n"
	    "$ openssl x509 -in %s -pubkey -noout | openssl dgst -sha256 -verify /dev/stdin"
	    " -signature export.json.sig export.json\n\n"
	    "A script cannot vouch for itself: read verify.sh before you trust what it\n"
	    "says. Its text follows, the same as the file. docs/FORMAT.md of the\n"
	    "recorder's source describes every file (sections 4 and 12).\n\n",
	    cert, cert);
}

char *
stg_export_readme(const struct stg_export_req *req, const char *id, const char *created, const char *recorder,
    const char *cert, const char *cover)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	readme_facts(f, req, id, created, recorder, cover);
	readme_run(f, id);
	readme_steps(f, cert);
	readme_by_hand(f, cert);
	fputs("---- verify.sh ----\n", f);
	fputs(stg_verify_sh_text, f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

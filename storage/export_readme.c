/*
 * export_readme.c: README.txt of every bundle, for a stranger who trusts
 * nothing the recorder runs (docs/FORMAT.md section 12.3): what the bundle
 * is and how to check it. Nothing here reads a file or the database: the
 * text is fixed but for the export's facts.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>

#include "storage/export_priv.h"

/* The glob of every manifest below the top folder:
 * <camera_id>/<stream>/<yyyy>/<mm>/<dd>/<segment_id>.manifest.json */
#define MANIFESTS "*/*/*/*/*/*.manifest.json"

static void
readme_steps(FILE *f, const char *cert)
{
	fprintf(f,
	    "1. The recorder's certificate. Compare the fingerprint this prints with\n"
	    "   the one the recorder's operator gave you by another channel (on paper,\n"
	    "   by telephone): the steps below prove only that this certificate's key\n"
	    "   signed the bundle.\n\n"
	    "$ openssl x509 -in %s -noout -fingerprint -sha256\n\n"
	    "2. The export manifest (export.json) was signed with that key. Expect\n"
	    "   \"Verified OK\".\n\n"
	    "$ openssl x509 -in %s -pubkey -noout > recorder.pub.pem\n"
	    "$ openssl dgst -sha256 -verify recorder.pub.pem -signature export.json.sig export.json\n\n"
	    "3. SHA256SUMS is the list that export.json names. Expect the same hash\n"
	    "   on both lines.\n\n"
	    "$ grep '\"sha256sums_sha256\"' export.json\n"
	    "$ sha256sum SHA256SUMS\n\n"
	    "4. Every member is the one listed. Expect \"OK\" on every line; the bundle\n"
	    "   holds nothing else (compare with: tar -tf BUNDLE.tar).\n\n"
	    "$ sha256sum -c SHA256SUMS\n\n",
	    cert, cert);
	fprintf(f,
	    "5. Every segment manifest was signed by the recorder when the segment\n"
	    "   was recorded, and every segment file is the one its manifest\n"
	    "   describes. Expect no line that starts with FAIL.\n\n"
	    "$ for m in " MANIFESTS "; do openssl dgst -sha256 -verify recorder.pub.pem"
	    " -signature \"$m.sig\" \"$m\" >/dev/null || echo \"FAIL signature $m\"; done\n"
	    "$ for m in " MANIFESTS "; do s=\"${m%%.manifest.json}.nvrseg\";"
	    " w=$(sed -n 's/^  \"sha256\": \"\\([0-9a-f]*\\)\",$/\\1/p' \"$m\");"
	    " g=$(sha256sum < \"$s\" | cut -c1-64); [ \"$w\" = \"$g\" ] || echo \"FAIL hash $s\"; done\n\n"
	    "6. The hash chain: each manifest names the SHA-256 of the one before it in\n"
	    "   its stream. Expect exactly one START line per stream, for the first\n"
	    "   segment exported of each (export.json: cameras, streams, first_seq):\n"
	    "   any other START is a segment missing from the chain.\n\n"
	    "$ sha256sum " MANIFESTS " > manifests.sha256\n"
	    "$ for m in " MANIFESTS "; do p=$(sed -n 's/^  \"prev_manifest_sha256\": \"\\([0-9a-f]*\\)\",$/\\1/p'"
	    " \"$m\"); grep -q \"^$p \" manifests.sha256 || echo \"START $m\"; done\n\n");
}

char *
stg_export_readme(const struct stg_export_req *req, const char *id, const char *created, const char *recorder,
    const char *cert)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	fprintf(f, "Evidence export %s\n\n", id);
	fprintf(f, "Made by the recorder %s\non %s for %s (%s).\n", recorder, created, req->actor, req->address);
	fprintf(f, "Reason: %s\nCameras:", req->reason);
	for (size_t i = 0; i < req->ncameras; i++)
		fprintf(f, " %s", req->cameras[i]);
	fprintf(f, "\nRange asked for: %s to %s (the first included, the last not).\n\n", req->from, req->to);
	fprintf(f,
	    "The video is encrypted as the cameras sent it (SRTP). Only a key holder\n"
	    "can watch it: nvrctl decrypt BUNDLE.tar --key KEYHOLDER.pem --out clip.mp4.\n"
	    "Anyone can check that it is what the recorder stored, with openssl and\n"
	    "sha256sum alone, as follows (or with: nvrctl verify BUNDLE.tar).\n\n"
	    "Extract the bundle (tar -xf BUNDLE.tar), then run each line that starts\n"
	    "with \"$ \" (without the \"$ \") in the folder that holds this README.\n"
	    "docs/FORMAT.md of the recorder's source explains every file.\n\n");
	readme_steps(f, cert);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

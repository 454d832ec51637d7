/*
 * verify.h: offline verification of recordings (nvrctl verify), with
 * nothing but the files and the recorder's certificate: no database, no
 * configuration, no key. docs/FORMAT.md describes every check, and how to
 * make each of them again with openssl and sha256sum alone.
 *
 * PATH is one segment (its .nvrseg, .manifest.json or .manifest.json.sig),
 * a day, stream or camera folder, or the storage root. The storage root is
 * the nearest folder at or above PATH that holds certs/; signers are looked
 * up there by the SHA-256 of their certificate (certs/<hex>.crt) unless a
 * trusted certificate is given, which every signer must then equal.
 *
 * For each segment: the manifest is there, decodes and is signed by its
 * signer; the segment file is there, its header names the manifest's
 * segment, camera, stream, key and seq, its size and SHA-256 are the
 * manifest's, and its records decode one after another to exactly its end;
 * the sealed key file of its key exists. For each stream (camera and stream
 * id), over the segments found: seqs follow one another without a gap, and
 * each prev_manifest_sha256 is the SHA-256 of the previous manifest's
 * bytes. A stream whose first segment found points to a manifest that is
 * not there is a note (older segments removed by retention, or outside
 * PATH), not a failure: nothing below PATH says which it is.
 *
 * The report is text, one finding a line, paths absolute with control
 * characters escaped (a file name cannot forge a line):
 *   FAIL <segment>.nvrseg: <why>      always
 *   NOTE <path>: <what>               always
 *   OK <segment>.nvrseg: <summary>    with verbose, as are stream lines
 * and a summary at the end. Reads are bounded: a manifest is at most
 * STG_MANIFEST_MAX bytes, a signature 256, and a segment file is streamed
 * in 1 MiB blocks, never held whole.
 */
#ifndef NVR_STG_VERIFY_H
#define NVR_STG_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nvrd/err.h"

struct stg_verify_opts {
	const char *trust; /* PEM certificate every signer must be; NULL: certs/ of the root */
	const char *pin;   /* or the SHA-256 of its DER (64 lowercase hex) every signer must have */
	bool verbose;      /* also an OK line per segment and a line per stream */
	FILE *out;         /* where the report goes */
	/* Paths below strip (a real path) are shown as shown_as and the rest:
	 * an extracted bundle's files by their names in the bundle. */
	const char *strip, *shown_as;
	/* The last line's first word: "summary" when NULL ("segments" when a
	 * bundle's check goes on after it). */
	const char *summary;
	/* May be NULL. The SHA-256 of the file at path, of size bytes, when
	 * the caller computed it itself from the bytes it wrote there (an
	 * extracted bundle): true and out filled, and the file is not hashed
	 * again. */
	bool (*known_sha256)(void *arg, const char *path, uint64_t size, uint8_t out[32]);
	void *known_arg;
};

struct stg_verify_counts {
	uint64_t checked;  /* segments found (by any of their three files) */
	uint64_t failed;   /* of those, segments with at least one FAIL line */
	uint64_t problems; /* FAIL lines about no segment: unreadable folder, nothing found */
	uint64_t notes;
	uint64_t streams;
};

/*
 * Verifies everything at or below path and writes the report to
 * opts->out. Returns NVR_OK when the verification ran to its end, whatever
 * it found: the counts say whether all verified (failed == 0 and problems
 * == 0). Otherwise nothing or only part was checked and why (of whysize
 * bytes) says what stopped it: NVR_ERR_IO (path unreadable),
 * NVR_ERR_INVAL (path is not a segment file or folder, or the trusted
 * certificate cannot be read), NVR_ERR_CONFIG (no certs/ above path and
 * no trusted certificate), NVR_ERR_NOMEM.
 */
nvr_err stg_verify_path(const char *path, const struct stg_verify_opts *opts,
    struct stg_verify_counts *counts, char *why, size_t whysize);

#endif

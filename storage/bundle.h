/*
 * bundle.h: reading an export bundle (docs/FORMAT.md section 12) offline,
 * for nvrctl verify and nvrctl decrypt: no database, no configuration, no
 * key.
 *
 * The tar is read once, strictly (regular members only, each header byte
 * for byte the one the recorder writes, below one top folder
 * nvr-export-<uuid>/, no "..", no absolute or odd names, no duplicates, at
 * most STG_BUNDLE_MEMBERS_MAX members, two zero blocks and the end of the
 * file after the last), into a private temporary folder (mode 0700, under
 * $TMPDIR or /tmp), hashing each member on the way. Then the bundle is
 * checked against its signed export.json (the members, in its order),
 * and the folder, which is a storage root, by storage/verify.h.
 */
#ifndef NVR_STG_BUNDLE_H
#define NVR_STG_BUNDLE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "nvrd/err.h"
#include "storage/verify.h"

#define STG_BUNDLE_MEMBERS_MAX 1000000

/* One member as extracted: its name below the top folder, size and
 * SHA-256. */
struct stg_bundle_member {
	char *path;
	uint64_t size;
	int64_t mtime; /* its tar header's */
	uint8_t sha[32];
};

/* An extracted bundle. Released by stg_bundle_close(), which removes the
 * temporary folder. */
struct stg_bundle {
	char tmp[PATH_MAX];  /* the private folder */
	char root[PATH_MAX]; /* tmp/nvr-export-<uuid>: the storage root */
	char name[PATH_MAX]; /* the tar as given, for the report */
	json_t *manifest;    /* export.json once read (NULL before or if unreadable) */
	char **findings;     /* what the tar's shape got wrong but did not stop its reading */
	size_t nfindings;
	struct stg_bundle_member *members; /* in the tar's order, until stg_bundle_verify sorts them */
	size_t n, cap;
};

/* Whether path is what nvrctl verify and decrypt read as a bundle: a
 * regular file that is not one of a segment's files (.nvrseg,
 * .manifest.json, .manifest.json.sig), whatever it holds, so that a tar
 * cut short is reported as such. */
bool stg_bundle_is(const char *path);

/* Whether rel is a member name a bundle may have below its top folder:
 * 1 to 6 components of letters, digits, '.', '_' and '-', none empty,
 * "." or "..". Nothing else is ever extracted. */
bool stg_bundle_name_ok(const char *rel);

/* Extracts path into b. A tar that cannot be read on (a bad header
 * block, a name no bundle has, a member cut short) ends the extraction:
 * NVR_ERR_INVAL (or NVR_ERR_IO) with why saying what, naming the member.
 * What is only not a bundle's shape (a header field other than the
 * recorder writes, data after the end) is kept in b->findings, which
 * stg_bundle_verify reports, and the reading goes on. stg_bundle_close(b)
 * is needed either way. */
nvr_err stg_bundle_extract(const char *path, struct stg_bundle *b, char *why, size_t whysize);

/*
 * Checks an extracted bundle, writing the report to o->out as nvrctl
 * verify does (FAIL, NOTE, OK and STREAM lines, then a summary): the
 * export manifest's signature (by --trust, o->trust, when given), every
 * member against it, then every segment and chain (storage/verify.h),
 * then each stream's counts and times against export.json. counts are
 * those of the whole bundle. NVR_OK when the check ran to its end,
 * whatever it found.
 */
nvr_err stg_bundle_verify(struct stg_bundle *b, const struct stg_verify_opts *o, struct stg_verify_counts *counts,
    char *why, size_t whysize);

void stg_bundle_close(struct stg_bundle *b);

#endif

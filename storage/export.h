/*
 * export.h: evidence export bundles (docs/FORMAT.md section 12): one tar
 * file with the segments of some cameras over a time range, whole and as
 * stored, their manifests, signatures, sealed keys and signing
 * certificates, the audit rows about them, and an export manifest signed
 * by the recorder. The recorder never decrypts: a bundle holds exactly the
 * bytes on disk.
 *
 * Used by nvrctl export and by the API's export jobs, in two steps:
 * stg_export_prepare() checks the request and takes the evidence holds
 * (the caller audits them and the export, so that those rows are in the
 * bundle), then stg_export_write() writes the tar.
 */
#ifndef NVR_STG_EXPORT_H
#define NVR_STG_EXPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "nvrd/err.h"
#include "nvrd/uuid.h"
#include "storage/sign.h"

#define STG_EXPORT_CAMERAS_MAX 64
#define STG_EXPORT_SEGMENTS_MAX 100000 /* a bigger export must be split */
#define STG_EXPORT_AUDIT_MAX 200000    /* audit rows in a bundle */
#define STG_EXPORT_REASON_MAX 1024
#define STG_EXPORT_MANIFEST_MAX ((size_t)64 << 20)

/* What to export. The strings belong to the caller. */
struct stg_export_req {
	nvr_uuid id;                 /* the export's id (random) */
	const char *const *cameras;  /* camera names */
	size_t ncameras;             /* 1 to STG_EXPORT_CAMERAS_MAX */
	const char *from, *to;       /* timestamptz text, from < to */
	const char *reason;          /* 1 to STG_EXPORT_REASON_MAX bytes */
	const char *actor, *address; /* who asked, from where ("local") */
	bool allow_damaged;          /* keep (and say) a segment that does not match its manifest */
};

/* Segment bytes copied so far and in all; total is known once the
 * segments are chosen (0 before). Read from other threads; cancel, set
 * from another thread, stops the writing (NVR_ERR_INTERRUPTED). */
struct stg_export_progress {
	_Atomic uint64_t done, total;
	atomic_bool cancel;
};

/* Checks the request (cameras known, times valid, from < to, reason
 * present) and takes one evidence hold per camera over the range, in one
 * transaction. On NVR_OK *holds is a new JSON array (the caller
 * json_decref()s it) of the holds as stg_hold_list shows them. On
 * NVR_ERR_INVAL nothing was held and *why (static, or of whysize bytes in
 * buf) says what is wrong with the request. */
nvr_err stg_export_prepare(PGconn *db, const struct stg_export_req *req, json_t **holds,
    char *why, size_t whysize);

/*
 * Writes the bundle of req to fd (from its current position, never
 * seeking), reading the segments of the storage root root, and signs its
 * manifest with signer. holds is what stg_export_prepare returned. The
 * audit rows included are those whose object is the export, its holds, an
 * exported camera or segment, as they are when the segments are chosen.
 * p (may be NULL) follows the progress. A segment that does not match its
 * manifest, or whose manifest's signature does not verify, fails the
 * export (NVR_ERR_INVAL, naming it) unless req->allow_damaged. On NVR_OK
 * *report (when report is not NULL) is a new JSON object the caller
 * json_decref()s: {complete, missing: [{camera, stream, from, to, why}],
 * damaged: [{camera, stream, seq, segment, why}]}, as export.json says it.
 * On failure why says what failed; the caller discards what was written.
 * The caller syncs fd.
 */
nvr_err stg_export_write(PGconn *db, const char *root, const struct stg_signer *signer,
    const struct stg_export_req *req, const json_t *holds, int fd, struct stg_export_progress *p,
    json_t **report, char *why, size_t whysize);

/*
 * stg_export_write() into a new file beside dest (dest.partXXXXXX, mode
 * 0640), synced, then renamed to dest, its folder synced: dest never names
 * half a bundle, and on failure nothing is left. *size (may be NULL) is
 * the bundle's size in bytes.
 */
nvr_err stg_export_to_file(PGconn *db, const char *root, const struct stg_signer *signer,
    const struct stg_export_req *req, const json_t *holds, const char *dest, struct stg_export_progress *p,
    uint64_t *size, json_t **report, char *why, size_t whysize);

#endif

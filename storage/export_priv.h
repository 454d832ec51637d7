/*
 * export_priv.h: what export.c (choosing), export_write.c (writing the
 * tar) and export_readme.c (the bundle's README.txt and verify.sh) share.
 * Not for other modules: they use export.h.
 */
#ifndef NVR_STG_EXPORT_PRIV_H
#define NVR_STG_EXPORT_PRIV_H

#include <limits.h>
#include <stdbool.h>

#include "storage/export.h"

/* One segment to export, as the index has it. */
struct xseg {
	char camera_id[NVR_UUID_STRLEN], camera[65];
	char stream_id[NVR_UUID_STRLEN], stream[16];
	char id[NVR_UUID_STRLEN], key_id[NVR_UUID_STRLEN];
	uint64_t seq, bytes;
	int64_t start_ns, end_ns; /* the index's time range (microseconds) */
	char path[512]; /* the .nvrseg file, relative to the storage root */
};

/* What an export holds: its segments, by camera (in the request's order),
 * stream name and seq, and the ids of the cameras named (NULL for one
 * that has none: removed meanwhile). Freed by stg_export_plan_free(). */
struct xplan {
	struct xseg *segs;
	size_t nsegs;
	char (*camera_ids)[NVR_UUID_STRLEN];
	bool *recording; /* by camera: recording when the segments were chosen */
};

nvr_err stg_export_select(PGconn *db, const struct stg_export_req *req, struct xplan *pl,
    char *why, size_t whysize);
void stg_export_plan_free(struct xplan *pl);

/* What the bundle will not hold of the range asked for, from the index
 * (storage/export_cover.c): a new JSON array of {camera, stream (null for a
 * camera with no segment), from, to, why}, in the plan's order, empty when
 * the segments cover the range; NULL when out of memory. Differences under
 * STG_EXPORT_SLACK_NS (the frame between two segments) are not shortfalls. */
#define STG_EXPORT_SLACK_NS 1000000000LL
json_t *stg_export_missing(const struct stg_export_req *req, const struct xplan *pl, int64_t created_ns);

/* The audit rows of the bundle: one column of JSON text a row. On NVR_OK
 * the caller PQclear()s *rows. */
nvr_err stg_export_audit(PGconn *db, const struct stg_export_req *req, const json_t *holds, PGresult **rows);

/* README.txt of a bundle: the export's facts, what it lacks (cover: a
 * paragraph of text), how to check it, and the text of verify.sh. cert is
 * the member that holds the signer's certificate ("certs/<sha256>.crt").
 * A new string the caller frees; NULL when out of memory. */
char *stg_export_readme(const struct stg_export_req *req, const char *id, const char *created, const char *recorder,
    const char *cert, const char *cover);

/* verify.sh of every bundle: static text, the same in every bundle. */
const char *stg_export_verify_sh(void);
/* Its text: storage/verify.sh, made into a C string at build time by
 * storage/embed-text.sh (storage/verify_sh.c, generated). */
extern const char stg_verify_sh_text[];

#endif

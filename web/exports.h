/*
 * exports.h: evidence export jobs of the API (POST /api/v1/exports). The
 * request handler checks the request, takes the holds and audits them and
 * the export (storage/export.h); a job thread then writes the bundle to
 * <storage root>/exports/<id>.tar and records how it ended in the exports
 * table (sql/0006_exports.sql). Progress of running jobs is kept here.
 */
#ifndef NVR_WEB_EXPORTS_H
#define NVR_WEB_EXPORTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "nvrd/config.h"
#include "nvrd/err.h"
#include "storage/export.h"
#include "storage/sign.h"
#include "web/audit.h"

#define WEB_EXPORTS_RUNNING_MAX 2 /* jobs at once: each reads and writes the disk flat out */
#define WEB_EXPORTS_DIR "exports" /* below the storage root */

struct web_exports;

/* A registry for cfg's storage root; removes half-written bundles a
 * previous run left (exports/<id>.tar.part*). signer and audit must
 * outlive it. */
nvr_err web_exports_new(const struct nvr_config *cfg, const struct stg_signer *signer, struct web_audit *audit,
    struct web_exports **out);

/* Cancels running jobs (their bundles are removed and their rows marked
 * failed), waits for them, frees. NULL is allowed. */
void web_exports_free(struct web_exports *x);

/* Starts writing the bundle of req (copied) whose holds (taken: the job
 * owns them) were taken and whose row exists. NVR_ERR_TOOBIG when
 * WEB_EXPORTS_RUNNING_MAX jobs run (the caller must then mark the row). */
nvr_err web_exports_start(struct web_exports *x, const struct stg_export_req *req, json_t *holds);

/* Whether job id (text) runs here, and its progress. */
bool web_exports_progress(struct web_exports *x, const char *id, uint64_t *done, uint64_t *total);

#endif

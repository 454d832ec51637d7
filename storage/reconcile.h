/*
 * reconcile.h: at start, before any camera, bring disk and index back in
 * step after a crash or a database outage. Each stream's newest day
 * folders are walked back to where everything is indexed:
 *  - a segment with no manifest (nvrd died while writing it) has its torn
 *    tail truncated at the last whole record, then gets its manifest,
 *    signature and index row, chained to the stream's last manifest;
 *  - a segment with a valid, signed manifest but no index row is indexed;
 *  - anything inconsistent (unreadable header, a manifest that does not
 *    match its segment, a segment of an unknown stream) is moved to
 *    <root>/quarantine/ with the same relative path.
 * Every action is logged, one line per segment.
 */
#ifndef NVR_STG_RECONCILE_H
#define NVR_STG_RECONCILE_H

#include <libpq-fe.h>

#include "nvrd/err.h"
#include "storage/index.h"
#include "storage/sign.h"
#include "storage/writer.h"

/* db is used for reads only; rows go through index; the writer's chains
 * are advanced past repaired segments. */
nvr_err stg_reconcile(const char *root, PGconn *db, struct stg_signer *signer, struct stg_index *index,
    struct stg_writer *writer);

#endif

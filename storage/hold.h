/*
 * hold.h: evidence holds (sql/0005_retention.sql): a camera's time range
 * that retention must not delete until an admin releases it. Used by
 * nvrctl hold and the API's /api/v1/holds; both audit the change.
 * A hold row is never deleted: releasing it stamps who and when.
 */
#ifndef NVR_STG_HOLD_H
#define NVR_STG_HOLD_H

#include <stdbool.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "nvrd/err.h"
#include "nvrd/uuid.h"

#define STG_HOLD_REASON_MAX 1024 /* bytes */

/* Holds a camera (by name, not removed) from from to to (timestamptz
 * text, from < to) for reason (1 to STG_HOLD_REASON_MAX bytes); by is who
 * (a user name or nvrctl:LOGIN). On NVR_OK *out is the new hold as
 * stg_hold_list shows it (the caller json_decref()s it). NVR_ERR_INVAL
 * with why set (a static string) for an unknown camera or a bad range. */
nvr_err stg_hold_add(PGconn *db, const char *camera, const char *from, const char *to, const char *reason,
    const char *by, json_t **out, const char **why);

/* Holds, newest first, as a new JSON array (the caller json_decref()s
 * it) of {id, camera, from, to, reason, created_by, created_at,
 * released_at, released_by}; with all, released ones too. */
nvr_err stg_hold_list(PGconn *db, bool all, json_t **out);

/* Releases an active hold; NVR_ERR_INVAL if there is no such active hold.
 * On NVR_OK *out (may be NULL) is the released hold (json_decref()). */
nvr_err stg_hold_release(PGconn *db, const char *id, const char *by, json_t **out);

#endif

/*
 * index.h: the index writer, one thread that owns a PostgreSQL connection
 * and writes what the recorder learns (streams, SRTP sessions and their
 * sealed keys, durable segments, camera status) in batched transactions.
 *
 * Callers never wait for the database: rows are queued (copied) and
 * written within about 200 ms. While PostgreSQL is unreachable rows stay
 * queued and are retried with backoff; segments whose rows are lost with
 * the process are indexed from their manifests at the next start (the
 * manifests on disk are the journal).
 */
#ifndef NVR_STG_INDEX_H
#define NVR_STG_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"
#include "nvrd/uuid.h"
#include "storage/manifest.h"

struct stg_index;

/* Starts the thread; conninfo is copied. *out is freed by stg_index_stop. */
nvr_err stg_index_start(const char *conninfo, int64_t connect_timeout_ms, struct stg_index **out);

/* Writes what is queued (waiting at most wait_ms for the database), then
 * stops the thread and frees everything. */
void stg_index_stop(struct stg_index *ix, int64_t wait_ms);

void stg_index_stream(struct stg_index *ix, const nvr_uuid *stream, const nvr_uuid *camera, const char *name,
    const char *codec, int clock_rate);

/* sealed: the JSON array of sealed objects (each names its key holder). */
void stg_index_session(struct stg_index *ix, const nvr_uuid *key, const nvr_uuid *stream, uint32_t ssrc,
    const char *suite, int64_t started_ns, const char *sealed);
void stg_index_session_end(struct stg_index *ix, const nvr_uuid *key, int64_t ended_ns);

/* A camera's segments changed: a counter per camera (shared by a few),
 * moved on by the index thread once a segment row is committed, and by
 * whatever else adds or removes segments (retention). A reader that took
 * the generation before reading the index and finds it unchanged later
 * knows its copy of the camera's listing is still exact. */
uint64_t stg_index_generation(const nvr_uuid *camera);
void stg_index_changed(const nvr_uuid *camera);

/* A durable segment: m is its manifest, path relative to the storage root,
 * manifest_sha256 the SHA-256 of the manifest file. */
void stg_index_segment(struct stg_index *ix, const struct stg_manifest *m, const char *path,
    const uint8_t manifest_sha256[32]);

/* The latest status of a camera; older queued statuses are replaced.
 * error and warning may be NULL (none). */
void stg_index_status(struct stg_index *ix, const nvr_uuid *camera, const char *state, const char *error,
    const char *warning, const int64_t counters[6]);

/* Rows waiting (for tests and statistics). */
size_t stg_index_pending(struct stg_index *ix);

#endif

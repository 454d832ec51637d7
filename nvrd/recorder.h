/*
 * recorder.h: what nvrd runs once its schema is in place: the index and
 * writer threads, the ingest workers and their cameras, kept in step with
 * the database (LISTEN nvr_config, and a periodic re-read), camera status
 * and statistics. Driven by nvrd's main loop.
 */
#ifndef NVR_RECORDER_H
#define NVR_RECORDER_H

#include <stdint.h>

#include "nvrd/config.h"
#include "nvrd/err.h"
#include "storage/secret.h"
#include "storage/sign.h"

struct nvr_recorder;

/* Starts everything; cfg must outlive the recorder. Failures are logged;
 * NVR_ERR_CONFIG for what an operator must fix (keys, storage). */
nvr_err nvr_recorder_start(const struct nvr_config *cfg, struct nvr_recorder **out);

/* The recorder secret and signing key, for the API (owned by r). */
const struct stg_secret *nvr_recorder_secret(const struct nvr_recorder *r);
const struct stg_signer *nvr_recorder_signer(const struct nvr_recorder *r);

/* The socket to poll for notifications (-1 while disconnected). */
int nvr_recorder_fd(const struct nvr_recorder *r);

/* Writes [nvrd] stats_file now (also done every 5 s and at stop): the
 * process's CPU time and RSS and the ingest counters of storage/stats.h,
 * as one JSON object. Nothing when no stats_file is set or r is NULL. */
void nvr_recorder_write_stats(const struct nvr_recorder *r);

/* Handles notifications and periodic work; returns the milliseconds until
 * it wants to be called again. */
int64_t nvr_recorder_poll(struct nvr_recorder *r, int64_t now_ms);

/* Stops the cameras (TEARDOWN, segments closed and signed), the writers
 * and the index, writes final statistics, frees. */
void nvr_recorder_stop(struct nvr_recorder *r);

#endif

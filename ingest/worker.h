/*
 * worker.h: ingest worker threads. Each is one epoll loop over many
 * cameras (non-blocking sockets, OpenSSL); the recorder hands cameras to
 * the least loaded one. A 100 ms tick drives timeouts, keep-alives,
 * reconnects and the storage sync interval.
 */
#ifndef NVR_ING_WORKER_H
#define NVR_ING_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/camera.h"
#include "nvrd/err.h"

struct ing_worker;

/* Starts a worker thread; sync_interval_ms is storage's sync tick. */
nvr_err ing_worker_start(int64_t sync_interval_ms, struct ing_worker **out);

/* Hands over a camera (the worker owns and starts it). Thread-safe. */
void ing_worker_add(struct ing_worker *w, struct ing_camera *c);

/* Stops and frees the camera with that id, if the worker has it.
 * Thread-safe; returns at once (the camera stops on the worker thread). */
void ing_worker_remove(struct ing_worker *w, const nvr_uuid *id);

/* Cameras this worker runs (for placement). Thread-safe. */
size_t ing_worker_load(struct ing_worker *w);

/* Ends every camera's session (TEARDOWN, segments closed), stops the
 * thread and frees the worker. */
void ing_worker_stop(struct ing_worker *w);

/* For cameras, on the worker thread: epoll interest in fd, whose events
 * come back to ing_camera_io() with that watch (which must outlive the
 * interest). */
nvr_err ing_worker_watch(struct ing_worker *w, int fd, bool want_write, struct ing_watch *watch);
void ing_worker_unwatch(struct ing_worker *w, int fd);
/* A camera of this worker has buffered input to read (see
 * ing_camera_again); worker thread only. */
void ing_worker_again(struct ing_worker *w);

#endif

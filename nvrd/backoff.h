/*
 * backoff.h: capped exponential backoff with jitter, for every retry loop
 * (database connection, camera reconnects), so that many clients that fail
 * together do not retry together.
 */
#ifndef NVR_BACKOFF_H
#define NVR_BACKOFF_H

#include <stdint.h>

struct nvr_backoff {
	int64_t base_ms; /* first delay, before jitter */
	int64_t cap_ms;  /* no delay exceeds this */
	int64_t next_ms; /* un-jittered delay of the next call */
};

void nvr_backoff_init(struct nvr_backoff *b, int64_t base_ms, int64_t cap_ms);

/* The delay to wait now, in [d/2, d] where d doubles per call up to cap. */
int64_t nvr_backoff_next(struct nvr_backoff *b);

/* After a success: the next failure waits base_ms again. */
void nvr_backoff_reset(struct nvr_backoff *b);

#endif

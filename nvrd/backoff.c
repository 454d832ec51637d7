/*
 * backoff.c: "equal jitter" backoff: half the delay is fixed, half random,
 * so that a retry never comes too early and retries spread out.
 */
#include "autoconfig.h"

#include <openssl/rand.h>

#include "nvrd/backoff.h"

void
nvr_backoff_init(struct nvr_backoff *b, int64_t base_ms, int64_t cap_ms)
{
	b->base_ms = base_ms > 0 ? base_ms : 1;
	b->cap_ms = cap_ms > b->base_ms ? cap_ms : b->base_ms;
	b->next_ms = b->base_ms;
}

int64_t
nvr_backoff_next(struct nvr_backoff *b)
{
	int64_t d = b->next_ms, half = d / 2;
	uint32_t r = 0;

	/* Jitter needs no secrecy, but RAND_bytes is what we link anyway; if it
	 * fails the delay is simply not jittered. */
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = 0;
	b->next_ms = d > b->cap_ms / 2 ? b->cap_ms : d * 2;
	return d - half + (half > 0 ? (int64_t)(r % (uint64_t)(half + 1)) : 0);
}

void
nvr_backoff_reset(struct nvr_backoff *b)
{
	b->next_ms = b->base_ms;
}

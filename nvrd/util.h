/*
 * util.h: small helpers every module uses. Header-only and side-effect free.
 */
#ifndef NVR_UTIL_H
#define NVR_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Frees and forgets: a freed pointer is never left dangling. */
#define NVR_FREE(p)                                                        \
	do {                                                               \
		free(p);                                                   \
		(p) = NULL;                                                \
	} while (0)

#define NVR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Milliseconds on the monotonic clock: for timeouts, never for records. */
static inline int64_t
nvr_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Microseconds on the monotonic clock. */
static inline int64_t
nvr_monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif

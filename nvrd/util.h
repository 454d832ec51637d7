/*
 * util.h: small helpers every module uses. Header-only and side-effect free.
 */
#ifndef NVR_UTIL_H
#define NVR_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Frees and forgets: a freed pointer is never left dangling. */
#define NVR_FREE(p)                                                        \
	do {                                                               \
		free(p);                                                   \
		(p) = NULL;                                                \
	} while (0)

#define NVR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A macro's value as a string literal, e.g. a bound inside SQL text. */
#define NVR_STR_(x) #x
#define NVR_STR(x) NVR_STR_(x)

/* Strips blanks (space, tab, and the CR of a CRLF line) from both ends of
 * s, in place; returns the first character kept. */
static inline char *
nvr_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Parses the decimal integer at the start of s (a '-' only if min < 0):
 * true if there is one, it fits in [min, max], and *end (if not NULL) then
 * points past it. Unlike atoi or sscanf, an overflow is an error. */
static inline bool
nvr_parse_num(const char *s, const char **end, long min, long max, long *out)
{
	char *e;
	long v;

	if (!((*s >= '0' && *s <= '9') || (*s == '-' && min < 0 && s[1] >= '0' && s[1] <= '9')))
		return false;
	errno = 0;
	v = strtol(s, &e, 10);
	if (errno != 0 || v < min || v > max)
		return false;
	if (end != NULL)
		*end = e;
	*out = v;
	return true;
}

/* Whether the n bytes at p are all zero (padding, end blocks). */
static inline bool
nvr_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

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

/*
 * common.h: what the bench programs share: clocks, number parsing and the
 * password file. Nothing here logs a secret.
 */
#ifndef NVR_BENCH_COMMON_H
#define NVR_BENCH_COMMON_H

#include <stdint.h>

#include "nvrd/err.h"

/* Nanoseconds on the monotonic clock. */
int64_t bench_mono_ns(void);

/* Parses a decimal unsigned number in [min, max], with nothing around it. */
nvr_err bench_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Parses a decimal fraction in [min, max] ("1.5"). */
nvr_err bench_parse_double(const char *s, double min, double max, double *out);

/* Reads the first line of path (the password of a Digest user): it never
 * appears on a command line, where `ps` would show it. The caller wipes
 * and frees *out with bench_free_secret(). Logs why on failure. */
nvr_err bench_read_password(const char *path, char **out);
void bench_free_secret(char *s);

#endif

/*
 * common.c: clocks, number parsing and the password file for the bench
 * programs.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bench/common.h"
#include "nvrd/log.h"

#define BENCH_MAX_PASSWORD 256

int64_t
bench_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

nvr_err
bench_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return NVR_ERR_INVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return NVR_ERR_INVAL;
	*out = v;
	return NVR_OK;
}

nvr_err
bench_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
		return NVR_ERR_INVAL;
	*out = v;
	return NVR_OK;
}

nvr_err
bench_read_password(const char *path, char **out)
{
	nvr_err rc = NVR_OK;
	char line[BENCH_MAX_PASSWORD + 2];
	FILE *f = fopen(path, "r");

	*out = NULL;
	if (f == NULL) {
		nvr_log_ex(NVR_LOG_ERROR, strerror(errno), NULL, "cannot open password file %s", path);
		return NVR_ERR_IO;
	}
	if (fgets(line, sizeof(line), f) == NULL) {
		nvr_log(NVR_LOG_ERROR, "password file %s is empty", path);
		rc = NVR_ERR_INVAL;
		goto out;
	}
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '\0' || strlen(line) > BENCH_MAX_PASSWORD) {
		nvr_log(NVR_LOG_ERROR, "password file %s: the first line must hold 1 to %d characters",
		    path, BENCH_MAX_PASSWORD);
		rc = NVR_ERR_INVAL;
		goto out;
	}
	if ((*out = strdup(line)) == NULL)
		rc = NVR_ERR_NOMEM;
out:
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return rc;
}

void
bench_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

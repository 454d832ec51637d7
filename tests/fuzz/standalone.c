/*
 * standalone.c: runs a fuzz target over files, for builds without libFuzzer.
 * `make check` uses it to replay every corpus and regression input with the
 * compiler at hand (and under ASan with --enable-sanitizers), so a crash
 * found once stays fixed.
 * Usage: replay_X FILE-OR-DIR...
 */
#include "autoconfig.h"

#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are not replayed: the targets bound their input. */
#define REPLAY_MAX_INPUT ((size_t)4 << 20)

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (f == NULL) {
		perror(path);
		return 1;
	}
	buf = malloc(REPLAY_MAX_INPUT);
	if (buf == NULL) {
		fclose(f);
		return 1;
	}
	n = fread(buf, 1, REPLAY_MAX_INPUT, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

/* A file, or every file directly inside a folder (corpora are flat). */
static int
run_path(const char *path, unsigned *count)
{
	struct stat st;
	struct dirent *e;
	char sub[PATH_MAX];
	DIR *d;
	int rc = 0;

	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	if ((d = opendir(path)) == NULL) {
		perror(path);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (e->d_name[0] == '.' || stat(sub, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		(*count)++;
		rc |= run_file(sub);
	}
	closedir(d);
	return rc;
}

int
main(int argc, char **argv)
{
	unsigned count = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++)
		rc |= run_path(argv[i], &count);
	printf("%s: %u inputs replayed\n", argv[0], count);
	return rc;
}

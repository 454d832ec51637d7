/*
 * files.c: file-tree helpers for tests (files.h), on nftw(3).
 */
#include "autoconfig.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/files.h"

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
harness_rm_rf(const char *path)
{
	ck_assert_msg(nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "cannot remove %s", path);
}

/* nftw has no context argument: one search at a time (tests are forked or
 * run one after another). */
static struct {
	const char *suffix;
	char (*paths)[512];
	int max, n;
} found;

static int
match_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t len = strlen(path), sl = strlen(found.suffix);

	(void)st;
	(void)ftw;
	if (flag == FTW_F && len >= sl && strcmp(path + len - sl, found.suffix) == 0) {
		if (found.n < found.max)
			snprintf(found.paths[found.n], 512, "%s", path);
		found.n++;
	}
	return 0;
}

static int
cmp_path(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
harness_find(const char *root, const char *suffix, char (*paths)[512], int max)
{
	found.suffix = suffix;
	found.paths = paths;
	found.max = max;
	found.n = 0;
	ck_assert_int_eq(nftw(root, match_one, 16, FTW_PHYS), 0);
	qsort(paths, (size_t)(found.n < max ? found.n : max), 512, cmp_path);
	return found.n;
}

/*
 * files.h: file-tree helpers for tests (no shell, no system()).
 */
#ifndef NVR_TEST_FILES_H
#define NVR_TEST_FILES_H

#include <stddef.h>

/* rm -rf path; fails the test if anything cannot be removed. */
void harness_rm_rf(const char *path);

/* The paths under root whose names end with suffix, sorted, into paths
 * (max of them, each of size bytes); returns how many there are. */
int harness_find(const char *root, const char *suffix, char (*paths)[512], int max);

#endif

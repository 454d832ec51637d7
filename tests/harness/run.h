/*
 * run.h: the one main() every Check suite needs.
 */
#ifndef NVR_TEST_RUN_H
#define NVR_TEST_RUN_H

#include <check.h>

/* Runs the suite (taking ownership of it) and returns the exit status for
 * main(): EXIT_SUCCESS when every test passed. */
int harness_run(Suite *s);

#endif

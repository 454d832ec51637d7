/*
 * run.c: runs a Check suite with Check's defaults (forked tests, timeouts
 * from CK_DEFAULT_TIMEOUT) and turns the result into an exit status.
 */
#include "autoconfig.h"

#include <stdlib.h>

#include "tests/harness/run.h"

int
harness_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

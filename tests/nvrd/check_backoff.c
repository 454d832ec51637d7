/*
 * check_backoff.c: retry delays grow, stay jittered within bounds, cap, reset.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdlib.h>

#include "nvrd/backoff.h"
#include "tests/harness/run.h"

START_TEST(grows_within_bounds_and_caps)
{
	struct nvr_backoff b;
	int64_t want = 1000, d;

	nvr_backoff_init(&b, 1000, 30000);
	for (int i = 0; i < 12; i++) {
		d = nvr_backoff_next(&b);
		ck_assert_int_ge(d, want / 2);
		ck_assert_int_le(d, want);
		want = want * 2 > 30000 ? 30000 : want * 2;
	}
	ck_assert_int_eq(b.next_ms, 30000);
	nvr_backoff_reset(&b);
	d = nvr_backoff_next(&b);
	ck_assert_int_ge(d, 500);
	ck_assert_int_le(d, 1000);
}
END_TEST

START_TEST(jitter_spreads_retries)
{
	struct nvr_backoff b;
	int64_t first, seen_other = 0;

	/* 20 clients failing together must not all retry at the same moment. */
	nvr_backoff_init(&b, 10000, 10000);
	first = nvr_backoff_next(&b);
	for (int i = 0; i < 20; i++) {
		if (nvr_backoff_next(&b) != first)
			seen_other = 1;
	}
	ck_assert(seen_other);
}
END_TEST

START_TEST(degenerate_arguments)
{
	struct nvr_backoff b;

	nvr_backoff_init(&b, 0, -5);
	ck_assert_int_eq(b.base_ms, 1);
	ck_assert_int_eq(b.cap_ms, 1);
	ck_assert_int_le(nvr_backoff_next(&b), 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("delays");

	tcase_add_test(tc, grows_within_bounds_and_caps);
	tcase_add_test(tc, jitter_spreads_retries);
	tcase_add_test(tc, degenerate_arguments);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

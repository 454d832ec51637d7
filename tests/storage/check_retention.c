/*
 * check_retention.c: how much a high-water pass frees (the arithmetic
 * beside statvfs; the passes themselves run against a real PostgreSQL and
 * filesystem in tests/integration/retention.test).
 */
#include "autoconfig.h"

#include <check.h>
#include <stdint.h>

#include "storage/retention.h"
#include "tests/harness/run.h"

START_TEST(nothing_at_or_below_high_water)
{
	ck_assert_uint_eq(stg_retention_excess(0, 0, 90, 85), 0);         /* no filesystem size */
	ck_assert_uint_eq(stg_retention_excess(50, 50, 90, 85), 0);
	ck_assert_uint_eq(stg_retention_excess(90, 10, 90, 85), 0);       /* exactly at the mark */
}
END_TEST

START_TEST(frees_down_to_low_water)
{
	ck_assert_uint_eq(stg_retention_excess(91, 9, 90, 85), 6);        /* 91 used of 100: to 85 */
	ck_assert_uint_eq(stg_retention_excess(100, 0, 90, 85), 15);
	ck_assert_uint_eq(stg_retention_excess(95, 5, 90, 90), 5);        /* low = high */
	/* df's count: reserved blocks are neither used nor available */
	ck_assert_uint_eq(stg_retention_excess(950, 50, 90, 80), 150);
}
END_TEST

START_TEST(large_filesystems_do_not_overflow)
{
	uint64_t tib = (uint64_t)1 << 40;

	/* 100 TiB at 95%: 10 TiB to go below 85% */
	ck_assert_uint_eq(stg_retention_excess(95 * tib, 5 * tib, 90, 85), 10 * tib);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("retention");
	TCase *tc = tcase_create("excess");

	tcase_add_test(tc, nothing_at_or_below_high_water);
	tcase_add_test(tc, frees_down_to_low_water);
	tcase_add_test(tc, large_filesystems_do_not_overflow);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

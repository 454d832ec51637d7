/*
 * check_manifest.c: the times of manifests, folders and requests
 * (storage/manifest.c, stg_seg_dir in storage/segment.c) on the days where
 * calendars go wrong: the turn of a year, leap days and the days that do
 * not exist, one-digit days and months, and a local time zone far from UTC,
 * which none of them may follow.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "storage/manifest.h"
#include "storage/segment.h"
#include "tests/harness/run.h"

#define S 1000000000LL

/* Seconds since 1970 of a UTC calendar time, as `date -u -d ... +%s` says. */
static const struct {
	const char *text;
	int64_t secs;
} known[] = {
	{ "1970-01-01T00:00:00.000000Z", 0 },
	{ "2026-12-07T00:00:00.000000Z", 1796601600 },
	{ "2026-12-31T23:59:59.999999Z", 1798761599 },
	{ "2027-01-01T00:00:00.000000Z", 1798761600 },
	{ "2027-03-01T00:00:05.000000Z", 1803859205 },
	{ "2028-02-29T06:00:00.000000Z", 1835416800 },
	{ "2000-02-29T12:00:00.000000Z", 951825600 },
};

START_TEST(format_and_parse_agree)
{
	char out[32];
	int64_t ns, want = known[_i].secs * S + (strstr(known[_i].text, ".999999") != NULL ? 999999000 : 0);

	ck_assert_int_eq(stg_time_parse(known[_i].text, &ns), NVR_OK);
	ck_assert_int_eq(ns, want);
	stg_time_format(ns, out);
	ck_assert_str_eq(out, known[_i].text);
}
END_TEST

START_TEST(days_that_do_not_exist)
{
	static const char *const bad[] = {
		"2027-02-29T00:00:00.000000Z", /* 2027 is no leap year: not 1 March */
		"2100-02-29T00:00:00.000000Z", /* nor is 2100 (a century) */
		"2026-04-31T00:00:00.000000Z", "2026-06-31T12:00:00.000000Z", "2026-11-31T00:00:00.000000Z",
		"2026-12-32T00:00:00.000000Z", "2026-13-01T00:00:00.000000Z", "2026-00-10T00:00:00.000000Z",
		"2026-12-00T00:00:00.000000Z", "2026-12-07T24:00:00.000000Z", "2026-12-7T00:00:00.0000000Z",
	};
	int64_t ns;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(stg_time_parse(bad[i], &ns) == NVR_ERR_INVAL, "%s was taken", bad[i]);
	ck_assert_int_eq(stg_time_parse("2000-02-29T00:00:00.000000Z", &ns), NVR_OK); /* 400 years: leap */
	ck_assert_int_eq(stg_time_parse("2028-02-29T23:59:59.999999Z", &ns), NVR_OK);
}
END_TEST

START_TEST(utc_times_as_people_write_them)
{
	int64_t ns;

	ck_assert_int_eq(stg_time_parse_utc("2027-01-01T00:00:00Z", &ns), NVR_OK);
	ck_assert_int_eq(ns, 1798761600 * S);
	ck_assert_int_eq(stg_time_parse_utc("2027-01-01T00:00:00.5Z", &ns), NVR_OK);
	ck_assert_int_eq(ns, 1798761600 * S + 500000000);
	ck_assert_int_eq(stg_time_parse_utc("2026-12-31T23:59:59.123456Z", &ns), NVR_OK);
	ck_assert_int_eq(ns, 1798761599 * S + 123456000);
	/* no zone, another zone, a lone dot, a 7th digit, a date alone, words */
	static const char *const bad[] = {
		"2027-01-01T00:00:00", "2027-01-01T00:00:00+00:00", "2027-01-01T01:00:00+01:00",
		"2027-01-01T00:00:00.Z", "2027-01-01T00:00:00.1234567Z", "2027-01-01", "2027-01-01 00:00:00Z",
		"yesterday", "", "2027-02-29T00:00:00Z", "2027-01-01T00:00:00.12a4Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(stg_time_parse_utc(bad[i], &ns) == NVR_ERR_INVAL, "'%s' was taken", bad[i]);
}
END_TEST

/* The day folder of a segment is the UTC day of its start, whatever the
 * local time zone: in Chatham (+13:45) it is already 1 January at 10:15
 * UTC on 31 December. */
START_TEST(day_folders_are_utc_days)
{
	static const struct {
		int64_t ns;
		const char *dir;
	} cases[] = {
		{ 1798761599 * S + 999999999, "/r/00000000-0000-4000-8000-000000000001/video/2026/12/31" },
		{ 1798761600 * S, "/r/00000000-0000-4000-8000-000000000001/video/2027/01/01" },
		{ 1803859205 * S, "/r/00000000-0000-4000-8000-000000000001/video/2027/03/01" },
		{ 1835416800 * S, "/r/00000000-0000-4000-8000-000000000001/video/2028/02/29" },
		{ 1798712100 * S, "/r/00000000-0000-4000-8000-000000000001/video/2026/12/31" },
	};
	nvr_uuid cam;
	char dir[256];

	ck_assert_int_eq(nvr_uuid_parse("00000000-0000-4000-8000-000000000001", &cam), NVR_OK);
	setenv("TZ", "Pacific/Chatham", 1);
	tzset();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(stg_seg_dir("/r", &cam, "video", cases[i].ns, dir, sizeof(dir)), NVR_OK);
		ck_assert_str_eq(dir, cases[i].dir);
	}
	unsetenv("TZ");
	tzset();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("times");

	tcase_add_loop_test(tc, format_and_parse_agree, 0, sizeof(known) / sizeof(known[0]));
	tcase_add_test(tc, days_that_do_not_exist);
	tcase_add_test(tc, utc_times_as_people_write_them);
	tcase_add_test(tc, day_folders_are_utc_days);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

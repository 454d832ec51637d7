/*
 * check_uuid.c: UUIDs as files and rows name them: random ones are version
 * 4 and differ; name-based ones (streams) match RFC 9562's own example and
 * come out the same for the same camera and name, different otherwise.
 */
#include "autoconfig.h"

#include <check.h>
#include <string.h>

#include "nvrd/uuid.h"
#include "tests/harness/run.h"

START_TEST(random_v4)
{
	nvr_uuid a, b;
	char s[NVR_UUID_STRLEN];

	ck_assert_int_eq(nvr_uuid_new(&a), NVR_OK);
	ck_assert_int_eq(nvr_uuid_new(&b), NVR_OK);
	ck_assert_mem_ne(a.b, b.b, 16);
	nvr_uuid_format(&a, s);
	ck_assert_int_eq(strlen(s), 36);
	ck_assert_int_eq(s[14], '4');
	ck_assert(strchr("89ab", s[19]) != NULL);
	ck_assert_int_eq(nvr_uuid_parse(s, &b), NVR_OK);
	ck_assert_mem_eq(a.b, b.b, 16);
	ck_assert_int_eq(nvr_uuid_parse("not-a-uuid", &b), NVR_ERR_INVAL);
	ck_assert(!nvr_uuid_is_nil(&a));
}
END_TEST

START_TEST(name_based_v5)
{
	nvr_uuid dns, u, cam, s1, s2, s3;
	char s[NVR_UUID_STRLEN];

	/* RFC 9562 A.4: the DNS namespace and "www.example.com" */
	ck_assert_int_eq(nvr_uuid_parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8", &dns), NVR_OK);
	ck_assert_int_eq(nvr_uuid_name(&dns, "www.example.com", &u), NVR_OK);
	nvr_uuid_format(&u, s);
	ck_assert_str_eq(s, "2ed6657d-e927-568b-95e1-2665a8aea6a2");
	/* a camera's stream: stable, and distinct by name and by camera */
	ck_assert_int_eq(nvr_uuid_new(&cam), NVR_OK);
	ck_assert_int_eq(nvr_uuid_name(&cam, "video", &s1), NVR_OK);
	ck_assert_int_eq(nvr_uuid_name(&cam, "video", &s2), NVR_OK);
	ck_assert_mem_eq(s1.b, s2.b, 16);
	ck_assert_int_eq(nvr_uuid_name(&cam, "audio", &s3), NVR_OK);
	ck_assert_mem_ne(s1.b, s3.b, 16);
	ck_assert_int_eq(nvr_uuid_name(&dns, "video", &s3), NVR_OK);
	ck_assert_mem_ne(s1.b, s3.b, 16);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("uuid");
	TCase *tc = tcase_create("uuid");

	tcase_add_test(tc, random_v4);
	tcase_add_test(tc, name_based_v5);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

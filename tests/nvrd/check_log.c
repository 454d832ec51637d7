/*
 * check_log.c: log record formatting, escaping, truncation and levels.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvrd/log.h"
#include "tests/harness/run.h"

static char line[NVR_LOG_MAX_LINE + 8];

static const char *
fmt(enum nvr_log_level lvl, const char *detail, const char *hint, const char *f, ...)
    NVR_PRINTF(4, 5);

static const char *
fmt(enum nvr_log_level lvl, const char *detail, const char *hint, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	nvr_log_format(line, sizeof(line), lvl, detail, hint, f, ap);
	va_end(ap);
	return line;
}

START_TEST(plain_record)
{
	unsetenv("JOURNAL_STREAM");
	nvr_log_init("/usr/sbin/nvrd");
	fmt(NVR_LOG_WARNING, NULL, NULL, "camera %s: %d", "cam3", 7);
	ck_assert_ptr_nonnull(strstr(line, " nvrd["));
	ck_assert_ptr_nonnull(strstr(line, "] warning: camera cam3: 7"));
	ck_assert_ptr_null(strchr(line, '\n'));
	ck_assert_int_eq(line[4], '-'); /* starts with the date */
}
END_TEST

START_TEST(detail_and_hint)
{
	fmt(NVR_LOG_ERROR, "issuer CN=x", "add its CA", "camera %s: TLS certificate not trusted", "cam3");
	ck_assert_ptr_nonnull(strstr(line, "error: camera cam3: TLS certificate not trusted; detail: issuer CN=x; hint: add its CA"));
}
END_TEST

START_TEST(control_characters_escaped)
{
	/* A camera's "Server:" header cannot forge a second log record. */
	fmt(NVR_LOG_INFO, "a\rb", NULL, "server says %s", "evil\n2026-01-01 nvrd[1] error: forged\x1b[31m");
	ck_assert_ptr_null(strchr(line, '\n'));
	ck_assert_ptr_null(strchr(line, '\r'));
	ck_assert_ptr_null(strchr(line, '\x1b'));
	ck_assert_ptr_nonnull(strstr(line, "evil\\x0a2026"));
	ck_assert_ptr_nonnull(strstr(line, "\\x1b[31m"));
	ck_assert_ptr_nonnull(strstr(line, "a\\x0db"));
}
END_TEST

START_TEST(long_message_truncated_visibly)
{
	char *big = malloc(10000);

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	fmt(NVR_LOG_INFO, NULL, NULL, "%s", big);
	ck_assert_uint_le(strlen(line), sizeof(line) - 1);
	ck_assert_str_eq(line + strlen(line) - 3, "...");
	fmt(NVR_LOG_INFO, big, big, "short");
	ck_assert_str_eq(line + strlen(line) - 3, "...");
	free(big);
}
END_TEST

START_TEST(journald_prefix)
{
	struct stat st;
	char js[64];

	setenv("JOURNAL_STREAM", "1:1", 1); /* not our stderr: ignored */
	nvr_log_init("nvrd");
	fmt(NVR_LOG_ERROR, NULL, NULL, "x");
	ck_assert_int_ne(line[0], '<');

	/* stderr is the journal's stream: syslog priority, no timestamp */
	ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	nvr_log_init("nvrd");
	fmt(NVR_LOG_ERROR, NULL, NULL, "x");
	ck_assert_str_eq(line, "<3>x");
	fmt(NVR_LOG_DEBUG, NULL, NULL, "y");
	ck_assert_str_eq(line, "<7>y");
	unsetenv("JOURNAL_STREAM");
	nvr_log_init("nvrd");
}
END_TEST

START_TEST(levels)
{
	enum nvr_log_level l;

	ck_assert_int_eq(nvr_log_level_parse("notice", &l), NVR_OK);
	ck_assert_int_eq(l, NVR_LOG_NOTICE);
	ck_assert_int_eq(nvr_log_level_parse("NOTICE", &l), NVR_ERR_INVAL);
	ck_assert_int_eq(nvr_log_level_parse("trace", &l), NVR_ERR_INVAL);
	ck_assert_str_eq(nvr_log_level_name(NVR_LOG_DEBUG), "debug");
	nvr_log_set_level(NVR_LOG_WARNING);
	ck_assert(nvr_log_enabled(NVR_LOG_ERROR));
	ck_assert(nvr_log_enabled(NVR_LOG_WARNING));
	ck_assert(!nvr_log_enabled(NVR_LOG_INFO));
	ck_assert_int_eq(nvr_log_get_level(), NVR_LOG_WARNING);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, plain_record);
	tcase_add_test(tc, detail_and_hint);
	tcase_add_test(tc, control_characters_escaped);
	tcase_add_test(tc, long_message_truncated_visibly);
	tcase_add_test(tc, journald_prefix);
	tcase_add_test(tc, levels);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

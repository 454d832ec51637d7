/*
 * check_config.c: the nvrd.conf parser, with well-formed and malformed input.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvrd/config.h"
#include "tests/harness/run.h"

static struct nvr_config *cfg;
static struct nvr_config_errors errs;

static void
teardown(void)
{
	nvr_config_free(cfg);
	cfg = NULL;
	nvr_config_errors_free(&errs);
}

static nvr_err
parse(const char *text)
{
	nvr_config_free(cfg);
	cfg = NULL;
	nvr_config_errors_free(&errs);
	return nvr_config_parse("test.conf", text, strlen(text), &cfg, &errs);
}

/* Asserts that some error is on `line` and mentions `needle`. */
static void
assert_error(unsigned line, const char *needle)
{
	for (size_t i = 0; i < errs.n; i++) {
		if (errs.v[i].line == line && strstr(errs.v[i].msg, needle) != NULL) {
			ck_assert_str_eq(errs.v[i].file, "test.conf");
			return;
		}
	}
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "  error %zu: line %u: %s\n", i, errs.v[i].line, errs.v[i].msg);
	ck_abort_msg("no error on line %u mentioning '%s'", line, needle);
}

START_TEST(defaults)
{
	ck_assert_int_eq(nvr_config_defaults(&cfg), NVR_OK);
	ck_assert_int_eq(cfg->log_level, NVR_LOG_INFO);
	ck_assert_str_eq(cfg->db_conninfo, "dbname=nvr");
	ck_assert_int_eq(cfg->db_connect_timeout_ms, 10000);
	ck_assert_str_eq(cfg->storage_root, "/var/lib/nvrd/storage");
}
END_TEST

START_TEST(empty_file_gives_defaults)
{
	ck_assert_int_eq(parse(""), NVR_OK);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_str_eq(cfg->storage_root, "/var/lib/nvrd/storage");
}
END_TEST

START_TEST(full_file)
{
	const char *text =
	    "# a comment\r\n"
	    "; another comment\n"
	    "\n"
	    "[nvrd]\n"
	    "  log_level   =   debug  \n"
	    "[ database ]\n"
	    "conninfo = \"host=/run/postgresql dbname=nvr application_name=\\\"x\\\\y\\\"\"\n"
	    "connect_timeout = 1500ms\n"
	    "[storage]\n"
	    "root=/srv/nvr\n";

	ck_assert_int_eq(parse(text), NVR_OK);
	ck_assert_int_eq(cfg->log_level, NVR_LOG_DEBUG);
	ck_assert_str_eq(cfg->db_conninfo, "host=/run/postgresql dbname=nvr application_name=\"x\\y\"");
	ck_assert_int_eq(cfg->db_connect_timeout_ms, 1500);
	ck_assert_str_eq(cfg->storage_root, "/srv/nvr");
}
END_TEST

START_TEST(last_line_without_newline)
{
	ck_assert_int_eq(parse("[storage]\nroot = /x"), NVR_OK);
	ck_assert_str_eq(cfg->storage_root, "/x");
}
END_TEST

START_TEST(every_error_with_its_line)
{
	const char *text =
	    "orphan = 1\n"                 /* 1: outside a section */
	    "[nvrd]\n"
	    "log_levle = info\n"           /* 3: unknown key, suggestion */
	    "log_level = loud\n"           /* 4: bad enum */
	    "[databse]\n"                  /* 5: unknown section */
	    "conninfo = ignored\n"         /* 6: skipped silently */
	    "[database]\n"
	    "connect_timeout = 10\n"       /* 8: duration without unit */
	    "connect_timeout = 10s\n"      /* 9: duplicate */
	    "just some words\n"            /* 10: no '=' */
	    "[storage\n"                   /* 11: malformed header */
	    "[storage]\n"
	    "root = relative/path\n";      /* 13: not absolute */

	ck_assert_int_eq(parse(text), NVR_ERR_CONFIG);
	ck_assert_ptr_null(cfg);
	assert_error(1, "outside any [section]");
	assert_error(3, "did you mean 'log_level'");
	assert_error(4, "expected error, warning, notice, info or debug");
	assert_error(4, "'loud'");
	assert_error(5, "did you mean [database]");
	assert_error(8, "duration with a unit");
	assert_error(9, "first set on line 8");
	assert_error(10, "expected 'key = value'");
	assert_error(11, "malformed section header");
	assert_error(13, "absolute path");
	ck_assert_uint_eq(errs.n, 9); /* one per bad line */
}
END_TEST

START_TEST(quoting_errors)
{
	ck_assert_int_eq(parse("[storage]\nroot = \"/x\n"), NVR_ERR_CONFIG);
	assert_error(2, "no closing quote");
	ck_assert_int_eq(parse("[storage]\nroot = \"/x\" trailing\n"), NVR_ERR_CONFIG);
	assert_error(2, "text after the closing quote");
	ck_assert_int_eq(parse("[storage]\nroot = \"/x\\n\"\n"), NVR_ERR_CONFIG);
	assert_error(2, "unknown escape");
}
END_TEST

START_TEST(secret_value_never_echoed)
{
	ck_assert_int_eq(parse("[database]\nconninfo = \"password=hunter2\n"), NVR_ERR_CONFIG);
	assert_error(2, "no closing quote");
	for (size_t i = 0; i < errs.n; i++)
		ck_assert_ptr_null(strstr(errs.v[i].msg, "hunter2"));
}
END_TEST

START_TEST(secret_hidden_in_print)
{
	char buf[4096] = { 0 };
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	ck_assert_int_eq(parse("[database]\nconninfo = password=hunter2\n"), NVR_OK);
	nvr_config_print(cfg, f);
	fclose(f);
	ck_assert_ptr_null(strstr(buf, "hunter2"));
	ck_assert_ptr_nonnull(strstr(buf, "conninfo = (secret)"));
	ck_assert_ptr_nonnull(strstr(buf, "connect_timeout = 10s"));
}
END_TEST

START_TEST(bounds)
{
	char *big;
	size_t n = NVR_CONFIG_MAX_LINE + 10;

	big = malloc(n + 32);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "[storage]\nroot = /", 18);
	memset(big + 18, 'a', n);
	big[18 + n] = '\0';
	ck_assert_int_eq(parse(big), NVR_ERR_CONFIG);
	assert_error(2, "longer than 4096 bytes");
	free(big);

	ck_assert_int_eq(nvr_config_parse("test.conf", "[storage]\nro\0ot = /x\n", 20, &cfg, &errs), NVR_ERR_CONFIG);
	assert_error(2, "NUL byte");

	big = calloc(1, NVR_CONFIG_MAX_FILE + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, '\n', NVR_CONFIG_MAX_FILE + 1);
	ck_assert_int_eq(parse(big), NVR_ERR_CONFIG);
	assert_error(0, "larger than");
	free(big);
}
END_TEST

START_TEST(names_and_sections)
{
	ck_assert_int_eq(parse("[Storage]\n"), NVR_ERR_CONFIG);
	assert_error(1, "invalid section name");
	ck_assert_int_eq(parse("[]\n"), NVR_ERR_CONFIG);
	assert_error(1, "invalid section name");
	ck_assert_int_eq(parse("[storage]\nRoot = /x\n"), NVR_ERR_CONFIG);
	assert_error(2, "invalid key name");
	ck_assert_int_eq(parse("[storage]\n= /x\n"), NVR_ERR_CONFIG);
	assert_error(2, "invalid key name");
	ck_assert_int_eq(parse("[cameras]\nx = 1\n"), NVR_ERR_CONFIG);
	assert_error(1, "unknown section [cameras]");
	ck_assert_uint_eq(errs.n, 1); /* keys of an unknown section are not reported again */
}
END_TEST

START_TEST(error_count_is_capped)
{
	size_t size = 20 * 300 + 16, len;
	char *text = malloc(size);

	ck_assert_ptr_nonnull(text);
	len = (size_t)snprintf(text, size, "[nvrd]\n");
	for (int i = 0; i < 300; i++)
		len += (size_t)snprintf(text + len, size - len, "bogus_%03d = 1\n", i);
	ck_assert_int_eq(parse(text), NVR_ERR_CONFIG);
	ck_assert_uint_eq(errs.n, NVR_CONFIG_MAX_ERRORS + 1);
	ck_assert_ptr_nonnull(strstr(errs.v[NVR_CONFIG_MAX_ERRORS].msg, "too many errors"));
	free(text);
}
END_TEST

START_TEST(range_checked)
{
	ck_assert_int_eq(parse("[database]\nconnect_timeout = 500ms\n"), NVR_ERR_CONFIG);
	assert_error(2, "must be between 1s and 300s");
	ck_assert_int_eq(parse("[database]\nconnect_timeout = 6m\n"), NVR_ERR_CONFIG);
	ck_assert_int_eq(parse("[database]\nconnect_timeout = 5m\n"), NVR_OK);
	ck_assert_int_eq(cfg->db_connect_timeout_ms, 300000);
}
END_TEST

START_TEST(value_parsers)
{
	int64_t v;
	bool b;

	ck_assert_int_eq(nvr_config_parse_duration("10s", &v), NVR_OK);
	ck_assert_int_eq(v, 10000);
	ck_assert_int_eq(nvr_config_parse_duration("2h", &v), NVR_OK);
	ck_assert_int_eq(v, 7200000);
	ck_assert_int_eq(nvr_config_parse_duration("3min", &v), NVR_OK);
	ck_assert_int_eq(v, 180000);
	ck_assert_int_eq(nvr_config_parse_duration("10", &v), NVR_ERR_INVAL);
	ck_assert_int_eq(nvr_config_parse_duration("-1s", &v), NVR_ERR_INVAL);
	ck_assert_int_eq(nvr_config_parse_duration("1.5s", &v), NVR_ERR_INVAL);
	ck_assert_int_eq(nvr_config_parse_duration("s", &v), NVR_ERR_INVAL);
	ck_assert_int_eq(nvr_config_parse_duration("10 parsecs", &v), NVR_ERR_INVAL);
	ck_assert_int_eq(nvr_config_parse_duration("99999999999999999999s", &v), NVR_ERR_TOOBIG);
	ck_assert_int_eq(nvr_config_parse_duration("9223372036854775807h", &v), NVR_ERR_TOOBIG);

	ck_assert_int_eq(nvr_config_parse_size("64MiB", &v), NVR_OK);
	ck_assert_int_eq(v, 64LL << 20);
	ck_assert_int_eq(nvr_config_parse_size("2 G", &v), NVR_OK);
	ck_assert_int_eq(v, 2LL << 30);
	ck_assert_int_eq(nvr_config_parse_size("4096", &v), NVR_OK);
	ck_assert_int_eq(v, 4096);
	ck_assert_int_eq(nvr_config_parse_size("1.5G", &v), NVR_ERR_INVAL);
	ck_assert_int_eq(nvr_config_parse_size("16777216TiB", &v), NVR_ERR_TOOBIG);

	ck_assert_int_eq(nvr_config_parse_bool("Yes", &b), NVR_OK);
	ck_assert(b);
	ck_assert_int_eq(nvr_config_parse_bool("off", &b), NVR_OK);
	ck_assert(!b);
	ck_assert_int_eq(nvr_config_parse_bool("maybe", &b), NVR_ERR_INVAL);

	ck_assert_int_eq(nvr_config_parse_int("-42", &v), NVR_OK);
	ck_assert_int_eq(v, -42);
	ck_assert_int_eq(nvr_config_parse_int("42x", &v), NVR_ERR_INVAL);
	ck_assert_int_eq(nvr_config_parse_int("", &v), NVR_ERR_INVAL);
}
END_TEST

START_TEST(load_from_files)
{
	char dir[] = "/tmp/nvr-check-config.XXXXXX";
	char path[128];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	ck_assert_int_eq(nvr_config_load(path, &cfg, &errs), NVR_ERR_IO);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "cannot open"));
	ck_assert_str_eq(errs.v[0].file, path);
	nvr_config_errors_free(&errs);

	ck_assert_int_eq(nvr_config_load(dir, &cfg, &errs), NVR_ERR_IO);
	ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "is a directory"));
	nvr_config_errors_free(&errs);

	snprintf(path, sizeof(path), "%s/ok.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[nvrd]\nlog_level = warning\n", f);
	fclose(f);
	ck_assert_int_eq(nvr_config_load(path, &cfg, &errs), NVR_OK);
	ck_assert_int_eq(cfg->log_level, NVR_LOG_WARNING);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(key_table_is_consistent)
{
	struct nvr_config *a = NULL, *b = NULL;
	char val[256];

	ck_assert_int_eq(nvr_config_defaults(&a), NVR_OK);
	ck_assert_int_eq(nvr_config_defaults(&b), NVR_OK);
	for (size_t i = 0; i < nvr_config_key_count(); i++) {
		const struct nvr_config_key *k = nvr_config_key_at(i);
		ck_assert(nvr_config_key_equal(k, a, b));
		ck_assert_ptr_nonnull(k->doc);
		if (!(k->flags & NVR_CFG_SECRET)) {
			/* The formatted default reads back as the default. */
			nvr_config_key_format(k, a, val, sizeof(val));
			ck_assert_str_eq(val, k->def);
		}
	}
	ck_assert_ptr_null(nvr_config_key_at(nvr_config_key_count()));
	b->log_level = NVR_LOG_ERROR;
	ck_assert(!nvr_config_key_equal(nvr_config_key_at(0), a, b));
	nvr_config_free(a);
	nvr_config_free(b);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, empty_file_gives_defaults);
	tcase_add_test(tc, full_file);
	tcase_add_test(tc, last_line_without_newline);
	tcase_add_test(tc, every_error_with_its_line);
	tcase_add_test(tc, quoting_errors);
	tcase_add_test(tc, secret_value_never_echoed);
	tcase_add_test(tc, secret_hidden_in_print);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, names_and_sections);
	tcase_add_test(tc, error_count_is_capped);
	tcase_add_test(tc, range_checked);
	tcase_add_test(tc, value_parsers);
	tcase_add_test(tc, load_from_files);
	tcase_add_test(tc, key_table_is_consistent);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return harness_run(config_suite());
}

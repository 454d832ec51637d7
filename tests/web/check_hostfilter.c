/*
 * check_hostfilter.c: the API's allow-list: IPv4 and IPv6 addresses and
 * networks, IPv4-mapped clients and rules (an IPv4 rule cannot be bypassed
 * over IPv6), the errors an operator sees, the canonical form, and the
 * bounds on the list.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tests/harness/run.h"
#include "web/hostfilter.h"

/* Parses list, which must succeed; the caller frees the filter. */
static struct web_hostfilter *
must_parse(const char *list)
{
	struct web_hostfilter *f = NULL;
	char why[256];

	ck_assert_msg(web_hostfilter_parse(list, &f, why, sizeof(why)) == NVR_OK,
	    "\"%s\": %s", list, why);
	ck_assert_ptr_nonnull(f);
	return f;
}

/* Asserts that list is refused with rc and a message containing needle. */
static void
assert_refused(const char *list, nvr_err rc, const char *needle)
{
	struct web_hostfilter *f = NULL;
	char why[256];

	ck_assert_int_eq(web_hostfilter_parse(list, &f, why, sizeof(why)), rc);
	ck_assert_ptr_null(f);
	ck_assert_msg(strstr(why, needle) != NULL, "\"%s\": message \"%s\" lacks \"%s\"", list, why,
	    needle);
}

START_TEST(ipv4_exact_and_cidr)
{
	struct web_hostfilter *f = must_parse("192.0.2.7, 10.0.0.0/8 172.16.0.0/12");

	ck_assert_uint_eq(web_hostfilter_count(f), 3);
	ck_assert(web_hostfilter_allows(f, "192.0.2.7"));
	ck_assert(!web_hostfilter_allows(f, "192.0.2.8"));
	ck_assert(!web_hostfilter_allows(f, "192.0.2.6"));
	ck_assert(web_hostfilter_allows(f, "10.0.0.0"));
	ck_assert(web_hostfilter_allows(f, "10.255.255.255"));
	ck_assert(!web_hostfilter_allows(f, "11.0.0.0"));
	ck_assert(!web_hostfilter_allows(f, "9.255.255.255"));
	/* /12 is not on a byte boundary */
	ck_assert(web_hostfilter_allows(f, "172.31.255.255"));
	ck_assert(!web_hostfilter_allows(f, "172.32.0.0"));
	ck_assert(!web_hostfilter_allows(f, "172.15.255.255"));
	/* an IPv4 rule does not match an unrelated IPv6 client */
	ck_assert(!web_hostfilter_allows(f, "::1"));
	web_hostfilter_free(f);
}
END_TEST

START_TEST(ipv6_exact_and_cidr)
{
	struct web_hostfilter *f = must_parse("::1,2001:db8::/32,fe80::/10");

	ck_assert_uint_eq(web_hostfilter_count(f), 3);
	ck_assert(web_hostfilter_allows(f, "::1"));
	ck_assert(web_hostfilter_allows(f, "0:0:0:0:0:0:0:1"));
	ck_assert(!web_hostfilter_allows(f, "::2"));
	ck_assert(web_hostfilter_allows(f, "2001:db8::1"));
	ck_assert(web_hostfilter_allows(f, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
	ck_assert(web_hostfilter_allows(f, "2001:DB8::ABCD"));
	ck_assert(!web_hostfilter_allows(f, "2001:db9::1"));
	ck_assert(web_hostfilter_allows(f, "febf::1"));
	ck_assert(!web_hostfilter_allows(f, "fec0::1"));
	/* nor an IPv6 rule an IPv4 client */
	ck_assert(!web_hostfilter_allows(f, "127.0.0.1"));
	web_hostfilter_free(f);
}
END_TEST

START_TEST(ipv4_rule_covers_mapped_clients)
{
	struct web_hostfilter *f = must_parse("10.0.0.0/8");

	ck_assert(web_hostfilter_allows(f, "::ffff:10.1.2.3"));
	ck_assert(web_hostfilter_allows(f, "::FFFF:a01:203"));
	ck_assert(web_hostfilter_allows(f, "[::ffff:10.1.2.3]"));
	ck_assert(!web_hostfilter_allows(f, "::ffff:11.1.2.3"));
	/* IPv4-compatible (::a.b.c.d) and NAT64 forms are other addresses */
	ck_assert(!web_hostfilter_allows(f, "::10.1.2.3"));
	ck_assert(!web_hostfilter_allows(f, "64:ff9b::10.1.2.3"));
	web_hostfilter_free(f);

	/* the mapped form is no way around a list that does not name it */
	f = must_parse("192.168.0.0/16");
	ck_assert(!web_hostfilter_allows(f, "::ffff:10.1.2.3"));
	ck_assert(!web_hostfilter_allows(f, "10.1.2.3"));
	ck_assert(web_hostfilter_allows(f, "::ffff:192.168.4.5"));
	web_hostfilter_free(f);
}
END_TEST

START_TEST(mapped_rule_covers_ipv4_clients)
{
	struct web_hostfilter *f = must_parse("::ffff:10.0.0.0/104, ::ffff:192.0.2.1");

	ck_assert(web_hostfilter_allows(f, "10.9.8.7"));
	ck_assert(web_hostfilter_allows(f, "::ffff:10.9.8.7"));
	ck_assert(!web_hostfilter_allows(f, "11.0.0.1"));
	ck_assert(web_hostfilter_allows(f, "192.0.2.1"));
	ck_assert(!web_hostfilter_allows(f, "192.0.2.2"));
	web_hostfilter_free(f);
}
END_TEST

START_TEST(zero_prefixes)
{
	struct web_hostfilter *f = must_parse("0.0.0.0/0");

	/* every IPv4 client, mapped or not, and no other IPv6 one */
	ck_assert(web_hostfilter_allows(f, "1.2.3.4"));
	ck_assert(web_hostfilter_allows(f, "255.255.255.255"));
	ck_assert(web_hostfilter_allows(f, "::ffff:1.2.3.4"));
	ck_assert(!web_hostfilter_allows(f, "::1"));
	ck_assert(!web_hostfilter_allows(f, "2001:db8::1"));
	web_hostfilter_free(f);

	/* ::/0 is every address, IPv4 clients included: they are mapped */
	f = must_parse("::/0");
	ck_assert(web_hostfilter_allows(f, "::1"));
	ck_assert(web_hostfilter_allows(f, "2001:db8::1"));
	ck_assert(web_hostfilter_allows(f, "1.2.3.4"));
	ck_assert(web_hostfilter_allows(f, "::ffff:1.2.3.4"));
	web_hostfilter_free(f);
}
END_TEST

START_TEST(empty_list_allows_all)
{
	const char *lists[] = { "", " ", ",, ,\t", NULL };

	for (size_t i = 0; lists[i] != NULL; i++) {
		struct web_hostfilter *f = must_parse(lists[i]);

		ck_assert_uint_eq(web_hostfilter_count(f), 0);
		ck_assert(web_hostfilter_allows(f, "1.2.3.4"));
		ck_assert(web_hostfilter_allows(f, "2001:db8::1"));
		/* but not something that is not an address */
		ck_assert(!web_hostfilter_allows(f, "localhost"));
		web_hostfilter_free(f);
	}
	ck_assert_uint_eq(web_hostfilter_count(NULL), 0);
}
END_TEST

START_TEST(empty_rules_are_skipped)
{
	struct web_hostfilter *f = must_parse(" ,10.0.0.1,, ,\t10.0.0.2 ,");

	ck_assert_uint_eq(web_hostfilter_count(f), 2);
	ck_assert(web_hostfilter_allows(f, "10.0.0.2"));
	web_hostfilter_free(f);
}
END_TEST

START_TEST(errors_name_the_rule)
{
	assert_refused("10.0.0.0/33", NVR_ERR_INVAL,
	    "10.0.0.0/33: the prefix length must be a number from 0 to 32");
	assert_refused("::/129", NVR_ERR_INVAL,
	    "::/129: the prefix length must be a number from 0 to 128");
	assert_refused("10.0.0.0/8x", NVR_ERR_INVAL, "10.0.0.0/8x: the prefix length");
	assert_refused("10.0.0.0/-8", NVR_ERR_INVAL, "10.0.0.0/-8: the prefix length");
	assert_refused("10.0.0.0/+8", NVR_ERR_INVAL, "10.0.0.0/+8: the prefix length");
	assert_refused("10.0.0.0/", NVR_ERR_INVAL, "10.0.0.0/: the prefix length");
	assert_refused("10.0.0.0/0008", NVR_ERR_INVAL, "the prefix length");
	assert_refused("10.0.0.0/8/8", NVR_ERR_INVAL, "the prefix length");
	assert_refused("10.1.2.3/8", NVR_ERR_INVAL,
	    "10.1.2.3/8 has host bits set; did you mean 10.0.0.0/8?");
	assert_refused("::1, 172.16.5.4/12", NVR_ERR_INVAL,
	    "172.16.5.4/12 has host bits set; did you mean 172.16.0.0/12?");
	assert_refused("2001:db8::1/32", NVR_ERR_INVAL,
	    "2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?");
	assert_refused("::ffff:10.1.2.3/104", NVR_ERR_INVAL, "did you mean ::ffff:10.0.0.0/104?");
	assert_refused("10.0.0.1, example.com", NVR_ERR_INVAL,
	    "\"example.com\" is not an IPv4 or IPv6 address");
	assert_refused("10.0.0.256/8", NVR_ERR_INVAL,
	    "\"10.0.0.256/8\" is not an IPv4 or IPv6 address");
	assert_refused("/8", NVR_ERR_INVAL, "\"/8\" is not");
	assert_refused("10.0.0", NVR_ERR_INVAL, "\"10.0.0\" is not");
	assert_refused("[::1]", NVR_ERR_INVAL, "\"[::1]\" is not");
	assert_refused("fe80::1%eth0", NVR_ERR_INVAL, "is not an IPv4 or IPv6 address");
	assert_refused("1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa", NVR_ERR_INVAL,
	    "is not an IPv4 or IPv6 address");
}
END_TEST

START_TEST(why_is_optional_and_cleared)
{
	struct web_hostfilter *f = NULL;
	char why[8] = "junk";

	ck_assert_int_eq(web_hostfilter_parse("10.1.2.3/8", &f, NULL, 0), NVR_ERR_INVAL);
	ck_assert_ptr_null(f);
	/* a short buffer holds the start of the message, NUL-terminated */
	ck_assert_int_eq(web_hostfilter_parse("10.1.2.3/8", &f, why, sizeof(why)), NVR_ERR_INVAL);
	ck_assert_str_eq(why, "10.1.2.");
	ck_assert_int_eq(web_hostfilter_parse("10.1.2.0/24", &f, why, sizeof(why)), NVR_OK);
	ck_assert_str_eq(why, "");
	web_hostfilter_free(f);
}
END_TEST

/* Formats list and checks the text, then that the text parses back to the
 * same text. */
static void
assert_format(const char *list, const char *want)
{
	struct web_hostfilter *f = must_parse(list), *g;
	char buf[512], again[512];

	ck_assert_int_eq(web_hostfilter_format(f, buf, sizeof(buf)), NVR_OK);
	ck_assert_str_eq(buf, want);
	g = must_parse(buf);
	ck_assert_int_eq(web_hostfilter_format(g, again, sizeof(again)), NVR_OK);
	ck_assert_str_eq(again, buf);
	ck_assert_uint_eq(web_hostfilter_count(g), web_hostfilter_count(f));
	web_hostfilter_free(g);
	web_hostfilter_free(f);
}

START_TEST(format_round_trip)
{
	assert_format("", "");
	assert_format("10.0.0.0/8", "10.0.0.0/8");
	assert_format("192.0.2.7", "192.0.2.7/32");
	assert_format("0.0.0.0/0 ::/0", "0.0.0.0/0, ::/0");
	assert_format("::1", "::1/128");
	assert_format("2001:DB8:0:0::/32,  fe80::/10", "2001:db8::/32, fe80::/10");
	/* mapped rules are IPv4 rules, and read as such */
	assert_format("::ffff:10.0.0.0/104", "10.0.0.0/8");
	assert_format("::ffff:0:0/96", "0.0.0.0/0");
	/* a network wider than the mapped block stays IPv6 */
	assert_format("::/80", "::/80");
	assert_format("10.0.0.0/08", "10.0.0.0/8");
}
END_TEST

START_TEST(format_too_small)
{
	struct web_hostfilter *f = must_parse("10.0.0.0/8, ::1");
	char buf[32] = "junk";

	/* "10.0.0.0/8, ::1/128" is 19 characters: it needs 20 bytes */
	ck_assert_int_eq(web_hostfilter_format(f, buf, 19), NVR_ERR_TOOBIG);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(web_hostfilter_format(f, buf, 11), NVR_ERR_TOOBIG);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(web_hostfilter_format(f, buf, 0), NVR_ERR_TOOBIG);
	ck_assert_int_eq(web_hostfilter_format(f, buf, 20), NVR_OK);
	ck_assert_str_eq(buf, "10.0.0.0/8, ::1/128");
	web_hostfilter_free(f);
}
END_TEST

START_TEST(client_forms)
{
	struct web_hostfilter *f = must_parse("fe80::/10, ::1, 10.0.0.0/8");

	ck_assert(web_hostfilter_allows(f, "[::1]"));
	ck_assert(web_hostfilter_allows(f, "fe80::1%eth0"));
	ck_assert(web_hostfilter_allows(f, "[fe80::1%25]"));
	ck_assert(web_hostfilter_allows(f, "10.1.1.1"));
	ck_assert(!web_hostfilter_allows(f, "[::2]"));
	ck_assert(!web_hostfilter_allows(f, "fe00::1%eth0"));
	web_hostfilter_free(f);
}
END_TEST

START_TEST(garbage_clients_refused)
{
	struct web_hostfilter *f = must_parse("::/0");
	const char *bad[] = { "", "[]", "[", "]", "[::1", "::1]", "localhost", "10.0.0",
		"10.0.0.256", "1.2.3.4:8080", "[::1]:443", " ::1", "::1 ", "::1\n", "%eth0", "::g",
		"1::2::3", "010.0.0.1", "::ffff:10.0.0.256",
		"0000:0000:0000:0000:0000:0000:0000:0000:0001", NULL };

	for (size_t i = 0; bad[i] != NULL; i++)
		ck_assert_msg(!web_hostfilter_allows(f, bad[i]), "\"%s\" was allowed", bad[i]);
	ck_assert(!web_hostfilter_allows(f, NULL));
	web_hostfilter_free(f);
}
END_TEST

START_TEST(long_client_refused)
{
	struct web_hostfilter *f = must_parse("::/0");
	char addr[4096];

	memset(addr, '0', sizeof(addr) - 4);
	memcpy(addr + sizeof(addr) - 4, "::1", 4);
	ck_assert(!web_hostfilter_allows(f, addr));
	web_hostfilter_free(f);
}
END_TEST

START_TEST(size_limits)
{
	static char list[WEB_HOSTFILTER_MAX_TEXT + 16];
	struct web_hostfilter *f;
	size_t used = 0;

	/* exactly the maximum number of rules, the last one matching */
	for (int i = 0; i < WEB_HOSTFILTER_MAX_RULES; i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s10.%d.0.0/16",
		    i ? "," : "", i);
	f = must_parse(list);
	ck_assert_uint_eq(web_hostfilter_count(f), WEB_HOSTFILTER_MAX_RULES);
	ck_assert(web_hostfilter_allows(f, "10.255.1.1"));
	ck_assert(web_hostfilter_allows(f, "10.0.1.1"));
	ck_assert(!web_hostfilter_allows(f, "11.0.1.1"));
	web_hostfilter_free(f);
	/* one more */
	snprintf(list + used, sizeof(list) - used, ",11.0.0.0/8");
	assert_refused(list, NVR_ERR_TOOBIG, "more than 256 rules");

	/* exactly the maximum text, mostly separators, then one byte more */
	memset(list, ' ', WEB_HOSTFILTER_MAX_TEXT);
	memcpy(list, "::1", 3);
	list[WEB_HOSTFILTER_MAX_TEXT] = '\0';
	f = must_parse(list);
	ck_assert_uint_eq(web_hostfilter_count(f), 1);
	web_hostfilter_free(f);
	list[WEB_HOSTFILTER_MAX_TEXT] = ' ';
	list[WEB_HOSTFILTER_MAX_TEXT + 1] = '\0';
	assert_refused(list, NVR_ERR_TOOBIG, "longer than 8192 bytes");

	/* one overlong rule */
	memset(list, '1', 200);
	list[200] = '\0';
	assert_refused(list, NVR_ERR_INVAL, "is not an IPv4 or IPv6 address");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("hostfilter");
	TCase *tc = tcase_create("hostfilter");

	tcase_add_test(tc, ipv4_exact_and_cidr);
	tcase_add_test(tc, ipv6_exact_and_cidr);
	tcase_add_test(tc, ipv4_rule_covers_mapped_clients);
	tcase_add_test(tc, mapped_rule_covers_ipv4_clients);
	tcase_add_test(tc, zero_prefixes);
	tcase_add_test(tc, empty_list_allows_all);
	tcase_add_test(tc, empty_rules_are_skipped);
	tcase_add_test(tc, errors_name_the_rule);
	tcase_add_test(tc, why_is_optional_and_cleared);
	tcase_add_test(tc, format_round_trip);
	tcase_add_test(tc, format_too_small);
	tcase_add_test(tc, client_forms);
	tcase_add_test(tc, garbage_clients_refused);
	tcase_add_test(tc, long_client_refused);
	tcase_add_test(tc, size_limits);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

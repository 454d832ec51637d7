/*
 * check_listcache.c: the listing cache answers only for the generation it
 * was filled at, drops what is stale, keeps to its byte budget, copies
 * bodies out, and counts hits and misses.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/run.h"
#include "web/listcache.h"

static struct web_listcache *
must_new(size_t bytes)
{
	struct web_listcache *c = NULL;

	ck_assert_int_eq(web_listcache_new(bytes, &c), NVR_OK);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Asserts that key at gen gives exactly want (NULL: a miss). */
static void
assert_get(struct web_listcache *c, const char *key, uint64_t gen, const char *want)
{
	char *body = NULL;
	size_t len = 0;
	bool hit = web_listcache_get(c, key, gen, &body, &len);

	if (want == NULL) {
		ck_assert_msg(!hit, "%s at %llu: a hit, wanted a miss", key, (unsigned long long)gen);
		ck_assert_ptr_null(body);
		return;
	}
	ck_assert_msg(hit, "%s at %llu: a miss", key, (unsigned long long)gen);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_int_eq(memcmp(body, want, len), 0);
	free(body);
}

START_TEST(hit_only_at_the_same_generation)
{
	struct web_listcache *c = must_new(1 << 20);
	uint64_t hits, misses;

	assert_get(c, "cam|a", 7, NULL);
	web_listcache_put(c, "cam|a", 7, "{\"items\":[]}", 12);
	assert_get(c, "cam|a", 7, "{\"items\":[]}");
	assert_get(c, "cam|b", 7, NULL);
	/* a newer generation finds it stale and drops it: the old one no longer answers either */
	assert_get(c, "cam|a", 8, NULL);
	assert_get(c, "cam|a", 7, NULL);
	web_listcache_counts(c, &hits, &misses);
	ck_assert_uint_eq(hits, 1);
	ck_assert_uint_eq(misses, 4);
	web_listcache_free(c);
}
END_TEST

START_TEST(a_put_replaces)
{
	struct web_listcache *c = must_new(1 << 20);

	web_listcache_put(c, "k", 1, "old", 3);
	web_listcache_put(c, "k", 2, "new!", 4);
	assert_get(c, "k", 1, NULL);
	web_listcache_put(c, "k", 2, "new!", 4);
	assert_get(c, "k", 2, "new!");
	web_listcache_free(c);
}
END_TEST

START_TEST(bodies_are_copies)
{
	struct web_listcache *c = must_new(1 << 20);
	char body[] = "abcdef";

	web_listcache_put(c, "k", 1, body, 6);
	body[0] = 'X';
	assert_get(c, "k", 1, "abcdef");
	web_listcache_free(c);
}
END_TEST

START_TEST(budget_is_kept)
{
	/* entries over a sixteenth of the budget are never kept; the rest
	 * only while the total fits */
	struct web_listcache *c = must_new((size_t)16 * 100);
	char big[101], key[16];
	int kept = 0;

	memset(big, 'x', sizeof(big));
	web_listcache_put(c, "huge", 1, big, 101);
	assert_get(c, "huge", 1, NULL);
	for (int i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		web_listcache_put(c, key, 1, big, 100);
	}
	for (int i = 0; i < 64; i++) {
		char *b;
		size_t len;

		snprintf(key, sizeof(key), "k%d", i);
		if (web_listcache_get(c, key, 1, &b, &len)) {
			kept++;
			free(b);
		}
	}
	ck_assert_int_gt(kept, 0);
	ck_assert_int_le(kept, 16);
	web_listcache_free(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("listcache");
	TCase *tc = tcase_create("listcache");

	tcase_add_test(tc, hit_only_at_the_same_generation);
	tcase_add_test(tc, a_put_replaces);
	tcase_add_test(tc, bodies_are_copies);
	tcase_add_test(tc, budget_is_kept);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

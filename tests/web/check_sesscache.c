/*
 * check_sesscache.c: the cache of confirmed console sessions
 * (web/sesscache.c): hits within the TTL only, a logout forgets one
 * session, an admin's change forgets every session of a user and keeps
 * it from being cached again for a TTL.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tests/harness/run.h"
#include "web/sesscache.h"

static struct web_user
user(uint8_t n)
{
	struct web_user u = { .role = WEB_ROLE_VIEWER };

	memset(u.id.b, n, sizeof(u.id.b));
	snprintf(u.name, sizeof(u.name), "user%u", n);
	return u;
}

static void
hash(uint8_t n, uint8_t h[32])
{
	for (int i = 0; i < 32; i++)
		h[i] = (uint8_t)(n * 31 + i);
}

START_TEST(ttl_and_logout)
{
	struct web_sesscache *c;
	struct web_user a = user(1), got;
	uint8_t h[32];

	ck_assert_int_eq(web_sesscache_new(&c), NVR_OK);
	hash(1, h);
	ck_assert(!web_sesscache_get(c, h, 1000, &got));
	web_sesscache_put(c, h, 1000, &a);
	ck_assert(web_sesscache_get(c, h, 1000 + WEB_SESSCACHE_TTL_MS - 1, &got));
	ck_assert_str_eq(got.name, "user1");
	ck_assert(!web_sesscache_get(c, h, 1000 + WEB_SESSCACHE_TTL_MS, &got));
	web_sesscache_put(c, h, 2000, &a);
	web_sesscache_drop(c, h);
	ck_assert(!web_sesscache_get(c, h, 2001, &got));
	web_sesscache_free(c);
}
END_TEST

START_TEST(drop_user)
{
	struct web_sesscache *c;
	struct web_user a = user(1), b = user(2), got;
	uint8_t a1[32], a2[32], b1[32];

	ck_assert_int_eq(web_sesscache_new(&c), NVR_OK);
	hash(1, a1);
	hash(2, a2);
	hash(3, b1);
	web_sesscache_put(c, a1, 1000, &a);
	web_sesscache_put(c, a2, 1000, &a);
	web_sesscache_put(c, b1, 1000, &b);
	web_sesscache_drop_user(c, &a.id, 1500);
	ck_assert(!web_sesscache_get(c, a1, 1600, &got));
	ck_assert(!web_sesscache_get(c, a2, 1600, &got));
	ck_assert(web_sesscache_get(c, b1, 1600, &got));
	ck_assert_str_eq(got.name, "user2");
	/* a request that read the database before the change cannot bring
	 * the session back for a TTL */
	web_sesscache_put(c, a1, 1700, &a);
	ck_assert(!web_sesscache_get(c, a1, 1700, &got));
	web_sesscache_put(c, a1, 1500 + WEB_SESSCACHE_TTL_MS, &a);
	ck_assert(web_sesscache_get(c, a1, 1500 + WEB_SESSCACHE_TTL_MS, &got));
	web_sesscache_free(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sesscache");
	TCase *tc = tcase_create("sesscache");

	tcase_add_test(tc, ttl_and_logout);
	tcase_add_test(tc, drop_user);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

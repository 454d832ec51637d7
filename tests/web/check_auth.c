/*
 * check_auth.c: the server side of HTTP Digest (RFC 7616) and the
 * lock-out table: the RFC's own example header parses, responses computed
 * here independently are accepted, and replays, expired nonces, nonces we
 * did not make, other URIs and malformed headers are refused; lock-outs
 * start after N failures, grow, are capped, and end on success; a flood
 * of names cannot evict them; connections per address are bounded.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "nvrd/encode.h"
#include "tests/harness/run.h"
#include "web/digest.h"
#include "web/conns.h"
#include "web/lockout.h"

static void
sha256_hex(const char *s, char out[65])
{
	uint8_t h[32];
	unsigned int n = 32;

	ck_assert(EVP_Digest(s, strlen(s), h, &n, EVP_sha256(), NULL));
	nvr_hex_encode(h, 32, out);
}

/* The nonce out of a challenge we made. */
static void
nonce_of(const char *challenge, char *out, size_t size)
{
	const char *p = strstr(challenge, "nonce=\"");

	ck_assert_ptr_nonnull(p);
	p += 7;
	snprintf(out, size, "%.*s", (int)strcspn(p, "\""), p);
}

/* An Authorization header for user:password on GET uri, computed here
 * without the code under test. */
static void
make_header(const char *nonce, const char *uri, const char *nc, const char *password, char *out, size_t size)
{
	char a1[256], ha1[65], a2[256], ha2[65], r[512], resp[65];

	snprintf(a1, sizeof(a1), "admin:nvr:%s", password);
	sha256_hex(a1, ha1);
	snprintf(a2, sizeof(a2), "GET:%s", uri);
	sha256_hex(a2, ha2);
	snprintf(r, sizeof(r), "%s:%s:%s:abc123:auth:%s", ha1, nonce, nc, ha2);
	sha256_hex(r, resp);
	snprintf(out, size,
	    "Digest username=\"admin\", realm=\"nvr\", nonce=\"%s\", uri=\"%s\", algorithm=SHA-256, qop=auth, "
	    "nc=%s, cnonce=\"abc123\", response=\"%s\"", nonce, uri, nc, resp);
}

static enum web_digest_result
check(struct web_digest *d, const char *header, const char *uri)
{
	struct web_digest_creds c;
	const char *why = NULL;
	char ha1[65];

	ck_assert_msg(web_digest_parse(header, &c, &why) == NVR_OK, "%s", why);
	sha256_hex("admin:nvr:Right-Pass-1", ha1);
	return web_digest_check(d, &c, "nvr", "GET", uri, ha1);
}

START_TEST(rfc7616_example_parses)
{
	/* RFC 7616 3.9.1, the SHA-256 request. */
	const char *h = "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
			"algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, "
			"cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, "
			"response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", "
			"opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	struct web_digest_creds c;
	const char *why = NULL;

	ck_assert_msg(web_digest_parse(h, &c, &why) == NVR_OK, "%s", why);
	ck_assert_str_eq(c.username, "Mufasa");
	ck_assert_str_eq(c.uri, "/dir/index.html");
	ck_assert_int_eq(c.alg, WEB_DIGEST_SHA256);
	ck_assert_int_eq(c.nc, 1);
}
END_TEST

START_TEST(accepts_then_refuses_replay)
{
	struct web_digest *d;
	char ch[WEB_DIGEST_CHALLENGE_MAX], nonce[128], h[1024];

	ck_assert_int_eq(web_digest_new(60000, &d), NVR_OK);
	web_digest_challenge(d, "nvr", WEB_DIGEST_SHA256, false, ch);
	ck_assert_ptr_nonnull(strstr(ch, "qop=\"auth, auth-int\", algorithm=SHA-256"));
	nonce_of(ch, nonce, sizeof(nonce));
	make_header(nonce, "/api/v1/health", "00000001", "Right-Pass-1", h, sizeof(h));
	ck_assert_int_eq(check(d, h, "/api/v1/health"), WEB_DIGEST_OK);
	ck_assert_int_eq(check(d, h, "/api/v1/health"), WEB_DIGEST_REPLAY);
	make_header(nonce, "/api/v1/health", "00000002", "Right-Pass-1", h, sizeof(h));
	ck_assert_int_eq(check(d, h, "/api/v1/health"), WEB_DIGEST_OK);
	make_header(nonce, "/api/v1/health", "00000002", "Right-Pass-1", h, sizeof(h));
	ck_assert_int_eq(check(d, h, "/api/v1/health"), WEB_DIGEST_REPLAY);
	make_header(nonce, "/api/v1/health", "00000003", "Wrong-Pass-1", h, sizeof(h));
	ck_assert_int_eq(check(d, h, "/api/v1/health"), WEB_DIGEST_WRONG);
	make_header(nonce, "/api/v1/users", "00000004", "Right-Pass-1", h, sizeof(h));
	ck_assert_int_eq(check(d, h, "/api/v1/health"), WEB_DIGEST_FOREIGN);
	web_digest_free(d);
}
END_TEST

START_TEST(refuses_expired_and_foreign_nonces)
{
	struct web_digest *d, *other;
	char ch[WEB_DIGEST_CHALLENGE_MAX], nonce[128], h[1024];

	ck_assert_int_eq(web_digest_new(-1, &d), NVR_OK); /* every nonce is already old */
	ck_assert_int_eq(web_digest_new(60000, &other), NVR_OK);
	web_digest_challenge(d, "nvr", WEB_DIGEST_SHA256, true, ch);
	ck_assert_ptr_nonnull(strstr(ch, "stale=true"));
	nonce_of(ch, nonce, sizeof(nonce));
	make_header(nonce, "/x", "00000001", "Right-Pass-1", h, sizeof(h));
	ck_assert_int_eq(check(d, h, "/x"), WEB_DIGEST_STALE);
	ck_assert_int_eq(check(other, h, "/x"), WEB_DIGEST_FOREIGN);
	nonce[3] ^= 1;
	make_header(nonce, "/x", "00000001", "Right-Pass-1", h, sizeof(h));
	ck_assert_int_eq(check(d, h, "/x"), WEB_DIGEST_FOREIGN);
	web_digest_free(d);
	web_digest_free(other);
}
END_TEST

START_TEST(refuses_malformed_headers)
{
	static const char *const bad[] = {
		"Basic YWRtaW46eA==",
		"Digest username=\"a\"",
		"Digest username=\"a\", realm=\"nvr\", nonce=\"n\", uri=\"/\", response=\"r\", cnonce=\"c\", qop=auth-conf, nc=00000001",
		"Digest username=\"a\", realm=\"nvr\", nonce=\"n\", uri=\"/\", response=\"r\", cnonce=\"c\", qop=auth, nc=1",
		"Digest username=\"a\", username=\"b\", realm=\"nvr\", nonce=\"n\", uri=\"/\", response=\"r\", cnonce=\"c\", qop=auth, nc=00000001",
		"Digest username=\"a\", realm=\"nvr\", nonce=\"n\", uri=\"/\", response=\"r\", cnonce=\"c\", qop=auth, nc=00000001, algorithm=SHA-512-256",
		"Digest username=\"a\", realm=\"nvr\", nonce=\"n\", uri=\"/\", response=\"r\", cnonce=\"c\", qop=auth, nc=00000001, userhash=true",
		"Digest username=\"unterminated",
		"Digest username=\"a\" realm=\"nvr\"",
	};
	struct web_digest_creds c;
	const char *why;
	char huge[WEB_DIGEST_HEADER_MAX + 64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(web_digest_parse(bad[i], &c, &why) != NVR_OK, "accepted: %s", bad[i]);
		ck_assert_ptr_nonnull(why);
	}
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	memcpy(huge, "Digest username=\"", 17);
	ck_assert_int_eq(web_digest_parse(huge, &c, &why), NVR_ERR_TOOBIG);
}
END_TEST

/* The slot a nonce's count goes to (digest.c: its random part's first
 * four bytes, little-endian), as an attacker who reads the hex can
 * compute it. */
static uint32_t
nonce_slot(const char *nonce)
{
	uint8_t raw[32];

	ck_assert_int_eq(nvr_hex_decode(nonce, raw, sizeof(raw)), NVR_OK);
	return ((uint32_t)raw[8] | (uint32_t)raw[9] << 8 | (uint32_t)raw[10] << 16 | (uint32_t)raw[11] << 24) %
	    WEB_DIGEST_NONCE_SLOTS;
}

/* Issue 13's attack: harvest nonces whose slots fall in the admin's
 * nonce's neighbourhood and use them until it is evicted; the admin's
 * header replayed must then be stale (retry with a new nonce), never
 * accepted. */
START_TEST(eviction_never_accepts_a_replay)
{
	struct web_digest *d;
	char ch[WEB_DIGEST_CHALLENGE_MAX], admin[128], nonce[128], h[1024], admin_h[1024];
	uint32_t home;
	int used = 0;

	ck_assert_int_eq(web_digest_new(60000, &d), NVR_OK);
	web_digest_challenge(d, "nvr", WEB_DIGEST_SHA256, false, ch);
	nonce_of(ch, admin, sizeof(admin));
	home = nonce_slot(admin);
	make_header(admin, "/api/v1/users", "00000001", "Right-Pass-1", admin_h, sizeof(admin_h));
	ck_assert_int_eq(check(d, admin_h, "/api/v1/users"), WEB_DIGEST_OK);
	/* 64 nonces landing up to 16 slots before the admin's: more than
	 * enough to push it out of any probe run that reaches it. */
	for (long i = 0; i < 50000000 && used < 64; i++) {
		web_digest_challenge(d, "nvr", WEB_DIGEST_SHA256, false, ch);
		nonce_of(ch, nonce, sizeof(nonce));
		if ((home - nonce_slot(nonce)) % WEB_DIGEST_NONCE_SLOTS >= 16)
			continue;
		make_header(nonce, "/api/v1/health", "00000001", "Right-Pass-1", h, sizeof(h));
		ck_assert_int_eq(check(d, h, "/api/v1/health"), WEB_DIGEST_OK);
		used++;
	}
	ck_assert_int_eq(used, 64);
	ck_assert_int_eq(check(d, admin_h, "/api/v1/users"), WEB_DIGEST_STALE);
	web_digest_free(d);
}
END_TEST

/* qop=auth-int (RFC 7616 3.4.3): the response covers the body, so a
 * captured header sent with another body is refused. */
START_TEST(auth_int_binds_the_body)
{
	struct web_digest *d;
	struct web_digest_creds c;
	char ch[WEB_DIGEST_CHALLENGE_MAX], nonce[128], a1[128], ha1[65], a2[256], ha2[65], hb[65], r[512], resp[65];
	char h[1024];
	const char *body = "{\"name\":\"op\",\"role\":\"operator\"}", *evil = "{\"name\":\"evil\",\"role\":\"admin\"}";
	const char *why = NULL;

	ck_assert_int_eq(web_digest_new(60000, &d), NVR_OK);
	web_digest_challenge(d, "nvr", WEB_DIGEST_SHA256, false, ch);
	nonce_of(ch, nonce, sizeof(nonce));
	snprintf(a1, sizeof(a1), "admin:nvr:Right-Pass-1");
	sha256_hex(a1, ha1);
	sha256_hex(body, hb);
	snprintf(a2, sizeof(a2), "POST:/api/v1/users:%s", hb);
	sha256_hex(a2, ha2);
	snprintf(r, sizeof(r), "%s:%s:00000001:abc123:auth-int:%s", ha1, nonce, ha2);
	sha256_hex(r, resp);
	snprintf(h, sizeof(h),
	    "Digest username=\"admin\", realm=\"nvr\", nonce=\"%s\", uri=\"/api/v1/users\", algorithm=SHA-256, "
	    "qop=auth-int, nc=00000001, cnonce=\"abc123\", response=\"%s\"", nonce, resp);
	ck_assert_msg(web_digest_parse(h, &c, &why) == NVR_OK, "%s", why);
	ck_assert(c.auth_int);
	ck_assert_int_eq(web_digest_check_body(d, &c, "nvr", "POST", "/api/v1/users", ha1, evil, strlen(evil)),
	    WEB_DIGEST_WRONG);
	ck_assert_int_eq(web_digest_check_body(d, &c, "nvr", "POST", "/api/v1/users", ha1, body, strlen(body)),
	    WEB_DIGEST_OK);
	web_digest_free(d);
}
END_TEST

START_TEST(lockout_grows_and_clears)
{
	struct web_lockout *l;
	int64_t t = 1000000;

	ck_assert_int_eq(web_lockout_new(1000, &l), NVR_OK);
	ck_assert_int_eq(web_lockout_fail(l, "user:a", 3, t), WEB_LOCKOUT_COUNTED);
	ck_assert_int_eq(web_lockout_fail(l, "user:a", 3, t), WEB_LOCKOUT_COUNTED);
	ck_assert_int_eq(web_lockout_remaining(l, "user:a", t), 0);
	ck_assert_int_eq(web_lockout_fail(l, "user:a", 3, t), WEB_LOCKOUT_LOCKED);
	ck_assert_int_eq(web_lockout_remaining(l, "user:a", t), 1000);
	ck_assert_int_eq(web_lockout_remaining(l, "user:b", t), 0);
	/* A failure while locked doubles the lock (docs/CONFIG.md). */
	ck_assert_int_eq(web_lockout_fail(l, "user:a", 3, t + 500), WEB_LOCKOUT_LOCKED);
	ck_assert_int_eq(web_lockout_remaining(l, "user:a", t + 500), 2000);
	for (int i = 0; i < 40; i++)
		web_lockout_fail(l, "user:a", 3, t);
	ck_assert_int_eq(web_lockout_remaining(l, "user:a", t), WEB_LOCKOUT_CAP_MS);
	ck_assert_int_eq(web_lockout_remaining(l, "user:a", t + WEB_LOCKOUT_CAP_MS), 0);
	/* Still counted after the lock: the next failure locks at once. */
	ck_assert_int_eq(web_lockout_fail(l, "user:a", 3, t + WEB_LOCKOUT_CAP_MS + 1), WEB_LOCKOUT_LOCKED);
	web_lockout_clear(l, "user:a");
	ck_assert_int_eq(web_lockout_fail(l, "user:a", 3, t), WEB_LOCKOUT_COUNTED);
	/* Forgotten a while after the last failure. */
	ck_assert_int_eq(web_lockout_fail(l, "user:c", 2, t), WEB_LOCKOUT_COUNTED);
	ck_assert_int_eq(web_lockout_fail(l, "user:c", 2, t + WEB_LOCKOUT_FORGET_MS), WEB_LOCKOUT_COUNTED);
	web_lockout_free(l);
}
END_TEST

/* The attack of issue 13: a flood of failures for made-up names must
 * not evict a live lock, or a count on its way to one. The table fills,
 * and then it is the new names that are refused. */
START_TEST(lockout_flood_cannot_evict)
{
	struct web_lockout *l;
	char key[64];
	int64_t t = 5000000;
	int untracked = 0, full = 0;

	ck_assert_int_eq(web_lockout_new(8000, &l), NVR_OK);
	for (int i = 0; i < 5; i++)
		web_lockout_fail(l, "user:admin", 5, t);
	web_lockout_fail(l, "user:viewer", 5, t); /* one failure: on its way */
	ck_assert_int_eq(web_lockout_remaining(l, "user:admin", t), 8000);
	for (int i = 0; i < 4 * WEB_LOCKOUT_SLOTS; i++) {
		snprintf(key, sizeof(key), "user:made-up-%d", i);
		untracked += web_lockout_fail(l, key, 5, t + 100) == WEB_LOCKOUT_UNTRACKED;
	}
	ck_assert_int_gt(untracked, 2L * WEB_LOCKOUT_SLOTS);
	ck_assert_int_le(web_lockout_live(l, t + 100), WEB_LOCKOUT_SLOTS);
	ck_assert_int_eq(web_lockout_remaining(l, "user:admin", t + 100), 7900);
	/* The viewer's one failure is still there: four more lock it. */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(web_lockout_fail(l, "user:viewer", 5, t + 200), WEB_LOCKOUT_COUNTED);
	ck_assert_int_eq(web_lockout_fail(l, "user:viewer", 5, t + 200), WEB_LOCKOUT_LOCKED);
	/* Unknown names now mostly cannot be counted: refused, not tried. */
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "user:other-%d", i);
		full += web_lockout_remaining(l, key, t + 300) == WEB_LOCKOUT_FULL;
	}
	ck_assert_int_gt(full, 90);
	/* Once forgotten, the slots are free again. */
	ck_assert_int_eq(web_lockout_remaining(l, "user:other-1", t + 300 + WEB_LOCKOUT_FORGET_MS + 8000), 0);
	web_lockout_free(l);
}
END_TEST

/* Connections per address (web/conns.c): the limit holds, closing gives
 * the slot back, a socket is counted once, and junk is refused. */
START_TEST(conns_limit_per_address)
{
	struct web_conns *c;

	ck_assert_int_eq(web_conns_new(3, &c), NVR_OK);
	for (int fd = 10; fd < 13; fd++)
		ck_assert(web_conns_open(c, fd, "127.0.0.2"));
	ck_assert(!web_conns_open(c, 13, "127.0.0.2"));
	ck_assert(web_conns_open(c, 13, "::1"));
	ck_assert(!web_conns_open(c, 13, "::1")); /* fd 13 is counted already */
	ck_assert_int_eq(web_conns_of(c, "127.0.0.2"), 3);
	web_conns_close(c, 11);
	web_conns_close(c, 11); /* twice: once counted */
	web_conns_close(c, 999); /* never opened */
	ck_assert_int_eq(web_conns_of(c, "127.0.0.2"), 2);
	ck_assert(web_conns_open(c, 14, "127.0.0.2"));
	ck_assert(!web_conns_open(c, -1, "127.0.0.3"));
	ck_assert(!web_conns_open(c, WEB_CONNS_FDS, "127.0.0.3"));
	web_conns_free(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("digest");

	tcase_add_test(tc, rfc7616_example_parses);
	tcase_add_test(tc, accepts_then_refuses_replay);
	tcase_add_test(tc, refuses_expired_and_foreign_nonces);
	tcase_add_test(tc, refuses_malformed_headers);
	tcase_add_test(tc, eviction_never_accepts_a_replay);
	tcase_add_test(tc, auth_int_binds_the_body);
	suite_add_tcase(s, tc);
	tc = tcase_create("lockout");
	tcase_add_test(tc, lockout_grows_and_clears);
	tcase_add_test(tc, lockout_flood_cannot_evict);
	tcase_add_test(tc, conns_limit_per_address);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

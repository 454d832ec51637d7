/*
 * check_password.c: the user name rules and the password policy, one rule
 * at a time at its edges; scrypt hashes (format, salt, verification, and
 * tampered stored values that must never match); and the Digest HA1 values
 * against RFC 7616's example.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "nvrd/encode.h"
#include "tests/harness/run.h"
#include "web/password.h"

#define MSG_USER_LEN "the user name must be 1 to 32 bytes long"
#define MSG_USER_CHAR "the user name must not contain \", &, ; or `"
#define MSG_USER_CTRL "the user name must not contain control characters"
#define MSG_USER_UTF8 "the user name must be valid UTF-8"
#define MSG_PW_LEN "the password must be 8 to 32 characters long"
#define MSG_PW_CLASSES                                                                     \
	"the password needs at least three of: upper-case letters, lower-case letters, "   \
	"digits, symbols"
#define MSG_PW_USER "the password must not contain the user name"

/* e with an acute accent, two bytes in UTF-8 */
#define E_ACUTE "\xc3\xa9"

static void
assert_user(const char *name, const char *want)
{
	const char *got = web_user_name_problem(name);

	if (want == NULL)
		ck_assert_msg(got == NULL, "user name \"%s\" refused: %s", name, got);
	else
		ck_assert_msg(got != NULL && strcmp(got, want) == 0, "user name \"%s\": got \"%s\"",
		    name, got ? got : "(accepted)");
}

/* Checks the verdict on password for user, and that no message quotes the
 * password. */
static void
assert_password(const char *user, const char *password, const char *want)
{
	const char *got = web_password_problem(user, password);

	if (want == NULL) {
		ck_assert_msg(got == NULL, "password \"%s\" refused: %s", password, got);
		return;
	}
	ck_assert_msg(got != NULL && strcmp(got, want) == 0, "password \"%s\": got \"%s\"",
	    password, got ? got : "(accepted)");
	ck_assert(password[0] == '\0' || strstr(got, password) == NULL);
}

/* s repeated n times, into a static buffer. */
static const char *
repeat(const char *head, const char *s, int n)
{
	static char buf[512];
	size_t used = (size_t)snprintf(buf, sizeof(buf), "%s", head);

	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s", s);
	return buf;
}

START_TEST(user_name_length)
{
	assert_user("a", NULL);
	assert_user("admin", NULL);
	assert_user("12345678901234567890123456789012", NULL);
	assert_user("123456789012345678901234567890123", MSG_USER_LEN);
	assert_user("", MSG_USER_LEN);
	assert_user(NULL, MSG_USER_LEN);
	/* bytes, not characters: 16 two-byte characters fit, 17 do not */
	assert_user(repeat("", E_ACUTE, 16), NULL);
	assert_user(repeat("", E_ACUTE, 17), MSG_USER_LEN);
	assert_user(repeat("a", E_ACUTE, 16), MSG_USER_LEN);
}
END_TEST

START_TEST(user_name_characters)
{
	assert_user("jean-luc.picard_2@site", NULL);
	assert_user("Jos" E_ACUTE " Mart\xc3\xadnez", NULL);
	assert_user("\xe6\x97\xa5\xe6\x9c\xac", NULL);
	assert_user("a\"b", MSG_USER_CHAR);
	assert_user("a&b", MSG_USER_CHAR);
	assert_user("a;b", MSG_USER_CHAR);
	assert_user("a`b", MSG_USER_CHAR);
	assert_user("\"", MSG_USER_CHAR);
	assert_user("admin`", MSG_USER_CHAR);
	assert_user("ad:min", "the user name must not contain a colon");
	assert_user("a\x01", MSG_USER_CTRL);
	assert_user("a\tb", MSG_USER_CTRL);
	assert_user("a\nb", MSG_USER_CTRL);
	assert_user("a\rb", MSG_USER_CTRL);
	assert_user("\x1b[31m", MSG_USER_CTRL);
	assert_user("a\x1f", MSG_USER_CTRL);
	assert_user("a\x7f", MSG_USER_CTRL);
	/* C1 controls: U+0085 (NEL), U+009F */
	assert_user("a\xc2\x85", MSG_USER_CTRL);
	assert_user("a\xc2\x9f", MSG_USER_CTRL);
	assert_user("a\xc2\xa0", NULL);
	/* not UTF-8: a stray byte, a cut sequence, an overlong '/', a
	 * surrogate, past U+10FFFF */
	assert_user("a\xff", MSG_USER_UTF8);
	assert_user("a\xc3", MSG_USER_UTF8);
	assert_user("a\x80", MSG_USER_UTF8);
	assert_user("a\xc0\xaf", MSG_USER_UTF8);
	assert_user("a\xed\xa0\x80", MSG_USER_UTF8);
	assert_user("a\xf4\x90\x80\x80", MSG_USER_UTF8);
}
END_TEST

START_TEST(password_length)
{
	assert_password("admin", "Abcdef1!", NULL);
	assert_password("admin", "Abcde1!", MSG_PW_LEN);
	assert_password("admin", "Abcdefghijklmnopqrstuvwxyz12345!", NULL);
	assert_password("admin", "Abcdefghijklmnopqrstuvwxyz123456!", MSG_PW_LEN);
	assert_password("admin", "", MSG_PW_LEN);
	ck_assert_str_eq(web_password_problem("admin", NULL), MSG_PW_LEN);
	/* characters, not bytes: 7 characters in 8 bytes is short, 32 in 61
	 * bytes is not long */
	assert_password("admin", "Abcd1x" E_ACUTE, MSG_PW_LEN);
	assert_password("admin", "Abcd1xy" E_ACUTE, NULL);
	assert_password("admin", repeat("Aa1", E_ACUTE, 29), NULL);
	assert_password("admin", repeat("Aa1", E_ACUTE, 30), MSG_PW_LEN);
	/* four-byte characters too (U+1F600) */
	assert_password("admin", repeat("Aa1", "\xf0\x9f\x98\x80", 5), NULL);
	assert_password("admin", repeat("Aa1", "\xf0\x9f\x98\x80", 4), MSG_PW_LEN);
	/* bytes that are not UTF-8 count one each */
	assert_password("admin", "Aa1\xff\xff\xff\xff", MSG_PW_LEN);
	assert_password("admin", "Aa1\xff\xff\xff\xff\xff", NULL);
	assert_password("admin", "Aa1\xe2\x82\xe2\x82\xe2\x82", NULL);
	/* a long password is refused, and not read to its end */
	assert_password("admin", repeat("Aa1", "x", 400), MSG_PW_LEN);
}
END_TEST

START_TEST(password_classes)
{
	assert_password("admin", "abcdefgh", MSG_PW_CLASSES);
	assert_password("admin", "ABCDEFGH", MSG_PW_CLASSES);
	assert_password("admin", "12345678", MSG_PW_CLASSES);
	assert_password("admin", "!@#$%^&*", MSG_PW_CLASSES);
	assert_password("admin", "abcd1234", MSG_PW_CLASSES);
	assert_password("admin", "ABCDabcd", MSG_PW_CLASSES);
	assert_password("admin", "abcd!@#$", MSG_PW_CLASSES);
	assert_password("admin", "ABCD1234", MSG_PW_CLASSES);
	assert_password("admin", "Abcd1234", NULL);
	assert_password("admin", "abcd12!@", NULL);
	assert_password("admin", "ABCD12!@", NULL);
	assert_password("admin", "ABCDab!@", NULL);
	assert_password("admin", "Abcd12!@", NULL);
	/* a blank is a symbol, and so is any non-ASCII character */
	assert_password("admin", "abcd 123", NULL);
	assert_password("admin", "abcd123" E_ACUTE, NULL);
	assert_password("admin", "abcd" E_ACUTE E_ACUTE E_ACUTE E_ACUTE, MSG_PW_CLASSES);
	assert_password("admin", "ABCD" E_ACUTE "1234", NULL);
}
END_TEST

START_TEST(password_user_name)
{
	assert_password("admin", "xxadminX1!", MSG_PW_USER);
	assert_password("admin", "xxAdMiNx1!", MSG_PW_USER);
	assert_password("Admin", "ADMIN123!x", MSG_PW_USER);
	assert_password("admin", "Xy1!admin", MSG_PW_USER);
	assert_password("admin", "admin1!Xy", MSG_PW_USER);
	assert_password("admin", "adm1n123!X", NULL);
	assert_password("admin", "admi-n12X!", NULL);
	assert_password("Jos" E_ACUTE, "x1!JOS" E_ACUTE "yz", MSG_PW_USER);
	/* the password may be the start of the user name without containing it */
	assert_password("Abcd1234xyz", "Abcd1234", NULL);
	/* no user name to compare with */
	assert_password(NULL, "admin123!X", NULL);
	assert_password("", "admin123!X", NULL);
	/* the first rule broken is the one named */
	assert_password("admin", "admin1X", MSG_PW_LEN);
	assert_password("admin", "adminadmin", MSG_PW_CLASSES);
}
END_TEST

/* The fields of a stored hash, each NUL-terminated in a copy of it. */
struct fields {
	char copy[WEB_PASSWORD_HASH_MAX];
	char *f[6];
};

static int
split(const char *stored, struct fields *fs)
{
	char *p, *save = NULL;
	int n = 0;

	ck_assert_uint_lt(strlen(stored), sizeof(fs->copy));
	memcpy(fs->copy, stored, strlen(stored) + 1);
	for (p = strtok_r(fs->copy, "$", &save); p != NULL && n < 6; p = strtok_r(NULL, "$", &save))
		fs->f[n++] = p;
	return n;
}

static size_t
b64_len(const char *s)
{
	uint8_t *b = NULL;
	size_t len = 0;

	ck_assert_int_eq(nvr_b64_decode(s, 64, &b, &len), NVR_OK);
	free(b);
	return len;
}

START_TEST(hash_format_and_verify)
{
	char h[WEB_PASSWORD_HASH_MAX];
	struct fields fs;

	ck_assert_int_eq(web_password_hash("Corr3ct horse!", h), NVR_OK);
	ck_assert_uint_lt(strlen(h), WEB_PASSWORD_HASH_MAX);
	ck_assert_int_eq(split(h, &fs), 6);
	ck_assert_str_eq(fs.f[0], "scrypt");
	ck_assert_str_eq(fs.f[1], "32768");
	ck_assert_str_eq(fs.f[2], "8");
	ck_assert_str_eq(fs.f[3], "1");
	ck_assert_uint_eq(b64_len(fs.f[4]), 16);
	ck_assert_uint_eq(b64_len(fs.f[5]), 32);
	ck_assert(web_password_verify("Corr3ct horse!", h));
	ck_assert(!web_password_verify("corr3ct horse!", h));
	ck_assert(!web_password_verify("Corr3ct horse", h));
	ck_assert(!web_password_verify("", h));
	ck_assert(!web_password_verify(NULL, h));
	ck_assert(!web_password_verify("Corr3ct horse!", NULL));
}
END_TEST

START_TEST(hash_salt_differs)
{
	char a[WEB_PASSWORD_HASH_MAX], b[WEB_PASSWORD_HASH_MAX];
	struct fields fa, fb;

	ck_assert_int_eq(web_password_hash("Same pass 1", a), NVR_OK);
	ck_assert_int_eq(web_password_hash("Same pass 1", b), NVR_OK);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(split(a, &fa), 6);
	ck_assert_int_eq(split(b, &fb), 6);
	ck_assert_str_ne(fa.f[4], fb.f[4]);
	ck_assert_str_ne(fa.f[5], fb.f[5]);
	ck_assert(web_password_verify("Same pass 1", b));
}
END_TEST

/* The stored form of scrypt(password, salt, N, r, p), computed here with
 * OpenSSL's other scrypt interface. */
static void
reference_hash(const char *password, const char *salt, unsigned n, unsigned r, unsigned p,
    char *out, size_t size)
{
	uint8_t key[32];
	char *s64, *k64;

	ck_assert_int_eq(EVP_PBE_scrypt(password, strlen(password), (const uint8_t *)salt,
	    strlen(salt), n, r, p, 0, key, sizeof(key)), 1);
	s64 = nvr_b64_encode((const uint8_t *)salt, strlen(salt));
	k64 = nvr_b64_encode(key, sizeof(key));
	snprintf(out, size, "scrypt$%u$%u$%u$%s$%s", n, r, p, s64, k64);
	free(s64);
	free(k64);
}

START_TEST(verify_reads_the_parameters)
{
	/* RFC 7914 12, third vector, first 32 bytes: the reference is right */
	static const char rfc[] =
	    "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2";
	uint8_t key[32];
	char hex[65], h[WEB_PASSWORD_HASH_MAX];

	ck_assert_int_eq(EVP_PBE_scrypt("pleaseletmein", 13, (const uint8_t *)"SodiumChloride", 14,
	    16384, 8, 1, 0, key, sizeof(key)), 1);
	nvr_hex_encode(key, sizeof(key), hex);
	ck_assert_str_eq(hex, rfc);
	/* N, r and p all differ from ours and from each other */
	reference_hash("Another 1!", "saltsaltsalt", 1024, 4, 3, h, sizeof(h));
	ck_assert(web_password_verify("Another 1!", h));
	ck_assert(!web_password_verify("another 1!", h));
}
END_TEST

/* A stored hash that must not match password, whatever it is. */
static void
assert_no_match(const char *password, const char *stored)
{
	ck_assert_msg(!web_password_verify(password, stored), "\"%s\" matched", stored);
}

START_TEST(tampered_hashes_never_match)
{
	char good[WEB_PASSWORD_HASH_MAX], bad[2 * WEB_PASSWORD_HASH_MAX];
	const char *pw = "Tamper me 1";
	struct fields fs;

	reference_hash(pw, "0123456789abcdef", 16, 1, 1, good, sizeof(good));
	ck_assert(web_password_verify(pw, good));
	ck_assert_int_eq(split(good, &fs), 6);
#define VARIANT(...)                                                                               \
	do {                                                                                       \
		snprintf(bad, sizeof(bad), __VA_ARGS__);                                           \
		assert_no_match(pw, bad);                                                          \
	} while (0)
	/* the base64 fields */
	VARIANT("scrypt$16$1$1$!!!!%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$1$1$%s$%s!", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$1$1$%s$%.43s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$1$1$%s$%.40s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$1$1$%s$ %s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$1$1$%s$%sAAAA", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$1$1$$%s", fs.f[5]);
	VARIANT("scrypt$16$1$1$%s$", fs.f[4]);
	VARIANT("scrypt$16$1$1$AAAA$%s", fs.f[5]);
	VARIANT("scrypt$16$1$1$%s$%s$", fs.f[4], fs.f[5]);
	/* the parameters */
	VARIANT("scrypt$15$1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$17$1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$1$1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$0$1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$016$1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$+16$1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$-16$1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16 $1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$2097152$1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$18446744073709551616$1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$0$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$33$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$1$0$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$1$17$%s$%s", fs.f[4], fs.f[5]);
	/* within each bound, but over the memory or the work allowed: these
	 * return at once instead of allocating 1 GiB or running for minutes */
	VARIANT("scrypt$1048576$8$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$1048576$1$16$%s$%s", fs.f[4], fs.f[5]);
	/* the frame */
	VARIANT("Scrypt$16$1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("bcrypt$16$1$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$1$%s$%s", fs.f[4], fs.f[5]);
	VARIANT("scrypt$16$1$1$%s%s", fs.f[4], fs.f[5]);
	VARIANT("%s", "");
	VARIANT("%s", "scrypt$");
	VARIANT("%s%.100s", good, repeat("", "A", 100));
#undef VARIANT
	/* every truncation */
	for (size_t len = 0; len < strlen(good); len++) {
		snprintf(bad, sizeof(bad), "%.*s", (int)len, good);
		assert_no_match(pw, bad);
	}
	/* one character of the key changed */
	memcpy(bad, good, sizeof(good));
	bad[strlen(bad) - 5] = bad[strlen(bad) - 5] == 'A' ? 'B' : 'A';
	assert_no_match(pw, bad);
}
END_TEST

START_TEST(ha1_rfc7616_example)
{
	char md5[33], sha256[65];

	/* RFC 7616 3.9.1; checked with printf '...' | md5sum and sha256sum */
	ck_assert_int_eq(web_digest_ha1("Mufasa", "http-auth@example.org", "Circle of Life", md5,
	    sha256), NVR_OK);
	ck_assert_str_eq(md5, "3d78807defe7de2157e2b0b6573a855f");
	ck_assert_str_eq(sha256,
	    "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232");
	ck_assert_int_eq(web_digest_ha1("admin", "nvr", "Secr3t!pass", md5, sha256), NVR_OK);
	ck_assert_str_eq(md5, "4a5d191e68f58b915f04c86f385a10a5");
	ck_assert_str_eq(sha256,
	    "9127a5f466e89d9810c8c867084a08dd2e50a332cd479cc5e4262c197f20a3c7");
	/* the separators are there even around empty parts */
	ck_assert_int_eq(web_digest_ha1("user", "", "", md5, sha256), NVR_OK);
	ck_assert_str_eq(md5, "254f45b526fa37ff648a0dbf6df7bae9");
	ck_assert_int_eq(web_digest_ha1(NULL, "nvr", "x", md5, sha256), NVR_ERR_INVAL);
	ck_assert_str_eq(md5, "");
	ck_assert_str_eq(sha256, "");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("password");
	TCase *rules = tcase_create("rules"), *hashes = tcase_create("hashes");

	tcase_add_test(rules, user_name_length);
	tcase_add_test(rules, user_name_characters);
	tcase_add_test(rules, password_length);
	tcase_add_test(rules, password_classes);
	tcase_add_test(rules, password_user_name);
	tcase_add_test(rules, ha1_rfc7616_example);
	suite_add_tcase(s, rules);
	/* scrypt at full cost is slow under the sanitizers */
	tcase_set_timeout(hashes, 120);
	tcase_add_test(hashes, hash_format_and_verify);
	tcase_add_test(hashes, hash_salt_differs);
	tcase_add_test(hashes, verify_reads_the_parameters);
	tcase_add_test(hashes, tampered_hashes_never_match);
	suite_add_tcase(s, hashes);
	return harness_run(s);
}

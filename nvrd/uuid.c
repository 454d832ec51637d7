/*
 * uuid.c: RFC 9562 version 4 UUIDs from OpenSSL's random generator, and
 * version 5 (name-based, SHA-1) ones.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "nvrd/uuid.h"

nvr_err
nvr_uuid_new(nvr_uuid *u)
{
	if (RAND_bytes(u->b, sizeof(u->b)) != 1)
		return NVR_ERR_CRYPTO;
	u->b[6] = (uint8_t)((u->b[6] & 0x0f) | 0x40); /* version 4 */
	u->b[8] = (uint8_t)((u->b[8] & 0x3f) | 0x80); /* variant 10 */
	return NVR_OK;
}

nvr_err
nvr_uuid_name(const nvr_uuid *ns, const char *name, nvr_uuid *u)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, ns->b, sizeof(ns->b)) == 1 && EVP_DigestUpdate(ctx, name, strlen(name)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &len) == 1 && len >= 16;

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return NVR_ERR_CRYPTO;
	memcpy(u->b, md, 16);
	u->b[6] = (uint8_t)((u->b[6] & 0x0f) | 0x50); /* version 5 */
	u->b[8] = (uint8_t)((u->b[8] & 0x3f) | 0x80); /* variant 10 */
	return NVR_OK;
}

void
nvr_uuid_format(const nvr_uuid *u, char buf[NVR_UUID_STRLEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[o++] = '-';
		buf[o++] = hex[u->b[i] >> 4];
		buf[o++] = hex[u->b[i] & 15];
	}
	buf[o] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

nvr_err
nvr_uuid_parse(const char *s, nvr_uuid *u)
{
	size_t i = 0, o = 0;

	if (strlen(s) != 36)
		return NVR_ERR_INVAL;
	while (o < 16) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i++] != '-')
				return NVR_ERR_INVAL;
			continue;
		}
		hi = hexval((unsigned char)s[i]);
		lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return NVR_ERR_INVAL;
		u->b[o++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return NVR_OK;
}

bool
nvr_uuid_is_nil(const nvr_uuid *u)
{
	static const uint8_t zero[16];

	return memcmp(u->b, zero, sizeof(zero)) == 0;
}

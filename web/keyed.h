/*
 * keyed.h: where a key a client chooses (a user name, an address) goes in
 * a fixed-size table. Keyed with HMAC-SHA-256 under a random key per
 * process: with an unkeyed hash (FNV-1a before issue 13) anyone could
 * compute names that share one neighbourhood and crowd a victim's entry
 * out. Used by the lock-out table, the connection counts and the audit
 * flood summaries.
 */
#ifndef NVR_WEB_KEYED_H
#define NVR_WEB_KEYED_H

#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define WEB_KEYED_KEY 32 /* bytes of the per-process key */

/* The slot of text in a table of slots entries (slots > 0). */
static inline uint32_t
web_keyed_index(const uint8_t key[WEB_KEYED_KEY], const char *text, uint32_t slots)
{
	uint8_t mac[32] = { 0 };
	unsigned int n = sizeof(mac);

	HMAC(EVP_sha256(), key, WEB_KEYED_KEY, (const uint8_t *)text, strlen(text), mac, &n);
	return ((uint32_t)mac[0] | (uint32_t)mac[1] << 8 | (uint32_t)mac[2] << 16 | (uint32_t)mac[3] << 24) % slots;
}

#endif

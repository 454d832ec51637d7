/*
 * lockout.c: bounded, thread-safe failure counting for logins.
 * Keys are "user:<name>" and "addr:<address>"; they are never logged here.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "web/keyed.h"
#include "web/lockout.h"

#define PROBES 32

struct slot {
	char key[WEB_LOCKOUT_KEY_MAX];
	int failures;
	int64_t last_ms;   /* last failure; 0: free */
	int64_t until_ms;  /* locked until */
};

struct web_lockout {
	int64_t base_ms;
	uint8_t hash_key[WEB_KEYED_KEY]; /* random per process: clients cannot aim at a slot */
	pthread_mutex_t lock; /* protects slots */
	struct slot slots[WEB_LOCKOUT_SLOTS];
};

nvr_err
web_lockout_new(int64_t base_ms, struct web_lockout **out)
{
	struct web_lockout *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (l == NULL)
		return NVR_ERR_NOMEM;
	if (RAND_bytes(l->hash_key, sizeof(l->hash_key)) != 1) {
		free(l);
		return NVR_ERR_CRYPTO;
	}
	l->base_ms = base_ms;
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return NVR_OK;
}

void
web_lockout_free(struct web_lockout *l)
{
	if (l == NULL)
		return;
	OPENSSL_cleanse(l->hash_key, sizeof(l->hash_key));
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* A login costs a scrypt or a database round trip; one HMAC is nothing
 * beside it. */
static uint32_t
slot_of(const struct web_lockout *l, const char *key)
{
	return web_keyed_index(l->hash_key, key, WEB_LOCKOUT_SLOTS);
}

/* Whether a slot still counts: a lock not yet over, or failures not yet
 * forgotten. */
static bool
live(const struct slot *s, int64_t now_ms)
{
	int64_t since = s->until_ms > s->last_ms ? s->until_ms : s->last_ms;

	return s->last_ms != 0 && now_ms < since + WEB_LOCKOUT_FORGET_MS;
}

/* The key's live slot, or NULL with *room the first free or dead slot of
 * its neighbourhood (NULL: all live). Called with the lock held. */
static struct slot *
find(struct web_lockout *l, uint32_t h, const char *key, int64_t now_ms, struct slot **room)
{
	struct slot *s;

	*room = NULL;
	for (int i = 0; i < PROBES; i++) {
		s = &l->slots[(h + (uint32_t)i) % WEB_LOCKOUT_SLOTS];
		if (!live(s, now_ms)) {
			if (*room == NULL)
				*room = s;
		} else if (strncmp(s->key, key, sizeof(s->key)) == 0) {
			return s;
		}
	}
	return NULL;
}

int64_t
web_lockout_remaining(struct web_lockout *l, const char *key, int64_t now_ms)
{
	uint32_t h = slot_of(l, key);
	struct slot *s, *room;
	int64_t left = 0;

	pthread_mutex_lock(&l->lock);
	if ((s = find(l, h, key, now_ms, &room)) != NULL && s->until_ms > now_ms)
		left = s->until_ms - now_ms;
	else if (s == NULL && room == NULL)
		left = WEB_LOCKOUT_FULL; /* unknown, and no room to count it if it fails */
	pthread_mutex_unlock(&l->lock);
	return left;
}

enum web_lockout_result
web_lockout_fail(struct web_lockout *l, const char *key, int limit, int64_t now_ms)
{
	uint32_t h = slot_of(l, key);
	enum web_lockout_result r = WEB_LOCKOUT_COUNTED;
	struct slot *s, *room;
	int64_t t;

	if (now_ms <= 0)
		now_ms = 1;
	pthread_mutex_lock(&l->lock);
	if ((s = find(l, h, key, now_ms, &room)) == NULL) {
		if ((s = room) == NULL) {
			r = WEB_LOCKOUT_UNTRACKED;
			goto out;
		}
		memset(s, 0, sizeof(*s));
		strncpy(s->key, key, sizeof(s->key) - 1);
	}
	if (s->failures < 1000000)
		s->failures++;
	s->last_ms = now_ms;
	if (s->failures >= limit) {
		t = l->base_ms;
		for (int i = limit; i < s->failures && t < WEB_LOCKOUT_CAP_MS; i++)
			t *= 2;
		s->until_ms = now_ms + (t < WEB_LOCKOUT_CAP_MS ? t : WEB_LOCKOUT_CAP_MS);
		r = WEB_LOCKOUT_LOCKED;
	}
out:
	pthread_mutex_unlock(&l->lock);
	return r;
}

void
web_lockout_clear(struct web_lockout *l, const char *key)
{
	uint32_t h = slot_of(l, key);
	struct slot *s, *room;

	pthread_mutex_lock(&l->lock);
	/* Any time: a cleared key never comes back before a new failure. */
	if ((s = find(l, h, key, INT64_MIN / 2, &room)) != NULL)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&l->lock);
}

int
web_lockout_live(struct web_lockout *l, int64_t now_ms)
{
	int n = 0;

	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < WEB_LOCKOUT_SLOTS; i++)
		n += live(&l->slots[i], now_ms);
	pthread_mutex_unlock(&l->lock);
	return n;
}

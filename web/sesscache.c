/*
 * sesscache.c: a fixed-size table of confirmed sessions, keyed by the
 * SHA-256 of the token (the token itself is never kept).
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "web/sesscache.h"

struct entry {
	uint8_t h[32];
	int64_t checked_ms; /* monotonic; 0: free */
	struct web_user user;
};

/* Users whose sessions were dropped lately; more than this many within
 * WEB_SESSCACHE_TTL_MS only costs the oldest a narrower guard. */
#define DROPPED_MAX 16

struct web_sesscache {
	pthread_mutex_t lock; /* protects slots, dropped and next_dropped */
	struct entry slots[WEB_SESSCACHE_SLOTS];
	struct {
		nvr_uuid user;
		int64_t at_ms; /* 0: free */
	} dropped[DROPPED_MAX];
	unsigned next_dropped;
};

nvr_err
web_sesscache_new(struct web_sesscache **out)
{
	struct web_sesscache *c = calloc(1, sizeof(*c));

	*out = c;
	if (c == NULL)
		return NVR_ERR_NOMEM;
	pthread_mutex_init(&c->lock, NULL);
	return NVR_OK;
}

void
web_sesscache_free(struct web_sesscache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

/* The hash is uniformly random: its first bytes pick the slot. One slot
 * per hash: a collision only costs the evicted session a query. */
static struct entry *
slot(struct web_sesscache *c, const uint8_t h[32])
{
	uint32_t i = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;

	return &c->slots[i % WEB_SESSCACHE_SLOTS];
}

/* Under the lock: whether user's sessions were dropped less than a TTL
 * before now_ms. */
static bool
dropped_lately(const struct web_sesscache *c, const nvr_uuid *user, int64_t now_ms)
{
	for (size_t i = 0; i < DROPPED_MAX; i++) {
		if (c->dropped[i].at_ms != 0 && now_ms - c->dropped[i].at_ms < WEB_SESSCACHE_TTL_MS &&
		    memcmp(c->dropped[i].user.b, user->b, sizeof(user->b)) == 0)
			return true;
	}
	return false;
}

bool
web_sesscache_get(struct web_sesscache *c, const uint8_t h[32], int64_t now_ms, struct web_user *u)
{
	struct entry *e = slot(c, h);
	bool hit;

	pthread_mutex_lock(&c->lock);
	hit = e->checked_ms != 0 && now_ms - e->checked_ms < WEB_SESSCACHE_TTL_MS &&
	    CRYPTO_memcmp(e->h, h, 32) == 0;
	if (hit)
		*u = e->user;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void
web_sesscache_put(struct web_sesscache *c, const uint8_t h[32], int64_t now_ms, const struct web_user *u)
{
	struct entry *e = slot(c, h);

	pthread_mutex_lock(&c->lock);
	if (!dropped_lately(c, &u->id, now_ms)) {
		memcpy(e->h, h, 32);
		e->checked_ms = now_ms > 0 ? now_ms : 1;
		e->user = *u;
	}
	pthread_mutex_unlock(&c->lock);
}

void
web_sesscache_drop(struct web_sesscache *c, const uint8_t h[32])
{
	struct entry *e = slot(c, h);

	pthread_mutex_lock(&c->lock);
	if (CRYPTO_memcmp(e->h, h, 32) == 0)
		memset(e, 0, sizeof(*e));
	pthread_mutex_unlock(&c->lock);
}

void
web_sesscache_drop_user(struct web_sesscache *c, const nvr_uuid *user, int64_t now_ms)
{
	pthread_mutex_lock(&c->lock);
	c->dropped[c->next_dropped].user = *user;
	c->dropped[c->next_dropped].at_ms = now_ms > 0 ? now_ms : 1;
	c->next_dropped = (c->next_dropped + 1) % DROPPED_MAX;
	for (size_t i = 0; i < WEB_SESSCACHE_SLOTS; i++) {
		if (c->slots[i].checked_ms != 0 && memcmp(c->slots[i].user.id.b, user->b, sizeof(user->b)) == 0)
			memset(&c->slots[i], 0, sizeof(c->slots[i]));
	}
	pthread_mutex_unlock(&c->lock);
}

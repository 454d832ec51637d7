/*
 * lockout.c: bounded, thread-safe failure counting for logins.
 * Keys are "user:<name>" and "addr:<address>"; they are never logged here.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "web/lockout.h"

#define PROBES 16

struct slot {
	char key[WEB_LOCKOUT_KEY_MAX];
	int failures;
	int64_t last_ms;   /* last failure; 0: free */
	int64_t until_ms;  /* locked until */
};

struct web_lockout {
	int failures;
	int64_t base_ms;
	pthread_mutex_t lock; /* protects slots */
	struct slot slots[WEB_LOCKOUT_SLOTS];
};

nvr_err
web_lockout_new(int failures, int64_t base_ms, struct web_lockout **out)
{
	struct web_lockout *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (l == NULL)
		return NVR_ERR_NOMEM;
	l->failures = failures;
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
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* FNV-1a: keys come from clients, but a collision only shares a probe run. */
static uint32_t
hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* The key's slot, or with create the oldest slot of its run, taken over.
 * Called with the lock held. */
static struct slot *
find(struct web_lockout *l, const char *key, bool create)
{
	uint32_t h = hash(key);
	struct slot *s, *oldest = NULL;

	for (int i = 0; i < PROBES; i++) {
		s = &l->slots[(h + (uint32_t)i) % WEB_LOCKOUT_SLOTS];
		if (s->last_ms != 0 && strncmp(s->key, key, sizeof(s->key)) == 0)
			return s;
		if (oldest == NULL || s->last_ms < oldest->last_ms)
			oldest = s;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	strncpy(oldest->key, key, sizeof(oldest->key) - 1);
	return oldest;
}

int64_t
web_lockout_remaining(struct web_lockout *l, const char *key, int64_t now_ms)
{
	struct slot *s;
	int64_t left = 0;

	pthread_mutex_lock(&l->lock);
	if ((s = find(l, key, false)) != NULL && s->until_ms > now_ms)
		left = s->until_ms - now_ms;
	pthread_mutex_unlock(&l->lock);
	return left;
}

bool
web_lockout_fail(struct web_lockout *l, const char *key, int64_t now_ms)
{
	struct slot *s;
	int64_t t;
	bool locked = false;

	pthread_mutex_lock(&l->lock);
	s = find(l, key, true);
	s->failures++;
	s->last_ms = now_ms > 0 ? now_ms : 1;
	if (s->failures >= l->failures) {
		t = l->base_ms;
		for (int i = l->failures; i < s->failures && t < WEB_LOCKOUT_CAP_MS; i++)
			t *= 2;
		s->until_ms = now_ms + (t < WEB_LOCKOUT_CAP_MS ? t : WEB_LOCKOUT_CAP_MS);
		locked = true;
	}
	pthread_mutex_unlock(&l->lock);
	return locked;
}

void
web_lockout_clear(struct web_lockout *l, const char *key)
{
	struct slot *s;

	pthread_mutex_lock(&l->lock);
	if ((s = find(l, key, false)) != NULL)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&l->lock);
}

/*
 * listcache.c: a direct-mapped table of listing bodies under one mutex.
 * A lookup copies the body out (16 KiB for an hour of minute segments:
 * a microsecond) so that no entry is shared with a thread still writing
 * it to a client. Two keys sharing a slot replace each other: simpler
 * than an LRU list and as good for a working set smaller than the table.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "web/listcache.h"

#define SLOTS 1024

struct slot {
	char *key;  /* owned; NULL: empty */
	uint64_t gen;
	char *body; /* owned */
	size_t len;
};

struct web_listcache {
	pthread_mutex_t lock; /* protects everything below */
	size_t max_bytes, bytes;
	uint64_t hits, misses;
	struct slot slot[SLOTS];
};

nvr_err
web_listcache_new(size_t max_bytes, struct web_listcache **out)
{
	struct web_listcache *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return NVR_ERR_NOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->max_bytes = max_bytes;
	*out = c;
	return NVR_OK;
}

static void
slot_clear(struct web_listcache *c, struct slot *s)
{
	c->bytes -= s->key != NULL ? s->len : 0;
	free(s->key);
	free(s->body);
	memset(s, 0, sizeof(*s));
}

void
web_listcache_free(struct web_listcache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < SLOTS; i++)
		slot_clear(c, &c->slot[i]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static struct slot *
slot_of(struct web_listcache *c, const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return &c->slot[h % SLOTS];
}

bool
web_listcache_get(struct web_listcache *c, const char *key, uint64_t gen, char **body, size_t *len)
{
	struct slot *s;
	bool hit = false;

	*body = NULL;
	*len = 0;
	pthread_mutex_lock(&c->lock);
	s = slot_of(c, key);
	if (s->key != NULL && strcmp(s->key, key) == 0) {
		if (s->gen != gen)
			slot_clear(c, s);
		else if ((*body = malloc(s->len)) != NULL) {
			memcpy(*body, s->body, s->len);
			*len = s->len;
			hit = true;
		}
	}
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void
web_listcache_put(struct web_listcache *c, const char *key, uint64_t gen, const char *body, size_t len)
{
	struct slot *s, n = { .gen = gen, .len = len };

	/* Copied outside the lock; dropped if they will not fit. */
	if (len > c->max_bytes / 16 || (n.key = strdup(key)) == NULL || (n.body = malloc(len)) == NULL) {
		free(n.key);
		return;
	}
	memcpy(n.body, body, len);
	pthread_mutex_lock(&c->lock);
	s = slot_of(c, key);
	slot_clear(c, s);
	if (c->bytes + len <= c->max_bytes) {
		*s = n;
		c->bytes += len;
		n.key = n.body = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	free(n.key);
	free(n.body);
}

void
web_listcache_counts(struct web_listcache *c, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}

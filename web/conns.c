/*
 * conns.c: open API connections per client address (conns.h).
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "web/conns.h"
#include "web/keyed.h"

#define PROBES 64
#define ADDR_MAX 64

struct entry {
	char addr[ADDR_MAX];
	int open; /* 0: free */
};

struct web_conns {
	int limit;
	uint8_t key[WEB_KEYED_KEY]; /* random per process: no address can aim at a slot */
	pthread_mutex_t lock; /* protects entries and of_fd */
	struct entry entries[WEB_CONNS_ADDRESSES];
	uint16_t of_fd[WEB_CONNS_FDS]; /* entry index + 1 of each counted socket; 0: none */
};

nvr_err
web_conns_new(int limit, struct web_conns **out)
{
	struct web_conns *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return NVR_ERR_NOMEM;
	if (RAND_bytes(c->key, sizeof(c->key)) != 1) {
		free(c);
		return NVR_ERR_CRYPTO;
	}
	c->limit = limit;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return NVR_OK;
}

void
web_conns_free(struct web_conns *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static uint32_t
home_of(const struct web_conns *c, const char *addr)
{
	return web_keyed_index(c->key, addr, WEB_CONNS_ADDRESSES);
}

/* addr's entry, or with room a free one (not yet claimed), or -1. Called
 * locked. */
static int
find(struct web_conns *c, uint32_t home, const char *addr, int *room)
{
	*room = -1;
	for (int i = 0; i < PROBES; i++) {
		int k = (int)((home + (uint32_t)i) % WEB_CONNS_ADDRESSES);

		if (c->entries[k].open == 0) {
			if (*room < 0)
				*room = k;
		} else if (strcmp(c->entries[k].addr, addr) == 0) {
			return k;
		}
	}
	return -1;
}

bool
web_conns_open(struct web_conns *c, int fd, const char *addr)
{
	uint32_t home = home_of(c, addr);
	int k, room;
	bool ok = false;

	if (fd < 0 || fd >= WEB_CONNS_FDS || strlen(addr) >= ADDR_MAX)
		return false;
	pthread_mutex_lock(&c->lock);
	if ((k = find(c, home, addr, &room)) < 0 && (k = room) >= 0)
		snprintf(c->entries[k].addr, ADDR_MAX, "%s", addr);
	if (k >= 0 && c->entries[k].open < c->limit && c->of_fd[fd] == 0) {
		c->entries[k].open++;
		c->of_fd[fd] = (uint16_t)(k + 1);
		ok = true;
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

void
web_conns_close(struct web_conns *c, int fd)
{
	if (fd < 0 || fd >= WEB_CONNS_FDS)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->of_fd[fd] != 0) {
		c->entries[c->of_fd[fd] - 1].open--;
		c->of_fd[fd] = 0;
	}
	pthread_mutex_unlock(&c->lock);
}

int
web_conns_of(struct web_conns *c, const char *addr)
{
	int k, room, n;

	pthread_mutex_lock(&c->lock);
	k = find(c, home_of(c, addr), addr, &room);
	n = k >= 0 ? c->entries[k].open : 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/*
 * sesscache.h: recently checked console sessions, so that a busy console
 * does not cost a database query per request. An entry is trusted for
 * WEB_SESSCACHE_TTL_MS after PostgreSQL last confirmed it; a session ended
 * elsewhere (nvrctl user passwd, another nvrd) is therefore refused within
 * that time, and one ended here (logout, the API's admin calls) at once.
 */
#ifndef NVR_WEB_SESSCACHE_H
#define NVR_WEB_SESSCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "nvrd/err.h"
#include "web/api.h"

#define WEB_SESSCACHE_SLOTS 4096
#define WEB_SESSCACHE_TTL_MS 5000

struct web_sesscache;

nvr_err web_sesscache_new(struct web_sesscache **out);
void web_sesscache_free(struct web_sesscache *c);

/* The user of the session whose token hashes to h, if confirmed less than
 * WEB_SESSCACHE_TTL_MS before now_ms. Thread-safe. */
bool web_sesscache_get(struct web_sesscache *c, const uint8_t h[32], int64_t now_ms, struct web_user *u);
/* Records that the database confirmed the session at now_ms. */
void web_sesscache_put(struct web_sesscache *c, const uint8_t h[32], int64_t now_ms, const struct web_user *u);
/* Forgets a session (logout). */
void web_sesscache_drop(struct web_sesscache *c, const uint8_t h[32]);
/* Forgets every session of a user (its sessions ended, or its role,
 * grants or key holder changed) at now_ms: the next request asks
 * PostgreSQL. For WEB_SESSCACHE_TTL_MS after, put() does not cache that
 * user, so a request that read the database just before the change
 * cannot bring an old entry back. */
void web_sesscache_drop_user(struct web_sesscache *c, const nvr_uuid *user, int64_t now_ms);

#endif

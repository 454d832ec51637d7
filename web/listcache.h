/*
 * listcache.h: recording listings recently sent, kept as the JSON text
 * sent. A console's timeline asks for the same hours again and again, and
 * a listing only changes when a segment of its camera is indexed or
 * removed: each entry carries the camera's generation
 * (stg_index_generation) from before the database was read, and is
 * served only while that generation stands. Access checks and audit rows
 * are never cached: they happen on every request.
 */
#ifndef NVR_WEB_LISTCACHE_H
#define NVR_WEB_LISTCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

#define WEB_LISTCACHE_BYTES ((size_t)8 * 1024 * 1024) /* bodies kept, at most */
#define WEB_LISTCACHE_KEY_MAX 512 /* camera, window, stream (up to 256 bytes), page */

struct web_listcache;

/* At most max_bytes of bodies; free with web_listcache_free(). */
nvr_err web_listcache_new(size_t max_bytes, struct web_listcache **out);
void web_listcache_free(struct web_listcache *c);

/* The body kept for key at generation gen: true and *body a copy the
 * caller frees, or false (none, or an older generation, which is dropped). */
bool web_listcache_get(struct web_listcache *c, const char *key, uint64_t gen, char **body, size_t *len);

/* Keeps a copy of body for key at gen, replacing what shared its slot; a
 * body that does not fit the budget is not kept. */
void web_listcache_put(struct web_listcache *c, const char *key, uint64_t gen, const char *body, size_t len);

/* Hits and misses since start, for /metrics. */
void web_listcache_counts(struct web_listcache *c, uint64_t *hits, uint64_t *misses);

#endif

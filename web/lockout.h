/*
 * lockout.h: failed-login counting per user name and per client address,
 * with lock-outs that grow: after `limit` failures a key is locked for
 * `base_ms`, and each further failure (locked or not) doubles that, up to
 * an hour. Failures are forgotten WEB_LOCKOUT_FORGET_MS after the last
 * one or after the lock ends, whichever is later.
 *
 * Memory is bounded (WEB_LOCKOUT_SLOTS keys), and nobody without the
 * password can make the table forget a key that still counts: slots are
 * chosen by a keyed hash (a random key per process, so a client cannot
 * aim names at one slot), and a slot that holds a live count or lock is
 * never taken over. When a key's neighbourhood is full of live keys, the
 * new key is not tracked and web_lockout_remaining() says so: the caller
 * refuses that login rather than let it be tried uncounted.
 */
#ifndef NVR_WEB_LOCKOUT_H
#define NVR_WEB_LOCKOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "nvrd/err.h"

#define WEB_LOCKOUT_SLOTS 8192
#define WEB_LOCKOUT_KEY_MAX 80
#define WEB_LOCKOUT_CAP_MS (60LL * 60 * 1000)
#define WEB_LOCKOUT_FORGET_MS (15LL * 60 * 1000)
#define WEB_LOCKOUT_ADDR_FACTOR 4 /* an address may fail this many times a user's limit, across names */
#define WEB_LOCKOUT_FULL (-1) /* web_lockout_remaining: the key cannot be counted */

enum web_lockout_result {
	WEB_LOCKOUT_COUNTED, /* counted, not locked */
	WEB_LOCKOUT_LOCKED,  /* counted, and the key is (still) locked */
	WEB_LOCKOUT_UNTRACKED /* no room to count it: the table is full of live keys */
};

struct web_lockout;

/* base_ms: the first lock's length. Caller frees with web_lockout_free(). */
nvr_err web_lockout_new(int64_t base_ms, struct web_lockout **out);
void web_lockout_free(struct web_lockout *l);

/* Milliseconds key stays locked; 0: not locked; WEB_LOCKOUT_FULL: the key
 * is unknown and there is no room to count it. Thread-safe. */
int64_t web_lockout_remaining(struct web_lockout *l, const char *key, int64_t now_ms);
/* Counts a failure for key, locked after `limit` of them. Thread-safe. */
enum web_lockout_result web_lockout_fail(struct web_lockout *l, const char *key, int limit, int64_t now_ms);
/* Forgets key (a right password). */
void web_lockout_clear(struct web_lockout *l, const char *key);
/* Keys with a live count or lock (for /metrics and tests). */
int web_lockout_live(struct web_lockout *l, int64_t now_ms);

#endif

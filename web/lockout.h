/*
 * lockout.h: failed-login counting per user name and per client address,
 * with lock-outs that grow: after `failures` failures in a row a key is
 * locked for `base_ms`, and each further failure doubles that, up to an
 * hour. A success clears the key. Memory is bounded: the table holds
 * WEB_LOCKOUT_SLOTS keys and forgets the oldest.
 */
#ifndef NVR_WEB_LOCKOUT_H
#define NVR_WEB_LOCKOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "nvrd/err.h"

#define WEB_LOCKOUT_SLOTS 4096
#define WEB_LOCKOUT_KEY_MAX 80
#define WEB_LOCKOUT_CAP_MS (60LL * 60 * 1000)

struct web_lockout;

/* Caller frees with web_lockout_free(). */
nvr_err web_lockout_new(int failures, int64_t base_ms, struct web_lockout **out);
void web_lockout_free(struct web_lockout *l);

/* Milliseconds key stays locked (0: not locked). Thread-safe. */
int64_t web_lockout_remaining(struct web_lockout *l, const char *key, int64_t now_ms);
/* Counts a failure; returns true if key is now locked. */
bool web_lockout_fail(struct web_lockout *l, const char *key, int64_t now_ms);
void web_lockout_clear(struct web_lockout *l, const char *key);

#endif

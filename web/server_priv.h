/*
 * server_priv.h: the API server's state, shared by the pipeline
 * (server.c), authentication (auth.c) and the handlers. Not for other
 * modules.
 */
#ifndef NVR_WEB_SERVER_PRIV_H
#define NVR_WEB_SERVER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <civetweb.h>
#include <openssl/ssl.h>

#include "nvrd/config.h"
#include "storage/secret.h"
#include "storage/sign.h"
#include "web/audit.h"
#include "web/digest.h"
#include "web/listcache.h"
#include "web/hostfilter.h"
#include "web/conns.h"
#include "web/lockout.h"
#include "web/pool.h"
#include "web/sesscache.h"
#include "web/server.h"
#include "web/tls.h"

#define WEB_SESSION_COOKIE "nvr_session"
#define WEB_TOKEN_BYTES 32
#define WEB_STATUS_MAX 600

struct web_server {
	const struct nvr_config *cfg;
	const struct stg_secret *secret;
	const struct stg_signer *signer;
	struct mg_context *mg;
	struct web_tls *tls;
	struct web_digest *digest;
	struct web_lockout *lockout;
	struct web_conns *conns; /* open connections per address */
	struct web_audit *audit;
	struct web_pool *pool;
	struct web_sesscache *sessions;
	struct web_listcache *listings;
	struct web_exports *exports;
	uint8_t csrf_key[32]; /* CSRF token = HMAC(csrf_key, session token) */

	pthread_rwlock_t allow_lock; /* protects allow */
	struct web_hostfilter *allow;
	atomic_bool allow_from_db;   /* set through the API: [web] allow is ignored */

	/* Until the first user exists every request is refused; once one is
	 * seen this stays true (a removed last admin is caught by auth). */
	atomic_bool has_users;

	/* for /metrics */
	atomic_uint_fast64_t requests[WEB_STATUS_MAX]; /* by status code */
	atomic_uint_fast64_t auth_failures;
	atomic_uint_fast64_t lockout_untracked; /* failures the full lock-out table could not count */
	atomic_uint_fast64_t refused_connections; /* closed at accept: address refused, or too many open */
};

#endif

/*
 * server.c: the API server's life cycle and its request pipeline:
 * host filter, route, authentication, role, handler (docs/API.md).
 * It holds the TLS key only inside OpenSSL's context, and never logs
 * request headers (they carry credentials).
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/rand.h>

#include "nvrd/log.h"
#include "nvrd/util.h"
#include "storage/db.h"
#include "web/api.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/reqcheck.h"
#include "web/exports.h"
#include "web/server_priv.h"
#include "web/tls.h"

#define NONCE_LIFETIME_MS ((int64_t)5 * 60 * 1000) /* RFC 7616 leaves it to us: long enough for a slow client */
#define DB_WAIT_MS 5000 /* for a free PostgreSQL connection, then 503 */
#define MAX_PORTS 16

/* civetweb's own messages (bind failures, TLS handshake errors). */
static int
log_message(const struct mg_connection *c, const char *msg)
{
	(void)c;
	nvr_log(NVR_LOG_WARNING, "API: %s", msg);
	return 1;
}

static int
external_ssl_ctx(void **ctx, void *user)
{
	struct web_server *s = user;

	/* Called at start (we hand over our context) and at stop (we keep
	 * ownership: 1 tells civetweb not to free it). */
	*ctx = web_tls_ctx(s->tls);
	return 1;
}

/* "::ffff:10.1.2.3" -> "10.1.2.3": one spelling per client, for the host
 * filter, connection counts, lock-outs and the audit log. */
static void
unmap_ipv4(const char *a, char *out, size_t size)
{
	if (strncasecmp(a, "::ffff:", 7) == 0 && strchr(a + 7, '.') != NULL)
		a += 7;
	snprintf(out, size, "%s", a);
}

static void
client_addr(const struct mg_request_info *ri, char *out, size_t size)
{
	unmap_ipv4(ri->remote_addr, out, size);
}

/* A peer's address (a struct sockaddr) as client_addr() spells it. */
static void
sockaddr_text(const void *sa, char *out, size_t size)
{
	const struct sockaddr *a = sa;
	char text[INET6_ADDRSTRLEN] = "";

	if (a->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof(text));
	else if (a->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof(text));
	unmap_ipv4(text, out, size);
}

static bool address_allowed(struct web_server *s, const char *addr);

/* An address turned away before authentication (why: static text, or
 * NULL). A client can cause these at will: a flood is summarised. */
static void
audit_refusal(struct web_server *s, const char *addr, const char *action, const char *object, const char *why)
{
	char detail[160] = "{}";
	struct web_audit_event ev = {
		.actor = "-", .address = addr, .action = action, .object = object,
		.outcome = WEB_AUDIT_DENIED, .detail = detail,
	};

	if (why != NULL)
		snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", why);
	web_audit_record_limited(s->audit, &ev, WEB_AUDIT_FLOOD_FULL);
}

/*
 * civetweb's master thread, for each accepted socket, before it is queued
 * for a worker and before the TLS handshake (our civetweb patch): a
 * refused address, or one with [web] connections_per_address open, is
 * closed at once and costs no worker thread.
 */
static int
socket_accepted(int sock, const void *sa, unsigned int salen, void *user)
{
	struct web_server *s = user;
	char addr[INET6_ADDRSTRLEN];

	(void)salen;
	sockaddr_text(sa, addr, sizeof(addr));
	if (!address_allowed(s, addr)) {
		atomic_fetch_add_explicit(&s->refused_connections, 1, memory_order_relaxed);
		audit_refusal(s, addr, "access.address_refused", "connection", "not in [web] allow");
		return 0;
	}
	if (!web_conns_open(s->conns, sock, addr)) {
		atomic_fetch_add_explicit(&s->refused_connections, 1, memory_order_relaxed);
		audit_refusal(s, addr, "access.connection_limit", "connection", "too many open connections from this address");
		return 0;
	}
	return 1;
}

static void
socket_closed(int sock, void *user)
{
	struct web_server *s = user;

	web_conns_close(s->conns, sock);
}

static bool
address_allowed(struct web_server *s, const char *addr)
{
	bool ok;

	pthread_rwlock_rdlock(&s->allow_lock);
	ok = web_hostfilter_allows(s->allow, addr);
	pthread_rwlock_unlock(&s->allow_lock);
	return ok;
}

/* Whether a route path matches: each "*" stands for one non-empty path
 * segment; the first one's text is copied into arg (NUL-terminated). */
static bool
path_match(const char *pattern, const char *path, char *arg, size_t argsize)
{
	size_t n;
	bool first = true;

	arg[0] = '\0';
	while (*pattern != '\0') {
		if (*pattern != '*') {
			if (*pattern++ != *path++)
				return false;
			continue;
		}
		n = strcspn(path, "/");
		if (n == 0 || n >= argsize)
			return false;
		if (first)
			snprintf(arg, argsize, "%.*s", (int)n, path);
		first = false;
		pattern++;
		path += n;
	}
	return *path == '\0';
}

/*
 * civetweb's own error answers (a request line or header it cannot read,
 * a header past max_request_size, a body length it refuses): the same
 * JSON error with the same security headers as every answer of ours
 * (docs/API.md), instead of its text/plain page. Its message is copied
 * as printable ASCII only: it may quote what the client sent.
 */
static int
http_error(struct mg_connection *conn, int status, const char *msg)
{
	char text[200];
	size_t i = 0;
	const char *code = status == 413 || status == 431 ? "too_large" : status == 408 ? "timeout"
	    : status >= 500                                ? "internal"
	                                                   : "bad_request";

	for (; msg != NULL && msg[i] != '\0' && i + 1 < sizeof(text); i++) {
		text[i] = '?';
		if (msg[i] >= 0x20 && msg[i] < 0x7f)
			text[i] = msg[i];
	}
	text[i] = '\0';
	web_reply_error(conn, status, code, "Connection: close\r\n", "%s",
	    text[0] != '\0' ? text : "the request could not be read");
	return 0;
}

/* The route for the request; NULL with *path_known when only the method
 * is wrong (405). */
static const struct web_route *
find_route(const char *method, const char *path, char *arg, size_t argsize, bool *path_known)
{
	size_t n;
	const struct web_route *routes = web_routes(&n);

	*path_known = false;
	for (size_t i = 0; i < n; i++) {
		if (!path_match(routes[i].path, path, arg, argsize))
			continue;
		*path_known = true;
		if (strcmp(routes[i].method, method) == 0)
			return &routes[i];
	}
	return NULL;
}

/* NVR_OK if an enabled user exists, NVR_ERR_INVAL if none, NVR_ERR_DB if
 * the database cannot say (then the answer is 503 database, never a false
 * "no account"). */
static nvr_err
has_users(struct web_server *s, PGconn *db)
{
	PGresult *res;
	bool yes;

	if (atomic_load(&s->has_users))
		return NVR_OK;
	res = PQexec(db, "SELECT EXISTS (SELECT 1 FROM users WHERE removed_at IS NULL AND NOT disabled)");
	if (stg_db_check(db, res, PGRES_TUPLES_OK, "checking for API users") != NVR_OK)
		return NVR_ERR_DB;
	yes = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (yes)
		atomic_store(&s->has_users, true);
	return yes ? NVR_OK : NVR_ERR_INVAL;
}

static int
refuse_address(struct web_req *r)
{
	audit_refusal(r->srv, r->addr, "access.address_refused", r->ri->local_uri /* as sent */, NULL);
	return web_reply_error(r->conn, 403, "address_refused", NULL,
	    "this client address may not use the API ([web] allow)");
}

/* First account, authentication, role, handler: with r->db held. */
static int
serve(struct web_req *r, const struct web_route *route)
{
	nvr_err users = has_users(r->srv, r->db);
	int rc;

	if (users == NVR_ERR_DB)
		return web_reply_db_error(r->conn);
	if (users != NVR_OK)
		return web_reply_error(r->conn, 503, "no_account", NULL,
		    "no account exists yet: on the recorder, run  nvrctl user add NAME --role admin  to make the first one");
	if (route->roles != 0) {
		if ((rc = web_auth_request(r)) != 0)
			return rc;
		if ((route->roles & r->user.role) == 0) {
			web_req_audit(r, "access.forbidden", r->path, WEB_AUDIT_DENIED, NULL);
			return web_reply_error(r->conn, 403, "forbidden", NULL, "the %s role may not use %s %s",
			    web_role_name(r->user.role), r->ri->request_method, r->path);
		}
	}
	return route->handler(r);
}

static int
dispatch(struct web_req *r)
{
	const struct web_route *route;
	char scratch[16384];
	const char *why;
	bool path_known;
	int rc;

	if (!address_allowed(r->srv, r->addr))
		return refuse_address(r);
	/* civetweb's decode_url is off so that this sees the bytes as sent:
	 * decoded in place, "%00" would cut the path ("/segments/ID%00.json"
	 * served /segments/ID) and leave no trace to check. */
	if ((why = web_target_problem(r->ri->request_uri, r->ri->local_uri, r->ri->query_string, r->path,
	         sizeof(r->path), scratch, sizeof(scratch))) != NULL)
		return web_reply_error(r->conn, 400, "bad_request_target", NULL, "%s", why);
	route = find_route(r->ri->request_method, r->path, r->path_arg, sizeof(r->path_arg), &path_known);
	if (route == NULL && path_known)
		return web_reply_error(r->conn, 405, "method_not_allowed", NULL, "%s is not allowed on %s",
		    r->ri->request_method, r->path);
	if (route == NULL)
		return web_reply_error(r->conn, 404, "not_found", NULL, "no such endpoint: %s", r->path);
	if ((r->db = web_pool_get(r->srv->pool, DB_WAIT_MS)) == NULL)
		return web_reply_error(r->conn, 503, "database", NULL, "the database is unavailable or busy; try again");
	rc = serve(r, route);
	web_pool_put(r->srv->pool, r->db);
	r->db = NULL;
	return rc;
}

static int
begin_request(struct mg_connection *conn)
{
	struct web_req r = {
		.conn = conn,
		.ri = mg_get_request_info(conn),
		.srv = mg_get_user_data(mg_get_context(conn)),
	};

	int status;

	client_addr(r.ri, r.addr, sizeof(r.addr));
	status = dispatch(&r);
	web_body_forget(); /* a body read early for Digest qop=auth-int */
	if (status >= 100 && status < WEB_STATUS_MAX)
		atomic_fetch_add_explicit(&r.srv->requests[status], 1, memory_order_relaxed);
	return status;
}

/* [web] listen ("+8443, 127.0.0.1:9443") as civetweb's listening_ports,
 * every entry TLS ("+8443s,127.0.0.1:9443s"). */
static nvr_err
ports_option(const char *listen, char *out, size_t size)
{
	char copy[1024], *save = NULL, *tok;
	size_t used = 0;
	int n;

	if (strlen(listen) >= sizeof(copy))
		return NVR_ERR_TOOBIG;
	snprintf(copy, sizeof(copy), "%s", listen);
	out[0] = '\0';
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		tok = nvr_trim(tok);
		if (*tok == '\0')
			continue;
		if (strspn(tok, "0123456789abcdefABCDEF.:[]+") != strlen(tok))
			return NVR_ERR_INVAL;
		n = snprintf(out + used, size - used, "%s%ss", used > 0 ? "," : "", tok);
		if (n < 0 || (size_t)n >= size - used)
			return NVR_ERR_TOOBIG;
		used += (size_t)n;
	}
	return used > 0 ? NVR_OK : NVR_ERR_INVAL;
}

/* One line per [web] listen entry, in order, with the port it got (port 0
 * picks one: tests read it from this line). */
static void
log_ports(struct web_server *s)
{
	struct mg_server_port ports[MAX_PORTS];
	int n = mg_get_server_ports(s->mg, MAX_PORTS, ports), i = 0;
	char copy[1024], *save = NULL, *tok, *colon;
	const char *where;

	snprintf(copy, sizeof(copy), "%s", s->cfg->web_listen);
	for (tok = strtok_r(copy, ",", &save); tok != NULL && i < n; tok = strtok_r(NULL, ",", &save)) {
		tok = nvr_trim(tok);
		if (*tok == '\0')
			continue;
		if ((colon = strrchr(tok, ':')) != NULL && strchr(colon, ']') == NULL) {
			*colon = '\0';
			where = tok;
		} else {
			where = tok[0] == '+' ? "every IPv4 and IPv6 address" : "every IPv4 address";
		}
		nvr_log(NVR_LOG_NOTICE, "HTTPS API listening on %s port %d", where, ports[i++].port);
	}
}

static nvr_err
start_civetweb(struct web_server *s)
{
	char ports[1100], threads[16];
	const char *opts[] = {
		"listening_ports", ports,
		"num_threads", threads,
		"enable_keep_alive", "yes",
		/* An idle keep-alive client holds a civetweb thread: not for long. */
		"keep_alive_timeout_ms", "5000",
		/* Reading a request line, header or body, and the TLS handshake:
		 * a client that stalls longer than this is cut off (slow-loris
		 * clients each hold a worker thread meanwhile). */
		"request_timeout_ms", "5000",
		"max_request_size", "16384",
		"listen_backlog", "512",
		/* An absolute-form request line reaches us (and gets a 400 that
		 * says why) instead of a silent close when its host is not
		 * civetweb's authentication_domain. */
		"enable_auth_domain_check", "no",
		"decode_url", "no", /* web_target_problem() decodes, after checking */
		"tcp_nodelay", "1", /* replies are written whole: Nagle would only add delayed-ACK stalls */
		"enable_directory_listing", "no",
		NULL,
	};
	struct mg_callbacks cb = {
		.begin_request = begin_request,
		.log_message = log_message,
		.http_error = http_error,
		.socket_accepted = socket_accepted,
		.socket_closed = socket_closed,
		.external_ssl_ctx = external_ssl_ctx,
	};
	struct mg_init_data init = { .callbacks = &cb, .user_data = s, .configuration_options = opts };
	struct mg_error_data err = { 0 };
	char why[256] = "";

	if (ports_option(s->cfg->web_listen, ports, sizeof(ports)) != NVR_OK) {
		nvr_log_ex(NVR_LOG_ERROR, NULL, "e.g. listen = +8443, or 127.0.0.1:8443, [::1]:8443",
		    "[web] listen '%s' is not a list of ports or addresses with ports", s->cfg->web_listen);
		return NVR_ERR_CONFIG;
	}
	snprintf(threads, sizeof(threads), "%lld", (long long)s->cfg->web_threads);
	err.text = why;
	err.text_buffer_size = sizeof(why);
	if ((s->mg = mg_start2(&init, &err)) == NULL) {
		nvr_log_ex(NVR_LOG_ERROR, why, "check [web] listen: is another program using the port?",
		    "cannot start the HTTPS API");
		return NVR_ERR_CONFIG;
	}
	log_ports(s);
	return NVR_OK;
}

/* web.allow from the settings table, if an admin set it through the API:
 * it wins over [web] allow. A value that no longer parses keeps the file's. */
static void
load_allow(struct web_server *s)
{
	PGconn *db = web_pool_get(s->pool, DB_WAIT_MS);
	struct web_hostfilter *f = NULL;
	PGresult *res;
	json_t *v;
	char why[256];

	if (db == NULL)
		return;
	res = PQexec(db, "SELECT value::text FROM settings WHERE name = 'web.allow'");
	if (stg_db_check(db, res, PGRES_TUPLES_OK, "reading web.allow") == NVR_OK) {
		v = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY, NULL) : NULL;
		if (json_is_string(v) && web_hostfilter_parse(json_string_value(v), &f, why, sizeof(why)) == NVR_OK) {
			web_hostfilter_free(s->allow);
			s->allow = f;
			atomic_store(&s->allow_from_db, true);
			nvr_log(NVR_LOG_NOTICE, "API host filter: '%s', as set through the API ([web] allow is not used)",
			    json_string_value(v));
		} else if (v != NULL) {
			nvr_log(NVR_LOG_ERROR, "the web.allow setting in the database is not valid; using [web] allow");
		}
		json_decref(v);
		PQclear(res);
	}
	web_pool_put(s->pool, db);
}

nvr_err
web_server_start(const struct nvr_config *cfg, const struct stg_secret *secret, const struct stg_signer *signer,
    struct web_server **out)
{
	struct web_server *s;
	char why[256];
	nvr_err rc;

	*out = NULL;
	if (cfg->web_listen[0] == '\0') {
		nvr_log(NVR_LOG_NOTICE, "[web] listen is empty: no HTTPS API");
		return NVR_OK;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NVR_ERR_NOMEM;
	s->cfg = cfg;
	s->secret = secret;
	s->signer = signer;
	pthread_rwlock_init(&s->allow_lock, NULL);
	if (web_hostfilter_parse(cfg->web_allow, &s->allow, why, sizeof(why)) != NVR_OK) {
		nvr_log_ex(NVR_LOG_ERROR, why, NULL, "[web] allow is not a list of addresses and networks");
		rc = NVR_ERR_CONFIG;
		goto fail;
	}
	if ((rc = web_tls_new(cfg->web_tls_cert, cfg->web_tls_key, cfg->web_tls_compat, &s->tls)) != NVR_OK ||
	    (rc = web_digest_new(NONCE_LIFETIME_MS, &s->digest)) != NVR_OK ||
	    (rc = web_lockout_new(cfg->web_lockout_ms, &s->lockout)) != NVR_OK ||
	    (rc = web_conns_new((int)cfg->web_connections_per_address, &s->conns)) != NVR_OK ||
	    (rc = web_pool_new(cfg->db_conninfo, (int)cfg->web_db_connections, &s->pool)) != NVR_OK ||
	    (rc = web_sesscache_new(&s->sessions)) != NVR_OK ||
	    (rc = web_listcache_new(WEB_LISTCACHE_BYTES, &s->listings)) != NVR_OK ||
	    (rc = web_audit_start(cfg->db_conninfo, signer, &s->audit)) != NVR_OK ||
	    (rc = web_exports_new(cfg, signer, s->audit, &s->exports)) != NVR_OK)
		goto fail;
	load_allow(s);
	if (mg_init_library(MG_FEATURES_TLS | MG_FEATURES_IPV6) == 0) {
		rc = NVR_ERR_INTERNAL;
		goto fail;
	}
	if ((rc = start_civetweb(s)) != NVR_OK) {
		mg_exit_library();
		goto fail;
	}
	if (web_hostfilter_count(s->allow) == 0)
		nvr_log(NVR_LOG_NOTICE, "[web] allow is empty: any client address may try to log in");
	*out = s;
	return NVR_OK;
fail:
	web_server_stop(s);
	return rc;
}

nvr_err
web_server_set_allow(struct web_server *s, const char *allow)
{
	struct web_hostfilter *next = NULL, *old;
	char why[256];

	if (s == NULL)
		return NVR_OK;
	if (atomic_load(&s->allow_from_db)) {
		nvr_log_ex(NVR_LOG_WARNING, NULL, "see GET /api/v1/settings; change it with PUT /api/v1/settings/web.allow",
		    "[web] allow in the file is not used: the host filter was set through the API");
		return NVR_OK;
	}
	if (web_hostfilter_parse(allow, &next, why, sizeof(why)) != NVR_OK) {
		nvr_log_ex(NVR_LOG_ERROR, why, NULL, "[web] allow not changed: the new list is invalid");
		return NVR_ERR_CONFIG;
	}
	pthread_rwlock_wrlock(&s->allow_lock);
	old = s->allow;
	s->allow = next;
	pthread_rwlock_unlock(&s->allow_lock);
	web_hostfilter_free(old);
	nvr_log(NVR_LOG_NOTICE, "API host filter in effect: '%s'", allow);
	return NVR_OK;
}

void
web_server_reload_tls(struct web_server *s)
{
	char fp[65] = "";
	bool changed;

	if (s != NULL && web_tls_reload(s->tls, fp, &changed) == NVR_OK && changed)
		nvr_log(NVR_LOG_NOTICE, "API TLS certificate %s loaded (SHA-256 %s); new connections use it",
		    s->cfg->web_tls_cert, fp);
}

void
web_server_stop(struct web_server *s)
{
	if (s == NULL)
		return;
	if (s->mg != NULL) {
		mg_stop(s->mg);
		mg_exit_library();
	}
	web_exports_free(s->exports); /* before the audit writer: jobs audit how they end */
	web_audit_stop(s->audit);
	web_pool_free(s->pool);
	web_sesscache_free(s->sessions);
	web_listcache_free(s->listings);
	web_lockout_free(s->lockout);
	web_conns_free(s->conns); /* after mg_stop: no socket is open */
	web_digest_free(s->digest);
	web_tls_free(s->tls);
	web_hostfilter_free(s->allow);
	pthread_rwlock_destroy(&s->allow_lock);
	free(s);
}

/*
 * http.h: what every API handler uses to read a request and answer it:
 * bounded bodies and query parameters, JSON replies with the security
 * headers every response carries, and JSON errors with a stable code.
 */
#ifndef NVR_WEB_HTTP_H
#define NVR_WEB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <civetweb.h>
#include <jansson.h>

#include "nvrd/err.h"

#define WEB_BODY_MAX ((size_t)64 * 1024) /* bytes of a JSON request body */
#define WEB_QUERY_VALUE_MAX 256          /* bytes of one query parameter */
#define WEB_PAGE_MAX 1000                /* items in one page of a listing */
#define WEB_PAGE_DEFAULT 100

/*
 * Sends a complete response: status, the security headers (HSTS, nosniff,
 * frame denial, CSP, no-store, no referrer), content type and length, any
 * extra header lines (each ending in CRLF, may be NULL), and the body.
 * Returns status, for civetweb's begin_request.
 */
int web_reply(struct mg_connection *c, int status, const char *type, const char *extra, const void *body,
    size_t len);

/* Sends only the status line and headers (as web_reply) for a body of
 * len bytes that the caller writes next. */
int web_reply_head(struct mg_connection *c, int status, const char *type, const char *extra, uint64_t len);

/* An RFC 3339 UTC time, "2026-11-22T05:00:00Z" with or without up to 6
 * digits of fraction, as nanoseconds since the epoch. */
bool web_parse_time(const char *s, int64_t *ns);

/* Sends json (taking the reference) as application/json. */
int web_reply_json(struct mg_connection *c, int status, json_t *json, const char *extra);

/* 503 "database": PostgreSQL could not answer (the cause is logged where
 * it happened). */
int web_reply_db_error(struct mg_connection *c);

/* Sends {"error": {"code": code, "message": message}}. code is one of the
 * stable codes in docs/API.md; message is for people and never holds a
 * secret. */
int web_reply_error(struct mg_connection *c, int status, const char *code, const char *extra, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Reads a JSON object body: Content-Type application/json (which, since we
 * send no CORS headers, a browser cannot send across sites without a
 * preflight we refuse), at most WEB_BODY_MAX bytes. On failure the error
 * reply has been sent, *status is its status, and NULL is returned.
 * Caller json_decref()s.
 */
json_t *web_read_json(struct mg_connection *c, int *status);

/*
 * The whole request body, read once per request: by Digest qop=auth-int
 * (which hashes it) before the handler, and by web_read_json(). At most
 * WEB_BODY_MAX bytes, by Content-Length (none: empty). *body points into
 * a buffer this worker thread keeps for the request; web_body_forget()
 * wipes and frees it (begin_request does, after each request: a body may
 * hold a password). false if the body is longer than WEB_BODY_MAX (*body
 * NULL), there is no memory (*body NULL), or it was cut short (*body holds
 * the *len bytes that came).
 */
bool web_body_read(struct mg_connection *c, const char **body, size_t *len);
void web_body_forget(void);

/* Whether every member of the object body is named in known (a NULL-
 * terminated list). If not, 400 unknown_field naming it and what the call
 * takes has been sent, and *status is its status. */
bool web_json_known(struct mg_connection *c, json_t *body, const char *const *known, int *status);

/*
 * Copies query parameter name into out (URL-decoded, at most size - 1
 * bytes). false if it is absent; NVR_ERR_TOOBIG-style failures (too long)
 * set *bad. Repeated parameters: the first wins.
 */
bool web_query(const struct mg_connection *c, const char *name, char *out, size_t size, bool *bad);

/* A listing's page: ?limit=N (1..WEB_PAGE_MAX) and ?offset=N (>= 0), as
 * numbers and as text for SQL parameters. */
struct web_page {
	int64_t limit, offset;
	char limit_text[24], offset_text[24];
};

/* Reads the page of this request; false, with the error sent, if either
 * parameter is malformed. */
bool web_page(struct mg_connection *c, struct web_page *pg);

#endif

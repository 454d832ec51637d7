/*
 * http.c: request reading and response writing for the API handlers.
 * Every response goes through web_reply(), so no handler can forget a
 * security header.
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "nvrd/util.h"
#include "storage/manifest.h"
#include "web/http.h"

/* The console is served from this origin only: no inline script, no
 * framing, no plug-ins. HSTS for a year (RFC 6797). */
static const char security_headers[] =
    "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n"
    "Cross-Origin-Resource-Policy: same-origin\r\n"
    "Cache-Control: no-store\r\n";

/* Bodies up to this size go out in the same write as the headers. */
#define WEB_REPLY_JOIN_MAX ((size_t)64 * 1024)

static const char *
reason(int status)
{
	const char *r = mg_get_response_code_text(NULL, status);

	return r != NULL ? r : "";
}

int
web_reply(struct mg_connection *c, int status, const char *type, const char *extra, const void *body, size_t len)
{
	char head[2048], *buf;
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
	    status, reason(status), security_headers, type, len, extra != NULL ? extra : "");

	if (n < 0 || (size_t)n >= sizeof(head)) { /* our own headers only: a bug */
		mg_printf(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
		return 500;
	}
	/* HEAD: the same headers, no body (RFC 9110 9.3.2). */
	const char *method = mg_get_request_info(c)->request_method; /* NULL: no request line was read */

	if (method != NULL && strcmp(method, "HEAD") == 0)
		len = 0;
	/* One write for head and body: one TLS record, one segment. */
	if (len > 0 && len <= WEB_REPLY_JOIN_MAX && (buf = malloc((size_t)n + len)) != NULL) {
		memcpy(buf, head, (size_t)n);
		memcpy(buf + n, body, len);
		mg_write(c, buf, (size_t)n + len);
		free(buf);
		return status;
	}
	mg_write(c, head, (size_t)n);
	if (len > 0)
		mg_write(c, body, len);
	return status;
}

int
web_reply_head(struct mg_connection *c, int status, const char *type, const char *extra, uint64_t len)
{
	mg_printf(c, "HTTP/1.1 %d %s\r\n%sContent-Type: %s\r\nContent-Length: %llu\r\n%s\r\n", status,
	    reason(status), security_headers, type, (unsigned long long)len, extra != NULL ? extra : "");
	return status;
}

bool
web_parse_time(const char *s, int64_t *ns)
{
	return stg_time_parse_utc(s, ns) == NVR_OK;
}

int
web_reply_json(struct mg_connection *c, int status, json_t *json, const char *extra)
{
	char *text = json != NULL ? json_dumps(json, JSON_COMPACT) : NULL;
	int rc;
	static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";

	json_decref(json);
	if (text == NULL)
		return web_reply(c, 503, "application/json", NULL, oom, sizeof(oom) - 1);
	rc = web_reply(c, status, "application/json", extra, text, strlen(text));
	free(text);
	return rc;
}

int
web_reply_db_error(struct mg_connection *c)
{
	return web_reply_error(c, 503, "database", NULL, "the database is unavailable; try again");
}

int
web_reply_error(struct mg_connection *c, int status, const char *code, const char *extra, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return web_reply_json(c, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg), extra);
}

static bool
is_json_type(const char *type)
{
	size_t n = strlen("application/json");

	return type != NULL && strncasecmp(type, "application/json", n) == 0 && (type[n] == '\0' || type[n] == ';');
}

/* The body web_body_read() read, for the request this worker thread
 * serves (civetweb serves one request at a time per thread). */
static _Thread_local struct {
	const struct mg_connection *conn;
	char *buf;
	size_t len;
} prefetched;

bool
web_body_read(struct mg_connection *c, const char **body, size_t *len)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	size_t want = ri->content_length > 0 ? (size_t)ri->content_length : 0;
	int n;

	if (prefetched.conn != c) {
		web_body_forget();
		*body = NULL;
		*len = 0;
		if (want > WEB_BODY_MAX || (prefetched.buf = malloc(want + 1)) == NULL)
			return false;
		while (prefetched.len < want && (n = mg_read(c, prefetched.buf + prefetched.len, want - prefetched.len)) > 0)
			prefetched.len += (size_t)n;
		prefetched.conn = c;
	}
	*body = prefetched.buf;
	*len = prefetched.len;
	return prefetched.len == want;
}

void
web_body_forget(void)
{
	if (prefetched.buf != NULL) {
		OPENSSL_cleanse(prefetched.buf, prefetched.len);
		free(prefetched.buf);
	}
	memset(&prefetched, 0, sizeof(prefetched));
}

json_t *
web_read_json(struct mg_connection *c, int *status)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *body = NULL;
	size_t len = 0;
	json_t *j = NULL;
	json_error_t err;

	if (!is_json_type(mg_get_header(c, "Content-Type"))) {
		*status = web_reply_error(c, 415, "unsupported_media_type", NULL, "the request body must be application/json");
		return NULL;
	}
	if (ri->content_length < 0 || (uint64_t)ri->content_length > WEB_BODY_MAX) {
		*status = web_reply_error(c, ri->content_length < 0 ? 411 : 413, "body_size", NULL,
		    "a JSON body with a Content-Length of at most %zu bytes is required", WEB_BODY_MAX);
		return NULL;
	}
	if (!web_body_read(c, &body, &len) && body == NULL) {
		*status = web_reply_error(c, 503, "internal", NULL, "out of memory");
		return NULL;
	}
	/* The body may hold a password: begin_request() wipes it with
	 * web_body_forget() once the request is answered. */
	if (len == (size_t)ri->content_length)
		j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		*status = web_reply_error(c, 400, "bad_json", NULL, "the body is not a JSON object%s%s",
		    len == (size_t)ri->content_length ? ": " : " (truncated)",
		    len == (size_t)ri->content_length ? err.text : "");
		return NULL;
	}
	return j;
}

static bool
is_known(const char *const *known, const char *key)
{
	for (size_t i = 0; known[i] != NULL; i++)
		if (strcmp(known[i], key) == 0)
			return true;
	return false;
}

bool
web_json_known(struct mg_connection *c, json_t *body, const char *const *known, int *status)
{
	const char *key;
	char list[512] = "";
	size_t used = 0;
	json_t *v;

	json_object_foreach (body, key, v) {
		if (is_known(known, key))
			continue;
		for (size_t i = 0; known[i] != NULL && used < sizeof(list); i++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i > 0 ? ", " : "", known[i]);
		*status = web_reply_error(c, 400, "unknown_field", NULL, "unknown field \"%.64s\": this call takes %s", key,
		    list);
		return false;
	}
	return true;
}

bool
web_query(const struct mg_connection *c, const char *name, char *out, size_t size, bool *bad)
{
	const char *q = mg_get_request_info(c)->query_string;
	int n;

	if (q == NULL)
		return false;
	n = mg_get_var(q, strlen(q), name, out, size);
	if (n == -2 || n == -3)
		*bad = true;
	return n >= 0;
}

static bool
page_param(struct mg_connection *c, const char *name, int64_t min, int64_t max, int64_t *v)
{
	char buf[32];
	bool bad = false;
	long n;
	const char *end;

	if (!web_query(c, name, buf, sizeof(buf), &bad) && !bad)
		return true;
	if (bad || !nvr_parse_num(buf, &end, (long)min, (long)max, &n) || *end != '\0') {
		web_reply_error(c, 400, "bad_parameter", NULL, "%s must be a whole number from %lld to %lld", name,
		    (long long)min, (long long)max);
		return false;
	}
	*v = n;
	return true;
}

bool
web_page(struct mg_connection *c, struct web_page *pg)
{
	pg->limit = WEB_PAGE_DEFAULT;
	pg->offset = 0;
	if (!page_param(c, "limit", 1, WEB_PAGE_MAX, &pg->limit) || !page_param(c, "offset", 0, 1000000000, &pg->offset))
		return false;
	snprintf(pg->limit_text, sizeof(pg->limit_text), "%lld", (long long)pg->limit);
	snprintf(pg->offset_text, sizeof(pg->offset_text), "%lld", (long long)pg->offset);
	return true;
}

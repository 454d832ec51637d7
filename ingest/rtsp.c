/*
 * rtsp.c: incremental RTSP/1.0 message and interleaved-frame parser, and
 * the small value parsers around it (Session, Public, URLs).
 * It must never read past the bytes it was given nor accept a length
 * beyond the bounds in rtsp.h; a malformed stream is refused, not guessed.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest/rtsp.h"
#include "nvrd/util.h"

static bool
is_token_char(int c)
{
	return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

/* Where the header block ends: the index just past "\r\n\r\n" (or a bare
 * "\n\n", which some cameras send), or 0 if not within n bytes. */
static size_t
head_end(const uint8_t *b, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i - 1] == '\n')
			return i + 1;
		if (i >= 2 && b[i - 1] == '\r' && b[i - 2] == '\n')
			return i + 1;
	}
	return 0;
}

static nvr_err
parse_start_line(char *line, struct ing_rtsp_msg *m, const char **why)
{
	char *sp, *end;
	long st;

	if (strncmp(line, "RTSP/", 5) == 0) {
		if (strncmp(line, "RTSP/1.0 ", 9) != 0 && strncmp(line, "RTSP/1.1 ", 9) != 0) {
			*why = "not an RTSP/1.0 status line";
			return NVR_ERR_INVAL;
		}
		errno = 0;
		st = strtol(line + 9, &end, 10);
		if (errno != 0 || end != line + 12 || st < 100 || st > 599 || (*end != ' ' && *end != '\0')) {
			*why = "bad status code";
			return NVR_ERR_INVAL;
		}
		m->status = (int)st;
		m->reason = nvr_trim(end);
		return NVR_OK;
	}
	/* A request from the server (e.g. GET_PARAMETER, ANNOUNCE). */
	sp = strchr(line, ' ');
	if (sp == NULL || sp == line) {
		*why = "neither a status line nor a request line";
		return NVR_ERR_INVAL;
	}
	*sp = '\0';
	for (char *c = line; *c; c++) {
		if (!is_token_char((unsigned char)*c)) {
			*why = "bad method name";
			return NVR_ERR_INVAL;
		}
	}
	m->method = line;
	return NVR_OK;
}

static nvr_err
parse_header_line(char *line, struct ing_rtsp_msg *m, const char **why)
{
	char *colon = strchr(line, ':');

	if (colon == NULL || colon == line) {
		*why = "header line without a name and ':'";
		return NVR_ERR_INVAL;
	}
	*colon = '\0';
	for (char *c = line; *c; c++) {
		if (!is_token_char((unsigned char)*c)) {
			*why = "bad header name";
			return NVR_ERR_INVAL;
		}
	}
	if (m->nheaders == ING_RTSP_MAX_HEADERS) {
		*why = "too many header lines";
		return NVR_ERR_INVAL;
	}
	m->headers[m->nheaders].name = line;
	m->headers[m->nheaders].value = nvr_trim(colon + 1);
	m->nheaders++;
	return NVR_OK;
}

/* Splits the header block (already in scratch, NUL-terminated) into lines
 * and parses them. Folded lines (starting with a space) join the line
 * before (RFC 2326 4.1 via RFC 822). */
static nvr_err
parse_head(char *s, struct ing_rtsp_msg *m, const char **why)
{
	char *line = s, *nl;
	bool first = true;
	nvr_err rc;

	for (char *p = s; (p = strchr(p, '\n')) != NULL; p++) {
		if (p[1] == ' ' || p[1] == '\t') {
			*p = ' ';
			if (p > s && p[-1] == '\r')
				p[-1] = ' ';
		}
	}
	while (*line != '\0') {
		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if ((size_t)(nl - line) > ING_RTSP_MAX_LINE) {
			*why = "header line too long";
			return NVR_ERR_INVAL;
		}
		if (*line == '\0')
			break; /* the blank line */
		rc = first ? parse_start_line(line, m, why) : parse_header_line(line, m, why);
		if (rc != NVR_OK)
			return rc;
		first = false;
		line = nl + 1;
	}
	if (first) {
		*why = "empty message";
		return NVR_ERR_INVAL;
	}
	return NVR_OK;
}

static nvr_err
content_length(const struct ing_rtsp_msg *m, size_t *len, const char **why)
{
	const char *v = ing_rtsp_header(m, "Content-Length");
	char *end;
	unsigned long n;

	*len = 0;
	if (v == NULL)
		return NVR_OK;
	if (!isdigit((unsigned char)v[0])) {
		*why = "bad Content-Length";
		return NVR_ERR_INVAL;
	}
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || n > ING_RTSP_MAX_BODY) {
		*why = "Content-Length missing digits or over 64 KiB";
		return NVR_ERR_INVAL;
	}
	*len = n;
	return NVR_OK;
}

static nvr_err
parse_frame(const uint8_t *buf, size_t len, struct ing_rtsp_item_info *it)
{
	size_t n;

	if (len < 4)
		return NVR_OK;
	n = (size_t)buf[2] << 8 | buf[3];
	if (len < 4 + n)
		return NVR_OK;
	it->kind = ING_RTSP_FRAME;
	it->channel = buf[1];
	it->data = buf + 4;
	it->len = n;
	it->consumed = 4 + n;
	return NVR_OK;
}

nvr_err
ing_rtsp_parse(const uint8_t *buf, size_t len, char *scratch, struct ing_rtsp_msg *m,
    struct ing_rtsp_item_info *it, const char **why)
{
	size_t end, body;
	nvr_err rc;

	*why = NULL;
	*it = (struct ing_rtsp_item_info){ .kind = ING_RTSP_NEED_MORE };
	if (len == 0)
		return NVR_OK;
	if (buf[0] == '$')
		return parse_frame(buf, len, it);
	end = head_end(buf, len < ING_RTSP_MAX_HEAD ? len : ING_RTSP_MAX_HEAD);
	if (end == 0) {
		if (len >= ING_RTSP_MAX_HEAD) {
			*why = "message header over 16 KiB";
			return NVR_ERR_INVAL;
		}
		if (memchr(buf, '\0', len) != NULL) {
			*why = "NUL byte in a message header";
			return NVR_ERR_INVAL;
		}
		return NVR_OK;
	}
	if (memchr(buf, '\0', end) != NULL) {
		*why = "NUL byte in a message header";
		return NVR_ERR_INVAL;
	}
	memcpy(scratch, buf, end);
	scratch[end] = '\0';
	*m = (struct ing_rtsp_msg){ 0 };
	if ((rc = parse_head(scratch, m, why)) != NVR_OK || (rc = content_length(m, &body, why)) != NVR_OK)
		return rc;
	if (len - end < body)
		return NVR_OK; /* the body is still coming */
	m->body = buf + end;
	m->body_len = body;
	it->kind = ING_RTSP_MESSAGE;
	it->consumed = end + body;
	return NVR_OK;
}

const char *
ing_rtsp_header(const struct ing_rtsp_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nheaders; i++) {
		if (strcasecmp(m->headers[i].name, name) == 0)
			return m->headers[i].value;
	}
	return NULL;
}

nvr_err
ing_rtsp_parse_session(const char *v, char *id, size_t idsize, int *timeout)
{
	size_t n = strcspn(v, "; \t");
	const char *t;
	long secs;

	*timeout = 60; /* RFC 2326 12.37 */
	if (n == 0 || n >= idsize)
		return NVR_ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isgraph((unsigned char)v[i]))
			return NVR_ERR_INVAL;
	}
	memcpy(id, v, n);
	id[n] = '\0';
	t = strcasestr(v + n, "timeout=");
	if (t != NULL) {
		secs = strtol(t + 8, NULL, 10);
		if (secs >= 1 && secs <= 3600)
			*timeout = (int)secs;
	}
	return NVR_OK;
}

bool
ing_rtsp_public_has(const char *value, const char *method)
{
	size_t n = strlen(method);

	for (const char *p = value; *p;) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (strncasecmp(p, method, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

static nvr_err
parse_authority(const char *a, size_t len, struct ing_rtsp_url *u, const char **why)
{
	const char *port = NULL, *hend;
	char *end;
	long p;

	if (memchr(a, '@', len) != NULL) {
		*why = "user or password in the URL; give them separately";
		return NVR_ERR_INVAL;
	}
	if (len > 0 && a[0] == '[') {
		hend = memchr(a, ']', len);
		if (hend == NULL) {
			*why = "unterminated [IPv6] address";
			return NVR_ERR_INVAL;
		}
		if ((size_t)(hend - a - 1) >= sizeof(u->host) || hend == a + 1)
			goto bad_host;
		memcpy(u->host, a + 1, (size_t)(hend - a - 1));
		u->host[hend - a - 1] = '\0';
		if (hend + 1 < a + len) {
			if (hend[1] != ':')
				goto bad_host;
			port = hend + 2;
		}
	} else {
		hend = memchr(a, ':', len);
		if (hend == NULL)
			hend = a + len;
		else
			port = hend + 1;
		if (hend == a || (size_t)(hend - a) >= sizeof(u->host))
			goto bad_host;
		memcpy(u->host, a, (size_t)(hend - a));
		u->host[hend - a] = '\0';
	}
	if (port != NULL) {
		errno = 0;
		p = strtol(port, &end, 10);
		if (errno != 0 || end == port || end != a + len || p < 1 || p > 65535) {
			*why = "bad port number";
			return NVR_ERR_INVAL;
		}
		u->port = (int)p;
	}
	return NVR_OK;
bad_host:
	*why = "bad host name";
	return NVR_ERR_INVAL;
}

nvr_err
ing_rtsp_url_parse(const char *url, struct ing_rtsp_url *u, const char **why)
{
	static const struct {
		const char *scheme;
		bool tls, tunnel;
		int port;
	} schemes[] = {
		/* 322: RFC 7826 and the ONVIF/i-PRO RTSPS port */
		{ "rtsps://", true, false, 322 }, { "rtsp://", false, false, 554 },
		{ "https://", true, true, 443 }, { "http://", false, true, 80 },
		/* GStreamer's names for the same tunnel, on the RTSP ports */
		{ "rtspsh://", true, true, 322 }, { "rtsph://", false, true, 554 },
	};
	const char *a = NULL, *slash;
	size_t alen;

	*u = (struct ing_rtsp_url){ 0 };
	*why = NULL;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]) && a == NULL; i++) {
		size_t n = strlen(schemes[i].scheme);
		if (strncasecmp(url, schemes[i].scheme, n) == 0) {
			u->tls = schemes[i].tls;
			u->tunnel = schemes[i].tunnel;
			u->port = schemes[i].port;
			a = url + n;
		}
	}
	if (a == NULL) {
		*why = "not an rtsp://, rtsps:// or (RTSP over HTTPS) https:// URL";
		return NVR_ERR_INVAL;
	}
	for (const char *c = url; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			*why = "space or control character in the URL";
			return NVR_ERR_INVAL;
		}
	}
	slash = strchr(a, '/');
	alen = slash ? (size_t)(slash - a) : strlen(a);
	if (parse_authority(a, alen, u, why) != NVR_OK)
		return NVR_ERR_INVAL;
	if (snprintf(u->path, sizeof(u->path), "%s", slash ? slash : "/") >= (int)sizeof(u->path)) {
		*why = "path too long";
		return NVR_ERR_INVAL;
	}
	return NVR_OK;
}

nvr_err
ing_rtsp_resolve(const char *base, const char *control, char *out, size_t size)
{
	size_t bl = strlen(base);
	int n;

	if (strstr(control, "://") != NULL)
		n = snprintf(out, size, "%s", control);
	else if (strcmp(control, "*") == 0 || control[0] == '\0')
		n = snprintf(out, size, "%s", base);
	else
		n = snprintf(out, size, "%s%s%s", base, bl > 0 && base[bl - 1] == '/' ? "" : "/",
		    control[0] == '/' ? control + 1 : control);
	return n >= 0 && (size_t)n < size ? NVR_OK : NVR_ERR_TOOBIG;
}

nvr_err
ing_rtsp_request_url(const char *url, const struct ing_rtsp_url *u, char *out, size_t size)
{
	bool v6 = strchr(u->host, ':') != NULL;
	int n;

	if (!u->tunnel)
		n = snprintf(out, size, "%s", url);
	else
		n = snprintf(out, size, "%s://%s%s%s:%d%s", u->tls ? "rtsps" : "rtsp", v6 ? "[" : "", u->host, v6 ? "]" : "",
		    u->port, u->path);
	return n >= 0 && (size_t)n < size ? NVR_OK : NVR_ERR_TOOBIG;
}

bool
ing_rtsp_transport_range(const char *value, const char *name, long max, long *a, long *b)
{
	size_t n = strlen(name);
	const char *p = value, *end;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == value || p[-1] == ';') && p[n] == '=')
			break;
		p += n;
	}
	if (p == NULL || !nvr_parse_num(p + n + 1, &end, 0, max, a))
		return false;
	*b = *a + 1;
	if (*end == '-')
		return nvr_parse_num(end + 1, NULL, 0, max, b);
	return *b <= max;
}

bool
ing_rtsp_url_tls(const char *url)
{
	struct ing_rtsp_url u;
	const char *why;

	return ing_rtsp_url_parse(url, &u, &why) == NVR_OK && u.tls;
}

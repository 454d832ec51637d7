/*
 * loadgen-rtsp.c: nvr-loadgen's RTSP server side (RFC 2326), the requests
 * a recorder sends to a camera: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE,
 * GET_PARAMETER and TEARDOWN, answered as gst-rtsp-server answers them.
 *
 * Input comes from the network: every length is bounded (LG_IN_CAP for a
 * request and its headers, LG_MAX_BODY for a body), a request that cannot
 * be parsed gets 400 and the connection is closed, and interleaved frames a
 * client sends (RTCP receiver reports) are skipped by their length. Only
 * RTP/SAVP over TCP interleaved is offered: that is what is measured.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <glib.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bench/common.h"
#include "bench/loadgen.h"
#include "nvrd/log.h"

#define LG_PUBLIC "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER"
#define LG_MAX_URL 1024

struct lg_req {
	char method[16];
	char url[LG_MAX_URL];
	const char *cseq, *session, *authorization, *transport; /* into buf */
	size_t content_length;
	char buf[LG_IN_CAP + 1]; /* the header block, lines NUL-terminated */
};

struct lg_reply {
	char buf[16384];
	size_t len;
	bool overflow;
};

/* What a request URL names: a camera, and whether it is the stream. */
struct lg_target {
	struct lg_camera *cam;
	bool stream;   /* ".../camN/stream=0" */
	size_t base_len; /* url[0 .. base_len) is "rtsp://host:port/camN" */
};

/* ---- replies ---------------------------------------------------------- */

static void rp_add(struct lg_reply *r, const char *fmt, ...) NVR_PRINTF(2, 3);

static void
rp_add(struct lg_reply *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->len, sizeof(r->buf) - r->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(r->buf) - r->len)
		r->overflow = true;
	else
		r->len += (size_t)n;
}

static void
rp_start(struct lg_reply *r, unsigned code, const char *reason, const struct lg_req *q)
{
	r->len = 0;
	r->overflow = false;
	rp_add(r, "RTSP/1.0 %u %s\r\n", code, reason);
	if (q != NULL && q->cseq != NULL)
		rp_add(r, "CSeq: %s\r\n", q->cseq);
}

/* Ends the headers, adds the body and queues the reply. */
static void
rp_send(struct lg_conn *c, struct lg_reply *r, const char *body)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	rp_add(r, "Server: nvr-loadgen\r\nDate: %s\r\n", date);
	if (body != NULL)
		rp_add(r, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	else
		rp_add(r, "\r\n");
	if (r->overflow) {
		nvr_log(NVR_LOG_ERROR, "client %s: reply too long", c->peer);
		lg_conn_close(c, "reply too long");
		return;
	}
	lg_conn_queue_reply(c, r->buf, r->len);
}

static void
reply_simple(struct lg_conn *c, const struct lg_req *q, unsigned code, const char *reason)
{
	struct lg_reply r;

	rp_start(&r, code, reason, q);
	rp_send(c, &r, NULL);
}

/* ---- parsing ---------------------------------------------------------- */

static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'A' && *s <= 'Z') || *s == '_'))
			return false;
	}
	return true;
}

/* "METHOD SP URL SP RTSP/1.0" (RFC 2326 6.1). */
static bool
parse_request_line(struct lg_req *q, const char *line)
{
	const char *sp1 = strchr(line, ' '), *sp2;
	size_t mlen, ulen;

	if (sp1 == NULL || (sp2 = strchr(sp1 + 1, ' ')) == NULL || strcmp(sp2 + 1, "RTSP/1.0") != 0)
		return false;
	mlen = (size_t)(sp1 - line);
	ulen = (size_t)(sp2 - sp1 - 1);
	if (mlen == 0 || mlen >= sizeof(q->method) || ulen == 0 || ulen >= sizeof(q->url))
		return false;
	memcpy(q->method, line, mlen);
	q->method[mlen] = '\0';
	memcpy(q->url, sp1 + 1, ulen);
	q->url[ulen] = '\0';
	return is_token(q->method);
}

static bool
parse_header(struct lg_req *q, char *line)
{
	char *colon = strchr(line, ':'), *v;
	unsigned long n;

	if (colon == NULL || colon == line)
		return false;
	*colon = '\0';
	v = colon + 1 + strspn(colon + 1, " \t");
	for (char *e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
		e[-1] = '\0';
	if (strcasecmp(line, "CSeq") == 0) {
		if (bench_parse_uint(v, 0, 0xffffffffUL, &n) != NVR_OK)
			return false;
		q->cseq = v;
	} else if (strcasecmp(line, "Session") == 0) {
		v[strcspn(v, ";")] = '\0'; /* ";timeout=" is not part of the id */
		q->session = v;
	} else if (strcasecmp(line, "Authorization") == 0) {
		q->authorization = v;
	} else if (strcasecmp(line, "Transport") == 0) {
		q->transport = v;
	} else if (strcasecmp(line, "Content-Length") == 0) {
		if (bench_parse_uint(v, 0, LG_MAX_BODY, &n) != NVR_OK)
			return false;
		q->content_length = n;
	}
	return true; /* KeyMgmt and the rest: not needed, ignored */
}

static bool
parse_headers(struct lg_req *q, size_t len)
{
	char *line = q->buf, *end;
	bool first = true;

	if (memchr(q->buf, '\0', len) != NULL)
		return false;
	q->buf[len] = '\0';
	while (*line != '\0' && (end = strstr(line, "\r\n")) != NULL) {
		*end = '\0';
		if (first ? !parse_request_line(q, line) : !parse_header(q, line))
			return false;
		first = false;
		line = end + 2;
	}
	return !first && q->cseq != NULL;
}

/* 1: a whole request is in c->in (*used bytes), 0: need more, -1: garbage. */
static int
parse_request(struct lg_conn *c, struct lg_req *q, size_t *used)
{
	const uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	size_t hlen;

	if (end == NULL)
		return c->in_len == LG_IN_CAP ? -1 : 0;
	hlen = (size_t)(end - c->in) + 4;
	memset(q, 0, offsetof(struct lg_req, buf));
	memcpy(q->buf, c->in, hlen - 2); /* keep the last line's CRLF */
	if (!parse_headers(q, hlen - 2))
		return -1;
	if (hlen + q->content_length > LG_IN_CAP)
		return -1;
	if (c->in_len < hlen + q->content_length)
		return 0;
	*used = hlen + q->content_length;
	return 1;
}

/* "rtsp://host[:port]/camN[/stream=0][/]", or the same path alone. */
static bool
parse_target(struct lg_server *s, const char *url, struct lg_target *t)
{
	const char *path = url, *p;
	unsigned long n = 0;
	size_t digits;

	if (strncasecmp(url, "rtsp://", 7) == 0 || strncasecmp(url, "rtsps://", 8) == 0) {
		path = strchr(strstr(url, "//") + 2, '/');
		if (path == NULL)
			return false;
	}
	if (strncmp(path, "/cam", 4) != 0)
		return false;
	p = path + 4;
	digits = strspn(p, "0123456789");
	if (digits == 0 || digits > 5 || p[0] == '0')
		return false;
	for (size_t i = 0; i < digits; i++)
		n = n * 10 + (unsigned long)(p[i] - '0');
	if (n < 1 || n > s->o->cameras)
		return false;
	p += digits;
	t->base_len = (size_t)(p - url);
	t->cam = &s->cams[n - 1];
	t->stream = strcmp(p, "/stream=0") == 0 || strcmp(p, "/stream=0/") == 0;
	return t->stream || strcmp(p, "") == 0 || strcmp(p, "/") == 0;
}

/* ---- authentication (RFC 2617 3.2, as gst-rtsp-server: no qop) --------- */

static bool
authorized(struct lg_conn *c, const struct lg_req *q)
{
	struct bench_digest_creds cr;
	char expect[BENCH_MD5_HEX];
	bool ok;

	if (!c->srv->auth)
		return true;
	if (q->authorization == NULL || bench_digest_parse(q->authorization, &cr) != NVR_OK)
		return false;
	ok = strcmp(cr.username, c->srv->o->user) == 0 && strcmp(cr.realm, LG_REALM) == 0 &&
	    strcmp(cr.nonce, c->nonce) == 0 && strlen(cr.response) == BENCH_MD5_HEX - 1 &&
	    bench_digest_response(c->srv->ha1, c->nonce, q->method, cr.uri, expect) == NVR_OK;
	for (char *p = cr.response; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	}
	ok = ok && CRYPTO_memcmp(cr.response, expect, BENCH_MD5_HEX - 1) == 0;
	if (!ok)
		nvr_log(NVR_LOG_INFO, "client %s: %s refused: Digest credentials do not match",
		    c->peer, q->method);
	OPENSSL_cleanse(expect, sizeof(expect));
	return ok;
}

static void
reply_unauthorized(struct lg_conn *c, const struct lg_req *q)
{
	struct lg_reply r;

	rp_start(&r, 401, "Unauthorized", q);
	rp_add(&r, "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\"\r\n", LG_REALM, c->nonce);
	rp_send(c, &r, NULL);
}

/* ---- requests --------------------------------------------------------- */

static void
do_options(struct lg_conn *c, const struct lg_req *q)
{
	struct lg_reply r;

	rp_start(&r, 200, "OK", q);
	rp_add(&r, "Public: %s\r\n", LG_PUBLIC);
	rp_send(c, &r, NULL);
}

/* The address the client reached, for the SDP's o= line. */
static bool
local_address(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		ss.ss_family = AF_UNSPEC;
	if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			inet_ntop(AF_INET, &a->s6_addr[12], buf, (socklen_t)size);
			return false;
		}
		inet_ntop(AF_INET6, a, buf, (socklen_t)size);
		return true;
	}
	if (ss.ss_family != AF_INET || inet_ntop(AF_INET, &((const struct sockaddr_in *)&ss)->sin_addr,
	    buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "0.0.0.0");
	return false;
}

static void
do_describe(struct lg_conn *c, const struct lg_req *q, const struct lg_target *t)
{
	struct lg_reply r;
	char ip[INET6_ADDRSTRLEN];
	bool v6 = local_address(c->fd, ip, sizeof(ip));
	char *sdp;

	if (t->cam->group->finished) { /* --duration is over: the camera is gone */
		reply_simple(c, q, 404, "Not Found");
		return;
	}
	if ((sdp = lg_sdp_make(c->srv, t->cam->group, ip, v6)) == NULL) {
		reply_simple(c, q, 500, "Internal Server Error");
		return;
	}
	rp_start(&r, 200, "OK", q);
	rp_add(&r, "Content-Type: application/sdp\r\nContent-Base: %.*s/\r\n", (int)t->base_len, q->url);
	rp_send(c, &r, sdp);
	OPENSSL_cleanse(sdp, strlen(sdp)); /* it holds the group's key */
	g_free(sdp);
}

/* The first transport we serve among the client's choices (RFC 2326
 * 12.39): RTP/SAVP/TCP, with its interleaved channels or 0-1. */
static bool
parse_transport(const char *value, uint8_t *channel)
{
	char spec[512];
	const char *s = value;

	while (*s != '\0') {
		size_t n = strcspn(s, ",");
		char *save = NULL, *tok;
		unsigned long a = 0;
		bool tcp;

		if (n < sizeof(spec)) {
			memcpy(spec, s, n);
			spec[n] = '\0';
			tok = strtok_r(spec, ";", &save);
			tcp = tok != NULL && strcasecmp(tok + strspn(tok, " \t"), "RTP/SAVP/TCP") == 0;
			while (tcp && (tok = strtok_r(NULL, ";", &save)) != NULL) {
				if (strncasecmp(tok, "interleaved=", 12) == 0) {
					char *dash = strchr(tok + 12, '-');
					if (dash != NULL)
						*dash = '\0';
					tcp = bench_parse_uint(tok + 12, 0, 254, &a) == NVR_OK;
				}
			}
			if (tcp) {
				*channel = (uint8_t)a;
				return true;
			}
		}
		s += n + (s[n] == ',');
	}
	return false;
}

static nvr_err
new_session_id(char id[17])
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint8_t rnd[16];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NVR_ERR_CRYPTO;
	for (size_t i = 0; i < sizeof(rnd); i++)
		id[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	id[16] = '\0';
	return NVR_OK;
}

/* One session per connection: a recorder opens one connection per camera,
 * and over TCP interleaved the session cannot outlive it anyway. */
static void
do_setup(struct lg_conn *c, const struct lg_req *q, const struct lg_target *t)
{
	struct lg_reply r;
	uint8_t channel = 0;

	if (q->session != NULL && strcmp(q->session, c->session) != 0) {
		reply_simple(c, q, 454, "Session Not Found");
		return;
	}
	if (c->cam != NULL && c->cam != t->cam) {
		reply_simple(c, q, 459, "Aggregate Operation Not Allowed");
		return;
	}
	if (q->transport == NULL || !parse_transport(q->transport, &channel)) {
		reply_simple(c, q, 461, "Unsupported Transport");
		return;
	}
	if (c->cam == NULL) {
		if (new_session_id(c->session) != NVR_OK) {
			reply_simple(c, q, 500, "Internal Server Error");
			return;
		}
		c->cam = t->cam;
		t->cam->sessions_now++;
		t->cam->sessions_total++;
		c->srv->sessions_total++;
	}
	c->channel = channel;
	rp_start(&r, 200, "OK", q);
	rp_add(&r, "Transport: RTP/SAVP/TCP;unicast;interleaved=%u-%u;ssrc=%08X;mode=\"PLAY\"\r\n",
	    channel, channel + 1, t->cam->group->ssrc);
	rp_add(&r, "Session: %s;timeout=%d\r\n", c->session, LG_SESSION_TIMEOUT);
	rp_send(c, &r, NULL);
	nvr_log(NVR_LOG_INFO, "client %s: SETUP /cam%u RTP/SAVP/TCP interleaved=%u-%u",
	    c->peer, t->cam->index, channel, channel + 1);
}

/* Joins the camera's live stream where it is now, as a client of a shared
 * gst-rtsp-server media does; RTP-Info says where that is (RFC 2326 12.33). */
static void
do_play(struct lg_conn *c, const struct lg_req *q, const struct lg_target *t)
{
	struct lg_reply r;
	uint16_t seq;
	uint32_t rtptime;

	if (c->cam->group->finished) {
		reply_simple(c, q, 404, "Not Found");
		return;
	}
	if (!c->playing && lg_group_join(c->cam->group, c) != NVR_OK) {
		reply_simple(c, q, 500, "Internal Server Error");
		return;
	}
	lg_group_position(c->srv, c->cam->group, &seq, &rtptime);
	rp_start(&r, 200, "OK", q);
	rp_add(&r, "RTP-Info: url=%.*s/stream=0;seq=%u;rtptime=%u\r\nRange: npt=now-\r\n",
	    (int)t->base_len, q->url, seq, rtptime);
	rp_add(&r, "Session: %s\r\n", c->session);
	rp_send(c, &r, NULL);
}

static void
do_in_session(struct lg_conn *c, const struct lg_req *q, const struct lg_target *t)
{
	struct lg_reply r;

	if (t->cam != c->cam) { /* the session plays another camera */
		reply_simple(c, q, 404, "Not Found");
		return;
	}
	if (strcmp(q->method, "TEARDOWN") == 0) {
		lg_rtsp_end_session(c);
		reply_simple(c, q, 200, "OK");
		return;
	}
	if (strcmp(q->method, "PLAY") == 0) {
		do_play(c, q, t);
		return;
	}
	if (strcmp(q->method, "PAUSE") == 0 && c->playing)
		lg_group_leave(c->cam->group, c);
	rp_start(&r, 200, "OK", q);
	rp_add(&r, "Session: %s\r\n", c->session);
	rp_send(c, &r, NULL);
}

static bool
session_matches(const struct lg_conn *c, const struct lg_req *q)
{
	return q->session != NULL && c->cam != NULL && strcmp(q->session, c->session) == 0;
}

/* A keep-alive: recorders send it with or without a URL or a session. */
static void
do_get_parameter(struct lg_conn *c, const struct lg_req *q)
{
	struct lg_reply r;

	if (!authorized(c, q)) {
		reply_unauthorized(c, q);
		return;
	}
	if (q->session != NULL && !session_matches(c, q)) {
		reply_simple(c, q, 454, "Session Not Found");
		return;
	}
	rp_start(&r, 200, "OK", q);
	if (q->session != NULL)
		rp_add(&r, "Session: %s\r\n", c->session);
	rp_send(c, &r, NULL);
}

static void
dispatch(struct lg_conn *c, const struct lg_req *q)
{
	const char *m = q->method;
	struct lg_target t = { 0 };

	if (strcmp(m, "OPTIONS") == 0) {
		do_options(c, q);
	} else if (strcmp(m, "GET_PARAMETER") == 0) {
		do_get_parameter(c, q);
	} else if (strcmp(m, "DESCRIBE") != 0 && strcmp(m, "SETUP") != 0 && strcmp(m, "PLAY") != 0 &&
	    strcmp(m, "PAUSE") != 0 && strcmp(m, "TEARDOWN") != 0) {
		reply_simple(c, q, 501, "Not Implemented");
	} else if (!parse_target(c->srv, q->url, &t)) {
		reply_simple(c, q, 404, "Not Found");
	} else if (!authorized(c, q)) {
		reply_unauthorized(c, q);
	} else if (strcmp(m, "DESCRIBE") == 0) {
		do_describe(c, q, &t);
	} else if (strcmp(m, "SETUP") == 0) {
		do_setup(c, q, &t);
	} else if (!session_matches(c, q)) {
		reply_simple(c, q, 454, "Session Not Found");
	} else {
		do_in_session(c, q, &t);
	}
}

static void
consume(struct lg_conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

void
lg_rtsp_input(struct lg_conn *c)
{
	struct lg_req q;
	size_t used = 0;
	int r;

	while (!c->dead && !c->closing && c->in_len > 0) {
		if (c->skip > 0) {
			used = c->skip < c->in_len ? c->skip : c->in_len;
			c->skip -= used;
			consume(c, used);
			continue;
		}
		if (c->in[0] == '$') { /* RFC 2326 10.12: the client's RTCP */
			if (c->in_len < 4)
				return;
			c->skip = 4 + ((size_t)c->in[2] << 8 | c->in[3]);
			continue;
		}
		if ((r = parse_request(c, &q, &used)) == 0)
			return;
		if (r < 0) {
			nvr_log(NVR_LOG_INFO, "client %s: malformed request", c->peer);
			reply_simple(c, NULL, 400, "Bad Request");
			c->closing = true;
			c->in_len = 0;
			return;
		}
		nvr_debug("client %s: %s %s", c->peer, q.method, q.url);
		dispatch(c, &q);
		OPENSSL_cleanse(q.buf, sizeof(q.buf)); /* may hold credentials */
		consume(c, used);
	}
}

void
lg_rtsp_end_session(struct lg_conn *c)
{
	if (c->cam == NULL)
		return;
	if (c->playing)
		lg_group_leave(c->cam->group, c);
	nvr_log(NVR_LOG_INFO, "client %s: /cam%u session ended: %llu packets (%llu bytes) sent, "
	    "%llu packets (%llu bytes) dropped", c->peer, c->cam->index,
	    (unsigned long long)c->c.packets_sent, (unsigned long long)c->c.bytes_sent,
	    (unsigned long long)c->c.packets_dropped, (unsigned long long)c->c.bytes_dropped);
	c->cam->sessions_now--;
	c->cam = NULL;
	c->session[0] = '\0';
}

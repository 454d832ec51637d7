/*
 * loadgen-tunnel.c: RTSP tunnelled over HTTP (the QuickTime scheme behind
 * ONVIF's "Internet mode"), nvr-loadgen's server side, on the same port as
 * RTSP(S), as gst-rtsp-server serves it.
 *
 * A connection's first line says what it is: GET or POST with HTTP/1.x
 * opens one half of a tunnel, anything else is RTSP (loadgen-rtsp.c). The
 * GET names an x-sessioncookie, is answered 200 and from then on carries
 * the RTSP replies and the interleaved media, exactly as an RTSPS
 * connection does. The POST with the same cookie carries the requests in
 * base64; they are decoded here into the GET's input, where loadgen-rtsp.c
 * parses them as if they had come on the GET: one session, one Digest
 * nonce, one bounded output queue. The POST is never answered.
 *
 * Everything from the network is bounded: an HTTP head by LG_IN_CAP, a
 * cookie by LG_MAX_COOKIE, undecoded base64 by LG_IN_CAP (whole quads are
 * decoded as soon as the GET's input has room), the open tunnels by
 * LG_MAX_TUNNELS. A POST whose cookie names no open GET is closed.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "bench/loadgen.h"
#include "nvrd/log.h"
#include "nvrd/util.h"

/* What gst-rtsp-server answers a tunnel's GET with (rtsp-client.c). */
#define LG_TUNNEL_OK                                                                               \
	"HTTP/1.0 200 OK\r\nServer: nvr-loadgen\r\nConnection: close\r\n"                          \
	"Cache-Control: no-store\r\nPragma: no-cache\r\n"                                          \
	"Content-Type: application/x-rtsp-tunnelled\r\n\r\n"

nvr_err
lg_tunnel_init(struct lg_server *s)
{
	/* keys are the GET connections' own cookie arrays: nothing to free */
	s->tunnels = g_hash_table_new(g_str_hash, g_str_equal);
	return s->tunnels != NULL ? NVR_OK : NVR_ERR_NOMEM;
}

void
lg_tunnel_clear(struct lg_server *s)
{
	if (s->tunnels != NULL)
		g_hash_table_destroy(s->tunnels);
	s->tunnels = NULL;
}

static void
consume(struct lg_conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* ---- the head --------------------------------------------------------- */

/* gst-rtsp-server's test: GET or POST and HTTP/1.x where an RTSP request
 * line would be. LG_PROTO_NEW while the first line is incomplete; a line
 * that fills the buffer goes to the RTSP parser, which refuses it. */
static enum lg_proto
classify(const struct lg_conn *c)
{
	static const char *const methods[] = { "GET ", "POST " };
	const uint8_t *eol;
	size_t n;

	for (size_t i = 0; i < NVR_ARRAY_LEN(methods); i++) {
		n = strlen(methods[i]);
		if (memcmp(c->in, methods[i], c->in_len < n ? c->in_len : n) != 0)
			continue;
		if (c->in_len < n)
			return LG_PROTO_NEW;
		if ((eol = memmem(c->in, c->in_len, "\r\n", 2)) == NULL)
			return c->in_len == LG_IN_CAP ? LG_PROTO_RTSP : LG_PROTO_NEW;
		if ((size_t)(eol - c->in) > n + 9 &&
		    (memcmp(eol - 9, " HTTP/1.0", 9) == 0 || memcmp(eol - 9, " HTTP/1.1", 9) == 0))
			return i == 0 ? LG_PROTO_GET : LG_PROTO_POST;
		return LG_PROTO_RTSP; /* "GET ... RTSP/1.0": RTSP answers 501 */
	}
	return LG_PROTO_RTSP;
}

/* A cookie is opaque (QuickTime: random letters; FFmpeg and nvrd: hex):
 * any visible ASCII, at most LG_MAX_COOKIE of it. */
static bool
parse_cookie(const char *v, char *cookie)
{
	size_t n = strlen(v);

	if (n == 0 || n > LG_MAX_COOKIE)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] <= ' ' || v[i] > '~')
			return false;
	}
	memcpy(cookie, v, n + 1);
	return true;
}

/* 1: the head is whole and names a cookie (*used bytes), 0: need more,
 * -1: not a tunnel head. Content-Type, Accept and the rest are not checked:
 * clients differ, and the cookie is what ties the halves. */
static int
parse_head(const struct lg_conn *c, char *cookie, size_t *used)
{
	const uint8_t *e = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	char buf[LG_IN_CAP + 1], *line, *end, *v;
	size_t len;

	cookie[0] = '\0';
	if (e == NULL)
		return c->in_len == LG_IN_CAP ? -1 : 0;
	len = (size_t)(e - c->in) + 2; /* keep the last header's CRLF */
	if (memchr(c->in, '\0', len) != NULL)
		return -1;
	memcpy(buf, c->in, len);
	buf[len] = '\0';
	*used = len + 2;
	line = strstr(buf, "\r\n") + 2; /* the request line: classify() read it */
	for (; (end = strstr(line, "\r\n")) != NULL; line = end + 2) {
		*end = '\0';
		if ((v = strchr(line, ':')) == NULL)
			return -1;
		*v++ = '\0';
		v += strspn(v, " \t");
		v[strcspn(v, " \t")] = '\0';
		if (strcasecmp(line, "x-sessioncookie") == 0 && !parse_cookie(v, cookie))
			return -1;
	}
	return cookie[0] != '\0' ? 1 : -1;
}

/* An HTTP error on a tunnel's GET; the connection closes once it is sent. */
static void
refuse(struct lg_conn *c, const char *status, const char *why)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf),
	    "HTTP/1.0 %s\r\nServer: nvr-loadgen\r\nConnection: close\r\n\r\n", status);

	nvr_log(NVR_LOG_INFO, "client %s: tunnel refused: %s", c->peer, why);
	if (n > 0 && (size_t)n < sizeof(buf))
		lg_conn_queue_reply(c, buf, (size_t)n);
	c->closing = true;
	c->in_len = 0;
}

static bool
open_get(struct lg_conn *c, const char *cookie)
{
	struct lg_server *s = c->srv;

	if (g_hash_table_size(s->tunnels) >= LG_MAX_TUNNELS) {
		refuse(c, "503 Service Unavailable", "too many tunnels");
		return false;
	}
	if (g_hash_table_contains(s->tunnels, cookie)) {
		refuse(c, "400 Bad Request", "x-sessioncookie already in use");
		return false;
	}
	memcpy(c->cookie, cookie, strlen(cookie) + 1);
	g_hash_table_insert(s->tunnels, c->cookie, c);
	c->tunnel_up = true;
	lg_conn_queue_reply(c, LG_TUNNEL_OK, sizeof(LG_TUNNEL_OK) - 1);
	nvr_debug("client %s: tunnel GET, x-sessioncookie %s", c->peer, cookie);
	return true;
}

/* No answer on a POST, even a refusal: clients never read one. */
static bool
open_post(struct lg_conn *c, const char *cookie)
{
	struct lg_conn *g = g_hash_table_lookup(c->srv->tunnels, cookie);

	if (g == NULL) {
		lg_conn_close(c, "tunnel POST with an unknown x-sessioncookie");
		return false;
	}
	if (g->tunnel != NULL) {
		lg_conn_close(c, "the tunnel has a POST connection already");
		return false;
	}
	g->tunnel = c;
	c->tunnel = g;
	c->tunnel_up = true;
	nvr_debug("client %s: tunnel POST for the GET of %s", c->peer, g->peer);
	return true;
}

static bool
open_half(struct lg_conn *c)
{
	char cookie[LG_MAX_COOKIE + 1];
	size_t used = 0;
	int r = parse_head(c, cookie, &used);

	if (r == 0)
		return false;
	if (r < 0) {
		if (c->proto == LG_PROTO_GET)
			refuse(c, "400 Bad Request", "malformed head or no x-sessioncookie");
		else
			lg_conn_close(c, "tunnel POST: malformed head or no x-sessioncookie");
		return false;
	}
	consume(c, used);
	return c->proto == LG_PROTO_GET ? open_get(c, cookie) : open_post(c, cookie);
}

/* ---- the POST's base64 ------------------------------------------------- */

/* RFC 4648 4: n quads to at most 3n bytes. Each request is its own
 * padded chunk, so a quad never depends on the next one and the stream
 * can be cut at any quad: OpenSSL's EVP_DecodeBlock decodes each (it reads
 * '=' as zero bits and writes 3 bytes); the padding is counted here, and
 * an '=' anywhere but at a quad's end refused. False if something is not
 * base64. */
static bool
b64_quads(const uint8_t *in, size_t n, uint8_t *out, size_t *out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++, in += 4) {
		int pad = in[3] != '=' ? 0 : in[2] == '=' ? 2 : 1;

		if (memchr(in, '=', (size_t)(4 - pad)) != NULL || EVP_DecodeBlock(out + o, in, 4) != 3)
			return false;
		o += (size_t)(3 - pad);
	}
	*out_len = o;
	return true;
}

/* Some clients end chunks with CRLF; base64 itself has no whitespace. */
static void
drop_whitespace(struct lg_conn *c)
{
	size_t j = 0;

	for (size_t i = 0; i < c->in_len; i++) {
		if (c->in[i] != '\r' && c->in[i] != '\n' && c->in[i] != ' ' && c->in[i] != '\t')
			c->in[j++] = c->in[i];
	}
	c->in_len = j;
}

/* Decodes whole quads into the GET's input as room allows and lets the
 * RTSP parser handle each request as it completes. What remains of the
 * POST's input is under 4 bytes, so its bound is never reached; a request
 * that cannot fit the GET's input is refused as on an RTSP connection. */
static void
post_input(struct lg_conn *p)
{
	struct lg_conn *g = p->tunnel;
	size_t n, out = 0;

	drop_whitespace(p);
	while (!p->dead && !g->dead && !g->closing && p->in_len >= 4) {
		n = p->in_len / 4;
		if (n > (LG_IN_CAP - g->in_len) / 3)
			n = (LG_IN_CAP - g->in_len) / 3;
		if (n == 0) {
			lg_conn_close(g, "tunnelled request too long");
			return;
		}
		if (!b64_quads(p->in, n, g->in + g->in_len, &out)) {
			lg_conn_close(g, "the tunnel's POST is not base64");
			return;
		}
		consume(p, 4 * n);
		g->in_len += out;
		g->last_active_ns = p->last_active_ns;
		lg_rtsp_input(g);
	}
	if (!g->dead && g->out_len > 0 && !g->want_out)
		lg_conn_flush(g);
	if (!p->dead && (g->dead || g->closing))
		p->in_len = 0; /* the GET goes away, and the POST with it */
}

/* ---- the connection's life -------------------------------------------- */

void
lg_tunnel_input(struct lg_conn *c)
{
	if (c->proto == LG_PROTO_NEW && (c->proto = classify(c)) == LG_PROTO_NEW)
		return;
	if (c->proto == LG_PROTO_RTSP) {
		lg_rtsp_input(c);
		return;
	}
	if (!c->tunnel_up && !open_half(c))
		return;
	if (c->proto == LG_PROTO_POST && c->tunnel != NULL)
		post_input(c);
	else if (c->proto == LG_PROTO_GET)
		c->in_len = 0; /* clients send nothing more on a GET; ignored */
	else
		lg_conn_close(c, "the tunnel's GET is gone");
}

/* A POST that closes leaves its GET playing: a client may open another
 * with the same cookie (gst-rtsp-server allows it). A GET that closes
 * ends the tunnel, so its POST is closed too. */
void
lg_tunnel_close(struct lg_conn *c)
{
	struct lg_conn *other = c->tunnel;

	if (c->proto == LG_PROTO_GET && c->tunnel_up)
		g_hash_table_remove(c->srv->tunnels, c->cookie);
	c->tunnel_up = false;
	if (other == NULL)
		return;
	other->tunnel = NULL;
	c->tunnel = NULL;
	if (c->proto == LG_PROTO_GET)
		lg_conn_close(other, "the tunnel's GET connection closed");
}

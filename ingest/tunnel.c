/*
 * tunnel.c: RTSP tunnelled over HTTP(S), the client side. The recorder
 * opens two connections to the camera, both TLS for https://: on the
 * first it sends a GET and, once the camera answers 200, reads RTSP
 * responses and interleaved RTP from it exactly as from an RTSPS
 * connection; on the second it sends a POST head and then each RTSP
 * request in base64. Neither GStreamer's GstRTSPConnection (blocking GIO
 * streams) nor anything else we link does this on a non-blocking epoll
 * connection, hence this file; it is small because the tunnel is only a
 * framing of what ingest/session.c already speaks.
 *
 * Content-Length 32767 on the POST is what QuickTime, live555 and FFmpeg
 * send: servers ignore it for tunnels, and a session keeps its POST open.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ingest/camera_priv.h"
#include "ingest/tunnel.h"
#include "nvrd/encode.h"

#define USER_AGENT "nvr/" PACKAGE_VERSION

nvr_err
ing_tunnel_parse_answer(const uint8_t *buf, size_t len, size_t *consumed, int *status, const char **why)
{
	size_t n = len < ING_TUNNEL_MAX_HEAD ? len : ING_TUNNEL_MAX_HEAD, end = 0;

	*consumed = 0;
	*status = 0;
	for (size_t i = 0; i + 1 < n && end == 0; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			end = i + 2;
		else if (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n')
			end = i + 3;
	}
	if (n >= 12 && (memcmp(buf, "HTTP/1.", 7) != 0 || buf[7] < '0' || buf[7] > '9' || buf[8] != ' ' || buf[9] < '1' ||
			   buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9' ||
			   (n > 12 && buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n'))) {
		*why = "the answer to the tunnel's GET is not HTTP/1.x";
		return NVR_ERR_INVAL;
	}
	if (end == 0) {
		if (len < ING_TUNNEL_MAX_HEAD)
			return NVR_OK;
		*why = "the answer to the tunnel's GET has a head over 8 KiB";
		return NVR_ERR_INVAL;
	}
	if (end < 13) {
		*why = "the answer to the tunnel's GET is not HTTP/1.x";
		return NVR_ERR_INVAL;
	}
	*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	*consumed = end;
	return NVR_OK;
}

/* The headers both halves carry. */
static int
common_head(struct ing_camera *c, const char *method, char *out, size_t size)
{
	bool v6 = strchr(c->url.host, ':') != NULL;

	return snprintf(out, size,
	    "%s %s HTTP/1.0\r\nHost: %s%s%s:%d\r\nUser-Agent: %s\r\nx-sessioncookie: %s\r\n"
	    "Pragma: no-cache\r\nCache-Control: no-cache\r\n",
	    method, c->url.path, v6 ? "[" : "", c->url.host, v6 ? "]" : "", c->url.port, USER_AGENT, c->cookie);
}

bool
ing_tunnel_send_get(struct ing_camera *c)
{
	uint8_t rnd[16];
	char head[2048];
	int n, m;

	/* The cookie ties the POST to this GET: unguessable, so nobody else
	 * can post requests into the session. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return false;
	nvr_hex_encode(rnd, sizeof(rnd), c->cookie);
	n = common_head(c, "GET", head, sizeof(head));
	if (n < 0 || (size_t)n >= sizeof(head))
		return false;
	m = snprintf(head + n, sizeof(head) - (size_t)n, "Accept: application/x-rtsp-tunnelled\r\n\r\n");
	if (m < 0 || (size_t)m >= sizeof(head) - (size_t)n)
		return false;
	return ing_cam_conn_send(c, &c->rtsp, head, (size_t)n + (size_t)m);
}

bool
ing_tunnel_send_post(struct ing_camera *c)
{
	char head[2048];
	int n = common_head(c, "POST", head, sizeof(head)), m;

	if (n < 0 || (size_t)n >= sizeof(head))
		return false;
	m = snprintf(head + n, sizeof(head) - (size_t)n,
	    "Content-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n"
	    "Expires: Sun, 9 Jan 1972 00:00:00 GMT\r\n\r\n");
	if (m < 0 || (size_t)m >= sizeof(head) - (size_t)n)
		return false;
	return ing_cam_conn_send(c, &c->post, head, (size_t)n + (size_t)m);
}

bool
ing_tunnel_send(struct ing_camera *c, const char *buf, size_t len)
{
	char *b64 = nvr_b64_encode((const uint8_t *)buf, len);
	size_t n;
	bool ok;

	if (b64 == NULL)
		return false;
	n = strlen(b64);
	ok = ing_cam_conn_send(c, &c->post, b64, n);
	OPENSSL_cleanse(b64, n); /* a Basic login, where allowed, is in it */
	free(b64);
	return ok;
}

int
ing_tunnel_get_answer(struct ing_camera *c, const char **why, int *status)
{
	size_t used;

	if (ing_tunnel_parse_answer(c->in, c->in_len, &used, status, why) != NVR_OK)
		return 1;
	if (used == 0)
		return -1;
	if (*status != 200) {
		*why = *status == 401 || *status == 403 ? "the camera wants an HTTP login for the tunnel itself"
		    : "the camera did not answer the tunnel's GET with 200";
		return 1;
	}
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	return 0;
}

/*
 * session.c: the RTSP exchange with a camera (RFC 2326): OPTIONS,
 * DESCRIBE, SETUP per stream (interleaved over the same connection), PLAY,
 * keep-alives within the session timeout, TEARDOWN; Digest authentication
 * on any 401. It must never send a password in clear (Basic only when the
 * camera's entry allows it) and never retry a refused password in a loop.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "ingest/camera_priv.h"
#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "nvrd/util.h"

#define USER_AGENT "nvr/" PACKAGE_VERSION
#define MAX_AUTH_ATTEMPTS 2 /* a second 401 after answering: wrong password */

static const char *
step_method(enum ing_step s)
{
	static const char *const m[] = { "OPTIONS", "DESCRIBE", "SETUP", "PLAY", "GET_PARAMETER", "TEARDOWN" };

	return m[s];
}

static const char *
step_uri(struct ing_camera *c)
{
	switch (c->step) {
	case ST_SETUP:
		return c->streams[c->setup_i].control;
	case ST_PLAY:
	case ST_KEEPALIVE:
	case ST_TEARDOWN:
		return c->base[0] ? c->base : c->req_url;
	default:
		return c->req_url;
	}
}

/* Appends "Authorization: ..." when a challenge has been answered. */
static bool
auth_line(struct ing_camera *c, const char *method, const char *uri, char *out, size_t size)
{
	char hdr[1024], cnonce[33];
	uint8_t rnd[16];

	out[0] = '\0';
	if (!c->have_auth)
		return true;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return false;
	nvr_hex_encode(rnd, sizeof(rnd), cnonce);
	if (ing_auth_header(&c->auth, c->cfg.user, c->cfg.password ? c->cfg.password : "", method, uri, ++c->nc,
		cnonce, hdr, sizeof(hdr)) != NVR_OK)
		return false;
	return (size_t)snprintf(out, size, "Authorization: %s\r\n", hdr) < size;
}

/* The SETUP's Transport: interleaved on the connection (in a tunnel too),
 * or our two UDP ports, opened now. The profile is what the camera
 * offered: SAVP, or AVP for a camera marked plain. */
static bool
setup_transport(struct ing_camera *c, char *out, size_t size, const char **why)
{
	const struct ing_stream *s = &c->streams[c->setup_i];
	const char *profile = c->cfg.plain_rtp ? "AVP" : "SAVP";
	size_t u = 2 * (size_t)c->setup_i;

	if (!ing_cam_udp(c)) {
		snprintf(out, size, "Transport: RTP/%s/TCP;unicast;interleaved=%u-%u\r\n", profile, s->rtp_ch, s->rtcp_ch);
		return true;
	}
	if (ing_udp_open(c, c->setup_i, why) != NVR_OK)
		return false;
	snprintf(out, size, "Transport: RTP/%s;unicast;client_port=%u-%u\r\n", profile, c->udp[u].port, c->udp[u + 1].port);
	return true;
}

/* The headers specific to a step. */
static bool
step_headers(struct ing_camera *c, char *out, size_t size, const char **why)
{
	out[0] = '\0';
	if (c->step == ST_DESCRIBE)
		snprintf(out, size, "Accept: application/sdp\r\n");
	else if (c->step == ST_SETUP)
		return setup_transport(c, out, size, why);
	else if (c->step == ST_PLAY)
		snprintf(out, size, "Range: npt=0.000-\r\n");
	return true;
}

/* Sends the request of the current step. */
static void
send_step(struct ing_camera *c, int64_t now_ms)
{
	char req[ING_OUT_MAX], auth[1100], extra[256], sess[160] = "";
	const char *method = step_method(c->step), *uri = step_uri(c), *why = NULL;
	int n;

	if (c->step == ST_KEEPALIVE && !c->has_get_parameter)
		method = "OPTIONS"; /* the keep-alive RFC 2326 10.1 allows */
	if (c->session[0] != '\0')
		snprintf(sess, sizeof(sess), "Session: %s\r\n", c->session);
	if (!step_headers(c, extra, sizeof(extra), &why)) {
		ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, why, NULL, "cannot set up UDP for the stream");
		return;
	}
	if (!auth_line(c, method, uri, auth, sizeof(auth))) {
		ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, NULL, NULL, "cannot compute the Authorization header");
		return;
	}
	n = snprintf(req, sizeof(req), "%s %s RTSP/1.0\r\nCSeq: %d\r\nUser-Agent: %s\r\n%s%s%s\r\n", method, uri, ++c->cseq,
	    USER_AGENT, sess, auth, extra);
	if (n < 0 || (size_t)n >= sizeof(req) || !ing_cam_send(c, req, (size_t)n)) {
		ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, NULL, NULL, "cannot send %s to the camera", method);
		return;
	}
	snprintf(c->last_uri, sizeof(c->last_uri), "%s", uri);
	c->last_method = method;
	c->deadline_ms = now_ms + c->cfg.timeout_ms;
}

void
ing_session_begin(struct ing_camera *c, int64_t now_ms)
{
	c->cseq = 0;
	c->nc = 0;
	c->base[0] = '\0';
	c->step = ST_OPTIONS;
	send_step(c, now_ms);
}

/* ---- 401 ------------------------------------------------------------------------ */

static void
handle_401(struct ing_camera *c, const struct ing_rtsp_msg *m, int64_t now_ms)
{
	const char *values[ING_RTSP_MAX_HEADERS];
	size_t n = 0;
	const char *why;
	bool answered = c->have_auth;

	for (size_t i = 0; i < m->nheaders; i++) {
		if (strcasecmp(m->headers[i].name, "WWW-Authenticate") == 0)
			values[n++] = m->headers[i].value;
	}
	if (c->cfg.user == NULL) {
		ing_cam_fail(c, ING_CAM_AUTH_FAILED, now_ms, NULL, "give the camera's user and password (nvrctl camera add --user)",
		    "the camera asks for a login and none is configured");
		return;
	}
	if (ing_auth_parse(values, n, c->cfg.allow_basic, &c->auth, &why) != NVR_OK) {
		ing_cam_fail(c, ING_CAM_AUTH_FAILED, now_ms, why,
		    c->cfg.allow_basic ? NULL : "prefer Digest on the camera; Basic is allowed only with --allow-basic",
		    "cannot authenticate to the camera");
		return;
	}
	/* Answered already and refused again: the password is wrong, unless
	 * the server only says the nonce went stale. */
	if (answered && !c->auth.stale && ++c->auth_attempts >= MAX_AUTH_ATTEMPTS) {
		ing_cam_fail(c, ING_CAM_AUTH_FAILED, now_ms, NULL, "check the camera's user and password",
		    "the camera refused the login (%s)", c->auth.scheme == ING_AUTH_BASIC ? "Basic" : "Digest");
		return;
	}
	c->have_auth = true;
	c->nc = 0;
	send_step(c, now_ms);
}

/* ---- responses ------------------------------------------------------------------- */

static void
after_describe(struct ing_camera *c, const struct ing_rtsp_msg *m, int64_t now_ms)
{
	const char *base = ing_rtsp_header(m, "Content-Base");
	enum ing_cam_state st = ING_CAM_STREAM_ERROR;
	const char *why = NULL;

	if (base == NULL)
		base = ing_rtsp_header(m, "Content-Location");
	snprintf(c->base, sizeof(c->base), "%s", base ? base : c->req_url);
	if ((c->sdp = calloc(1, sizeof(*c->sdp))) == NULL) {
		ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, NULL, NULL, "out of memory");
		return;
	}
	/* The body lies in the receive buffer, which the SDP parser wipes: it
	 * may carry keys. */
	if (ing_sdp_parse(c->in + (m->body - c->in), m->body_len, c->base, c->sdp, &why) != NVR_OK ||
	    ing_media_prepare(c, &why, &st) != NVR_OK) {
		ing_cam_fail(c, st, now_ms, why, NULL, "cannot record this camera's streams");
		return;
	}
	c->setup_i = 0;
	c->step = ST_SETUP;
	send_step(c, now_ms);
}

/* Takes the channels the camera chose ("interleaved=2-3"), or for UDP the
 * camera's ports ("server_port=6970-6971"), and, the first time, the
 * session id and timeout. */
static bool
after_setup(struct ing_camera *c, const struct ing_rtsp_msg *m, const char **why)
{
	const char *tr = ing_rtsp_header(m, "Transport"), *sess = ing_rtsp_header(m, "Session");
	struct ing_stream *s = &c->streams[c->setup_i];
	long a, b;

	if (sess == NULL || ing_rtsp_parse_session(sess, c->session, sizeof(c->session), &c->session_timeout) != NVR_OK) {
		*why = "SETUP answer without a valid Session header";
		return false;
	}
	if (ing_cam_udp(c)) {
		if (tr == NULL || strstr(tr, "/TCP") != NULL || !ing_rtsp_transport_range(tr, "server_port", 65535, &a, &b) ||
		    a == 0 || b == 0 || b > 65535) {
			*why = "the camera did not answer SETUP with UDP server ports (is UDP off on the camera? transport tcp works through firewalls)";
			return false;
		}
		c->udp[2 * (size_t)c->setup_i].server_port = (uint16_t)a;
		c->udp[2 * (size_t)c->setup_i + 1].server_port = (uint16_t)b;
		return true;
	}
	if (tr != NULL && ing_rtsp_transport_range(tr, "interleaved", 255, &a, &b) && b <= 255) {
		s->rtp_ch = (uint8_t)a;
		s->rtcp_ch = (uint8_t)b;
	}
	if (tr != NULL && strstr(tr, "TCP") == NULL) {
		*why = "the camera answered SETUP with a transport other than interleaved TCP";
		return false;
	}
	return true;
}

static void
start_playing(struct ing_camera *c, int64_t now_ms)
{
	int64_t half = (int64_t)c->session_timeout * 1000 / 2;

	c->phase = PH_PLAYING;
	c->recording_since_ms = now_ms;
	c->last_data_ms = now_ms;
	c->last_status_ms = now_ms;
	/* keep-alive at half the session timeout, at most every 30 s */
	c->next_keepalive_ms = now_ms + (half < 30000 ? half : 30000);
	if (c->sdp != NULL) {
		ing_sdp_wipe(c->sdp);
		free(c->sdp);
		c->sdp = NULL;
	}
	c->next_punch_ms = now_ms + 20000;
	nvr_log(NVR_LOG_NOTICE, "camera %s: recording %d stream%s (%s%s, %s, %s)", c->cfg.name, c->nstreams,
	    c->nstreams == 1 ? "" : "s", c->url.tls ? "RTSPS" : "RTSP",
	    ing_cam_tunnel(c) ? (c->url.tls ? " over HTTPS" : " over HTTP") : ing_cam_udp(c) ? ", UDP" : ", TCP",
	    ing_srtp_suite_name(c->streams[0].suite), c->streams[0].name);
	ing_cam_set_state(c, ING_CAM_RECORDING, NULL);
}

static bool
status_ok(struct ing_camera *c, const struct ing_rtsp_msg *m, int64_t now_ms)
{
	if (m->status == 401) {
		handle_401(c, m, now_ms);
		return false;
	}
	if (m->status >= 200 && m->status < 300)
		return true;
	if (c->step == ST_OPTIONS)
		return true; /* some cameras refuse OPTIONS; DESCRIBE tells */
	if (c->step == ST_KEEPALIVE && m->status != 454) {
		c->next_keepalive_ms = now_ms + 30000; /* a keep-alive some camera dislikes: not fatal */
		return false;
	}
	ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, m->reason,
	    m->status == 404   ? "check the path in the camera's URL"
	    : m->status == 461 ? "the camera does not offer this transport: set the camera's transport to tcp or tunnel"
			       : NULL,
	    "the camera answered %s with %d",
	    c->last_method ? c->last_method : "a request", m->status);
	return false;
}

void
ing_session_response(struct ing_camera *c, const struct ing_rtsp_msg *m, int64_t now_ms)
{
	const char *pub, *why = NULL;

	if (!status_ok(c, m, now_ms))
		return;
	c->auth_attempts = 0;
	switch (c->step) {
	case ST_OPTIONS:
		pub = ing_rtsp_header(m, "Public");
		c->has_get_parameter = pub != NULL && ing_rtsp_public_has(pub, "GET_PARAMETER");
		c->step = ST_DESCRIBE;
		send_step(c, now_ms);
		break;
	case ST_DESCRIBE:
		after_describe(c, m, now_ms);
		break;
	case ST_SETUP:
		if (!after_setup(c, m, &why)) {
			ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, why, NULL, "cannot set up the stream");
			return;
		}
		if (ing_cam_udp(c))
			ing_udp_punch(c); /* open the NAT's way in before the camera sends */
		if (++c->setup_i < c->nstreams) {
			send_step(c, now_ms);
		} else {
			c->step = ST_PLAY;
			send_step(c, now_ms);
		}
		break;
	case ST_PLAY:
		start_playing(c, now_ms);
		break;
	case ST_KEEPALIVE:
	case ST_TEARDOWN:
		break;
	}
}

void
ing_session_keepalive(struct ing_camera *c, int64_t now_ms)
{
	int64_t half = (int64_t)c->session_timeout * 1000 / 2;

	if (ing_cam_busy(c))
		return; /* a request is still on its way: try at the next tick */
	c->step = ST_KEEPALIVE;
	send_step(c, now_ms);
	c->deadline_ms = 0; /* a late keep-alive answer is not fatal; data is watched */
	c->next_keepalive_ms = now_ms + (half < 30000 ? half : 30000);
}

void
ing_session_teardown(struct ing_camera *c)
{
	if (ing_cam_busy(c) || !ing_cam_connected(c))
		return;
	c->step = ST_TEARDOWN;
	send_step(c, 0);
}

/*
 * camera.c: a camera's connection: resolve, connect, TLS, the read and
 * write paths, timeouts, state and reconnects with backoff.
 * It must never block (sockets are non-blocking, names are resolved with
 * getaddrinfo_a), never log a password, and never retry faster than its
 * backoff allows.
 */
#include "autoconfig.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "ingest/camera_priv.h"
#include "ingest/worker.h"
#include "nvrd/log.h"

#define READ_BUDGET ((size_t)256 * 1024) /* bytes per event: others get their turn */
#define STATUS_EVERY_MS 5000
#define BACKOFF_RESET_AFTER_MS 30000

static const char *const state_names[ING_CAM_STATE_COUNT] = {
	[ING_CAM_STOPPED] = "stopped",
	[ING_CAM_CONNECTING] = "connecting",
	[ING_CAM_RECORDING] = "recording",
	[ING_CAM_AUTH_FAILED] = "auth failed",
	[ING_CAM_CERT_REJECTED] = "certificate rejected",
	[ING_CAM_UNREACHABLE] = "unreachable",
	[ING_CAM_STREAM_ERROR] = "stream error",
	[ING_CAM_NO_KEY_HOLDER] = "no key holder",
};

const char *
ing_cam_state_name(enum ing_cam_state s)
{
	return (unsigned)s < ING_CAM_STATE_COUNT ? state_names[s] : "unknown";
}

static const char *const transport_names[] = {
	[ING_TRANSPORT_TCP] = "tcp",
	[ING_TRANSPORT_UDP] = "udp",
	[ING_TRANSPORT_TUNNEL] = "tunnel",
};

const char *
ing_transport_name(enum ing_transport t)
{
	return (unsigned)t <= ING_TRANSPORT_TUNNEL ? transport_names[t] : "unknown";
}

nvr_err
ing_transport_parse(const char *name, enum ing_transport *t)
{
	for (unsigned i = 0; i <= ING_TRANSPORT_TUNNEL; i++) {
		if (strcmp(name, transport_names[i]) == 0) {
			*t = (enum ing_transport)i;
			return NVR_OK;
		}
	}
	return NVR_ERR_INVAL;
}

nvr_err
ing_transport_for_url(enum ing_transport t, const struct ing_rtsp_url *u, enum ing_transport *out)
{
	if (u->tunnel && t == ING_TRANSPORT_UDP)
		return NVR_ERR_INVAL;
	*out = u->tunnel ? ING_TRANSPORT_TUNNEL : t;
	return NVR_OK;
}

const nvr_uuid *
ing_camera_id(const struct ing_camera *c)
{
	return &c->cfg.id;
}

static void
free_cfg(struct ing_camera_config *cfg)
{
	if (cfg->password != NULL) {
		OPENSSL_cleanse(cfg->password, strlen(cfg->password));
		free(cfg->password);
	}
	free(cfg->user);
	ing_tls_trust_free(cfg->trust);
	cfg->password = cfg->user = NULL;
	cfg->trust = NULL;
}

nvr_err
ing_camera_new(struct ing_camera_config *cfg, const struct ing_services *svc, struct ing_camera **out)
{
	struct ing_camera *c = calloc(1, sizeof(*c));
	const char *why;

	*out = NULL;
	if (c == NULL) {
		free_cfg(cfg);
		return NVR_ERR_NOMEM;
	}
	if (ing_rtsp_url_parse(cfg->url, &c->url, &why) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "camera %s: bad URL: %s", cfg->name, why);
		free_cfg(cfg);
		free(c);
		return NVR_ERR_INVAL;
	}
	c->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg)); /* ownership moved */
	c->svc = *svc;
	if (c->url.tunnel) /* https:// and the like: the URL says how */
		c->cfg.transport = ING_TRANSPORT_TUNNEL;
	if (ing_rtsp_request_url(c->cfg.url, &c->url, c->req_url, sizeof(c->req_url)) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "camera %s: URL too long", c->cfg.name);
		free_cfg(&c->cfg);
		free(c);
		return NVR_ERR_INVAL;
	}
	c->rtsp = (struct ing_conn){ .fd = -1, .watch = { c, ING_SOCK_RTSP, 0 } };
	c->post = (struct ing_conn){ .fd = -1, .watch = { c, ING_SOCK_POST, 0 } };
	for (int i = 0; i < ING_MAX_UDP; i++)
		c->udp[i] = (struct ing_udp){ .fd = -1, .watch = { c, ING_SOCK_UDP, i } };
	nvr_backoff_init(&c->backoff, 1000, c->cfg.reconnect_max_ms);
	*out = c;
	return NVR_OK;
}

/* ---- state ------------------------------------------------------------------- */

void
ing_cam_publish(struct ing_camera *c)
{
	if (c->svc.status != NULL)
		c->svc.status(c->svc.ctx, &c->cfg.id, c->cfg.name, &c->status);
}

void
ing_cam_set_state(struct ing_camera *c, enum ing_cam_state st, const char *error)
{
	bool changed = c->status.state != st || strcmp(c->status.error, error ? error : "") != 0;

	c->status.state = st;
	snprintf(c->status.error, sizeof(c->status.error), "%s", error ? error : "");
	if (changed)
		ing_cam_publish(c);
}

static void
conn_close(struct ing_camera *c, struct ing_conn *k)
{
	if (k->ssl != NULL) {
		SSL_free(k->ssl);
		k->ssl = NULL;
	}
	if (k->fd >= 0) {
		ing_worker_unwatch(c->worker, k->fd);
		close(k->fd);
		k->fd = -1;
	}
	free(k->out);
	k->out = NULL;
	k->out_len = k->out_off = 0;
	k->want_write = false;
}

static void
close_conn(struct ing_camera *c)
{
	ing_udp_close(c);
	ing_media_close(c);
	if (c->sdp != NULL) {
		ing_sdp_wipe(c->sdp);
		free(c->sdp);
		c->sdp = NULL;
	}
	conn_close(c, &c->rtsp);
	conn_close(c, &c->post);
	if (c->ai != NULL) {
		freeaddrinfo(c->ai);
		c->ai = c->ai_next = NULL;
	}
	if (c->in != NULL)
		OPENSSL_cleanse(c->in, c->in_len); /* may hold an SDP with keys */
	c->in_len = 0;
	c->session[0] = '\0';
	c->have_auth = false;
	c->auth_attempts = 0;
}

bool
ing_cam_connected(const struct ing_camera *c)
{
	return c->rtsp.fd >= 0;
}

void
ing_cam_fail(struct ing_camera *c, enum ing_cam_state st, int64_t now_ms, const char *detail, const char *hint,
    const char *fmt, ...)
{
	char msg[384], full[512];
	va_list ap;
	int64_t delay;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
	if (c->status.state != st || strcmp(c->status.error, full) != 0)
		nvr_log_ex(NVR_LOG_WARNING, detail, hint, "camera %s: %s (%s)", c->cfg.name, msg, ing_cam_state_name(st));
	/* every failure schedules a new attempt: that is what "reconnects"
	 * counts, for a camera that never connected as for one that dropped */
	c->status.counters[ING_CNT_RECONNECTS]++;
	if (c->recording_since_ms != 0 && now_ms - c->recording_since_ms > BACKOFF_RESET_AFTER_MS)
		nvr_backoff_reset(&c->backoff);
	c->recording_since_ms = 0;
	close_conn(c);
	c->status.state = st;
	snprintf(c->status.error, sizeof(c->status.error), "%s", full);
	ing_cam_publish(c); /* the state, or at least the counter, changed */
	delay = nvr_backoff_next(&c->backoff);
	c->next_attempt_ms = now_ms + delay;
	c->phase = PH_IDLE;
	nvr_debug("camera %s: next attempt in %lld ms", c->cfg.name, (long long)delay);
}

/* ---- connecting ---------------------------------------------------------------- */

static void connect_next(struct ing_camera *c, int64_t now_ms);

static void
begin_connect(struct ing_camera *c, int64_t now_ms)
{
	int r;

	if (c->status.state == ING_CAM_STOPPED)
		ing_cam_set_state(c, ING_CAM_CONNECTING, NULL);
	snprintf(c->port_str, sizeof(c->port_str), "%d", c->url.port);
	c->hints = (struct addrinfo){ .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	r = getaddrinfo(c->url.host, c->port_str, &c->hints, &c->ai);
	if (r == 0) {
		c->ai_next = c->ai;
		connect_next(c, now_ms);
		return;
	}
	/* A name: resolved by glibc's helper thread, polled from the tick. */
	c->hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	c->gai = (struct gaicb){ .ar_name = c->url.host, .ar_service = c->port_str, .ar_request = &c->hints };
	c->gai_list[0] = &c->gai;
	if (getaddrinfo_a(GAI_NOWAIT, c->gai_list, 1, NULL) != 0) {
		ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, NULL, NULL, "cannot start resolving %s", c->url.host);
		return;
	}
	c->phase = PH_RESOLVING;
	c->deadline_ms = now_ms + c->cfg.timeout_ms;
}

/* The RTSP exchange can start: on the connection, or, in a tunnel, once
 * both of its sides are open. */
static void
rtsp_ready(struct ing_camera *c, int64_t now_ms)
{
	c->deadline_ms = now_ms + c->cfg.timeout_ms;
	if (ing_cam_tunnel(c) && c->phase < PH_TUNNEL_GET) {
		if (!ing_tunnel_send_get(c)) {
			ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, c->io_error, NULL, "cannot send the tunnel's GET");
			return;
		}
		c->phase = PH_TUNNEL_GET;
		return;
	}
	if (ing_cam_tunnel(c) && !ing_tunnel_send_post(c)) {
		ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, c->io_error, NULL, "cannot send the tunnel's POST");
		return;
	}
	c->phase = PH_RTSP;
	ing_session_begin(c, now_ms);
}

static void
connected(struct ing_camera *c, struct ing_conn *k, int64_t now_ms)
{
	int one = 1;

	setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(k->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	c->deadline_ms = now_ms + c->cfg.timeout_ms;
	if (k == &c->rtsp) {
		c->peer_len = sizeof(c->peer);
		if (getpeername(k->fd, (struct sockaddr *)&c->peer, &c->peer_len) != 0)
			c->peer_len = 0;
	}
	if (c->url.tls) {
		if ((k->ssl = ing_tls_ssl(c->cfg.trust, c->url.host, k->fd)) == NULL) {
			ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, NULL, NULL, "cannot set up TLS");
			return;
		}
		c->phase = k == &c->rtsp ? PH_TLS : PH_POST_TLS;
		k->want_write = true;
		return;
	}
	rtsp_ready(c, now_ms);
}

/* A non-blocking connect of k to addr, watched: true if under way. */
static bool
conn_open(struct ing_camera *c, struct ing_conn *k, const struct sockaddr *addr, socklen_t len, int *err)
{
	k->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (k->fd < 0) {
		*err = errno;
		return false;
	}
	if ((connect(k->fd, addr, len) == 0 || errno == EINPROGRESS) &&
	    ing_worker_watch(c->worker, k->fd, true, &k->watch) == NVR_OK)
		return true;
	*err = errno;
	close(k->fd);
	k->fd = -1;
	return false;
}

static void
connect_next(struct ing_camera *c, int64_t now_ms)
{
	int err = 0;

	while (c->ai_next != NULL) {
		struct addrinfo *a = c->ai_next;
		c->ai_next = a->ai_next;
		if (conn_open(c, &c->rtsp, a->ai_addr, a->ai_addrlen, &err)) {
			c->phase = PH_CONNECTING;
			c->deadline_ms = now_ms + c->cfg.timeout_ms;
			return;
		}
	}
	ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, err ? strerror(err) : NULL, "check the camera's address and that it is on",
	    "cannot connect to %s port %d", c->url.host, c->url.port);
}

/* The tunnel's second connection goes to the address the first reached. */
static void
connect_post(struct ing_camera *c, int64_t now_ms)
{
	int err = 0;

	if (c->peer_len == 0 || !conn_open(c, &c->post, (struct sockaddr *)&c->peer, c->peer_len, &err)) {
		ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, err ? strerror(err) : NULL, NULL,
		    "cannot open the tunnel's second (POST) connection to %s port %d", c->url.host, c->url.port);
		return;
	}
	c->phase = PH_POST_CONNECTING;
	c->deadline_ms = now_ms + c->cfg.timeout_ms;
}

static void
tls_step(struct ing_camera *c, struct ing_conn *k, int64_t now_ms)
{
	char detail[384], err[160];
	int r;

	ing_ssl_clear_errors();
	r = SSL_do_handshake(k->ssl);
	if (r == 1) {
		k->want_write = false;
		rtsp_ready(c, now_ms);
		return;
	}
	switch (SSL_get_error(k->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		k->want_write = false;
		return;
	case SSL_ERROR_WANT_WRITE:
		k->want_write = true;
		return;
	default:
		break;
	}
	if (ing_tls_rejected(k->ssl, detail, sizeof(detail))) {
		ERR_clear_error();
		ing_cam_fail(c, ING_CAM_CERT_REJECTED, now_ms, detail,
		    "give the camera vendor's CA (nvrctl camera add --ca) or pin this certificate's SHA-256 (--pin)",
		    "TLS certificate not trusted");
		return;
	}
	ERR_error_string_n(ERR_peek_last_error(), err, sizeof(err));
	ERR_clear_error();
	ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, err, NULL, "TLS handshake failed");
}

/* ---- bytes in ------------------------------------------------------------------- */

/* A request from the server (rare: ANNOUNCE, GET_PARAMETER): polite
 * refusal, except keep-alives, which are answered. */
static void
server_request(struct ing_camera *c, const struct ing_rtsp_msg *m)
{
	const char *cseq = ing_rtsp_header(m, "CSeq");
	char resp[256];
	bool ok = strcmp(m->method, "GET_PARAMETER") == 0 || strcmp(m->method, "OPTIONS") == 0;
	int n = snprintf(resp, sizeof(resp), "RTSP/1.0 %s\r\nCSeq: %.32s\r\n\r\n", ok ? "200 OK" : "501 Not Implemented",
	    cseq ? cseq : "0");

	if (!ing_cam_busy(c) && n > 0 && (size_t)n < sizeof(resp))
		ing_cam_send(c, resp, (size_t)n);
}

/* The tunnel's GET answer comes first on the connection: until it is
 * whole, nothing else is read as RTSP. False if the camera failed. */
static bool
tunnel_answer(struct ing_camera *c, int64_t now_ms)
{
	const char *why = NULL;
	int status = 0, r = ing_tunnel_get_answer(c, &why, &status);

	if (r < 0)
		return true;
	if (r > 0 && status == 0) {
		ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, why, "check that the camera offers RTSP over HTTP(S) on this port",
		    "the camera does not answer as an HTTP tunnel");
		return false;
	}
	if (r > 0) {
		bool login = status == 401 || status == 403;
		/* The login is answered inside the tunnel (RTSP Digest), as
		 * gst-rtsp-server and ONVIF cameras ask; an HTTP login on the
		 * tunnel's own requests is not. */
		ing_cam_fail(c, login ? ING_CAM_AUTH_FAILED : ING_CAM_STREAM_ERROR, now_ms, why,
		    status == 404 ? "check the path in the camera's URL"
		    : login       ? "let the camera take the login inside the tunnel, or use rtsps:// if it can"
				  : "check that the camera offers RTSP over HTTP(S) on this port",
		    "the camera refused the HTTP tunnel (HTTP %d)", status);
		return false;
	}
	connect_post(c, now_ms);
	return c->rtsp.fd >= 0;
}

static bool
process_input(struct ing_camera *c, char *scratch, int64_t now_ms)
{
	struct ing_rtsp_msg m;
	struct ing_rtsp_item_info it;
	const char *why;
	size_t off = 0;

	if (c->phase == PH_TUNNEL_GET && !tunnel_answer(c, now_ms))
		return false;
	if (c->phase < PH_RTSP)
		return true; /* the tunnel's POST side is not open yet: RTSP waits */
	while (c->rtsp.fd >= 0 && off < c->in_len) {
		if (ing_rtsp_parse(c->in + off, c->in_len - off, scratch, &m, &it, &why) != NVR_OK) {
			ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, why, NULL, "the camera sent malformed RTSP");
			return false;
		}
		if (it.kind == ING_RTSP_NEED_MORE)
			break;
		if (it.kind == ING_RTSP_FRAME)
			ing_media_frame(c, it.channel, it.data, it.len, now_ms);
		else if (m.method != NULL)
			server_request(c, &m);
		else
			ing_session_response(c, &m, now_ms);
		off += it.consumed;
	}
	if (c->rtsp.fd < 0)
		return false; /* the session failed and was closed meanwhile */
	if (off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return true;
}

static bool
grow_input(struct ing_camera *c)
{
	size_t cap;
	uint8_t *p;

	if (c->in_cap - c->in_len >= 4096)
		return true;
	if (c->in_cap >= ING_IN_MAX)
		return c->in_len < c->in_cap;
	cap = c->in_cap ? c->in_cap * 2 : ING_IN_START;
	if (cap > ING_IN_MAX)
		cap = ING_IN_MAX;
	if ((p = realloc(c->in, cap)) == NULL)
		return c->in_len < c->in_cap;
	c->in = p;
	c->in_cap = cap;
	return true;
}

static void
read_loop(struct ing_camera *c, char *scratch, int64_t now_ms)
{
	size_t budget = READ_BUDGET;

	while (budget > 0 && c->rtsp.fd >= 0) {
		if (!grow_input(c)) {
			ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, NULL, NULL, "out of memory for the receive buffer");
			return;
		}
		ssize_t n = ing_conn_read(c, &c->rtsp, c->in + c->in_len, c->in_cap - c->in_len);
		if (n == -1)
			return;
		if (n == 0 || n == -2) {
			ing_cam_fail(c, c->phase == PH_PLAYING ? ING_CAM_STREAM_ERROR : ING_CAM_UNREACHABLE, now_ms,
			    n == 0 ? NULL : c->io_error, NULL, n == 0 ? "the camera closed the connection" : "the connection failed");
			return;
		}
		c->in_len += (size_t)n;
		c->arrival_ns = ing_now_realtime_ns();
		c->arrival_us = ing_now_mono_us();
		budget = (size_t)n > budget ? 0 : budget - (size_t)n;
		if (!process_input(c, scratch, now_ms))
			return;
	}
	/* With read-ahead, whole records may wait in OpenSSL's buffer while
	 * the socket is empty: epoll would never report them. */
	if (budget == 0 && c->rtsp.ssl != NULL && SSL_has_pending(c->rtsp.ssl)) {
		c->again = true;
		ing_worker_again(c->worker);
	}
}

/* The tunnel's POST side only sends; what comes back (TLS session tickets,
 * or a server's answer) is read and dropped, and its end ends the session:
 * requests could no longer reach the camera. */
static void
post_drain(struct ing_camera *c, char *scratch, int64_t now_ms)
{
	for (int i = 0; i < 16; i++) {
		ssize_t n = ing_conn_read(c, &c->post, (uint8_t *)scratch, ING_RTSP_SCRATCH);
		if (n == -1)
			return;
		if (n <= 0) {
			ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, n == 0 ? NULL : c->io_error, NULL,
			    "the camera closed the tunnel's POST connection");
			return;
		}
	}
}

void
ing_camera_again(struct ing_camera *c, int64_t now_ms, char *scratch)
{
	bool again = c->again;

	c->again = false;
	if (again && c->rtsp.fd >= 0)
		ing_camera_io(&c->rtsp.watch, EPOLLIN, now_ms, scratch);
}

/* ---- the worker's calls ------------------------------------------------------------- */

static void
connect_done(struct ing_camera *c, struct ing_conn *k, int64_t now_ms)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == EINPROGRESS)
		return;
	if (err == 0) {
		connected(c, k, now_ms);
		return;
	}
	ing_worker_unwatch(c->worker, k->fd);
	close(k->fd);
	k->fd = -1;
	if (k == &c->rtsp && c->ai_next != NULL) {
		connect_next(c, now_ms);
		return;
	}
	ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, strerror(err), "check the camera's address and that it is on",
	    "cannot connect to %s port %d", c->url.host, c->url.port);
}

/* A send or read in the tick may have changed what a connection waits
 * for: epoll is told. */
static void
rewatch(struct ing_camera *c, struct ing_conn *k, bool ww)
{
	if (k->fd >= 0 && k->want_write != ww)
		ing_worker_watch(c->worker, k->fd, k->want_write, &k->watch);
}

/* Events on a TCP connection, in whatever phase the camera is. */
static void
conn_io(struct ing_camera *c, struct ing_conn *k, uint32_t events, int64_t now_ms, char *scratch)
{
	bool post = k == &c->post;

	if (c->phase == (post ? PH_POST_CONNECTING : PH_CONNECTING)) {
		connect_done(c, k, now_ms);
		return;
	}
	if (c->phase == (post ? PH_POST_TLS : PH_TLS)) {
		tls_step(c, k, now_ms);
		return;
	}
	if (c->phase < (post ? PH_RTSP : PH_TUNNEL_GET))
		return;
	if ((events & EPOLLOUT) && !ing_conn_flush(c, k)) {
		ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, c->io_error, NULL, "cannot send to the camera");
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
		return;
	if (post)
		post_drain(c, scratch, now_ms);
	else
		read_loop(c, scratch, now_ms);
}

void
ing_camera_io(struct ing_watch *w, uint32_t events, int64_t now_ms, char *scratch)
{
	struct ing_camera *c = w->cam;
	struct ing_conn *k = w->kind == ING_SOCK_POST ? &c->post : &c->rtsp;
	bool ww = c->rtsp.want_write, pww = c->post.want_write;

	if (w->kind == ING_SOCK_UDP) {
		if (c->udp[w->index].fd >= 0 && c->phase >= PH_RTSP)
			ing_udp_read(c, w->index, now_ms);
		return;
	}
	if (k->fd < 0)
		return; /* an event for a connection closed since */
	conn_io(c, k, events, now_ms, scratch);
	/* a read on one side may have sent on the other (a tunnel's answer
	 * to the camera's request goes out on the POST side) */
	rewatch(c, &c->rtsp, ww);
	rewatch(c, &c->post, pww);
}

void
ing_camera_start(struct ing_camera *c, struct ing_worker *w, int64_t now_ms)
{
	c->worker = w;
	ing_cam_set_state(c, ING_CAM_CONNECTING, NULL);
	begin_connect(c, now_ms);
}

static void
tick_resolving(struct ing_camera *c, int64_t now_ms)
{
	int r = gai_error(&c->gai);

	if (r == EAI_INPROGRESS) {
		if (now_ms > c->deadline_ms)
			ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, NULL, NULL, "resolving %s takes too long", c->url.host);
		return;
	}
	if (r != 0) {
		ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, gai_strerror(r), "check the camera's host name and DNS",
		    "cannot resolve %s", c->url.host);
		return;
	}
	c->ai = c->ai_next = c->gai.ar_result;
	c->gai.ar_result = NULL;
	connect_next(c, now_ms);
}

static void
tick_playing(struct ing_camera *c, int64_t now_ms)
{
	if (now_ms - c->last_data_ms > c->cfg.timeout_ms) {
		/* over UDP, silence is most often a firewall or NAT on the way */
		ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, NULL,
		    ing_cam_udp(c) ? "UDP from the camera may be blocked on the way; transport tcp avoids that" : NULL,
		    "no packets for %lld s", (long long)(c->cfg.timeout_ms / 1000));
		return;
	}
	if (now_ms >= c->next_keepalive_ms)
		ing_session_keepalive(c, now_ms);
	if (ing_cam_udp(c) && now_ms >= c->next_punch_ms) {
		ing_udp_punch(c);
		c->next_punch_ms = now_ms + 20000;
	}
	if (now_ms - c->last_status_ms >= STATUS_EVERY_MS) {
		c->last_status_ms = now_ms;
		ing_cam_publish(c);
	}
}

void
ing_camera_tick(struct ing_camera *c, int64_t now_ms, bool sync)
{
	bool ww = c->rtsp.want_write, pww = c->post.want_write;

	ing_media_stats(c);
	if (sync && c->nstreams > 0)
		ing_media_flush(c);
	switch (c->phase) {
	case PH_IDLE:
		if (now_ms >= c->next_attempt_ms)
			begin_connect(c, now_ms);
		return;
	case PH_RESOLVING:
		tick_resolving(c, now_ms);
		return;
	case PH_PLAYING:
		tick_playing(c, now_ms);
		break;
	default:
		if (now_ms > c->deadline_ms)
			ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, NULL, "check that the camera is on and not overloaded",
			    "no answer within %lld s", (long long)(c->cfg.timeout_ms / 1000));
		return;
	}
	rewatch(c, &c->rtsp, ww);
	rewatch(c, &c->post, pww);
}

void
ing_camera_free(struct ing_camera *c)
{
	struct timespec ts = { .tv_sec = 2 };

	if (c == NULL)
		return;
	if (c->phase == PH_PLAYING)
		ing_session_teardown(c);
	if (c->phase == PH_RESOLVING && gai_cancel(&c->gai) == EAI_NOTCANCELED) {
		/* glibc's resolver thread still writes into c->gai: wait for it */
		const struct gaicb *list[1] = { &c->gai };
		if (gai_suspend(list, 1, &ts) != 0 && gai_error(&c->gai) == EAI_INPROGRESS) {
			nvr_log(NVR_LOG_WARNING, "camera %s: name resolution did not end; its memory is left", c->cfg.name);
			return;
		}
	}
	if (c->phase == PH_RESOLVING && c->gai.ar_result != NULL)
		freeaddrinfo(c->gai.ar_result);
	close_conn(c);
	ing_media_stats(c);
	c->status.state = ING_CAM_STOPPED;
	c->status.error[0] = '\0';
	ing_cam_publish(c);
	free_cfg(&c->cfg);
	if (c->in != NULL) {
		OPENSSL_cleanse(c->in, c->in_cap);
		free(c->in);
	}
	free(c);
}

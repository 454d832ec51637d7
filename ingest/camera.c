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
	c->fd = -1;
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
close_conn(struct ing_camera *c)
{
	ing_media_close(c);
	if (c->sdp != NULL) {
		ing_sdp_wipe(c->sdp);
		free(c->sdp);
		c->sdp = NULL;
	}
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		ing_worker_unwatch(c->worker, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	if (c->ai != NULL) {
		freeaddrinfo(c->ai);
		c->ai = c->ai_next = NULL;
	}
	if (c->in != NULL)
		OPENSSL_cleanse(c->in, c->in_len); /* may hold an SDP with keys */
	free(c->out);
	c->out = NULL;
	c->in_len = c->out_len = c->out_off = 0;
	c->session[0] = '\0';
	c->have_auth = false;
	c->auth_attempts = 0;
	c->want_write = false;
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

static void
connected(struct ing_camera *c, int64_t now_ms)
{
	int one = 1;

	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	c->deadline_ms = now_ms + c->cfg.timeout_ms;
	if (c->url.tls) {
		if ((c->ssl = ing_tls_ssl(c->cfg.trust, c->url.host, c->fd)) == NULL) {
			ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, NULL, NULL, "cannot set up TLS");
			return;
		}
		c->phase = PH_TLS;
		c->want_write = true;
		return;
	}
	c->phase = PH_RTSP;
	ing_session_begin(c, now_ms);
}

static void
connect_next(struct ing_camera *c, int64_t now_ms)
{
	int err = 0;

	while (c->ai_next != NULL) {
		struct addrinfo *a = c->ai_next;
		c->ai_next = a->ai_next;
		c->fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			err = errno;
			continue;
		}
		if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
			if (ing_worker_watch(c->worker, c->fd, true, c) == NVR_OK) {
				c->phase = PH_CONNECTING;
				c->deadline_ms = now_ms + c->cfg.timeout_ms;
				return;
			}
			err = errno;
		} else {
			err = errno;
		}
		close(c->fd);
		c->fd = -1;
	}
	ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, err ? strerror(err) : NULL, "check the camera's address and that it is on",
	    "cannot connect to %s port %d", c->url.host, c->url.port);
}

/* The thread's OpenSSL error queue is shared by every connection this
 * worker serves: SSL_get_error() reads it, so an error another camera left
 * there would fail this one. It must be empty before each SSL call; it
 * almost always is, and peeking is cheaper than clearing. */
static void
clear_errors(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

static void
tls_step(struct ing_camera *c, int64_t now_ms)
{
	char detail[384], err[160];
	int r;

	clear_errors();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->want_write = false;
		c->phase = PH_RTSP;
		ing_session_begin(c, now_ms);
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->want_write = false;
		return;
	case SSL_ERROR_WANT_WRITE:
		c->want_write = true;
		return;
	default:
		break;
	}
	if (ing_tls_rejected(c->ssl, detail, sizeof(detail))) {
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

/* ---- bytes in and out ------------------------------------------------------------ */

/* Says why a read or write failed, into c->io_error (errno or OpenSSL's
 * reason), for the camera's last error. */
static void
note_io_error(struct ing_camera *c, int ssl_error)
{
	unsigned long e = ERR_peek_last_error();

	if (ssl_error == SSL_ERROR_SYSCALL && e == 0)
		snprintf(c->io_error, sizeof(c->io_error), "%s", errno ? strerror(errno) : "unexpected end of the TLS stream");
	else if (e != 0)
		ERR_error_string_n(e, c->io_error, sizeof(c->io_error));
	else
		snprintf(c->io_error, sizeof(c->io_error), "%s", strerror(errno));
	ERR_clear_error();
}

/* >0 bytes, 0 end of stream, -1 would block, -2 error (c->io_error says) */
static ssize_t
cam_read(struct ing_camera *c, uint8_t *buf, size_t n)
{
	ssize_t r;
	int e;

	if (c->ssl == NULL) {
		r = read(c->fd, buf, n);
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			note_io_error(c, SSL_ERROR_SYSCALL);
		return r < 0 ? (errno == EAGAIN || errno == EINTR ? -1 : -2) : r;
	}
	clear_errors(); /* see tls_step() */
	r = SSL_read(c->ssl, buf, (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, (int)r);
	if (e == SSL_ERROR_WANT_READ)
		return -1;
	if (e == SSL_ERROR_WANT_WRITE) {
		c->want_write = true;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	note_io_error(c, e);
	return -2;
}

/* >0 bytes, 0 would block, -1 error (c->io_error says) */
static ssize_t
cam_write(struct ing_camera *c, const char *buf, size_t n)
{
	ssize_t r;
	int e;

	if (c->ssl == NULL) {
		r = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			note_io_error(c, SSL_ERROR_SYSCALL);
		return r < 0 ? (errno == EAGAIN || errno == EINTR ? 0 : -1) : r;
	}
	clear_errors(); /* see tls_step() */
	r = SSL_write(c->ssl, buf, (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, (int)r);
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
		return 0;
	note_io_error(c, e);
	return -1;
}

static bool
flush_out(struct ing_camera *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = cam_write(c, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0)
			return false;
		if (n == 0) {
			c->want_write = true;
			return true;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	c->want_write = false;
	return true;
}

bool
ing_cam_send(struct ing_camera *c, const char *buf, size_t len)
{
	if (c->out_len != 0 || len > ING_OUT_MAX || (c->out = malloc(len)) == NULL)
		return false; /* one request at a time: never happens in order */
	memcpy(c->out, buf, len);
	c->out_len = len;
	c->out_off = 0;
	return flush_out(c);
}

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

	if (c->out_len == 0 && n > 0 && (size_t)n < sizeof(resp))
		ing_cam_send(c, resp, (size_t)n);
}

static bool
process_input(struct ing_camera *c, char *scratch, int64_t now_ms)
{
	struct ing_rtsp_msg m;
	struct ing_rtsp_item_info it;
	const char *why;
	size_t off = 0;

	while (c->fd >= 0 && off < c->in_len) {
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
	if (c->fd < 0)
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

	while (budget > 0 && c->fd >= 0) {
		if (!grow_input(c)) {
			ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, NULL, NULL, "out of memory for the receive buffer");
			return;
		}
		ssize_t n = cam_read(c, c->in + c->in_len, c->in_cap - c->in_len);
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
	if (budget == 0 && c->ssl != NULL && SSL_has_pending(c->ssl)) {
		c->again = true;
		ing_worker_again(c->worker);
	}
}

bool
ing_camera_take_again(struct ing_camera *c)
{
	bool again = c->again;

	c->again = false;
	return again && c->fd >= 0;
}

/* ---- the worker's calls ------------------------------------------------------------- */

static void
connect_done(struct ing_camera *c, int64_t now_ms)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == EINPROGRESS)
		return;
	if (err == 0) {
		connected(c, now_ms);
		return;
	}
	ing_worker_unwatch(c->worker, c->fd);
	close(c->fd);
	c->fd = -1;
	if (c->ai_next != NULL) {
		connect_next(c, now_ms);
		return;
	}
	ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, strerror(err), "check the camera's address and that it is on",
	    "cannot connect to %s port %d", c->url.host, c->url.port);
}

void
ing_camera_io(struct ing_camera *c, uint32_t events, int64_t now_ms, char *scratch)
{
	bool ww = c->want_write;

	switch (c->phase) {
	case PH_CONNECTING:
		connect_done(c, now_ms);
		break;
	case PH_TLS:
		tls_step(c, now_ms);
		break;
	case PH_RTSP:
	case PH_PLAYING:
		if ((events & EPOLLOUT) && !flush_out(c)) {
			ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, c->io_error, NULL, "cannot send to the camera");
			return;
		}
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			read_loop(c, scratch, now_ms);
		break;
	default:
		break;
	}
	if (c->fd >= 0 && c->want_write != ww)
		ing_worker_watch(c->worker, c->fd, c->want_write, c);
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

void
ing_camera_tick(struct ing_camera *c, int64_t now_ms, bool sync)
{
	bool ww = c->want_write;

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
	case PH_CONNECTING:
	case PH_TLS:
	case PH_RTSP:
		if (now_ms > c->deadline_ms)
			ing_cam_fail(c, ING_CAM_UNREACHABLE, now_ms, NULL, "check that the camera is on and not overloaded",
			    "no answer within %lld s", (long long)(c->cfg.timeout_ms / 1000));
		return;
	case PH_PLAYING:
		if (now_ms - c->last_data_ms > c->cfg.timeout_ms) {
			ing_cam_fail(c, ING_CAM_STREAM_ERROR, now_ms, NULL, NULL, "no packets for %lld s",
			    (long long)(c->cfg.timeout_ms / 1000));
			return;
		}
		if (now_ms >= c->next_keepalive_ms)
			ing_session_keepalive(c, now_ms);
		if (now_ms - c->last_status_ms >= STATUS_EVERY_MS) {
			c->last_status_ms = now_ms;
			ing_cam_publish(c);
		}
		break;
	}
	if (c->fd >= 0 && c->want_write != ww)
		ing_worker_watch(c->worker, c->fd, c->want_write, c);
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

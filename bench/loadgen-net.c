/*
 * loadgen-net.c: nvr-loadgen's sockets: the listener, OpenSSL 3 TLS on
 * non-blocking sockets, and each connection's bounded output buffer.
 *
 * A connection never blocks the loop: reads and writes stop at EAGAIN (or
 * OpenSSL's WANT_READ/WANT_WRITE) and epoll says when to go on. Media is
 * queued whole frames at a time, up to lg_server.out_cap per connection; a frame
 * that does not fit is dropped and counted, so one slow client costs only
 * itself. Connections closed during a loop turn are freed after it, since
 * later events of the same epoll batch may still point at them.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "bench/common.h"
#include "bench/loadgen.h"
#include "nvrd/log.h"
#include "nvrd/util.h"

#define LG_HANDSHAKE_NS (10 * 1000000000LL)
#define LG_IDLE_NS ((int64_t)LG_SESSION_TIMEOUT * 1000000000LL)

/* ---- listener and TLS ------------------------------------------------- */

static int
bind_one(const struct addrinfo *ai)
{
	int one = 1;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static unsigned
bound_port(int fd)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
	if (ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

nvr_err
lg_net_listen(struct lg_server *s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->listen_kind };
	char port[24];
	int gai;

	snprintf(port, sizeof(port), "%lu", s->o->port);
	if ((gai = getaddrinfo(s->o->address, port, &hints, &res)) != 0) {
		nvr_log_ex(NVR_LOG_ERROR, gai_strerror(gai), NULL, "cannot resolve --address %s",
		    s->o->address);
		return NVR_ERR_CONFIG;
	}
	s->lfd = -1;
	for (const struct addrinfo *ai = res; ai != NULL && s->lfd < 0; ai = ai->ai_next)
		s->lfd = bind_one(ai);
	freeaddrinfo(res);
	if (s->lfd < 0) {
		nvr_log_ex(NVR_LOG_ERROR, strerror(errno), NULL, "cannot listen on %s port %s",
		    s->o->address, port);
		return NVR_ERR_IO;
	}
	s->port = bound_port(s->lfd);
	s->listen_kind = LG_LISTENER;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) != 0)
		return NVR_ERR_IO;
	return NVR_OK;
}

static void
log_tls_error(const char *what, const char *file)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	nvr_log_ex(NVR_LOG_ERROR, buf, NULL, "%s %s", what, file);
}

/* TLS 1.2 and 1.3 only, as the recorder requires of cameras; no
 * renegotiation, so after the handshake a read never needs to write. */
nvr_err
lg_tls_init(struct lg_server *s)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return NVR_ERR_CRYPTO;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, s->o->cert) != 1) {
		log_tls_error("cannot load certificate", s->o->cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, s->o->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_tls_error("cannot load the private key of the certificate from", s->o->key);
		goto fail;
	}
	s->tls = ctx;
	return NVR_OK;
fail:
	SSL_CTX_free(ctx);
	return NVR_ERR_CRYPTO;
}

/* ---- connections ------------------------------------------------------ */

static void
set_events(struct lg_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	if (c->want_out || c->read_wants_write)
		ev.events |= EPOLLOUT;
	if (ev.events == c->events || c->dead)
		return;
	c->events = ev.events;
	if (epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		lg_conn_close(c, "epoll failed");
}

static void
peer_name(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		ss.ss_family = AF_UNSPEC;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
	} else if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	}
	snprintf(buf, size, "%s:%u", host, port);
}

/* The Digest nonce is per connection: a response computed for another
 * connection's challenge is refused. */
static nvr_err
conn_setup(struct lg_server *s, struct lg_conn *c, int fd)
{
	uint8_t rnd[8];
	int one = 1;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	c->kind = LG_CONN;
	c->srv = s;
	c->fd = fd;
	c->events = EPOLLIN;
	c->last_active_ns = bench_mono_ns();
	peer_name(fd, c->peer, sizeof(c->peer));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NVR_ERR_CRYPTO;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(c->nonce + 2 * i, 3, "%02x", rnd[i]);
	if (s->tls != NULL) {
		if ((c->ssl = SSL_new(s->tls)) == NULL || SSL_set_fd(c->ssl, fd) != 1)
			return NVR_ERR_CRYPTO;
		SSL_set_accept_state(c->ssl);
	}
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		return NVR_ERR_IO;
	return NVR_OK;
}

static void
conn_free(struct lg_conn *c)
{
	SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	free(c);
}

static void
accept_one(struct lg_server *s, int fd)
{
	struct lg_conn *c;

	if (s->n_conns >= LG_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		nvr_log(NVR_LOG_WARNING, "refusing a connection: %u open", s->n_conns);
		close(fd);
		return;
	}
	if (conn_setup(s, c, fd) != NVR_OK) {
		nvr_log(NVR_LOG_WARNING, "cannot set up the connection of %s", c->peer);
		conn_free(c);
		return;
	}
	c->next_conn = s->conns;
	if (s->conns != NULL)
		s->conns->prev_conn = c;
	s->conns = c;
	s->n_conns++;
	s->conns_total++;
	nvr_debug("client %s: connected", c->peer);
}

void
lg_net_accept(struct lg_server *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			accept_one(s, fd);
		} else if (errno == EINTR || errno == ECONNABORTED) {
			continue;
		} else {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				nvr_log(NVR_LOG_WARNING, "accept failed: %s", strerror(errno));
			return;
		}
	}
}

void
lg_conn_close(struct lg_conn *c, const char *why)
{
	struct lg_server *s = c->srv;

	if (c->dead)
		return;
	nvr_log(NVR_LOG_INFO, "client %s: closed (%s)", c->peer, why);
	lg_rtsp_end_session(c);
	c->dead = true;
	lg_tunnel_close(c);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->ssl != NULL && !c->tls_failed && SSL_is_init_finished(c->ssl))
		SSL_shutdown(c->ssl); /* best effort close_notify; never waits */
	if (c->prev_conn != NULL)
		c->prev_conn->next_conn = c->next_conn;
	else
		s->conns = c->next_conn;
	if (c->next_conn != NULL)
		c->next_conn->prev_conn = c->prev_conn;
	s->n_conns--;
	c->prev_conn = NULL;
	c->next_conn = s->dead;
	s->dead = c;
}

void
lg_net_reap(struct lg_server *s)
{
	while (s->dead != NULL) {
		struct lg_conn *c = s->dead;

		s->dead = c->next_conn;
		conn_free(c);
	}
}

void
lg_net_close_all(struct lg_server *s)
{
	while (s->conns != NULL)
		lg_conn_close(s->conns, "shutting down");
	lg_net_reap(s);
}

/* Handshakes that never finish and connections that never play hold a
 * slot: close them as gst-rtsp-server times out an idle session. */
void
lg_net_sweep(struct lg_server *s, int64_t now_ns)
{
	struct lg_conn *c = s->conns, *next;

	for (; c != NULL; c = next) {
		next = c->next_conn;
		if (c->playing || (c->tunnel != NULL && c->tunnel->playing))
			continue; /* a tunnel's POST is as alive as its GET */
		if (c->ssl != NULL && !SSL_is_init_finished(c->ssl) &&
		    now_ns - c->last_active_ns > LG_HANDSHAKE_NS)
			lg_conn_close(c, "TLS handshake timed out");
		else if (now_ns - c->last_active_ns > LG_IDLE_NS)
			lg_conn_close(c, "idle");
	}
}

/* ---- reading ---------------------------------------------------------- */

/* 1: got bytes, 0: nothing more for now, -1: closed (already). */
static int
conn_recv_tls(struct lg_conn *c, uint8_t *buf, size_t size, size_t *n)
{
	int r = SSL_read_ex(c->ssl, buf, size, n);
	const char *reason;
	char err[256];

	if (r == 1)
		return 1;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->read_wants_write = true;
		set_events(c);
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		lg_conn_close(c, "closed by the client");
		return -1;
	default:
		c->tls_failed = true;
		reason = ERR_reason_error_string(ERR_get_error());
		snprintf(err, sizeof(err), "TLS: %s", reason != NULL ? reason : "connection lost");
		lg_conn_close(c, err);
		ERR_clear_error();
		return -1;
	}
}

static int
conn_recv(struct lg_conn *c, uint8_t *buf, size_t size, size_t *n)
{
	ssize_t r;

	c->read_wants_write = false;
	if (c->ssl != NULL)
		return conn_recv_tls(c, buf, size, n);
	do {
		r = recv(c->fd, buf, size, 0);
	} while (r < 0 && errno == EINTR);
	if (r > 0) {
		*n = (size_t)r;
		return 1;
	}
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	lg_conn_close(c, r == 0 ? "closed by the client" : strerror(errno));
	return -1;
}

/* Reads until the socket is empty, handling requests as they complete;
 * lg_tunnel_input (and lg_rtsp_input after it) consumes what it handles,
 * or closes a connection whose buffer is full of something that is not a
 * request, so the buffer always has room for the next read. */
static void
conn_read(struct lg_conn *c)
{
	size_t n = 0;
	int r;

	while (!c->dead && !c->closing) {
		r = conn_recv(c, c->in + c->in_len, LG_IN_CAP - c->in_len, &n);
		if (r <= 0)
			break;
		c->last_active_ns = bench_mono_ns();
		c->in_len += n;
		lg_tunnel_input(c);
	}
	if (!c->dead && c->out_len > 0 && !c->want_out)
		lg_conn_flush(c);
}

void
lg_conn_event(struct lg_conn *c, uint32_t events)
{
	if (c->dead)
		return;
	if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
		lg_conn_close(c, "connection reset");
		return;
	}
	if ((events & EPOLLIN) || ((events & EPOLLOUT) && c->read_wants_write))
		conn_read(c);
	if (!c->dead && (events & EPOLLOUT) && c->out_len > 0)
		lg_conn_flush(c);
}

/* ---- writing ---------------------------------------------------------- */

/* Room for n more bytes if the queue stays within limit. Compacts only
 * when at least half the buffer is free at its head, and grows by
 * doubling, so each byte is moved O(1) times. */
static bool
out_reserve(struct lg_conn *c, size_t n, size_t limit)
{
	size_t need = c->out_len + n, size, max = 2 * (c->srv->out_cap + LG_OUT_SLACK);
	uint8_t *p;

	if (need > limit)
		return false;
	if (c->out_off + need <= c->out_size)
		return true;
	if (need <= c->out_size / 2) {
		memmove(c->out, c->out + c->out_off, c->out_len);
		c->out_off = 0;
		return true;
	}
	for (size = c->out_size ? c->out_size : 16384; size < 2 * need && size < max;)
		size *= 2;
	if (size > max)
		size = max;
	if ((p = malloc(size)) == NULL)
		return false;
	if (c->out_len > 0)
		memcpy(p, c->out + c->out_off, c->out_len);
	free(c->out);
	c->out = p;
	c->out_size = size;
	c->out_off = 0;
	return true;
}

void
lg_conn_queue_reply(struct lg_conn *c, const void *data, size_t len)
{
	if (c->dead)
		return;
	if (!out_reserve(c, len, c->srv->out_cap + LG_OUT_SLACK)) {
		lg_conn_close(c, "the client does not read its replies");
		return;
	}
	memcpy(c->out + c->out_off + c->out_len, data, len);
	c->out_len += len;
}

/* RFC 2326 10.12: '$', channel, 16-bit length, then the packet. */
bool
lg_conn_queue_frame(struct lg_conn *c, uint8_t channel, const uint8_t *data, size_t len)
{
	uint8_t *p;

	if (len > 0xffff || !out_reserve(c, 4 + len, c->srv->out_cap))
		return false;
	p = c->out + c->out_off + c->out_len;
	p[0] = '$';
	p[1] = channel;
	bench_put_be16(p + 2, (uint16_t)len);
	memcpy(p + 4, data, len);
	c->out_len += 4 + len;
	return true;
}

/* Bytes written, 0 when the socket is full, -1 when the connection failed. */
static ssize_t
conn_send(struct lg_conn *c, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	int r2;

	if (c->ssl != NULL) {
		if ((r2 = SSL_write_ex(c->ssl, buf, len, &n)) == 1)
			return (ssize_t)n;
		r2 = SSL_get_error(c->ssl, r2);
		if (r2 == SSL_ERROR_WANT_WRITE || r2 == SSL_ERROR_WANT_READ)
			return 0;
		ERR_clear_error();
		c->tls_failed = true;
		lg_conn_close(c, "TLS write failed");
		return -1;
	}
	do {
		r = send(c->fd, buf, len, MSG_NOSIGNAL);
	} while (r < 0 && errno == EINTR);
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	lg_conn_close(c, strerror(errno));
	return -1;
}

void
lg_conn_flush(struct lg_conn *c)
{
	ssize_t n;

	while (!c->dead && c->out_len > 0) {
		if ((n = conn_send(c, c->out + c->out_off, c->out_len)) <= 0)
			break;
		c->out_off += (size_t)n;
		c->out_len -= (size_t)n;
		c->srv->bytes_written += (uint64_t)n;
	}
	if (c->dead)
		return;
	if (c->out_len == 0) {
		c->out_off = 0;
		if (c->closing) {
			lg_conn_close(c, "done");
			return;
		}
	}
	c->want_out = c->out_len > 0;
	set_events(c);
}

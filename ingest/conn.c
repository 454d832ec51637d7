/*
 * conn.c: bytes to and from a camera's TCP or TLS connection, without
 * blocking: what the socket does not take now waits in the connection's
 * queue until epoll says it may go.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "ingest/camera_priv.h"

/* The thread's OpenSSL error queue is shared by every connection this
 * worker serves: SSL_get_error() reads it, so an error another camera left
 * there would fail this one. It must be empty before each SSL call; it
 * almost always is, and peeking is cheaper than clearing. */
void
ing_ssl_clear_errors(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

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
ssize_t
ing_conn_read(struct ing_camera *c, struct ing_conn *k, uint8_t *buf, size_t n)
{
	ssize_t r;
	int e;

	if (k->ssl == NULL) {
		r = read(k->fd, buf, n);
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			note_io_error(c, SSL_ERROR_SYSCALL);
		return r < 0 ? (errno == EAGAIN || errno == EINTR ? -1 : -2) : r;
	}
	ing_ssl_clear_errors();
	r = SSL_read(k->ssl, buf, (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(k->ssl, (int)r);
	if (e == SSL_ERROR_WANT_READ)
		return -1;
	if (e == SSL_ERROR_WANT_WRITE) {
		k->want_write = true;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	note_io_error(c, e);
	return -2;
}

/* >0 bytes, 0 would block, -1 error (c->io_error says) */
static ssize_t
conn_write(struct ing_camera *c, struct ing_conn *k, const char *buf, size_t n)
{
	ssize_t r;
	int e;

	if (k->ssl == NULL) {
		r = send(k->fd, buf, n, MSG_NOSIGNAL);
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			note_io_error(c, SSL_ERROR_SYSCALL);
		return r < 0 ? (errno == EAGAIN || errno == EINTR ? 0 : -1) : r;
	}
	ing_ssl_clear_errors();
	r = SSL_write(k->ssl, buf, (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(k->ssl, (int)r);
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
		return 0;
	note_io_error(c, e);
	return -1;
}

bool
ing_conn_flush(struct ing_camera *c, struct ing_conn *k)
{
	while (k->out_off < k->out_len) {
		ssize_t n = conn_write(c, k, k->out + k->out_off, k->out_len - k->out_off);
		if (n < 0)
			return false;
		if (n == 0) {
			k->want_write = true;
			return true;
		}
		k->out_off += (size_t)n;
	}
	free(k->out);
	k->out = NULL;
	k->out_len = k->out_off = 0;
	k->want_write = false;
	return true;
}

/* Queues buf (copied) on k, after what still waits there, and sends what
 * the socket takes now. At most ING_OUT_QUEUE bytes wait: the session
 * sends one request at a time, so only a tunnel's POST header and its
 * first request ever queue together. */
bool
ing_cam_conn_send(struct ing_camera *c, struct ing_conn *k, const char *buf, size_t len)
{
	char *p;

	if (k->fd < 0 || len > ING_OUT_QUEUE - k->out_len || (p = realloc(k->out, k->out_len + len)) == NULL)
		return false;
	memcpy(p + k->out_len, buf, len);
	k->out = p;
	k->out_len += len;
	return ing_conn_flush(c, k);
}

/* Sends an RTSP message: on the connection, or base64 on the tunnel's
 * POST side. */
bool
ing_cam_send(struct ing_camera *c, const char *buf, size_t len)
{
	if (len > ING_OUT_MAX)
		return false;
	return ing_cam_tunnel(c) ? ing_tunnel_send(c, buf, len) : ing_cam_conn_send(c, &c->rtsp, buf, len);
}

bool
ing_cam_busy(const struct ing_camera *c)
{
	return (ing_cam_tunnel(c) ? c->post.out_len : c->rtsp.out_len) != 0;
}


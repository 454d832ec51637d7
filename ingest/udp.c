/*
 * udp.c: RTP and RTCP over UDP for a camera (transport "udp"): a pair of
 * ports per stream (RTP even, RTCP the next one, RFC 3550 11), read with
 * recvmmsg in batches, datagrams from anyone but the camera dropped, and
 * empty datagrams sent to the camera's ports now and then so that a NAT
 * or firewall in front of the recorder keeps the way in open.
 * Loss is what the SRTP packet index says (ingest/media.c), as for TCP;
 * only UDP really loses and reorders.
 */
#include "autoconfig.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest/camera_priv.h"
#include "ingest/worker.h"
#include "nvrd/log.h"
#include "storage/stats.h"
#include "storage/writer.h"

#define RCVBUF (2 * 1024 * 1024) /* a key frame's burst at 8 Mbit/s and more */
#define PORT_TRIES 32

static uint16_t
sock_port(int fd)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	} a;
	socklen_t len = sizeof(a);

	memset(&a, 0, sizeof(a));
	if (getsockname(fd, &a.sa, &len) != 0)
		return 0;
	return ntohs(a.sa.sa_family == AF_INET6 ? a.in6.sin6_port : a.in.sin_port);
}

/* Sets the port of an IPv4 or IPv6 address. */
static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

/* A non-blocking UDP socket of the camera's address family, bound to port
 * (0: any), or -1 with errno. */
static int
udp_socket(int family, uint16_t port)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), size = RCVBUF, e;
	socklen_t len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	if (fd < 0)
		return -1;
	set_port(&ss, port);
	/* capped by net.core.rmem_max; the default would drop key frames */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&ss, len) == 0)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Two ports, n and n + 1 with n even: the kernel picks RTP's, RTCP's may
 * be taken already, so a few pairs are tried. */
static nvr_err
open_pair(int family, int *rtp, int *rtcp)
{
	for (int i = 0; i < PORT_TRIES; i++) {
		int a = udp_socket(family, 0), b;
		uint16_t p = a >= 0 ? sock_port(a) : 0;

		if (a < 0)
			return NVR_ERR_IO;
		if (p != 0 && p % 2 == 0 && p < 65535 && (b = udp_socket(family, (uint16_t)(p + 1))) >= 0) {
			*rtp = a;
			*rtcp = b;
			return NVR_OK;
		}
		close(a);
	}
	return NVR_ERR_IO;
}

nvr_err
ing_udp_open(struct ing_camera *c, int stream, const char **why)
{
	struct ing_udp *u;
	int rtp, rtcp;

	if (stream < 0 || 2 * stream + 1 >= ING_MAX_UDP || c->peer_len == 0) {
		*why = "no camera address to receive UDP from";
		return NVR_ERR_INVAL;
	}
	u = &c->udp[2 * (size_t)stream];
	if (c->udp_buf == NULL && (c->udp_buf = malloc((size_t)ING_UDP_SLOTS * ING_UDP_SLOT)) == NULL) {
		*why = "out of memory";
		return NVR_ERR_NOMEM;
	}
	if (u[0].fd >= 0)
		return NVR_OK; /* a SETUP sent again after a 401 */
	if (open_pair(c->peer.ss_family, &rtp, &rtcp) != NVR_OK) {
		*why = "cannot bind a pair of UDP ports";
		return NVR_ERR_IO;
	}
	u[0].fd = rtp;
	u[1].fd = rtcp;
	u[0].port = sock_port(rtp);
	u[1].port = sock_port(rtcp);
	u[0].server_port = u[1].server_port = 0;
	if (ing_worker_watch(c->worker, rtp, false, &u[0].watch) != NVR_OK ||
	    ing_worker_watch(c->worker, rtcp, false, &u[1].watch) != NVR_OK) {
		*why = "cannot watch the UDP ports";
		return NVR_ERR_IO;
	}
	return NVR_OK;
}

/* Only the camera's address may feed a stream: anyone could send
 * datagrams to an open port. The port is not checked: cameras send from
 * ports other than the server_port they announce. */
static bool
from_camera(const struct ing_camera *c, const struct sockaddr_storage *ss)
{
	if (ss->ss_family != c->peer.ss_family)
		return false;
	if (ss->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr,
			   &((const struct sockaddr_in6 *)&c->peer)->sin6_addr, sizeof(struct in6_addr)) == 0;
	return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == ((const struct sockaddr_in *)&c->peer)->sin_addr.s_addr;
}

/* Datagrams that cannot be the camera's: from elsewhere, or cut short. */
static void
stray(struct ing_camera *c, int index, bool truncated)
{
	enum ing_warn k = truncated ? WARN_TRUNCATED_DATAGRAM : WARN_FOREIGN_DATAGRAM;

	stg_stat_add(&stg_stats.malformed, 1);
	if (c->warned[k])
		return;
	c->warned[k] = 1;
	nvr_log_ex(NVR_LOG_WARNING, "further ones are counted as malformed, not logged",
	    truncated ? NULL : "something else on the network sends to the recorder's RTP ports",
	    "camera %s: %s datagram dropped on UDP port %u", c->cfg.name,
	    truncated ? "an oversized" : "a foreign", c->udp[index].port);
}

void
ing_udp_read(struct ing_camera *c, int index, int64_t now_ms)
{
	struct mmsghdr msg[ING_UDP_SLOTS];
	struct iovec iov[ING_UDP_SLOTS];
	struct sockaddr_storage from[ING_UDP_SLOTS];
	int n, rounds = 0;

	do {
		for (int i = 0; i < ING_UDP_SLOTS; i++) {
			iov[i] = (struct iovec){ c->udp_buf + (size_t)i * ING_UDP_SLOT, ING_UDP_SLOT };
			msg[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
				.msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		n = recvmmsg(c->udp[index].fd, msg, ING_UDP_SLOTS, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return; /* EAGAIN; an ICMP error surfaces here too, and passes */
		c->arrival_ns = ing_now_realtime_ns();
		c->arrival_us = ing_now_mono_us();
		for (int i = 0; i < n && c->rtsp.fd >= 0; i++) {
			bool cut = (msg[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
			if (cut || !from_camera(c, &from[i])) {
				stray(c, index, cut);
				continue;
			}
			/* the nominal channels: stream i's RTP is 2i, its RTCP 2i + 1 */
			ing_media_frame(c, (uint8_t)index, iov[i].iov_base, msg[i].msg_len, now_ms);
		}
	} while (n == ING_UDP_SLOTS && ++rounds < 16 && c->rtsp.fd >= 0 && c->udp[index].fd >= 0);
}

/* RFC 6263 4.1: an empty datagram to each of the camera's ports keeps a
 * NAT binding alive and is ignored by RTP receivers (it is no packet). */
void
ing_udp_punch(struct ing_camera *c)
{
	for (int i = 0; i < ING_MAX_UDP; i++) {
		struct ing_udp *u = &c->udp[i];
		struct sockaddr_storage to = c->peer;

		if (u->fd < 0 || u->server_port == 0)
			continue;
		set_port(&to, u->server_port);
		(void)sendto(u->fd, "", 0, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&to, c->peer_len);
	}
}

void
ing_udp_close(struct ing_camera *c)
{
	for (int i = 0; i < ING_MAX_UDP; i++) {
		if (c->udp[i].fd < 0)
			continue;
		ing_worker_unwatch(c->worker, c->udp[i].fd);
		close(c->udp[i].fd);
		c->udp[i].fd = -1;
		c->udp[i].port = c->udp[i].server_port = 0;
	}
	free(c->udp_buf);
	c->udp_buf = NULL;
}

/*
 * mitm.c: nvr-test-mitm, an attacker between a camera and the recorder for
 * tests: a TCP proxy that passes RTSP through and, in the camera's
 * interleaved stream, flips a bit in the payload of every Nth RTP packet
 * (--alter-every N), sends again an RTP packet it already passed
 * (--replay-every M), or holds back every Kth RTP packet and sends it
 * after the next one (--reorder-every K, as UDP reorders). It counts what
 * it did; the recorder must count the same forgeries and replays and drop
 * exactly those packets, and count no reordered packet as lost.
 *
 *   nvr-test-mitm --upstream HOST:PORT [--port N] [--port-file F]
 *                 [--alter-every N] [--replay-every M] [--reorder-every K]
 *                 [--report F]
 *
 * Used with rtsp:// cameras only: over TLS there is nothing to alter.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest/rtsp.h"
#include "nvrd/util.h"

static unsigned alter_every, replay_every, reorder_every;
static unsigned long rtp_seen, altered, replayed, reordered;
static const char *report_path;
static volatile sig_atomic_t stop;
static char scratch[ING_RTSP_SCRATCH];
static uint8_t kept[65536 + 4];
static size_t kept_len;
static uint8_t held[65536 + 4]; /* --reorder-every: the frame held back */
static size_t held_len;

static void
report(void)
{
	FILE *f = report_path ? fopen(report_path, "w") : NULL;

	if (f != NULL) {
		if (reorder_every)
			fprintf(f, "rtp=%lu reordered=%lu\n", rtp_seen, reordered);
		else
			fprintf(f, "rtp=%lu altered=%lu replayed=%lu\n", rtp_seen, altered, replayed);
		fclose(f);
	}
}

static bool
send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* One interleaved frame from the camera: passed, altered, and/or followed
 * by an old one. */
static bool
frame(int client, uint8_t *f, size_t len)
{
	bool rtp = (f[1] % 2) == 0 && len > 4 + 12;
	uint8_t old[sizeof(kept)];
	size_t old_len = kept_len;

	if (rtp) {
		rtp_seen++;
		memcpy(old, kept, kept_len);
		/* keep a pristine copy now and then, to replay later */
		if (rtp_seen % 50 == 1 && len <= sizeof(kept)) {
			memcpy(kept, f, len);
			kept_len = len;
		}
		if (alter_every && rtp_seen % alter_every == 0) {
			f[len - 11] ^= 0x10; /* last payload byte, just before an 80-bit tag */
			altered++;
		}
	}
	if (rtp && reorder_every && rtp_seen % reorder_every == 0 && held_len == 0 && len <= sizeof(held)) {
		memcpy(held, f, len); /* goes after the next RTP packet */
		held_len = len;
		return true;
	}
	if (!send_all(client, f, len))
		return false;
	if (rtp && held_len > 0) {
		if (!send_all(client, held, held_len))
			return false;
		held_len = 0;
		reordered++;
	}
	if (rtp && replay_every && rtp_seen % replay_every == 0 && old_len > 0) {
		if (!send_all(client, old, old_len))
			return false;
		replayed++;
	}
	report();
	return true;
}

/* Camera to recorder: whole messages and frames, found with our parser. */
static bool
downstream(int client, uint8_t *buf, size_t *have)
{
	struct ing_rtsp_msg m;
	struct ing_rtsp_item_info it;
	const char *why;
	size_t off = 0;

	for (;;) {
		if (ing_rtsp_parse(buf + off, *have - off, scratch, &m, &it, &why) != NVR_OK) {
			fprintf(stderr, "nvr-test-mitm: camera stream not understood: %s\n", why);
			return false;
		}
		if (it.kind == ING_RTSP_NEED_MORE)
			break;
		if (it.kind == ING_RTSP_FRAME ? !frame(client, buf + off, it.consumed) : !send_all(client, buf + off, it.consumed))
			return false;
		off += it.consumed;
	}
	memmove(buf, buf + off, *have - off);
	*have -= off;
	return true;
}

static void
relay(int client, const struct sockaddr_in *up)
{
	static uint8_t buf[256 * 1024];
	uint8_t tmp[65536];
	size_t have = 0;
	int cam = socket(AF_INET, SOCK_STREAM, 0);
	struct pollfd p[2];

	if (cam < 0 || connect(cam, (const struct sockaddr *)up, sizeof(*up)) != 0) {
		close(client);
		if (cam >= 0)
			close(cam);
		return;
	}
	p[0] = (struct pollfd){ .fd = client, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = cam, .events = POLLIN };
	while (!stop && poll(p, 2, 500) >= 0) {
		if (p[0].revents) {
			ssize_t n = recv(client, tmp, sizeof(tmp), 0);
			if (n <= 0 || !send_all(cam, tmp, (size_t)n))
				break;
		}
		if (p[1].revents) {
			ssize_t n = recv(cam, buf + have, sizeof(buf) - have, 0);
			if (n <= 0)
				break;
			have += (size_t)n;
			if (!downstream(client, buf, &have) || have == sizeof(buf))
				break;
		}
	}
	close(client);
	close(cam);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "upstream", required_argument, NULL, 'u' }, { "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'f' }, { "alter-every", required_argument, NULL, 'a' },
		{ "replay-every", required_argument, NULL, 'r' }, { "reorder-every", required_argument, NULL, 'R' },
		{ "report", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_in up = { .sin_family = AF_INET }, me = { .sin_family = AF_INET };
	socklen_t len = sizeof(me);
	const char *port_file = NULL;
	char host[64];
	int c, ls, one = 1;
	long num;
	const char *colon;

	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			colon = strrchr(optarg, ':');
			if (colon == NULL || colon - optarg >= (long)sizeof(host) ||
			    !nvr_parse_num(colon + 1, NULL, 1, 65535, &num))
				return 2;
			snprintf(host, sizeof(host), "%.*s", (int)(colon - optarg), optarg);
			if (inet_pton(AF_INET, host, &up.sin_addr) != 1)
				return 2;
			up.sin_port = htons((uint16_t)num);
			break;
		case 'p':
			if (!nvr_parse_num(optarg, NULL, 0, 65535, &num))
				return 2;
			me.sin_port = htons((uint16_t)num);
			break;
		case 'f': port_file = optarg; break;
		case 'a':
		case 'r':
		case 'R':
			if (!nvr_parse_num(optarg, NULL, 0, 1000000, &num))
				return 2;
			*(c == 'a' ? &alter_every : c == 'r' ? &replay_every : &reorder_every) = (unsigned)num;
			break;
		case 'o': report_path = optarg; break;
		default: return 2;
		}
	}
	if (up.sin_port == 0) {
		fprintf(stderr, "usage: nvr-test-mitm --upstream HOST:PORT [--port N] [--port-file F] "
				"[--alter-every N] [--replay-every M] [--reorder-every K] [--report F]\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&me, sizeof(me)) != 0 || listen(ls, 4) != 0 ||
	    getsockname(ls, (struct sockaddr *)&me, &len) != 0) {
		perror("nvr-test-mitm");
		return 1;
	}
	if (port_file != NULL) {
		FILE *f = fopen(port_file, "w");
		if (f != NULL) {
			fprintf(f, "%d\n", ntohs(me.sin_port));
			fclose(f);
		}
	}
	report();
	while (!stop) {
		int cl = accept(ls, NULL, NULL);
		if (cl >= 0)
			relay(cl, &up);
	}
	report();
	close(ls);
	return 0;
}

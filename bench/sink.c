/*
 * sink.c: nvr-bench-sink, many RTSP/RTSPS sessions that play and discard,
 * to load nvr-loadgen (or any camera) without a recorder, and to count
 * what arrives.
 *
 * Each session does OPTIONS, DESCRIBE (answering a Digest challenge),
 * SETUP RTP/SAVP/TCP interleaved and PLAY, one session after the other
 * with blocking sockets; then all of them are read on one epoll loop until
 * --duration ends. It checks the interleaved framing (RFC 2326 10.12) and
 * counts RTP and RTCP frames, but never decrypts: it must cost far less
 * than what it measures.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench/common.h"
#include "bench/digest.h"
#include "nvrd/log.h"
#include "nvrd/util.h"

#define SINK_MAX_SESSIONS 10000
#define SINK_RESP_MAX 16384
#define SINK_IO_TIMEOUT_S 10

struct sink_opts {
	const char *host;
	unsigned long port, sessions, cameras, duration_s;
	bool tls;
	const char *ca;
	const char *user, *password_file;
};

struct sink_sess {
	int fd;
	SSL *ssl;
	unsigned cam;
	unsigned cseq;
	char url[256];
	char session[128];
	char realm[128], nonce[128];
	/* interleaved framing state */
	uint8_t hdr[4];
	size_t hdr_len, skip;
	bool bad;
	uint64_t bytes, rtp, rtcp;
};

struct sink {
	const struct sink_opts *o;
	SSL_CTX *tls;
	char *password;
	char ha1[BENCH_MD5_HEX]; /* for the realm of the last challenge */
	struct sink_sess *sess;
	unsigned n_ok;
};

/* ---- the media stream -------------------------------------------------- */

static void
consume_stream(struct sink_sess *ss, const uint8_t *p, size_t n)
{
	ss->bytes += n;
	while (n > 0 && !ss->bad) {
		size_t k;

		if (ss->skip > 0) {
			k = ss->skip < n ? ss->skip : n;
			ss->skip -= k;
			p += k;
			n -= k;
			continue;
		}
		ss->hdr[ss->hdr_len++] = *p++;
		n--;
		if (ss->hdr[0] != '$') {
			ss->bad = true;
		} else if (ss->hdr_len == 4) {
			if (ss->hdr[1] & 1)
				ss->rtcp++;
			else
				ss->rtp++;
			ss->skip = (size_t)ss->hdr[2] << 8 | ss->hdr[3];
			ss->hdr_len = 0;
		}
	}
}

/* ---- blocking I/O for the set-up --------------------------------------- */

static ssize_t
io_read(struct sink_sess *ss, void *buf, size_t len)
{
	size_t n = 0;

	if (ss->ssl != NULL)
		return SSL_read_ex(ss->ssl, buf, len, &n) == 1 ? (ssize_t)n : -1;
	return recv(ss->fd, buf, len, 0);
}

static nvr_err
io_write(struct sink_sess *ss, const char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (len > 0) {
		if (ss->ssl != NULL) {
			if (SSL_write_ex(ss->ssl, buf, len, &n) != 1)
				return NVR_ERR_IO;
			r = (ssize_t)n;
		} else if ((r = send(ss->fd, buf, len, MSG_NOSIGNAL)) <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return NVR_ERR_IO;
		}
		buf += r;
		len -= (size_t)r;
	}
	return NVR_OK;
}

static nvr_err
connect_tcp(struct sink_sess *ss, const struct sink_opts *o)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	struct timeval tv = { .tv_sec = SINK_IO_TIMEOUT_S };
	char port[24];

	snprintf(port, sizeof(port), "%lu", o->port);
	if (getaddrinfo(o->host, port, &hints, &res) != 0)
		return NVR_ERR_CONFIG;
	ss->fd = -1;
	for (const struct addrinfo *ai = res; ai != NULL && ss->fd < 0; ai = ai->ai_next) {
		ss->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (ss->fd >= 0 && connect(ss->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(ss->fd);
			ss->fd = -1;
		}
	}
	freeaddrinfo(res);
	if (ss->fd < 0)
		return NVR_ERR_IO;
	setsockopt(ss->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(ss->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return NVR_OK;
}

static nvr_err
connect_session(struct sink *k, struct sink_sess *ss)
{
	nvr_err rc;

	if ((rc = connect_tcp(ss, k->o)) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "cannot connect to %s port %lu: %s", k->o->host, k->o->port,
		    strerror(errno));
		return rc;
	}
	if (k->tls == NULL)
		return NVR_OK;
	if ((ss->ssl = SSL_new(k->tls)) == NULL || SSL_set_fd(ss->ssl, ss->fd) != 1 ||
	    SSL_set_tlsext_host_name(ss->ssl, k->o->host) != 1 ||
	    (k->o->ca != NULL && SSL_set1_host(ss->ssl, k->o->host) != 1))
		return NVR_ERR_CRYPTO;
	if (SSL_connect(ss->ssl) != 1) {
		char err[256];

		ERR_error_string_n(ERR_get_error(), err, sizeof(err));
		nvr_log_ex(NVR_LOG_ERROR, err, NULL, "TLS handshake with %s failed", k->o->host);
		return NVR_ERR_CRYPTO;
	}
	return NVR_OK;
}

/* ---- RTSP requests ----------------------------------------------------- */

struct sink_resp {
	char buf[SINK_RESP_MAX + 1];
	int code;
};

/* Copies the value of header `name` of a NUL-terminated head into out. */
static bool
header_value(const char *head, const char *name, char *out, size_t size)
{
	size_t nlen = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l != NULL; l = strstr(l, "\r\n")) {
		l += 2;
		if (strncasecmp(l, name, nlen) == 0 && l[nlen] == ':') {
			const char *v = l + nlen + 1 + strspn(l + nlen + 1, " \t");
			size_t vlen = strcspn(v, "\r\n");

			if (vlen >= size)
				return false;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return true;
		}
	}
	return false;
}

/* Reads one response; what follows it (media after PLAY) is counted. */
static nvr_err
read_response(struct sink_sess *ss, struct sink_resp *r)
{
	size_t len = 0, head, total;
	const char *end = NULL;
	char cl[32] = "0";
	unsigned long body = 0, code;
	ssize_t n;

	while ((end = memmem(r->buf, len, "\r\n\r\n", 4)) == NULL) {
		if (len == SINK_RESP_MAX || (n = io_read(ss, r->buf + len, SINK_RESP_MAX - len)) <= 0)
			return NVR_ERR_IO;
		len += (size_t)n;
	}
	head = (size_t)(end - r->buf) + 4;
	r->buf[head - 2] = '\0';
	if (head < 16 || strncmp(r->buf, "RTSP/1.0 ", 9) != 0 || r->buf[12] != ' ')
		return NVR_ERR_INVAL;
	r->buf[12] = '\0';
	if (bench_parse_uint(r->buf + 9, 100, 599, &code) != NVR_OK)
		return NVR_ERR_INVAL;
	r->buf[12] = ' ';
	r->code = (int)code;
	header_value(r->buf, "Content-Length", cl, sizeof(cl));
	if (bench_parse_uint(cl, 0, SINK_RESP_MAX, &body) != NVR_OK || head + body > SINK_RESP_MAX)
		return NVR_ERR_TOOBIG;
	total = head + body;
	while (len < total) {
		if ((n = io_read(ss, r->buf + len, SINK_RESP_MAX - len)) <= 0)
			return NVR_ERR_IO;
		len += (size_t)n;
	}
	consume_stream(ss, (const uint8_t *)r->buf + total, len - total);
	return NVR_OK;
}

static nvr_err
send_request(struct sink *k, struct sink_sess *ss, const char *method, const char *url,
    const char *extra)
{
	char req[2048], auth[1024] = "", resp[BENCH_MD5_HEX];
	int n;

	if (ss->nonce[0] != '\0') {
		if (bench_digest_response(k->ha1, ss->nonce, method, url, resp) != NVR_OK)
			return NVR_ERR_CRYPTO;
		snprintf(auth, sizeof(auth), "Authorization: Digest username=\"%s\", realm=\"%s\", "
		    "nonce=\"%s\", uri=\"%s\", response=\"%s\"\r\n",
		    k->o->user, ss->realm, ss->nonce, url, resp);
	}
	n = snprintf(req, sizeof(req),
	    "%s %s RTSP/1.0\r\nCSeq: %u\r\nUser-Agent: nvr-bench-sink\r\n%s%s\r\n",
	    method, url, ++ss->cseq, auth, extra);
	if (n < 0 || (size_t)n >= sizeof(req))
		return NVR_ERR_TOOBIG;
	return io_write(ss, req, (size_t)n);
}

/* One request; a Digest challenge is answered once (RFC 2617 3.2.1). */
static nvr_err
request(struct sink *k, struct sink_sess *ss, const char *method, const char *url,
    const char *extra, struct sink_resp *r)
{
	char www[512];
	nvr_err rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rc = send_request(k, ss, method, url, extra)) != NVR_OK ||
		    (rc = read_response(ss, r)) != NVR_OK)
			return rc;
		if (r->code != 401 || k->o->user == NULL || attempt > 0)
			break;
		if (!header_value(r->buf, "WWW-Authenticate", www, sizeof(www)) ||
		    bench_digest_param(www, "realm", ss->realm, sizeof(ss->realm)) != NVR_OK ||
		    bench_digest_param(www, "nonce", ss->nonce, sizeof(ss->nonce)) != NVR_OK)
			break;
		if (bench_digest_ha1(k->o->user, ss->realm, k->password, k->ha1) != NVR_OK)
			return NVR_ERR_CRYPTO;
	}
	if (r->code != 200) {
		nvr_log(NVR_LOG_ERROR, "%s %s: answered %d", method, url, r->code);
		return NVR_ERR_INVAL;
	}
	return NVR_OK;
}

static nvr_err
start_session(struct sink *k, struct sink_sess *ss)
{
	struct sink_resp *r = malloc(sizeof(*r));
	char url[320], extra[256];
	nvr_err rc = NVR_ERR_NOMEM;

	if (r == NULL || (rc = connect_session(k, ss)) != NVR_OK)
		goto out;
	snprintf(ss->url, sizeof(ss->url), "%s://%s:%lu/cam%u", k->tls ? "rtsps" : "rtsp",
	    k->o->host, k->o->port, ss->cam);
	if ((rc = request(k, ss, "OPTIONS", ss->url, "", r)) != NVR_OK ||
	    (rc = request(k, ss, "DESCRIBE", ss->url, "Accept: application/sdp\r\n", r)) != NVR_OK)
		goto out;
	snprintf(url, sizeof(url), "%s/stream=0", ss->url);
	rc = request(k, ss, "SETUP", url, "Transport: RTP/SAVP/TCP;unicast;interleaved=0-1\r\n", r);
	if (rc != NVR_OK)
		goto out;
	if (!header_value(r->buf, "Session", ss->session, sizeof(ss->session))) {
		rc = NVR_ERR_INVAL;
		goto out;
	}
	ss->session[strcspn(ss->session, ";")] = '\0';
	snprintf(url, sizeof(url), "%s/", ss->url);
	snprintf(extra, sizeof(extra), "Session: %s\r\nRange: npt=0-\r\n", ss->session);
	rc = request(k, ss, "PLAY", url, extra, r);
out:
	free(r);
	return rc;
}

/* ---- reading and counting ---------------------------------------------- */

/* Reads what the socket (and TLS) holds now; false once the session ended. */
static bool
drain(struct sink_sess *ss)
{
	uint8_t buf[65536];
	size_t n = 0;
	ssize_t r;

	for (;;) {
		if (ss->ssl != NULL) {
			if (SSL_read_ex(ss->ssl, buf, sizeof(buf), &n) == 1) {
				consume_stream(ss, buf, n);
				continue;
			}
			if (SSL_get_error(ss->ssl, 0) == SSL_ERROR_WANT_READ)
				return true;
			ERR_clear_error();
			return false;
		}
		r = recv(ss->fd, buf, sizeof(buf), 0);
		if (r > 0)
			consume_stream(ss, buf, (size_t)r);
		else if (r < 0 && errno == EINTR)
			continue;
		else
			return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
}

static void
end_session(struct sink_sess *ss, int epfd, const char *why)
{
	nvr_log(NVR_LOG_WARNING, "%s: %s after %llu bytes", ss->url, why, (unsigned long long)ss->bytes);
	epoll_ctl(epfd, EPOLL_CTL_DEL, ss->fd, NULL);
	SSL_free(ss->ssl);
	ss->ssl = NULL;
	close(ss->fd);
	ss->fd = -1;
}

static void
read_all(struct sink *k, int epfd, int64_t until_ns)
{
	struct epoll_event ev[64];

	for (unsigned i = 0; i < k->o->sessions; i++) {
		struct sink_sess *ss = &k->sess[i];
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = ss };

		if (ss->fd < 0)
			continue;
		fcntl(ss->fd, F_SETFL, fcntl(ss->fd, F_GETFL) | O_NONBLOCK);
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, ss->fd, &e) != 0 || !drain(ss))
			end_session(ss, epfd, "closed");
	}
	for (int64_t now = bench_mono_ns(); now < until_ns; now = bench_mono_ns()) {
		int n = epoll_wait(epfd, ev, (int)NVR_ARRAY_LEN(ev), (int)((until_ns - now) / 1000000) + 1);

		for (int i = 0; i < n; i++) {
			struct sink_sess *ss = ev[i].data.ptr;
			if (ss->fd >= 0 && !drain(ss))
				end_session(ss, epfd, "closed by the server");
		}
	}
}

static double
mbit(uint64_t bytes, double secs)
{
	return (double)bytes * 8 / secs / 1e6;
}

static double
tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void
report(const struct sink *k, double secs)
{
	uint64_t bytes = 0, rtp = 0, rtcp = 0, min = UINT64_MAX, max = 0;
	unsigned open = 0, bad = 0;
	struct rusage ru;

	for (unsigned i = 0; i < k->o->sessions; i++) {
		const struct sink_sess *ss = &k->sess[i];

		bytes += ss->bytes;
		rtp += ss->rtp;
		rtcp += ss->rtcp;
		open += ss->fd >= 0;
		bad += ss->bad;
		min = ss->bytes < min ? ss->bytes : min;
		max = ss->bytes > max ? ss->bytes : max;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("sink: sessions=%lu started=%u open=%u seconds=%.1f bytes=%llu mbit/s=%.2f "
	    "rtp=%llu rtcp=%llu framing-errors=%u session-mbit/s-min=%.2f "
	    "session-mbit/s-max=%.2f cpu-s=%.2f\n",
	    k->o->sessions, k->n_ok, open, secs, (unsigned long long)bytes, mbit(bytes, secs),
	    (unsigned long long)rtp, (unsigned long long)rtcp, bad, mbit(min, secs),
	    mbit(max, secs), tv_s(ru.ru_utime) + tv_s(ru.ru_stime));
}

/* ---- start-up ---------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: nvr-bench-sink --port N [options]\n"
	    "Plays --sessions RTSP sessions (RTP/SAVP over TCP) and discards the media.\n"
	    "  --host HOST           server (default 127.0.0.1)\n"
	    "  --port N              server port (required)\n"
	    "  --tls                 RTSPS\n"
	    "  --ca FILE             verify the server against this CA (default: no check)\n"
	    "  --sessions N          sessions to open (default 1)\n"
	    "  --cameras M           session i plays /cam(i %% M + 1) (default: --sessions)\n"
	    "  --duration SECONDS    how long to read after the last PLAY (default 30)\n"
	    "  --user USER           Digest user, with --password-file\n"
	    "  --password-file FILE  password of --user, first line of FILE\n");
}

static int
parse_num(const char *opt, const char *arg, unsigned long max, unsigned long *out)
{
	if (bench_parse_uint(arg, 1, max, out) == NVR_OK)
		return -1;
	fprintf(stderr, "nvr-bench-sink: %s must be 1 to %lu\n", opt, max);
	return 2;
}

static int
parse_args(struct sink_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "tls", no_argument, NULL, 't' },
		{ "ca", required_argument, NULL, 'c' },
		{ "sessions", required_argument, NULL, 'n' },
		{ "cameras", required_argument, NULL, 'm' },
		{ "duration", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, st = -1;

	while (st < 0 && (ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch == 'H')
			o->host = optarg;
		else if (ch == 'p')
			st = parse_num("--port", optarg, 65535, &o->port);
		else if (ch == 't')
			o->tls = true;
		else if (ch == 'c')
			o->ca = optarg;
		else if (ch == 'n')
			st = parse_num("--sessions", optarg, SINK_MAX_SESSIONS, &o->sessions);
		else if (ch == 'm')
			st = parse_num("--cameras", optarg, SINK_MAX_SESSIONS, &o->cameras);
		else if (ch == 'd')
			st = parse_num("--duration", optarg, 86400, &o->duration_s);
		else if (ch == 'u')
			o->user = optarg;
		else if (ch == 'w')
			o->password_file = optarg;
		else if (ch == 'h')
			st = 0;
		else
			st = 2;
	}
	if (st == 0)
		usage(stdout);
	if (st < 0 && (optind < argc || o->port == 0 ||
	    (o->user == NULL) != (o->password_file == NULL))) {
		usage(stderr);
		st = 2;
	}
	if (o->cameras == 0)
		o->cameras = o->sessions;
	return st;
}

static nvr_err
tls_init(struct sink *k)
{
	if (!k->o->tls)
		return NVR_OK;
	if ((k->tls = SSL_CTX_new(TLS_client_method())) == NULL)
		return NVR_ERR_CRYPTO;
	SSL_CTX_set_min_proto_version(k->tls, TLS1_2_VERSION);
	if (k->o->ca == NULL)
		return NVR_OK;
	if (SSL_CTX_load_verify_locations(k->tls, k->o->ca, NULL) != 1) {
		nvr_log(NVR_LOG_ERROR, "cannot load the CA %s", k->o->ca);
		return NVR_ERR_CRYPTO;
	}
	SSL_CTX_set_verify(k->tls, SSL_VERIFY_PEER, NULL);
	return NVR_OK;
}

static int
run(struct sink *k)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int64_t t0;

	if (epfd < 0)
		return 1;
	for (unsigned i = 0; i < k->o->sessions; i++) {
		struct sink_sess *ss = &k->sess[i];

		ss->cam = (unsigned)(i % k->o->cameras) + 1;
		if (start_session(k, ss) == NVR_OK) {
			k->n_ok++;
		} else if (ss->fd >= 0) {
			SSL_free(ss->ssl);
			ss->ssl = NULL;
			close(ss->fd);
			ss->fd = -1;
		}
	}
	nvr_log(NVR_LOG_INFO, "%u of %lu sessions play; reading for %lu s", k->n_ok, k->o->sessions,
	    k->o->duration_s);
	t0 = bench_mono_ns();
	read_all(k, epfd, t0 + (int64_t)k->o->duration_s * 1000000000LL);
	report(k, (double)(bench_mono_ns() - t0) / 1e9);
	close(epfd);
	return k->n_ok == k->o->sessions ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct sink_opts o = { .host = "127.0.0.1", .sessions = 1, .duration_s = 30 };
	struct sink k = { .o = &o };
	int status;

	nvr_log_init("nvr-bench-sink");
	nvr_log_set_level(NVR_LOG_INFO);
	if ((status = parse_args(&o, argc, argv)) >= 0)
		return status;
	signal(SIGPIPE, SIG_IGN);
	status = 1;
	if (o.user != NULL && bench_read_password(o.password_file, &k.password) != NVR_OK)
		goto out;
	if (tls_init(&k) != NVR_OK || (k.sess = calloc(o.sessions, sizeof(*k.sess))) == NULL)
		goto out;
	for (unsigned long i = 0; i < o.sessions; i++)
		k.sess[i].fd = -1;
	status = run(&k);
	for (unsigned long i = 0; i < o.sessions; i++) {
		SSL_free(k.sess[i].ssl);
		if (k.sess[i].fd >= 0)
			close(k.sess[i].fd);
	}
out:
	free(k.sess);
	SSL_CTX_free(k.tls);
	bench_free_secret(k.password);
	return status;
}

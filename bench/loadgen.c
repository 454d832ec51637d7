/*
 * loadgen.c: nvr-loadgen's start-up, options and event loop (the design is
 * in loadgen.h; how to run it in bench/README.md).
 *
 * One thread, one epoll set: the listener, every connection, a timerfd
 * that paces the groups and a signalfd (SIGUSR1 writes statistics,
 * SIGTERM/SIGINT stop cleanly and write them). It must never block: the
 * only disk access after start-up is the statistics file, on request.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <gst/gst.h>
#include <openssl/crypto.h>

#include "bench/common.h"
#include "bench/loadgen.h"
#include "nvrd/log.h"
#include "nvrd/util.h"

#define NS 1000000000LL
#define LG_MIN_TICK_NS 1000000LL /* wake at most every millisecond */
#define LG_SWEEP_NS NS

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: nvr-loadgen --capture FILE [options]\n"
	    "Serves /cam1 .. /camN, each replaying FILE (from nvr-bench-capture) as SRTP\n"
	    "over RTSP/RTSPS TCP interleaved, with MIKEY keys, like nvr-camsim; the same\n"
	    "port serves RTSP tunnelled over HTTP(S) (https:// or rtspsh:// URLs).\n"
	    "  --capture FILE        capture to replay (required)\n"
	    "  --address ADDR        listen address (default 127.0.0.1; :: for all)\n"
	    "  --port N              port (default 8554; 0 picks a free one)\n"
	    "  --port-file FILE      write the bound port to FILE\n"
	    "  --cameras N           serve /cam1 .. /camN (default 1, at most %d)\n"
	    "  --groups K            SRTP streams shared by the cameras (default 1)\n"
	    "  --cert FILE           serve RTSPS with this certificate chain (PEM)\n"
	    "  --key FILE            private key of --cert (PEM)\n"
	    "  --user USER           require Digest authentication as USER\n"
	    "  --password-file FILE  password of --user, first line of FILE\n"
	    "  --stats FILE          write JSON statistics on SIGUSR1 and at exit\n"
	    "  --bitrate-scale X     replay X times faster (0.1 to 10; default 1)\n"
	    "  --speed X             send X times faster than captured, with RTP and ONVIF\n"
	    "                        times as in real time (0.01 to %d; default 1); without\n"
	    "                        --duration the ONVIF times run ahead of the wall clock\n"
	    "  --duration D          send D seconds of camera time per group from its first\n"
	    "                        PLAY, then end its sessions and refuse new ones; its\n"
	    "                        ONVIF times end at the wall time it ends: [end - D, end)\n"
	    "  --log-level LEVEL     error, warning, notice, info (default) or debug\n",
	    LG_MAX_CAMERAS, LG_MAX_SPEED);
}

static int
bad_value(const char *opt, const char *what)
{
	fprintf(stderr, "nvr-loadgen: %s must be %s (try --help)\n", opt, what);
	return 2;
}

/* Returns -1 to go on, or an exit status. */
static int
parse_one(struct lg_opts *o, int ch, const char *arg)
{
	enum nvr_log_level level;

	switch (ch) {
	case 'a':
		o->address = arg;
		break;
	case 'f':
		o->port_file = arg;
		break;
	case 'c':
		o->cert = arg;
		break;
	case 'k':
		o->key = arg;
		break;
	case 'u':
		o->user = arg;
		break;
	case 'w':
		o->password_file = arg;
		break;
	case 'C':
		o->capture = arg;
		break;
	case 's':
		o->stats = arg;
		break;
	case 'p':
		if (bench_parse_uint(arg, 0, 65535, &o->port) != NVR_OK)
			return bad_value("--port", "0 to 65535");
		break;
	case 'n':
		if (bench_parse_uint(arg, 1, LG_MAX_CAMERAS, &o->cameras) != NVR_OK)
			return bad_value("--cameras", "1 to 10000");
		break;
	case 'g':
		if (bench_parse_uint(arg, 1, LG_MAX_CAMERAS, &o->groups) != NVR_OK)
			return bad_value("--groups", "1 to 10000");
		break;
	case 'b':
		if (bench_parse_double(arg, 0.1, 10, &o->bitrate_scale) != NVR_OK)
			return bad_value("--bitrate-scale", "a number from 0.1 to 10");
		break;
	case 'S':
		if (bench_parse_double(arg, 0.01, LG_MAX_SPEED, &o->speed) != NVR_OK)
			return bad_value("--speed", "a number from 0.01 to 100");
		break;
	case 'D':
		if (bench_parse_uint(arg, 1, 366UL * 86400, &o->duration_s) != NVR_OK)
			return bad_value("--duration", "1 to 31622400 seconds");
		break;
	case 'l':
		if (nvr_log_level_parse(arg, &level) != NVR_OK)
			return bad_value("--log-level", "error, warning, notice, info or debug");
		nvr_log_set_level(level);
		break;
	case 'h':
		usage(stdout);
		return 0;
	default:
		usage(stderr);
		return 2;
	}
	return -1;
}

static int
parse_args(struct lg_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "cameras", required_argument, NULL, 'n' },
		{ "groups", required_argument, NULL, 'g' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'w' },
		{ "capture", required_argument, NULL, 'C' },
		{ "stats", required_argument, NULL, 's' },
		{ "bitrate-scale", required_argument, NULL, 'b' },
		{ "speed", required_argument, NULL, 'S' },
		{ "duration", required_argument, NULL, 'D' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, status;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if ((status = parse_one(o, ch, optarg)) >= 0)
			return status;
	}
	if (optind < argc) {
		fprintf(stderr, "nvr-loadgen: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->capture == NULL)
		return bad_value("--capture", "given");
	if ((o->cert == NULL) != (o->key == NULL))
		return bad_value("--cert and --key", "given together");
	if ((o->user == NULL) != (o->password_file == NULL))
		return bad_value("--user and --password-file", "given together");
	if (o->groups > o->cameras)
		return bad_value("--groups", "at most --cameras");
	return -1;
}

/* ---- start-up ---------------------------------------------------------- */

static nvr_err
write_port_file(const char *path, unsigned port)
{
	char tmp[4096];
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return NVR_ERR_TOOBIG;
	if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		nvr_log_ex(NVR_LOG_ERROR, strerror(errno), NULL, "cannot write the port to %s", path);
		return NVR_ERR_IO;
	}
	return NVR_OK;
}

/* Signals arrive on a signalfd in the loop, never in a handler. */
static nvr_err
setup_signals(struct lg_server *s)
{
	sigset_t set;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->signal_kind };

	signal(SIGPIPE, SIG_IGN); /* a closed socket is an error code, not a death */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (s->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return NVR_ERR_IO;
	s->signal_kind = LG_SIGNALS;
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sfd, &ev) == 0 ? NVR_OK : NVR_ERR_IO;
}

static nvr_err
setup_timer(struct lg_server *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->timer_kind };
	struct itimerspec its = { .it_value = { 0, 1 } };

	if ((s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
	    timerfd_settime(s->tfd, 0, &its, NULL) != 0)
		return NVR_ERR_IO;
	s->timer_kind = LG_TIMER;
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd, &ev) == 0 ? NVR_OK : NVR_ERR_IO;
}

/* Only HA1 is kept: the password is wiped as soon as it is read. */
static nvr_err
setup_auth(struct lg_server *s)
{
	char *password = NULL;
	nvr_err rc;

	if (s->o->user == NULL)
		return NVR_OK;
	if ((rc = bench_read_password(s->o->password_file, &password)) != NVR_OK)
		return rc;
	rc = bench_digest_ha1(s->o->user, LG_REALM, password, s->ha1);
	bench_free_secret(password);
	s->auth = rc == NVR_OK;
	return rc;
}

static nvr_err
setup_media(struct lg_server *s)
{
	struct bench_cap *cap = NULL;
	nvr_err rc;
	struct timespec rt;

	if ((rc = bench_cap_load(s->o->capture, &cap)) != NVR_OK)
		return rc;
	if ((rc = lg_media_init(s, cap, s->o->bitrate_scale)) != NVR_OK)
		return rc;
	if ((s->scratch = malloc(BENCH_CAP_MAX_PACKET + SRTP_MAX_TRAILER_LEN)) == NULL)
		return NVR_ERR_NOMEM;
	clock_gettime(CLOCK_REALTIME, &rt);
	s->start_ns = bench_mono_ns();
	s->realtime_offset_ns = (int64_t)rt.tv_sec * NS + rt.tv_nsec - s->start_ns;
	if (s->o->duration_s > 0 && s->o->speed > 1) { /* slower: behind the clock anyway */
		int64_t d = (int64_t)s->o->duration_s * NS;
		s->ntp_shift_ns = d - (int64_t)((double)d / s->o->speed);
	}
	s->out_cap = (size_t)((double)LG_OUT_CAP * (s->o->speed > 1 ? s->o->speed : 1));
	s->n_groups = (unsigned)s->o->groups;
	return lg_groups_init(s);
}

/* Every connection is a descriptor, and LG_MAX_CONNS (two per tunnelled
 * camera) is over the usual soft limit of 1024: take what the hard limit
 * allows. Failing is not fatal: fewer cameras then fit. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = LG_MAX_CONNS + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		nvr_log(NVR_LOG_WARNING, "cannot raise the descriptor limit: %s", strerror(errno));
}

static nvr_err
setup(struct lg_server *s)
{
	nvr_err rc;

	s->epfd = s->lfd = s->tfd = s->sfd = -1;
	raise_fd_limit();
	if ((rc = setup_auth(s)) != NVR_OK || (rc = setup_media(s)) != NVR_OK ||
	    (rc = lg_tunnel_init(s)) != NVR_OK)
		return rc;
	if (s->o->cert != NULL && (rc = lg_tls_init(s)) != NVR_OK)
		return rc;
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return NVR_ERR_IO;
	if ((rc = lg_net_listen(s)) != NVR_OK)
		return rc;
	if (s->o->port_file != NULL && (rc = write_port_file(s->o->port_file, s->port)) != NVR_OK)
		return rc;
	if ((rc = setup_signals(s)) != NVR_OK || (rc = setup_timer(s)) != NVR_OK)
		nvr_log(NVR_LOG_ERROR, "cannot set up signals or the timer: %s", strerror(errno));
	return rc;
}

static void
teardown(struct lg_server *s)
{
	lg_net_close_all(s);
	lg_tunnel_clear(s);
	lg_groups_free(s);
	lg_media_clear(&s->media);
	SSL_CTX_free(s->tls);
	free(s->scratch);
	OPENSSL_cleanse(s->ha1, sizeof(s->ha1));
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->epfd >= 0)
		close(s->epfd);
}

/* ---- the loop ---------------------------------------------------------- */

static void
on_timer(struct lg_server *s)
{
	uint64_t expirations;
	int64_t now = bench_mono_ns(), next;
	struct itimerspec its = { 0 };

	if (read(s->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		nvr_log(NVR_LOG_WARNING, "timerfd read failed: %s", strerror(errno));
	next = lg_groups_run(s, now);
	if (now >= s->next_sweep_ns) {
		lg_net_sweep(s, now);
		s->next_sweep_ns = now + LG_SWEEP_NS;
	}
	if (next > s->next_sweep_ns)
		next = s->next_sweep_ns;
	if (next < now + LG_MIN_TICK_NS)
		next = now + LG_MIN_TICK_NS;
	/* A relative time, measured after the work above, not the absolute
	 * next: libfaketime (tests/check-dates.sh runs nvr-loadgen under it)
	 * shifts an absolute CLOCK_MONOTONIC timerfd by its fake offset, so
	 * the timer would fire months late. */
	now = bench_mono_ns();
	next = next > now ? next - now : 1; /* 0 would disarm it */
	its.it_value.tv_sec = next / NS;
	its.it_value.tv_nsec = next % NS;
	timerfd_settime(s->tfd, 0, &its, NULL);
}

void
lg_loop_wake(struct lg_server *s)
{
	struct itimerspec its = { .it_value = { 0, 1 } };

	timerfd_settime(s->tfd, 0, &its, NULL);
}

static void
write_stats(const struct lg_server *s)
{
	if (s->o->stats != NULL && lg_stats_write(s, s->o->stats) == NVR_OK)
		nvr_log(NVR_LOG_INFO, "statistics written to %s", s->o->stats);
}

static void
on_signals(struct lg_server *s)
{
	struct signalfd_siginfo si;

	while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			write_stats(s);
		} else {
			nvr_log(NVR_LOG_NOTICE, "stopping on signal %u", si.ssi_signo);
			s->stop = true;
		}
	}
}

static void
run(struct lg_server *s)
{
	struct epoll_event ev[64];

	while (!s->stop) {
		int n = epoll_wait(s->epfd, ev, (int)NVR_ARRAY_LEN(ev), -1);

		if (n < 0 && errno != EINTR) {
			nvr_log(NVR_LOG_ERROR, "epoll_wait failed: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			enum lg_kind *k = ev[i].data.ptr;

			if (*k == LG_LISTENER)
				lg_net_accept(s);
			else if (*k == LG_TIMER)
				on_timer(s);
			else if (*k == LG_SIGNALS)
				on_signals(s);
			else
				lg_conn_event((struct lg_conn *)(void *)k, ev[i].events);
		}
		lg_net_reap(s);
	}
}

static void
log_start(const struct lg_server *s)
{
	const struct lg_media *md = &s->media;
	const struct bench_cap *cap = md->cap;
	double secs = (double)md->loop_ns / 1e9;
	char duration[64] = "no end";

	if (s->o->duration_s > 0)
		snprintf(duration, sizeof(duration), "%lu s of camera time per group", s->o->duration_s);

	nvr_log(NVR_LOG_NOTICE, "serving %lu camera%s at %s://%s:%u/cam1%s in %u SRTP group%s, %s; "
	    "capture %s: %zu packets, %.1f s per pass, %.2f Mbit/s of RTP payload, %u ms frames; "
	    "speed %g, %s",
	    s->o->cameras, s->o->cameras == 1 ? "" : "s", s->tls ? "rtsps" : "rtsp", s->o->address,
	    s->port, s->o->cameras > 1 ? " .. /camN" : "", s->n_groups, s->n_groups == 1 ? "" : "s",
	    s->auth ? "Digest auth" : "no auth", s->o->capture, cap->n_packets, secs,
	    (double)cap->payload_bytes * 8 / secs / 1e6, md->frame_ms, s->o->speed, duration);
}

int
main(int argc, char **argv)
{
	struct lg_opts o = { .address = "127.0.0.1", .port = 8554, .cameras = 1, .groups = 1,
		.bitrate_scale = 1.0, .speed = 1.0 };
	struct lg_server s = { .o = &o };
	int status;

	nvr_log_init("nvr-loadgen");
	nvr_log_set_level(NVR_LOG_INFO);
	if ((status = parse_args(&o, argc, argv)) >= 0)
		return status;
	gst_init(NULL, NULL); /* for libgstsdp's caps and buffers (MIKEY) */
	if (srtp_init() != srtp_err_status_ok) {
		nvr_log(NVR_LOG_ERROR, "libsrtp cannot start");
		return 1;
	}
	status = 1;
	if (setup(&s) == NVR_OK) {
		log_start(&s);
		run(&s);
		write_stats(&s);
		status = 0;
	}
	teardown(&s);
	srtp_shutdown();
	return status;
}

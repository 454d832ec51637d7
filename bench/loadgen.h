/*
 * loadgen.h: nvr-loadgen, many simulated cameras in one process.
 *
 * One epoll loop serves /cam1 .. /camN on one port (RTSPS or RTSP), with
 * Digest authentication, and replays a capture (capfile.h) as SRTP over
 * TCP interleaved, looking to a client like nvr-camsim (gst-rtsp-server)
 * with shared media. Cameras are split into groups; each group is one SRTP
 * stream (one key, one SSRC) protected once per packet and copied to every
 * session of the group that plays, so the generator costs little next to
 * the recorder it loads.
 *
 * The same port serves RTSP tunnelled over HTTP(S) (ONVIF's "Internet
 * mode", loadgen-tunnel.c): a camera's GET and POST connections carry one
 * session, as gst-rtsp-server's do.
 *
 * With --speed X the groups run on a camera clock that goes X times as
 * fast as the monotonic one: packets leave X times sooner than captured,
 * while RTP times, ONVIF times and sender reports advance as they would in
 * real time, so a recorder stores X seconds of camera time per second.
 * With --duration D each group stops after D seconds of camera time, ends
 * its sessions (RTCP BYE, then a clean close) and refuses new ones.
 *
 * Modules: loadgen.c (options, loop, signals), loadgen-net.c (sockets, TLS,
 * bounded output), loadgen-rtsp.c (requests and replies), loadgen-stream.c
 * (groups: pacing, rewriting, SRTP, MIKEY, SDP), loadgen-tunnel.c (the
 * HTTP tunnel), loadgen-stats.c (JSON).
 * All of it runs on the one thread; nothing locks.
 */
#ifndef NVR_BENCH_LOADGEN_H
#define NVR_BENCH_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <openssl/ssl.h>
#include <srtp2/srtp.h>

#include "bench/capfile.h"
#include "bench/digest.h"
#include "nvrd/err.h"

#define LG_MAX_CAMERAS 10000
/* A tunnelled camera holds two connections (GET and POST), and a few more
 * may be mid-handshake. */
#define LG_MAX_CONNS (2 * LG_MAX_CAMERAS + 256)
#define LG_MAX_TUNNELS LG_MAX_CAMERAS
#define LG_MAX_COOKIE 64       /* x-sessioncookie; QuickTime's are 22 */
/* Media a session may have queued at --speed 1; past it, packets are
 * dropped for that session only. The bound holds the same span of camera
 * time at any speed, so it is multiplied by the speed (lg_server.out_cap).
 * RTSP replies may use LG_OUT_SLACK more. Allocated at most: twice the
 * bound, so compaction is amortised O(1). */
#define LG_OUT_CAP ((size_t)256 * 1024)
#define LG_OUT_SLACK ((size_t)16 * 1024)
#define LG_MAX_SPEED 100
#define LG_IN_CAP 8192         /* one request with its headers */
#define LG_MAX_BODY 4096       /* a request body (GET_PARAMETER), skipped */
#define LG_SESSION_TIMEOUT 60  /* seconds, announced in SETUP */
#define LG_SR_INTERVAL_NS (5 * 1000000000LL)
#define LG_KEY_LEN 30          /* AES-128 master key + 112-bit salt */
#define LG_REALM "nvr-loadgen"

/* What epoll's data.ptr points at: each watched object starts with one. */
enum lg_kind { LG_LISTENER, LG_TIMER, LG_SIGNALS, LG_CONN };

/* What a connection speaks, known from its first line (loadgen-tunnel.c). */
enum lg_proto {
	LG_PROTO_NEW,  /* not known yet */
	LG_PROTO_RTSP,
	LG_PROTO_GET,  /* a tunnel's GET: replies and media go out on it */
	LG_PROTO_POST, /* a tunnel's POST: base64 requests come in on it */
};

struct lg_counters {
	uint64_t packets_sent, bytes_sent;       /* queued to the session */
	uint64_t packets_dropped, bytes_dropped; /* over the output bound */
};

struct lg_opts {
	const char *address;
	unsigned long port;
	const char *port_file;
	unsigned long cameras, groups;
	const char *cert, *key;
	const char *user, *password_file;
	const char *capture;
	const char *stats;
	double bitrate_scale;
	double speed;               /* camera seconds per wall second */
	unsigned long duration_s;   /* camera seconds per group; 0: forever */
};

struct lg_conn;

/* One SRTP stream shared by the cameras i with (i - 1) % groups == index. */
struct lg_group {
	unsigned index;
	srtp_t srtp;
	uint8_t key[LG_KEY_LEN];
	uint32_t ssrc;
	uint16_t seq;          /* the next packet's sequence number */
	uint32_t ts_base;      /* RTP time of capture position 0 in loop 0 */
	uint64_t loop;         /* loops of the capture completed */
	size_t next;           /* next packet of the capture */
	/* The camera clock: clock0_ns on the monotonic clock, then --speed
	 * times as fast. 0 until it starts: at start-up, or with --duration at
	 * the group's first PLAY, so that no camera time passes unseen. */
	int64_t clock0_ns;
	int64_t start_ns;      /* camera time of loop 0, position 0 */
	int64_t next_sr_ns;    /* camera time */
	bool finished;         /* --duration is over: no more sessions */
	uint64_t packets, octets; /* sent, for RTCP SR (RFC 3550 6.4.1) */
	struct lg_conn **members; /* sessions that play */
	size_t n_members, cap_members;
};

struct lg_camera {
	unsigned index; /* 1-based: /camN */
	struct lg_group *group;
	struct lg_counters c;
	uint64_t sessions_total;
	unsigned sessions_now;
};

/* The capture as the groups replay it, with the SDP parts they repeat. */
struct lg_media {
	struct bench_cap *cap;
	unsigned pt, clock_rate;
	char *rtpmap, *fmtp, *framerate; /* attribute values, or NULL */
	unsigned bandwidth_kbps;
	int64_t loop_ns;   /* one pass of the capture, after --bitrate-scale */
	uint32_t loop_ts;  /* the same in RTP clock units */
	double scale;
	int64_t *t_ns;     /* per packet: send time within a pass, scaled */
	uint32_t *rel_ts;  /* per packet: RTP time within a pass, scaled */
	unsigned frame_ms; /* mean frame interval, for the log */
};

struct lg_server {
	const struct lg_opts *o;
	int epfd;
	enum lg_kind listen_kind, timer_kind, signal_kind;
	int lfd, tfd, sfd;
	unsigned port; /* bound */
	SSL_CTX *tls;
	char ha1[BENCH_MD5_HEX]; /* Digest HA1 of --user; no password is kept */
	bool auth;
	struct lg_media media;
	struct lg_group *groups;
	unsigned n_groups;
	struct lg_camera *cams;
	struct lg_conn *conns; /* every open connection */
	struct lg_conn *dead;  /* closed during this loop turn, freed after it */
	GHashTable *tunnels;   /* x-sessioncookie -> its GET; keys are the GETs' */
	unsigned n_conns;
	int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC at start */
	/* Subtracted from camera time for the ONVIF and SR NTP times: with
	 * --duration D at --speed X > 1, D - D/X, so that a group's camera times
	 * end at the wall time its last packet leaves instead of running
	 * ahead of it. */
	int64_t ntp_shift_ns;
	size_t out_cap;             /* LG_OUT_CAP times the speed */
	int64_t start_ns, next_sweep_ns;
	uint64_t sessions_total, conns_total, bytes_written;
	uint8_t *scratch;           /* one packet being protected */
	bool stop;
};

/* One client connection, holding at most one RTSP session. */
struct lg_conn {
	enum lg_kind kind; /* LG_CONN: first, for epoll */
	struct lg_server *srv;
	struct lg_conn *next_conn, *prev_conn;
	int fd;
	SSL *ssl;
	bool want_out, read_wants_write, closing, dead;
	bool tls_failed; /* no close_notify after a fatal TLS error */
	uint32_t events; /* what epoll watches for now */
	int64_t last_active_ns;
	char peer[64];
	uint8_t in[LG_IN_CAP];
	size_t in_len, skip;
	uint8_t *out;
	size_t out_off, out_len, out_size;
	char nonce[BENCH_MD5_HEX];
	enum lg_proto proto;
	/* A tunnel: the other half, or NULL. The GET holds the session below;
	 * the POST's input is base64 that becomes the GET's. */
	struct lg_conn *tunnel;
	bool tunnel_up;                   /* the HTTP head was handled */
	char cookie[LG_MAX_COOKIE + 1];   /* a GET's, its key in tunnels */
	/* the session */
	char session[17];
	struct lg_camera *cam; /* non-NULL once SETUP */
	uint8_t channel;       /* interleaved RTP channel; RTCP is channel + 1 */
	bool playing;
	size_t member_idx;
	struct lg_counters c;
};

/* loadgen.c: makes the loop run the groups at once (a clock started). */
void lg_loop_wake(struct lg_server *s);

/* loadgen-net.c */
nvr_err lg_net_listen(struct lg_server *s);
nvr_err lg_tls_init(struct lg_server *s);
void lg_net_accept(struct lg_server *s);
void lg_conn_event(struct lg_conn *c, uint32_t events);
/* Queues RTSP reply bytes; closes the connection if it cannot hold them. */
void lg_conn_queue_reply(struct lg_conn *c, const void *data, size_t len);
/* Queues one interleaved frame of media; false if dropped (over bound). */
bool lg_conn_queue_frame(struct lg_conn *c, uint8_t channel, const uint8_t *data, size_t len);
void lg_conn_flush(struct lg_conn *c);
void lg_conn_close(struct lg_conn *c, const char *why);
void lg_net_reap(struct lg_server *s);
void lg_net_sweep(struct lg_server *s, int64_t now_ns);
void lg_net_close_all(struct lg_server *s);

/* loadgen-tunnel.c: every connection's input goes through lg_tunnel_input
 * first, which knows it from its first line and hands RTSP on;
 * lg_tunnel_close unpairs a closing half (a GET closes its POST). */
nvr_err lg_tunnel_init(struct lg_server *s);
void lg_tunnel_clear(struct lg_server *s);
void lg_tunnel_input(struct lg_conn *c);
void lg_tunnel_close(struct lg_conn *c);

/* loadgen-rtsp.c: handles every whole request in c->in. */
void lg_rtsp_input(struct lg_conn *c);
void lg_rtsp_end_session(struct lg_conn *c);

/* loadgen-stream.c */
nvr_err lg_media_init(struct lg_server *s, struct bench_cap *cap, double scale);
void lg_media_clear(struct lg_media *m);
nvr_err lg_groups_init(struct lg_server *s);
void lg_groups_free(struct lg_server *s);
/* Sends what is due; returns the monotonic time of the next due packet. */
int64_t lg_groups_run(struct lg_server *s, int64_t now_ns);
/* Adds c to the playing sessions; starts g's camera clock if it waits for
 * its first PLAY. NVR_ERR_INVAL if g's --duration is over. */
nvr_err lg_group_join(struct lg_group *g, struct lg_conn *c);
void lg_group_leave(struct lg_group *g, struct lg_conn *c);
/* The next packet's sequence number and RTP time, for RTP-Info. */
void lg_group_position(const struct lg_server *s, const struct lg_group *g,
    uint16_t *seq, uint32_t *rtptime);
/* The SDP of a camera of group g; local_ip is the address the client
 * reached. It holds the group's key: the caller wipes it and frees it with
 * g_free(). NULL on failure (logged). */
char *lg_sdp_make(struct lg_server *s, struct lg_group *g, const char *local_ip, bool ipv6);

/* loadgen-stats.c */
nvr_err lg_stats_write(const struct lg_server *s, const char *path);

#endif

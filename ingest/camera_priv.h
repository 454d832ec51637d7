/*
 * camera_priv.h: the camera structure shared by camera.c (connection,
 * timers, state), session.c (the RTSP exchange) and media.c (streams,
 * keys, packets). Not for other modules. Everything here is touched only
 * by the camera's worker thread.
 */
#ifndef NVR_ING_CAMERA_PRIV_H
#define NVR_ING_CAMERA_PRIV_H

#include <netdb.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "ingest/camera.h"
#include "ingest/digest.h"
#include "ingest/protect.h"
#include "ingest/sdp.h"
#include "ingest/srtp.h"
#include "nvrd/backoff.h"

#define ING_IN_START 8192   /* receive buffer, grown up to ING_IN_MAX */
#define ING_IN_MAX (65536 + 8192)
#define ING_OUT_MAX 4096    /* one request at a time, held only until sent */
#define ING_OUT_QUEUE 16384 /* bytes queued on a connection (base64 and a POST header) */
#define ING_MAX_UDP (2 * ING_SDP_MAX_MEDIA)
#define ING_UDP_SLOTS 16    /* datagrams per recvmmsg */
#define ING_UDP_SLOT 4096   /* bytes per datagram: cameras send within the MTU */

enum ing_phase {
	PH_IDLE,       /* waiting to (re)connect */
	PH_RESOLVING,  /* getaddrinfo_a running */
	PH_CONNECTING, /* TCP connect in progress */
	PH_TLS,        /* TLS handshake */
	PH_TUNNEL_GET, /* tunnel: GET sent, waiting for "200 OK" */
	PH_POST_CONNECTING, /* tunnel: the POST side's TCP connect */
	PH_POST_TLS,   /* tunnel: the POST side's TLS handshake */
	PH_RTSP,       /* requests until PLAY */
	PH_PLAYING,    /* recording */
};

/* What is logged once per session, then only counted (c->warned). */
enum ing_warn { WARN_FORGED, WARN_REPLAYED, WARN_MALFORMED, WARN_FOREIGN_DATAGRAM, WARN_TRUNCATED_DATAGRAM, WARN_N };

enum ing_step { ST_OPTIONS, ST_DESCRIBE, ST_SETUP, ST_PLAY, ST_KEEPALIVE, ST_TEARDOWN };

/* One TCP (or TLS) connection to the camera, and the bytes waiting to go
 * out on it. */
struct ing_conn {
	int fd;
	SSL *ssl;
	bool want_write;          /* the socket or SSL needs EPOLLOUT */
	char *out;                /* what is being sent, or NULL */
	size_t out_len, out_off;
	struct ing_watch watch;
};

/* A UDP port of a stream (ING_TRANSPORT_UDP): index 2i is stream i's RTP,
 * 2i + 1 its RTCP. */
struct ing_udp {
	int fd;
	uint16_t port;            /* ours */
	uint16_t server_port;     /* the camera's, from the SETUP answer */
	struct ing_watch watch;
};

struct ing_stream {
	char name[16];
	char control[ING_SDP_MAX_URL];
	uint8_t rtp_ch, rtcp_ch;
	nvr_uuid id, key;
	struct ing_srtp *srtp;       /* a camera's SRTP: tags checked */
	struct ing_protect *protect; /* plain RTP: protected here instead */
	struct stg_out *out;
	bool have_index;
	uint64_t first_index, last_index;
	bool prev_clean;
	uint32_t prev_ts;
	enum ing_srtp_suite suite;
	size_t tag_len;
	bool aead;
};

/* Fields go by size (pointers and 64-bit values, structures, ints,
 * bools, character arrays), so that the many cameras of a big recorder
 * carry little padding. */
struct ing_camera {
	struct ing_worker *worker;
	int64_t deadline_ms;      /* the current phase or request times out */
	int64_t next_attempt_ms;  /* PH_IDLE */
	int64_t recording_since_ms;
	int64_t last_data_ms;
	int64_t next_keepalive_ms;
	int64_t last_status_ms;
	int64_t next_punch_ms;    /* UDP: next NAT keep-alive */
	struct gaicb *gai_list[1];
	struct addrinfo *ai, *ai_next;
	uint8_t *udp_buf;         /* ING_UDP_SLOTS * ING_UDP_SLOT, while UDP */
	uint8_t *in;
	size_t in_len, in_cap;
	int64_t arrival_ns, arrival_us; /* of the bytes read last (realtime, monotonic) */
	const char *last_method;
	struct ing_sdp *sdp;      /* between DESCRIBE and PLAY; wiped */
	struct ing_stream *streams; /* nstreams of them, from the SDP */
	uint64_t pend_rtp, pend_rtcp, pend_bytes; /* not yet added to stg_stats */
	struct nvr_backoff backoff;
	struct addrinfo hints;
	struct ing_services svc;
	struct gaicb gai;
	struct ing_conn rtsp;     /* RTSP; in a tunnel, the GET side */
	struct ing_conn post;     /* the tunnel's POST side, or fd -1 */
	struct sockaddr_storage peer; /* the address that answered */
	struct ing_udp udp[ING_MAX_UDP];
	struct ing_cam_status status;
	struct ing_camera_config cfg;
	enum ing_phase phase;
	socklen_t peer_len;
	enum ing_step step;
	int cseq;
	int setup_i;
	int session_timeout;
	int auth_attempts;
	uint32_t nc;
	int nstreams;
	struct ing_auth_challenge auth;
	struct ing_rtsp_url url;
	bool ai_from_gai;         /* freed with freeaddrinfo either way */
	bool again;               /* input left in the TLS buffer (read_loop) */
	bool has_get_parameter;
	bool have_auth;
	char port_str[8];
	char warned[WARN_N];      /* enum ing_warn: already logged this session */
	char cookie[33];          /* the tunnel's x-sessioncookie */
	char io_error[128];       /* why the last read or write failed */
	char session[128];
	char req_url[ING_SDP_MAX_URL]; /* the URL in RTSP requests */
	char base[ING_SDP_MAX_URL];
	char last_uri[ING_SDP_MAX_URL];
};

/* How RTP travels: cfg.transport, which a tunnel URL sets to tunnel. */
static inline bool
ing_cam_tunnel(const struct ing_camera *c)
{
	return c->cfg.transport == ING_TRANSPORT_TUNNEL;
}

static inline bool
ing_cam_udp(const struct ing_camera *c)
{
	return c->cfg.transport == ING_TRANSPORT_UDP;
}

/* camera.c */
void ing_cam_fail(struct ing_camera *c, enum ing_cam_state st, int64_t now_ms, const char *detail,
    const char *hint, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void ing_cam_set_state(struct ing_camera *c, enum ing_cam_state st, const char *error);
void ing_cam_publish(struct ing_camera *c);
bool ing_cam_connected(const struct ing_camera *c);

/* conn.c */
void ing_ssl_clear_errors(void);
/* >0 bytes, 0 end of stream, -1 would block, -2 error (c->io_error says) */
ssize_t ing_conn_read(struct ing_camera *c, struct ing_conn *k, uint8_t *buf, size_t n);
/* Sends what waits on k: false on an error (c->io_error says). */
bool ing_conn_flush(struct ing_camera *c, struct ing_conn *k);
bool ing_cam_conn_send(struct ing_camera *c, struct ing_conn *k, const char *buf, size_t len);
bool ing_cam_send(struct ing_camera *c, const char *buf, size_t len);
/* A request is still on its way out. */
bool ing_cam_busy(const struct ing_camera *c);

/* tunnel.c: RTSP over HTTP (the QuickTime scheme, "Internet mode") */
bool ing_tunnel_send_get(struct ing_camera *c);
bool ing_tunnel_send_post(struct ing_camera *c);
/* The answer to the GET at the start of c->in: -1 incomplete, 0 done (its
 * bytes removed from c->in), 1 refused (*why says). */
int ing_tunnel_get_answer(struct ing_camera *c, const char **why, int *status);
/* c->out for the POST side: the request in base64. */
bool ing_tunnel_send(struct ing_camera *c, const char *buf, size_t len);

/* udp.c: RTP and RTCP over UDP */
nvr_err ing_udp_open(struct ing_camera *c, int stream, const char **why);
void ing_udp_read(struct ing_camera *c, int index, int64_t now_ms);
void ing_udp_punch(struct ing_camera *c);
void ing_udp_close(struct ing_camera *c);

/* session.c */
void ing_session_begin(struct ing_camera *c, int64_t now_ms);
void ing_session_response(struct ing_camera *c, const struct ing_rtsp_msg *m, int64_t now_ms);
void ing_session_keepalive(struct ing_camera *c, int64_t now_ms);
void ing_session_teardown(struct ing_camera *c);

/* media.c */
nvr_err ing_media_prepare(struct ing_camera *c, const char **why, enum ing_cam_state *st);
void ing_media_frame(struct ing_camera *c, uint8_t channel, const uint8_t *data, size_t len, int64_t now_ms);
void ing_media_flush(struct ing_camera *c);
void ing_media_close(struct ing_camera *c);
void ing_media_stats(struct ing_camera *c);
int64_t ing_now_realtime_ns(void);
int64_t ing_now_mono_us(void);

#endif

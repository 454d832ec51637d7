/*
 * camera_priv.h: the camera structure shared by camera.c (connection,
 * timers, state), session.c (the RTSP exchange) and media.c (streams,
 * keys, packets). Not for other modules. Everything here is touched only
 * by the camera's worker thread.
 */
#ifndef NVR_ING_CAMERA_PRIV_H
#define NVR_ING_CAMERA_PRIV_H

#include <netdb.h>

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

enum ing_phase {
	PH_IDLE,       /* waiting to (re)connect */
	PH_RESOLVING,  /* getaddrinfo_a running */
	PH_CONNECTING, /* TCP connect in progress */
	PH_TLS,        /* TLS handshake */
	PH_RTSP,       /* requests until PLAY */
	PH_PLAYING,    /* recording */
};

enum ing_step { ST_OPTIONS, ST_DESCRIBE, ST_SETUP, ST_PLAY, ST_KEEPALIVE, ST_TEARDOWN };

struct ing_stream {
	char name[16];
	char control[ING_SDP_MAX_URL];
	uint8_t rtp_ch, rtcp_ch;
	nvr_uuid id, key;
	struct ing_srtp *srtp;       /* a camera's SRTP: tags checked */
	struct ing_protect *protect; /* plain RTP: protected here instead */
	struct stg_out *out;
	bool have_index;
	uint64_t last_index;
	bool prev_clean;
	uint32_t prev_ts;
	enum ing_srtp_suite suite;
	size_t tag_len;
	bool aead;
};

struct ing_camera {
	struct ing_camera_config cfg;
	struct ing_services svc;
	struct ing_rtsp_url url;
	struct ing_worker *worker;
	enum ing_phase phase;
	int64_t deadline_ms;      /* the current phase or request times out */
	int64_t next_attempt_ms;  /* PH_IDLE */
	int64_t recording_since_ms;
	int64_t last_data_ms;
	int64_t next_keepalive_ms;
	int64_t last_status_ms;
	struct nvr_backoff backoff;
	/* connection */
	struct gaicb gai;
	struct gaicb *gai_list[1];
	char port_str[8];
	struct addrinfo hints;
	struct addrinfo *ai, *ai_next;
	bool ai_from_gai;         /* freed with freeaddrinfo either way */
	int fd;
	SSL *ssl;
	bool want_write;          /* the socket or SSL needs EPOLLOUT */
	char io_error[128];       /* why the last read or write failed */
	bool again;               /* input left in the TLS buffer (read_loop) */
	uint8_t *in;
	size_t in_len, in_cap;
	int64_t arrival_ns, arrival_us; /* of the bytes read last (realtime, monotonic) */
	char *out;                /* the request being sent, or NULL */
	size_t out_len, out_off;
	/* RTSP */
	enum ing_step step;
	int cseq;
	int setup_i;
	char session[128];
	int session_timeout;
	bool has_get_parameter;
	char base[ING_SDP_MAX_URL];
	struct ing_auth_challenge auth;
	bool have_auth;
	int auth_attempts;
	uint32_t nc;
	char last_uri[ING_SDP_MAX_URL];
	const char *last_method;
	struct ing_sdp *sdp;      /* between DESCRIBE and PLAY; wiped */
	/* media */
	int nstreams;
	struct ing_stream *streams; /* nstreams of them, from the SDP */
	/* status */
	struct ing_cam_status status;
	uint64_t pend_rtp, pend_rtcp, pend_bytes; /* not yet added to stg_stats */
	char warned[8];           /* forged/replayed warnings already logged */
};

/* camera.c */
void ing_cam_fail(struct ing_camera *c, enum ing_cam_state st, int64_t now_ms, const char *detail,
    const char *hint, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void ing_cam_set_state(struct ing_camera *c, enum ing_cam_state st, const char *error);
void ing_cam_publish(struct ing_camera *c);
bool ing_cam_send(struct ing_camera *c, const char *buf, size_t len);

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

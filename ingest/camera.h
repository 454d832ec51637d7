/*
 * camera.h: one camera as the recorder sees it: an RTSP/RTSPS client that
 * connects, authenticates, takes the SDP and keys, sets up every stream
 * with interleaved RTP/RTCP, plays, keeps the session alive, checks every
 * SRTP packet and hands it to storage, and reconnects with capped,
 * jittered backoff. All of it runs on one ingest worker thread, without
 * ever blocking: a slow or dead camera never delays another.
 */
#ifndef NVR_ING_CAMERA_H
#define NVR_ING_CAMERA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/rtsp.h"
#include "ingest/tls.h"
#include "nvrd/err.h"
#include "nvrd/uuid.h"
#include "storage/index.h"
#include "storage/writer.h"

enum ing_cam_state {
	ING_CAM_STOPPED,
	ING_CAM_CONNECTING,
	ING_CAM_RECORDING,
	ING_CAM_AUTH_FAILED,
	ING_CAM_CERT_REJECTED,
	ING_CAM_UNREACHABLE,
	ING_CAM_STREAM_ERROR,
	ING_CAM_NO_KEY_HOLDER,
	ING_CAM_STATE_COUNT
};

/* "connecting", "recording", "auth failed", "certificate rejected" ... */
const char *ing_cam_state_name(enum ing_cam_state s);

enum { ING_CNT_PACKETS, ING_CNT_BYTES, ING_CNT_FORGED, ING_CNT_REPLAYED, ING_CNT_LOST, ING_CNT_RECONNECTS, ING_CNT_N };

struct ing_cam_status {
	enum ing_cam_state state;
	char error[512];
	/* while recording: what is not as safe as it should be (a plain-RTP
	 * camera's unprotected link); "" when nothing is */
	char warning[128];
	int64_t counters[ING_CNT_N];
};

/* The key holders new session keys are sealed to: an immutable,
 * reference-counted snapshot, replaced whole when the list changes. */
struct ing_keyholders {
	int refs; /* atomic */
	size_t n;
	struct {
		nvr_uuid id;
		void *pub; /* EVP_PKEY */
	} h[];
};

/* What a camera needs from the recorder. Called on the camera's worker
 * thread; implementations must be thread-safe and must not block. */
struct ing_services {
	void *ctx;
	struct stg_writer *writer;
	struct stg_index *index; /* may be NULL (tests) */
	/* the stream's id (made on first use); NVR_OK or a failure */
	nvr_err (*stream_id)(void *ctx, const nvr_uuid *camera, const char *name, const char *codec, int clock_rate,
	    nvr_uuid *out);
	/* a reference to the current key holders; release with keyholders_put */
	struct ing_keyholders *(*keyholders_get)(void *ctx);
	void (*keyholders_put)(void *ctx, struct ing_keyholders *k);
	/* a camera's state or counters changed (copied by the callee) */
	void (*status)(void *ctx, const nvr_uuid *camera, const char *name, const struct ing_cam_status *s);
};

/* How RTP travels. TCP (interleaved on the RTSP connection) is the
 * default; a tunnel URL (https://) implies ING_TRANSPORT_TUNNEL, which an
 * rtsps:// URL may also ask for explicitly (the tunnel then goes to the
 * RTSPS port, as gst-rtsp-server and many cameras answer both there). */
enum ing_transport {
	ING_TRANSPORT_TCP,
	ING_TRANSPORT_UDP,
	ING_TRANSPORT_TUNNEL,
};

/* "tcp", "udp", "tunnel" */
const char *ing_transport_name(enum ing_transport t);
/* NVR_OK and *t, or NVR_ERR_INVAL for another name */
nvr_err ing_transport_parse(const char *name, enum ing_transport *t);
/* The transport a camera at URL u records with when t is asked for: a
 * tunnel URL is always tunnelled, so tcp becomes tunnel there; udp cannot
 * go through a tunnel (NVR_ERR_INVAL). nvrctl and the API store this. */
nvr_err ing_transport_for_url(enum ing_transport t, const struct ing_rtsp_url *u, enum ing_transport *out);

struct ing_camera_config {
	nvr_uuid id;
	char name[65];
	char url[1024];
	char *user;     /* NULL: none */
	char *password; /* wiped when the camera is freed */
	struct ing_tls_trust *trust; /* NULL for rtsp://; owned by the camera */
	bool allow_basic;
	bool plain_rtp;
	enum ing_transport transport;
	int64_t timeout_ms;
	int64_t reconnect_max_ms;
};

struct ing_camera;
struct ing_worker;

/* Which of a camera's sockets an epoll event is for: the RTSP connection
 * (in a tunnel, the GET side that brings responses and media), the
 * tunnel's POST side (requests), or one of the UDP ports. Each lives as
 * long as its camera, so a stale event after a socket closed only finds
 * that socket closed. */
enum ing_sock_kind { ING_SOCK_RTSP, ING_SOCK_POST, ING_SOCK_UDP };

struct ing_watch {
	struct ing_camera *cam;
	enum ing_sock_kind kind;
	int index; /* ING_SOCK_UDP: 2 * stream + (1 for RTCP) */
};

/* A camera, not yet running; takes ownership of cfg's pointers (user,
 * password, trust), even on failure. */
nvr_err ing_camera_new(struct ing_camera_config *cfg, const struct ing_services *svc, struct ing_camera **out);

/* Worker side (ingest/worker.c). */
void ing_camera_start(struct ing_camera *c, struct ing_worker *w, int64_t now_ms);
void ing_camera_io(struct ing_watch *w, uint32_t events, int64_t now_ms, char *scratch);
void ing_camera_tick(struct ing_camera *c, int64_t now_ms, bool sync);
/* When the camera stopped reading with bytes still in its TLS buffer,
 * where epoll cannot see them, it asked the worker (ing_worker_again) for
 * another turn: this gives it. */
void ing_camera_again(struct ing_camera *c, int64_t now_ms, char *scratch);
/* Ends the session (TEARDOWN, segments closed) and frees the camera. */
void ing_camera_free(struct ing_camera *c);
const nvr_uuid *ing_camera_id(const struct ing_camera *c);

#endif

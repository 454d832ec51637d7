/*
 * clip.h: an MP4 file made from clear RTP packets of one video stream,
 * through GStreamer: appsrc ! depayloader ! parser ! mp4mux ! filesink
 * (qtmux for Motion JPEG, which ISO MP4 cannot hold: a QuickTime file).
 * Used by the key holder's decrypt (storage/decrypt.h) only: the recorder
 * never holds clear media, so nvrd never links this.
 *
 * The queue into the pipeline is bounded (STG_CLIP_QUEUE_BYTES): a push
 * waits while it is full, so an hour of video is never held in memory.
 */
#ifndef NVR_STG_CLIP_H
#define NVR_STG_CLIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

#define STG_CLIP_QUEUE_BYTES ((uint64_t)4 << 20)

struct stg_clip;

struct stg_clip_info {
	const char *codec;   /* the manifests' codec: H264, H265 or JPEG */
	int clock_rate;      /* RTP clock rate */
	int payload_type;    /* RTP payload type */
	int64_t start_ns;    /* wall-clock time of the first packet: the clip's date */
	const char *title;   /* the clip's title tag (camera and stream) */
	const char *comment; /* its comment tag (provenance, verification) */
};

/* True when stg_clip_open() can make a clip of this codec. */
bool stg_clip_codec_ok(const char *codec);

/*
 * Starts a pipeline that writes the MP4 to path (created or truncated: the
 * caller's temporary name, never the final one). On NVR_OK *out is the
 * clip, freed with stg_clip_free(); otherwise why says what failed.
 */
nvr_err stg_clip_open(const char *path, const struct stg_clip_info *info, struct stg_clip **out, char *why,
    size_t whysize);

/*
 * Queues one clear RTP packet with its presentation time (ns from the
 * clip's start). Takes over pkt (g_malloc'd, len bytes) whatever happens.
 * Waits while the queue is full; fails if the pipeline reported an error.
 */
nvr_err stg_clip_push(struct stg_clip *c, uint8_t *pkt, size_t len, uint64_t pts_ns, char *why, size_t whysize);

/* Ends the stream and waits until the muxer has written the whole file
 * (its index is written last). NVR_OK only when the file is complete. */
nvr_err stg_clip_finish(struct stg_clip *c, char *why, size_t whysize);

/* Stops the pipeline (if it still runs) and frees c; NULL is fine. */
void stg_clip_free(struct stg_clip *c);

#endif

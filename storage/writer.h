/*
 * writer.h: segment writing, split between two kinds of threads.
 *
 * An ingest worker owns a stg_out per recorded stream: it appends packets
 * (records) into a 128 KiB aligned chunk and decides where segments are cut
 * (storage policy: duration, size, clean points). At each sync tick, what
 * the chunk gained since the last one (padded to 4 KiB) goes to the writer
 * thread that owns the stream, and the chunk goes on filling after it; a
 * full chunk goes whole. The writer writes the ranges in order with
 * O_DIRECT, hashes them, fdatasyncs at each tick, and, when a segment is
 * closed, writes and signs its manifest, makes both durable, and queues
 * the index row. One chunk per stream, whatever the sync interval.
 *
 * So an ingest loop never blocks on the disk: a slow disk shows as chunks
 * queued for a writer, and past a bound, as packets counted dropped.
 */
#ifndef NVR_STG_WRITER_H
#define NVR_STG_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"
#include "nvrd/uuid.h"
#include "storage/index.h"
#include "storage/sign.h"

struct stg_writer;
struct stg_out;

struct stg_writer_config {
	const char *root;
	int threads;
	int64_t segment_duration_ms;
	int64_t segment_max_bytes;
	size_t max_buffers;         /* chunks in all: bounds memory (128 KiB each) */
	struct stg_signer *signer;  /* borrowed; outlives the writer */
	struct stg_index *index;    /* borrowed; NULL: no index (tests) */
};

/* Starts the writer threads. Caller stops them with stg_writer_stop(). */
nvr_err stg_writer_start(const struct stg_writer_config *cfg, struct stg_writer **out);

/* The chunk pool: chunks allocated so far (never freed before the stop)
 * and those in use now, for the statistics. Any thread. */
void stg_writer_buffers(struct stg_writer *w, size_t *allocated, size_t *in_use);

/* Gives back to the system the free chunks beyond a small reserve (a few
 * percent of those in use), after a burst (a disk that lagged). Any
 * thread; the recorder calls it every few seconds. */
void stg_writer_trim(struct stg_writer *w);

/* Closes every open segment (manifests written), stops and frees. */
void stg_writer_stop(struct stg_writer *w);

/* The chain of a stream as the index knows it: the next sequence number
 * and the SHA-256 of the last manifest (has_prev false for a new stream).
 * Set at start for every known stream; new streams start at seq 0. */
void stg_writer_seed(struct stg_writer *w, const nvr_uuid *stream, uint64_t next_seq, bool has_prev,
    const uint8_t prev_sha256[32]);

/* Queues a sealed-key file (keys/<key_id>.sealed.json) ahead of any
 * segment of the stream, so that no segment is durable before its key. */
nvr_err stg_writer_keyfile(struct stg_writer *w, const nvr_uuid *stream, const nvr_uuid *key, const char *json);

/* What a stream's manifests say about it; copied by stg_out_open. */
struct stg_out_info {
	nvr_uuid camera, stream, key;
	char camera_name[65];
	char stream_name[16];
	char suite[32];
	char key_source[16];
	bool tag_verified;
	char codec[32];
	int clock_rate;
	int payload_type;
};

/* Starts recording one stream of one session (one key). Used by exactly
 * one ingest thread until stg_out_close(). */
nvr_err stg_out_open(struct stg_writer *w, const struct stg_out_info *info, struct stg_out **out);

/* What an ingest worker knows about a packet beyond its bytes. */
struct stg_pkt {
	bool rtcp;
	bool unverified;   /* AEAD: tag not checked */
	bool onvif;        /* ONVIF extension present */
	bool clean;        /* first packet of a clean point */
	int64_t ntp_ns;    /* camera time from the ONVIF extension (Unix ns) */
	uint64_t index;    /* SRTP index (ROC << 16 | SEQ) */
	uint32_t ts;       /* RTP timestamp */
	uint32_t ssrc;
};

/* Appends one packet as received (may cut a segment first). Never blocks;
 * NVR_ERR_NOSPACE when no buffer is free (the packet is counted dropped). */
nvr_err stg_out_packet(struct stg_out *o, const uint8_t *data, size_t len, const struct stg_pkt *pkt,
    int64_t arrival_ns, int64_t arrival_mono_us);

/* Counts packets refused at ingest, for the current segment's manifest. */
void stg_out_refused(struct stg_out *o, uint64_t forged, uint64_t replayed, uint64_t lost, uint64_t malformed);
/* A packet counted lost came late after all (reordered): the current
 * segment's count of lost packets, if it has any, goes down by one. */
void stg_out_late(struct stg_out *o);

/* The sync tick: pads and hands the partial chunk to the writer, which
 * writes and fdatasyncs it. */
void stg_out_flush(struct stg_out *o);

/* Ends the session: the open segment is closed; o is freed. */
void stg_out_close(struct stg_out *o);

#endif

/*
 * writer_priv.h: what storage/writer.c (the writer threads) and
 * storage/out.c (the ingest side) share. Not for other modules.
 *
 * Ownership: a chunk belongs to the pool, then to one stg_out while it is
 * filled, then to a writer thread from the moment it is queued, and back to
 * the pool after it is written. A seg belongs to its stg_out until the
 * close message is queued, then to the writer thread, which frees it.
 */
#ifndef NVR_STG_WRITER_PRIV_H
#define NVR_STG_WRITER_PRIV_H

#include <limits.h>
#include <pthread.h>

#include <openssl/evp.h>

#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/writer.h"

#define STG_CHUNK_SIZE (64 * 1024)
#define STG_CHUNK_ARRIVALS 128

struct stg_chunk {
	struct stg_chunk *next;
	uint8_t *buf;        /* STG_CHUNK_SIZE bytes, 4 KiB aligned */
	size_t len;          /* filled; a multiple of 4 KiB when queued */
	uint64_t offset;     /* of buf[0] in the segment file */
	bool sync;           /* fdatasync once written */
	int narrivals;
	int64_t arrivals[STG_CHUNK_ARRIVALS]; /* monotonic us of the packets it starts */
};

struct stg_seg {
	struct stg_manifest m; /* filled by the ingest side, finished by the writer */
	char dir[PATH_MAX];
	/* writer side */
	int fd;
	bool direct;
	bool failed;
	uint64_t written;
	EVP_MD_CTX *sha;
	int64_t *pending;      /* arrivals written, waiting for fdatasync */
	int npending, cpending;
};

enum stg_msg_type { STG_MSG_OPEN, STG_MSG_CHUNK, STG_MSG_SYNC, STG_MSG_CLOSE, STG_MSG_KEYFILE };

struct stg_msg {
	struct stg_msg *next;
	enum stg_msg_type type;
	struct stg_seg *seg;
	struct stg_chunk *chunk;
	char *path, *data; /* STG_MSG_KEYFILE */
};

struct stg_wthread {
	pthread_t thread;
	pthread_mutex_t lock; /* protects head, tail, stop */
	pthread_cond_t cond;
	struct stg_msg *head, **tail;
	bool stop;
	struct stg_writer *w;
};

struct stg_out {
	struct stg_writer *w;
	struct stg_wthread *t;   /* the thread that owns this stream's files */
	struct stg_out_info info;
	struct stg_seg *seg;     /* open segment, or NULL before the next packet */
	struct stg_chunk *chunk; /* being filled, or NULL */
	uint64_t offset;         /* file offset of the next byte */
	int64_t seg_start_ms;    /* monotonic */
	bool unsynced;           /* bytes queued since the last sync tick */
	bool onvif;              /* this stream carries ONVIF clean points */
};

/* writer.c, for out.c */
struct stg_chunk *stg_pool_get(struct stg_writer *w);
void stg_pool_put(struct stg_writer *w, struct stg_chunk *c);
void stg_queue(struct stg_wthread *t, enum stg_msg_type type, struct stg_seg *seg, struct stg_chunk *c);
struct stg_wthread *stg_thread_for(struct stg_writer *w, const nvr_uuid *stream);
uint64_t stg_next_seq(struct stg_writer *w, const nvr_uuid *stream);
const char *stg_writer_root(const struct stg_writer *w);
const struct stg_writer_config *stg_writer_cfg(const struct stg_writer *w);
void stg_seg_free(struct stg_seg *s);

#endif

/*
 * writer_priv.h: what storage/writer.c (the writer threads) and
 * storage/out.c (the ingest side) share. Not for other modules.
 *
 * Ownership: a chunk belongs to the pool, then to one stg_out while it is
 * filled. At a sync tick the stg_out hands the writer the bytes filled so
 * far, [queued, len), and goes on appending after them: the writer only
 * reads the range its message names, the stg_out only writes past it, so
 * they never touch the same bytes. The message that names the chunk's
 * last range is final: from then the chunk belongs to the writer thread,
 * which puts it back in the pool once written. So each stream holds one
 * chunk, and writes are as large as a sync interval allows. A seg belongs
 * to its stg_out until the close message is queued, then to the writer
 * thread, which frees it.
 */
#ifndef NVR_STG_WRITER_PRIV_H
#define NVR_STG_WRITER_PRIV_H

#include <limits.h>
#include <pthread.h>

#include <openssl/evp.h>

#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/writer.h"

#define STG_CHUNK_SIZE ((size_t)128 * 1024)
#define STG_CHUNK_ARRIVALS 256

struct stg_chunk {
	struct stg_chunk *next;
	uint8_t *buf;        /* STG_CHUNK_SIZE bytes, 4 KiB aligned */
	uint64_t offset;     /* of buf[0] in the segment file; set once */
	/* the filling stg_out's own; the writer reads its message instead */
	size_t len;          /* filled */
	size_t queued;       /* [0, queued) handed to the writer, 4 KiB aligned */
	int narrivals, aqueued;
	int64_t arrivals[STG_CHUNK_ARRIVALS]; /* monotonic us of the packets it starts */
};

/* A range of a chunk to write: buf[from, to) and arrivals[afrom, ato). */
struct stg_range {
	size_t from, to;
	int afrom, ato;
	bool sync;  /* fdatasync once written */
	bool final; /* the chunk's last range: the writer then owns it */
};

struct stg_seg {
	struct stg_manifest m; /* filled by the ingest side, finished by the writer */
	char *dir;             /* its folder; owned */
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
	struct stg_range range; /* STG_MSG_CHUNK */
	char *path, *data;      /* STG_MSG_KEYFILE */
};

struct stg_wthread {
	pthread_t thread;
	pthread_mutex_t lock; /* protects head, tail, stop, asleep */
	pthread_cond_t cond;
	struct stg_msg *head, **tail;
	bool stop;
	bool asleep;          /* waiting with no deadline: a push must wake it */
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
void stg_queue(struct stg_wthread *t, enum stg_msg_type type, struct stg_seg *seg);
void stg_queue_chunk(struct stg_wthread *t, struct stg_seg *seg, struct stg_chunk *c, const struct stg_range *r);
struct stg_wthread *stg_thread_for(struct stg_writer *w, const nvr_uuid *stream);
uint64_t stg_next_seq(struct stg_writer *w, const nvr_uuid *stream);
const char *stg_writer_root(const struct stg_writer *w);
const struct stg_writer_config *stg_writer_cfg(const struct stg_writer *w);
void stg_seg_free(struct stg_seg *s);

#endif

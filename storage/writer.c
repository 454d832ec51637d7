/*
 * writer.c: the writer threads: O_DIRECT writes, SHA-256, fdatasync at each
 * sync tick, and at close a signed manifest made durable before its index
 * row is queued. Also the chunk pool and the per-stream hash chains.
 * It must never index a segment that is not durable, never write a
 * segment of a key whose sealed-key file is not durable, and never block
 * an ingest thread (that is stg_out's side, in out.c).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "nvrd/util.h"
#include "storage/stats.h"
#include "storage/fileio.h"
#include "storage/writer_priv.h"

/* The hash chain of one stream. */
struct chain {
	struct chain *next;
	nvr_uuid stream;
	uint64_t next_seq;
	bool has_prev;
	uint8_t prev[32];
};

struct stg_writer {
	struct stg_writer_config cfg;
	char *root;
	char *recorder;
	struct stg_wthread *threads;
	int nthreads;
	pthread_mutex_t pool_lock; /* protects free_chunks, nfree, allocated */
	struct stg_chunk *free_chunks;
	size_t nfree, allocated;
	pthread_mutex_t chain_lock; /* protects chains */
	struct chain *chains;
};

const char *
stg_writer_root(const struct stg_writer *w)
{
	return w->root;
}

const struct stg_writer_config *
stg_writer_cfg(const struct stg_writer *w)
{
	return &w->cfg;
}

/* ---- chunk pool ------------------------------------------------------------ */

/* Chunk buffers are mapped, not taken from malloc: page aligned as
 * O_DIRECT wants, and given back to the system when the pool is trimmed
 * after a burst, which a malloc arena would keep. */
static struct stg_chunk *
chunk_new(void)
{
	struct stg_chunk *c = calloc(1, sizeof(*c));
	void *buf = MAP_FAILED;

	/* fd -1 is what MAP_ANONYMOUS asks for; cppcheck does not know it */
	if (c != NULL)
		/* cppcheck-suppress invalidFunctionArg */
		buf = mmap(NULL, STG_CHUNK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		free(c);
		return NULL;
	}
	c->buf = buf;
	return c;
}

static void
chunk_free(struct stg_chunk *c)
{
	munmap(c->buf, STG_CHUNK_SIZE);
	free(c);
}

struct stg_chunk *
stg_pool_get(struct stg_writer *w)
{
	struct stg_chunk *c;

	pthread_mutex_lock(&w->pool_lock);
	if ((c = w->free_chunks) != NULL) {
		w->free_chunks = c->next;
		w->nfree--;
	} else if (w->allocated < w->cfg.max_buffers) {
		w->allocated++;
		pthread_mutex_unlock(&w->pool_lock);
		if ((c = chunk_new()) == NULL) {
			pthread_mutex_lock(&w->pool_lock);
			w->allocated--;
			pthread_mutex_unlock(&w->pool_lock);
		}
		return c;
	}
	pthread_mutex_unlock(&w->pool_lock);
	if (c != NULL) {
		c->next = NULL;
		c->len = c->queued = 0;
		c->narrivals = c->aqueued = 0;
	}
	return c;
}

void
stg_pool_put(struct stg_writer *w, struct stg_chunk *c)
{
	pthread_mutex_lock(&w->pool_lock);
	c->next = w->free_chunks;
	w->free_chunks = c;
	w->nfree++;
	pthread_mutex_unlock(&w->pool_lock);
}

void
stg_writer_buffers(struct stg_writer *w, size_t *allocated, size_t *in_use)
{
	pthread_mutex_lock(&w->pool_lock);
	*allocated = w->allocated;
	*in_use = w->allocated - w->nfree;
	pthread_mutex_unlock(&w->pool_lock);
}

void
stg_writer_trim(struct stg_writer *w)
{
	struct stg_chunk *drop = NULL, *c;
	size_t keep;

	pthread_mutex_lock(&w->pool_lock);
	keep = 8 + (w->allocated - w->nfree) / 32;
	while (w->nfree > keep) {
		c = w->free_chunks;
		w->free_chunks = c->next;
		w->nfree--;
		w->allocated--;
		c->next = drop;
		drop = c;
	}
	pthread_mutex_unlock(&w->pool_lock);
	while ((c = drop) != NULL) {
		drop = c->next;
		chunk_free(c);
	}
}

static void
pool_free(struct stg_writer *w)
{
	struct stg_chunk *c;

	while ((c = w->free_chunks) != NULL) {
		w->free_chunks = c->next;
		chunk_free(c);
	}
}

/* ---- chains ----------------------------------------------------------------- */

/* Call with chain_lock held. */
static struct chain *
chain_find(struct stg_writer *w, const nvr_uuid *stream, bool create)
{
	struct chain *c;

	for (c = w->chains; c != NULL; c = c->next) {
		if (memcmp(c->stream.b, stream->b, 16) == 0)
			return c;
	}
	if (!create || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->stream = *stream;
	c->next = w->chains;
	w->chains = c;
	return c;
}

void
stg_writer_seed(struct stg_writer *w, const nvr_uuid *stream, uint64_t next_seq, bool has_prev,
    const uint8_t prev_sha256[32])
{
	struct chain *c;

	pthread_mutex_lock(&w->chain_lock);
	if ((c = chain_find(w, stream, true)) != NULL) {
		c->next_seq = next_seq;
		c->has_prev = has_prev;
		if (has_prev)
			memcpy(c->prev, prev_sha256, 32);
	}
	pthread_mutex_unlock(&w->chain_lock);
}

uint64_t
stg_next_seq(struct stg_writer *w, const nvr_uuid *stream)
{
	struct chain *c;
	uint64_t seq = 0;

	pthread_mutex_lock(&w->chain_lock);
	if ((c = chain_find(w, stream, true)) != NULL)
		seq = c->next_seq++;
	pthread_mutex_unlock(&w->chain_lock);
	return seq;
}

/* Sets the manifest's link to the previous one and records this one's
 * hash for the next. Closes of a stream run in order on one thread. */
static void
chain_link(struct stg_writer *w, struct stg_manifest *m)
{
	struct chain *c;

	pthread_mutex_lock(&w->chain_lock);
	c = chain_find(w, &m->stream, true);
	m->has_prev = c != NULL && c->has_prev;
	if (m->has_prev)
		memcpy(m->prev_sha256, c->prev, 32);
	pthread_mutex_unlock(&w->chain_lock);
}

static void
chain_advance(struct stg_writer *w, const nvr_uuid *stream, const uint8_t manifest_sha[32])
{
	struct chain *c;

	pthread_mutex_lock(&w->chain_lock);
	if ((c = chain_find(w, stream, true)) != NULL) {
		c->has_prev = true;
		memcpy(c->prev, manifest_sha, 32);
	}
	pthread_mutex_unlock(&w->chain_lock);
}

/* ---- messages ------------------------------------------------------------------ */

struct stg_wthread *
stg_thread_for(struct stg_writer *w, const nvr_uuid *stream)
{
	uint32_t h = 2166136261u; /* FNV-1a over the stream id */

	for (int i = 0; i < 16; i++)
		h = (h ^ stream->b[i]) * 16777619u;
	return &w->threads[h % (uint32_t)w->nthreads];
}

static void
push(struct stg_wthread *t, struct stg_msg *m)
{
	pthread_mutex_lock(&t->lock);
	*t->tail = m;
	t->tail = &m->next;
	if (t->asleep) /* else it looks again within WRITER_BATCH_NS */
		pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static struct stg_msg *
new_msg(enum stg_msg_type type, struct stg_seg *seg)
{
	struct stg_msg *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		/* Without a message the data cannot be written: count it lost. */
		nvr_log(NVR_LOG_ERROR, "writer: out of memory; data of segment %llu dropped",
		    (unsigned long long)(seg ? seg->m.seq : 0));
		if (seg != NULL)
			seg->failed = true;
		return NULL;
	}
	m->type = type;
	m->seg = seg;
	return m;
}

void
stg_queue(struct stg_wthread *t, enum stg_msg_type type, struct stg_seg *seg)
{
	struct stg_msg *m = new_msg(type, seg);

	if (m != NULL)
		push(t, m);
}

void
stg_queue_chunk(struct stg_wthread *t, struct stg_seg *seg, struct stg_chunk *c, const struct stg_range *r)
{
	struct stg_msg *m = new_msg(STG_MSG_CHUNK, seg);

	if (m == NULL) {
		/* the writer may still hold earlier ranges of a chunk: only a
		 * final range with nothing queued before it can go back here */
		if (r->final && r->from == 0)
			stg_pool_put(t->w, c);
		return;
	}
	m->chunk = c;
	m->range = *r;
	push(t, m);
}

nvr_err
stg_writer_keyfile(struct stg_writer *w, const nvr_uuid *stream, const nvr_uuid *key, const char *json)
{
	struct stg_msg *m = calloc(1, sizeof(*m));
	char id[NVR_UUID_STRLEN];

	if (m == NULL || (m->data = strdup(json)) == NULL || (m->path = malloc(PATH_MAX)) == NULL) {
		if (m != NULL) {
			free(m->data);
			free(m);
		}
		return NVR_ERR_NOMEM;
	}
	nvr_uuid_format(key, id);
	snprintf(m->path, PATH_MAX, "%s/keys/%s.sealed.json", w->root, id);
	m->type = STG_MSG_KEYFILE;
	push(stg_thread_for(w, stream), m);
	return NVR_OK;
}

/* ---- file work (writer threads) ------------------------------------------------ */

static void
seg_open(struct stg_seg *s)
{
	char path[PATH_MAX + 64], id[NVR_UUID_STRLEN]; /* dir < PATH_MAX, plus the name */

	nvr_uuid_format(&s->m.segment, id);
	snprintf(path, sizeof(path), "%s/%s.nvrseg", s->dir, id);
	s->fd = -1;
	if (stg_make_dirs(s->dir) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "writer: cannot create %s: %s", s->dir, strerror(errno));
		s->failed = true;
		return;
	}
	s->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0640);
	s->direct = s->fd >= 0;
	if (s->fd < 0 && errno == EINVAL) /* tmpfs and others have no O_DIRECT */
		s->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (s->fd < 0 || (s->sha = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL) != 1) {
		nvr_log(NVR_LOG_ERROR, "writer: cannot create %s: %s", path, strerror(errno));
		s->failed = true;
		return;
	}
	stg_sync_dir(s->dir);
}

/* After fdatasync: every packet written so far is durable. */
static void
seg_synced(struct stg_seg *s)
{
	int64_t now = nvr_monotonic_ms() * 1000;

	for (int i = 0; i < s->npending; i++)
		stg_stats_latency(now - s->pending[i]);
	s->npending = 0;
}

static void
seg_note_arrivals(struct stg_seg *s, const struct stg_chunk *c, const struct stg_range *r)
{
	int n = r->ato - r->afrom;

	if (s->npending + n > s->cpending) {
		int cap = s->cpending ? s->cpending * 2 : 256;
		while (cap < s->npending + n)
			cap *= 2;
		int64_t *p = realloc(s->pending, (size_t)cap * sizeof(*p));
		if (p == NULL)
			return; /* latency samples are statistics: skipping is fine */
		s->pending = p;
		s->cpending = cap;
	}
	memcpy(s->pending + s->npending, c->arrivals + r->afrom, (size_t)n * sizeof(int64_t));
	s->npending += n;
}

/* Writes one range of a chunk (struct stg_range) and, when asked, makes
 * the segment durable; a final range gives the chunk back to the pool. */
static void
seg_chunk(struct stg_writer *w, struct stg_seg *s, struct stg_chunk *c, const struct stg_range *r)
{
	size_t n = r->to - r->from;
	nvr_err rc;

	if (!s->failed && s->direct && n % STG_SEG_ALIGN != 0) {
		/* an unpadded tail (no buffer was free for the padding): written
		 * through the page cache, since O_DIRECT needs whole blocks */
		int fl = fcntl(s->fd, F_GETFL);
		if (fl >= 0 && fcntl(s->fd, F_SETFL, fl & ~O_DIRECT) == 0)
			s->direct = false;
	}
	if (!s->failed && n > 0) {
		rc = stg_write_all(s->fd, c->buf + r->from, n, c->offset + r->from);
		if (rc == NVR_OK && EVP_DigestUpdate(s->sha, c->buf + r->from, n) != 1)
			rc = NVR_ERR_CRYPTO;
		if (rc != NVR_OK) {
			nvr_log_ex(NVR_LOG_ERROR, nvr_err_str(rc), "free space on the storage root, or check the disk",
			    "writer: segment %llu of %s/%s cannot be written", (unsigned long long)s->m.seq,
			    s->m.camera_name, s->m.stream_name);
			s->failed = true;
		} else {
			s->written = c->offset + r->to;
			seg_note_arrivals(s, c, r);
		}
	}
	if (r->sync && !s->failed) {
		if (fdatasync(s->fd) == 0)
			seg_synced(s);
		else
			nvr_log(NVR_LOG_ERROR, "writer: fdatasync of segment %llu failed: %s", (unsigned long long)s->m.seq,
			    strerror(errno));
	}
	if (r->final)
		stg_pool_put(w, c);
}

/* Manifest and signature, durable, then the index row and the chain. */
static void
seg_close(struct stg_writer *w, struct stg_seg *s)
{
	char id[NVR_UUID_STRLEN], path[PATH_MAX + 64], rel[PATH_MAX + 64];
	uint8_t *sig = NULL, msha[32];
	unsigned int mdlen = 32;
	char *json = NULL;
	size_t len = 0, siglen = 0;

	if (s->failed || s->fd < 0 || fdatasync(s->fd) != 0 || EVP_DigestFinal_ex(s->sha, s->m.sha256, &mdlen) != 1) {
		nvr_log(NVR_LOG_ERROR, "writer: segment %llu of %s/%s lost (write error); the hash chain shows the gap",
		    (unsigned long long)s->m.seq, s->m.camera_name, s->m.stream_name);
		goto out;
	}
	seg_synced(s);
	s->m.bytes = s->written;
	memcpy(s->m.signer, stg_signer_fingerprint(w->cfg.signer), 32);
	snprintf(s->m.recorder, sizeof(s->m.recorder), "%s", w->recorder);
	chain_link(w, &s->m);
	nvr_uuid_format(&s->m.segment, id);
	snprintf(path, sizeof(path), "%s/%s.manifest.json", s->dir, id);
	if (stg_manifest_encode(&s->m, &json, &len) != NVR_OK || stg_write_durable(path, json, len) != NVR_OK ||
	    stg_signer_sign(w->cfg.signer, json, len, &sig, &siglen) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "writer: cannot write the manifest %s: %s", path, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s.manifest.json.sig", s->dir, id);
	if (stg_write_durable(path, sig, siglen) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "writer: cannot write the signature %s: %s", path, strerror(errno));
		goto out;
	}
	stg_sync_dir(s->dir);
	EVP_Digest(json, len, msha, &mdlen, EVP_sha256(), NULL);
	chain_advance(w, &s->m.stream, msha);
	stg_stat_add(&stg_stats.segments, 1);
	stg_stat_add(&stg_stats.segment_bytes, s->m.bytes);
	snprintf(rel, sizeof(rel), "%s/%s.nvrseg", s->dir + strlen(w->root) + 1, id);
	if (w->cfg.index != NULL)
		stg_index_segment(w->cfg.index, &s->m, rel, msha);
out:
	free(json);
	free(sig);
	stg_seg_free(s);
}

static void
write_keyfile(struct stg_msg *m)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", m->path);
	*strrchr(dir, '/') = '\0';
	if (stg_make_dirs(dir) != NVR_OK || stg_write_durable(m->path, m->data, strlen(m->data)) != NVR_OK)
		nvr_log_ex(NVR_LOG_ERROR, strerror(errno), "check the storage root",
		    "writer: cannot write the sealed key %s; its segments cannot be decrypted without the database copy",
		    m->path);
	else
		stg_sync_dir(dir);
}

void
stg_seg_free(struct stg_seg *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	EVP_MD_CTX_free(s->sha);
	free(s->pending);
	free(s->dir);
	free(s);
}

static void
handle(struct stg_writer *w, struct stg_msg *m)
{
	switch (m->type) {
	case STG_MSG_OPEN:
		seg_open(m->seg);
		break;
	case STG_MSG_CHUNK:
		seg_chunk(w, m->seg, m->chunk, &m->range);
		break;
	case STG_MSG_SYNC:
		if (!m->seg->failed && fdatasync(m->seg->fd) == 0)
			seg_synced(m->seg);
		break;
	case STG_MSG_CLOSE:
		seg_close(w, m->seg);
		break;
	case STG_MSG_KEYFILE:
		write_keyfile(m);
		free(m->path);
		free(m->data);
		break;
	}
	free(m);
}

/* A busy writer looks at its queue every WRITER_BATCH_NS rather than being
 * woken for each message: a stream's ranges are not urgent (they become
 * durable at the next sync anyway), and at thousands of messages a second
 * a wake-up each costs more than the writes. After WRITER_IDLE_ROUNDS
 * empty looks it sleeps until a push wakes it, so an idle recorder costs
 * nothing. Called with t->lock held. */
#define WRITER_BATCH_NS 20000000L
#define WRITER_IDLE_ROUNDS 50

static void
wait_for_work(struct stg_wthread *t, int *idle)
{
	struct timespec ts;

	if (++*idle > WRITER_IDLE_ROUNDS) {
		t->asleep = true;
		while (t->head == NULL && !t->stop)
			pthread_cond_wait(&t->cond, &t->lock);
		t->asleep = false;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += WRITER_BATCH_NS;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&t->cond, &t->lock, &ts);
}

static void *
thread_main(void *arg)
{
	struct stg_wthread *t = arg;
	struct stg_msg *m;
	int idle = 0;

	/* named, for top -H, perf and gdb */
	pthread_setname_np(pthread_self(), "nvr-writer");

	pthread_mutex_lock(&t->lock);
	for (;;) {
		if (t->head == NULL && !t->stop)
			wait_for_work(t, &idle);
		if (t->head == NULL && t->stop)
			break; /* stopping, and everything queued is done */
		if (t->head == NULL)
			continue;
		idle = 0;
		m = t->head;
		t->head = m->next;
		if (t->head == NULL)
			t->tail = &t->head;
		pthread_mutex_unlock(&t->lock);
		handle(t->w, m);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* ---- start and stop ----------------------------------------------------------- */

nvr_err
stg_writer_start(const struct stg_writer_config *cfg, struct stg_writer **out)
{
	struct stg_writer *w = calloc(1, sizeof(*w));
	char host[128] = "unknown";
	pthread_condattr_t ca;

	*out = NULL;
	if (w == NULL)
		return NVR_ERR_NOMEM;
	w->cfg = *cfg;
	gethostname(host, sizeof(host) - 1);
	if ((w->root = strdup(cfg->root)) == NULL ||
	    (w->recorder = malloc(192)) == NULL ||
	    (w->threads = calloc((size_t)cfg->threads, sizeof(*w->threads))) == NULL) {
		free(w->root);
		free(w->recorder);
		free(w);
		return NVR_ERR_NOMEM;
	}
	snprintf(w->recorder, 192, "%.127s %s/%s", host, PACKAGE_NAME, PACKAGE_VERSION);
	pthread_mutex_init(&w->pool_lock, NULL);
	pthread_mutex_init(&w->chain_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* wait_for_work's deadlines */
	for (int i = 0; i < cfg->threads; i++) {
		struct stg_wthread *t = &w->threads[i];
		t->w = w;
		t->tail = &t->head;
		pthread_mutex_init(&t->lock, NULL);
		pthread_cond_init(&t->cond, &ca);
		if (pthread_create(&t->thread, NULL, thread_main, t) != 0) {
			pthread_condattr_destroy(&ca);
			w->nthreads = i;
			stg_writer_stop(w);
			return NVR_ERR_INTERNAL;
		}
		w->nthreads = i + 1;
	}
	pthread_condattr_destroy(&ca);
	*out = w;
	return NVR_OK;
}

void
stg_writer_stop(struct stg_writer *w)
{
	struct chain *c;

	if (w == NULL)
		return;
	for (int i = 0; i < w->nthreads; i++) {
		pthread_mutex_lock(&w->threads[i].lock);
		w->threads[i].stop = true;
		pthread_cond_signal(&w->threads[i].cond);
		pthread_mutex_unlock(&w->threads[i].lock);
	}
	for (int i = 0; i < w->nthreads; i++) {
		pthread_join(w->threads[i].thread, NULL);
		pthread_mutex_destroy(&w->threads[i].lock);
		pthread_cond_destroy(&w->threads[i].cond);
	}
	while ((c = w->chains) != NULL) {
		w->chains = c->next;
		free(c);
	}
	pool_free(w);
	pthread_mutex_destroy(&w->pool_lock);
	pthread_mutex_destroy(&w->chain_lock);
	free(w->threads);
	free(w->root);
	free(w->recorder);
	free(w);
}

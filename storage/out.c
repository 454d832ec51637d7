/*
 * out.c: the ingest side of segment writing: records into chunks, segment
 * cuts, sync ticks. Runs on an ingest thread: it must never block (no
 * I/O, no waiting), and never queue a torn record: a packet that cannot
 * be buffered whole is dropped whole and counted.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrd/log.h"
#include "storage/stats.h"
#include "storage/writer_priv.h"

nvr_err
stg_out_open(struct stg_writer *w, const struct stg_out_info *info, struct stg_out **out)
{
	struct stg_out *o = calloc(1, sizeof(*o));

	*out = NULL;
	if (o == NULL)
		return NVR_ERR_NOMEM;
	o->w = w;
	o->info = *info;
	o->t = stg_thread_for(w, &info->stream);
	*out = o;
	return NVR_OK;
}

/* Hands the writer what the current chunk gained since its last range
 * (its end 4 KiB aligned, or the chunk's end). When the chunk is full, or
 * final is asked, the chunk goes with it and the stream has none. */
static void
submit(struct stg_out *o, bool sync, bool final)
{
	struct stg_chunk *c = o->chunk;
	struct stg_range r = { .from = c->queued, .to = c->len, .afrom = c->aqueued, .ato = c->narrivals,
		.sync = sync, .final = final || c->len == STG_CHUNK_SIZE };

	c->queued = c->len;
	c->aqueued = c->narrivals;
	if (r.final)
		o->chunk = NULL;
	stg_queue_chunk(o->t, o->seg, c, &r);
	o->unsynced = !sync;
}

/* Gives back a chunk the stream no longer fills: through the writer once
 * any of it was queued (the writer may still be reading it). */
static void
release_chunk(struct stg_out *o)
{
	if (o->chunk == NULL)
		return;
	if (o->chunk->queued == 0)
		stg_pool_put(o->w, o->chunk);
	else
		submit(o, false, true);
	o->chunk = NULL;
}

/* Chunks needed to append n more bytes. */
static int
chunks_needed(const struct stg_out *o, size_t n)
{
	size_t room = o->chunk ? STG_CHUNK_SIZE - o->chunk->len : 0;

	return n <= room ? 0 : (int)((n - room + STG_CHUNK_SIZE - 1) / STG_CHUNK_SIZE);
}

/* Takes the chunks an append of n bytes needs, all or none. */
static bool
reserve(struct stg_out *o, size_t n, struct stg_chunk **spare, int *nspare)
{
	int need = chunks_needed(o, n);

	for (*nspare = 0; *nspare < need; (*nspare)++) {
		if ((spare[*nspare] = stg_pool_get(o->w)) == NULL) {
			while (*nspare > 0)
				stg_pool_put(o->w, spare[--(*nspare)]);
			return false;
		}
	}
	return true;
}

/* Appends bytes across chunks, taking reserved spares as chunks fill. */
static void
append(struct stg_out *o, const uint8_t *p, size_t n, struct stg_chunk **spare, int *nspare)
{
	while (n > 0) {
		if (o->chunk == NULL) {
			if (*nspare == 0) { /* reserve() took enough: never */
				nvr_log(NVR_LOG_ERROR, "writer: internal error: no buffer reserved; %zu bytes dropped", n);
				return;
			}
			o->chunk = spare[--(*nspare)];
			o->chunk->offset = o->offset;
		}
		size_t k = STG_CHUNK_SIZE - o->chunk->len;
		if (k > n)
			k = n;
		memcpy(o->chunk->buf + o->chunk->len, p, k);
		o->chunk->len += k;
		o->offset += k;
		p += k;
		n -= k;
		if (o->chunk->len == STG_CHUNK_SIZE)
			submit(o, false, true);
	}
}

/* Pads to 4 KiB with a PAD record and hands the new bytes over; the file
 * offset is then aligned for the next range's O_DIRECT write. final: the
 * chunk goes too (the segment ends). */
static bool
pad_and_submit(struct stg_out *o, bool sync, bool final)
{
	uint8_t pad[STG_SEG_ALIGN + STG_SEG_RECORD_HEADER];
	struct stg_chunk *spare[2];
	size_t n = stg_seg_pad_len(o->offset);
	int nspare;

	if (n > 0) {
		if (!reserve(o, n, spare, &nspare))
			return false;
		stg_seg_pad(pad, n);
		append(o, pad, n, spare, &nspare);
	}
	if (o->chunk != NULL && (o->chunk->len > o->chunk->queued || (final && o->chunk->queued > 0)))
		submit(o, sync, final);
	else if (sync && o->unsynced)
		stg_queue(o->t, STG_MSG_SYNC, o->seg);
	if (final)
		release_chunk(o);
	o->unsynced = false;
	return true;
}

static struct stg_seg *
new_seg(struct stg_out *o, int64_t arrival_ns)
{
	struct stg_seg *s = calloc(1, sizeof(*s));
	const struct stg_out_info *in = &o->info;
	char dir[PATH_MAX];

	if (s == NULL || nvr_uuid_new(&s->m.segment) != NVR_OK) {
		free(s);
		return NULL;
	}
	s->fd = -1;
	s->m.camera = in->camera;
	s->m.stream = in->stream;
	s->m.key = in->key;
	memcpy(s->m.camera_name, in->camera_name, sizeof(s->m.camera_name));
	memcpy(s->m.stream_name, in->stream_name, sizeof(s->m.stream_name));
	memcpy(s->m.suite, in->suite, sizeof(s->m.suite));
	memcpy(s->m.key_source, in->key_source, sizeof(s->m.key_source));
	memcpy(s->m.codec, in->codec, sizeof(s->m.codec));
	s->m.tag_verified = in->tag_verified;
	s->m.clock_rate = in->clock_rate;
	s->m.payload_type = in->payload_type;
	s->m.seq = stg_next_seq(o->w, &in->stream);
	s->m.start_ns = s->m.end_ns = arrival_ns;
	snprintf(s->m.time_source, sizeof(s->m.time_source), "arrival");
	if (stg_seg_dir(stg_writer_root(o->w), &in->camera, in->stream_name, arrival_ns, dir, sizeof(dir)) != NVR_OK ||
	    (s->dir = strdup(dir)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

/* Starts a segment: its header is the first bytes of its first chunk.
 * Buffers are reserved for the header and the packet that opens it, so
 * that the packet cannot then be refused for lack of one. */
static bool
open_seg(struct stg_out *o, size_t len, int64_t arrival_ns, int64_t mono_ms)
{
	uint8_t hdr[STG_SEG_HEADER_LEN];
	struct stg_seg_header h;
	struct stg_chunk *spare[2];
	int nspare;

	if (!reserve(o, STG_SEG_HEADER_LEN + STG_SEG_RECORD_HEADER + len, spare, &nspare))
		return false;
	if ((o->seg = new_seg(o, arrival_ns)) == NULL) {
		while (nspare > 0)
			stg_pool_put(o->w, spare[--nspare]);
		return false;
	}
	h = (struct stg_seg_header){ .segment = o->seg->m.segment, .camera = o->info.camera,
		.stream = o->info.stream, .key = o->info.key, .seq = o->seg->m.seq, .start_ns = arrival_ns };
	stg_seg_header_encode(&h, hdr);
	o->offset = 0;
	o->seg_start_ms = mono_ms;
	stg_queue(o->t, STG_MSG_OPEN, o->seg);
	append(o, hdr, sizeof(hdr), spare, &nspare);
	while (nspare > 0)
		stg_pool_put(o->w, spare[--nspare]);
	return true;
}

static void
close_seg(struct stg_out *o)
{
	if (o->seg == NULL)
		return;
	/* A pool that cannot give a chunk for the padding still gets the
	 * segment closed: its unaligned tail is written without O_DIRECT. */
	if (!pad_and_submit(o, true, true) && o->chunk != NULL)
		submit(o, true, true);
	stg_queue(o->t, STG_MSG_CLOSE, o->seg);
	o->seg = NULL;
}

/* Segments end at a clean point once long enough (or twice as long with
 * none), at any packet without ONVIF, and at the size bound anyway. */
static bool
should_cut(const struct stg_out *o, const struct stg_pkt *pkt, size_t len, int64_t mono_ms)
{
	const struct stg_writer_config *cfg = stg_writer_cfg(o->w);
	int64_t age = mono_ms - o->seg_start_ms;

	if (o->offset + STG_SEG_RECORD_HEADER + len > (uint64_t)cfg->segment_max_bytes)
		return true;
	if (pkt->rtcp)
		return false;
	if (o->onvif)
		return (age >= cfg->segment_duration_ms && pkt->clean) || age >= 2 * cfg->segment_duration_ms;
	return age >= cfg->segment_duration_ms;
}

static void
account(struct stg_seg *s, const struct stg_pkt *pkt, int64_t arrival_ns)
{
	struct stg_manifest *m = &s->m;

	if (pkt->rtcp) {
		m->rtcp_packets++;
		return;
	}
	if (m->packets == 0) {
		m->first_index = pkt->index;
		m->first_rtp_ts = pkt->ts;
		m->ssrc = pkt->ssrc;
		m->clean_start = pkt->clean;
		m->start_ns = pkt->onvif ? pkt->ntp_ns : arrival_ns;
		if (pkt->onvif)
			snprintf(m->time_source, sizeof(m->time_source), "onvif");
	}
	m->packets++;
	m->last_index = pkt->index;
	m->last_rtp_ts = pkt->ts;
	m->end_ns = pkt->onvif ? pkt->ntp_ns : arrival_ns;
}

nvr_err
stg_out_packet(struct stg_out *o, const uint8_t *data, size_t len, const struct stg_pkt *pkt, int64_t arrival_ns,
    int64_t arrival_mono_us)
{
	uint8_t rh[STG_SEG_RECORD_HEADER];
	struct stg_chunk *spare[3];
	int64_t mono_ms = arrival_mono_us / 1000;
	int nspare;

	if (len == 0 || len > STG_SEG_MAX_PAYLOAD)
		return NVR_ERR_INVAL;
	o->onvif |= pkt->onvif;
	if (o->seg != NULL && should_cut(o, pkt, len, mono_ms))
		close_seg(o);
	if (o->seg == NULL) {
		if (!open_seg(o, len, arrival_ns, mono_ms))
			goto dropped;
	}
	if (!reserve(o, STG_SEG_RECORD_HEADER + len, spare, &nspare))
		goto dropped;
	if (o->chunk == NULL) {
		o->chunk = spare[--nspare];
		o->chunk->offset = o->offset;
	}
	if (o->chunk->narrivals < STG_CHUNK_ARRIVALS)
		o->chunk->arrivals[o->chunk->narrivals++] = arrival_mono_us;
	stg_seg_record_header(rh, pkt->rtcp ? STG_REC_RTCP : STG_REC_RTP,
	    (uint8_t)((pkt->clean ? STG_REC_CLEAN : 0) | (pkt->unverified ? STG_REC_UNVERIFIED : 0)), (uint32_t)len,
	    arrival_ns);
	append(o, rh, sizeof(rh), spare, &nspare);
	append(o, data, len, spare, &nspare);
	while (nspare > 0)
		stg_pool_put(o->w, spare[--nspare]);
	o->unsynced = true;
	account(o->seg, pkt, arrival_ns);
	return NVR_OK;
dropped:
	stg_stat_add(&stg_stats.dropped_storage, 1);
	return NVR_ERR_NOSPACE;
}

void
stg_out_refused(struct stg_out *o, uint64_t forged, uint64_t replayed, uint64_t lost, uint64_t malformed)
{
	if (o->seg == NULL)
		return; /* before the first packet: the session's counters keep it */
	o->seg->m.forged += forged;
	o->seg->m.replayed += replayed;
	o->seg->m.lost += lost;
	o->seg->m.malformed += malformed;
}

void
stg_out_late(struct stg_out *o)
{
	if (o->seg != NULL && o->seg->m.lost > 0)
		o->seg->m.lost--;
}

void
stg_out_flush(struct stg_out *o)
{
	if (o->seg != NULL && (o->unsynced || (o->chunk != NULL && o->chunk->len > o->chunk->queued)))
		pad_and_submit(o, true, false);
}

void
stg_out_close(struct stg_out *o)
{
	if (o == NULL)
		return;
	close_seg(o);
	release_chunk(o); /* none after close_seg, unless its queueing failed */
	free(o);
}

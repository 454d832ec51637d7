/*
 * media.c: a camera's streams: from the SDP's keys to sealed keys and
 * auth-only SRTP contexts, then every interleaved packet checked and
 * handed to storage unchanged; a plain-RTP camera's streams protected with
 * a fresh key of ours instead (ingest/protect.h).
 * It must never keep a master key past ing_media_prepare(), never store a
 * packet whose tag failed, and never store plain RTP.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "ingest/camera_priv.h"
#include "ingest/rtp.h"
#include "nvrd/log.h"
#include "storage/manifest.h"
#include "storage/seal.h"
#include "storage/stats.h"

int64_t
ing_now_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
ing_now_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* ---- sealing ------------------------------------------------------------------ */

#define PLAIN_WARNING "plain RTP from the camera: encrypted at ingest; the network link is not protected"

/* The sealed key's and the manifest's key_source (docs/FORMAT.md). */
static const char *
key_source_name(enum ing_sdp_key_source k)
{
	return k == ING_KEY_SDES ? "sdes" : k == ING_KEY_INGEST ? "ingest" : "mikey";
}

/* The sealed-key document (docs/FORMAT.md): the key sealed to every key
 * holder, and what it is for. *out is a new string (free). */
static nvr_err
sealed_doc(struct ing_camera *c, const struct ing_stream *s, const struct ing_sdp_media *m,
    const struct ing_keyholders *kh, char **doc, char **array)
{
	uint8_t secret[48];
	size_t kl = ing_srtp_key_len(m->suite), sl = ing_srtp_salt_len(m->suite);
	json_t *o = json_object(), *arr = json_array(), *sealed;
	char id[NVR_UUID_STRLEN], ts[32];
	nvr_err rc = NVR_OK;

	memcpy(secret, m->key, kl);
	memcpy(secret + kl, m->salt, sl);
	for (size_t i = 0; i < kh->n && rc == NVR_OK; i++) {
		rc = stg_seal(&s->key, &kh->h[i].id, kh->h[i].pub, secret, kl + sl, &sealed);
		if (rc == NVR_OK && json_array_append_new(arr, sealed) != 0)
			rc = NVR_ERR_NOMEM;
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc != NVR_OK || o == NULL || arr == NULL)
		goto out;
	nvr_uuid_format(&s->key, id);
	json_object_set_new(o, "format", json_string("nvr-sealed-key/1"));
	json_object_set_new(o, "key_id", json_string(id));
	nvr_uuid_format(&c->cfg.id, id);
	json_object_set_new(o, "camera_id", json_string(id));
	nvr_uuid_format(&s->id, id);
	json_object_set_new(o, "stream_id", json_string(id));
	json_object_set_new(o, "stream", json_string(s->name));
	json_object_set_new(o, "suite", json_string(ing_srtp_suite_name(m->suite)));
	json_object_set_new(o, "key_source", json_string(key_source_name(m->key_source)));
	json_object_set_new(o, "ssrc", json_integer(m->ssrc));
	json_object_set_new(o, "roc", json_integer(m->roc));
	stg_time_format(ing_now_realtime_ns(), ts);
	json_object_set_new(o, "created", json_string(ts));
	json_object_set(o, "sealed", arr);
	*doc = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	*array = json_dumps(arr, JSON_COMPACT);
	if (*doc == NULL || *array == NULL)
		rc = NVR_ERR_NOMEM;
out:
	json_decref(o);
	json_decref(arr);
	return rc;
}

/* Seals the stream's key, queues the key file and index rows, and makes
 * the auth-only SRTP context. The master key stays in m until the caller
 * wipes the whole SDP. */
static nvr_err
key_stream(struct ing_camera *c, struct ing_stream *s, const struct ing_sdp_media *m, const struct ing_keyholders *kh)
{
	char *doc = NULL, *array = NULL;
	nvr_err rc;

	if ((rc = nvr_uuid_new(&s->key)) != NVR_OK || (rc = sealed_doc(c, s, m, kh, &doc, &array)) != NVR_OK)
		goto out;
	if ((rc = stg_writer_keyfile(c->svc.writer, &s->id, &s->key, doc)) != NVR_OK)
		goto out;
	if (c->svc.index != NULL)
		stg_index_session(c->svc.index, &s->key, &s->id, m->ssrc, ing_srtp_suite_name(m->suite), ing_now_realtime_ns(),
		    array);
	if (m->key_source == ING_KEY_INGEST)
		rc = ing_protect_new(m->suite, m->key, m->salt, &s->protect);
	else
		rc = ing_srtp_new(m->suite, m->key, m->salt, m->roc, m->ssrc, &s->srtp);
out:
	free(doc);
	free(array);
	return rc;
}

static nvr_err
open_stream(struct ing_camera *c, int i, const struct ing_sdp_media *m, const struct ing_keyholders *kh)
{
	struct ing_stream *s = &c->streams[i];
	struct stg_out_info info = { .camera = c->cfg.id, .tag_verified = true };
	nvr_err rc;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", m->name);
	snprintf(s->control, sizeof(s->control), "%s", m->control);
	s->rtp_ch = (uint8_t)(2 * i);
	s->rtcp_ch = (uint8_t)(2 * i + 1);
	s->suite = m->suite;
	s->tag_len = ing_srtp_tag_len(m->suite);
	s->aead = m->suite == ING_SRTP_AEAD_AES128_GCM || m->suite == ING_SRTP_AEAD_AES256_GCM;
	if ((rc = c->svc.stream_id(c->svc.ctx, &c->cfg.id, s->name, m->encoding, m->clock_rate, &s->id)) != NVR_OK ||
	    (rc = key_stream(c, s, m, kh)) != NVR_OK)
		return rc;
	info.stream = s->id;
	info.key = s->key;
	info.tag_verified = !s->aead;
	info.clock_rate = m->clock_rate;
	info.payload_type = m->pt;
	snprintf(info.camera_name, sizeof(info.camera_name), "%s", c->cfg.name);
	snprintf(info.stream_name, sizeof(info.stream_name), "%s", s->name);
	snprintf(info.suite, sizeof(info.suite), "%s", ing_srtp_suite_name(m->suite));
	snprintf(info.key_source, sizeof(info.key_source), "%s", key_source_name(m->key_source));
	snprintf(info.codec, sizeof(info.codec), "%s", m->encoding);
	return stg_out_open(c->svc.writer, &info, &s->out);
}

/* Every stream must be SRTP with a key, or plain RTP from a camera an
 * administrator marked so, which is protected here: plain RTP never
 * reaches storage. */
static nvr_err
check_media(const struct ing_camera *c, const struct ing_sdp *sdp, const char **why)
{
	for (size_t i = 0; i < sdp->n; i++) {
		if (!sdp->m[i].secure && !c->cfg.plain_rtp) {
			*why = "the camera offers plain RTP (RTP/AVP); record it only if it is marked plain (nvrctl camera add --plain-rtp)";
			return NVR_ERR_INVAL;
		}
		if (!sdp->m[i].secure)
			continue;
		if (sdp->m[i].key_source == ING_KEY_NONE) {
			*why = "the camera offers SRTP but its SDP carries no key (no MIKEY, no SDES)";
			return NVR_ERR_INVAL;
		}
	}
	return NVR_OK;
}

/* A plain stream gets a fresh key of ours, which then goes the way a
 * camera's key goes: sealed, handed to the SRTP context, wiped with the SDP.
 * Plain RTP announces no SSRC and starts its rollover counter at 0. */
static nvr_err
plain_key(struct ing_camera *c, struct ing_sdp_media *m)
{
	if (m->secure)
		return NVR_OK;
	m->suite = ING_PROTECT_SUITE;
	m->key_source = ING_KEY_INGEST;
	m->ssrc = 0;
	m->roc = 0;
	if (c->status.warning[0] == '\0') {
		snprintf(c->status.warning, sizeof(c->status.warning), "%s", PLAIN_WARNING);
		nvr_log_ex(NVR_LOG_WARNING, "the camera is marked plain RTP (nvrctl camera add --plain-rtp)",
		    "use RTSPS with SRTP, or an RTSP-over-HTTPS tunnel, if the camera can",
		    "camera %s: %s", c->cfg.name, PLAIN_WARNING);
	}
	return ing_protect_key(m->suite, m->key, m->salt);
}

nvr_err
ing_media_prepare(struct ing_camera *c, const char **why, enum ing_cam_state *st)
{
	struct ing_keyholders *kh;
	nvr_err rc = NVR_OK;

	*st = ING_CAM_STREAM_ERROR;
	if (check_media(c, c->sdp, why) != NVR_OK) {
		ing_sdp_wipe(c->sdp);
		return NVR_ERR_INVAL;
	}
	kh = c->svc.keyholders_get(c->svc.ctx);
	if (kh == NULL || kh->n == 0) {
		*st = ING_CAM_NO_KEY_HOLDER;
		*why = "no key holder is registered, so nothing recorded could ever be viewed; add one with nvrctl keyholder add";
		rc = NVR_ERR_INVAL;
	}
	if (rc == NVR_OK && (c->streams = calloc(c->sdp->n, sizeof(*c->streams))) == NULL) {
		*why = "out of memory";
		rc = NVR_ERR_NOMEM;
	}
	for (size_t i = 0; rc == NVR_OK && i < c->sdp->n; i++) {
		if ((rc = plain_key(c, &c->sdp->m[i])) != NVR_OK) {
			*why = "cannot make a session key to protect plain RTP: the random generator failed";
			break;
		}
		rc = open_stream(c, (int)i, &c->sdp->m[i], kh);
		c->nstreams = (int)i + 1;
		if (rc != NVR_OK)
			*why = "cannot seal the session key or open its storage";
	}
	if (kh != NULL)
		c->svc.keyholders_put(c->svc.ctx, kh);
	/* the master keys are sealed and derived from (or, ours, handed to
	 * libsrtp2): they go now */
	ing_sdp_wipe(c->sdp);
	return rc;
}

/* ---- packets ------------------------------------------------------------------ */

static struct ing_stream *
stream_of(struct ing_camera *c, uint8_t ch)
{
	for (int i = 0; i < c->nstreams; i++) {
		if (c->streams[i].rtp_ch == ch || c->streams[i].rtcp_ch == ch)
			return &c->streams[i];
	}
	return NULL;
}

/* The first forged packet of a session is logged; the rest are counted. */
static void
refused(struct ing_camera *c, struct ing_stream *s, enum ing_srtp_verdict v)
{
	enum ing_warn k = v == ING_SRTP_FORGED ? WARN_FORGED : v == ING_SRTP_REPLAYED ? WARN_REPLAYED : WARN_MALFORMED;
	static const char *const what[] = { "forged or altered (SRTP tag mismatch)", "replayed", "malformed" };

	if (!c->warned[k]) {
		c->warned[k] = 1;
		nvr_log_ex(NVR_LOG_WARNING, "further ones are counted, not logged",
		    v == ING_SRTP_FORGED ? "something between the camera and the recorder alters packets" : NULL,
		    "camera %s: %s packet dropped on stream %s", c->cfg.name, what[k], s->name);
	}
	if (v == ING_SRTP_FORGED) {
		c->status.counters[ING_CNT_FORGED]++;
		stg_stat_add(&stg_stats.forged, 1);
		stg_out_refused(s->out, 1, 0, 0, 0);
	} else if (v == ING_SRTP_REPLAYED) {
		c->status.counters[ING_CNT_REPLAYED]++;
		stg_stat_add(&stg_stats.replayed, 1);
		stg_out_refused(s->out, 0, 1, 0, 0);
	} else {
		stg_stat_add(&stg_stats.malformed, 1);
		stg_out_refused(s->out, 0, 0, 0, 1);
	}
}

/* Arrival times are those of the read that brought the packet: packets of
 * one read arrived together, and the clock is read once per read. */
static void
store(struct ing_camera *c, struct ing_stream *s, const uint8_t *data, size_t len, struct stg_pkt *pkt)
{
	if (stg_out_packet(s->out, data, len, pkt, c->arrival_ns, c->arrival_us) != NVR_OK)
		return; /* counted as dropped by storage */
	c->status.counters[ING_CNT_PACKETS]++;
	c->status.counters[ING_CNT_BYTES] += (int64_t)len;
	*(pkt->rtcp ? &c->pend_rtcp : &c->pend_rtp) += 1;
	c->pend_bytes += len;
}

/* Adds the camera's counts to the recorder-wide statistics: per tick, not
 * per packet, since atomics shared by every worker cost at this rate. */
void
ing_media_stats(struct ing_camera *c)
{
	if (c->pend_rtp + c->pend_rtcp == 0)
		return;
	stg_stat_add(&stg_stats.packets, c->pend_rtp);
	stg_stat_add(&stg_stats.rtcp_packets, c->pend_rtcp);
	stg_stat_add(&stg_stats.bytes, c->pend_bytes);
	c->pend_rtp = c->pend_rtcp = c->pend_bytes = 0;
}

/* Loss is what the packet index skips. A packet that comes after a later
 * one (UDP reorders) was counted lost when the later one opened the gap:
 * it is taken back, from the camera's counters and, if the gap is in it,
 * the current segment's. It is new, not a replay: the replay window let it
 * through. One from before the session's first packet was never counted. */
static void
count_loss(struct ing_camera *c, struct ing_stream *s, uint64_t idx)
{
	if (!s->have_index) {
		s->have_index = true;
		s->first_index = s->last_index = idx;
		return;
	}
	if (idx > s->last_index + 1) {
		uint64_t gap = idx - s->last_index - 1;
		c->status.counters[ING_CNT_LOST] += (int64_t)gap;
		stg_stat_add(&stg_stats.lost, gap);
		stg_out_refused(s->out, 0, 0, gap, 0);
	} else if (idx < s->last_index && idx > s->first_index && c->status.counters[ING_CNT_LOST] > 0) {
		c->status.counters[ING_CNT_LOST]--;
		stg_stat_sub(&stg_stats.lost, 1);
		stg_out_late(s->out);
	}
	if (idx > s->last_index)
		s->last_index = idx;
}

/* A camera's SRTP is checked; a plain camera's RTP is protected, and is
 * then what the camera would have sent had it done SRTP itself. */
static void
rtp_frame(struct ing_camera *c, struct ing_stream *s, const uint8_t *data, size_t len)
{
	struct stg_pkt pkt = { 0 };
	struct ing_rtp r;
	uint64_t idx = 0;
	enum ing_srtp_verdict v = s->protect != NULL ? ing_protect_rtp(s->protect, data, len, &data, &len, &idx)
						     : ing_srtp_check_rtp(s->srtp, data, len, &idx);

	if (v != ING_SRTP_OK && v != ING_SRTP_UNVERIFIED) {
		refused(c, s, v);
		return;
	}
	/* authentic: the clear header (and its ONVIF extension) can be trusted */
	if (ing_rtp_parse(data, len - s->tag_len, &r) == NVR_OK) {
		pkt.onvif = r.onvif;
		pkt.clean = r.clean_point && !(s->prev_clean && s->prev_ts == r.ts);
		pkt.ntp_ns = r.onvif ? ing_rtp_ntp_to_unix_ns(r.onvif_ntp) : 0;
		pkt.ts = r.ts;
		pkt.ssrc = r.ssrc;
		s->prev_clean = r.clean_point;
		s->prev_ts = r.ts;
	}
	count_loss(c, s, idx);
	pkt.index = idx;
	pkt.unverified = v == ING_SRTP_UNVERIFIED;
	store(c, s, data, len, &pkt);
}

void
ing_media_frame(struct ing_camera *c, uint8_t channel, const uint8_t *data, size_t len, int64_t now_ms)
{
	struct ing_stream *s = stream_of(c, channel);
	struct stg_pkt pkt = { .rtcp = true };
	enum ing_srtp_verdict v;

	if (s == NULL || (s->srtp == NULL && s->protect == NULL) || s->out == NULL)
		return; /* a channel we did not set up: not ours to keep */
	c->last_data_ms = now_ms;
	if (channel == s->rtp_ch) {
		rtp_frame(c, s, data, len);
		return;
	}
	v = s->protect != NULL ? ing_protect_rtcp(s->protect, data, len, &data, &len)
			       : ing_srtp_check_rtcp(s->srtp, data, len);
	if (v != ING_SRTP_OK && v != ING_SRTP_UNVERIFIED) {
		refused(c, s, v);
		return;
	}
	pkt.unverified = v == ING_SRTP_UNVERIFIED;
	store(c, s, data, len, &pkt);
}

void
ing_media_flush(struct ing_camera *c)
{
	for (int i = 0; i < c->nstreams; i++) {
		if (c->streams[i].out != NULL)
			stg_out_flush(c->streams[i].out);
	}
}

void
ing_media_close(struct ing_camera *c)
{
	for (int i = 0; i < c->nstreams; i++) {
		struct ing_stream *s = &c->streams[i];
		if (s->out != NULL) {
			stg_out_close(s->out);
			if (c->svc.index != NULL)
				stg_index_session_end(c->svc.index, &s->key, ing_now_realtime_ns());
		}
		ing_srtp_free(s->srtp);
		ing_protect_free(s->protect);
	}
	free(c->streams);
	c->streams = NULL;
	c->nstreams = 0;
	c->status.warning[0] = '\0'; /* published with the state that follows */
	memset(c->warned, 0, sizeof(c->warned));
}

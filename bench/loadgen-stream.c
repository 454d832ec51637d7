/*
 * loadgen-stream.c: nvr-loadgen's groups, each one live SRTP stream made
 * from the capture: pacing, rewriting, protection, fan-out, RTCP sender
 * reports, and the SDP with its MIKEY key.
 *
 * The capture loops forever, yet a recorder must see one continuous camera:
 * sequence numbers go on from pass to pass (mod 2^16, so libsrtp's rollover
 * counter advances as on a real camera), RTP times go on by one pass length
 * per pass, and the ONVIF extension carries the wall-clock time of each
 * frame. A packet is rewritten and protected once, then copied to every
 * playing session of its group; a group nobody plays sends nothing and
 * keeps its sequence numbers for the next client.
 *
 * Each group runs on its own camera clock (loadgen.h): every time below is
 * camera time except the monotonic `now` the loop passes in and the wake-up
 * time handed back, so --speed changes only how soon packets leave.
 *
 * The SDP and MIKEY message are built with libgstsdp, as gst-rtsp-server
 * builds them (rtsp-sdp.c), so that a client cannot tell the two apart.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gst/gst.h>
#include <gst/sdp/gstmikey.h>
#include <gst/sdp/gstsdpmessage.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bench/common.h"
#include "bench/loadgen.h"
#include "nvrd/log.h"
#include "nvrd/util.h"

#define NS 1000000000LL
#define LG_MAX_ATTR 2048
#define LG_MAX_LAG_NS (2 * NS) /* further behind than this, skip ahead */
#define NTP_UNIX_OFFSET 2208988800ULL /* RFC 5905: 1900 to 1970 in seconds */

/* ---- the capture's media description ----------------------------------- */

static char *
copy_attr(const GstSDPMedia *m, const char *name)
{
	const gchar *v = gst_sdp_media_get_attribute_val(m, name);

	if (v == NULL || strlen(v) > LG_MAX_ATTR)
		return NULL;
	return strdup(v);
}

/* "96 H264/90000" gives the payload type's clock rate. */
static nvr_err
parse_sdp(struct lg_media *md, const char *text)
{
	nvr_err rc = NVR_ERR_INVAL;
	GstSDPMessage *sdp = NULL;
	const GstSDPMedia *m = NULL;
	const char *slash;
	char *end;
	unsigned long rate;

	gst_sdp_message_new(&sdp);
	gst_sdp_message_parse_buffer((const guint8 *)text, (guint)strlen(text), sdp);
	for (guint i = 0; i < gst_sdp_message_medias_len(sdp) && m == NULL; i++) {
		if (g_strcmp0(gst_sdp_media_get_media(gst_sdp_message_get_media(sdp, i)), "video") == 0)
			m = gst_sdp_message_get_media(sdp, i);
	}
	if (m == NULL || (md->rtpmap = copy_attr(m, "rtpmap")) == NULL)
		goto out;
	md->fmtp = copy_attr(m, "fmtp");
	md->framerate = copy_attr(m, "framerate");
	md->pt = (unsigned)strtoul(md->rtpmap, NULL, 10);
	slash = strchr(md->rtpmap, '/');
	if (slash == NULL)
		goto out;
	rate = strtoul(slash + 1, &end, 10);
	if (end == slash + 1 || (*end != '\0' && *end != '/') || rate < 1000 || rate > 1000000)
		goto out;
	md->clock_rate = (unsigned)rate;
	for (guint i = 0; i < gst_sdp_media_bandwidths_len(m); i++) {
		const GstSDPBandwidth *b = gst_sdp_media_get_bandwidth(m, i);
		if (g_strcmp0(b->bwtype, "AS") == 0)
			md->bandwidth_kbps = b->bandwidth;
	}
	rc = NVR_OK;
out:
	gst_sdp_message_free(sdp);
	return rc;
}

/* One pass lasts from the first packet to one frame after the last, in
 * RTP time, or as long as the capture took if that is longer. */
static void
plan_loop(struct lg_media *md)
{
	const struct bench_cap *cap = md->cap;
	uint32_t span = 0;
	size_t frames = 1;
	int64_t ts_ns, loop_ns;

	for (size_t i = 1; i < cap->n_packets; i++) {
		if (cap->packets[i].rel_ts != cap->packets[i - 1].rel_ts)
			frames++;
		if ((int32_t)cap->packets[i].rel_ts > (int32_t)span)
			span = cap->packets[i].rel_ts;
	}
	span += frames > 1 ? span / (uint32_t)(frames - 1) : md->clock_rate / 25;
	ts_ns = (int64_t)span * NS / md->clock_rate;
	loop_ns = (int64_t)cap->packets[cap->n_packets - 1].t_ns + NS / 1000;
	if (loop_ns < ts_ns)
		loop_ns = ts_ns;
	md->loop_ns = (int64_t)((double)loop_ns / md->scale);
	md->loop_ts = (uint32_t)(md->loop_ns * md->clock_rate / NS);
	md->frame_ms = (unsigned)((double)ts_ns / (double)frames / md->scale / 1e6);
	for (size_t i = 0; i < cap->n_packets; i++) {
		md->t_ns[i] = (int64_t)((double)cap->packets[i].t_ns / md->scale);
		md->rel_ts[i] = (uint32_t)((double)cap->packets[i].rel_ts / md->scale);
	}
}

nvr_err
lg_media_init(struct lg_server *s, struct bench_cap *cap, double scale)
{
	struct lg_media *md = &s->media;

	md->cap = cap;
	md->scale = scale;
	if (parse_sdp(md, cap->sdp) != NVR_OK) {
		nvr_log_ex(NVR_LOG_ERROR, "no video media with an rtpmap and a clock rate",
		    "capture from a camera that sends H.264 video", "the capture's SDP is not usable");
		return NVR_ERR_INVAL;
	}
	md->t_ns = calloc(cap->n_packets, sizeof(*md->t_ns));
	md->rel_ts = calloc(cap->n_packets, sizeof(*md->rel_ts));
	if (md->t_ns == NULL || md->rel_ts == NULL)
		return NVR_ERR_NOMEM;
	plan_loop(md);
	return NVR_OK;
}

void
lg_media_clear(struct lg_media *md)
{
	free(md->rtpmap);
	free(md->fmtp);
	free(md->framerate);
	free(md->t_ns);
	free(md->rel_ts);
	bench_cap_free(md->cap);
	memset(md, 0, sizeof(*md));
}

/* ---- groups ------------------------------------------------------------ */

/* RFC 3711 default suite, AES_CM_128_HMAC_SHA1_80 for SRTP and SRTCP:
 * what gst-rtsp-server offers by default. */
static nvr_err
group_init(struct lg_group *g, unsigned index)
{
	srtp_policy_t pol;
	uint8_t rnd[8];
	srtp_err_status_t e;

	g->index = index;
	if (RAND_bytes(g->key, sizeof(g->key)) != 1 || RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NVR_ERR_CRYPTO;
	g->ssrc = bench_get_be32(rnd);
	g->seq = (uint16_t)(rnd[4] << 8 | rnd[5]);
	g->ts_base = (uint32_t)rnd[6] << 24 | (uint32_t)rnd[7] << 8;
	memset(&pol, 0, sizeof(pol));
	srtp_crypto_policy_set_rtp_default(&pol.rtp);
	srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
	pol.ssrc.type = ssrc_specific;
	pol.ssrc.value = g->ssrc;
	pol.key = g->key;
	pol.window_size = 128;
	if ((e = srtp_create(&g->srtp, &pol)) != srtp_err_status_ok) {
		nvr_log(NVR_LOG_ERROR, "libsrtp cannot make a session: error %d", (int)e);
		return NVR_ERR_CRYPTO;
	}
	return NVR_OK;
}

/* First packet at or after t within a pass. */
static size_t
packet_at(const struct lg_media *md, int64_t t)
{
	size_t lo = 0, hi = md->cap->n_packets;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (md->t_ns[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < md->cap->n_packets ? lo : 0;
}

/* The camera clock starts at the monotonic time now, where the capture
 * position g->next (still in loop 0) is due. Reports start at spread
 * times, so that the groups' reports do not all fall on the same instant. */
static void
group_start_clock(struct lg_server *s, struct lg_group *g, int64_t now)
{
	g->clock0_ns = now;
	g->start_ns = now - (g->next > 0 ? s->media.t_ns[g->next] : 0);
	g->next_sr_ns = now + NS + LG_SR_INTERVAL_NS / (int64_t)s->n_groups * (int64_t)g->index;
}

/* Groups start at evenly spread points of the capture, so that key frames
 * of different groups do not all fall on the same instant. With --duration
 * a clock waits for its group's first PLAY: camera time nobody records
 * would be missing from the D seconds. */
nvr_err
lg_groups_init(struct lg_server *s)
{
	const struct lg_media *md = &s->media;
	int64_t now = bench_mono_ns();
	nvr_err rc;

	s->groups = calloc(s->n_groups, sizeof(*s->groups));
	s->cams = calloc(s->o->cameras, sizeof(*s->cams));
	if (s->groups == NULL || s->cams == NULL)
		return NVR_ERR_NOMEM;
	for (unsigned i = 0; i < s->n_groups; i++) {
		struct lg_group *g = &s->groups[i];
		int64_t phase = md->loop_ns / (int64_t)s->n_groups * (int64_t)i;

		if ((rc = group_init(g, i)) != NVR_OK)
			return rc;
		g->next = packet_at(md, phase);
		if (s->o->duration_s == 0)
			group_start_clock(s, g, now);
	}
	for (unsigned i = 0; i < s->o->cameras; i++) {
		s->cams[i].index = i + 1;
		s->cams[i].group = &s->groups[i % s->n_groups];
	}
	return NVR_OK;
}

void
lg_groups_free(struct lg_server *s)
{
	for (unsigned i = 0; s->groups != NULL && i < s->n_groups; i++) {
		struct lg_group *g = &s->groups[i];

		if (g->srtp != NULL)
			srtp_dealloc(g->srtp);
		OPENSSL_cleanse(g->key, sizeof(g->key));
		free(g->members);
	}
	NVR_FREE(s->groups);
	NVR_FREE(s->cams);
}

nvr_err
lg_group_join(struct lg_group *g, struct lg_conn *c)
{
	if (g->finished)
		return NVR_ERR_INVAL;
	if (g->clock0_ns == 0) {
		group_start_clock(c->srv, g, bench_mono_ns());
		lg_loop_wake(c->srv); /* else the first packets wait for a sweep */
	}
	if (g->n_members == g->cap_members) {
		size_t cap = g->cap_members ? 2 * g->cap_members : 16;
		struct lg_conn **m = realloc(g->members, cap * sizeof(struct lg_conn *));

		if (m == NULL)
			return NVR_ERR_NOMEM;
		g->members = m;
		g->cap_members = cap;
	}
	c->member_idx = g->n_members;
	g->members[g->n_members++] = c;
	c->playing = true;
	return NVR_OK;
}

/* Swaps the last member into c's place: the order of members is free. */
void
lg_group_leave(struct lg_group *g, struct lg_conn *c)
{
	struct lg_conn *last = g->members[--g->n_members];

	g->members[c->member_idx] = last;
	last->member_idx = c->member_idx;
	c->playing = false;
}

static uint32_t
packet_ts(const struct lg_media *md, const struct lg_group *g, size_t i)
{
	return g->ts_base + (uint32_t)(g->loop * md->loop_ts) + md->rel_ts[i];
}

void
lg_group_position(const struct lg_server *s, const struct lg_group *g, uint16_t *seq,
    uint32_t *rtptime)
{
	*seq = g->seq;
	*rtptime = packet_ts(&s->media, g, g->next);
}

/* ---- sending ----------------------------------------------------------- */

/* The camera clock at the monotonic time now, and back. */
static int64_t
camera_now(const struct lg_server *s, const struct lg_group *g, int64_t now)
{
	return g->clock0_ns + (int64_t)((double)(now - g->clock0_ns) * s->o->speed);
}

/* Rounded up: a wake-up a nanosecond early would find nothing due. */
static int64_t
wall_of(const struct lg_server *s, const struct lg_group *g, int64_t camera_ns)
{
	return g->clock0_ns + (int64_t)((double)(camera_ns - g->clock0_ns) / s->o->speed) + 1;
}

/* 64-bit NTP time (RFC 5905 6) of a camera time. */
static uint64_t
ntp_of(const struct lg_server *s, int64_t camera_ns)
{
	int64_t unix_ns = camera_ns - s->ntp_shift_ns + s->realtime_offset_ns;
	uint64_t sec = (uint64_t)(unix_ns / NS) + NTP_UNIX_OFFSET;
	uint64_t frac = ((uint64_t)(unix_ns % NS) << 32) / NS;

	return sec << 32 | frac;
}

/* Copies one protected frame to every playing session of g. Sessions are
 * walked from the end, so a session that closes meanwhile cannot make us
 * skip another. */
static void
fan_out(struct lg_group *g, const uint8_t *pkt, size_t len, bool rtcp)
{
	for (size_t i = g->n_members; i-- > 0;) {
		struct lg_conn *c = g->members[i];
		struct lg_counters *cc = &c->c, *cam = &c->cam->c;

		if (lg_conn_queue_frame(c, (uint8_t)(c->channel + rtcp), pkt, len)) {
			cc->packets_sent++;
			cam->packets_sent++;
			cc->bytes_sent += len + 4;
			cam->bytes_sent += len + 4;
		} else {
			cc->packets_dropped++;
			cam->packets_dropped++;
			cc->bytes_dropped += len + 4;
			cam->bytes_dropped += len + 4;
		}
	}
}

/* Rewrites packet i for g (sequence number, RTP time, SSRC, ONVIF NTP
 * time of the frame, keeping the captured flags), protects it and sends
 * it. The ONVIF time follows the RTP time, so every packet of a frame
 * carries the same one. */
static void
send_packet(struct lg_server *s, struct lg_group *g, size_t i)
{
	const struct lg_media *md = &s->media;
	const struct bench_cap_packet *pk = &md->cap->packets[i];
	uint8_t *buf = s->scratch;
	int len = (int)pk->len;
	srtp_err_status_t e;

	memcpy(buf, pk->data, pk->len);
	bench_put_be16(buf + 2, g->seq);
	bench_put_be32(buf + 4, packet_ts(md, g, i));
	bench_put_be32(buf + 8, g->ssrc);
	if (pk->onvif_off >= 0) {
		int64_t frame_ns = g->start_ns + (int64_t)g->loop * md->loop_ns +
		    (int64_t)md->rel_ts[i] * NS / md->clock_rate;
		uint64_t ntp = ntp_of(s, frame_ns);

		bench_put_be32(buf + pk->onvif_off, (uint32_t)(ntp >> 32));
		bench_put_be32(buf + pk->onvif_off + 4, (uint32_t)ntp);
	}
	if ((e = srtp_protect(g->srtp, buf, &len)) != srtp_err_status_ok) {
		nvr_log(NVR_LOG_WARNING, "group %u: libsrtp cannot protect a packet: error %d",
		    g->index, (int)e);
		return;
	}
	g->seq++;
	g->packets++;
	g->octets += pk->len - pk->hdr_len;
	fan_out(g, buf, (size_t)len, false);
}

/* RFC 3550 6.4.1 sender report and 6.5 SDES CNAME, with a 6.6 BYE when
 * the group ends, one compound packet protected by SRTCP (RFC 3711 3.4).
 * The NTP and RTP times are the same instant t of camera time, as the
 * packets' ONVIF and RTP times are. */
static void
send_sr(struct lg_server *s, struct lg_group *g, int64_t t, bool bye)
{
	uint8_t pkt[128 + SRTP_MAX_TRAILER_LEN + 4];
	char cname[48];
	int64_t d = t - g->start_ns;
	uint32_t ts = g->ts_base + (uint32_t)((uint64_t)(d / NS) * s->media.clock_rate +
	    (uint64_t)(d % NS) * s->media.clock_rate / NS);
	uint64_t ntp = ntp_of(s, t);
	size_t n = 28, clen, sdes;
	int len;

	clen = (size_t)snprintf(cname, sizeof(cname), "nvr-loadgen-%u@localhost", g->index);
	pkt[0] = 0x80;
	pkt[1] = 200;
	bench_put_be16(pkt + 2, 6);
	bench_put_be32(pkt + 4, g->ssrc);
	bench_put_be32(pkt + 8, (uint32_t)(ntp >> 32));
	bench_put_be32(pkt + 12, (uint32_t)ntp);
	bench_put_be32(pkt + 16, ts);
	bench_put_be32(pkt + 20, (uint32_t)g->packets);
	bench_put_be32(pkt + 24, (uint32_t)g->octets);
	sdes = (4 + 4 + 2 + clen + 1 + 3) / 4 * 4; /* header, SSRC, item, end, pad */
	memset(pkt + n, 0, sdes);
	pkt[n] = 0x81;
	pkt[n + 1] = 202;
	bench_put_be16(pkt + n + 2, (uint16_t)(sdes / 4 - 1));
	bench_put_be32(pkt + n + 4, g->ssrc);
	pkt[n + 8] = 1; /* CNAME */
	pkt[n + 9] = (uint8_t)clen;
	memcpy(pkt + n + 10, cname, clen);
	n += sdes;
	if (bye) {
		pkt[n] = 0x81;
		pkt[n + 1] = 203;
		bench_put_be16(pkt + n + 2, 1);
		bench_put_be32(pkt + n + 4, g->ssrc);
		n += 8;
	}
	len = (int)n;
	if (srtp_protect_rtcp(g->srtp, pkt, &len) != srtp_err_status_ok)
		return;
	fan_out(g, pkt, (size_t)len, true);
}

/* --duration ends at a frame's first packet, so that no frame is cut. */
static bool
frame_starts(const struct lg_media *md, size_t i)
{
	return i == 0 || md->rel_ts[i] != md->rel_ts[i - 1];
}

/* --duration is over at camera time t: a last report with a BYE (RFC 3550
 * 6.6), then each session closes once its queue is written, as a camera
 * that stops streaming would. Members are walked from the end: a close
 * swaps the last member into the closed one's place. */
static void
group_finish(struct lg_server *s, struct lg_group *g, int64_t t)
{
	nvr_log(NVR_LOG_NOTICE, "group %u: %lu s of camera time sent; ending %zu session%s", g->index,
	    s->o->duration_s, g->n_members, g->n_members == 1 ? "" : "s");
	if (g->n_members > 0)
		send_sr(s, g, t, true);
	g->finished = true;
	for (size_t i = g->n_members; i-- > 0;) {
		struct lg_conn *c = g->members[i];

		c->closing = true;
		lg_conn_flush(c);
	}
}

/* Sends g's packets that are due by now; returns the monotonic time of
 * its next packet or report. A loop that fell far behind (the machine
 * stalled) skips ahead instead of sending a burst. */
static int64_t
group_run(struct lg_server *s, struct lg_group *g, int64_t now)
{
	const struct lg_media *md = &s->media;
	int64_t due, t, end;

	if (g->clock0_ns == 0 || g->finished)
		return now + NS;
	t = camera_now(s, g, now);
	end = g->clock0_ns + (int64_t)s->o->duration_s * NS;
	for (;;) {
		due = g->start_ns + (int64_t)g->loop * md->loop_ns + md->t_ns[g->next];
		if (due > t)
			break;
		if ((double)(t - due) > (double)LG_MAX_LAG_NS * s->o->speed) {
			nvr_log(NVR_LOG_WARNING, "group %u: %lld ms of camera time behind; skipping ahead",
			    g->index, (long long)((t - due) / 1000000));
			g->start_ns += t - due;
			continue;
		}
		if (s->o->duration_s > 0 && due >= end && frame_starts(md, g->next)) {
			group_finish(s, g, t);
			return now + NS;
		}
		if (g->n_members > 0)
			send_packet(s, g, g->next);
		if (++g->next == md->cap->n_packets) {
			g->next = 0;
			g->loop++;
		}
	}
	if (t >= g->next_sr_ns) {
		if (g->n_members > 0)
			send_sr(s, g, t, false);
		g->next_sr_ns = t + LG_SR_INTERVAL_NS;
	}
	for (size_t i = g->n_members; i-- > 0;) {
		struct lg_conn *c = g->members[i];
		if (!c->want_out && c->out_len > 0)
			lg_conn_flush(c);
	}
	return wall_of(s, g, due < g->next_sr_ns ? due : g->next_sr_ns);
}

int64_t
lg_groups_run(struct lg_server *s, int64_t now)
{
	int64_t next = now + NS;

	for (unsigned i = 0; i < s->n_groups; i++) {
		int64_t t = group_run(s, &s->groups[i], now);
		if (t < next)
			next = t;
	}
	return next;
}

/* ---- SDP and MIKEY ----------------------------------------------------- */

/* Overwrites a buffer's memory before it is released. */
static void
wipe_buffer(GstBuffer *buf)
{
	GstMapInfo map;

	if (gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
		OPENSSL_cleanse(map.data, map.size);
		gst_buffer_unmap(buf, &map);
	}
}

/* The message's own copy of the key and salt (its KEMAC payload). */
static void
wipe_mikey(const GstMIKEYMessage *msg)
{
	const GstMIKEYPayload *kemac = gst_mikey_message_find_payload(msg, GST_MIKEY_PT_KEMAC, 0);
	const GstMIKEYPayloadKeyData *kd;

	if (kemac == NULL || gst_mikey_payload_kemac_get_n_sub(kemac) == 0)
		return;
	kd = (const GstMIKEYPayloadKeyData *)gst_mikey_payload_kemac_get_sub(kemac, 0);
	if (kd->key_data != NULL)
		OPENSSL_cleanse(kd->key_data, kd->key_len);
	if (kd->salt_data != NULL)
		OPENSSL_cleanse(kd->salt_data, kd->salt_len);
}

/* The SDP's own copy of the MIKEY message. */
static void
wipe_key_mgmt(const GstSDPMessage *sdp)
{
	for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
		const GstSDPMedia *m = gst_sdp_message_get_media(sdp, i);

		for (guint j = 0; j < gst_sdp_media_attributes_len(m); j++) {
			const GstSDPAttribute *a = gst_sdp_media_get_attribute(m, j);
			if (g_strcmp0(a->key, "key-mgmt") == 0 && a->value != NULL)
				OPENSSL_cleanse(a->value, strlen(a->value));
		}
	}
}

/* RFC 3830 MIKEY in the form gst-rtsp-server sends (rtsp-sdp.c): made from
 * the caps of its SRTP encoder, plus one crypto session for our SSRC with
 * the rollover counter libsrtp is at, so a client that joins late can
 * decrypt (RFC 4567 key-mgmt attribute). */
static gchar *
mikey_base64(const struct lg_group *g)
{
	GstBuffer *key = gst_buffer_new_memdup(g->key, sizeof(g->key));
	GstCaps *caps = gst_caps_new_simple("application/x-srtp",
	    "srtp-key", GST_TYPE_BUFFER, key,
	    "srtp-cipher", G_TYPE_STRING, "aes-128-icm", "srtp-auth", G_TYPE_STRING, "hmac-sha1-80",
	    "srtcp-cipher", G_TYPE_STRING, "aes-128-icm", "srtcp-auth", G_TYPE_STRING, "hmac-sha1-80",
	    NULL);
	GstMIKEYMessage *msg = gst_mikey_message_new_from_caps(caps);
	gchar *b64 = NULL;
	uint32_t roc = 0;

	if (msg == NULL)
		goto out;
	if (srtp_get_stream_roc(g->srtp, g->ssrc, &roc) != srtp_err_status_ok)
		roc = 0; /* nothing protected yet */
	if (gst_mikey_message_add_cs_srtp(msg, 0, g->ssrc, roc))
		b64 = gst_mikey_message_base64_encode(msg);
	wipe_mikey(msg);
	gst_mikey_message_unref(msg);
out:
	gst_caps_unref(caps);
	wipe_buffer(key);
	gst_buffer_unref(key);
	return b64;
}

static void
add_media_attrs(GstSDPMedia *m, const struct lg_media *md, const struct lg_group *g,
    const gchar *mikey)
{
	gchar *v;

	gst_sdp_media_add_attribute(m, "rtpmap", md->rtpmap);
	if (md->framerate != NULL && md->scale == 1.0)
		gst_sdp_media_add_attribute(m, "framerate", md->framerate);
	if (md->fmtp != NULL)
		gst_sdp_media_add_attribute(m, "fmtp", md->fmtp);
	gst_sdp_media_add_attribute(m, "control", "stream=0");
	v = g_strdup_printf("mikey %s", mikey);
	gst_sdp_media_add_attribute(m, "key-mgmt", v);
	OPENSSL_cleanse(v, strlen(v));
	g_free(v);
	gst_sdp_media_add_attribute(m, "ts-refclk", "local");
	gst_sdp_media_add_attribute(m, "mediaclk", "sender");
	v = g_strdup_printf("%u cname:nvr-loadgen-%u@localhost", g->ssrc, g->index);
	gst_sdp_media_add_attribute(m, "ssrc", v);
	g_free(v);
}

static void
add_media(GstSDPMessage *sdp, const struct lg_media *md, const struct lg_group *g,
    const gchar *mikey, bool ipv6)
{
	GstSDPMedia *m = NULL;
	gchar *v;

	gst_sdp_media_new(&m);
	gst_sdp_media_set_media(m, "video");
	gst_sdp_media_set_port_info(m, 0, 1);
	gst_sdp_media_set_proto(m, "RTP/SAVP");
	v = g_strdup_printf("%u", md->pt);
	gst_sdp_media_add_format(m, v);
	g_free(v);
	gst_sdp_media_add_connection(m, "IN", ipv6 ? "IP6" : "IP4", ipv6 ? "::" : "0.0.0.0", 16, 1);
	if (md->bandwidth_kbps > 0)
		gst_sdp_media_add_bandwidth(m, "AS", (guint)(md->bandwidth_kbps * md->scale));
	add_media_attrs(m, md, g, mikey);
	gst_sdp_message_add_media(sdp, m);
	gst_sdp_media_free(m);
}

gchar *
lg_sdp_make(struct lg_server *s, struct lg_group *g, const char *local_ip, bool ipv6)
{
	GstSDPMessage *sdp = NULL;
	gchar *mikey = mikey_base64(g), *text = NULL, *sess_id;
	uint8_t rnd[8];

	if (mikey == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1) {
		nvr_log(NVR_LOG_ERROR, "group %u: cannot make the MIKEY message", g->index);
		goto out;
	}
	sess_id = g_strdup_printf("%" G_GUINT64_FORMAT,
	    (guint64)bench_get_be32(rnd) << 31 | bench_get_be32(rnd + 4));
	gst_sdp_message_new(&sdp);
	gst_sdp_message_set_version(sdp, "0");
	gst_sdp_message_set_origin(sdp, "-", sess_id, "1", "IN", ipv6 ? "IP6" : "IP4", local_ip);
	g_free(sess_id);
	gst_sdp_message_set_session_name(sdp, "Session streamed by nvr-loadgen");
	gst_sdp_message_set_information(sdp, "rtsp-server");
	gst_sdp_message_add_time(sdp, "0", "0", NULL);
	gst_sdp_message_add_attribute(sdp, "tool", "nvr-loadgen");
	gst_sdp_message_add_attribute(sdp, "type", "broadcast");
	gst_sdp_message_add_attribute(sdp, "control", "*");
	gst_sdp_message_add_attribute(sdp, "range", "npt=now-");
	add_media(sdp, &s->media, g, mikey, ipv6);
	text = gst_sdp_message_as_text(sdp);
	wipe_key_mgmt(sdp);
	gst_sdp_message_free(sdp);
out:
	if (mikey != NULL)
		OPENSSL_cleanse(mikey, strlen(mikey));
	g_free(mikey);
	return text;
}

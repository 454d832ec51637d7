/*
 * clip.c: clear RTP into an MP4 file with GStreamer (storage/clip.h).
 *
 * Everything downstream of appsrc runs in appsrc's streaming thread; the
 * caller's thread only queues buffers. It must never block forever: a
 * push waits for room only while the bus has no error, and the end of the
 * stream is awaited with a bound.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>

#include "storage/clip.h"

/* How long the muxer may take to finish the file after the last packet. */
#define CLIP_FINISH_TIMEOUT (300 * GST_SECOND)
/* How often a push waiting for room looks at the bus for an error. */
#define CLIP_POLL (2 * GST_MSECOND)

struct stg_clip {
	GstElement *pipe;
	GstAppSrc *src; /* owned reference */
	GstBus *bus;    /* owned reference */
};

/* The elements after appsrc, by the manifests' codec name (the SDP's
 * encoding name). ISO MP4 has no Motion JPEG: QuickTime's muxer, the same
 * file structure, takes it (a .mov whatever the name). */
static const struct {
	const char *codec, *chain;
} chains[] = {
	{ "H264", "rtph264depay ! h264parse ! mp4mux" },
	{ "H265", "rtph265depay ! h265parse ! mp4mux" },
	{ "JPEG", "rtpjpegdepay ! jpegparse ! qtmux" },
};

static const char *
chain_of(const char *codec)
{
	for (size_t i = 0; i < sizeof(chains) / sizeof(chains[0]); i++) {
		if (g_ascii_strcasecmp(codec, chains[i].codec) == 0)
			return chains[i].chain;
	}
	return NULL;
}

bool
stg_clip_codec_ok(const char *codec)
{
	return chain_of(codec) != NULL;
}

/* Copies the text of an error message into why and unrefs it. */
static void
take_error(GstMessage *msg, const char *what, char *why, size_t whysize)
{
	GError *err = NULL;
	gchar *dbg = NULL;

	gst_message_parse_error(msg, &err, &dbg);
	snprintf(why, whysize, "%s: %s (%s: %s)", what, err != NULL ? err->message : "?",
	    GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), dbg != NULL ? dbg : "no detail");
	g_clear_error(&err);
	g_free(dbg);
	gst_message_unref(msg);
}

/* The date, title and comment tags on the muxer, which writes them into
 * the file's metadata (udta). */
static void
set_tags(GstElement *mux, const struct stg_clip_info *info)
{
	GstDateTime *dt = gst_date_time_new_from_unix_epoch_utc_usecs(info->start_ns / 1000);
	GDate *day = g_date_new_dmy((GDateDay)gst_date_time_get_day(dt), (GDateMonth)gst_date_time_get_month(dt),
	    (GDateYear)gst_date_time_get_year(dt));

	/* mp4mux writes the day (GST_TAG_DATE, as ©day) but not the time of
	 * day: the caller puts the exact start in the comment too. */
	gst_tag_setter_add_tags(GST_TAG_SETTER(mux), GST_TAG_MERGE_REPLACE, GST_TAG_DATE_TIME, dt, GST_TAG_DATE, day,
	    GST_TAG_TITLE, info->title, GST_TAG_COMMENT, info->comment, GST_TAG_ENCODER, "nvrctl decrypt", NULL);
	g_date_free(day);
	gst_date_time_unref(dt);
}

/* appsrc's caps, timing and queue bound. block=false: a blocked push
 * would wait forever for a pipeline that has failed; stg_clip_push waits
 * itself, watching the bus. */
static void
set_source(GstAppSrc *src, const struct stg_clip_info *info)
{
	GstCaps *caps = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "video", "clock-rate",
	    G_TYPE_INT, info->clock_rate, "encoding-name", G_TYPE_STRING, info->codec, "payload", G_TYPE_INT,
	    info->payload_type, NULL);

	g_object_set(src, "caps", caps, "format", GST_FORMAT_TIME, "is-live", FALSE, "block", FALSE, "max-bytes",
	    (guint64)STG_CLIP_QUEUE_BYTES, NULL);
	gst_caps_unref(caps);
}

nvr_err
stg_clip_open(const char *path, const struct stg_clip_info *info, struct stg_clip **out, char *why, size_t whysize)
{
	const char *chain = chain_of(info->codec);
	struct stg_clip *c = g_new0(struct stg_clip, 1);
	GstElement *mux = NULL, *sink = NULL;
	GError *err = NULL;
	gchar *desc;
	nvr_err rc = NVR_ERR_INVAL;

	if (chain == NULL) {
		snprintf(why, whysize, "no MP4 for codec %s (H264, H265 and JPEG are supported)", info->codec);
		goto out;
	}
	/* The names in desc are ours (the table above), never the manifest's. */
	desc = g_strdup_printf("appsrc name=src ! %s name=mux ! filesink name=sink", chain);
	c->pipe = gst_parse_launch(desc, &err);
	g_free(desc);
	if (c->pipe == NULL || err != NULL) {
		snprintf(why, whysize, "cannot make the GStreamer pipeline: %s (are gst-plugins-good and -bad installed?)",
		    err != NULL ? err->message : "?");
		goto out;
	}
	c->src = GST_APP_SRC(gst_bin_get_by_name(GST_BIN(c->pipe), "src"));
	mux = gst_bin_get_by_name(GST_BIN(c->pipe), "mux");
	sink = gst_bin_get_by_name(GST_BIN(c->pipe), "sink");
	c->bus = gst_element_get_bus(c->pipe);
	set_source(c->src, info);
	set_tags(mux, info);
	g_object_set(sink, "location", path, NULL);
	if (gst_element_set_state(c->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		snprintf(why, whysize, "cannot start the GStreamer pipeline writing %s", path);
		goto out;
	}
	*out = c;
	c = NULL;
	rc = NVR_OK;
out:
	g_clear_error(&err);
	if (mux != NULL)
		gst_object_unref(mux);
	if (sink != NULL)
		gst_object_unref(sink);
	stg_clip_free(c);
	return rc;
}

/* NVR_OK while the bus holds no error; otherwise the error, in why. */
static nvr_err
check_bus(struct stg_clip *c, GstClockTime wait, char *why, size_t whysize)
{
	GstMessage *msg = gst_bus_timed_pop_filtered(c->bus, wait, GST_MESSAGE_ERROR);

	if (msg == NULL)
		return NVR_OK;
	take_error(msg, "the MP4 cannot be made", why, whysize);
	return NVR_ERR_IO;
}

nvr_err
stg_clip_push(struct stg_clip *c, uint8_t *pkt, size_t len, uint64_t pts_ns, char *why, size_t whysize)
{
	GstBuffer *b = gst_buffer_new_wrapped(pkt, len);
	nvr_err rc;

	GST_BUFFER_PTS(b) = pts_ns;
	/* Wait for room while the pipeline works; stop if it failed. */
	while (gst_app_src_get_current_level_bytes(c->src) >= STG_CLIP_QUEUE_BYTES) {
		if ((rc = check_bus(c, CLIP_POLL, why, whysize)) != NVR_OK) {
			gst_buffer_unref(b);
			return rc;
		}
	}
	if (gst_app_src_push_buffer(c->src, b) != GST_FLOW_OK) { /* takes b */
		if (check_bus(c, 0, why, whysize) == NVR_OK)
			snprintf(why, whysize, "the MP4 pipeline stopped taking packets");
		return NVR_ERR_IO;
	}
	return NVR_OK;
}

nvr_err
stg_clip_finish(struct stg_clip *c, char *why, size_t whysize)
{
	GstMessage *msg;
	nvr_err rc = NVR_OK;

	gst_app_src_end_of_stream(c->src);
	msg = gst_bus_timed_pop_filtered(c->bus, CLIP_FINISH_TIMEOUT, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	if (msg == NULL) {
		snprintf(why, whysize, "the MP4 muxer did not finish the file in %u s",
		    (unsigned)(CLIP_FINISH_TIMEOUT / GST_SECOND));
		rc = NVR_ERR_IO;
	} else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		take_error(msg, "the MP4 cannot be made", why, whysize);
		rc = NVR_ERR_IO;
	} else {
		gst_message_unref(msg);
	}
	/* NULL closes the file sink: the file is whole once this returns. */
	gst_element_set_state(c->pipe, GST_STATE_NULL);
	return rc;
}

void
stg_clip_free(struct stg_clip *c)
{
	if (c == NULL)
		return;
	if (c->pipe != NULL)
		gst_element_set_state(c->pipe, GST_STATE_NULL);
	if (c->src != NULL)
		gst_object_unref(c->src);
	if (c->bus != NULL)
		gst_object_unref(c->bus);
	if (c->pipe != NULL)
		gst_object_unref(c->pipe);
	g_free(c);
}

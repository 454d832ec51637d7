/*
 * clip.c: clear RTP into an MP4 file with GStreamer (storage/clip.h).
 *
 * Everything downstream of appsrc runs in appsrc's streaming thread; the
 * caller's thread only queues buffers. It must never block forever: a
 * push waits for room only while the bus has no error, and the end of the
 * stream is awaited with a bound.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>

#include "storage/clip.h"

/* How long the muxer may take to finish the file after the last packet. */
#define CLIP_FINISH_TIMEOUT (300 * GST_SECOND)
/* How often a push waiting for room looks at the bus for an error. */
#define CLIP_POLL (2 * GST_MSECOND)

/* The clip's ©day as ISO 8601 (YYYY-MM-DD), and what the muxer writes
 * for it before finish_date() puts the real one in its place. */
#define CLIP_DATE_LEN 10

struct stg_clip {
	GstElement *pipe;
	GstAppSrc *src; /* owned reference */
	GstBus *bus;    /* owned reference */
	char *path;     /* owned: the file the muxer writes */
	char date[CLIP_DATE_LEN + 1];
	char placeholder[CLIP_DATE_LEN + 1];
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

/*
 * The date, title and comment tags on the muxer, which writes them into
 * the file's metadata (moov/udta/meta/ilst).
 *
 * The date is the recording's day in UTC, ISO 8601 (2026-12-07), as
 * players and forensic tools read ©day. mp4mux and qtmux write GST_TAG_DATE
 * as "%u-%u-%u" (gstqtmux.c, gst_qt_mux_add_mp4_date in 1.22), so a day or
 * month below 10 loses its zero (2026-12-7), and they take no string for
 * it. So they are given the same year on 10 October, whose text has the
 * ISO length, and finish_date() writes the real date over those ten bytes
 * once the file is whole. The time of day is not in ©day: the caller puts
 * the exact start in the comment.
 */
static void
set_tags(struct stg_clip *c, GstElement *mux, const struct stg_clip_info *info)
{
	GstDateTime *dt = gst_date_time_new_from_unix_epoch_utc_usecs(info->start_ns / 1000);
	int year = gst_date_time_get_year(dt);
	GstTagSetter *tags = GST_TAG_SETTER(mux);

	gst_tag_setter_add_tags(tags, GST_TAG_MERGE_REPLACE, GST_TAG_DATE_TIME, dt, GST_TAG_TITLE, info->title,
	    GST_TAG_COMMENT, info->comment, GST_TAG_ENCODER, "nvrctl decrypt", NULL);
	if (year >= 1000 && year <= 9999) { /* four digits, or no ©day at all */
		GDate *day = g_date_new_dmy(10, G_DATE_OCTOBER, (GDateYear)year);

		snprintf(c->date, sizeof(c->date), "%04d-%02d-%02d", year, gst_date_time_get_month(dt),
		    gst_date_time_get_day(dt));
		snprintf(c->placeholder, sizeof(c->placeholder), "%04d-10-10", year);
		gst_tag_setter_add_tags(tags, GST_TAG_MERGE_REPLACE, GST_TAG_DATE, day, NULL);
		g_date_free(day);
	}
	gst_date_time_unref(dt);
}

static uint64_t
be_bytes(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Finds the box of this type among the boxes that fill [*off, end) (ISO
 * 14496-12 4.2: a 32-bit size, or 1 and a 64-bit size after the type; 0
 * runs to the end). On success [*off, *end) is its content. */
static bool
find_box(int fd, uint64_t *off, uint64_t *end, const char *type)
{
	uint64_t at = *off;
	uint8_t h[16];

	while (*end - at >= 8) {
		uint64_t size, hdr = 8;

		if (pread(fd, h, 8, (off_t)at) != 8)
			return false;
		size = be_bytes(h, 4);
		if (size == 1) {
			if (*end - at < 16 || pread(fd, h + 8, 8, (off_t)(at + 8)) != 8)
				return false;
			size = be_bytes(h + 8, 8);
			hdr = 16;
		} else if (size == 0) {
			size = *end - at;
		}
		if (size < hdr || size > *end - at)
			return false;
		if (memcmp(h + 4, type, 4) == 0) {
			*off = at + hdr;
			*end = at + size;
			return true;
		}
		at += size;
	}
	return false;
}

/* Writes c->date over the placeholder in moov/udta/meta/ilst/©day/data:
 * meta is a full box (4 bytes of version and flags before its boxes), and
 * data holds a 4-byte type and a 4-byte locale before the text (the iTunes
 * item list, which both muxers write, for QuickTime too). */
static nvr_err
finish_date(struct stg_clip *c, char *why, size_t whysize)
{
	/* \251 is 0xa9, the (c) of ©day: an octal escape ends after 3 digits */
	static const char *const path[] = { "moov", "udta", "meta", "ilst", "\251day", "data" };
	uint64_t off = 0, end;
	char text[CLIP_DATE_LEN];
	struct stat st;
	nvr_err rc = NVR_ERR_IO;
	int fd;

	if (c->date[0] == '\0')
		return NVR_OK;
	if ((fd = open(c->path, O_RDWR | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		snprintf(why, whysize, "cannot open %s to write its date: %s", c->path, strerror(errno));
		goto out;
	}
	end = (uint64_t)st.st_size;
	for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
		if (!find_box(fd, &off, &end, path[i]))
			goto not_found;
		if (i == 2 || i == 5)
			off += i == 2 ? 4 : 8;
		if (off > end)
			goto not_found;
	}
	if (end - off != CLIP_DATE_LEN || pread(fd, text, CLIP_DATE_LEN, (off_t)off) != CLIP_DATE_LEN ||
	    memcmp(text, c->placeholder, CLIP_DATE_LEN) != 0)
		goto not_found;
	if (pwrite(fd, c->date, CLIP_DATE_LEN, (off_t)off) != CLIP_DATE_LEN) {
		snprintf(why, whysize, "cannot write the date into %s: %s", c->path, strerror(errno));
		goto out;
	}
	rc = NVR_OK;
	goto out;
not_found:
	snprintf(why, whysize, "the muxer wrote no date (©day) where expected in %s: is GStreamer newer than 1.22?",
	    c->path);
out:
	if (fd >= 0)
		close(fd);
	return rc;
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
	set_tags(c, mux, info);
	c->path = g_strdup(path);
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
	if (rc == NVR_OK)
		rc = finish_date(c, why, whysize);
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
	g_free(c->path);
	g_free(c);
}

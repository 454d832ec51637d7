/*
 * capture.c: nvr-bench-capture, records the RTP packets of one camera into
 * a capture file (capfile.h) for nvr-loadgen to replay.
 *
 * GStreamer's rtspsrc does the RTSP; the packets are taken from its source
 * pad, where they are still whole RTP packets (header, ONVIF extension,
 * payload), with the time each one arrived. rtspsrc's jitter buffer runs
 * with no latency so that those times are the camera's pacing, not a
 * buffer's. It must never alter a packet: the generator rewrites sequence
 * numbers and times itself when it replays.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/sdp/gstsdpmessage.h>

#include "bench/capfile.h"
#include "bench/common.h"
#include "nvrd/log.h"

struct capture {
	GMainLoop *loop;
	GstElement *pipe;
	FILE *out;
	const char *path;
	uint64_t duration_ns;
	GMutex lock; /* protects everything below: rtspsrc calls us from its threads */
	gchar *sdp;
	gboolean have_pad, done, failed;
	int64_t first_ns;
	uint64_t packets, bytes, payload;
	uint64_t last_ns;
};

static void
on_sdp(GstElement *src, GstSDPMessage *sdp, gpointer user_data)
{
	struct capture *c = user_data;
	(void)src;

	g_mutex_lock(&c->lock);
	g_free(c->sdp);
	c->sdp = gst_sdp_message_as_text(sdp);
	g_mutex_unlock(&c->lock);
}

/* Called with c->lock held. Returns FALSE once the capture must stop. */
static gboolean
record_packet(struct capture *c, const guint8 *data, gsize len)
{
	int64_t now = bench_mono_ns();
	uint16_t hdr_len;
	int16_t onvif;

	if (c->done)
		return FALSE;
	if (bench_rtp_parse(data, len, &hdr_len, &onvif) != NVR_OK || len > BENCH_CAP_MAX_PACKET)
		return TRUE; /* not RTP we can replay: leave it out */
	if (c->packets == 0) {
		const char *sdp = c->sdp != NULL ? c->sdp : "";

		c->first_ns = now;
		if (bench_cap_write_header(c->out, sdp, strlen(sdp)) != NVR_OK)
			goto fail;
	}
	c->last_ns = (uint64_t)(now - c->first_ns);
	if (c->last_ns >= c->duration_ns) {
		c->done = TRUE;
		g_main_loop_quit(c->loop);
		return FALSE;
	}
	if (bench_cap_write_packet(c->out, c->last_ns, data, len) != NVR_OK)
		goto fail;
	c->packets++;
	c->bytes += len;
	c->payload += len - hdr_len;
	return TRUE;
fail:
	nvr_log_ex(NVR_LOG_ERROR, strerror(errno), NULL, "cannot write %s", c->path);
	c->done = c->failed = TRUE;
	g_main_loop_quit(c->loop);
	return FALSE;
}

static gboolean
record_one(GstBuffer **buf, guint idx, gpointer user_data)
{
	GstMapInfo map;
	gboolean go_on;
	(void)idx;

	if (!gst_buffer_map(*buf, &map, GST_MAP_READ))
		return TRUE;
	go_on = record_packet(user_data, map.data, map.size);
	gst_buffer_unmap(*buf, &map);
	return go_on;
}

static GstPadProbeReturn
on_rtp(GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
	struct capture *c = user_data;
	(void)pad;

	g_mutex_lock(&c->lock);
	if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
		GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
		record_one(&buf, 0, c);
	} else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
		gst_buffer_list_foreach(GST_PAD_PROBE_INFO_BUFFER_LIST(info), record_one, c);
	}
	g_mutex_unlock(&c->lock);
	return GST_PAD_PROBE_OK;
}

/* Every pad goes to a fakesink so that rtspsrc never sees "not linked";
 * only the first video stream is recorded. */
static void
on_pad_added(GstElement *src, GstPad *pad, gpointer user_data)
{
	struct capture *c = user_data;
	GstElement *sink = gst_element_factory_make("fakesink", NULL);
	GstPad *sinkpad;
	(void)src;

	g_object_set(sink, "sync", FALSE, "async", FALSE, NULL);
	gst_bin_add(GST_BIN(c->pipe), sink);
	gst_element_sync_state_with_parent(sink);
	sinkpad = gst_element_get_static_pad(sink, "sink");
	if (gst_pad_link(pad, sinkpad) != GST_PAD_LINK_OK)
		nvr_log(NVR_LOG_WARNING, "cannot link pad %s", GST_PAD_NAME(pad));
	gst_object_unref(sinkpad);
	g_mutex_lock(&c->lock);
	if (!c->have_pad && g_str_has_prefix(GST_PAD_NAME(pad), "recv_rtp_src")) {
		c->have_pad = TRUE;
		gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
		    on_rtp, c, NULL);
	}
	g_mutex_unlock(&c->lock);
}

static gboolean
on_bus(GstBus *bus, GstMessage *msg, gpointer user_data)
{
	struct capture *c = user_data;
	GError *err = NULL;
	gchar *dbg = NULL;
	(void)bus;

	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		gst_message_parse_error(msg, &err, &dbg);
		nvr_log_ex(NVR_LOG_ERROR, dbg, NULL, "camera: %s", err->message);
		g_mutex_lock(&c->lock);
		c->failed = TRUE;
		g_mutex_unlock(&c->lock);
		g_clear_error(&err);
		g_free(dbg);
		g_main_loop_quit(c->loop);
	} else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
		g_main_loop_quit(c->loop);
	}
	return G_SOURCE_CONTINUE;
}

/* Ctrl-C ends the capture early, with whole records only. */
static gboolean
on_stop_signal(gpointer user_data)
{
	struct capture *c = user_data;

	nvr_log(NVR_LOG_NOTICE, "stopping early on a signal");
	g_main_loop_quit(c->loop);
	return G_SOURCE_CONTINUE;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: nvr-bench-capture --url rtsp://HOST:PORT/PATH --output FILE\n"
	    "           [--duration SECONDS] [--user USER --password-file FILE]\n"
	    "Records the RTP packets of one camera (RTSP over TCP) for nvr-loadgen.\n"
	    "  --url URL             the camera; plain RTP (RTP/AVP) keeps the packets as sent\n"
	    "  --output FILE         the capture file to write\n"
	    "  --duration SECONDS    how long to record (default 60)\n"
	    "  --user USER           Digest user, with --password-file\n"
	    "  --password-file FILE  password of --user, first line of FILE\n");
}

struct capture_opts {
	const char *url, *output, *user, *password_file;
	unsigned long duration_s;
};

/* Returns -1 to go on, or an exit status. */
static int
parse_args(struct capture_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'U' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			o->url = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'U':
			o->user = optarg;
			break;
		case 'P':
			o->password_file = optarg;
			break;
		case 'd':
			if (bench_parse_uint(optarg, 1, 24UL * 3600, &o->duration_s) != NVR_OK) {
				fprintf(stderr, "nvr-bench-capture: --duration must be 1 to 86400 seconds\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || o->url == NULL || o->output == NULL ||
	    (o->user == NULL) != (o->password_file == NULL)) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* rtspsrc over TCP only: interleaved RTP arrives in order and whole. */
static nvr_err
build_pipeline(struct capture *c, const struct capture_opts *o, const char *password)
{
	GstElement *src = gst_element_factory_make("rtspsrc", NULL);
	GstBus *bus;

	if (src == NULL) {
		nvr_log_ex(NVR_LOG_ERROR, NULL, "apt-get install gstreamer1.0-plugins-good",
		    "GStreamer has no rtspsrc");
		return NVR_ERR_INTERNAL;
	}
	c->pipe = gst_pipeline_new("capture");
	gst_bin_add(GST_BIN(c->pipe), src);
	g_object_set(src, "location", o->url, "protocols", 4 /* TCP */, "latency", 0, NULL);
	if (o->user != NULL)
		g_object_set(src, "user-id", o->user, "user-pw", password, NULL);
	g_signal_connect(src, "on-sdp", G_CALLBACK(on_sdp), c);
	g_signal_connect(src, "pad-added", G_CALLBACK(on_pad_added), c);
	bus = gst_element_get_bus(c->pipe);
	gst_bus_add_watch(bus, on_bus, c);
	gst_object_unref(bus);
	return NVR_OK;
}

static void
report(const struct capture *c)
{
	double s = (double)c->last_ns / 1e9;

	if (s <= 0)
		s = 1;
	printf("capture: file=%s packets=%llu seconds=%.1f rtp-bytes=%llu payload-bytes=%llu "
	    "payload-mbit/s=%.3f rtp-mbit/s=%.3f\n", c->path, (unsigned long long)c->packets, s,
	    (unsigned long long)c->bytes, (unsigned long long)c->payload,
	    (double)c->payload * 8 / s / 1e6, (double)c->bytes * 8 / s / 1e6);
}

static int
run(struct capture *c, const struct capture_opts *o, const char *password)
{
	int status = 1;

	if (build_pipeline(c, o, password) != NVR_OK)
		goto out;
	if (gst_element_set_state(c->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		nvr_log(NVR_LOG_ERROR, "cannot start the pipeline for %s", o->url);
		goto out;
	}
	g_unix_signal_add(SIGINT, on_stop_signal, c);
	g_unix_signal_add(SIGTERM, on_stop_signal, c);
	g_main_loop_run(c->loop);
	gst_element_set_state(c->pipe, GST_STATE_NULL);
	g_mutex_lock(&c->lock);
	if (!c->failed && c->packets > 0) {
		report(c);
		status = 0;
	} else if (!c->failed) {
		nvr_log(NVR_LOG_ERROR, "no RTP packet from %s", o->url);
	}
	g_mutex_unlock(&c->lock);
out:
	return status;
}

int
main(int argc, char **argv)
{
	struct capture_opts o = { .duration_s = 60 };
	struct capture c = { 0 };
	char *password = NULL;
	int status;

	nvr_log_init("nvr-bench-capture");
	gst_init(&argc, &argv);
	if ((status = parse_args(&o, argc, argv)) >= 0)
		return status;
	status = 1;
	if (o.password_file != NULL && bench_read_password(o.password_file, &password) != NVR_OK)
		goto out;
	if ((c.out = fopen(o.output, "wb")) == NULL) {
		nvr_log_ex(NVR_LOG_ERROR, strerror(errno), NULL, "cannot create %s", o.output);
		goto out;
	}
	c.path = o.output;
	c.duration_ns = (uint64_t)o.duration_s * 1000000000u;
	g_mutex_init(&c.lock);
	c.loop = g_main_loop_new(NULL, FALSE);
	status = run(&c, &o, password);
	if (fclose(c.out) != 0 && status == 0) {
		nvr_log_ex(NVR_LOG_ERROR, strerror(errno), NULL, "cannot write %s", o.output);
		status = 1;
	}
	if (status != 0 && unlink(o.output) == 0)
		nvr_log(NVR_LOG_NOTICE, "removed the incomplete %s", o.output);
	if (c.pipe != NULL)
		gst_object_unref(c.pipe);
	g_main_loop_unref(c.loop);
	g_free(c.sdp);
	g_mutex_clear(&c.lock);
out:
	bench_free_secret(password);
	return status;
}

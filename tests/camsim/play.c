/*
 * play.c: nvr-test-play, GStreamer's own RTSP client (rtspsrc) run from a
 * gst-launch description, with what gst-launch cannot do from a command
 * line: trust a test CA (rtspsrc's tls-database is an object), and report
 * what was negotiated so that tests can assert it.
 *
 * Prints, one per line: "sdp-profile: RTP/SAVP", "mikey: stream=N key=HEX"
 * (master key || salt, as MIKEY carried it), "onvif: packets=N
 * clean-points=M" (RTP packets with the ONVIF header extension 0xABAC),
 * and "result: eos" or "error: MESSAGE".
 * Exit status: 0 EOS, 1 pipeline error, 2 usage, 3 timeout.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gst/sdp/gstsdpmessage.h>

#define ONVIF_EXT_ID 0xABAC

static gchar *opt_ca;
static gint opt_timeout = 30;
static guint onvif_packets, onvif_clean, rtp_packets;
static GMutex count_lock; /* protects the three counters above */

static void
print_hex(const char *label, guint idx, const guint8 *a, guint alen, const guint8 *b, guint blen)
{
	printf("%s: stream=%u key=", label, idx);
	for (guint i = 0; i < alen; i++)
		printf("%02x", a[i]);
	for (guint i = 0; i < blen; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static void
report_mikey(const GstSDPMedia *m, guint idx)
{
	GstMIKEYMessage *mikey = NULL;
	const GstMIKEYPayload *kemac, *sub;
	const GstMIKEYPayloadKeyData *kd;

	/* GStreamer 1.22 returns 1, not GST_SDP_OK, on success: trust the
	 * message it hands back instead of the code. */
	(void)gst_sdp_media_parse_keymgmt(m, &mikey);
	if (mikey == NULL)
		return;
	kemac = gst_mikey_message_find_payload(mikey, GST_MIKEY_PT_KEMAC, 0);
	if (kemac != NULL && (sub = gst_mikey_payload_kemac_get_sub(kemac, 0)) != NULL) {
		kd = (const GstMIKEYPayloadKeyData *)sub;
		print_hex("mikey", idx, kd->key_data, kd->key_len, kd->salt_data, kd->salt_len);
	}
	gst_mikey_message_unref(mikey);
}

static void
on_sdp(GstElement *src, GstSDPMessage *sdp, gpointer user_data)
{
	(void)src;
	(void)user_data;
	for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
		const GstSDPMedia *m = gst_sdp_message_get_media(sdp, i);
		printf("sdp-profile: %s\n", gst_sdp_media_get_proto(m));
		report_mikey(m, i);
	}
	fflush(stdout);
}

/* Counts RTP packets and those carrying the ONVIF extension; the RTP
 * header is never encrypted by SRTP, so this holds for SAVP too. */
static GstPadProbeReturn
count_rtp(GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
	guint16 bits = 0;
	gpointer data = NULL;
	guint wordlen = 0;
	(void)pad;
	(void)user_data;

	if (buf == NULL || !gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp))
		return GST_PAD_PROBE_OK;
	g_mutex_lock(&count_lock);
	rtp_packets++;
	if (gst_rtp_buffer_get_extension_data(&rtp, &bits, &data, &wordlen) &&
	    bits == ONVIF_EXT_ID && wordlen >= 3) {
		onvif_packets++;
		if (((const guint8 *)data)[8] & 0x80)
			onvif_clean++;
	}
	g_mutex_unlock(&count_lock);
	gst_rtp_buffer_unmap(&rtp);
	return GST_PAD_PROBE_OK;
}

static void
on_pad_added(GstElement *src, GstPad *pad, gpointer user_data)
{
	(void)src;
	(void)user_data;
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, count_rtp, NULL, NULL);
}

/* rtspsrc asks here only when validation against tls-database failed:
 * say why, and refuse, so a test can tell a rejected certificate from any
 * other connection failure. */
static gboolean
on_accept_certificate(GstElement *src, GTlsConnection *conn, GTlsCertificate *peer,
    GTlsCertificateFlags errors, gpointer user_data)
{
	GFlagsClass *fc = g_type_class_ref(G_TYPE_TLS_CERTIFICATE_FLAGS);
	(void)src;
	(void)conn;
	(void)peer;
	(void)user_data;

	printf("tls: certificate rejected:");
	for (guint i = 0; i < fc->n_values; i++) {
		guint v = fc->values[i].value;
		/* single flags only: skip combinations such as validate-all */
		if ((errors & v) && (v & (v - 1)) == 0)
			printf(" %s", fc->values[i].value_nick);
	}
	printf("\n");
	fflush(stdout);
	g_type_class_unref(fc);
	return FALSE;
}

static void
setup_rtspsrc(GstElement *e, GTlsDatabase *db)
{
	if (db != NULL)
		g_object_set(e, "tls-database", db, NULL);
	g_signal_connect(e, "accept-certificate", G_CALLBACK(on_accept_certificate), NULL);
	g_signal_connect(e, "on-sdp", G_CALLBACK(on_sdp), NULL);
	g_signal_connect(e, "pad-added", G_CALLBACK(on_pad_added), NULL);
}

static void
setup_all(GstBin *bin, GTlsDatabase *db)
{
	GstIterator *it = gst_bin_iterate_recurse(bin);
	GValue v = G_VALUE_INIT;

	while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
		GstElement *e = g_value_get_object(&v);
		GstElementFactory *f = gst_element_get_factory(e);
		if (f != NULL && strcmp(GST_OBJECT_NAME(f), "rtspsrc") == 0)
			setup_rtspsrc(e, db);
		g_value_reset(&v);
	}
	g_value_unset(&v);
	gst_iterator_free(it);
}

/* Runs until EOS, an error or the timeout; returns the exit status. */
static int
run(GstElement *pipe)
{
	GstBus *bus = gst_element_get_bus(pipe);
	GstMessage *msg;
	GError *err = NULL;
	int status = 3;

	gst_element_set_state(pipe, GST_STATE_PLAYING);
	msg = gst_bus_timed_pop_filtered(bus, (GstClockTime)opt_timeout * GST_SECOND,
	    GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	if (msg == NULL) {
		printf("error: timeout after %d s\n", opt_timeout);
	} else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
		printf("result: eos\n");
		status = 0;
	} else {
		gchar *dbg = NULL;
		gst_message_parse_error(msg, &err, &dbg);
		printf("error: %s (%s)\n", err->message, dbg ? dbg : "");
		g_error_free(err);
		g_free(dbg);
		status = 1;
	}
	if (msg != NULL)
		gst_message_unref(msg);
	gst_element_set_state(pipe, GST_STATE_NULL);
	g_mutex_lock(&count_lock);
	printf("rtp: packets=%u\nonvif: packets=%u clean-points=%u\n", rtp_packets, onvif_packets, onvif_clean);
	g_mutex_unlock(&count_lock);
	gst_object_unref(bus);
	return status;
}

int
main(int argc, char **argv)
{
	const GOptionEntry entries[] = {
		{ "ca", 0, 0, G_OPTION_ARG_FILENAME, &opt_ca, "trust only this CA bundle (PEM) for rtsps", "FILE" },
		{ "timeout", 0, 0, G_OPTION_ARG_INT, &opt_timeout, "give up after N seconds (default 30)", "N" },
		G_OPTION_ENTRY_NULL
	};
	GOptionContext *ctx = g_option_context_new("PIPELINE-DESCRIPTION...");
	GTlsDatabase *db = NULL;
	GstElement *pipe = NULL;
	GError *err = NULL;
	gchar *desc = NULL;
	int status = 2;

	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_add_group(ctx, gst_init_get_option_group());
	if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc < 2) {
		fprintf(stderr, "nvr-test-play: %s\n", err ? err->message : "no pipeline given");
		goto out;
	}
	if (opt_ca != NULL && (db = g_tls_file_database_new(opt_ca, &err)) == NULL) {
		fprintf(stderr, "nvr-test-play: %s: %s\n", opt_ca, err->message);
		goto out;
	}
	desc = g_strjoinv(" ", argv + 1);
	if ((pipe = gst_parse_launch(desc, &err)) == NULL) {
		fprintf(stderr, "nvr-test-play: bad pipeline: %s\n", err->message);
		goto out;
	}
	if (GST_IS_BIN(pipe))
		setup_all(GST_BIN(pipe), db);
	status = run(pipe);
out:
	if (pipe != NULL)
		gst_object_unref(pipe);
	if (db != NULL)
		g_object_unref(db);
	g_clear_error(&err);
	g_free(desc);
	g_free(opt_ca);
	g_option_context_free(ctx);
	return status;
}

/*
 * camsim.c: nvr-camsim, a real RTSP camera for tests, benchmarks and demos.
 *
 * Built on gst-rtsp-server: /cam1 .. /camN on one port, RTSPS when given a
 * certificate, Digest authentication (never Basic), SRTP with MIKEY keys
 * (RTP/SAVP) by default or SDES keys (sdes.c), plain RTP on request, TCP interleaved and UDP,
 * RTSP-over-HTTP tunnelling on the same port (gst-rtsp-server answers the
 * QuickTime GET/POST scheme itself), H.264/H.265/MJPEG from videotestsrc
 * with the ONVIF RTP header extension (NTP time, clean point).
 *
 * It must never be mistaken for a secure camera: --reveal-keys writes every
 * SRTP key to a file so that tests can prove what the recorder stored.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include "contrib/camsim/camsim.h"

static struct camsim_opts opts = {
	.address = "127.0.0.1",
	.port = 8554,
	.cameras = 1,
	.profile = "savp",
	.protocols = "tcp,udp",
	.codec = "h264",
	.pattern = "ball",
	.size = "640x360",
	.fps = 25,
	.bitrate_kbps = 1000,
	.gop = 50,
	.srtp_suite = "aes128-hmac-sha1-80",
	.key_mgmt = "mikey",
};

/* Serialises appends to the reveal file from gst-rtsp-server's threads. */
static GMutex reveal_lock;

static void
log_line(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void
log_line(const char *fmt, ...)
{
	va_list ap;
	gchar *msg;
	GDateTime *now = g_date_time_new_now_utc();
	gchar *ts = g_date_time_format(now, "%H:%M:%S");

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03d nvr-camsim: %s\n", ts, g_date_time_get_microsecond(now) / 1000, msg);
	g_free(msg);
	g_free(ts);
	g_date_time_unref(now);
}

/* ---- SRTP keys -------------------------------------------------------- */

/* Appends one line per key to the reveal file. Test switch only. */
static void
reveal_key(const char *camera, guint stream, const struct camsim_suite *suite,
    const guint8 *key, gsize len)
{
	FILE *f;
	gchar *hex = g_malloc(len * 2 + 1);

	for (gsize i = 0; i < len; i++)
		g_snprintf(hex + 2 * i, 3, "%02x", key[i]);
	g_mutex_lock(&reveal_lock);
	f = fopen(opts.reveal_keys, "a");
	if (f != NULL) {
		fprintf(f, "camera=%s stream=%u suite=%s key=%s\n", camera, stream, suite->name, hex);
		fclose(f);
	} else {
		log_line("cannot append to %s: %s", opts.reveal_keys, g_strerror(errno));
	}
	g_mutex_unlock(&reveal_lock);
	g_free(hex);
}

/* gst-rtsp-server's srtpenc would make its key with g_random_int(), which is
 * not a cryptographic generator; a camera's key comes from the kernel. The
 * MIKEY message (or the SDES a=crypto line) in the SDP carries whatever key
 * srtpenc holds: key || salt. */
static void
on_new_encoder(GstRTSPStream *stream, GstElement *enc, gpointer user_data)
{
	const char *camera = user_data;
	const struct camsim_suite *suite = camsim_suite_find(opts.srtp_suite);
	guint8 key[CAMSIM_MAX_KEY];
	GstBuffer *buf;

	if (getrandom(key, suite->key_len, 0) != (ssize_t)suite->key_len) {
		log_line("%s: getrandom failed: %s; leaving srtpenc's own key", camera, g_strerror(errno));
		return;
	}
	buf = gst_buffer_new_memdup(key, suite->key_len);
	g_object_set(enc, "key", buf, "rtp-cipher", suite->cipher, "rtcp-cipher", suite->cipher,
	    "rtp-auth", suite->auth, "rtcp-auth", suite->auth, NULL);
	gst_buffer_unref(buf);
	if (opts.reveal_keys != NULL)
		reveal_key(camera, gst_rtsp_stream_get_index(stream), suite, key, suite->key_len);
	memset(key, 0, sizeof(key));
}

static void
on_media_configure(GstRTSPMediaFactory *factory, GstRTSPMedia *media, gpointer user_data)
{
	(void)factory;
	for (guint i = 0; i < gst_rtsp_media_n_streams(media); i++) {
		GstRTSPStream *s = gst_rtsp_media_get_stream(media, i);
		g_signal_connect(s, "new-rtp-encoder", G_CALLBACK(on_new_encoder), user_data);
	}
}

/* ---- clients ---------------------------------------------------------- */

static const char *
profile_name(GstRTSPProfile p)
{
	switch (p) {
	case GST_RTSP_PROFILE_SAVP:
		return "RTP/SAVP";
	case GST_RTSP_PROFILE_AVP:
		return "RTP/AVP";
	case GST_RTSP_PROFILE_SAVPF:
		return "RTP/SAVPF";
	case GST_RTSP_PROFILE_AVPF:
		return "RTP/AVPF";
	default:
		return "RTP/?";
	}
}

/* One line per SETUP, so that tests can see which profile and transport a
 * client obtained (e.g. "RTP/SAVP/TCP interleaved=0-1") and whether it came
 * through an RTSP-over-HTTP tunnel ("Internet mode"). */
static void
on_setup(GstRTSPClient *client, GstRTSPContext *ctx, gpointer user_data)
{
	GstRTSPConnection *conn = gst_rtsp_client_get_connection(client);
	const GstRTSPTransport *tr;
	(void)user_data;

	if (ctx->trans == NULL)
		return;
	tr = gst_rtsp_stream_transport_get_transport(ctx->trans);
	if (tr->lower_transport == GST_RTSP_LOWER_TRANS_TCP)
		log_line("%s: client %s: SETUP %s/TCP interleaved=%d-%d%s", ctx->uri ? ctx->uri->abspath : "?",
		    conn ? gst_rtsp_connection_get_ip(conn) : "?", profile_name(tr->profile),
		    tr->interleaved.min, tr->interleaved.max,
		    conn && gst_rtsp_connection_is_tunneled(conn) ? " (HTTP tunnel)" : "");
	else
		log_line("%s: client %s: SETUP %s/UDP client_port=%d-%d", ctx->uri ? ctx->uri->abspath : "?",
		    conn ? gst_rtsp_connection_get_ip(conn) : "?", profile_name(tr->profile),
		    tr->client_port.min, tr->client_port.max);
}

static void
on_client_connected(GstRTSPServer *server, GstRTSPClient *client, gpointer user_data)
{
	(void)server;
	(void)user_data;
	g_signal_connect(client, "setup-request", G_CALLBACK(on_setup), NULL);
}

/* ---- server ----------------------------------------------------------- */

static GstRTSPAuth *
make_auth(GError **err)
{
	GstRTSPAuth *auth = gst_rtsp_auth_new();
	GstRTSPToken *token = gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "viewer", NULL);
	GTlsCertificate *cert;

	if (opts.cert != NULL) {
		cert = g_tls_certificate_new_from_files(opts.cert, opts.key, err);
		if (cert == NULL) {
			g_object_unref(auth);
			gst_rtsp_token_unref(token);
			return NULL;
		}
		gst_rtsp_auth_set_tls_certificate(auth, cert);
		g_object_unref(cert);
	}
	if (opts.user != NULL) {
		/* Digest only: a camera that also offers Basic leaks the password
		 * to anyone who can read the first request. */
		gst_rtsp_auth_set_supported_methods(auth, GST_RTSP_AUTH_DIGEST);
		gst_rtsp_auth_set_realm(auth, "nvr-camsim");
		gst_rtsp_auth_add_digest(auth, opts.user, opts.password, token);
	} else {
		gst_rtsp_auth_set_default_token(auth, token);
	}
	gst_rtsp_token_unref(token);
	return auth;
}

static GstRTSPMediaFactory *
make_factory(const char *camera)
{
	GstRTSPMediaFactory *f = camsim_factory_new(&opts, camera);

	gst_rtsp_media_factory_set_shared(f, opts.shared);
	gst_rtsp_media_factory_set_profiles(f, strcmp(opts.profile, "avp") == 0 ?
	    GST_RTSP_PROFILE_AVP : GST_RTSP_PROFILE_SAVP);
	gst_rtsp_media_factory_set_protocols(f, camsim_parse_protocols(opts.protocols));
	gst_rtsp_media_factory_add_role(f, "viewer",
	    GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
	    GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, NULL);
	g_signal_connect_data(f, "media-configure", G_CALLBACK(on_media_configure),
	    g_strdup(camera), (GClosureNotify)(void (*)(void))g_free, 0);
	return f;
}

static gboolean
on_quit_signal(gpointer loop)
{
	log_line("stopping");
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static gboolean
write_port_file(guint port)
{
	gchar *text = g_strdup_printf("%u\n", port);
	GError *err = NULL;
	gboolean ok = g_file_set_contents(opts.port_file, text, -1, &err);

	if (!ok) {
		log_line("cannot write %s: %s", opts.port_file, err->message);
		g_error_free(err);
	}
	g_free(text);
	return ok;
}

static int
serve(void)
{
	gboolean sdes = strcmp(opts.key_mgmt, "sdes") == 0;
	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	GstRTSPServer *server = sdes ? camsim_sdes_server_new(&opts) : gst_rtsp_server_new();
	GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
	GstRTSPAuth *auth;
	GError *err = NULL;
	gchar *service = g_strdup_printf("%u", opts.port);
	int status = 1;

	if ((auth = make_auth(&err)) == NULL) {
		log_line("cannot load certificate %s / key %s: %s", opts.cert, opts.key,
		    err ? err->message : "unknown error");
		g_clear_error(&err);
		goto out;
	}
	gst_rtsp_server_set_auth(server, auth);
	g_object_unref(auth);
	gst_rtsp_server_set_address(server, opts.address);
	gst_rtsp_server_set_service(server, service);
	for (guint i = 1; i <= opts.cameras; i++) {
		gchar *name = g_strdup_printf("cam%u", i);
		gchar *path = g_strdup_printf("/%s", name);
		gst_rtsp_mount_points_add_factory(mounts, path, make_factory(name));
		g_free(path);
		g_free(name);
	}
	g_signal_connect(server, "client-connected", G_CALLBACK(on_client_connected), NULL);
	if (gst_rtsp_server_attach(server, NULL) == 0) {
		log_line("cannot listen on %s port %u", opts.address, opts.port);
		goto out;
	}
	if (opts.port_file != NULL && !write_port_file((guint)gst_rtsp_server_get_bound_port(server)))
		goto out;
	if (sdes && opts.cert == NULL)
		log_line("warning: --key-mgmt sdes without --cert: the SRTP keys go in clear text in the SDP");
	log_line("serving %u camera%s at %s://%s:%d/cam1%s (%s, %s%s, %s%s%s)", opts.cameras,
	    opts.cameras == 1 ? "" : "s", opts.cert ? "rtsps" : "rtsp", opts.address,
	    gst_rtsp_server_get_bound_port(server), opts.cameras > 1 ? " .. /camN" : "",
	    opts.codec, strcmp(opts.profile, "avp") == 0 ? "plain RTP" : opts.srtp_suite,
	    sdes ? (opts.sdes_wrong_key ? " by SDES with a WRONG key" : " by SDES") : "",
	    opts.user ? "Digest auth" : "no auth", opts.reveal_keys ? ", REVEALING KEYS to " : "",
	    opts.reveal_keys ? opts.reveal_keys : "");
	g_unix_signal_add(SIGINT, on_quit_signal, loop);
	g_unix_signal_add(SIGTERM, on_quit_signal, loop);
	g_main_loop_run(loop);
	status = 0;
out:
	g_free(service);
	g_object_unref(mounts);
	g_object_unref(server);
	g_main_loop_unref(loop);
	return status;
}

int
main(int argc, char **argv)
{
	int status;

	gst_init(&argc, &argv);
	if ((status = camsim_parse_args(&opts, argc, argv)) >= 0)
		return status;
	status = serve();
	camsim_opts_clear(&opts);
	return status;
}

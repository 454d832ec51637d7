/*
 * sdes.c: nvr-camsim's --key-mgmt sdes, SRTP keys as SDES (RFC 4568
 * a=crypto) in the DESCRIBE answer instead of MIKEY (RFC 4567 a=key-mgmt).
 *
 * gst-rtsp-server writes a=key-mgmt itself from each stream's srtpenc
 * (rtsp-sdp.c), and has no switch for SDES. A client subclass overrides
 * create_sdp: it chains up, then swaps each secure media's a=key-mgmt for
 * a=crypto carrying the key and salt that srtpenc holds. The server's
 * "client-connected" signal comes after the client is made, too late to
 * choose its class, so a server subclass overrides create_client.
 *
 * Nothing else in gst-rtsp-server needs MIKEY: the KeyMgmt header of a
 * SETUP (RFC 4567 5.1) only gives the server the key of the client's own
 * SRTCP, and is optional; the recorder sends no SRTCP. What SDES cannot
 * say is the SSRC and rollover counter that the MIKEY CS map carries: the
 * recorder learns the SSRC from the first packet, and the ROC is 0 for a
 * fresh encoder (with --shared, a late client may join at ROC > 0).
 *
 * The SDP now carries the key in clear: it must only go over RTSPS.
 */
#include "autoconfig.h"

#include <string.h>

#include <gst/sdp/gstsdpmessage.h>

#include "contrib/camsim/camsim.h"

typedef struct {
	GstRTSPClient parent;
	const struct camsim_opts *o;
} CamsimSdesClient;

typedef struct {
	GstRTSPClientClass parent_class;
} CamsimSdesClientClass;

typedef struct {
	GstRTSPServer parent;
	const struct camsim_opts *o;
} CamsimSdesServer;

typedef struct {
	GstRTSPServerClass parent_class;
} CamsimSdesServerClass;

GType camsim_sdes_client_get_type(void);
GType camsim_sdes_server_get_type(void);
G_DEFINE_TYPE(CamsimSdesClient, camsim_sdes_client, GST_TYPE_RTSP_CLIENT)
G_DEFINE_TYPE(CamsimSdesServer, camsim_sdes_server, GST_TYPE_RTSP_SERVER)

/* "1 <SUITE> inline:<base64(key || salt)>" (RFC 4568 9.1) from the key
 * srtpenc holds, or NULL if it holds none. With wrong, one bit of the key
 * is flipped: every packet then fails the receiver's check. */
static gchar *
crypto_value(GstElement *enc, const struct camsim_suite *suite, gboolean wrong)
{
	GstBuffer *buf = NULL;
	GstMapInfo map;
	guint8 key[CAMSIM_MAX_KEY];
	gchar *b64, *value = NULL;
	gboolean mapped;

	g_object_get(enc, "key", &buf, NULL);
	if (buf == NULL)
		return NULL;
	mapped = gst_buffer_map(buf, &map, GST_MAP_READ);
	if (mapped && map.size == suite->key_len) {
		memcpy(key, map.data, map.size);
		if (wrong)
			key[0] ^= 0x01;
		b64 = g_base64_encode(key, map.size);
		value = g_strdup_printf("1 %s inline:%s", suite->rfc, b64);
		memset(b64, 0, strlen(b64));
		g_free(b64);
		memset(key, 0, sizeof(key));
	}
	if (mapped)
		gst_buffer_unmap(buf, &map);
	gst_buffer_unref(buf);
	return value;
}

/* The stream of media whose a=control names it, or NULL. */
static GstRTSPStream *
stream_of(GstRTSPMedia *media, const GstSDPMedia *m)
{
	const char *control = gst_sdp_media_get_attribute_val(m, "control");

	for (guint i = 0; control != NULL && i < gst_rtsp_media_n_streams(media); i++) {
		GstRTSPStream *s = gst_rtsp_media_get_stream(media, i);
		gchar *c = gst_rtsp_stream_get_control(s);
		gboolean same = g_strcmp0(c, control) == 0;

		g_free(c);
		if (same)
			return s;
	}
	return NULL;
}

/* Replaces a=key-mgmt by a=crypto in one media; FALSE if it cannot. */
static gboolean
to_sdes(GstSDPMedia *m, GstRTSPStream *stream, const struct camsim_opts *o)
{
	GstElement *enc = gst_rtsp_stream_get_srtp_encoder(stream);
	gchar *value = enc ? crypto_value(enc, camsim_suite_find(o->srtp_suite), o->sdes_wrong_key) : NULL;

	if (enc != NULL)
		gst_object_unref(enc);
	if (value == NULL)
		return FALSE;
	for (guint i = gst_sdp_media_attributes_len(m); i-- > 0;) {
		const GstSDPAttribute *a = gst_sdp_media_get_attribute(m, i);
		if (g_strcmp0(a->key, "key-mgmt") == 0)
			gst_sdp_media_remove_attribute(m, i);
	}
	gst_sdp_media_add_attribute(m, "crypto", value);
	memset(value, 0, strlen(value));
	g_free(value);
	return TRUE;
}

static GstSDPMessage *
camsim_sdes_create_sdp(GstRTSPClient *client, GstRTSPMedia *media)
{
	const struct camsim_opts *o = ((CamsimSdesClient *)client)->o;
	GstSDPMessage *sdp = GST_RTSP_CLIENT_CLASS(camsim_sdes_client_parent_class)->create_sdp(client, media);

	for (guint i = 0; sdp != NULL && i < gst_sdp_message_medias_len(sdp); i++) {
		/* libgstsdp's getter is read-only; the array is public */
		GstSDPMedia *m = &g_array_index(sdp->medias, GstSDPMedia, i);
		GstRTSPStream *s = stream_of(media, m);

		if (g_str_has_prefix(gst_sdp_media_get_proto(m), "RTP/SAVP") && (s == NULL || !to_sdes(m, s, o))) {
			g_printerr("nvr-camsim: no SRTP key for SDES in media %u; refusing DESCRIBE\n", i);
			gst_sdp_message_free(sdp);
			sdp = NULL;
		}
	}
	return sdp;
}

static void
camsim_sdes_client_class_init(CamsimSdesClientClass *klass)
{
	GST_RTSP_CLIENT_CLASS(klass)->create_sdp = camsim_sdes_create_sdp;
}

static void
camsim_sdes_client_init(CamsimSdesClient *self)
{
	(void)self;
}

/* What gst-rtsp-server's default create_client does, with our class. */
static GstRTSPClient *
camsim_sdes_create_client(GstRTSPServer *server)
{
	CamsimSdesClient *c = g_object_new(camsim_sdes_client_get_type(), NULL);
	GstRTSPClient *client = GST_RTSP_CLIENT(c);
	GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool(server);
	GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
	GstRTSPAuth *auth = gst_rtsp_server_get_auth(server);
	GstRTSPThreadPool *threads = gst_rtsp_server_get_thread_pool(server);

	c->o = ((CamsimSdesServer *)server)->o;
	gst_rtsp_client_set_session_pool(client, pool);
	gst_rtsp_client_set_mount_points(client, mounts);
	gst_rtsp_client_set_content_length_limit(client, gst_rtsp_server_get_content_length_limit(server));
	gst_rtsp_client_set_auth(client, auth);
	gst_rtsp_client_set_thread_pool(client, threads);
	g_clear_object(&pool);
	g_clear_object(&mounts);
	g_clear_object(&auth);
	g_clear_object(&threads);
	return client;
}

static void
camsim_sdes_server_class_init(CamsimSdesServerClass *klass)
{
	GST_RTSP_SERVER_CLASS(klass)->create_client = camsim_sdes_create_client;
}

static void
camsim_sdes_server_init(CamsimSdesServer *self)
{
	(void)self;
}

GstRTSPServer *
camsim_sdes_server_new(const struct camsim_opts *o)
{
	CamsimSdesServer *s = g_object_new(camsim_sdes_server_get_type(), NULL);

	s->o = o;
	return GST_RTSP_SERVER(s);
}

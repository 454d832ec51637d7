/*
 * factory.c: the media factory of one simulated camera.
 *
 * gst-rtsp-server takes the RTP of each stream from the source pad of the
 * element named pay0. rtponviftimestamp has to follow the payloader, so
 * pay0 is a bin holding both, with ghost pads; gst_parse builds the two
 * halves from text so that the pipeline reads as gst-launch would.
 */
#include "autoconfig.h"

#include <string.h>

#include "contrib/camsim/camsim.h"

typedef struct {
	GstRTSPMediaFactory parent;
	const struct camsim_opts *o;
	gchar *camera;
} CamsimFactory;

typedef struct {
	GstRTSPMediaFactoryClass parent_class;
} CamsimFactoryClass;

GType camsim_factory_get_type(void);
G_DEFINE_TYPE(CamsimFactory, camsim_factory, GST_TYPE_RTSP_MEDIA_FACTORY)

/* Source and encoder: a live test picture at the chosen size and rate.
 * zerolatency: no B-frames, so RTP timestamps only go forward, as most
 * surveillance cameras send them. */
static gchar *
encoder_desc(const struct camsim_opts *o)
{
	gchar *src = g_strdup_printf("videotestsrc is-live=true pattern=%s ! "
	    "video/x-raw,format=I420,width=%u,height=%u,framerate=%u/1",
	    o->pattern, o->width, o->height, o->fps);
	gchar *enc, *desc;

	if (strcmp(o->codec, "h265") == 0)
		/* closed GOPs (open-gop=0): x265's default open GOPs start them
		 * with CRA pictures, which GStreamer flags as delta units, so
		 * only the first key frame would be a clean point. Cameras send
		 * IDR pictures. */
		enc = g_strdup_printf("x265enc tune=zerolatency speed-preset=ultrafast bitrate=%u key-int-max=%u "
		    "option-string=open-gop=0", o->bitrate_kbps, o->gop);
	else if (strcmp(o->codec, "mjpeg") == 0)
		enc = g_strdup("jpegenc quality=70");
	else
		enc = g_strdup_printf("x264enc tune=zerolatency speed-preset=ultrafast threads=1 "
		    "bitrate=%u key-int-max=%u ! capsfilter caps=video/x-h264,profile=baseline",
		    o->bitrate_kbps, o->gop);
	desc = g_strdup_printf("%s ! %s", src, enc);
	g_free(src);
	g_free(enc);
	return desc;
}

/* Payloader: parameter sets before every key frame (config-interval=-1), so
 * each segment a recorder cuts at a clean point decodes on its own. */
static gchar *
payloader_desc(const struct camsim_opts *o)
{
	const char *pay;

	if (strcmp(o->codec, "h265") == 0)
		pay = "rtph265pay pt=96 config-interval=-1";
	else if (strcmp(o->codec, "mjpeg") == 0)
		pay = "rtpjpegpay pt=26";
	else
		pay = "rtph264pay pt=96 config-interval=-1 aggregate-mode=zero-latency";
	return g_strdup_printf("%s%s", pay, o->no_onvif ? "" : " ! rtponviftimestamp");
}

/* --drop-every N: a lossy network in the camera. Packets are dropped after
 * the payloader numbered them, so the receiver sees sequence gaps, as it
 * would from a network that loses datagrams. */
struct drop {
	guint every;
	guint64 n;
};

static GstPadProbeReturn
drop_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	struct drop *d = data;
	GstBufferList *l;
	(void)pad;

	if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
		return ++d->n % d->every == 0 ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
	l = gst_buffer_list_make_writable(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
	for (guint i = 0; i < gst_buffer_list_length(l);) {
		if (++d->n % d->every == 0)
			gst_buffer_list_remove(l, i, 1);
		else
			i++;
	}
	GST_PAD_PROBE_INFO_DATA(info) = l;
	return gst_buffer_list_length(l) > 0 ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

static void
add_drop(GstElement *pay, guint every)
{
	GstPad *src = gst_element_get_static_pad(pay, "src");
	struct drop *d = g_new0(struct drop, 1);

	d->every = every;
	gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, drop_probe, d, g_free);
	gst_object_unref(src);
}

static GstElement *
camsim_create_element(GstRTSPMediaFactory *factory, const GstRTSPUrl *url)
{
	CamsimFactory *self = (CamsimFactory *)factory;
	gchar *edesc = encoder_desc(self->o), *pdesc = payloader_desc(self->o);
	GstElement *top = NULL, *enc = NULL, *pay = NULL;
	GError *err = NULL;
	(void)url;

	enc = gst_parse_bin_from_description(edesc, TRUE, &err);
	if (enc != NULL)
		pay = gst_parse_bin_from_description(pdesc, TRUE, &err);
	if (pay == NULL) {
		g_printerr("nvr-camsim: %s: cannot build pipeline: %s\n", self->camera,
		    err ? err->message : "unknown error");
		g_clear_error(&err);
		if (enc != NULL)
			gst_object_unref(enc);
		goto out;
	}
	gst_element_set_name(pay, "pay0");
	if (self->o->drop_every > 0)
		add_drop(pay, self->o->drop_every);
	top = gst_bin_new(NULL);
	gst_bin_add_many(GST_BIN(top), enc, pay, NULL);
	if (!gst_element_link(enc, pay)) {
		g_printerr("nvr-camsim: %s: cannot link encoder to payloader\n", self->camera);
		gst_object_unref(top);
		top = NULL;
	}
out:
	g_free(edesc);
	g_free(pdesc);
	return top;
}

static void
camsim_factory_finalize(GObject *obj)
{
	g_free(((CamsimFactory *)obj)->camera);
	G_OBJECT_CLASS(camsim_factory_parent_class)->finalize(obj);
}

static void
camsim_factory_class_init(CamsimFactoryClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = camsim_factory_finalize;
	GST_RTSP_MEDIA_FACTORY_CLASS(klass)->create_element = camsim_create_element;
}

static void
camsim_factory_init(CamsimFactory *self)
{
	(void)self;
}

GstRTSPMediaFactory *
camsim_factory_new(const struct camsim_opts *o, const char *camera)
{
	CamsimFactory *f = g_object_new(camsim_factory_get_type(), NULL);

	f->o = o;
	f->camera = g_strdup(camera);
	return GST_RTSP_MEDIA_FACTORY(f);
}

/*
 * camsim.h: nvr-camsim's options, SRTP suites and media factory.
 */
#ifndef NVR_CAMSIM_H
#define NVR_CAMSIM_H

#include <gst/rtsp-server/rtsp-server.h>

#define CAMSIM_MAX_KEY 46 /* AES-256 master key + 14-byte salt */
#define CAMSIM_MAX_CAMERAS 1000

struct camsim_opts {
	const char *address;
	guint port;
	const char *port_file;
	guint cameras;
	const char *cert, *key;
	const char *user;
	const char *password_file;
	gchar *password; /* read from password_file; wiped and freed at exit */
	const char *profile;   /* savp or avp */
	const char *protocols; /* tcp,udp */
	const char *codec;     /* h264, h265 or mjpeg */
	const char *pattern;   /* videotestsrc pattern */
	const char *size;
	guint width, height;
	guint fps;
	guint bitrate_kbps;
	guint gop;
	gboolean no_onvif;
	gboolean shared;
	const char *reveal_keys;
	const char *srtp_suite;
	const char *key_mgmt;  /* mikey or sdes */
	gboolean sdes_wrong_key; /* tests: a=crypto names a key srtpenc does not use */
	guint drop_every;      /* tests: every Nth RTP packet never leaves (0: none) */
};

struct camsim_suite {
	const char *name;
	const char *rfc;  /* RFC 4568 / 6188 / 7714 name, for a=crypto */
	gint cipher;  /* GstSrtpCipherType */
	gint auth;    /* GstSrtpAuthType */
	gsize key_len; /* master key + master salt */
};

/* NULL when the name is unknown. */
const struct camsim_suite *camsim_suite_find(const char *name);

/* GST_RTSP_LOWER_TRANS_* from "tcp", "udp" or "tcp,udp"; 0 if invalid. */
GstRTSPLowerTrans camsim_parse_protocols(const char *s);

/* Parses and checks argv into o. Returns -1 to go on, or an exit status
 * (0 after --help, 2 after an error, which it has printed). */
int camsim_parse_args(struct camsim_opts *o, int argc, char **argv);
void camsim_opts_clear(struct camsim_opts *o);

/* A server whose clients answer DESCRIBE with SDES keys (RFC 4568
 * a=crypto) instead of MIKEY; o must outlive it. (transfer full) */
GstRTSPServer *camsim_sdes_server_new(const struct camsim_opts *o);

/* A media factory whose pipeline is built from o for one camera; the
 * payloader is a bin named pay0 holding the RTP payloader and, unless
 * o->no_onvif, rtponviftimestamp. (transfer full) */
GstRTSPMediaFactory *camsim_factory_new(const struct camsim_opts *o, const char *camera);

#endif

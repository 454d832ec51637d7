/*
 * opts.c: nvr-camsim's command line, checked before anything starts so that
 * a test with a typo fails at once with a reason.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "contrib/camsim/camsim.h"

static const struct camsim_suite suites[] = {
	/* RFC 3711 AES_CM_128_HMAC_SHA1_80: gst-rtsp-server's default. */
	{ "aes128-hmac-sha1-80", "AES_CM_128_HMAC_SHA1_80", 1, 2, 30 },
	{ "aes128-hmac-sha1-32", "AES_CM_128_HMAC_SHA1_32", 1, 1, 30 },
	/* RFC 6188 */
	{ "aes256-hmac-sha1-80", "AES_256_CM_HMAC_SHA1_80", 2, 2, 46 },
	/* RFC 7714 AEAD suites: the tag is inside the cipher. */
	{ "aes128-gcm", "AEAD_AES_128_GCM", 3, 0, 28 },
	{ "aes256-gcm", "AEAD_AES_256_GCM", 4, 0, 44 },
};

const struct camsim_suite *
camsim_suite_find(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(suites); i++) {
		if (strcmp(suites[i].name, name) == 0)
			return &suites[i];
	}
	return NULL;
}

GstRTSPLowerTrans
camsim_parse_protocols(const char *s)
{
	gchar **parts = g_strsplit(s, ",", 0);
	GstRTSPLowerTrans t = 0;

	for (gchar **p = parts; *p != NULL; p++) {
		if (strcmp(*p, "tcp") == 0) {
			t |= GST_RTSP_LOWER_TRANS_TCP;
		} else if (strcmp(*p, "udp") == 0) {
			t |= GST_RTSP_LOWER_TRANS_UDP;
		} else {
			t = 0;
			break;
		}
	}
	g_strfreev(parts);
	return t;
}

static gboolean
one_of(const char *v, const char *const *allowed)
{
	for (; *allowed != NULL; allowed++) {
		if (strcmp(v, *allowed) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Reads the password from a file (or "-" for stdin), first line only, so
 * that it never appears in `ps` output. */
static gboolean
read_password(struct camsim_opts *o, GError **err)
{
	gchar *text = NULL;
	gsize len = 0;
	char line[256];

	if (strcmp(o->password_file, "-") == 0) {
		if (fgets(line, sizeof(line), stdin) == NULL) {
			g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "no password on standard input");
			return FALSE;
		}
		text = g_strdup(line);
	} else if (!g_file_get_contents(o->password_file, &text, &len, err)) {
		return FALSE;
	}
	text[strcspn(text, "\r\n")] = '\0';
	if (text[0] == '\0') {
		g_free(text);
		g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "the password is empty");
		return FALSE;
	}
	o->password = text;
	return TRUE;
}

/* "WIDTHxHEIGHT" with nothing else around it. */
static gboolean
parse_size(const char *s, guint *w, guint *h)
{
	gchar *end;
	guint64 a, b;

	a = g_ascii_strtoull(s, &end, 10);
	if (end == s || *end != 'x' || a > G_MAXUINT)
		return FALSE;
	s = end + 1;
	b = g_ascii_strtoull(s, &end, 10);
	if (end == s || *end != '\0' || b > G_MAXUINT)
		return FALSE;
	*w = (guint)a;
	*h = (guint)b;
	return TRUE;
}

static gboolean
check_opts(struct camsim_opts *o, GError **err)
{
	static const char *const profiles[] = { "savp", "avp", NULL };
	static const char *const codecs[] = { "h264", "h265", "mjpeg", NULL };
	static const char *const key_mgmts[] = { "mikey", "sdes", NULL };

#define FAIL(...)                                                          \
	do {                                                               \
		g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, __VA_ARGS__); \
		return FALSE;                                              \
	} while (0)
	if (o->cameras < 1 || o->cameras > CAMSIM_MAX_CAMERAS)
		FAIL("--cameras must be between 1 and %d", CAMSIM_MAX_CAMERAS);
	if (o->port > 65535)
		FAIL("--port must be between 0 and 65535");
	if ((o->cert == NULL) != (o->key == NULL))
		FAIL("--cert and --key go together");
	if ((o->user == NULL) != (o->password_file == NULL))
		FAIL("--user and --password-file go together");
	if (!one_of(o->profile, profiles))
		FAIL("--profile must be savp or avp");
	if (!one_of(o->codec, codecs))
		FAIL("--codec must be h264, h265 or mjpeg");
	if (camsim_parse_protocols(o->protocols) == 0)
		FAIL("--protocols must be tcp, udp or tcp,udp");
	if (camsim_suite_find(o->srtp_suite) == NULL)
		FAIL("--srtp-suite must be one of aes128-hmac-sha1-80, aes128-hmac-sha1-32, aes256-hmac-sha1-80, aes128-gcm, aes256-gcm");
	if (!one_of(o->key_mgmt, key_mgmts))
		FAIL("--key-mgmt must be mikey or sdes");
	if (strcmp(o->key_mgmt, "sdes") == 0 && strcmp(o->profile, "avp") == 0)
		FAIL("--key-mgmt sdes needs SRTP: leave out --plain / --profile avp");
	if (o->sdes_wrong_key && strcmp(o->key_mgmt, "sdes") != 0)
		FAIL("--sdes-wrong-key needs --key-mgmt sdes");
	if (!parse_size(o->size, &o->width, &o->height) || o->width < 16 ||
	    o->height < 16 || o->width > 7680 || o->height > 4320)
		FAIL("--size must be WIDTHxHEIGHT, from 16x16 to 7680x4320");
	if (o->fps < 1 || o->fps > 120)
		FAIL("--fps must be between 1 and 120");
	if (o->bitrate_kbps < 16 || o->bitrate_kbps > 100000)
		FAIL("--bitrate must be between 16 and 100000 kbit/s");
	if (o->gop < 1 || o->gop > 1000)
		FAIL("--gop must be between 1 and 1000 frames");
	if (o->drop_every == 1)
		FAIL("--drop-every must be 0 (none) or at least 2");
#undef FAIL
	if (o->user != NULL && !read_password(o, err))
		return FALSE;
	return TRUE;
}

int
camsim_parse_args(struct camsim_opts *o, int argc, char **argv)
{
	gboolean plain = FALSE;
	gint port = (gint)o->port, cameras = (gint)o->cameras, fps = (gint)o->fps;
	gint bitrate = (gint)o->bitrate_kbps, gop = (gint)o->gop, drop = 0;
	const GOptionEntry entries[] = {
		{ "address", 'a', 0, G_OPTION_ARG_STRING, &o->address, "listen address (default 127.0.0.1; :: for all)", "ADDR" },
		{ "port", 'p', 0, G_OPTION_ARG_INT, &port, "port (default 8554; 0 picks a free one)", "N" },
		{ "port-file", 0, 0, G_OPTION_ARG_FILENAME, &o->port_file, "write the bound port to FILE", "FILE" },
		{ "cameras", 'n', 0, G_OPTION_ARG_INT, &cameras, "serve /cam1 .. /camN (default 1)", "N" },
		{ "cert", 0, 0, G_OPTION_ARG_FILENAME, &o->cert, "serve RTSPS with this certificate (chain) in PEM", "FILE" },
		{ "key", 0, 0, G_OPTION_ARG_FILENAME, &o->key, "private key of --cert, PEM", "FILE" },
		{ "user", 'u', 0, G_OPTION_ARG_STRING, &o->user, "require Digest authentication as USER", "USER" },
		{ "password-file", 0, 0, G_OPTION_ARG_FILENAME, &o->password_file, "password of --user, first line of FILE (- for stdin)", "FILE" },
		{ "profile", 0, 0, G_OPTION_ARG_STRING, &o->profile, "savp (SRTP, default) or avp (plain RTP)", "P" },
		{ "plain", 0, 0, G_OPTION_ARG_NONE, &plain, "same as --profile avp", NULL },
		{ "srtp-suite", 0, 0, G_OPTION_ARG_STRING, &o->srtp_suite, "SRTP suite (default aes128-hmac-sha1-80)", "S" },
		{ "key-mgmt", 0, 0, G_OPTION_ARG_STRING, &o->key_mgmt, "SRTP keys in the SDP by mikey (a=key-mgmt, default) or sdes (a=crypto)", "K" },
		{ "sdes-wrong-key", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &o->sdes_wrong_key, "TESTS ONLY: a=crypto gives a key other than the one used", NULL },
		{ "protocols", 0, 0, G_OPTION_ARG_STRING, &o->protocols, "lower transports allowed (default tcp,udp)", "tcp,udp" },
		{ "codec", 'c', 0, G_OPTION_ARG_STRING, &o->codec, "h264 (default), h265 or mjpeg", "C" },
		{ "pattern", 0, 0, G_OPTION_ARG_STRING, &o->pattern, "videotestsrc pattern (default ball)", "P" },
		{ "size", 0, 0, G_OPTION_ARG_STRING, &o->size, "picture size (default 640x360)", "WxH" },
		{ "fps", 0, 0, G_OPTION_ARG_INT, &fps, "frames per second (default 25)", "N" },
		{ "bitrate", 0, 0, G_OPTION_ARG_INT, &bitrate, "kbit/s for H.264/H.265 (default 1000)", "N" },
		{ "gop", 0, 0, G_OPTION_ARG_INT, &gop, "frames from one key frame to the next (default 50)", "N" },
		{ "no-onvif", 0, 0, G_OPTION_ARG_NONE, &o->no_onvif, "leave out the ONVIF RTP header extension", NULL },
		{ "shared", 0, 0, G_OPTION_ARG_NONE, &o->shared, "one encoder and one key per camera for all clients", NULL },
		{ "drop-every", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &drop, "TESTS ONLY: drop every Nth RTP packet after the payloader (a lossy network)", "N" },
		{ "reveal-keys", 0, 0, G_OPTION_ARG_FILENAME, &o->reveal_keys, "TESTS ONLY: append every SRTP key to FILE", "FILE" },
		G_OPTION_ENTRY_NULL
	};
	GOptionContext *ctx = g_option_context_new("- a simulated RTSP/RTSPS camera for the NVR's tests");
	GError *err = NULL;
	int status = -1;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "nvr-camsim: %s (try --help)\n", err->message);
		status = 2;
		goto out;
	}
	if (argc > 1) {
		fprintf(stderr, "nvr-camsim: unexpected argument '%s'\n", argv[1]);
		status = 2;
		goto out;
	}
	/* Negative numbers would wrap into huge unsigned ones and pass. */
	o->port = port < 0 ? 65536 : (guint)port;
	o->cameras = cameras < 0 ? 0 : (guint)cameras;
	o->fps = fps < 0 ? 0 : (guint)fps;
	o->bitrate_kbps = bitrate < 0 ? 0 : (guint)bitrate;
	o->gop = gop < 0 ? 0 : (guint)gop;
	o->drop_every = drop < 0 ? 1 : (guint)drop;
	if (plain)
		o->profile = "avp";
	if (!check_opts(o, &err)) {
		fprintf(stderr, "nvr-camsim: %s\n", err->message);
		status = 2;
	}
out:
	if (err != NULL)
		g_error_free(err);
	g_option_context_free(ctx);
	return status;
}

void
camsim_opts_clear(struct camsim_opts *o)
{
	if (o->password != NULL) {
		memset(o->password, 0, strlen(o->password));
		g_free(o->password);
		o->password = NULL;
	}
}

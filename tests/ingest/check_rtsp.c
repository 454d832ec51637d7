/*
 * check_rtsp.c: the camera-facing parsers: RTSP messages and interleaved
 * frames, URLs, Digest (RFC 7616 example), and SDP with MIKEY and SDES.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/sdp/gstmikey.h>

#include "ingest/digest.h"
#include "ingest/rtsp.h"
#include "ingest/tunnel.h"
#include "ingest/sdp.h"
#include "nvrd/encode.h"
#include "tests/harness/run.h"

static char scratch[ING_RTSP_SCRATCH];

static nvr_err
parse(const char *s, struct ing_rtsp_msg *m, struct ing_rtsp_item_info *it, const char **why)
{
	return ing_rtsp_parse((const uint8_t *)s, strlen(s), scratch, m, it, why);
}

START_TEST(response_with_body)
{
	const char *s = "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Base: rtsps://h/cam1/\r\n"
			"Content-Type: application/sdp\r\ncontent-length: 5\r\n\r\nv=0\r\n$\x01\x00\x02xy";
	struct ing_rtsp_msg m;
	struct ing_rtsp_item_info it;
	const char *why;

	ck_assert_int_eq(parse(s, &m, &it, &why), NVR_OK);
	ck_assert_int_eq(it.kind, ING_RTSP_MESSAGE);
	ck_assert_int_eq(m.status, 200);
	ck_assert_str_eq(m.reason, "OK");
	ck_assert_str_eq(ing_rtsp_header(&m, "CONTENT-BASE"), "rtsps://h/cam1/");
	ck_assert_uint_eq(m.body_len, 5);
	ck_assert_mem_eq(m.body, "v=0\r\n", 5);
	/* the interleaved frame that follows */
	ck_assert_int_eq(ing_rtsp_parse((const uint8_t *)s + it.consumed, 6, scratch, &m, &it, &why), NVR_OK);
	ck_assert_int_eq(it.kind, ING_RTSP_FRAME);
	ck_assert_int_eq(it.channel, 1);
	ck_assert_uint_eq(it.len, 2);
	ck_assert_mem_eq(it.data, "xy", 2);
}
END_TEST

START_TEST(incremental_and_bounds)
{
	const char *s = "RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Digest realm=\"r\",\r\n nonce=\"n\"\r\n\r\n";
	struct ing_rtsp_msg m;
	struct ing_rtsp_item_info it;
	const char *why;
	char *big;

	/* every prefix is "need more", the whole is one message */
	for (size_t n = 0; n < strlen(s); n++) {
		ck_assert_int_eq(ing_rtsp_parse((const uint8_t *)s, n, scratch, &m, &it, &why), NVR_OK);
		ck_assert_int_eq(it.kind, ING_RTSP_NEED_MORE);
	}
	ck_assert_int_eq(parse(s, &m, &it, &why), NVR_OK);
	ck_assert_int_eq(m.status, 401);
	/* the folded header line joined its predecessor */
	ck_assert_ptr_nonnull(strstr(ing_rtsp_header(&m, "WWW-Authenticate"), "nonce=\"n\""));
	ck_assert_int_eq(ing_rtsp_parse((const uint8_t *)"$\x00\xff", 3, scratch, &m, &it, &why), NVR_OK);
	ck_assert_int_eq(it.kind, ING_RTSP_NEED_MORE);
	/* a header that never ends */
	big = malloc(ING_RTSP_MAX_HEAD + 10);
	memset(big, 'a', ING_RTSP_MAX_HEAD + 10);
	memcpy(big, "RTSP/1.0 200 OK\r\nX: ", 21);
	ck_assert_int_eq(ing_rtsp_parse((const uint8_t *)big, ING_RTSP_MAX_HEAD + 10, scratch, &m, &it, &why),
	    NVR_ERR_INVAL);
	ck_assert_ptr_nonnull(why);
	free(big);
}
END_TEST

START_TEST(malformed_refused)
{
	static const char *const bad[] = {
		"RTSP/1.0 99 Low\r\n\r\n",
		"RTSP/1.0 2000 Long\r\n\r\n",
		"RTSP/2.0 200 OK\r\n\r\n",
		"RTSP/1.0 200 OK\r\nNo colon here\r\n\r\n",
		"RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n",
		"RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n",
		"RTSP/1.0 200 OK\r\nContent-Length: 12abc\r\n\r\n",
		"RTSP/1.0 200 OK\r\nBad Name: x\r\n\r\n",
		"\r\n\r\n",
	};
	struct ing_rtsp_msg m;
	struct ing_rtsp_item_info it;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(parse(bad[i], &m, &it, &why) == NVR_ERR_INVAL, "accepted: %s", bad[i]);
		ck_assert_ptr_nonnull(why);
	}
	ck_assert_int_eq(ing_rtsp_parse((const uint8_t *)"RTSP/1.0 200 OK\r\nX: a\0b\r\n\r\n", 26, scratch, &m, &it,
	    &why), NVR_ERR_INVAL);
	/* too many headers */
	{
		char s[8192];
		size_t n = (size_t)snprintf(s, sizeof(s), "RTSP/1.0 200 OK\r\n");
		for (int i = 0; i < ING_RTSP_MAX_HEADERS + 1; i++)
			n += (size_t)snprintf(s + n, sizeof(s) - n, "H%d: v\r\n", i);
		snprintf(s + n, sizeof(s) - n, "\r\n");
		ck_assert_int_eq(parse(s, &m, &it, &why), NVR_ERR_INVAL);
	}
}
END_TEST

START_TEST(server_request_and_values)
{
	struct ing_rtsp_msg m;
	struct ing_rtsp_item_info it;
	const char *why;
	char id[64];
	int t;

	ck_assert_int_eq(parse("GET_PARAMETER rtsp://x/ RTSP/1.0\r\nCSeq: 9\r\n\r\n", &m, &it, &why), NVR_OK);
	ck_assert_str_eq(m.method, "GET_PARAMETER");
	ck_assert_int_eq(ing_rtsp_parse_session("AbC123;timeout=30", id, sizeof(id), &t), NVR_OK);
	ck_assert_str_eq(id, "AbC123");
	ck_assert_int_eq(t, 30);
	ck_assert_int_eq(ing_rtsp_parse_session("xyz", id, sizeof(id), &t), NVR_OK);
	ck_assert_int_eq(t, 60);
	ck_assert_int_eq(ing_rtsp_parse_session(";timeout=3", id, sizeof(id), &t), NVR_ERR_INVAL);
	ck_assert(ing_rtsp_public_has("OPTIONS, DESCRIBE, GET_PARAMETER, PLAY", "GET_PARAMETER"));
	ck_assert(!ing_rtsp_public_has("OPTIONS, GET_PARAMETERS", "GET_PARAMETER"));
}
END_TEST

START_TEST(tunnel_answers)
{
	static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\nRTSP/1.0 200 OK\r\n";
	const char *why = NULL;
	size_t used;
	int st;

	/* whole head: consumed up to the RTSP that follows */
	ck_assert_int_eq(ing_tunnel_parse_answer((const uint8_t *)ok, strlen(ok), &used, &st, &why), NVR_OK);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(ok + used, "RTSP/1.0 200 OK\r\n");
	/* any cut of it: more is needed */
	for (size_t n = 0; n < used; n++) {
		ck_assert_int_eq(ing_tunnel_parse_answer((const uint8_t *)ok, n, &used, &st, &why), NVR_OK);
		ck_assert_uint_eq(used, 0);
		used = strlen(ok) - strlen("RTSP/1.0 200 OK\r\n");
	}
	ck_assert_int_eq(ing_tunnel_parse_answer((const uint8_t *)"HTTP/1.1 401 Unauthorized\n\n", 27, &used, &st, &why),
	    NVR_OK);
	ck_assert_int_eq(st, 401);
	ck_assert_uint_eq(used, 27);
	/* an RTSP server on an https:// URL answers in RTSP, not HTTP */
	ck_assert_int_eq(ing_tunnel_parse_answer((const uint8_t *)"RTSP/1.0 400 Bad Request\r\n\r\n", 28, &used, &st, &why),
	    NVR_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "not HTTP/1.x"));
	ck_assert_int_eq(ing_tunnel_parse_answer((const uint8_t *)"HTTP/1.0 2000 OK\r\n\r\n", 21, &used, &st, &why),
	    NVR_ERR_INVAL);
}
END_TEST

START_TEST(transport_params)
{
	long a, b;

	ck_assert(ing_rtsp_transport_range("RTP/SAVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=1", "server_port",
	    65535, &a, &b));
	ck_assert_int_eq(a, 6970);
	ck_assert_int_eq(b, 6971);
	ck_assert(ing_rtsp_transport_range("RTP/AVP;unicast;server_port=7000", "server_port", 65535, &a, &b));
	ck_assert_int_eq(b, 7001);
	/* a name inside another parameter is not the parameter */
	ck_assert(!ing_rtsp_transport_range("RTP/AVP;x_server_port=1-2", "server_port", 65535, &a, &b));
	ck_assert(!ing_rtsp_transport_range("RTP/AVP;server_port=70000-70001", "server_port", 65535, &a, &b));
	ck_assert(!ing_rtsp_transport_range("RTP/AVP/TCP;interleaved=255", "interleaved", 255, &a, &b));
	ck_assert(ing_rtsp_transport_range("RTP/AVP/TCP;interleaved=2-3", "interleaved", 255, &a, &b));
	ck_assert_int_eq(a, 2);
	ck_assert_int_eq(b, 3);
}
END_TEST

START_TEST(urls)
{
	struct ing_rtsp_url u;
	const char *why;
	char out[256];

	ck_assert_int_eq(ing_rtsp_url_parse("rtsps://192.0.2.7/stream1", &u, &why), NVR_OK);
	ck_assert(u.tls);
	ck_assert_int_eq(u.port, 322);
	ck_assert_str_eq(u.host, "192.0.2.7");
	ck_assert_str_eq(u.path, "/stream1");
	ck_assert_int_eq(ing_rtsp_url_parse("rtsp://[2001:db8::1]:8554", &u, &why), NVR_OK);
	ck_assert_str_eq(u.host, "2001:db8::1");
	ck_assert_int_eq(u.port, 8554);
	ck_assert_str_eq(u.path, "/");
	ck_assert_int_eq(ing_rtsp_url_parse("rtsp://admin:pw@cam/", &u, &why), NVR_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "user or password"));
	ck_assert_int_eq(ing_rtsp_url_parse("ftp://cam/", &u, &why), NVR_ERR_INVAL);
	/* Internet mode: https:// is the tunnel over TLS, on 443 by default */
	ck_assert_int_eq(ing_rtsp_url_parse("https://cam.example/live", &u, &why), NVR_OK);
	ck_assert(u.tls && u.tunnel);
	ck_assert_int_eq(u.port, 443);
	ck_assert_int_eq(ing_rtsp_request_url("https://cam.example/live", &u, out, sizeof(out)), NVR_OK);
	ck_assert_str_eq(out, "rtsps://cam.example:443/live");
	ck_assert_int_eq(ing_rtsp_url_parse("rtsph://[2001:db8::1]/x", &u, &why), NVR_OK);
	ck_assert(!u.tls && u.tunnel);
	ck_assert_int_eq(u.port, 554);
	ck_assert_int_eq(ing_rtsp_request_url("rtsph://[2001:db8::1]/x", &u, out, sizeof(out)), NVR_OK);
	ck_assert_str_eq(out, "rtsp://[2001:db8::1]:554/x");
	ck_assert_int_eq(ing_rtsp_url_parse("rtsps://cam/x", &u, &why), NVR_OK);
	ck_assert(!u.tunnel);
	ck_assert_int_eq(ing_rtsp_request_url("rtsps://cam/x", &u, out, sizeof(out)), NVR_OK);
	ck_assert_str_eq(out, "rtsps://cam/x");
	ck_assert_int_eq(ing_rtsp_url_parse("rtsp://cam:99999/", &u, &why), NVR_ERR_INVAL);
	ck_assert_int_eq(ing_rtsp_url_parse("rtsp://cam/a b", &u, &why), NVR_ERR_INVAL);
	ck_assert_int_eq(ing_rtsp_resolve("rtsps://h/cam1/", "stream=0", out, sizeof(out)), NVR_OK);
	ck_assert_str_eq(out, "rtsps://h/cam1/stream=0");
	ck_assert_int_eq(ing_rtsp_resolve("rtsps://h/cam1", "stream=0", out, sizeof(out)), NVR_OK);
	ck_assert_str_eq(out, "rtsps://h/cam1/stream=0");
	ck_assert_int_eq(ing_rtsp_resolve("rtsps://h/cam1/", "rtsps://other/x", out, sizeof(out)), NVR_OK);
	ck_assert_str_eq(out, "rtsps://other/x");
	ck_assert_int_eq(ing_rtsp_resolve("rtsps://h/cam1/", "*", out, sizeof(out)), NVR_OK);
	ck_assert_str_eq(out, "rtsps://h/cam1/");
}
END_TEST

/* RFC 7616 3.9.1: the same challenge answered with SHA-256 and MD5. */
START_TEST(digest_rfc7616_example)
{
	const char *ch[] = {
		"Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, "
		"nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
		"Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, "
		"nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
	};
	struct ing_auth_challenge c;
	const char *why;
	char out[1024];

	ck_assert_int_eq(ing_auth_parse(ch, 2, false, &c, &why), NVR_OK);
	ck_assert_int_eq(c.alg, ING_DIGEST_SHA256); /* the stronger one wins */
	ck_assert(c.qop_auth);
	ck_assert_int_eq(ing_auth_header(&c, "Mufasa", "Circle of Life", "GET", "/dir/index.html", 1,
	    "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", out, sizeof(out)), NVR_OK);
	ck_assert_ptr_nonnull(strstr(out, "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""));
	ck_assert_ptr_nonnull(strstr(out, "nc=00000001"));
	ck_assert_ptr_nonnull(strstr(out, "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
	ck_assert_ptr_null(strstr(out, "Circle of Life"));
	ck_assert_int_eq(ing_auth_parse(ch + 1, 1, false, &c, &why), NVR_OK);
	ck_assert_int_eq(ing_auth_header(&c, "Mufasa", "Circle of Life", "GET", "/dir/index.html", 1,
	    "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", out, sizeof(out)), NVR_OK);
	ck_assert_ptr_nonnull(strstr(out, "response=\"8ca523f5e9506fed4657c9700eebdbec\""));
}
END_TEST

START_TEST(basic_only_when_allowed)
{
	const char *basic[] = { "Basic realm=\"cam\"" };
	const char *both[] = { "Basic realm=\"cam\", Digest realm=\"cam\", nonce=\"abc\"" };
	struct ing_auth_challenge c;
	const char *why;
	char out[256];

	ck_assert_int_eq(ing_auth_parse(basic, 1, false, &c, &why), NVR_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "only Basic"));
	ck_assert_int_eq(ing_auth_parse(basic, 1, true, &c, &why), NVR_OK);
	ck_assert_int_eq(c.scheme, ING_AUTH_BASIC);
	ck_assert_int_eq(ing_auth_header(&c, "Aladdin", "open sesame", "DESCRIBE", "rtsp://x/", 1, "c", out, sizeof(out)),
	    NVR_OK);
	ck_assert_str_eq(out, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	/* Digest is preferred even when Basic is allowed; RFC 2069 (no qop) */
	ck_assert_int_eq(ing_auth_parse(both, 1, true, &c, &why), NVR_OK);
	ck_assert_int_eq(c.scheme, ING_AUTH_DIGEST);
	ck_assert(!c.qop_auth);
	ck_assert_int_eq(ing_auth_header(&c, "u\"x", "p", "DESCRIBE", "rtsp://x/", 1, "c", out, sizeof(out)), NVR_OK);
	ck_assert_ptr_nonnull(strstr(out, "username=\"u\\\"x\""));
	ck_assert_ptr_null(strstr(out, "nc="));
}
END_TEST

START_TEST(challenges_malformed)
{
	const char *bad[] = { "Digest realm=\"unterminated", "Digest realm", "Digest =x", "Negotiate abc" };
	struct ing_auth_challenge c;
	const char *why;
	char long_nonce[600];

	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(ing_auth_parse(&bad[i], 1, true, &c, &why), NVR_ERR_INVAL);
	snprintf(long_nonce, sizeof(long_nonce), "Digest realm=\"r\", nonce=\"%0500d\"", 1);
	{
		const char *v[] = { long_nonce };
		ck_assert_int_eq(ing_auth_parse(v, 1, false, &c, &why), NVR_ERR_INVAL);
	}
	/* auth-int only, or hashed user names: not offered, so refused */
	{
		const char *v[] = { "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"" };
		ck_assert_int_eq(ing_auth_parse(v, 1, false, &c, &why), NVR_ERR_INVAL);
	}
}
END_TEST

/* An SDP as gst-rtsp-server makes it, with a MIKEY message built by
 * GStreamer from a known key. */
static char *
sdp_with_mikey(const uint8_t key[30], uint32_t ssrc)
{
	GstBuffer *kb = gst_buffer_new_memdup(key, 30);
	GstCaps *caps = gst_caps_new_simple("application/x-srtp", "srtp-key", GST_TYPE_BUFFER, kb, "srtp-cipher",
	    G_TYPE_STRING, "aes-128-icm", "srtp-auth", G_TYPE_STRING, "hmac-sha1-80", "srtcp-cipher", G_TYPE_STRING,
	    "aes-128-icm", "srtcp-auth", G_TYPE_STRING, "hmac-sha1-80", NULL);
	GstMIKEYMessage *msg = gst_mikey_message_new_from_caps(caps);
	GBytes *bytes;
	gchar *b64, *sdp;

	gst_mikey_message_add_cs_srtp(msg, 0, ssrc, 7);
	bytes = gst_mikey_message_to_bytes(msg, NULL, NULL);
	b64 = g_base64_encode(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
	sdp = g_strdup_printf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\na=control:*\r\n"
			      "m=video 0 RTP/SAVP 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 H264/90000\r\n"
			      "a=control:stream=0\r\na=key-mgmt:mikey %s\r\n"
			      "m=audio 0 RTP/SAVP 0\r\na=control:stream=1\r\n"
			      "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20\r\n",
	    b64);
	g_free(b64);
	g_bytes_unref(bytes);
	gst_mikey_message_unref(msg);
	gst_caps_unref(caps);
	gst_buffer_unref(kb);
	return sdp;
}

START_TEST(sdp_mikey_and_sdes)
{
	uint8_t key[30];
	struct ing_sdp sdp;
	const char *why;
	char *text;
	size_t len;

	for (int i = 0; i < 30; i++)
		key[i] = (uint8_t)(0xa0 + i);
	text = sdp_with_mikey(key, 0xdeadbeef);
	len = strlen(text);
	ck_assert_int_eq(ing_sdp_parse((uint8_t *)text, len, "rtsps://h/cam1/", &sdp, &why), NVR_OK);
	/* the SDP text given in was wiped: it carried the key */
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(text[i], 0);
	ck_assert_uint_eq(sdp.n, 2);
	ck_assert_str_eq(sdp.m[0].name, "video");
	ck_assert_str_eq(sdp.m[0].control, "rtsps://h/cam1/stream=0");
	ck_assert_str_eq(sdp.m[0].encoding, "H264");
	ck_assert_int_eq(sdp.m[0].clock_rate, 90000);
	ck_assert(sdp.m[0].secure);
	ck_assert_int_eq(sdp.m[0].key_source, ING_KEY_MIKEY);
	ck_assert_int_eq(sdp.m[0].suite, ING_SRTP_AES128_SHA1_80);
	ck_assert_mem_eq(sdp.m[0].key, key, 16);
	ck_assert_mem_eq(sdp.m[0].salt, key + 16, 14);
	ck_assert_uint_eq(sdp.m[0].ssrc, 0xdeadbeef);
	ck_assert_uint_eq(sdp.m[0].roc, 7);
	/* the audio stream's key came by SDES */
	ck_assert_str_eq(sdp.m[1].name, "audio");
	ck_assert_int_eq(sdp.m[1].key_source, ING_KEY_SDES);
	ck_assert_str_eq(sdp.m[1].encoding, "");
	ing_sdp_wipe(&sdp);
	for (size_t i = 0; i < 16; i++)
		ck_assert_int_eq(sdp.m[0].key[i], 0);
	g_free(text);
}
END_TEST

START_TEST(sdp_refusals)
{
	static const char *const bad[] = {
		"",
		"v=0\r\ns=no media\r\n",
		"v=0\r\nm=video 0 RTP/SAVP 96\r\na=key-mgmt:mikey !!!notbase64\r\n",
		"v=0\r\nm=video 0 RTP/SAVP 96\r\na=key-mgmt:mikey AAAA\r\n",
		"v=0\r\nm=video 0 RTP/SAVP 96\r\na=crypto:1 NULL_CIPHER inline:AAAA\r\n",
		"v=0\r\nm=video 0 RTP/SAVP 96\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n",
		"v=0\r\nm=video 0 RTP/SAVP 96\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n",
	};
	struct ing_sdp sdp;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *copy = strdup(bad[i]);
		why = NULL;
		ck_assert_msg(ing_sdp_parse((uint8_t *)copy, strlen(copy), "rtsp://h/", &sdp, &why) == NVR_ERR_INVAL,
		    "accepted SDP %zu", i);
		ck_assert_ptr_nonnull(why);
		free(copy);
	}
}
END_TEST

/* Parses one video media with the given a=crypto lines (a %s in them is
 * replaced by key, the base64 given). */
static nvr_err
parse_sdes(const char *lines, const char *key, struct ing_sdp *sdp, const char **why)
{
	char text[2048], crypto[1024];
	size_t n = 0;
	nvr_err rc;

	for (const char *p = lines; *p != '\0' && n + strlen(key) + 1 < sizeof(crypto); p++) {
		if (p[0] == '%' && p[1] == 's') {
			memcpy(crypto + n, key, strlen(key));
			n += strlen(key);
			p++;
		} else {
			crypto[n++] = *p;
		}
	}
	crypto[n] = '\0';
	snprintf(text, sizeof(text), "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\n"
				     "m=video 0 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\na=control:stream=0\r\n%s",
	    crypto);
	*why = NULL;
	rc = ing_sdp_parse((uint8_t *)text, strlen(text), "rtsps://h/cam1/", sdp, why);
	return rc;
}

static char *
b64_of_bytes(uint8_t first, size_t len)
{
	uint8_t k[64];

	for (size_t i = 0; i < len; i++)
		k[i] = (uint8_t)(first + i);
	return nvr_b64_encode(k, len);
}

/* RFC 4568 as cameras write it: several lines in order of preference,
 * lifetimes, session parameters that do no harm, the AEAD suites of RFC
 * 7714 and AES-256 of RFC 6188, base64 without its padding. */
START_TEST(sdp_sdes_forms)
{
	char *k30 = b64_of_bytes(0x10, 30), *k46 = b64_of_bytes(0x40, 46);
	char *k28 = b64_of_bytes(0x80, 28), *k44 = b64_of_bytes(0xc0, 44), *k28bare;
	uint8_t want[46];
	struct ing_sdp sdp;
	const char *why;

	/* an unknown suite first, then AEAD_AES_256_GCM with a lifetime */
	ck_assert_int_eq(parse_sdes("a=crypto:1 AES_192_CM_HMAC_SHA1_80 inline:%s\r\n"
				    "a=crypto:2 AEAD_AES_256_GCM inline:%s|2^31\r\n", k44, &sdp, &why), NVR_OK);
	ck_assert_int_eq(sdp.m[0].key_source, ING_KEY_SDES);
	ck_assert_int_eq(sdp.m[0].suite, ING_SRTP_AEAD_AES256_GCM);
	for (int i = 0; i < 44; i++)
		want[i] = (uint8_t)(0xc0 + i);
	ck_assert_mem_eq(sdp.m[0].key, want, 32);
	ck_assert_mem_eq(sdp.m[0].salt, want + 32, 12);
	ing_sdp_wipe(&sdp);

	/* a supported suite with an MKI is passed over for the next line */
	ck_assert_int_eq(parse_sdes("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:4\r\n"
				    "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:%s|1048576\r\n", k30, &sdp, &why), NVR_OK);
	ck_assert_int_eq(sdp.m[0].suite, ING_SRTP_AES128_SHA1_32);
	for (int i = 0; i < 30; i++)
		want[i] = (uint8_t)(0x10 + i);
	ck_assert_mem_eq(sdp.m[0].key, want, 16);
	ck_assert_mem_eq(sdp.m[0].salt, want + 16, 14);

	/* session parameters that do not weaken anything */
	ck_assert_int_eq(parse_sdes("a=crypto:7 AES_256_CM_HMAC_SHA1_80 inline:%s KDR=0 WSH=128 FEC_ORDER=FEC_SRTP -X-VENDOR\r\n",
			     k46, &sdp, &why), NVR_OK);
	ck_assert_int_eq(sdp.m[0].suite, ING_SRTP_AES256_SHA1_80);
	for (int i = 0; i < 46; i++)
		want[i] = (uint8_t)(0x40 + i);
	ck_assert_mem_eq(sdp.m[0].key, want, 32);
	ck_assert_mem_eq(sdp.m[0].salt, want + 32, 14);

	/* AEAD_AES_128_GCM: 28 bytes, padded or not */
	ck_assert_int_eq(parse_sdes("a=crypto:1 AEAD_AES_128_GCM inline:%s\r\n", k28, &sdp, &why), NVR_OK);
	ck_assert_int_eq(sdp.m[0].suite, ING_SRTP_AEAD_AES128_GCM);
	for (int i = 0; i < 28; i++)
		want[i] = (uint8_t)(0x80 + i);
	ck_assert_mem_eq(sdp.m[0].key, want, 16);
	ck_assert_mem_eq(sdp.m[0].salt, want + 16, 12);
	k28bare = strdup(k28);
	k28bare[strcspn(k28bare, "=")] = '\0';
	ck_assert_int_eq(parse_sdes("a=crypto:1 AEAD_AES_128_GCM inline:%s\r\n", k28bare, &sdp, &why), NVR_OK);
	ck_assert_mem_eq(sdp.m[0].salt, want + 16, 12);
	ing_sdp_wipe(&sdp);
	free(k30);
	free(k46);
	free(k28);
	free(k28bare);
	free(k44);
}
END_TEST

/* What must be refused, each with a reason that names the problem. */
START_TEST(sdp_sdes_refusals)
{
	char *k30 = b64_of_bytes(0x10, 30), *k46 = b64_of_bytes(0x40, 46);
	static const struct { const char *lines; int key; const char *reason; } bad[] = {
		{ "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s UNENCRYPTED_SRTP\r\n", 30, "UNENCRYPTED_SRTP" },
		{ "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s UNAUTHENTICATED_SRTP\r\n", 30, "UNAUTHENTICATED_SRTP" },
		{ "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s UNENCRYPTED_SRTCP\r\n", 30, "UNENCRYPTED_SRTCP" },
		{ "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s KDR=24\r\n", 30, "KDR" },
		{ "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s BOGUS=1\r\n", 30, "session parameter" },
		{ "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31|1:1\r\n", 30, "MKI" },
		{ "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:4;inline:%s|2^20|2:4\r\n", 30, "MKI" },
		{ "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^x\r\n", 30, "lifetime" },
		/* key lengths per suite */
		{ "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:%s\r\n", 30, "key" },
		{ "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n", 46, "key" },
		{ "a=crypto:1 AEAD_AES_128_GCM inline:%s\r\n", 30, "key" },
		{ "a=crypto:1 AEAD_AES_256_GCM inline:%s\r\n", 46, "key" },
		/* the reason is the known suite's, not the unknown one's */
		{ "a=crypto:1 F8_128_HMAC_SHA1_80 inline:%s\r\n"
		  "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:%s UNENCRYPTED_SRTP\r\n", 30, "UNENCRYPTED_SRTP" },
		{ "a=crypto:1 F8_128_HMAC_SHA1_80 inline:%s\r\n", 30, "suite" },
		{ "a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:%s\r\n", 30, "malformed" },
		{ "a=crypto:1 AES_CM_128_HMAC_SHA1_80\r\n", 30, "malformed" },
		{ "a=crypto:1 AES_CM_128_HMAC_SHA1_80 uri:%s\r\n", 30, "inline" },
	};
	struct ing_sdp sdp;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse_sdes(bad[i].lines, bad[i].key == 30 ? k30 : k46, &sdp, &why) == NVR_ERR_INVAL,
		    "accepted a=crypto %zu", i);
		ck_assert_msg(why != NULL && strstr(why, bad[i].reason) != NULL, "a=crypto %zu: reason '%s', not about %s", i,
		    why ? why : "(none)", bad[i].reason);
		/* nothing of a refused key is left behind */
		for (size_t j = 0; j < sizeof(sdp.m[0].key); j++)
			ck_assert_int_eq(sdp.m[0].key[j], 0);
	}
	free(k30);
	free(k46);
}
END_TEST

/* MIKEY chains on which GStreamer 1.22's parser never returns (ingest/mikey.h):
 * refused before it sees them, with a reason, and quickly (the test
 * timeout catches a hang). */
START_TEST(mikey_chains_that_hang_gstreamer_refused)
{
	/* header: version 1, PSK_INIT, next payload, V/PRF, CSB id (4), #CS 0, map type 0 */
	static const uint8_t dh_first[] = { 1, 0, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t unknown_first[] = { 1, 0, 200, 0, 0, 0, 0, 1, 0, 0, 0, 0 };
	/* T (NTP-UTC) then ERR */
	static const uint8_t t_then_err[] = { 1, 0, 5, 0, 0, 0, 0, 1, 0, 0, 12, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0 };
	/* KEMAC (NULL enc, NULL mac) holding KEY_DATA whose next payload is ID */
	static const uint8_t kemac_id[] = { 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 6, 6, 0x20, 0, 2, 0xaa, 0xbb, 0,
		0, 0 };
	/* what fuzz_sdp found (tests/fuzz/corpus/sdp/regress-mikey-hang) */
	static const char *found = "AQAFADaktF0BAADJ824oAAAAAAsA7qz0jzio0hsJEPNZG3hMJMPx8BaFrRyxxs0BAAAAFQABAQEBEAIBAQMB"
				   "CgcBAQgBAQoBAQAAACIAIaAeSR6Q06T2Kp2Wa+zFqgx4SSmBmGKGhSeBhgoZAv24AA==";
	const struct { const uint8_t *d; size_t n; } msgs[] = {
		{ dh_first, sizeof(dh_first) }, { unknown_first, sizeof(unknown_first) },
		{ t_then_err, sizeof(t_then_err) }, { kemac_id, sizeof(kemac_id) },
	};
	struct ing_sdp sdp;
	const char *why;
	char text[1024], *b64;

	for (size_t i = 0; i <= sizeof(msgs) / sizeof(msgs[0]); i++) {
		b64 = i < sizeof(msgs) / sizeof(msgs[0]) ? nvr_b64_encode(msgs[i].d, msgs[i].n) : strdup(found);
		ck_assert_ptr_nonnull(b64);
		snprintf(text, sizeof(text), "v=0\r\nm=video 0 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\n"
					     "a=key-mgmt:mikey %s\r\n", b64);
		free(b64);
		why = NULL;
		ck_assert_msg(ing_sdp_parse((uint8_t *)text, strlen(text), "rtsp://h/", &sdp, &why) == NVR_ERR_INVAL,
		    "accepted MIKEY %zu", i);
		ck_assert_msg(why != NULL && strstr(why, "MIKEY") != NULL, "reason: %s", why ? why : "(none)");
	}
}
END_TEST

int
main(int argc, char **argv)
{
	Suite *s = suite_create("rtsp");
	TCase *tc = tcase_create("parsers");

	gst_init(&argc, &argv);
	tcase_add_test(tc, response_with_body);
	tcase_add_test(tc, incremental_and_bounds);
	tcase_add_test(tc, malformed_refused);
	tcase_add_test(tc, server_request_and_values);
	tcase_add_test(tc, urls);
	tcase_add_test(tc, tunnel_answers);
	tcase_add_test(tc, transport_params);
	tcase_add_test(tc, digest_rfc7616_example);
	tcase_add_test(tc, basic_only_when_allowed);
	tcase_add_test(tc, challenges_malformed);
	tcase_add_test(tc, sdp_mikey_and_sdes);
	tcase_add_test(tc, mikey_chains_that_hang_gstreamer_refused);
	tcase_add_test(tc, sdp_refusals);
	tcase_add_test(tc, sdp_sdes_forms);
	tcase_add_test(tc, sdp_sdes_refusals);
	suite_add_tcase(s, tc);
	return harness_run(s);
}

/*
 * sdp.c: streams and SRTP keys out of a camera's SDP, through libgstsdp.
 * It must never log a key, and wipes every copy of one it or GStreamer
 * made before the memory is freed.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gst/sdp/gstmikey.h>
#include <gst/sdp/gstsdpmessage.h>
#include <openssl/crypto.h>

#include "ingest/rtsp.h"
#include "ingest/mikey.h"
#include "ingest/sdp.h"
#include "nvrd/encode.h"
#include "nvrd/util.h"

#define MAX_MIKEY 2048 /* decoded bytes; gst-rtsp-server's are ~100 */

void
ing_sdp_wipe(struct ing_sdp *sdp)
{
	for (size_t i = 0; i < ING_SDP_MAX_MEDIA; i++) {
		OPENSSL_cleanse(sdp->m[i].key, sizeof(sdp->m[i].key));
		OPENSSL_cleanse(sdp->m[i].salt, sizeof(sdp->m[i].salt));
	}
}

/* Wipes every attribute value of an SDP before it is freed: key-mgmt and
 * crypto lines carry keys, and GLib frees without clearing. */
static void
wipe_sdp_attributes(GstSDPMessage *msg)
{
	const GstSDPAttribute *a;

	for (guint i = 0; i < gst_sdp_message_attributes_len(msg); i++) {
		a = gst_sdp_message_get_attribute(msg, i);
		if (a->value != NULL)
			OPENSSL_cleanse(a->value, strlen(a->value));
	}
	for (guint i = 0; i < gst_sdp_message_medias_len(msg); i++) {
		const GstSDPMedia *m = gst_sdp_message_get_media(msg, i);
		for (guint j = 0; j < gst_sdp_media_attributes_len(m); j++) {
			a = gst_sdp_media_get_attribute(m, j);
			if (a->value != NULL)
				OPENSSL_cleanse(a->value, strlen(a->value));
		}
	}
}

/* ---- MIKEY (RFC 3830, as RFC 4567 carries it in a=key-mgmt) ----------- */

static int
sp_param(const GstMIKEYPayload *sp, guint8 type, int dflt)
{
	for (guint i = 0; i < gst_mikey_payload_sp_get_n_params(sp); i++) {
		const GstMIKEYPayloadSPParam *p = gst_mikey_payload_sp_get_param(sp, i);
		if (p->type == type && p->len == 1)
			return p->val[0];
	}
	return dflt;
}

/* The suite from the security policy payload (RFC 3830 6.10.1). */
static nvr_err
mikey_suite(const GstMIKEYMessage *msg, struct ing_sdp_media *m, const char **why)
{
	const GstMIKEYPayload *sp = gst_mikey_message_find_payload(msg, GST_MIKEY_PT_SP, 0);
	int enc = sp ? sp_param(sp, GST_MIKEY_SP_SRTP_ENC_ALG, GST_MIKEY_ENC_AES_CM_128) : GST_MIKEY_ENC_AES_CM_128;
	int klen = sp ? sp_param(sp, GST_MIKEY_SP_SRTP_ENC_KEY_LEN, 16) : 16;
	int tag = sp ? sp_param(sp, GST_MIKEY_SP_SRTP_AUTH_TAG_LEN, 10) : 10;

	if (sp != NULL && sp_param(sp, GST_MIKEY_SP_SRTP_KEY_DERIV_RATE, 0) != 0) {
		*why = "MIKEY asks for a key derivation rate, which we do not support";
		return NVR_ERR_INVAL;
	}
	if (enc == GST_MIKEY_ENC_AES_GCM_128)
		m->suite = klen == 32 ? ING_SRTP_AEAD_AES256_GCM : ING_SRTP_AEAD_AES128_GCM;
	else if (enc == GST_MIKEY_ENC_AES_CM_128 && (klen == 16 || klen == 32) && (tag == 10 || tag == 4))
		m->suite = klen == 32 ? (tag == 4 ? ING_SRTP_AES256_SHA1_32 : ING_SRTP_AES256_SHA1_80)
				      : (tag == 4 ? ING_SRTP_AES128_SHA1_32 : ING_SRTP_AES128_SHA1_80);
	else {
		*why = "MIKEY names an SRTP cipher or tag length we do not support";
		return NVR_ERR_INVAL;
	}
	return NVR_OK;
}

/* Copies the TEK/TGK out of the KEMAC payload and wipes it in GStreamer's
 * structures. Some senders put key and salt together in key_data. */
static nvr_err
mikey_key(GstMIKEYMessage *msg, struct ing_sdp_media *m, const char **why)
{
	const GstMIKEYPayload *kemac = gst_mikey_message_find_payload(msg, GST_MIKEY_PT_KEMAC, 0);
	const GstMIKEYPayloadKeyData *kd;
	size_t kl = ing_srtp_key_len(m->suite), sl = ing_srtp_salt_len(m->suite);
	nvr_err rc = NVR_OK;

	if (kemac == NULL || gst_mikey_payload_kemac_get_n_sub(kemac) < 1) {
		*why = "MIKEY message without a key";
		return NVR_ERR_INVAL;
	}
	if (((const GstMIKEYPayloadKEMAC *)kemac)->enc_alg != GST_MIKEY_ENC_NULL) {
		*why = "MIKEY key is encrypted (pre-shared or public-key MIKEY is not supported)";
		return NVR_ERR_INVAL;
	}
	kd = (const GstMIKEYPayloadKeyData *)gst_mikey_payload_kemac_get_sub(kemac, 0);
	if (kd->key_len == kl && kd->salt_len == sl) {
		memcpy(m->key, kd->key_data, kl);
		memcpy(m->salt, kd->salt_data, sl);
	} else if (kd->key_len == kl + sl && kd->salt_len == 0) {
		memcpy(m->key, kd->key_data, kl);
		memcpy(m->salt, kd->key_data + kl, sl);
	} else {
		*why = "MIKEY key or salt length does not match the SRTP suite";
		rc = NVR_ERR_INVAL;
	}
	if (kd->key_data != NULL)
		OPENSSL_cleanse(kd->key_data, kd->key_len);
	if (kd->salt_data != NULL)
		OPENSSL_cleanse(kd->salt_data, kd->salt_len);
	return rc;
}

static nvr_err
parse_mikey(const char *value, struct ing_sdp_media *m, const char **why)
{
	uint8_t *raw = NULL;
	size_t len = 0;
	GstMIKEYMessage *msg = NULL;
	const GstMIKEYMapSRTP *cs;
	const char *mwhy = NULL;
	nvr_err rc;

	/* "mikey <base64>"; decoded here so that the bytes can be wiped */
	if (strncasecmp(value, "mikey ", 6) != 0) {
		*why = "a=key-mgmt is not MIKEY";
		return NVR_ERR_INVAL;
	}
	if (nvr_b64_decode(value + 6, MAX_MIKEY, &raw, &len) != NVR_OK) {
		*why = "a=key-mgmt:mikey is not valid base64 or too long";
		return NVR_ERR_INVAL;
	}
	/* GStreamer's parser can loop forever: see ingest/mikey.h. */
	msg = ing_mikey_check(raw, len, &mwhy) == NVR_OK ? gst_mikey_message_new_from_data(raw, len, NULL, NULL) : NULL;
	OPENSSL_cleanse(raw, len);
	free(raw);
	if (msg == NULL) {
		*why = mwhy != NULL ? mwhy : "malformed MIKEY message";
		return NVR_ERR_INVAL;
	}
	if ((rc = mikey_suite(msg, m, why)) == NVR_OK && (rc = mikey_key(msg, m, why)) == NVR_OK) {
		m->key_source = ING_KEY_MIKEY;
		if (gst_mikey_message_get_n_cs(msg) > 0 && (cs = gst_mikey_message_get_cs_srtp(msg, 0)) != NULL) {
			m->ssrc = cs->ssrc;
			m->roc = cs->roc;
		}
	}
	gst_mikey_message_unref(msg);
	return rc;
}

/* ---- SDES (RFC 4568: a=crypto:<tag> <suite> <key-params> [<session-params>]) */

#define MAX_CRYPTO 512     /* one a=crypto value; real ones are under 150 */
#define MAX_CRYPTO_FIELDS 16

/* Why one session parameter (RFC 4568 6.3) keeps us from using the key,
 * or NULL. Anything that lets plaintext or unauthenticated packets through
 * is refused: the recorder stores what it receives and never decrypts. An
 * unknown parameter may change what the packets mean, so it is refused
 * too, unless it starts with "-" (an optional, experimental one). */
static const char *
crypto_session_param(const char *p)
{
	if (strcmp(p, "UNENCRYPTED_SRTP") == 0)
		return "a=crypto says the camera sends RTP unencrypted (UNENCRYPTED_SRTP): refused";
	if (strcmp(p, "UNENCRYPTED_SRTCP") == 0)
		return "a=crypto says the camera sends RTCP unencrypted (UNENCRYPTED_SRTCP): refused";
	if (strcmp(p, "UNAUTHENTICATED_SRTP") == 0)
		return "a=crypto says the camera sends RTP unauthenticated (UNAUTHENTICATED_SRTP): refused";
	/* RFC 4568 6.3.1: KDR=n (1..24) re-derives the session keys every 2^n
	 * packets (RFC 3711 4.3.1); we derive the auth key once, as when KDR
	 * is absent. Some senders write KDR=0 for that. */
	if (strncmp(p, "KDR=", 4) == 0)
		return strcmp(p + 4, "0") == 0 ? NULL : "a=crypto asks for a key derivation rate (KDR), which we do not support";
	/* a replay window hint, and forward error correction, which we do not use */
	if (strncmp(p, "WSH=", 4) == 0 || strncmp(p, "FEC_ORDER=", 10) == 0 || strncmp(p, "FEC_KEY=", 8) == 0 ||
	    p[0] == '-')
		return NULL;
	return "a=crypto has a session parameter we do not know";
}

/* "[2^]digits" (RFC 4568 6.1): the key's lifetime in packets. We keep the
 * key for the whole session whatever it says: SRTP allows at most 2^48. */
static bool
crypto_lifetime(const char *s, size_t len)
{
	size_t i = len >= 2 && s[0] == '2' && s[1] == '^' ? 2 : 0;

	if (i == len || len - i > 20)
		return false;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

/* "inline:<base64(key || salt)>[|lifetime][|MKI:length]" (RFC 4568 6.1).
 * Puts the key and salt of suite into m; returns NULL, or why not. */
static const char *
crypto_key(const char *kp, enum ing_srtp_suite suite, struct ing_sdp_media *m)
{
	size_t kl = ing_srtp_key_len(suite), sl = ing_srtp_salt_len(suite), n, len = 0;
	const char *why = NULL;
	char b64[68];
	uint8_t *ks = NULL;

	if (strncmp(kp, "inline:", 7) != 0)
		return "a=crypto gives its key by a method other than inline";
	kp += 7;
	/* several keys are told apart by their MKI (RFC 4568 6.1) */
	if (strchr(kp, ';') != NULL || strchr(kp, ':') != NULL)
		return "a=crypto uses an MKI (master key identifier), which we do not support";
	/* without an MKI, what may follow the key is one lifetime */
	n = strcspn(kp, "|");
	if (kp[n] == '|' && !crypto_lifetime(kp + n + 1, strlen(kp + n + 1)))
		return "malformed a=crypto key lifetime";
	if (n == 0 || n > 64)
		return "a=crypto key is not base64 of the suite's key and salt";
	/* RFC 4568 asks for padded base64; some senders leave the padding out */
	memcpy(b64, kp, n);
	while (n % 4 != 0)
		b64[n++] = '=';
	b64[n] = '\0';
	if (nvr_b64_decode(b64, kl + sl, &ks, &len) != NVR_OK || len != kl + sl) {
		why = "a=crypto key is not base64 of the suite's key and salt (wrong length for the suite?)";
	} else {
		memcpy(m->key, ks, kl);
		memcpy(m->salt, ks + kl, sl);
	}
	if (ks != NULL)
		OPENSSL_cleanse(ks, len);
	free(ks);
	OPENSSL_cleanse(b64, sizeof(b64));
	return why;
}

/* Splits s in place at spaces and tabs; the number of fields, or 0 if more
 * than max. */
static size_t
split_fields(char *s, char **field, size_t max)
{
	size_t n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			*s++ = '\0';
		if (*s == '\0')
			return n;
		if (n == max)
			return 0;
		field[n++] = s;
		s += strcspn(s, " \t");
	}
}

/* One a=crypto value: NULL if its key is usable, then in m; else why not.
 * *known tells whether it named a suite we support. */
static const char *
crypto_line(const char *value, struct ing_sdp_media *m, bool *known)
{
	char line[MAX_CRYPTO], *f[MAX_CRYPTO_FIELDS] = { NULL };
	const char *why = NULL, *end;
	enum ing_srtp_suite suite;
	size_t n = 0;
	long tag;

	*known = false;
	if (strlen(value) < sizeof(line)) {
		memcpy(line, value, strlen(value) + 1);
		n = split_fields(line, f, MAX_CRYPTO_FIELDS);
	}
	/* tag: 1*9DIGIT (RFC 4568 9.1) */
	if (n < 3 || strlen(f[0]) > 9 || !nvr_parse_num(f[0], &end, 0, 999999999, &tag) || *end != '\0') {
		why = "malformed a=crypto line";
	} else if (ing_srtp_suite_parse(f[1], &suite) != NVR_OK) {
		why = "a=crypto names no SRTP suite we support";
	} else {
		*known = true;
		for (size_t i = 3; i < n && why == NULL; i++)
			why = crypto_session_param(f[i]);
		if (why == NULL && (why = crypto_key(f[2], suite, m)) == NULL)
			m->suite = suite;
	}
	OPENSSL_cleanse(line, sizeof(line));
	return why;
}

/* A camera may offer several a=crypto lines, in its order of preference
 * (RFC 4568 5.1): the first we can use wins. If none can, the reason given
 * is the first line's that names a suite we know, else the first line's. */
static nvr_err
parse_crypto(const GstSDPMedia *gm, struct ing_sdp_media *m, const char **why)
{
	const char *value, *w, *first = NULL, *first_known = NULL;
	bool known;

	for (guint i = 0; (value = gst_sdp_media_get_attribute_val_n(gm, "crypto", i)) != NULL; i++) {
		if ((w = crypto_line(value, m, &known)) == NULL) {
			m->key_source = ING_KEY_SDES;
			return NVR_OK;
		}
		if (first == NULL)
			first = w;
		if (known && first_known == NULL)
			first_known = w;
	}
	*why = first_known != NULL ? first_known : first;
	return NVR_ERR_INVAL;
}

/* ---- media ----------------------------------------------------------------- */

static void
name_stream(struct ing_sdp *sdp, struct ing_sdp_media *m, const char *kind)
{
	int same = 1;

	for (size_t i = 0; i < sdp->n; i++) {
		if (strncmp(sdp->m[i].name, kind, strlen(kind)) == 0)
			same++;
	}
	if (same == 1)
		snprintf(m->name, sizeof(m->name), "%.12s", kind);
	else
		snprintf(m->name, sizeof(m->name), "%.12s%c", kind, (char)('0' + same % 10));
}

/* "PT ENCODING/RATE[/PARAMS]" (RFC 4566 6): true if it names payload type
 * pt, with the encoding (at most 31 characters) and rate it gives. */
static bool
rtpmap_of(const char *map, long pt, char enc[32], long *rate)
{
	const char *p, *slash;
	long v;

	if (!nvr_parse_num(map, &p, 0, 127, &v) || v != pt || *p != ' ')
		return false;
	p++;
	if ((slash = strchr(p, '/')) == NULL || slash == p || slash - p > 31)
		return false;
	memcpy(enc, p, (size_t)(slash - p));
	enc[slash - p] = '\0';
	if (!nvr_parse_num(slash + 1, NULL, 1, 10000000, rate))
		*rate = 0;
	return true;
}

static void
parse_rtpmap(const GstSDPMedia *gm, struct ing_sdp_media *m)
{
	const char *fmt = gst_sdp_media_get_format(gm, 0), *map, *end;
	char enc[32];
	long pt, rate;

	m->pt = fmt != NULL && nvr_parse_num(fmt, &end, 0, 127, &pt) && *end == '\0' ? (int)pt : -1;
	for (guint i = 0; m->pt >= 0 && (map = gst_sdp_media_get_attribute_val_n(gm, "rtpmap", i)) != NULL; i++) {
		if (rtpmap_of(map, m->pt, enc, &rate)) {
			snprintf(m->encoding, sizeof(m->encoding), "%s", enc);
			m->clock_rate = (int)rate;
			return;
		}
	}
	/* static payload types (RFC 3551): 26 is JPEG at 90 kHz */
	if (m->pt == 26) {
		snprintf(m->encoding, sizeof(m->encoding), "JPEG");
		m->clock_rate = 90000;
	}
}

static nvr_err
parse_media(struct ing_sdp *sdp, const GstSDPMessage *msg, const GstSDPMedia *gm, const char *base,
    const char **why)
{
	struct ing_sdp_media *m = &sdp->m[sdp->n];
	const char *kind = gst_sdp_media_get_media(gm), *proto = gst_sdp_media_get_proto(gm);
	const char *control = gst_sdp_media_get_attribute_val(gm, "control");
	const char *km = gst_sdp_media_get_attribute_val(gm, "key-mgmt");
	bool crypto = gst_sdp_media_get_attribute_val(gm, "crypto") != NULL;

	if (kind == NULL || proto == NULL ||
	    (strcmp(kind, "video") != 0 && strcmp(kind, "audio") != 0 && strcmp(kind, "application") != 0))
		return NVR_OK; /* not a stream we record */
	*m = (struct ing_sdp_media){ .suite = ING_SRTP_AES128_SHA1_80 };
	name_stream(sdp, m, kind);
	m->secure = strncmp(proto, "RTP/SAVP", 8) == 0;
	parse_rtpmap(gm, m);
	if (ing_rtsp_resolve(base, control ? control : "*", m->control, sizeof(m->control)) != NVR_OK) {
		*why = "control URL too long";
		return NVR_ERR_INVAL;
	}
	if (km == NULL)
		km = gst_sdp_message_get_attribute_val(msg, "key-mgmt");
	if (m->secure && km != NULL && parse_mikey(km, m, why) != NVR_OK)
		return NVR_ERR_INVAL;
	if (m->secure && m->key_source == ING_KEY_NONE && crypto && parse_crypto(gm, m, why) != NVR_OK)
		return NVR_ERR_INVAL;
	sdp->n++;
	return NVR_OK;
}

nvr_err
ing_sdp_parse(uint8_t *body, size_t len, const char *base, struct ing_sdp *sdp, const char **why)
{
	GstSDPMessage *msg = NULL;
	nvr_err rc = NVR_OK;

	*why = NULL;
	memset(sdp, 0, sizeof(*sdp));
	if (gst_sdp_message_new(&msg) != GST_SDP_OK)
		return NVR_ERR_NOMEM;
	if (len == 0 || gst_sdp_message_parse_buffer(body, (guint)len, msg) != GST_SDP_OK ||
	    gst_sdp_message_medias_len(msg) == 0) {
		*why = "no SDP, or an SDP without media";
		rc = NVR_ERR_INVAL;
		goto out;
	}
	for (guint i = 0; i < gst_sdp_message_medias_len(msg) && rc == NVR_OK; i++) {
		if (sdp->n == ING_SDP_MAX_MEDIA) {
			*why = "more than 8 media streams";
			rc = NVR_ERR_INVAL;
			break;
		}
		rc = parse_media(sdp, msg, gst_sdp_message_get_media(msg, i), base, why);
	}
	if (rc == NVR_OK && sdp->n == 0) {
		*why = "the SDP has no audio, video or application stream";
		rc = NVR_ERR_INVAL;
	}
out:
	wipe_sdp_attributes(msg);
	gst_sdp_message_free(msg);
	OPENSSL_cleanse(body, len);
	if (rc != NVR_OK)
		ing_sdp_wipe(sdp);
	return rc;
}

/*
 * sdp.h: what the recorder needs from a camera's SDP (RFC 4566): the media
 * streams, their control URLs, codecs, profiles, and SRTP keys from MIKEY
 * (RFC 3830/4567, a=key-mgmt, as gst-rtsp-server sends it) or SDES
 * (RFC 4568, a=crypto). Parsing is GStreamer's libgstsdp.
 *
 * Keys are copied out and every copy GStreamer made is wiped before it is
 * freed (GLib's allocator does not), as is the SDP text given in.
 */
#ifndef NVR_ING_SDP_H
#define NVR_ING_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/srtp.h"
#include "nvrd/err.h"

#define ING_SDP_MAX_MEDIA 8
#define ING_SDP_MAX_URL 1024

/* ING_KEY_INGEST: plain RTP, protected by the recorder (ingest/protect.h) */
enum ing_sdp_key_source { ING_KEY_NONE, ING_KEY_MIKEY, ING_KEY_SDES, ING_KEY_INGEST };

struct ing_sdp_media {
	char name[16];          /* "video", "audio", "video2" ...: stream names */
	char control[ING_SDP_MAX_URL]; /* absolute URL for SETUP */
	char encoding[32];      /* "H264", "H265", "JPEG" ... */
	int pt;
	int clock_rate;
	bool secure;            /* RTP/SAVP (or SAVPF) */
	enum ing_sdp_key_source key_source;
	enum ing_srtp_suite suite;
	uint8_t key[32];        /* master key: wiped by ing_sdp_wipe() */
	uint8_t salt[14];
	uint32_t ssrc;          /* from MIKEY's CS map; 0 if unknown */
	uint32_t roc;
};

struct ing_sdp {
	size_t n;
	struct ing_sdp_media m[ING_SDP_MAX_MEDIA];
};

/*
 * Parses an SDP body (len bytes, need not be NUL-terminated). base is the
 * URL that control attributes resolve against (Content-Base, else the
 * DESCRIBE URL). Media other than audio, video and application are left
 * out. The body is wiped in place after parsing (it may carry keys).
 * NVR_ERR_INVAL with why on malformed input or keys we cannot use (an
 * encrypted KEMAC, an MKI, a key derivation rate, an unknown suite, SDES
 * session parameters that turn off encryption or authentication). Of
 * several a=crypto lines the first whose key we can use is taken.
 */
nvr_err ing_sdp_parse(uint8_t *body, size_t len, const char *base, struct ing_sdp *out,
    const char **why);

/* Wipes every key in sdp (OPENSSL_cleanse). */
void ing_sdp_wipe(struct ing_sdp *sdp);

#endif

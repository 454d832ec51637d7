/*
 * rtp.h: the clear parts of RTP and RTCP packets (RFC 3550), which SRTP
 * leaves unencrypted: header, CSRCs, header extension. The ONVIF extension
 * (profile 0xABAC: NTP time and the clean-point flag) is read from there
 * without decrypting anything.
 *
 * Hand-written rather than GStreamer's gst_rtp_buffer_*: those need a
 * GstBuffer per packet, an allocation on a path that runs 200,000 times a
 * second. Every length read is checked against the packet's size.
 */
#ifndef NVR_ING_RTP_H
#define NVR_ING_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

#define ING_RTP_ONVIF_PROFILE 0xABAC

struct ing_rtp {
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint8_t pt;
	bool marker;
	size_t header_len;   /* fixed header, CSRCs and extension */
	bool onvif;          /* ONVIF replay extension present */
	uint64_t onvif_ntp;  /* NTP time, 32.32 fixed point */
	bool clean_point;    /* ONVIF C flag: first packets of a key frame */
	bool discontinuity;  /* ONVIF D flag */
};

/* Parses the header of an RTP packet of len bytes (len excludes any SRTP
 * tag). NVR_ERR_INVAL when it is not RTP version 2 or a length overflows. */
nvr_err ing_rtp_parse(const uint8_t *p, size_t len, struct ing_rtp *out);

/* RTCP packets are told from RTP by their packet type (RFC 5761 4:
 * 192..223 for RTCP when both share a channel). */
bool ing_rtp_is_rtcp(const uint8_t *p, size_t len);

/* NTP 32.32 time to Unix nanoseconds. */
int64_t ing_rtp_ntp_to_unix_ns(uint64_t ntp);

#endif

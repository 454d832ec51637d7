/*
 * rtp.c: RFC 3550 header parsing with the ONVIF header extension.
 */
#include "autoconfig.h"

#include "ingest/rtp.h"

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ONVIF Streaming Specification 6.3: extension profile 0xABAC, length >= 3
 * words: NTP timestamp (8 bytes), then C E D T flags, CSeq, 2 reserved. */
static void
parse_onvif(const uint8_t *ext, size_t words, struct ing_rtp *r)
{
	if (words < 3)
		return;
	r->onvif = true;
	r->onvif_ntp = (uint64_t)be32(ext) << 32 | be32(ext + 4);
	r->clean_point = (ext[8] & 0x80) != 0;
	r->discontinuity = (ext[8] & 0x20) != 0;
}

nvr_err
ing_rtp_parse(const uint8_t *p, size_t len, struct ing_rtp *r)
{
	size_t hl, words;
	uint16_t profile;

	*r = (struct ing_rtp){ 0 };
	if (len < 12 || (p[0] >> 6) != 2)
		return NVR_ERR_INVAL;
	hl = 12 + 4 * (size_t)(p[0] & 0x0f);
	if (hl > len)
		return NVR_ERR_INVAL;
	r->marker = (p[1] & 0x80) != 0;
	r->pt = p[1] & 0x7f;
	r->seq = be16(p + 2);
	r->ts = be32(p + 4);
	r->ssrc = be32(p + 8);
	if (p[0] & 0x10) { /* X: one header extension follows the CSRCs */
		if (hl + 4 > len)
			return NVR_ERR_INVAL;
		profile = be16(p + hl);
		words = be16(p + hl + 2);
		if (hl + 4 + 4 * words > len)
			return NVR_ERR_INVAL;
		if (profile == ING_RTP_ONVIF_PROFILE)
			parse_onvif(p + hl + 4, words, r);
		hl += 4 + 4 * words;
	}
	r->header_len = hl;
	return NVR_OK;
}

bool
ing_rtp_is_rtcp(const uint8_t *p, size_t len)
{
	return len >= 8 && (p[0] >> 6) == 2 && p[1] >= 192 && p[1] <= 223;
}

int64_t
ing_rtp_ntp_to_unix_ns(uint64_t ntp)
{
	/* 2208988800 s from 1900-01-01 (NTP) to 1970-01-01 (Unix). */
	int64_t sec = (int64_t)(ntp >> 32) - 2208988800LL;
	int64_t frac = (int64_t)(((ntp & 0xffffffffULL) * 1000000000ULL) >> 32);

	return sec * 1000000000LL + frac;
}

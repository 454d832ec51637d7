/*
 * capfile.h: the capture file that nvr-bench-capture writes and nvr-loadgen
 * replays: the RTP packets of one camera with their receive times.
 *
 * Layout (all integers big-endian):
 *   "NVRCAP1\n"
 *   u32 length, then the SDP text the camera sent in its DESCRIBE reply
 *   records: u32 length, u64 receive time in ns relative to the first
 *            packet, then the RTP packet (header, extensions, payload)
 *
 * Loading checks every length against the file and every packet's RTP
 * header, so a truncated or foreign file is refused with a reason rather
 * than replayed as garbage.
 */
#ifndef NVR_BENCH_CAPFILE_H
#define NVR_BENCH_CAPFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nvrd/err.h"

#define BENCH_CAP_MAGIC "NVRCAP1\n"
#define BENCH_CAP_MAGIC_LEN 8
#define BENCH_CAP_MAX_SDP 16384
/* An interleaved frame carries at most 65535 bytes; keep room for the SRTP
 * trailer that protection adds. */
#define BENCH_CAP_MAX_PACKET 65000
#define BENCH_CAP_MIN_PACKET 12 /* the fixed RTP header */

/* ONVIF Streaming Specification, RTP header extension "0xABAC". */
#define BENCH_ONVIF_EXT_ID 0xABAC

struct bench_cap_packet {
	uint64_t t_ns;       /* receive time, relative to the first packet */
	const uint8_t *data; /* points into bench_cap.blob */
	uint32_t len;
	uint32_t rel_ts;     /* RTP timestamp minus the first packet's */
	uint16_t hdr_len;    /* fixed header + CSRCs + extension */
	int16_t onvif_off;   /* offset of the ONVIF NTP field, or -1 */
};

struct bench_cap {
	char *sdp;           /* NUL-terminated */
	uint8_t *blob;       /* the whole file */
	struct bench_cap_packet *packets;
	size_t n_packets;
	uint64_t payload_bytes; /* RTP payload only, without headers */
};

/* Writes the file header. Returns NVR_ERR_IO (errno set) on failure. */
nvr_err bench_cap_write_header(FILE *f, const char *sdp, size_t sdp_len);

/* Appends one record. */
nvr_err bench_cap_write_packet(FILE *f, uint64_t t_ns, const uint8_t *pkt, size_t len);

/* Loads and checks a capture; on failure logs why. The caller frees *out
 * with bench_cap_free(). */
nvr_err bench_cap_load(const char *path, struct bench_cap **out);
void bench_cap_free(struct bench_cap *cap);

/* Parses the RTP header of pkt: header length and ONVIF field offset.
 * NVR_ERR_INVAL if it is not RTP version 2 or a length runs past the end. */
nvr_err bench_rtp_parse(const uint8_t *pkt, size_t len, uint16_t *hdr_len, int16_t *onvif_off);

static inline uint32_t
bench_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
bench_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
bench_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

#endif

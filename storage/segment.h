/*
 * segment.h: the segment file format (docs/FORMAT.md has the byte layout
 * and a worked example). A segment holds one stream's packets, each exactly
 * as the camera sent it (SRTP: still encrypted, with its tag), in records
 * that carry the arrival time. Writers, the start-up repair and the
 * verifier all read and write it through this interface.
 *
 *   header   96 bytes: magic "NVRSEG1\n", u32 header length (96), u32
 *            version (1), segment id, camera id, stream id, key id (16
 *            bytes each), u64 sequence number, i64 start (ns, Unix, UTC)
 *   records  16-byte header: u8 kind, u8 flags, u16 zero, u32 length,
 *            i64 arrival (ns, Unix, UTC); then length bytes
 *
 * All integers are big-endian. PAD records (zeros) align flushes to 4 KiB
 * for O_DIRECT writes; a record header of zeros is never valid, so a
 * zero-filled or torn tail ends the valid part of a file.
 */
#ifndef NVR_STG_SEGMENT_H
#define NVR_STG_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"
#include "nvrd/uuid.h"

/* A segment starts with the 8 bytes "NVRSEG1\n" (segment.c), then: */
#define STG_SEG_HEADER_LEN 96
#define STG_SEG_VERSION 1
#define STG_SEG_RECORD_HEADER 16
#define STG_SEG_ALIGN ((size_t)4096)
#define STG_SEG_MAX_PAYLOAD 65535 /* an interleaved frame cannot be longer */

enum stg_record_kind {
	STG_REC_RTP = 1,
	STG_REC_RTCP = 2,
	STG_REC_PAD = 3,
};

#define STG_REC_CLEAN 0x01      /* first packet of a clean point (ONVIF C) */
#define STG_REC_UNVERIFIED 0x02 /* AEAD suite: tag not checked by the recorder */

struct stg_seg_header {
	nvr_uuid segment, camera, stream, key;
	uint64_t seq;
	int64_t start_ns;
};

struct stg_record {
	uint8_t kind;
	uint8_t flags;
	uint32_t len;
	int64_t arrival_ns;
	const uint8_t *data; /* points into the buffer parsed */
};

/* Writes the 96-byte header into out. */
void stg_seg_header_encode(const struct stg_seg_header *h, uint8_t out[STG_SEG_HEADER_LEN]);

/* Reads a header; NVR_ERR_INVAL (with why) if it is not one. */
nvr_err stg_seg_header_decode(const uint8_t *in, size_t len, struct stg_seg_header *h, const char **why);

/* Writes a 16-byte record header. */
void stg_seg_record_header(uint8_t out[STG_SEG_RECORD_HEADER], uint8_t kind, uint8_t flags, uint32_t len,
    int64_t arrival_ns);

/*
 * Reads the record at buf[0 .. len). Returns NVR_OK and fills r, or
 * NVR_ERR_INVAL when the bytes there are not a whole valid record (a torn
 * or zero tail, a bad kind, a length past the end).
 */
nvr_err stg_seg_record_decode(const uint8_t *buf, size_t len, struct stg_record *r);

/* Bytes of padding (a whole PAD record, header included) that bring offset
 * to the next multiple of STG_SEG_ALIGN; 0 if already aligned. */
size_t stg_seg_pad_len(uint64_t offset);

/* Writes a PAD record of total length n (>= 16) into out. */
void stg_seg_pad(uint8_t *out, size_t n);

/* "<root>/<camera>/<stream>/<yyyy>/<mm>/<dd>": the folder of a segment
 * that starts at start_ns (UTC). */
nvr_err stg_seg_dir(const char *root, const nvr_uuid *camera, const char *stream, int64_t start_ns, char *out,
    size_t size);

#endif

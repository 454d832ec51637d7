/*
 * segment.c: encoding and decoding of segment headers and records.
 * It must never accept a record that extends past the bytes it was given.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "storage/segment.h"

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* The 8 magic bytes, without the C string's NUL. */
static const uint8_t magic[8] = { 'N', 'V', 'R', 'S', 'E', 'G', '1', '\n' };

void
stg_seg_header_encode(const struct stg_seg_header *h, uint8_t out[STG_SEG_HEADER_LEN])
{
	memcpy(out, magic, sizeof(magic));
	put32(out + 8, STG_SEG_HEADER_LEN);
	put32(out + 12, STG_SEG_VERSION);
	memcpy(out + 16, h->segment.b, 16);
	memcpy(out + 32, h->camera.b, 16);
	memcpy(out + 48, h->stream.b, 16);
	memcpy(out + 64, h->key.b, 16);
	put64(out + 80, h->seq);
	put64(out + 88, (uint64_t)h->start_ns);
}

nvr_err
stg_seg_header_decode(const uint8_t *in, size_t len, struct stg_seg_header *h, const char **why)
{
	if (len < STG_SEG_HEADER_LEN || memcmp(in, magic, sizeof(magic)) != 0) {
		*why = "not a segment file (no NVRSEG1 header)";
		return NVR_ERR_INVAL;
	}
	if (get32(in + 8) != STG_SEG_HEADER_LEN || get32(in + 12) != STG_SEG_VERSION) {
		*why = "segment header of an unknown version";
		return NVR_ERR_INVAL;
	}
	memcpy(h->segment.b, in + 16, 16);
	memcpy(h->camera.b, in + 32, 16);
	memcpy(h->stream.b, in + 48, 16);
	memcpy(h->key.b, in + 64, 16);
	h->seq = get64(in + 80);
	h->start_ns = (int64_t)get64(in + 88);
	return NVR_OK;
}

void
stg_seg_record_header(uint8_t out[STG_SEG_RECORD_HEADER], uint8_t kind, uint8_t flags, uint32_t len,
    int64_t arrival_ns)
{
	out[0] = kind;
	out[1] = flags;
	out[2] = out[3] = 0;
	put32(out + 4, len);
	put64(out + 8, (uint64_t)arrival_ns);
}

nvr_err
stg_seg_record_decode(const uint8_t *buf, size_t len, struct stg_record *r)
{
	if (len < STG_SEG_RECORD_HEADER)
		return NVR_ERR_INVAL;
	r->kind = buf[0];
	r->flags = buf[1];
	r->len = get32(buf + 4);
	r->arrival_ns = (int64_t)get64(buf + 8);
	r->data = buf + STG_SEG_RECORD_HEADER;
	if (r->kind < STG_REC_RTP || r->kind > STG_REC_PAD || buf[2] != 0 || buf[3] != 0)
		return NVR_ERR_INVAL;
	if (r->kind != STG_REC_PAD && (r->len == 0 || r->len > STG_SEG_MAX_PAYLOAD))
		return NVR_ERR_INVAL;
	if (r->len > len - STG_SEG_RECORD_HEADER)
		return NVR_ERR_INVAL;
	return NVR_OK;
}

size_t
stg_seg_pad_len(uint64_t offset)
{
	size_t n = (size_t)(STG_SEG_ALIGN - offset % STG_SEG_ALIGN) % STG_SEG_ALIGN;

	/* a PAD record needs room for its own header */
	if (n != 0 && n < STG_SEG_RECORD_HEADER)
		n += STG_SEG_ALIGN;
	return n;
}

void
stg_seg_pad(uint8_t *out, size_t n)
{
	memset(out, 0, n);
	stg_seg_record_header(out, STG_REC_PAD, 0, (uint32_t)(n - STG_SEG_RECORD_HEADER), 0);
}

nvr_err
stg_seg_dir(const char *root, const nvr_uuid *camera, const char *stream, int64_t start_ns, char *out,
    size_t size)
{
	char cam[NVR_UUID_STRLEN];
	time_t t = (time_t)(start_ns / 1000000000LL);
	struct tm tm;
	int n;

	nvr_uuid_format(camera, cam);
	gmtime_r(&t, &tm);
	n = snprintf(out, size, "%s/%s/%s/%04d/%02d/%02d", root, cam, stream, tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday);
	return n > 0 && (size_t)n < size ? NVR_OK : NVR_ERR_TOOBIG;
}

/*
 * capfile.c: writes and loads capture files (format in capfile.h).
 *
 * The loader keeps the whole file in memory: a minute of a 4 Mbit/s camera
 * is 30 MB, and replay must never touch the disk. It never trusts a length
 * it has not checked against what remains of the file.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/capfile.h"
#include "nvrd/log.h"
#include "nvrd/util.h"

/* Refuse captures that could not be a sensible benchmark input. */
#define BENCH_CAP_MAX_FILE ((uint64_t)2 << 30)

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)bench_get_be32(p) << 32 | bench_get_be32(p + 4);
}

nvr_err
bench_cap_write_header(FILE *f, const char *sdp, size_t sdp_len)
{
	uint8_t len[4];

	if (sdp_len > BENCH_CAP_MAX_SDP) {
		errno = EFBIG;
		return NVR_ERR_TOOBIG;
	}
	bench_put_be32(len, (uint32_t)sdp_len);
	if (fwrite(BENCH_CAP_MAGIC, 1, BENCH_CAP_MAGIC_LEN, f) != BENCH_CAP_MAGIC_LEN ||
	    fwrite(len, 1, 4, f) != 4 || fwrite(sdp, 1, sdp_len, f) != sdp_len)
		return NVR_ERR_IO;
	return NVR_OK;
}

nvr_err
bench_cap_write_packet(FILE *f, uint64_t t_ns, const uint8_t *pkt, size_t len)
{
	uint8_t hdr[12];

	if (len > BENCH_CAP_MAX_PACKET)
		return NVR_ERR_TOOBIG;
	bench_put_be32(hdr, (uint32_t)len);
	bench_put_be32(hdr + 4, (uint32_t)(t_ns >> 32));
	bench_put_be32(hdr + 8, (uint32_t)t_ns);
	if (fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr) || fwrite(pkt, 1, len, f) != len)
		return NVR_ERR_IO;
	return NVR_OK;
}

/* RFC 3550 section 5.1 (fixed header, CSRCs) and 5.3.1 (extension). */
nvr_err
bench_rtp_parse(const uint8_t *pkt, size_t len, uint16_t *hdr_len, int16_t *onvif_off)
{
	size_t off;

	if (len < BENCH_CAP_MIN_PACKET || (pkt[0] >> 6) != 2)
		return NVR_ERR_INVAL;
	off = BENCH_CAP_MIN_PACKET + 4 * (size_t)(pkt[0] & 0x0f);
	*onvif_off = -1;
	if (pkt[0] & 0x10) {
		size_t words;

		if (off + 4 > len)
			return NVR_ERR_INVAL;
		words = (size_t)pkt[off + 2] << 8 | pkt[off + 3];
		/* ONVIF: 8-byte NTP time, then flags, CSeq and padding. */
		if (((unsigned)pkt[off] << 8 | pkt[off + 1]) == BENCH_ONVIF_EXT_ID && words >= 3)
			*onvif_off = (int16_t)(off + 4);
		off += 4 + 4 * words;
	}
	if (off > len || off > INT16_MAX)
		return NVR_ERR_INVAL;
	*hdr_len = (uint16_t)off;
	return NVR_OK;
}

static nvr_err
read_file(const char *path, uint8_t **data, size_t *len)
{
	nvr_err rc = NVR_OK;
	FILE *f = fopen(path, "rb");
	struct stat st;

	*data = NULL;
	if (f == NULL || fstat(fileno(f), &st) != 0) {
		nvr_log_ex(NVR_LOG_ERROR, strerror(errno), NULL, "cannot open capture %s", path);
		rc = NVR_ERR_IO;
		goto out;
	}
	if ((uint64_t)st.st_size > BENCH_CAP_MAX_FILE || st.st_size < BENCH_CAP_MAGIC_LEN + 4) {
		nvr_log_ex(NVR_LOG_ERROR, NULL, "make one with nvr-bench-capture",
		    "capture %s: %lld bytes is not a capture size", path, (long long)st.st_size);
		rc = NVR_ERR_TOOBIG;
		goto out;
	}
	*len = (size_t)st.st_size;
	if ((*data = malloc(*len)) == NULL) {
		rc = NVR_ERR_NOMEM;
		goto out;
	}
	if (fread(*data, 1, *len, f) != *len) {
		nvr_log(NVR_LOG_ERROR, "cannot read capture %s", path);
		NVR_FREE(*data);
		rc = NVR_ERR_IO;
	}
out:
	if (f != NULL)
		fclose(f);
	return rc;
}

/* First pass: counts records and checks their framing. */
static nvr_err
count_records(const uint8_t *p, size_t len, size_t off, size_t *n)
{
	*n = 0;
	while (off < len) {
		uint32_t plen;

		if (len - off < 12)
			return NVR_ERR_INVAL;
		plen = bench_get_be32(p + off);
		if (plen < BENCH_CAP_MIN_PACKET || plen > BENCH_CAP_MAX_PACKET || len - off - 12 < plen)
			return NVR_ERR_INVAL;
		off += 12 + plen;
		(*n)++;
	}
	return *n > 0 ? NVR_OK : NVR_ERR_INVAL;
}

/* Second pass: fills the packet table; times must never go backwards. */
static nvr_err
index_records(struct bench_cap *cap, size_t off)
{
	uint32_t ts0 = 0;

	for (size_t i = 0; i < cap->n_packets; i++) {
		struct bench_cap_packet *pk = &cap->packets[i];

		pk->len = bench_get_be32(cap->blob + off);
		pk->t_ns = get_be64(cap->blob + off + 4);
		pk->data = cap->blob + off + 12;
		off += 12 + pk->len;
		if (bench_rtp_parse(pk->data, pk->len, &pk->hdr_len, &pk->onvif_off) != NVR_OK)
			return NVR_ERR_INVAL;
		if (i == 0)
			ts0 = bench_get_be32(pk->data + 4);
		else if (pk->t_ns < pk[-1].t_ns)
			return NVR_ERR_INVAL;
		pk->rel_ts = bench_get_be32(pk->data + 4) - ts0;
		cap->payload_bytes += pk->len - pk->hdr_len;
	}
	return NVR_OK;
}

static nvr_err
parse_capture(struct bench_cap *cap, size_t len)
{
	uint32_t sdp_len;
	size_t off;

	if (memcmp(cap->blob, BENCH_CAP_MAGIC, BENCH_CAP_MAGIC_LEN) != 0)
		return NVR_ERR_INVAL;
	sdp_len = bench_get_be32(cap->blob + BENCH_CAP_MAGIC_LEN);
	off = BENCH_CAP_MAGIC_LEN + 4;
	if (sdp_len > BENCH_CAP_MAX_SDP || sdp_len > len - off)
		return NVR_ERR_INVAL;
	if ((cap->sdp = malloc((size_t)sdp_len + 1)) == NULL)
		return NVR_ERR_NOMEM;
	memcpy(cap->sdp, cap->blob + off, sdp_len);
	cap->sdp[sdp_len] = '\0';
	off += sdp_len;
	if (count_records(cap->blob, len, off, &cap->n_packets) != NVR_OK)
		return NVR_ERR_INVAL;
	cap->packets = calloc(cap->n_packets, sizeof(*cap->packets));
	if (cap->packets == NULL)
		return NVR_ERR_NOMEM;
	return index_records(cap, off);
}

nvr_err
bench_cap_load(const char *path, struct bench_cap **out)
{
	nvr_err rc = NVR_OK;
	struct bench_cap *cap = calloc(1, sizeof(*cap));
	size_t len = 0;

	*out = NULL;
	if (cap == NULL)
		return NVR_ERR_NOMEM;
	if ((rc = read_file(path, &cap->blob, &len)) != NVR_OK)
		goto out;
	if ((rc = parse_capture(cap, len)) == NVR_ERR_INVAL) {
		nvr_log_ex(NVR_LOG_ERROR,
		    "a length, a time or an RTP header is not what nvr-bench-capture writes",
		    "capture again with nvr-bench-capture",
		    "capture %s is damaged or not a capture", path);
	}
	if (rc != NVR_OK)
		goto out;
	*out = cap;
	cap = NULL;
out:
	bench_cap_free(cap);
	return rc;
}

void
bench_cap_free(struct bench_cap *cap)
{
	if (cap == NULL)
		return;
	free(cap->sdp);
	free(cap->blob);
	free(cap->packets);
	free(cap);
}

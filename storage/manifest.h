/*
 * manifest.h: the signed description of one segment (docs/FORMAT.md):
 * what it holds, its SHA-256, and the SHA-256 of the stream's previous
 * manifest (the hash chain). The file is JSON (jansson, keys sorted); the
 * signature (<id>.manifest.json.sig, DER ECDSA P-256 over SHA-256 of the
 * exact bytes) is checked with `openssl dgst -sha256 -verify`.
 */
#ifndef NVR_STG_MANIFEST_H
#define NVR_STG_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"
#include "nvrd/uuid.h"

#define STG_MANIFEST_FORMAT "nvr-segment-manifest/1"
#define STG_MANIFEST_MAX ((size_t)64 * 1024)

struct stg_manifest {
	nvr_uuid segment, camera, stream, key;
	char camera_name[65];
	char stream_name[16];
	uint64_t seq;
	uint64_t bytes;
	uint8_t sha256[32];
	bool has_prev;
	uint8_t prev_sha256[32]; /* SHA-256 of the previous manifest's bytes */
	char suite[32];          /* RFC name, or "none" */
	char key_source[16];     /* "mikey", "sdes" */
	bool tag_verified;       /* every packet's tag was checked */
	uint32_t ssrc;
	char codec[32];
	int clock_rate;
	int payload_type;
	uint64_t first_index, last_index; /* SRTP packet indexes */
	uint32_t first_rtp_ts, last_rtp_ts;
	int64_t start_ns, end_ns;
	char time_source[16]; /* "onvif" (camera NTP time) or "arrival" */
	bool clean_start;     /* the first packet is a clean point */
	uint64_t packets, rtcp_packets;
	uint64_t forged, replayed, lost, malformed;
	uint8_t signer[32];   /* SHA-256 of the signing certificate's DER */
	char recorder[128];   /* host name and version of the writer */
};

/* Serialises m; *out is a new NUL-terminated string the caller frees. */
nvr_err stg_manifest_encode(const struct stg_manifest *m, char **out, size_t *len);

/* Parses a manifest; NVR_ERR_INVAL with why if it is not a valid one. */
nvr_err stg_manifest_decode(const char *text, size_t len, struct stg_manifest *m, const char **why);

/* "2026-11-22T05:00:00.123456Z" for ns since the Unix epoch. */
void stg_time_format(int64_t ns, char out[32]);
/* The reverse; NVR_ERR_INVAL if malformed or not a day of the calendar
 * (2027-02-29). */
nvr_err stg_time_parse(const char *s, int64_t *ns);
/* A time as people and clients give it (the API, nvrctl): RFC 3339 in UTC,
 * "2026-11-22T05:00:00Z" with or without 1 to 6 digits of fraction. A time
 * without "Z" would mean whatever some time zone says, so it is refused. */
nvr_err stg_time_parse_utc(const char *s, int64_t *ns);

#endif

/*
 * manifest.c: segment manifests to and from JSON (jansson).
 * Decoding reads files an attacker may have edited: every field is checked
 * for type and size before use.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "nvrd/encode.h"
#include "storage/manifest.h"

void
stg_time_format(int64_t ns, char out[32])
{
	time_t t = (time_t)(ns / 1000000000LL);
	long us = (long)((ns % 1000000000LL) / 1000);
	struct tm tm;

	if (us < 0) {
		us += 1000000;
		t -= 1;
	}
	gmtime_r(&t, &tm);
	/* the modulos bound every field, so the 27 characters always fit */
	snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%06luZ", (unsigned)(tm.tm_year + 1900) % 10000u,
	    (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
	    (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, (unsigned long)us % 1000000ul);
}

/* The n digits at s as a number; -1 if any is not a digit. */
static long
digits(const char *s, int n)
{
	long v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Gregorian: timegm would move 2027-02-29 to 1 March instead of refusing it. */
static long
days_in_month(long year, long month)
{
	static const long days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

nvr_err
stg_time_parse(const char *s, int64_t *ns)
{
	/* exactly "YYYY-MM-DDTHH:MM:SS.uuuuuuZ", as stg_time_format writes */
	struct tm tm = { 0 };
	long f[7];
	static const int at[7] = { 0, 5, 8, 11, 14, 17, 20 }, len[7] = { 4, 2, 2, 2, 2, 2, 6 };

	if (strlen(s) != 27 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != '.' || s[26] != 'Z')
		return NVR_ERR_INVAL;
	for (int i = 0; i < 7; i++) {
		if ((f[i] = digits(s + at[i], len[i])) < 0)
			return NVR_ERR_INVAL;
	}
	/* Nanoseconds since 1970 in an int64_t end in April 2262. */
	if (f[0] < 1970 || f[0] > 2261 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > days_in_month(f[0], f[1]) ||
	    f[3] > 23 || f[4] > 59 || f[5] > 60)
		return NVR_ERR_INVAL;
	tm.tm_year = (int)f[0] - 1900;
	tm.tm_mon = (int)f[1] - 1;
	tm.tm_mday = (int)f[2];
	tm.tm_hour = (int)f[3];
	tm.tm_min = (int)f[4];
	tm.tm_sec = (int)f[5];
	*ns = (int64_t)timegm(&tm) * 1000000000LL + f[6] * 1000LL;
	return NVR_OK;
}

nvr_err
stg_time_parse_utc(const char *s, int64_t *ns)
{
	char full[32];
	size_t n = strlen(s), frac;

	/* "...:SSZ" or "...:SS.fZ" to "...:SS.ffffffZ", which stg_time_parse reads */
	if (n < 20 || n > 27 || n == 21 || s[n - 1] != 'Z' || (n != 20 && s[19] != '.'))
		return NVR_ERR_INVAL;
	frac = n == 20 ? 0 : n - 21;
	snprintf(full, sizeof(full), "%.19s.%.*s%.*sZ", s, (int)frac, s + 20, (int)(6 - frac), "000000");
	return stg_time_parse(full, ns);
}

static int
set_hex(json_t *o, const char *k, const uint8_t *b, size_t n)
{
	char hex[129];

	nvr_hex_encode(b, n, hex);
	return json_object_set_new(o, k, json_string(hex));
}

static int
set_uuid(json_t *o, const char *k, const nvr_uuid *u)
{
	char s[NVR_UUID_STRLEN];

	nvr_uuid_format(u, s);
	return json_object_set_new(o, k, json_string(s));
}

static int
set_time(json_t *o, const char *k, int64_t ns)
{
	char s[32];

	stg_time_format(ns, s);
	return json_object_set_new(o, k, json_string(s));
}

static int
set_uint(json_t *o, const char *k, uint64_t v)
{
	/* json_int_t is 64-bit signed: counters and indexes stay below 2^63 */
	return json_object_set_new(o, k, json_integer((json_int_t)v));
}

static json_t *
to_json(const struct stg_manifest *m)
{
	json_t *o = json_object();
	char id[NVR_UUID_STRLEN], file[NVR_UUID_STRLEN + 8];
	int bad = o == NULL;

	nvr_uuid_format(&m->segment, id);
	snprintf(file, sizeof(file), "%s.nvrseg", id);
	bad |= json_object_set_new(o, "format", json_string(STG_MANIFEST_FORMAT));
	bad |= set_uuid(o, "segment_id", &m->segment) | set_uuid(o, "camera_id", &m->camera) |
	    set_uuid(o, "stream_id", &m->stream) | set_uuid(o, "key_id", &m->key);
	bad |= json_object_set_new(o, "camera", json_string(m->camera_name));
	bad |= json_object_set_new(o, "stream", json_string(m->stream_name));
	bad |= set_uint(o, "seq", m->seq) | set_uint(o, "bytes", m->bytes);
	bad |= json_object_set_new(o, "file", json_string(file));
	bad |= set_hex(o, "sha256", m->sha256, 32);
	bad |= m->has_prev ? set_hex(o, "prev_manifest_sha256", m->prev_sha256, 32)
			   : json_object_set_new(o, "prev_manifest_sha256", json_null());
	bad |= json_object_set_new(o, "srtp_suite", json_string(m->suite));
	bad |= json_object_set_new(o, "key_source", json_string(m->key_source));
	bad |= json_object_set_new(o, "tag_verified", json_boolean(m->tag_verified));
	bad |= set_uint(o, "ssrc", m->ssrc);
	bad |= json_object_set_new(o, "codec", json_string(m->codec));
	bad |= set_uint(o, "clock_rate", (uint64_t)m->clock_rate) | set_uint(o, "payload_type", (uint64_t)m->payload_type);
	bad |= set_uint(o, "first_index", m->first_index) | set_uint(o, "last_index", m->last_index);
	bad |= set_uint(o, "first_rtp_timestamp", m->first_rtp_ts) | set_uint(o, "last_rtp_timestamp", m->last_rtp_ts);
	bad |= set_time(o, "start_time", m->start_ns) | set_time(o, "end_time", m->end_ns);
	bad |= json_object_set_new(o, "time_source", json_string(m->time_source));
	bad |= json_object_set_new(o, "clean_start", json_boolean(m->clean_start));
	bad |= set_uint(o, "packets", m->packets) | set_uint(o, "rtcp_packets", m->rtcp_packets);
	bad |= set_uint(o, "forged_packets", m->forged) | set_uint(o, "replayed_packets", m->replayed);
	bad |= set_uint(o, "lost_packets", m->lost) | set_uint(o, "malformed_packets", m->malformed);
	bad |= set_hex(o, "signer_sha256", m->signer, 32);
	bad |= json_object_set_new(o, "recorder", json_string(m->recorder));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

nvr_err
stg_manifest_encode(const struct stg_manifest *m, char **out, size_t *len)
{
	json_t *o = to_json(m);
	char *s;
	size_t n;

	*out = NULL;
	if (o == NULL)
		return NVR_ERR_NOMEM;
	s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(o);
	if (s == NULL)
		return NVR_ERR_NOMEM;
	n = strlen(s);
	/* a trailing newline, so that the file is a well-formed text file */
	*out = realloc(s, n + 2);
	if (*out == NULL) {
		free(s);
		return NVR_ERR_NOMEM;
	}
	(*out)[n] = '\n';
	(*out)[n + 1] = '\0';
	*len = n + 1;
	return NVR_OK;
}

/* ---- decoding ------------------------------------------------------------ */

struct rd {
	json_t *o;
	const char *why;
};

static const char *
get_str(struct rd *r, const char *k, size_t max)
{
	const char *s = json_string_value(json_object_get(r->o, k));

	if (s == NULL || strlen(s) > max) {
		if (r->why == NULL)
			r->why = "a manifest field is missing or has the wrong type";
		return "";
	}
	return s;
}

static uint64_t
get_uint(struct rd *r, const char *k)
{
	json_t *v = json_object_get(r->o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		if (r->why == NULL)
			r->why = "a manifest number is missing or negative";
		return 0;
	}
	return (uint64_t)json_integer_value(v);
}

static void
get_uuid(struct rd *r, const char *k, nvr_uuid *u)
{
	if (nvr_uuid_parse(get_str(r, k, 36), u) != NVR_OK && r->why == NULL)
		r->why = "a manifest id is not a UUID";
}

static void
get_hex32(struct rd *r, const char *k, uint8_t out[32])
{
	if (nvr_hex_decode(get_str(r, k, 64), out, 32) != NVR_OK && r->why == NULL)
		r->why = "a manifest hash is not 64 hex digits";
}

static void
get_time(struct rd *r, const char *k, int64_t *ns)
{
	if (stg_time_parse(get_str(r, k, 27), ns) != NVR_OK && r->why == NULL)
		r->why = "a manifest time is not RFC 3339 UTC with microseconds";
}

static void
get_bool(struct rd *r, const char *k, bool *b)
{
	json_t *v = json_object_get(r->o, k);

	if (!json_is_boolean(v) && r->why == NULL)
		r->why = "a manifest flag is missing or not a boolean";
	*b = json_is_true(v);
}

static void
copy_str(struct rd *r, const char *k, char *out, size_t size)
{
	snprintf(out, size, "%s", get_str(r, k, size - 1));
}

nvr_err
stg_manifest_decode(const char *text, size_t len, struct stg_manifest *m, const char **why)
{
	json_error_t err;
	struct rd r = { 0 };

	memset(m, 0, sizeof(*m));
	if (len > STG_MANIFEST_MAX || (r.o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err)) == NULL ||
	    !json_is_object(r.o)) {
		json_decref(r.o);
		*why = "not a JSON object";
		return NVR_ERR_INVAL;
	}
	if (strcmp(get_str(&r, "format", 64), STG_MANIFEST_FORMAT) != 0 && r.why == NULL)
		r.why = "not an nvr-segment-manifest/1";
	get_uuid(&r, "segment_id", &m->segment);
	get_uuid(&r, "camera_id", &m->camera);
	get_uuid(&r, "stream_id", &m->stream);
	get_uuid(&r, "key_id", &m->key);
	copy_str(&r, "camera", m->camera_name, sizeof(m->camera_name));
	copy_str(&r, "stream", m->stream_name, sizeof(m->stream_name));
	m->seq = get_uint(&r, "seq");
	m->bytes = get_uint(&r, "bytes");
	get_hex32(&r, "sha256", m->sha256);
	m->has_prev = !json_is_null(json_object_get(r.o, "prev_manifest_sha256"));
	if (m->has_prev)
		get_hex32(&r, "prev_manifest_sha256", m->prev_sha256);
	copy_str(&r, "srtp_suite", m->suite, sizeof(m->suite));
	copy_str(&r, "key_source", m->key_source, sizeof(m->key_source));
	get_bool(&r, "tag_verified", &m->tag_verified);
	m->ssrc = (uint32_t)get_uint(&r, "ssrc");
	copy_str(&r, "codec", m->codec, sizeof(m->codec));
	m->clock_rate = (int)get_uint(&r, "clock_rate");
	m->payload_type = (int)get_uint(&r, "payload_type");
	m->first_index = get_uint(&r, "first_index");
	m->last_index = get_uint(&r, "last_index");
	m->first_rtp_ts = (uint32_t)get_uint(&r, "first_rtp_timestamp");
	m->last_rtp_ts = (uint32_t)get_uint(&r, "last_rtp_timestamp");
	get_time(&r, "start_time", &m->start_ns);
	get_time(&r, "end_time", &m->end_ns);
	copy_str(&r, "time_source", m->time_source, sizeof(m->time_source));
	get_bool(&r, "clean_start", &m->clean_start);
	m->packets = get_uint(&r, "packets");
	m->rtcp_packets = get_uint(&r, "rtcp_packets");
	m->forged = get_uint(&r, "forged_packets");
	m->replayed = get_uint(&r, "replayed_packets");
	m->lost = get_uint(&r, "lost_packets");
	m->malformed = get_uint(&r, "malformed_packets");
	get_hex32(&r, "signer_sha256", m->signer);
	copy_str(&r, "recorder", m->recorder, sizeof(m->recorder));
	json_decref(r.o);
	*why = r.why;
	return r.why == NULL ? NVR_OK : NVR_ERR_INVAL;
}

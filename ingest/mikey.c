/*
 * mikey.c: the payload chain walk of mikey.h. It reads camera input: every
 * length is checked against what is left, and each step consumes at least
 * two bytes, so the walk ends.
 */
#include "autoconfig.h"

#include "ingest/mikey.h"

/* RFC 3830 6.1 and 6.x payload type numbers. */
enum {
	PT_LAST = 0,
	PT_KEMAC = 1,
	PT_PKE = 2,
	PT_T = 5,
	PT_SP = 10,
	PT_RAND = 11,
	PT_KEY_DATA = 20,
};
#define TYPE_PSK_INIT 0
#define HEADER_LEN 10
#define CS_SRTP_LEN 9

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Bytes of a KEY_DATA payload (RFC 3830 6.13), or 0 if malformed. */
static size_t
key_data_len(const uint8_t *d, size_t len)
{
	size_t n;
	unsigned kv;

	if (len < 4 || (n = 4 + (size_t)be16(d + 2)) > len)
		return 0;
	kv = d[1] & 0xf;
	if ((d[1] >> 4) & 1) { /* a salt follows */
		if (n + 2 > len || (n += 2 + (size_t)be16(d + n)) > len)
			return 0;
	}
	if (kv == 1) { /* SPI/MKI */
		if (n + 1 > len || (n += 1 + (size_t)d[n]) > len)
			return 0;
	} else if (kv == 2) { /* interval: valid from, valid to */
		for (int i = 0; i < 2; i++)
			if (n + 1 > len || (n += 1 + (size_t)d[n]) > len)
				return 0;
	} else if (kv != 0) {
		return 0;
	}
	return n;
}

/* Bytes of the payload of type t at d, or 0 if malformed or a type
 * GStreamer does not step over. For a KEMAC, *inner and *inner_len are
 * its encrypted data part. */
static size_t
payload_len(unsigned t, const uint8_t *d, size_t len, const uint8_t **inner, size_t *inner_len)
{
	size_t n, mac, i;

	switch (t) {
	case PT_KEMAC: /* next, enc alg, enc len (2), enc data, mac alg, mac */
		if (len < 5 || (n = 4 + (size_t)be16(d + 2)) + 1 > len)
			return 0;
		mac = d[n] == 0 ? 0 : d[n] == 1 ? 20 : (size_t)-1; /* NULL, HMAC-SHA-1-160 */
		*inner = d + 4;
		*inner_len = n - 4;
		return mac != (size_t)-1 && n + 1 + mac <= len ? n + 1 + mac : 0;
	case PT_PKE:
		return len >= 3 && 3 + (size_t)(be16(d + 1) & 0x3fff) <= len ? 3 + (size_t)(be16(d + 1) & 0x3fff) : 0;
	case PT_T: /* NTP-UTC and NTP: 8 bytes; COUNTER: 4 */
		if (len < 2 || d[1] > 2)
			return 0;
		n = d[1] == 2 ? 6 : 10;
		return n <= len ? n : 0;
	case PT_SP: /* the parameters (type, length, value) must fill it exactly */
		if (len < 5 || (n = 5 + (size_t)be16(d + 3)) > len)
			return 0;
		for (i = 5; i < n; i += 2 + (size_t)d[i + 1])
			if (i + 2 > n)
				return 0;
		return i == n ? n : 0;
	case PT_RAND:
		return len >= 2 && 2 + (size_t)d[1] <= len ? 2 + (size_t)d[1] : 0;
	case PT_KEY_DATA:
		return key_data_len(d, len);
	default:
		return 0;
	}
}

/* Walks a chain starting with type t. A KEMAC's data is returned through
 * *kemac (one KEMAC at most) for the caller to walk as the key data chain;
 * with kemac NULL (that inner chain) a KEMAC is refused, as GStreamer
 * refuses it there. */
static nvr_err
walk(unsigned t, const uint8_t *d, size_t len, const uint8_t **kemac, size_t *kemac_len, const char **why)
{
	const uint8_t *inner = NULL;
	size_t n, inner_len = 0;

	while (t != PT_LAST) {
		if ((n = payload_len(t, d, len, &inner, &inner_len)) == 0) {
			*why = "MIKEY message with a malformed or unsupported payload";
			return NVR_ERR_INVAL;
		}
		if (t == PT_KEMAC) {
			if (kemac == NULL || *kemac != NULL) {
				*why = "MIKEY message with a KEMAC payload where none may be";
				return NVR_ERR_INVAL;
			}
			*kemac = inner;
			*kemac_len = inner_len;
		}
		t = d[0];
		d += n;
		len -= n;
	}
	return NVR_OK;
}

nvr_err
ing_mikey_check(const uint8_t *d, size_t len, const char **why)
{
	const uint8_t *kemac = NULL;
	size_t n, kemac_len = 0;

	if (len < HEADER_LEN || d[0] != 1) {
		*why = "not a MIKEY version 1 message";
		return NVR_ERR_INVAL;
	}
	if (d[1] != TYPE_PSK_INIT) {
		*why = "MIKEY message is not a pre-shared-key initiation (the only kind cameras send)";
		return NVR_ERR_INVAL;
	}
	if ((n = HEADER_LEN + (size_t)d[8] * CS_SRTP_LEN) > len) {
		*why = "MIKEY crypto session map longer than the message";
		return NVR_ERR_INVAL;
	}
	if (walk(d[2], d + n, len - n, &kemac, &kemac_len, why) != NVR_OK)
		return NVR_ERR_INVAL;
	/* A PSK_INIT's KEMAC holds a chain that starts with key data. */
	return kemac != NULL ? walk(PT_KEY_DATA, kemac, kemac_len, NULL, NULL, why) : NVR_OK;
}

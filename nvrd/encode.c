/*
 * encode.c: hex, base64, UTF-8, and HTTP header parameter syntax.
 * The parsers read network input: every length is bounded.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nvrd/encode.h"

void
nvr_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * len] = '\0';
}

nvr_err
nvr_hex_decode(const char *in, uint8_t *out, size_t outlen)
{
	if (strlen(in) != 2 * outlen)
		return NVR_ERR_INVAL;
	for (size_t i = 0; i < outlen; i++) {
		int v = 0;

		for (int k = 0; k < 2; k++) {
			int c = tolower((unsigned char)in[2 * i + (size_t)k]);
			if (c >= '0' && c <= '9')
				v = v * 16 + (c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (c - 'a' + 10);
			else
				return NVR_ERR_INVAL;
		}
		out[i] = (uint8_t)v;
	}
	return NVR_OK;
}

char *
nvr_b64_encode(const uint8_t *in, size_t len)
{
	char *out;

	if (len > ((size_t)1 << 30))
		return NULL;
	if ((out = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

nvr_err
nvr_b64_decode(const char *in, size_t max, uint8_t **out, size_t *outlen)
{
	size_t len = strlen(in), pad = 0;
	uint8_t *buf;
	int n;

	*out = NULL;
	if (len % 4 != 0)
		return NVR_ERR_INVAL;
	if (len / 4 * 3 > max + 2)
		return NVR_ERR_TOOBIG;
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	if ((buf = malloc(len / 4 * 3 + 1)) == NULL)
		return NVR_ERR_NOMEM;
	/* EVP_DecodeBlock counts padding as zero bytes and rejects anything
	 * outside the alphabet. */
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n < pad || (size_t)n - pad > max) {
		/* it may hold part of a key */
		OPENSSL_cleanse(buf, len / 4 * 3 + 1);
		free(buf);
		return n < 0 ? NVR_ERR_INVAL : NVR_ERR_TOOBIG;
	}
	*out = buf;
	*outlen = (size_t)n - pad;
	return NVR_OK;
}

size_t
nvr_utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

size_t
nvr_http_token_len(const char *p)
{
	size_t n = 0;

	while (p[n] > 32 && p[n] < 127 && strchr("()<>@,;:\\\"/[]?={}", p[n]) == NULL)
		n++;
	return n;
}

bool
nvr_http_read_value(const char **p, char *out, size_t size, const char **why)
{
	const char *s = *p;
	size_t n = 0, t;

	if (*s == '"') {
		for (s++; *s != '\0' && *s != '"'; s++) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			if (n + 1 >= size) {
				*why = "a header parameter is too long";
				return false;
			}
			out[n++] = *s;
		}
		if (*s != '"') {
			*why = "unterminated quoted string in a header parameter";
			return false;
		}
		s++;
	} else {
		if ((t = nvr_http_token_len(s)) == 0 || t >= size) {
			*why = t == 0 ? "a header parameter has no value" : "a header parameter is too long";
			return false;
		}
		memcpy(out, s, t);
		n = t;
		s += t;
	}
	out[n] = '\0';
	*p = s;
	return true;
}

const char *
nvr_text_problem(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f)
			return "it holds a control character";
		if ((n = nvr_utf8_len(p)) == 0)
			return "it is not valid UTF-8";
		p += n;
	}
	return NULL;
}

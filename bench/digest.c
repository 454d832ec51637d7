/*
 * digest.c: RFC 2617 Digest (MD5, no qop) for the bench RTSP server and
 * client, on OpenSSL's EVP digests.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "bench/digest.h"

/* MD5 of the parts joined by ':', in hex. */
static nvr_err
md5_hex(const char *const *parts, size_t n, char out[BENCH_MD5_HEX])
{
	nvr_err rc = NVR_ERR_CRYPTO;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((i > 0 && !EVP_DigestUpdate(ctx, ":", 1)) ||
		    !EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])))
			goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &len) || len != 16)
		goto out;
	for (unsigned int i = 0; i < len; i++)
		snprintf(out + 2 * (size_t)i, 3, "%02x", md[i]);
	rc = NVR_OK;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

nvr_err
bench_digest_ha1(const char *user, const char *realm, const char *password, char ha1[BENCH_MD5_HEX])
{
	const char *parts[] = { user, realm, password };

	return md5_hex(parts, 3, ha1);
}

nvr_err
bench_digest_response(const char *ha1, const char *nonce, const char *method, const char *uri,
    char out[BENCH_MD5_HEX])
{
	char ha2[BENCH_MD5_HEX];
	const char *p2[] = { method, uri };
	const char *p3[] = { ha1, nonce, ha2 };
	nvr_err rc;

	if ((rc = md5_hex(p2, 2, ha2)) != NVR_OK)
		return rc;
	return md5_hex(p3, 3, out);
}

/* Reads one `name=value` or `name="value"` at *sp; advances past a comma.
 * Quoted values may hold escaped characters (RFC 2616 2.2 quoted-pair). */
static nvr_err
next_param(const char **sp, char *name, size_t nsize, char *val, size_t vsize)
{
	const char *s = *sp;
	size_t n = 0, v = 0;

	s += strspn(s, " \t,");
	while (*s != '\0' && *s != '=' && *s != ' ' && *s != ',') {
		if (n + 1 >= nsize)
			return NVR_ERR_INVAL;
		name[n++] = *s++;
	}
	name[n] = '\0';
	if (n == 0 || *s++ != '=')
		return NVR_ERR_INVAL;
	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			if (*s == '\0' || v + 1 >= vsize)
				return NVR_ERR_INVAL;
			val[v++] = *s;
		}
		s++;
	} else {
		while (*s != '\0' && *s != ',' && *s != ' ' && *s != '\t') {
			if (v + 1 >= vsize)
				return NVR_ERR_INVAL;
			val[v++] = *s++;
		}
	}
	val[v] = '\0';
	s += strspn(s, " \t");
	if (*s != '\0' && *s != ',')
		return NVR_ERR_INVAL;
	*sp = s;
	return NVR_OK;
}

nvr_err
bench_digest_param(const char *value, const char *name, char *out, size_t size)
{
	char pname[32], pval[1024];
	const char *s = value;

	if (strncasecmp(s, "Digest", 6) != 0 || (s[6] != ' ' && s[6] != '\t'))
		return NVR_ERR_INVAL;
	s += 6;
	while (*(s + strspn(s, " \t,")) != '\0') {
		if (next_param(&s, pname, sizeof(pname), pval, sizeof(pval)) != NVR_OK)
			return NVR_ERR_INVAL;
		if (strcasecmp(pname, name) == 0) {
			if (strlen(pval) >= size)
				return NVR_ERR_INVAL;
			memcpy(out, pval, strlen(pval) + 1);
			return NVR_OK;
		}
	}
	return NVR_ERR_INVAL;
}

nvr_err
bench_digest_parse(const char *value, struct bench_digest_creds *c)
{
	memset(c, 0, sizeof(*c));
	if (bench_digest_param(value, "username", c->username, sizeof(c->username)) != NVR_OK ||
	    bench_digest_param(value, "realm", c->realm, sizeof(c->realm)) != NVR_OK ||
	    bench_digest_param(value, "nonce", c->nonce, sizeof(c->nonce)) != NVR_OK ||
	    bench_digest_param(value, "uri", c->uri, sizeof(c->uri)) != NVR_OK ||
	    bench_digest_param(value, "response", c->response, sizeof(c->response)) != NVR_OK)
		return NVR_ERR_INVAL;
	return NVR_OK;
}

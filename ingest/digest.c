/*
 * digest.c: parsing WWW-Authenticate challenges and answering them.
 * It must never log, keep or echo a password; intermediate hashes that
 * depend on it are wiped.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ingest/digest.h"
#include "nvrd/encode.h"

#define MAX_CHALLENGES 8

const char *
ing_digest_alg_name(enum ing_digest_alg alg)
{
	switch (alg) {
	case ING_DIGEST_SHA256:
		return "SHA-256";
	case ING_DIGEST_MD5_SESS:
		return "MD5-sess";
	case ING_DIGEST_SHA256_SESS:
		return "SHA-256-sess";
	default:
		return "MD5";
	}
}

/* ---- challenge parsing ------------------------------------------------ */

struct cursor {
	const char *p;
	const char *why;
};

static void
skip_ws(struct cursor *c)
{
	while (*c->p == ' ' || *c->p == '\t')
		c->p++;
}

/* Reads a token or a quoted-string into out (NUL-terminated, bounded). */
static bool
read_value(struct cursor *c, char *out, size_t size)
{
	return nvr_http_read_value(&c->p, out, size, &c->why);
}

static bool
set_alg(struct ing_auth_challenge *ch, const char *v)
{
	if (strcasecmp(v, "MD5") == 0)
		ch->alg = ING_DIGEST_MD5;
	else if (strcasecmp(v, "SHA-256") == 0)
		ch->alg = ING_DIGEST_SHA256;
	else if (strcasecmp(v, "MD5-sess") == 0)
		ch->alg = ING_DIGEST_MD5_SESS;
	else if (strcasecmp(v, "SHA-256-sess") == 0)
		ch->alg = ING_DIGEST_SHA256_SESS;
	else
		return false; /* SHA-512-256 and others: not offered by cameras */
	return true;
}

/* qop is a comma list inside quotes: usable only if it has "auth". */
static bool
qop_has_auth(const char *v)
{
	size_t len = strlen(v);

	for (size_t i = 0; i < len;) {
		while (i < len && (v[i] == ' ' || v[i] == ','))
			i++;
		size_t n = strcspn(v + i, ", ");
		if (n == 4 && strncasecmp(v + i, "auth", 4) == 0)
			return true;
		i += n;
	}
	return false;
}

/* One name=value of a challenge. Returns false on malformed input;
 * *usable is cleared for parameters that rule the challenge out. */
static bool
read_param(struct cursor *c, struct ing_auth_challenge *ch, bool *usable, bool *has_qop)
{
	char name[32], value[ING_DIGEST_MAX_FIELD] = "";
	size_t n = nvr_http_token_len(c->p);

	if (n == 0 || n >= sizeof(name)) {
		c->why = "bad challenge parameter name";
		return false;
	}
	memcpy(name, c->p, n);
	name[n] = '\0';
	c->p += n;
	skip_ws(c);
	if (*c->p++ != '=') {
		c->why = "challenge parameter without '='";
		return false;
	}
	skip_ws(c);
	if (!read_value(c, value, sizeof(value)))
		return false;
	if (strcasecmp(name, "realm") == 0)
		memcpy(ch->realm, value, strlen(value) + 1);
	else if (strcasecmp(name, "nonce") == 0)
		memcpy(ch->nonce, value, strlen(value) + 1);
	else if (strcasecmp(name, "opaque") == 0) {
		memcpy(ch->opaque, value, strlen(value) + 1);
		ch->has_opaque = true;
	} else if (strcasecmp(name, "algorithm") == 0)
		*usable = *usable && set_alg(ch, value);
	else if (strcasecmp(name, "qop") == 0) {
		*has_qop = true;
		ch->qop_auth = qop_has_auth(value);
	} else if (strcasecmp(name, "stale") == 0)
		ch->stale = strcasecmp(value, "true") == 0;
	else if (strcasecmp(name, "userhash") == 0 && strcasecmp(value, "true") == 0)
		*usable = false; /* hashed user names: not supported, use another */
	return true;
}

/* After a ',' inside a challenge: does a parameter (token '=') follow, or
 * the scheme of the next challenge? */
static bool
param_follows(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	p += nvr_http_token_len(p);
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '=';
}

/* Parses one challenge at c->p. */
static bool
read_challenge(struct cursor *c, struct ing_auth_challenge *ch, bool *usable)
{
	size_t n = nvr_http_token_len(c->p);
	bool has_qop = false;

	*ch = (struct ing_auth_challenge){ .scheme = ING_AUTH_NONE };
	*usable = true;
	if (n == 5 && strncasecmp(c->p, "Basic", 5) == 0)
		ch->scheme = ING_AUTH_BASIC;
	else if (n == 6 && strncasecmp(c->p, "Digest", 6) == 0)
		ch->scheme = ING_AUTH_DIGEST;
	else
		*usable = false; /* Bearer, Negotiate ...: skipped */
	if (n == 0) {
		c->why = "challenge without a scheme";
		return false;
	}
	c->p += n;
	for (;;) {
		skip_ws(c);
		if (*c->p == '\0' || (*c->p == ',' && !param_follows(c->p)))
			break;
		if (*c->p == ',')
			c->p++;
		skip_ws(c);
		if (!read_param(c, ch, usable, &has_qop))
			return false;
	}
	if (ch->scheme == ING_AUTH_DIGEST && (ch->nonce[0] == '\0' || (has_qop && !ch->qop_auth)))
		*usable = false; /* no nonce, or only auth-int */
	return true;
}

static int
rank(const struct ing_auth_challenge *ch, bool allow_basic)
{
	if (ch->scheme == ING_AUTH_BASIC)
		return allow_basic ? 1 : 0;
	if (ch->scheme != ING_AUTH_DIGEST)
		return 0;
	return ch->alg == ING_DIGEST_SHA256 || ch->alg == ING_DIGEST_SHA256_SESS ? 3 : 2;
}

nvr_err
ing_auth_parse(const char *const *values, size_t n, bool allow_basic, struct ing_auth_challenge *best,
    const char **why)
{
	struct ing_auth_challenge ch;
	struct cursor c;
	int best_rank = 0, seen = 0;
	bool usable, basic_offered = false;

	*why = NULL;
	*best = (struct ing_auth_challenge){ 0 };
	for (size_t i = 0; i < n; i++) {
		c = (struct cursor){ .p = values[i] };
		for (;;) {
			while (*c.p == ' ' || *c.p == '\t' || *c.p == ',')
				c.p++;
			if (*c.p == '\0')
				break;
			if (++seen > MAX_CHALLENGES || !read_challenge(&c, &ch, &usable)) {
				*why = c.why ? c.why : "too many challenges";
				return NVR_ERR_INVAL;
			}
			basic_offered |= ch.scheme == ING_AUTH_BASIC;
			if (usable && rank(&ch, allow_basic) > best_rank) {
				best_rank = rank(&ch, allow_basic);
				*best = ch;
			}
		}
	}
	if (best_rank == 0) {
		*why = basic_offered ? "the camera offers only Basic authentication, which is not allowed for it"
				     : "the camera offers no authentication scheme we support";
		return NVR_ERR_INVAL;
	}
	return NVR_OK;
}

/* ---- answering ------------------------------------------------------------ */

/* Lower-case hex of H(a ":" b ":" ...) for the challenge's hash. */
static bool
hash_hex(enum ing_digest_alg alg, const char *const *parts, size_t n, char out[65])
{
	const EVP_MD *md = alg == ING_DIGEST_SHA256 || alg == ING_DIGEST_SHA256_SESS ? EVP_sha256() : EVP_md5();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1;

	for (size_t i = 0; ok && i < n; i++) {
		ok = (i == 0 || EVP_DigestUpdate(ctx, ":", 1) == 1) &&
		    EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, d, &dlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (ok)
		nvr_hex_encode(d, dlen, out);
	OPENSSL_cleanse(d, sizeof(d));
	return ok;
}

/* Appends s as a quoted-string body, escaping '"' and '\'. */
static bool
quote(char *out, size_t size, size_t *pos, const char *s)
{
	for (; *s; s++) {
		if (*pos + 3 >= size)
			return false;
		if (*s == '"' || *s == '\\')
			out[(*pos)++] = '\\';
		out[(*pos)++] = *s;
	}
	out[*pos] = '\0';
	return true;
}

static bool append(char *out, size_t size, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool
append(char *out, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + *pos, size - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *pos)
		return false;
	*pos += (size_t)n;
	return true;
}

static nvr_err
basic_header(const char *user, const char *password, char *out, size_t size)
{
	char plain[512];
	char *b64;
	int n = snprintf(plain, sizeof(plain), "%s:%s", user, password);
	nvr_err rc = NVR_ERR_TOOBIG;

	if (n < 0 || (size_t)n >= sizeof(plain))
		return NVR_ERR_TOOBIG;
	b64 = nvr_b64_encode((const uint8_t *)plain, (size_t)n);
	OPENSSL_cleanse(plain, sizeof(plain));
	if (b64 != NULL && (size_t)snprintf(out, size, "Basic %s", b64) < size)
		rc = NVR_OK;
	if (b64 != NULL)
		OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	return rc;
}

nvr_err
ing_auth_header(const struct ing_auth_challenge *c, const char *user, const char *password,
    const char *method, const char *uri, uint32_t nc, const char *cnonce, char *out, size_t size)
{
	char ha1[65], ha2[65], resp[65], ncs[9];
	const char *a1[3] = { user, c->realm, password };
	const char *a2[2] = { method, uri };
	bool sess = c->alg == ING_DIGEST_MD5_SESS || c->alg == ING_DIGEST_SHA256_SESS;
	size_t pos = 0;
	bool ok;

	if (c->scheme == ING_AUTH_BASIC)
		return basic_header(user, password, out, size);
	snprintf(ncs, sizeof(ncs), "%08x", nc);
	ok = hash_hex(c->alg, a1, 3, ha1);
	if (ok && sess) { /* RFC 7616 3.4.2 */
		const char *s[3] = { ha1, c->nonce, cnonce };
		ok = hash_hex(c->alg, s, 3, ha1);
	}
	ok = ok && hash_hex(c->alg, a2, 2, ha2);
	if (ok && c->qop_auth) {
		const char *r[6] = { ha1, c->nonce, ncs, cnonce, "auth", ha2 };
		ok = hash_hex(c->alg, r, 6, resp);
	} else if (ok) {
		const char *r[3] = { ha1, c->nonce, ha2 }; /* RFC 2069 */
		ok = hash_hex(c->alg, r, 3, resp);
	}
	OPENSSL_cleanse(ha1, sizeof(ha1));
	if (!ok)
		return NVR_ERR_CRYPTO;
	ok = append(out, size, &pos, "%s", "Digest username=\"") && quote(out, size, &pos, user) &&
	    append(out, size, &pos, "%s", "\", realm=\"") && quote(out, size, &pos, c->realm) &&
	    append(out, size, &pos, "%s", "\", nonce=\"") && quote(out, size, &pos, c->nonce) &&
	    append(out, size, &pos, "%s", "\", uri=\"") && quote(out, size, &pos, uri) &&
	    append(out, size, &pos, "\", response=\"%s\"", resp) &&
	    append(out, size, &pos, ", algorithm=%s", ing_digest_alg_name(c->alg));
	if (ok && c->qop_auth)
		ok = append(out, size, &pos, ", qop=auth, nc=%s", ncs) && append(out, size, &pos, ", cnonce=\"%s\"", cnonce);
	if (ok && c->has_opaque)
		ok = append(out, size, &pos, "%s", ", opaque=\"") && quote(out, size, &pos, c->opaque) &&
		    append(out, size, &pos, "%s", "\"");
	return ok ? NVR_OK : NVR_ERR_TOOBIG;
}

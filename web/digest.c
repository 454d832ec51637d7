/*
 * digest.c: HTTP Digest (RFC 7616) for the API's REST clients.
 * It parses client input: every length is bounded, and nothing a client
 * sends is logged here.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "nvrd/encode.h"
#include "nvrd/util.h"
#include "web/digest.h"

#define NONCE_TIME 8
#define NONCE_RAND 8
#define NONCE_MAC 16
#define NONCE_BYTES ((size_t)NONCE_TIME + NONCE_RAND + NONCE_MAC)
#define PROBES 16

struct nonce_slot {
	uint8_t id[NONCE_RAND]; /* the nonce's random part */
	int64_t expires_ms;     /* wall clock; 0: free */
	uint32_t nc;            /* highest count accepted */
};

struct web_digest {
	uint8_t key[32];
	int64_t lifetime_ms;
	pthread_mutex_t lock; /* protects slots and evicted_upto */
	int64_t evicted_upto; /* issue time of the newest nonce evicted while live */
	struct nonce_slot slots[WEB_DIGEST_NONCE_SLOTS];
};

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

nvr_err
web_digest_new(int64_t nonce_lifetime_ms, struct web_digest **out)
{
	struct web_digest *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (d == NULL)
		return NVR_ERR_NOMEM;
	if (RAND_bytes(d->key, sizeof(d->key)) != 1) {
		free(d);
		return NVR_ERR_CRYPTO;
	}
	d->lifetime_ms = nonce_lifetime_ms;
	pthread_mutex_init(&d->lock, NULL);
	*out = d;
	return NVR_OK;
}

void
web_digest_free(struct web_digest *d)
{
	if (d == NULL)
		return;
	OPENSSL_cleanse(d->key, sizeof(d->key));
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static void
nonce_mac(const struct web_digest *d, const uint8_t *msg, uint8_t mac[NONCE_MAC])
{
	uint8_t full[32];
	unsigned int n = sizeof(full);

	HMAC(EVP_sha256(), d->key, sizeof(d->key), msg, NONCE_TIME + NONCE_RAND, full, &n);
	memcpy(mac, full, NONCE_MAC);
}

void
web_digest_challenge(struct web_digest *d, const char *realm, enum web_digest_alg alg, bool stale,
    char out[WEB_DIGEST_CHALLENGE_MAX])
{
	uint8_t raw[NONCE_BYTES];
	char hex[NONCE_BYTES * 2 + 1];
	uint64_t now = (uint64_t)wall_ms();

	for (int i = 0; i < NONCE_TIME; i++)
		raw[i] = (uint8_t)(now >> (56 - 8 * i));
	if (RAND_bytes(raw + NONCE_TIME, NONCE_RAND) != 1)
		memset(raw + NONCE_TIME, 0, NONCE_RAND); /* still unforgeable: the MAC covers the time */
	nonce_mac(d, raw, raw + NONCE_TIME + NONCE_RAND);
	nvr_hex_encode(raw, sizeof(raw), hex);
	snprintf(out, WEB_DIGEST_CHALLENGE_MAX, "Digest realm=\"%s\", qop=\"auth, auth-int\", algorithm=%s, nonce=\"%s\"%s",
	    realm, alg == WEB_DIGEST_SHA256 ? "SHA-256" : "MD5", hex, stale ? ", stale=true" : "");
}

/* ---- parsing ------------------------------------------------------------ */

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

enum field { F_USERNAME, F_REALM, F_NONCE, F_URI, F_RESPONSE, F_CNONCE, F_QOP, F_NC, F_ALG, F_USERHASH, F_N };

static const char *const field_names[F_N] = {
	"username", "realm", "nonce", "uri", "response", "cnonce", "qop", "nc", "algorithm", "userhash",
};

static enum field
field_of(const char *name, size_t len)
{
	for (int i = 0; i < F_N; i++)
		if (strlen(field_names[i]) == len && strncasecmp(name, field_names[i], len) == 0)
			return (enum field)i;
	return F_N;
}

/* Where a field's value goes, and its size. Fields without their own
 * member (nc, algorithm, userhash) go to scratch. */
static char *
field_buf(struct web_digest_creds *c, enum field f, char *scratch, size_t *size)
{
	*size = WEB_DIGEST_FIELD_MAX;
	switch (f) {
	case F_USERNAME: return c->username;
	case F_REALM: return c->realm;
	case F_NONCE: return c->nonce;
	case F_URI: *size = WEB_DIGEST_URI_MAX; return c->uri;
	case F_RESPONSE: return c->response;
	case F_CNONCE: return c->cnonce;
	case F_QOP: return c->qop;
	default: return scratch;
	}
}

static bool
set_special(struct web_digest_creds *c, enum field f, const char *v, const char **why)
{
	char *end;
	unsigned long nc;

	switch (f) {
	case F_NC:
		if (strlen(v) != 8 || strspn(v, "0123456789abcdefABCDEF") != 8) {
			*why = "nc must be 8 hexadecimal digits";
			return false;
		}
		nc = strtoul(v, &end, 16);
		c->nc = (uint32_t)nc;
		memcpy(c->nc_text, v, sizeof(c->nc_text));
		return true;
	case F_ALG:
		if (strcasecmp(v, "SHA-256") == 0)
			c->alg = WEB_DIGEST_SHA256;
		else if (strcasecmp(v, "MD5") == 0)
			c->alg = WEB_DIGEST_MD5;
		else {
			*why = "unsupported Digest algorithm (SHA-256 or MD5)";
			return false;
		}
		return true;
	case F_USERHASH:
		if (strcasecmp(v, "false") != 0) {
			*why = "userhash is not supported";
			return false;
		}
		return true;
	default:
		return true;
	}
}

/* Reads one name=value pair at *p. */
static bool
read_param(const char **p, struct web_digest_creds *c, unsigned *seen, const char **why)
{
	const char *s = skip_ws(*p);
	size_t nlen = nvr_http_token_len(s), size;
	enum field f = field_of(s, nlen);
	char scratch[WEB_DIGEST_FIELD_MAX], *buf;

	if (nlen == 0) {
		*why = "malformed Authorization header";
		return false;
	}
	s = skip_ws(s + nlen);
	if (*s++ != '=') {
		*why = "an Authorization parameter has no value";
		return false;
	}
	s = skip_ws(s);
	buf = field_buf(c, f, scratch, &size);
	if (!nvr_http_read_value(&s, buf, size, why))
		return false;
	if (f != F_N) {
		if (*seen & (1u << f)) {
			*why = "an Authorization parameter is repeated";
			return false;
		}
		*seen |= 1u << f;
		if (!set_special(c, f, buf, why))
			return false;
	}
	*p = skip_ws(s);
	return true;
}

nvr_err
web_digest_parse(const char *value, struct web_digest_creds *c, const char **why)
{
	const unsigned need = 1u << F_USERNAME | 1u << F_REALM | 1u << F_NONCE | 1u << F_URI | 1u << F_RESPONSE |
	    1u << F_CNONCE | 1u << F_QOP | 1u << F_NC;
	const char *p = skip_ws(value);
	unsigned seen = 0;

	memset(c, 0, sizeof(*c));
	c->alg = WEB_DIGEST_MD5; /* RFC 7616 3.4: no algorithm means MD5 */
	if (strlen(value) > WEB_DIGEST_HEADER_MAX) {
		*why = "Authorization header too long";
		return NVR_ERR_TOOBIG;
	}
	if (strncasecmp(p, "Digest", 6) != 0 || (p[6] != ' ' && p[6] != '\t')) {
		*why = "not a Digest Authorization header";
		return NVR_ERR_INVAL;
	}
	for (p += 6; *skip_ws(p) != '\0';) {
		if (!read_param(&p, c, &seen, why))
			return NVR_ERR_INVAL;
		if (*p == ',')
			p++;
		else if (*p != '\0') {
			*why = "Authorization parameters must be separated by commas";
			return NVR_ERR_INVAL;
		}
	}
	if ((seen & need) != need) {
		*why = "Authorization lacks a parameter qop=auth needs (username, realm, nonce, uri, response, cnonce, qop, nc)";
		return NVR_ERR_INVAL;
	}
	c->auth_int = strcmp(c->qop, "auth-int") == 0;
	if (strcmp(c->qop, "auth") != 0 && !c->auth_int) {
		*why = "qop must be auth or auth-int";
		return NVR_ERR_INVAL;
	}
	return NVR_OK;
}

/* ---- checking ----------------------------------------------------------- */

static bool
hash_hex(enum web_digest_alg alg, const char *const *parts, size_t n, char out[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t h[32];
	unsigned int len = 0;
	bool ok = md != NULL && EVP_DigestInit_ex(md, alg == WEB_DIGEST_SHA256 ? EVP_sha256() : EVP_md5(), NULL);

	for (size_t i = 0; ok && i < n; i++)
		ok = (i == 0 || EVP_DigestUpdate(md, ":", 1)) && EVP_DigestUpdate(md, parts[i], strlen(parts[i]));
	ok = ok && EVP_DigestFinal_ex(md, h, &len);
	EVP_MD_CTX_free(md);
	if (ok)
		nvr_hex_encode(h, len, out);
	return ok;
}

/* Our nonce, and its age: WEB_DIGEST_OK, _STALE or _FOREIGN. */
static enum web_digest_result
check_nonce(const struct web_digest *d, const char *hex, uint8_t raw[NONCE_BYTES], int64_t *issued_ms)
{
	uint8_t mac[NONCE_MAC];
	uint64_t t = 0;
	int64_t now = wall_ms();

	if (strlen(hex) != NONCE_BYTES * 2 || nvr_hex_decode(hex, raw, NONCE_BYTES) != NVR_OK)
		return WEB_DIGEST_FOREIGN;
	nonce_mac(d, raw, mac);
	if (CRYPTO_memcmp(mac, raw + NONCE_TIME + NONCE_RAND, NONCE_MAC) != 0)
		return WEB_DIGEST_FOREIGN;
	for (int i = 0; i < NONCE_TIME; i++)
		t = t << 8 | raw[i];
	*issued_ms = (int64_t)t;
	if (*issued_ms > now + 60000)
		return WEB_DIGEST_FOREIGN; /* from the future: our key, but not our clock */
	/* >=: at the very millisecond its slot frees, the nonce is stale too. */
	return now - *issued_ms >= d->lifetime_ms ? WEB_DIGEST_STALE : WEB_DIGEST_OK;
}

/*
 * Records nc for the nonce: WEB_DIGEST_OK if it is higher than any seen
 * with it, WEB_DIGEST_REPLAY if not. A nonce the table does not hold is
 * new only if it was issued after every nonce the table ever let go
 * (evicted_upto): one issued earlier may have been evicted with its count,
 * so the server can no longer prove it unused, and it is WEB_DIGEST_STALE
 * (the client retries with a fresh nonce). That is what makes eviction
 * safe: whoever churns the table can make others' nonces stale, never
 * have a used count accepted again.
 */
static enum web_digest_result
count_nonce(struct web_digest *d, const uint8_t *id, int64_t issued_ms, uint32_t nc)
{
	uint32_t h = (uint32_t)id[0] | (uint32_t)id[1] << 8 | (uint32_t)id[2] << 16 | (uint32_t)id[3] << 24;
	struct nonce_slot *victim = NULL, *s;
	enum web_digest_result r = WEB_DIGEST_OK;
	int64_t now = wall_ms();

	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < PROBES; i++) {
		s = &d->slots[(h + (uint32_t)i) % WEB_DIGEST_NONCE_SLOTS];
		if (s->expires_ms > now && memcmp(s->id, id, NONCE_RAND) == 0) {
			if (nc > s->nc)
				s->nc = nc;
			else
				r = WEB_DIGEST_REPLAY;
			goto out;
		}
		if (victim == NULL || s->expires_ms < victim->expires_ms)
			victim = s;
	}
	if (issued_ms <= d->evicted_upto) {
		r = WEB_DIGEST_STALE;
		goto out;
	}
	if (victim->expires_ms > now && victim->expires_ms - d->lifetime_ms > d->evicted_upto)
		d->evicted_upto = victim->expires_ms - d->lifetime_ms;
	memcpy(victim->id, id, NONCE_RAND);
	victim->expires_ms = issued_ms + d->lifetime_ms;
	victim->nc = nc;
out:
	pthread_mutex_unlock(&d->lock);
	return r;
}

enum web_digest_result
web_digest_check(struct web_digest *d, const struct web_digest_creds *c, const char *realm, const char *method,
    const char *request_uri, const char *ha1_hex)
{
	return web_digest_check_body(d, c, realm, method, request_uri, ha1_hex, "", 0);
}

enum web_digest_result
web_digest_check_body(struct web_digest *d, const struct web_digest_creds *c, const char *realm, const char *method,
    const char *request_uri, const char *ha1_hex, const char *body, size_t len)
{
	uint8_t raw[NONCE_BYTES], hb[32];
	int64_t issued = 0;
	unsigned int hlen = 0;
	char ha2[65], resp[65], hbody[65] = "";
	const char *a2[3] = { method, c->uri, hbody };
	const char *r[6] = { ha1_hex, c->nonce, c->nc_text, c->cnonce, c->qop, ha2 };
	enum web_digest_result nr;

	if ((nr = check_nonce(d, c->nonce, raw, &issued)) == WEB_DIGEST_FOREIGN)
		return nr;
	if (strcmp(c->realm, realm) != 0 || strcmp(c->uri, request_uri) != 0)
		return WEB_DIGEST_FOREIGN;
	/* auth-int: A2 = method:uri:H(entity-body) (RFC 7616 3.4.3). */
	if (c->auth_int) {
		if (!EVP_Digest(body, len, hb, &hlen, c->alg == WEB_DIGEST_SHA256 ? EVP_sha256() : EVP_md5(), NULL))
			return WEB_DIGEST_WRONG;
		nvr_hex_encode(hb, hlen, hbody);
	}
	if (!hash_hex(c->alg, a2, c->auth_int ? 3 : 2, ha2) || !hash_hex(c->alg, r, 6, resp))
		return WEB_DIGEST_WRONG;
	/* Compared as the client spelled it: lower-case hex (RFC 7616 3.4.1). */
	if (strlen(c->response) != strlen(resp) || CRYPTO_memcmp(resp, c->response, strlen(resp)) != 0)
		return WEB_DIGEST_WRONG;
	if (nr == WEB_DIGEST_STALE)
		return nr; /* right password, old nonce: RFC 7616 3.3 stale=true */
	return count_nonce(d, raw + NONCE_TIME, issued, c->nc);
}

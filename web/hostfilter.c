/*
 * hostfilter.c: the API's allow-list of client addresses. Every rule and
 * every client is held as a 128-bit IPv6 address, IPv4 as IPv4-mapped
 * (::ffff:a.b.c.d, RFC 4291 2.5.5.2, prefix + 96), so that one comparison
 * covers both families and an IPv4 rule cannot be sidestepped by a client
 * that connects to a dual-stack socket. It must never allow an address it
 * could not parse.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/hostfilter.h"

#define SEPARATORS ", \t\r\n"
/* The longest rule: a full IPv6 address with an embedded IPv4 one, "/128". */
#define RULE_MAX (INET6_ADDRSTRLEN + 4)
#define MAPPED_BITS 96

struct rule {
	uint8_t addr[16]; /* the network, host bits clear */
	unsigned prefix;  /* 0 to 128, counted on the 128-bit form */
};

struct web_hostfilter {
	size_t n;
	struct rule rules[WEB_HOSTFILTER_MAX_RULES];
};

static const uint8_t mapped_head[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void set_why(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_why(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
}

static bool
is_mapped(const uint8_t a[16])
{
	return memcmp(a, mapped_head, sizeof(mapped_head)) == 0;
}

/* An IPv4 or IPv6 address in text into its 128-bit form; *v4 says which
 * family the text was written in. */
static bool
parse_addr(const char *s, uint8_t a[16], bool *v4)
{
	struct in_addr in4;

	if (inet_pton(AF_INET, s, &in4) == 1) {
		memcpy(a, mapped_head, sizeof(mapped_head));
		memcpy(a + 12, &in4, 4);
		*v4 = true;
		return true;
	}
	*v4 = false;
	return inet_pton(AF_INET6, s, a) == 1;
}

/* Clears the bits of a below prefix; true if any was set. */
static bool
clear_host_bits(uint8_t a[16], unsigned prefix)
{
	bool had = false;

	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * i : 0;
		uint8_t mask = (uint8_t)(0xff00u >> keep);

		if ((a[i] & ~mask & 0xff) != 0)
			had = true;
		a[i] &= mask;
	}
	return had;
}

static bool
prefix_matches(const uint8_t a[16], const struct rule *r)
{
	unsigned whole = r->prefix / 8, rest = r->prefix % 8;

	if (memcmp(a, r->addr, whole) != 0)
		return false;
	return rest == 0 || (a[whole] & (uint8_t)(0xff00u >> rest)) == r->addr[whole];
}

/* A rule as text: in dotted IPv4 form with its IPv4 prefix when v4 (the
 * address is then mapped and the prefix at least 96), else in IPv6 form. */
static void
format_rule(const struct rule *r, bool v4, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (v4)
		inet_ntop(AF_INET, r->addr + 12, a, sizeof(a));
	else
		inet_ntop(AF_INET6, r->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, v4 ? r->prefix - MAPPED_BITS : r->prefix);
}

/* The prefix length after '/': one to three digits, at most max. */
static bool
parse_prefix(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t len = strlen(s);

	if (len < 1 || len > 3 || strspn(s, "0123456789") != len)
		return false;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	*out = v;
	return v <= max;
}

/* One rule, NUL-terminated in tok (which it may change), into r. */
static nvr_err
parse_rule(char *tok, struct rule *r, char *why, size_t whysize)
{
	char *slash = strchr(tok, '/'), net[RULE_MAX + 8];
	unsigned prefix;
	bool v4;

	if (slash != NULL)
		*slash = '\0';
	if (!parse_addr(tok, r->addr, &v4)) {
		if (slash != NULL)
			*slash = '/';
		set_why(why, whysize, "\"%s\" is not an IPv4 or IPv6 address", tok);
		return NVR_ERR_INVAL;
	}
	if (slash == NULL) {
		prefix = v4 ? 32 : 128;
	} else if (!parse_prefix(slash + 1, v4 ? 32 : 128, &prefix)) {
		set_why(why, whysize, "%s/%s: the prefix length must be a number from 0 to %u", tok,
		    slash + 1, v4 ? 32 : 128);
		return NVR_ERR_INVAL;
	}
	r->prefix = v4 ? prefix + MAPPED_BITS : prefix;
	if (clear_host_bits(r->addr, r->prefix)) {
		format_rule(r, v4, net, sizeof(net));
		set_why(why, whysize, "%s%s%s has host bits set; did you mean %s?", tok,
		    slash != NULL ? "/" : "", slash != NULL ? slash + 1 : "", net);
		return NVR_ERR_INVAL;
	}
	return NVR_OK;
}

/* The next rule of the list at *p into f, advancing *p past it; NVR_OK
 * with nothing added at the end of the list. */
static nvr_err
parse_next(const char **p, struct web_hostfilter *f, char *why, size_t whysize)
{
	char tok[RULE_MAX + 1];
	size_t len;

	*p += strspn(*p, SEPARATORS);
	if ((len = strcspn(*p, SEPARATORS)) == 0)
		return NVR_OK;
	if (len > RULE_MAX) {
		set_why(why, whysize, "\"%.*s...\" is not an IPv4 or IPv6 address", 20, *p);
		return NVR_ERR_INVAL;
	}
	if (f->n == WEB_HOSTFILTER_MAX_RULES) {
		set_why(why, whysize, "the list has more than %d rules", WEB_HOSTFILTER_MAX_RULES);
		return NVR_ERR_TOOBIG;
	}
	memcpy(tok, *p, len);
	tok[len] = '\0';
	*p += len;
	return parse_rule(tok, &f->rules[f->n++], why, whysize);
}

nvr_err
web_hostfilter_parse(const char *list, struct web_hostfilter **out, char *why, size_t whysize)
{
	struct web_hostfilter *f = NULL;
	const char *p = list;
	nvr_err rc = NVR_OK;

	*out = NULL;
	set_why(why, whysize, "%s", "");
	if (strlen(list) > WEB_HOSTFILTER_MAX_TEXT) {
		set_why(why, whysize, "the list is longer than %d bytes", WEB_HOSTFILTER_MAX_TEXT);
		return NVR_ERR_TOOBIG;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NVR_ERR_NOMEM;
	while (*p != '\0') {
		if ((rc = parse_next(&p, f, why, whysize)) != NVR_OK)
			goto out;
	}
out:
	if (rc != NVR_OK)
		web_hostfilter_free(f);
	else
		*out = f;
	return rc;
}

void
web_hostfilter_free(struct web_hostfilter *f)
{
	free(f);
}

/* A client address as civetweb gives it, without brackets or %zone, into
 * its 128-bit form. */
static bool
parse_client(const char *addr, uint8_t a[16])
{
	char buf[INET6_ADDRSTRLEN + 1];
	size_t len = strlen(addr);
	bool v4;

	if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
		addr++;
		len -= 2;
	}
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, addr, len);
	buf[len] = '\0';
	/* The zone names the link the address is on; the rules do not. */
	buf[strcspn(buf, "%")] = '\0';
	return parse_addr(buf, a, &v4);
}

bool
web_hostfilter_allows(const struct web_hostfilter *f, const char *addr)
{
	uint8_t a[16];

	if (addr == NULL || !parse_client(addr, a))
		return false;
	if (f == NULL || f->n == 0)
		return true;
	for (size_t i = 0; i < f->n; i++) {
		if (prefix_matches(a, &f->rules[i]))
			return true;
	}
	return false;
}

size_t
web_hostfilter_count(const struct web_hostfilter *f)
{
	return f == NULL ? 0 : f->n;
}

nvr_err
web_hostfilter_format(const struct web_hostfilter *f, char *buf, size_t size)
{
	size_t used = 0;

	if (size == 0)
		return NVR_ERR_TOOBIG;
	buf[0] = '\0';
	for (size_t i = 0; i < web_hostfilter_count(f); i++) {
		const struct rule *r = &f->rules[i];
		char one[RULE_MAX + 1];
		int n;

		format_rule(r, is_mapped(r->addr) && r->prefix >= MAPPED_BITS, one, sizeof(one));
		n = snprintf(buf + used, size - used, "%s%s", i > 0 ? ", " : "", one);
		if (n < 0 || (size_t)n >= size - used) {
			buf[0] = '\0';
			return NVR_ERR_TOOBIG;
		}
		used += (size_t)n;
	}
	return NVR_OK;
}

/*
 * hostfilter.h: the API's allow-list of client addresses, checked before
 * authentication.
 *
 * A list is addresses and CIDR networks, IPv4 and IPv6 ("10.0.0.0/8,
 * 2001:db8::/32, ::1"). An IPv4-mapped IPv6 address (::ffff:a.b.c.d), in a
 * rule or from a client, is the IPv4 address a.b.c.d: an IPv4 rule cannot
 * be bypassed over IPv6 and a mapped rule matches plain IPv4 clients.
 * "::/0" therefore allows every client, IPv4 ones included (they are
 * mapped addresses too); "0.0.0.0/0" allows IPv4 clients only. A bare
 * address is a /32 or a /128. An empty list allows every address.
 */
#ifndef NVR_WEB_HOSTFILTER_H
#define NVR_WEB_HOSTFILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "nvrd/err.h"

#define WEB_HOSTFILTER_MAX_RULES 256
#define WEB_HOSTFILTER_MAX_TEXT 8192 /* bytes of a whole list */

struct web_hostfilter;

/*
 * Parses a list separated by commas and/or blanks. Host bits set below the
 * prefix ("10.1.2.3/8") are an error: the rule would not mean what it says.
 * On NVR_OK the caller frees *out with web_hostfilter_free(). On
 * NVR_ERR_INVAL or NVR_ERR_TOOBIG, why (may be truncated) names the rule
 * and what is wrong with it.
 */
nvr_err web_hostfilter_parse(const char *list, struct web_hostfilter **out, char *why, size_t whysize);
void web_hostfilter_free(struct web_hostfilter *f);

/* Whether a client address in text form (as civetweb reports it: "1.2.3.4",
 * "::1", "::ffff:1.2.3.4", optionally in brackets or with a %zone, which is
 * ignored) is allowed. An address that does not parse is refused, even by
 * an empty list. */
bool web_hostfilter_allows(const struct web_hostfilter *f, const char *addr);

/* The number of rules (0: everything allowed). */
size_t web_hostfilter_count(const struct web_hostfilter *f);

/* The rules in canonical form ("10.0.0.0/8, ::1/128"), into buf: every
 * rule with its prefix length, IPv4 (and IPv4-mapped rules of /96 or
 * longer) in dotted form with the IPv4 prefix, IPv6 as inet_ntop writes it.
 * The text parses back to the same list. NVR_ERR_TOOBIG (and buf empty) if
 * it does not fit. */
nvr_err web_hostfilter_format(const struct web_hostfilter *f, char *buf, size_t size);

#endif

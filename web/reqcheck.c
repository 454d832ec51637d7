/*
 * reqcheck.c: request-target and Range checks (reqcheck.h). They read
 * client bytes only within the strings given, and write only within the
 * buffers given.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>

#include "nvrd/encode.h"
#include "web/reqcheck.h"

#define RANGE_MAX 80 /* bytes of a Range header's value read after "bytes=" */

static bool
escapes_ok(const char *s)
{
	for (const char *p = s; (p = strchr(p, '%')) != NULL; p++)
		if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
			return false;
	return true;
}

/* Decodes in (form: '+' is a space) into out; why not, naming what. */
static const char *
decode_text(const char *in, int form, char *out, size_t size, const char *const why[4])
{
	int n;

	if (!escapes_ok(in))
		return why[0];
	n = mg_url_decode(in, (int)strlen(in), out, (int)size, form);
	if (n < 0 || (size_t)n + 1 >= size)
		return why[1];
	if ((size_t)n != strlen(out))
		return why[2];
	return nvr_text_problem(out) != NULL ? why[3] : NULL;
}

static bool
has_dot_segment(const char *p)
{
	size_t n = strlen(p);

	return strstr(p, "/../") != NULL || strstr(p, "/./") != NULL || (n >= 3 && strcmp(p + n - 3, "/..") == 0) ||
	    (n >= 2 && strcmp(p + n - 2, "/.") == 0);
}

const char *
web_target_problem(const char *target, const char *path, const char *query, char *out, size_t size, char *scratch,
    size_t scratch_size)
{
	static const char *const path_why[4] = {
		"the path has a % that is not followed by two hex digits",
		"the path is too long",
		"the path holds an encoded NUL (%00)",
		"the path is not UTF-8 text once decoded (invalid UTF-8 or a control character)",
	};
	static const char *const query_why[4] = {
		"the query has a % that is not followed by two hex digits",
		"the query is too long",
		"the query holds an encoded NUL (%00)",
		"the query is not UTF-8 text once decoded (invalid UTF-8 or a control character)",
	};
	const char *why;

	out[0] = '\0';
	if (target == NULL || target[0] != '/' || path == NULL)
		return "the request target must be a path (origin form, RFC 9112 3.2.1), not a URL";
	if ((why = decode_text(path, 0, out, size, path_why)) != NULL)
		return why;
	if (has_dot_segment(out))
		return "the path has a . or .. segment";
	if (query == NULL || query[0] == '\0')
		return NULL;
	return decode_text(query, 1, scratch, scratch_size, query_why);
}

/* A decimal number of at most 19 digits at s, nothing else (strtoull
 * alone would take "-1" and " 5"). */
static bool
range_number(const char *s, size_t len, uint64_t *v)
{
	*v = 0;
	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return true;
}

int
web_range_parse(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
	const char *dash;
	uint64_t a, b;

	if (h == NULL || strncasecmp(h, "bytes=", 6) != 0)
		return 0; /* no Range, or another unit: ignored */
	h += 6;
	if (strlen(h) > RANGE_MAX || strchr(h, ',') != NULL)
		return -1; /* several ranges */
	if ((dash = strchr(h, '-')) == NULL)
		return 0;
	if (dash == h) { /* suffix: the last n bytes */
		if (!range_number(h + 1, strlen(h + 1), &b))
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 1;
	}
	if (!range_number(h, (size_t)(dash - h), &a) || (dash[1] != '\0' && !range_number(dash + 1, strlen(dash + 1), &b)))
		return 0;
	if (dash[1] == '\0')
		b = UINT64_MAX;
	if (b < a)
		return 0; /* last before first: invalid, so ignored */
	if (a >= size)
		return -1;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return 1;
}


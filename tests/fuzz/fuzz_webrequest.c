/*
 * fuzz_webrequest.c: what else an API client controls before a handler
 * runs: the query string (civetweb's decoding, then our bounded number
 * parsing), a JSON body (jansson, duplicates refused, as web_read_json
 * reads it), a client address against an allow-list, a request target
 * (web_target_problem: path and query decoded and checked) and a Range
 * header (web_range_parse). The first byte picks which; the rest is the
 * input.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>
#include <jansson.h>

#include "nvrd/util.h"
#include "web/hostfilter.h"
#include "web/reqcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
query(const char *q, size_t len)
{
	char v[256];
	const char *end;
	long n;

	if (mg_get_var(q, len, "limit", v, sizeof(v)) >= 0)
		(void)nvr_parse_num(v, &end, 1, 1000, &n);
	(void)mg_get_var(q, len, "actor", v, sizeof(v));
}

static void
body(const char *b, size_t len)
{
	json_error_t err;
	json_t *j = json_loadb(b, len, JSON_REJECT_DUPLICATES, &err);

	if (json_is_object(j))
		(void)json_string_value(json_object_get(j, "user"));
	json_decref(j);
}

static void
address(char *text)
{
	struct web_hostfilter *f = NULL;
	char why[256], *nl = strchr(text, '\n');

	if (nl == NULL)
		return;
	*nl = '\0';
	if (web_hostfilter_parse(text, &f, why, sizeof(why)) == NVR_OK)
		(void)web_hostfilter_allows(f, nl + 1);
	web_hostfilter_free(f);
}

/* "target\npath\nquery": the three strings civetweb hands over. */
static void
target(char *text)
{
	char out[2048], scratch[4096], *path, *query = NULL;

	if ((path = strchr(text, '\n')) == NULL)
		return;
	*path++ = '\0';
	if ((query = strchr(path, '\n')) != NULL)
		*query++ = '\0';
	if (web_target_problem(text, path, query, out, sizeof(out), scratch, sizeof(scratch)) == NULL &&
	    strlen(out) >= sizeof(out))
		abort(); /* accepted: out must be a NUL-terminated string in bounds */
}

/* A Range header against a few sizes: an accepted range lies inside. */
static void
range(const char *h)
{
	static const uint64_t sizes[] = { 0, 1, 100, 1000000, UINT64_MAX / 2 };
	uint64_t first, last;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (web_range_parse(h, sizes[i], &first, &last) == 1 && (first > last || last >= sizes[i]))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1 || size > 65536 || (text = malloc(size)) == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0: query(text, size - 1); break;
	case 1: body(text, size - 1); break;
	case 2: address(text); break;
	case 3: target(text); break;
	default: range(text); break;
	}
	free(text);
	return 0;
}

/*
 * reqcheck.h: checks of what a client puts in a request line and a Range
 * header, before any of it is routed, looked up or sent to PostgreSQL.
 * Pure functions on bounded buffers: fuzzed by tests/fuzz/fuzz_webrequest.c.
 */
#ifndef NVR_WEB_REQCHECK_H
#define NVR_WEB_REQCHECK_H

#include <stddef.h>
#include <stdint.h>

/*
 * Checks a request target as civetweb hands it over with decode_url off:
 * target is the request-target as sent (must be a path: origin form),
 * path the same after civetweb's dot-segment removal, query the part
 * after '?' or NULL. Decodes path into out (size bytes, NUL-terminated)
 * and the query into scratch (scratch_size bytes). Returns NULL if both
 * are UTF-8 text without control characters, encoded NULs, bad escapes or
 * dot segments; else why not (static text, for a 400).
 */
const char *web_target_problem(const char *target, const char *path, const char *query, char *out, size_t size,
    char *scratch, size_t scratch_size);

/*
 * A Range header (may be NULL) for a file of size bytes: 1 with the
 * single byte range [*first, *last] ("bytes=a-b", "bytes=a-", "bytes=-n");
 * 0 to serve the whole file (no Range, or one that is not a valid byte
 * range: RFC 9110 14.2 says to ignore it); -1 for 416 (unsatisfiable, or
 * several ranges, which RFC 9110 14.2 lets a server refuse).
 */
int web_range_parse(const char *h, uint64_t size, uint64_t *first, uint64_t *last);

#endif

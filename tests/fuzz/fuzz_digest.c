/*
 * fuzz_digest.c: WWW-Authenticate challenges (several headers, split at
 * newlines) and the Authorization answer built from what was parsed.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *values[8];
	struct ing_auth_challenge c;
	const char *why;
	char *text, *line, *save = NULL, out[2048];
	size_t n = 0;

	if (size > 16384 || (text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL && n < 8; line = strtok_r(NULL, "\n", &save))
		values[n++] = line;
	if (ing_auth_parse(values, n, size % 2 == 0, &c, &why) == NVR_OK)
		ing_auth_header(&c, "user", "password", "DESCRIBE", "rtsp://camera/stream", 1, "cnonce", out, sizeof(out));
	free(text);
	return 0;
}

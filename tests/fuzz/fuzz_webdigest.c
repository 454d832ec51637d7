/*
 * fuzz_webdigest.c: Authorization headers from API clients: the Digest
 * parser, then the check against a real nonce of ours (so the nonce, realm
 * and uri comparisons and the hashing run on parsed input).
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct web_digest *d;
	struct web_digest_creds c;
	const char *why;
	char *text;

	if (d == NULL && web_digest_new(60000, &d) != NVR_OK)
		return 0;
	if (size > WEB_DIGEST_HEADER_MAX + 16 || (text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (web_digest_parse(text, &c, &why) == NVR_OK)
		(void)web_digest_check(d, &c, "nvr", "GET", c.uri, "00112233445566778899aabbccddeeff");
	free(text);
	return 0;
}

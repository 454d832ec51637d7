/*
 * fuzz_sdp.c: a camera's SDP through libgstsdp, with MIKEY (a=key-mgmt)
 * and SDES (a=crypto) key extraction, and URL resolution.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gst/gst.h>

#include "ingest/rtsp.h"
#include "ingest/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct ing_sdp sdp;
	struct ing_rtsp_url u;
	const char *why;
	uint8_t *copy;
	char *url;

	if (!inited) {
		gst_init(NULL, NULL);
		inited = 1;
	}
	if (size > ING_RTSP_MAX_BODY || (copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	if (ing_sdp_parse(copy, size, "rtsps://camera/stream/", &sdp, &why) == NVR_OK)
		ing_sdp_wipe(&sdp);
	free(copy);
	/* the same bytes as a camera URL */
	if ((url = malloc(size + 1)) != NULL) {
		memcpy(url, data, size);
		url[size] = '\0';
		ing_rtsp_url_parse(url, &u, &why);
		free(url);
	}
	return 0;
}

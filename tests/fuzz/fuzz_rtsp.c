/*
 * fuzz_rtsp.c: the camera's byte stream: RTSP messages and interleaved
 * frames, fed to the incremental parser in pieces whose sizes come from
 * the input, as a network delivers them. Also the Session and Public
 * value parsers on every header value.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/rtsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[ING_RTSP_SCRATCH];

static void
values(const struct ing_rtsp_msg *m)
{
	char id[128];
	int t;

	for (size_t i = 0; i < m->nheaders; i++) {
		ing_rtsp_parse_session(m->headers[i].value, id, sizeof(id), &t);
		ing_rtsp_public_has(m->headers[i].value, "GET_PARAMETER");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ing_rtsp_msg m;
	struct ing_rtsp_item_info it;
	const char *why;
	uint8_t *buf;
	size_t have = 0, pos = 1, step;

	if (size < 1 || (buf = malloc(size)) == NULL)
		return 0;
	step = (size_t)data[0] % 64 + 1; /* delivery chunk size */
	while (pos < size || have > 0) {
		size_t n = size - pos < step ? size - pos : step;
		memcpy(buf + have, data + pos, n);
		have += n;
		pos += n;
		for (;;) {
			if (ing_rtsp_parse(buf, have, scratch, &m, &it, &why) != NVR_OK)
				goto out;
			if (it.kind == ING_RTSP_NEED_MORE)
				break;
			if (it.kind == ING_RTSP_MESSAGE)
				values(&m);
			memmove(buf, buf + it.consumed, have - it.consumed);
			have -= it.consumed;
		}
		if (n == 0)
			break;
	}
out:
	free(buf);
	return 0;
}

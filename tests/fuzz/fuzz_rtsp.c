/*
 * fuzz_rtsp.c: the camera's byte stream: RTSP messages and interleaved
 * frames, fed to the incremental parser in pieces whose sizes come from
 * the input, as a network delivers them. Also the Session and Public
 * value parsers on every header value. When bit 6 of the first byte is
 * set, the stream starts with the HTTP answer to an Internet-mode tunnel's
 * GET (ingest/tunnel.c), read the same way.
 */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/rtsp.h"
#include "ingest/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[ING_RTSP_SCRATCH];

static void
values(const struct ing_rtsp_msg *m)
{
	char id[128];
	long a, b;
	int t;

	for (size_t i = 0; i < m->nheaders; i++) {
		ing_rtsp_parse_session(m->headers[i].value, id, sizeof(id), &t);
		ing_rtsp_public_has(m->headers[i].value, "GET_PARAMETER");
		ing_rtsp_transport_range(m->headers[i].value, "server_port", 65535, &a, &b);
		ing_rtsp_transport_range(m->headers[i].value, "interleaved", 255, &a, &b);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ing_rtsp_msg m;
	struct ing_rtsp_item_info it;
	const char *why;
	uint8_t *buf;
	size_t have = 0, pos = 1, step, used;
	bool http;
	int status;

	if (size < 1 || (buf = malloc(size)) == NULL)
		return 0;
	step = (size_t)data[0] % 64 + 1; /* delivery chunk size */
	http = (data[0] & 0x40) != 0;
	while (pos < size || have > 0) {
		size_t n = size - pos < step ? size - pos : step;
		memcpy(buf + have, data + pos, n);
		have += n;
		pos += n;
		if (http) {
			if (ing_tunnel_parse_answer(buf, have, &used, &status, &why) != NVR_OK)
				goto out;
			if (used == 0 && n > 0)
				continue;
			http = false;
			memmove(buf, buf + used, have - used);
			have -= used;
		}
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

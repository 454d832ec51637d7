/*
 * fuzz_storage.c: what the verifier and the start-up repair read from
 * disk, where anyone with access may have edited it: segment headers and
 * records, and manifests.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/manifest.h"
#include "storage/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stg_seg_header h;
	struct stg_record r;
	struct stg_manifest m;
	const char *why;
	size_t off = STG_SEG_HEADER_LEN;
	char *json = NULL;
	size_t len;

	if (stg_seg_header_decode(data, size, &h, &why) == NVR_OK) {
		while (off < size && stg_seg_record_decode(data + off, size - off, &r) == NVR_OK)
			off += STG_SEG_RECORD_HEADER + r.len;
	}
	if (stg_manifest_decode((const char *)data, size, &m, &why) == NVR_OK &&
	    stg_manifest_encode(&m, &json, &len) == NVR_OK)
		free(json);
	return 0;
}

/*
 * fuzz_storage.c: what the verifier and the start-up repair read from
 * disk, where anyone with access may have edited it: segment headers and
 * records, and manifests; and what nvrctl verify reads from a bundle that
 * came from anywhere: tar header blocks and member names.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/bundle.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each whole block as a tar header; a name read must be one the writer
 * writes back the same way, and the bundle's name check must hold. */
static void
tar_blocks(const uint8_t *data, size_t size)
{
	char path[STG_TAR_PATH_MAX], again[STG_TAR_PATH_MAX];
	uint8_t block[STG_TAR_BLOCK];
	enum stg_tar_kind kind, kind2;
	uint64_t n, n2;
	const char *why, *slash;

	for (size_t off = 0; off + STG_TAR_BLOCK <= size; off += STG_TAR_BLOCK) {
		if (stg_tar_parse(data + off, &kind, path, &n, &why) != NVR_OK || kind != STG_TAR_FILE)
			continue;
		if ((slash = strchr(path, '/')) != NULL)
			(void)stg_bundle_name_ok(slash + 1);
		if (stg_tar_header(block, path, n, 0) != NVR_OK)
			continue;
		if (stg_tar_parse(block, &kind2, again, &n2, &why) != NVR_OK || kind2 != STG_TAR_FILE ||
		    strcmp(path, again) != 0 || n != n2)
			__builtin_trap();
	}
}

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
	tar_blocks(data, size);
	if (stg_manifest_decode((const char *)data, size, &m, &why) == NVR_OK &&
	    stg_manifest_encode(&m, &json, &len) == NVR_OK)
		free(json);
	return 0;
}

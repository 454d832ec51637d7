/*
 * fuzz_config.c: nvrd.conf parser. Not network input, but the parser takes
 * every byte of a file an operator may paste from anywhere; it must bound
 * every length and never crash or leak.
 */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>

#include "nvrd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvr_config *cfg = NULL;
	struct nvr_config_errors errs = { 0 };
	char buf[512];

	if (nvr_config_parse("fuzz.conf", (const char *)data, size, &cfg, &errs) == NVR_OK) {
		/* A config that parsed must also format every key. */
		for (size_t i = 0; i < nvr_config_key_count(); i++)
			nvr_config_key_format(nvr_config_key_at(i), cfg, buf, sizeof(buf));
	}
	nvr_config_free(cfg);
	nvr_config_errors_free(&errs);
	return 0;
}

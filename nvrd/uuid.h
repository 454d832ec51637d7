/*
 * uuid.h: random (version 4) UUIDs: ids of cameras, segments and keys, made
 * here so that files can be named before the database knows them; and
 * name-based (version 5) ones for streams, which must come out the same
 * after a crash that lost the database row.
 */
#ifndef NVR_UUID_H
#define NVR_UUID_H

#include <stdbool.h>
#include <stdint.h>

#include "nvrd/err.h"

#define NVR_UUID_STRLEN 37 /* 36 characters and the NUL */

typedef struct nvr_uuid {
	uint8_t b[16];
} nvr_uuid;

/* A new random UUID (OpenSSL's DRBG). NVR_ERR_CRYPTO if it fails. */
nvr_err nvr_uuid_new(nvr_uuid *u);

/* RFC 9562 version 5: SHA-1 of the namespace UUID and the name. The same
 * inputs always give the same UUID. NVR_ERR_CRYPTO if SHA-1 fails. */
nvr_err nvr_uuid_name(const nvr_uuid *ns, const char *name, nvr_uuid *u);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower case, into buf. */
void nvr_uuid_format(const nvr_uuid *u, char buf[NVR_UUID_STRLEN]);

/* Parses the 36-character form (either case); NVR_ERR_INVAL otherwise. */
nvr_err nvr_uuid_parse(const char *s, nvr_uuid *u);

bool nvr_uuid_is_nil(const nvr_uuid *u);

#endif

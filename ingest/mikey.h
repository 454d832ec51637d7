/*
 * mikey.h: a bounded walk over a MIKEY message's payload chain (RFC 3830
 * section 6) before GStreamer parses it.
 *
 * Why this exists beside libgstsdp: gst_mikey_message_new_from_data() in
 * GStreamer 1.22 loops forever when a payload's "next payload" names a
 * type it does not parse (DH, SIGN, ID, CERT, CHASH, V, ERR, general
 * extension, or any unknown number): its loop never advances. A camera
 * (or anything that can answer DESCRIBE) could hang an ingest worker and
 * every camera on it. fuzz_sdp found it. This walk follows the same
 * length rules and accepts only chains GStreamer finishes; the parsing
 * itself stays GStreamer's.
 */
#ifndef NVR_ING_MIKEY_H
#define NVR_ING_MIKEY_H

#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

/* NVR_OK if the message is a PSK_INIT whose payload chain (and the key
 * data chain inside its KEMAC) holds only KEMAC, PKE, T, SP, RAND and
 * KEY_DATA payloads with lengths within len; else NVR_ERR_INVAL with why. */
nvr_err ing_mikey_check(const uint8_t *d, size_t len, const char **why);

#endif

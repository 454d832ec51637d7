/*
 * tunnel.h: the HTTP side of RTSP tunnelled over HTTP(S) ("Internet mode",
 * Apple's QuickTime scheme that ONVIF cameras follow): a GET whose answer
 * carries the RTSP responses and interleaved media back, and a POST that
 * carries the requests in base64, the two tied by an x-sessioncookie.
 */
#ifndef NVR_ING_TUNNEL_H
#define NVR_ING_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

#define ING_TUNNEL_MAX_HEAD 8192 /* the GET's answer head; cameras send a few lines */

/*
 * Parses the head of the answer to the tunnel's GET at the start of
 * buf[0 .. len): "HTTP/1.x NNN reason", header lines, an empty line (CRLF
 * or bare LF line ends). Sets *consumed to the head's length and *status,
 * or *consumed to 0 when the head is not whole yet. NVR_ERR_INVAL (and a
 * reason in why) for anything else, or a head over ING_TUNNEL_MAX_HEAD.
 */
nvr_err ing_tunnel_parse_answer(const uint8_t *buf, size_t len, size_t *consumed, int *status, const char **why);

#endif

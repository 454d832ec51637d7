/*
 * rtsp.h: RTSP/1.0 messages (RFC 2326) and interleaved binary data
 * (RFC 2326 10.12) on one byte stream, as a camera sends them.
 *
 * Hand-written: GStreamer's GstRTSPConnection parses only from its own
 * blocking GIO streams, and the ingest loop reads non-blocking OpenSSL
 * connections from epoll. The parser is incremental: feed it whatever
 * bytes arrived, take complete messages and frames out. Every length and
 * count is bounded; bad input gets NVR_ERR_INVAL and a reason.
 */
#ifndef NVR_ING_RTSP_H
#define NVR_ING_RTSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

#define ING_RTSP_MAX_LINE 4096       /* a start line or one header line */
#define ING_RTSP_MAX_HEADERS 64
#define ING_RTSP_MAX_HEAD 16384      /* all header lines together */
#define ING_RTSP_MAX_BODY 65536      /* an SDP is a few kilobytes */
#define ING_RTSP_SCRATCH (ING_RTSP_MAX_HEAD + 1)

struct ing_rtsp_header {
	const char *name;  /* as received; compare with strcasecmp */
	const char *value; /* trimmed */
};

/* A response, or a request the server sent us (method set, status 0). */
struct ing_rtsp_msg {
	int status;           /* 200, 401 ... */
	const char *reason;
	const char *method;   /* server-to-client requests only */
	struct ing_rtsp_header headers[ING_RTSP_MAX_HEADERS];
	size_t nheaders;
	const uint8_t *body;
	size_t body_len;
};

/* What ing_rtsp_parse() found at the start of the buffer. */
enum ing_rtsp_item {
	ING_RTSP_NEED_MORE,  /* incomplete: read more bytes */
	ING_RTSP_MESSAGE,    /* a whole message */
	ING_RTSP_FRAME,      /* '$' channel length data */
};

struct ing_rtsp_item_info {
	enum ing_rtsp_item kind;
	size_t consumed;       /* bytes to drop once the item is used */
	/* ING_RTSP_FRAME */
	uint8_t channel;
	const uint8_t *data;
	size_t len;
};

/*
 * Looks at the start of buf[0 .. len). For a message, the headers are
 * parsed into msg, whose strings point into scratch (a buffer of at least
 * ING_RTSP_SCRATCH bytes the caller owns) and whose body points into buf:
 * both must stay as they are while msg is used. Returns NVR_ERR_INVAL (with
 * a reason in why) for anything malformed or over a bound; the connection
 * cannot be resynchronised after that and must be dropped.
 */
nvr_err ing_rtsp_parse(const uint8_t *buf, size_t len, char *scratch, struct ing_rtsp_msg *msg,
    struct ing_rtsp_item_info *item, const char **why);

/* The value of the first header called name, or NULL. */
const char *ing_rtsp_header(const struct ing_rtsp_msg *msg, const char *name);

/* Parses "Session: id;timeout=60": the id (copied into id, at most idsize
 * - 1 bytes) and the timeout in seconds (60 if absent). */
nvr_err ing_rtsp_parse_session(const char *value, char *id, size_t idsize, int *timeout);

/* A "name=a-b" (or "name=a") parameter of a Transport header value: true
 * if present with a and b within 0 .. max; b is a + 1 when absent. */
bool ing_rtsp_transport_range(const char *value, const char *name, long max, long *a, long *b);

/* Parses the "Public:" list of methods: true if method is in it. */
bool ing_rtsp_public_has(const char *value, const char *method);

/* An RTSP URL split into its parts. */
struct ing_rtsp_url {
	bool tls;        /* rtsps://, https:// or rtspsh:// */
	bool tunnel;     /* https://, http:// (or GStreamer's rtspsh://, rtsph://):
			    RTSP tunnelled over HTTP, "Internet mode" */
	char host[256];  /* without brackets for IPv6 */
	int port;        /* 554 or 322 by default */
	char path[1024]; /* from the first '/', at least "/" */
};

/* Parses rtsp://, rtsps:// and the tunnel's https:// and http:// URLs
 * (default ports 554, 322, 443, 80); refuses user:password@ (credentials
 * belong in their own, encrypted, field, never in a URL that gets logged). */
nvr_err ing_rtsp_url_parse(const char *url, struct ing_rtsp_url *out, const char **why);

/* Resolves a control attribute against a base URL (RFC 2326 C.1.1):
 * absolute URLs and "*" are used as they are, others are appended to the
 * base with one '/' between them. Writes at most size bytes. */
nvr_err ing_rtsp_resolve(const char *base, const char *control, char *out, size_t size);

/* True if url parses (ing_rtsp_url_parse) and its scheme means TLS:
 * rtsps://, https://, rtspsh://. */
bool ing_rtsp_url_tls(const char *url);

/* The URL to put in RTSP requests: the configured one, except that a
 * tunnel's http(s):// becomes rtsp(s)://host:port/path, as RTSP inside the
 * tunnel speaks of RTSP URLs. Writes at most size bytes. */
nvr_err ing_rtsp_request_url(const char *url, const struct ing_rtsp_url *u, char *out, size_t size);

#endif

/*
 * log.h: levelled logging to stderr, for journald or a terminal.
 *
 * One record is one write(2) of one line, so records from several threads
 * never interleave. Under journald (JOURNAL_STREAM names our stderr) each
 * line carries a <N> syslog priority prefix; otherwise a UTC timestamp and the
 * level name. Control characters in messages are escaped, so text from a
 * camera or a client cannot forge a log line.
 *
 * Never pass a secret (password, key, conninfo) to these functions: there is
 * no redaction, by design, so that the rule stays simple to review.
 */
#ifndef NVR_LOG_H
#define NVR_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "nvrd/err.h"

#define NVR_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum nvr_log_level {
	NVR_LOG_ERROR = 0,
	NVR_LOG_WARNING,
	NVR_LOG_NOTICE,
	NVR_LOG_INFO,
	NVR_LOG_DEBUG,
};

/* Longest record written; longer messages are cut and end in "...". */
#define NVR_LOG_MAX_LINE 2048

/* Sets the program name shown in records and detects journald.
 * `ident` must outlive all logging (a string literal or argv[0]). */
void nvr_log_init(const char *ident);

void nvr_log_set_level(enum nvr_log_level level);
enum nvr_log_level nvr_log_get_level(void);
bool nvr_log_enabled(enum nvr_log_level level);

/* Parses "error", "warning", "notice", "info" or "debug". */
nvr_err nvr_log_level_parse(const char *s, enum nvr_log_level *out);
const char *nvr_log_level_name(enum nvr_log_level level);

void nvr_log(enum nvr_log_level level, const char *fmt, ...) NVR_PRINTF(2, 3);

/*
 * A record in PostgreSQL's style: a short factual message, then an optional
 * detail (facts) and hint (what to do), on the same line so that journald
 * keeps them together. `detail` and `hint` may be NULL.
 */
void nvr_log_ex(enum nvr_log_level level, const char *detail, const char *hint,
    const char *fmt, ...) NVR_PRINTF(4, 5);

void nvr_log_v(enum nvr_log_level level, const char *detail, const char *hint,
    const char *fmt, va_list ap) NVR_PRINTF(4, 0);

/*
 * Formats one record into buf (size >= 64), without the trailing newline,
 * exactly as it would be written. For tests and for nvr_log_v.
 * Returns the length written.
 */
size_t nvr_log_format(char *buf, size_t size, enum nvr_log_level level,
    const char *detail, const char *hint, const char *fmt, va_list ap)
    NVR_PRINTF(6, 0);

#define nvr_error(...)  nvr_log(NVR_LOG_ERROR, __VA_ARGS__)
#define nvr_warn(...)   nvr_log(NVR_LOG_WARNING, __VA_ARGS__)
#define nvr_notice(...) nvr_log(NVR_LOG_NOTICE, __VA_ARGS__)
#define nvr_info(...)   nvr_log(NVR_LOG_INFO, __VA_ARGS__)
#define nvr_debug(...)                                                     \
	do {                                                               \
		if (nvr_log_enabled(NVR_LOG_DEBUG))                        \
			nvr_log(NVR_LOG_DEBUG, __VA_ARGS__);               \
	} while (0)

#endif

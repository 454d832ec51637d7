/*
 * log.c: levelled, single-line, injection-safe logging to stderr.
 * It must never block on anything but the write to stderr, and never
 * allocate, so that it is safe from any thread and on allocation failure.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nvrd/log.h"

static const char *log_ident = "nvr";
/* Read on every call from every thread, written by SIGHUP reload. */
static atomic_int log_level = NVR_LOG_INFO;
static bool log_journald;

static const char *const level_names[] = {
	[NVR_LOG_ERROR] = "error",
	[NVR_LOG_WARNING] = "warning",
	[NVR_LOG_NOTICE] = "notice",
	[NVR_LOG_INFO] = "info",
	[NVR_LOG_DEBUG] = "debug",
};

/* sd-daemon(3) priority prefixes: LOG_ERR .. LOG_DEBUG. */
static const int level_syslog[] = { 3, 4, 5, 6, 7 };

/* journald sets JOURNAL_STREAM=dev:ino for the stream it reads; it only
 * applies if that stream is still our stderr (systemd.exec(5)). */
static bool
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (js == NULL)
		return false;
	errno = 0;
	dev = strtoull(js, &end, 10);
	if (errno != 0 || end == js || *end != ':')
		return false;
	js = end + 1;
	ino = strtoull(js, &end, 10);
	if (errno != 0 || end == js || *end != '\0')
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
nvr_log_init(const char *ident)
{
	const char *slash;

	if (ident != NULL) {
		slash = strrchr(ident, '/');
		log_ident = slash ? slash + 1 : ident;
	}
	log_journald = stderr_is_journal();
}

void
nvr_log_set_level(enum nvr_log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum nvr_log_level
nvr_log_get_level(void)
{
	return (enum nvr_log_level)atomic_load(&log_level);
}

bool
nvr_log_enabled(enum nvr_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

nvr_err
nvr_log_level_parse(const char *s, enum nvr_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum nvr_log_level)i;
			return NVR_OK;
		}
	}
	return NVR_ERR_INVAL;
}

const char *
nvr_log_level_name(enum nvr_log_level level)
{
	if ((unsigned)level > NVR_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

/* Appends src to buf at *pos, escaping control bytes as \xNN so that no
 * message can start a new record; stops short of the end of buf. */
static void
append_escaped(char *buf, size_t size, size_t *pos, const char *src)
{
	static const char hex[] = "0123456789abcdef";

	for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
		if (*p >= 0x20 && *p != 0x7f) {
			if (*pos + 1 >= size)
				return;
			buf[(*pos)++] = (char)*p;
		} else {
			if (*pos + 4 >= size)
				return;
			buf[(*pos)++] = '\\';
			buf[(*pos)++] = 'x';
			buf[(*pos)++] = hex[*p >> 4];
			buf[(*pos)++] = hex[*p & 0xf];
		}
	}
}

static void
append_raw(char *buf, size_t size, size_t *pos, const char *src)
{
	size_t n = strlen(src);

	if (n > size - 1 - *pos)
		n = size - 1 - *pos;
	memcpy(buf + *pos, src, n);
	*pos += n;
	buf[*pos] = '\0';
}

static void
format_prefix(char *buf, size_t size, size_t *pos, enum nvr_log_level level)
{
	char pre[96];
	struct timespec ts;
	struct tm tm;
	int n;

	if (log_journald) {
		n = snprintf(pre, sizeof(pre), "<%d>", level_syslog[level]);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(pre, sizeof(pre),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, log_ident,
		    (long)getpid(), level_names[level]);
	}
	if (n > 0)
		append_raw(buf, size, pos, pre);
}

size_t
nvr_log_format(char *buf, size_t size, enum nvr_log_level level,
    const char *detail, const char *hint, const char *fmt, va_list ap)
{
	char msg[NVR_LOG_MAX_LINE];
	size_t pos = 0;
	int n;

	if ((unsigned)level > NVR_LOG_DEBUG)
		level = NVR_LOG_ERROR;
	format_prefix(buf, size, &pos, level);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(unformattable log message: %s)", fmt);
	append_escaped(buf, size, &pos, msg);
	if (detail != NULL) {
		append_raw(buf, size, &pos, "; detail: ");
		append_escaped(buf, size, &pos, detail);
	}
	if (hint != NULL) {
		append_raw(buf, size, &pos, "; hint: ");
		append_escaped(buf, size, &pos, hint);
	}
	/* Truncation must be visible: mark a full buffer with "...". */
	if (pos >= size - 1 || (n > 0 && (size_t)n >= sizeof(msg))) {
		if (pos > size - 4)
			pos = size - 4;
		memcpy(buf + pos, "...", 3);
		pos += 3;
	}
	buf[pos] = '\0';
	return pos;
}

void
nvr_log_v(enum nvr_log_level level, const char *detail, const char *hint,
    const char *fmt, va_list ap)
{
	char line[NVR_LOG_MAX_LINE + 2];
	size_t len;
	ssize_t w;
	int saved = errno;

	if (!nvr_log_enabled(level))
		return;
	len = nvr_log_format(line, sizeof(line) - 1, level, detail, hint, fmt, ap);
	line[len++] = '\n';
	/* One write per record: atomic on pipes up to PIPE_BUF (4096). */
	do {
		w = write(STDERR_FILENO, line, len);
	} while (w < 0 && errno == EINTR);
	errno = saved;
}

void
nvr_log(enum nvr_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nvr_log_v(level, NULL, NULL, fmt, ap);
	va_end(ap);
}

void
nvr_log_ex(enum nvr_log_level level, const char *detail, const char *hint,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nvr_log_v(level, detail, hint, fmt, ap);
	va_end(ap);
}

/*
 * config.c: the key table and the INI parser for nvrd.conf.
 * It must never echo a secret value, never stop at the first error, and
 * never read past a bound (file size, line length, name length).
 */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvrd/config.h"
#include "nvrd/util.h"

#define SECOND 1000LL
#define MINUTE (60 * SECOND)
#define FIELD(f) offsetof(struct nvr_config, f)

static const struct nvr_config_key keys[] = {
	{ .section = "nvrd", .name = "log_level", .type = NVR_CFG_LOGLEVEL, .def = "info",
	    .flags = NVR_CFG_RELOAD, .offset = FIELD(log_level),
	    .doc = "least severe level logged: error, warning, notice, info or debug" },
	{ .section = "nvrd", .name = "secret_file", .type = NVR_CFG_PATH, .def = "/var/lib/nvrd/secret.key",
	    .offset = FIELD(secret_file),
	    .doc = "recorder-local secret that seals camera passwords in the database; made at first start" },
	{ .section = "nvrd", .name = "stats_file", .type = NVR_CFG_PATH, .def = "",
	    .flags = NVR_CFG_OPTIONAL, .offset = FIELD(stats_file),
	    .doc = "if set, statistics (JSON) are written here every 5 seconds and on SIGUSR1" },
	{ .section = "database", .name = "conninfo", .type = NVR_CFG_STRING, .def = "dbname=nvr",
	    .flags = NVR_CFG_SECRET, .offset = FIELD(db_conninfo),
	    .doc = "libpq connection string; prefer a Unix socket and ~/.pgpass over a password here" },
	{ .section = "database", .name = "connect_timeout", .type = NVR_CFG_DURATION, .def = "10s",
	    .min = 1 * SECOND, .max = 5 * MINUTE, .offset = FIELD(db_connect_timeout_ms),
	    .doc = "how long one connection attempt may take before it is retried" },
	{ .section = "signing", .name = "key", .type = NVR_CFG_PATH, .def = "/var/lib/nvrd/signing.key",
	    .offset = FIELD(signing_key),
	    .doc = "ECDSA P-256 key that signs every segment manifest; made at first start if absent" },
	{ .section = "signing", .name = "certificate", .type = NVR_CFG_PATH, .def = "/var/lib/nvrd/signing.crt",
	    .offset = FIELD(signing_cert),
	    .doc = "certificate of the signing key, copied into the storage root for verifiers" },
	{ .section = "ingest", .name = "workers", .type = NVR_CFG_INT, .def = "2", .min = 1, .max = 64,
	    .offset = FIELD(ingest_workers),
	    .doc = "threads that receive camera streams, each an event loop over many cameras" },
	{ .section = "ingest", .name = "timeout", .type = NVR_CFG_DURATION, .def = "10s",
	    .min = 1 * SECOND, .max = 2 * MINUTE, .offset = FIELD(ingest_timeout_ms),
	    .doc = "a camera that does not answer, or sends no data, for this long is reconnected" },
	{ .section = "ingest", .name = "reconnect_max", .type = NVR_CFG_DURATION, .def = "60s",
	    .min = 1 * SECOND, .max = 60 * MINUTE, .offset = FIELD(ingest_reconnect_max_ms),
	    .doc = "longest wait between reconnection attempts (the wait doubles from 1s, with jitter)" },
	{ .section = "storage", .name = "root", .type = NVR_CFG_PATH, .def = "/var/lib/nvrd/storage",
	    .offset = FIELD(storage_root),
	    .doc = "directory that holds the recorded segments; must exist and be writable" },
	{ .section = "storage", .name = "segment_duration", .type = NVR_CFG_DURATION, .def = "60s",
	    .min = 2 * SECOND, .max = 60 * MINUTE, .offset = FIELD(segment_duration_ms),
	    .doc = "a segment is closed at the first clean point after this long" },
	{ .section = "storage", .name = "segment_max_bytes", .type = NVR_CFG_SIZE, .def = "64MiB",
	    .min = 1LL << 20, .max = 1LL << 30, .offset = FIELD(segment_max_bytes),
	    .doc = "a segment is closed when it reaches this size, clean point or not" },
	{ .section = "storage", .name = "sync_interval", .type = NVR_CFG_DURATION, .def = "1s",
	    .min = 100, .max = 1 * SECOND, .offset = FIELD(sync_interval_ms),
	    .doc = "received packets reach the disk (fdatasync) at least this often" },
	{ .section = "storage", .name = "writers", .type = NVR_CFG_INT, .def = "2", .min = 1, .max = 32,
	    .offset = FIELD(storage_writers),
	    .doc = "threads that write, hash and sync segment files" },
	{ .section = "storage", .name = "retention_interval", .type = NVR_CFG_DURATION, .def = "60s",
	    .min = 1 * SECOND, .max = 60 * MINUTE, .offset = FIELD(retention_interval_ms),
	    .doc = "how often the retention worker deletes what is past a camera's limits or the high-water mark" },
	{ .section = "storage", .name = "high_water", .type = NVR_CFG_INT, .def = "90", .min = 1, .max = 100,
	    .offset = FIELD(high_water),
	    .doc = "percent of the storage root's filesystem in use above which the oldest unheld segments are deleted" },
	{ .section = "storage", .name = "low_water", .type = NVR_CFG_INT, .def = "85", .min = 1, .max = 100,
	    .offset = FIELD(low_water),
	    .doc = "percent of the filesystem a high-water pass frees down to (at most high_water)" },
	{ .section = "web", .name = "listen", .type = NVR_CFG_STRING, .def = "+8443",
	    .offset = FIELD(web_listen),
	    .doc = "HTTPS API addresses: PORT, +PORT (IPv4 and IPv6), ADDR:PORT or [ADDR6]:PORT, comma-separated; empty: no API" },
	{ .section = "web", .name = "tls_certificate", .type = NVR_CFG_PATH, .def = "/var/lib/nvrd/tls.crt",
	    .offset = FIELD(web_tls_cert),
	    .doc = "the API's certificate and its chain (PEM); a self-signed one is made at first start" },
	{ .section = "web", .name = "tls_key", .type = NVR_CFG_PATH, .def = "/var/lib/nvrd/tls.key",
	    .offset = FIELD(web_tls_key),
	    .doc = "the certificate's private key (PEM, mode 0600)" },
	{ .section = "web", .name = "tls_compat", .type = NVR_CFG_BOOL, .def = "no",
	    .offset = FIELD(web_tls_compat),
	    .doc = "also accept TLS 1.2 suites without forward secrecy or AEAD, for old clients; logged as a warning" },
	{ .section = "web", .name = "threads", .type = NVR_CFG_INT, .def = "256", .min = 2, .max = 1024,
	    .offset = FIELD(web_threads),
	    .doc = "threads serving API clients: each keep-alive client holds one while it is connected" },
	{ .section = "web", .name = "connections_per_address", .type = NVR_CFG_INT, .def = "32", .min = 1, .max = 1024,
	    .offset = FIELD(web_connections_per_address),
	    .doc = "open API connections one client address may hold; more are closed before the TLS handshake" },
	{ .section = "web", .name = "db_connections", .type = NVR_CFG_INT, .def = "8", .min = 1, .max = 256,
	    .offset = FIELD(web_db_connections),
	    .doc = "PostgreSQL connections the API threads share; a request holds one while it runs" },
	{ .section = "web", .name = "realm", .type = NVR_CFG_STRING, .def = "nvr",
	    .offset = FIELD(web_realm),
	    .doc = "the HTTP Digest realm; changing it needs every password set again" },
	{ .section = "web", .name = "allow", .type = NVR_CFG_STRING, .def = "",
	    .flags = NVR_CFG_RELOAD, .offset = FIELD(web_allow),
	    .doc = "client addresses and networks allowed to reach the API (IPv4 and IPv6 CIDR); empty: any" },
	{ .section = "web", .name = "allow_basic", .type = NVR_CFG_BOOL, .def = "no",
	    .offset = FIELD(web_allow_basic),
	    .doc = "accept HTTP Basic authentication as well as Digest (inside TLS only)" },
	{ .section = "web", .name = "session_lifetime", .type = NVR_CFG_DURATION, .def = "43200s",
	    .min = 5 * MINUTE, .max = 7LL * 24 * 60 * MINUTE, .offset = FIELD(web_session_lifetime_ms),
	    .doc = "a console session ends this long after login" },
	{ .section = "web", .name = "session_idle", .type = NVR_CFG_DURATION, .def = "1800s",
	    .min = 1 * MINUTE, .max = 24LL * 60 * MINUTE, .offset = FIELD(web_session_idle_ms),
	    .doc = "a console session unused for this long ends" },
	{ .section = "web", .name = "lockout_failures", .type = NVR_CFG_INT, .def = "5", .min = 1, .max = 100,
	    .offset = FIELD(web_lockout_failures),
	    .doc = "failed logins in a row, per user name and per client address, before a lock-out" },
	{ .section = "web", .name = "lockout_time", .type = NVR_CFG_DURATION, .def = "30s",
	    .min = 1 * SECOND, .max = 60 * MINUTE, .offset = FIELD(web_lockout_ms),
	    .doc = "first lock-out; each further failure doubles it, up to an hour" },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

size_t
nvr_config_key_count(void)
{
	return NKEYS;
}

const struct nvr_config_key *
nvr_config_key_at(size_t i)
{
	return i < NKEYS ? &keys[i] : NULL;
}

/* ---- errors ----------------------------------------------------------- */

static void
errors_add(struct nvr_config_errors *errs, const char *file, unsigned line,
    const char *fmt, ...) NVR_PRINTF(4, 5);

/* Appends one error; past NVR_CONFIG_MAX_ERRORS records a single final
 * "too many errors" entry. Allocation failure drops the entry: the caller
 * still fails, it only says less. */
static void
errors_add(struct nvr_config_errors *errs, const char *file, unsigned line,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	struct nvr_config_error *e;

	if (errs->n > NVR_CONFIG_MAX_ERRORS)
		return;
	if (errs->n == NVR_CONFIG_MAX_ERRORS) {
		snprintf(msg, sizeof(msg), "too many errors, stopped listing them");
		line = 0;
	} else {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (errs->n == errs->cap) {
		size_t cap = errs->cap ? errs->cap * 2 : 8;
		void *v = realloc(errs->v, cap * sizeof(*errs->v));
		if (v == NULL)
			return;
		errs->v = v;
		errs->cap = cap;
	}
	e = &errs->v[errs->n];
	e->file = strdup(file);
	e->msg = strdup(msg);
	e->line = line;
	if (e->file == NULL || e->msg == NULL) {
		free(e->file);
		free(e->msg);
		return;
	}
	errs->n++;
}

void
nvr_config_errors_free(struct nvr_config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].msg);
	}
	free(errs->v);
	memset(errs, 0, sizeof(*errs));
}

void
nvr_config_errors_print(const struct nvr_config_errors *errs, FILE *f)
{
	for (size_t i = 0; i < errs->n; i++) {
		if (errs->v[i].line)
			fprintf(f, "%s:%u: %s\n", errs->v[i].file, errs->v[i].line, errs->v[i].msg);
		else
			fprintf(f, "%s: %s\n", errs->v[i].file, errs->v[i].msg);
	}
}

/* ---- value parsers ---------------------------------------------------- */

nvr_err
nvr_config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return NVR_OK;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return NVR_OK;
		}
	}
	return NVR_ERR_INVAL;
}

/* Parses a leading decimal integer; *end points past it. */
static nvr_err
parse_leading_int(const char *s, int64_t *out, const char **end)
{
	char *e;
	long long v;

	if (!isdigit((unsigned char)s[0]) && !((s[0] == '-' || s[0] == '+') && isdigit((unsigned char)s[1])))
		return NVR_ERR_INVAL;
	errno = 0;
	v = strtoll(s, &e, 10);
	if (errno == ERANGE)
		return NVR_ERR_TOOBIG;
	*out = v;
	*end = e;
	return NVR_OK;
}

nvr_err
nvr_config_parse_int(const char *s, int64_t *out)
{
	const char *end;
	nvr_err rc = parse_leading_int(s, out, &end);

	if (rc == NVR_OK && *end != '\0')
		rc = NVR_ERR_INVAL;
	return rc;
}

struct unit {
	const char *name;
	int64_t mult;
};

/* A non-negative number followed by one of `units` (optional when
 * `bare_ok`); overflow is refused rather than wrapped. */
static nvr_err
parse_with_unit(const char *s, const struct unit *units, bool bare_ok, int64_t *out)
{
	const char *end;
	int64_t v;
	nvr_err rc;

	if ((rc = parse_leading_int(s, &v, &end)) != NVR_OK)
		return rc;
	if (v < 0)
		return NVR_ERR_INVAL;
	while (*end == ' ')
		end++;
	if (*end == '\0') {
		*out = v;
		return bare_ok ? NVR_OK : NVR_ERR_INVAL;
	}
	for (; units->name != NULL; units++) {
		if (strcmp(end, units->name) != 0)
			continue;
		if (v > INT64_MAX / units->mult)
			return NVR_ERR_TOOBIG;
		*out = v * units->mult;
		return NVR_OK;
	}
	return NVR_ERR_INVAL;
}

nvr_err
nvr_config_parse_duration(const char *s, int64_t *ms)
{
	static const struct unit units[] = {
		{ "ms", 1 }, { "s", SECOND }, { "m", MINUTE }, { "min", MINUTE },
		{ "h", 60 * MINUTE }, { NULL, 0 },
	};
	/* A bare number is refused: "60" could mean seconds or minutes. */
	return parse_with_unit(s, units, false, ms);
}

nvr_err
nvr_config_parse_size(const char *s, int64_t *bytes)
{
	static const struct unit units[] = {
		{ "B", 1 }, { "K", 1LL << 10 }, { "KiB", 1LL << 10 },
		{ "M", 1LL << 20 }, { "MiB", 1LL << 20 }, { "G", 1LL << 30 },
		{ "GiB", 1LL << 30 }, { "T", 1LL << 40 }, { "TiB", 1LL << 40 },
		{ NULL, 0 },
	};
	return parse_with_unit(s, units, true, bytes);
}

/* ---- typed fields ----------------------------------------------------- */

static void *
field(struct nvr_config *cfg, const struct nvr_config_key *k)
{
	return (char *)cfg + k->offset;
}

static const void *
cfield(const struct nvr_config *cfg, const struct nvr_config_key *k)
{
	return (const char *)cfg + k->offset;
}

static void
format_range(const struct nvr_config_key *k, char *buf, size_t size)
{
	if (k->type == NVR_CFG_DURATION && (k->min % SECOND != 0 || k->max % SECOND != 0))
		snprintf(buf, size, "%lldms and %lldms", (long long)k->min, (long long)k->max);
	else if (k->type == NVR_CFG_DURATION)
		snprintf(buf, size, "%llds and %llds", (long long)(k->min / SECOND),
		    (long long)(k->max / SECOND));
	else if (k->type == NVR_CFG_SIZE)
		snprintf(buf, size, "%lldMiB and %lldMiB", (long long)(k->min >> 20), (long long)(k->max >> 20));
	else
		snprintf(buf, size, "%lld and %lld", (long long)k->min, (long long)k->max);
}

/* Replaces the string in *f with a copy of value. */
static nvr_err
set_string(void *f, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return NVR_ERR_NOMEM;
	free(*(char **)f);
	*(char **)f = copy;
	return NVR_OK;
}

/* Parses `value` for key k and stores it into cfg (strings are copied).
 * On failure writes the reason into why, without quoting the value, which
 * may be a secret. */
static nvr_err
set_value(struct nvr_config *cfg, const struct nvr_config_key *k,
    const char *value, char *why, size_t whysize)
{
	void *f = field(cfg, k);
	int64_t v = 0;
	bool b;
	enum nvr_log_level lvl;
	char range[64];
	nvr_err rc = NVR_OK;

	switch (k->type) {
	case NVR_CFG_PATH:
		if (value[0] == '\0' && (k->flags & NVR_CFG_OPTIONAL))
			return set_string(f, value);
		if (value[0] != '/') {
			snprintf(why, whysize, "must be an absolute path");
			return NVR_ERR_INVAL;
		}
		if (strlen(value) >= PATH_MAX) {
			snprintf(why, whysize, "path longer than %d bytes", PATH_MAX - 1);
			return NVR_ERR_TOOBIG;
		}
		return set_string(f, value);
	case NVR_CFG_STRING:
		return set_string(f, value);
	case NVR_CFG_BOOL:
		if (nvr_config_parse_bool(value, &b) != NVR_OK) {
			snprintf(why, whysize, "expected yes or no");
			return NVR_ERR_INVAL;
		}
		*(bool *)f = b;
		return NVR_OK;
	case NVR_CFG_LOGLEVEL:
		if (nvr_log_level_parse(value, &lvl) != NVR_OK) {
			snprintf(why, whysize, "expected error, warning, notice, info or debug");
			return NVR_ERR_INVAL;
		}
		*(enum nvr_log_level *)f = lvl;
		return NVR_OK;
	case NVR_CFG_INT:
		rc = nvr_config_parse_int(value, &v);
		if (rc != NVR_OK)
			snprintf(why, whysize, "expected a whole number");
		break;
	case NVR_CFG_DURATION:
		rc = nvr_config_parse_duration(value, &v);
		if (rc != NVR_OK)
			snprintf(why, whysize, "expected a duration with a unit: ms, s, m or h (e.g. 10s)");
		break;
	case NVR_CFG_SIZE:
		rc = nvr_config_parse_size(value, &v);
		if (rc != NVR_OK)
			snprintf(why, whysize, "expected a size: a number of bytes or with KiB, MiB, GiB or TiB");
		break;
	}
	if (rc != NVR_OK)
		return rc;
	if (v < k->min || v > k->max) {
		format_range(k, range, sizeof(range));
		snprintf(why, whysize, "must be between %s", range);
		return NVR_ERR_INVAL;
	}
	*(int64_t *)f = v;
	return NVR_OK;
}

bool
nvr_config_key_equal(const struct nvr_config_key *k, const struct nvr_config *a,
    const struct nvr_config *b)
{
	const void *fa = cfield(a, k), *fb = cfield(b, k);

	switch (k->type) {
	case NVR_CFG_STRING:
	case NVR_CFG_PATH:
		return strcmp(*(char *const *)fa, *(char *const *)fb) == 0;
	case NVR_CFG_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case NVR_CFG_LOGLEVEL:
		return *(const enum nvr_log_level *)fa == *(const enum nvr_log_level *)fb;
	case NVR_CFG_INT:
	case NVR_CFG_DURATION:
	case NVR_CFG_SIZE:
		return *(const int64_t *)fa == *(const int64_t *)fb;
	}
	return false;
}

void
nvr_config_key_format(const struct nvr_config_key *k, const struct nvr_config *cfg,
    char *buf, size_t size)
{
	const void *f = cfield(cfg, k);
	int64_t v;

	switch (k->type) {
	case NVR_CFG_STRING:
	case NVR_CFG_PATH:
		if (k->flags & NVR_CFG_SECRET)
			snprintf(buf, size, "%s", **(char *const *)f ? "(secret)" : "");
		else
			snprintf(buf, size, "%s", *(char *const *)f);
		return;
	case NVR_CFG_BOOL:
		snprintf(buf, size, "%s", *(const bool *)f ? "yes" : "no");
		return;
	case NVR_CFG_LOGLEVEL:
		snprintf(buf, size, "%s", nvr_log_level_name(*(const enum nvr_log_level *)f));
		return;
	case NVR_CFG_INT:
		snprintf(buf, size, "%lld", (long long)*(const int64_t *)f);
		return;
	case NVR_CFG_SIZE:
		v = *(const int64_t *)f;
		if (v != 0 && v % (1LL << 30) == 0)
			snprintf(buf, size, "%lldGiB", (long long)(v >> 30));
		else if (v != 0 && v % (1LL << 20) == 0)
			snprintf(buf, size, "%lldMiB", (long long)(v >> 20));
		else
			snprintf(buf, size, "%lld", (long long)v);
		return;
	case NVR_CFG_DURATION:
		v = *(const int64_t *)f;
		if (v % SECOND == 0)
			snprintf(buf, size, "%llds", (long long)(v / SECOND));
		else
			snprintf(buf, size, "%lldms", (long long)v);
		return;
	}
}

void
nvr_config_print(const struct nvr_config *cfg, FILE *f)
{
	const char *section = NULL;
	char val[1024];

	for (size_t i = 0; i < NKEYS; i++) {
		if (section == NULL || strcmp(section, keys[i].section) != 0) {
			section = keys[i].section;
			fprintf(f, "%s[%s]\n", i ? "\n" : "", section);
		}
		nvr_config_key_format(&keys[i], cfg, val, sizeof(val));
		fprintf(f, "# %s (default: %s)\n%s = %s\n", keys[i].doc, keys[i].def,
		    keys[i].name, val);
	}
}

void
nvr_config_free(struct nvr_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].type == NVR_CFG_STRING || keys[i].type == NVR_CFG_PATH)
			free(*(char **)field(cfg, &keys[i]));
	}
	free(cfg);
}

nvr_err
nvr_config_defaults(struct nvr_config **out)
{
	struct nvr_config *cfg;
	char why[256];
	nvr_err rc = NVR_OK;

	*out = NULL;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return NVR_ERR_NOMEM;
	for (size_t i = 0; i < NKEYS; i++) {
		rc = set_value(cfg, &keys[i], keys[i].def, why, sizeof(why));
		if (rc != NVR_OK) {
			/* A default that does not parse is a bug in the table. */
			if (rc != NVR_ERR_NOMEM)
				rc = NVR_ERR_INTERNAL;
			nvr_config_free(cfg);
			return rc;
		}
	}
	*out = cfg;
	return NVR_OK;
}

/* ---- the INI parser --------------------------------------------------- */

/* Levenshtein distance, for "did you mean"; names are short and bounded. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[NVR_CONFIG_MAX_NAME + 1];

	if (la > NVR_CONFIG_MAX_NAME || lb > NVR_CONFIG_MAX_NAME)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], tmp;
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			tmp = row[j];
			size_t sub = diag + (a[i - 1] != b[j - 1]);
			size_t del = row[j] + 1, ins = row[j - 1] + 1;
			row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			diag = tmp;
		}
	}
	return row[lb];
}

struct parser {
	const char *file;
	struct nvr_config *cfg;
	struct nvr_config_errors *errs;
	const char *section; /* NULL: none yet; "" : unknown (already reported) */
	unsigned seen[sizeof(keys) / sizeof(keys[0])]; /* line of first setting */
	unsigned line;
	bool failed;
	bool nomem;
};

static void perr(struct parser *p, const char *fmt, ...) NVR_PRINTF(2, 3);

static void
perr(struct parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errors_add(p->errs, p->file, p->line, "%s", msg);
	p->failed = true;
}

static bool
valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NVR_CONFIG_MAX_NAME)
		return false;
	for (; *s; s++) {
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
			return false;
	}
	return true;
}

/* The table's own spelling of a section name, or NULL if unknown. */
static const char *
known_section(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, name) == 0)
			return keys[i].section;
	}
	return NULL;
}

static void
parse_section(struct parser *p, char *line)
{
	char *end = strchr(line, ']');
	char *name;
	const char *best = NULL;
	size_t bestd = 3;

	p->section = "";
	if (end == NULL || *nvr_trim(end + 1) != '\0') {
		perr(p, "malformed section header; expected [name]");
		return;
	}
	*end = '\0';
	name = nvr_trim(line + 1);
	if (!valid_name(name)) {
		perr(p, "invalid section name; use 1 to %d of a-z, 0-9 and _", NVR_CONFIG_MAX_NAME);
		return;
	}
	if ((p->section = known_section(name)) != NULL)
		return;
	p->section = "";
	for (size_t i = 0; i < NKEYS; i++) {
		size_t d = edit_distance(name, keys[i].section);
		if (d < bestd) {
			bestd = d;
			best = keys[i].section;
		}
	}
	if (best)
		perr(p, "unknown section [%s]; did you mean [%s]?", name, best);
	else
		perr(p, "unknown section [%s]", name);
}

/* Undoes "..." quoting in place: \" and \\ are the only escapes. Returns
 * NULL (and reports) when the quoting is malformed. */
static char *
unquote(struct parser *p, char *v)
{
	char *r, *w;

	if (v[0] != '"')
		return v;
	for (r = w = v + 1; *r && *r != '"'; r++) {
		if (*r == '\\') {
			r++;
			if (*r != '"' && *r != '\\') {
				perr(p, "unknown escape in quoted value; only \\\" and \\\\ are allowed");
				return NULL;
			}
		}
		*w++ = *r;
	}
	if (*r != '"') {
		perr(p, "quoted value has no closing quote");
		return NULL;
	}
	if (*nvr_trim(r + 1) != '\0') {
		perr(p, "text after the closing quote");
		return NULL;
	}
	*w = '\0';
	return v + 1;
}

static const struct nvr_config_key *
find_key(struct parser *p, const char *name, size_t *idx)
{
	const char *best = NULL;
	size_t bestd = 3;

	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, p->section) != 0)
			continue;
		if (strcmp(keys[i].name, name) == 0) {
			*idx = i;
			return &keys[i];
		}
		size_t d = edit_distance(name, keys[i].name);
		if (d < bestd) {
			bestd = d;
			best = keys[i].name;
		}
	}
	if (best)
		perr(p, "unknown key '%s' in [%s]; did you mean '%s'?", name, p->section, best);
	else
		perr(p, "unknown key '%s' in [%s]", name, p->section);
	return NULL;
}

static void
parse_assignment(struct parser *p, char *line)
{
	char *eq = strchr(line, '=');
	char *name, *value;
	const struct nvr_config_key *k;
	size_t idx;
	char why[256];
	nvr_err rc;

	if (eq == NULL) {
		perr(p, "expected 'key = value', '[section]' or a # comment");
		return;
	}
	*eq = '\0';
	name = nvr_trim(line);
	if (!valid_name(name)) {
		perr(p, "invalid key name; use 1 to %d of a-z, 0-9 and _", NVR_CONFIG_MAX_NAME);
		return;
	}
	if (p->section == NULL) {
		perr(p, "key '%s' is outside any [section]", name);
		return;
	}
	if (p->section[0] == '\0')
		return; /* in an unknown section: reported once, at its header */
	if ((k = find_key(p, name, &idx)) == NULL)
		return;
	if (p->seen[idx]) {
		perr(p, "duplicate key '%s' in [%s]; first set on line %u", name, p->section, p->seen[idx]);
		return;
	}
	p->seen[idx] = p->line;
	if ((value = unquote(p, nvr_trim(eq + 1))) == NULL)
		return;
	rc = set_value(p->cfg, k, value, why, sizeof(why));
	if (rc == NVR_ERR_NOMEM) {
		p->nomem = true;
	} else if (rc != NVR_OK && (k->flags & NVR_CFG_SECRET)) {
		perr(p, "invalid value for [%s] %s (value not shown: secret): %s", k->section, k->name, why);
	} else if (rc != NVR_OK) {
		char shown[80];
		snprintf(shown, sizeof(shown), "%s", value);
		perr(p, "invalid value '%s%s' for [%s] %s: %s", shown,
		    strlen(value) >= sizeof(shown) ? "..." : "", k->section, k->name, why);
	}
}

static void
parse_line(struct parser *p, char *line, size_t len)
{
	char *s;

	if (memchr(line, '\0', len) != NULL) {
		perr(p, "line contains a NUL byte");
		return;
	}
	if (len > NVR_CONFIG_MAX_LINE) {
		perr(p, "line longer than %d bytes", NVR_CONFIG_MAX_LINE);
		return;
	}
	line[len] = '\0';
	s = nvr_trim(line);
	if (*s == '\0' || *s == '#' || *s == ';')
		return;
	if (*s == '[')
		parse_section(p, s);
	else
		parse_assignment(p, s);
}

nvr_err
nvr_config_parse(const char *name, const char *text, size_t len,
    struct nvr_config **out, struct nvr_config_errors *errs)
{
	struct parser p = { .file = name, .errs = errs };
	char *copy = NULL;
	size_t start = 0;
	nvr_err rc;

	*out = NULL;
	if (len > NVR_CONFIG_MAX_FILE) {
		errors_add(errs, name, 0, "file larger than %zu bytes", NVR_CONFIG_MAX_FILE);
		return NVR_ERR_CONFIG;
	}
	if ((rc = nvr_config_defaults(&p.cfg)) != NVR_OK)
		return rc;
	/* One writable copy with room for a terminator after the last line. */
	if ((copy = malloc(len + 1)) == NULL) {
		rc = NVR_ERR_NOMEM;
		goto out;
	}
	memcpy(copy, text, len);
	while (start < len) {
		char *nl = memchr(copy + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - copy) : len;

		p.line++;
		parse_line(&p, copy + start, end - start);
		start = end + 1;
	}
	rc = p.nomem ? NVR_ERR_NOMEM : p.failed ? NVR_ERR_CONFIG : NVR_OK;
out:
	free(copy);
	if (rc == NVR_OK) {
		*out = p.cfg;
		p.cfg = NULL;
	}
	nvr_config_free(p.cfg);
	return rc;
}

/* Reads at most NVR_CONFIG_MAX_FILE + 1 bytes, so that an oversized file
 * is detected without reading it all. Caller frees *buf. */
static nvr_err
read_bounded(int fd, char **buf, size_t *len)
{
	size_t cap = NVR_CONFIG_MAX_FILE + 1, n = 0;
	char *b = malloc(cap);
	ssize_t r;

	if (b == NULL)
		return NVR_ERR_NOMEM;
	while (n < cap) {
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return NVR_ERR_IO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	return NVR_OK;
}

nvr_err
nvr_config_load(const char *path, struct nvr_config **out, struct nvr_config_errors *errs)
{
	char *buf = NULL;
	size_t len = 0;
	int fd;
	struct stat st;
	nvr_err rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errors_add(errs, path, 0, "cannot open: %s", strerror(errno));
		return NVR_ERR_IO;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		errors_add(errs, path, 0, "is a directory, not a configuration file");
		close(fd);
		return NVR_ERR_IO;
	}
	rc = read_bounded(fd, &buf, &len);
	if (rc == NVR_ERR_IO)
		errors_add(errs, path, 0, "cannot read: %s", strerror(errno));
	close(fd);
	if (rc == NVR_OK)
		rc = nvr_config_parse(path, buf, len, out, errs);
	free(buf);
	return rc;
}

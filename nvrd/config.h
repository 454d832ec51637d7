/*
 * config.h: nvrd's configuration file (INI sections, `key = value`).
 *
 * One table (config.c) defines every key: section, name, type, default,
 * bounds, whether it is secret and whether SIGHUP can apply it. Parsing,
 * defaults, `nvrd --print-config`, reload and docs/CONFIG.md's test all read
 * that table, so a key cannot exist in one place and not another.
 *
 * The parser collects every error with its file and line instead of stopping
 * at the first, and never echoes the value of a secret key.
 */
#ifndef NVR_CONFIG_H
#define NVR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nvrd/err.h"
#include "nvrd/log.h"

#define NVR_CONFIG_DEFAULT_PATH "/etc/nvrd/nvrd.conf"
#define NVR_CONFIG_MAX_FILE ((size_t)1 << 20) /* bytes */
#define NVR_CONFIG_MAX_LINE 4096          /* bytes, without the newline */
#define NVR_CONFIG_MAX_NAME 64            /* section and key names */
#define NVR_CONFIG_MAX_ERRORS 100         /* then one "too many errors" */

enum nvr_config_type {
	NVR_CFG_STRING,
	NVR_CFG_PATH,     /* absolute path */
	NVR_CFG_BOOL,     /* yes/no, true/false, on/off, 1/0 */
	NVR_CFG_INT,      /* decimal, within [min, max] */
	NVR_CFG_DURATION, /* number + ms|s|m|h, stored in milliseconds */
	NVR_CFG_SIZE,     /* number + B|KiB|MiB|GiB|TiB, stored in bytes */
	NVR_CFG_LOGLEVEL, /* error|warning|notice|info|debug */
};

#define NVR_CFG_SECRET 0x1u /* never echoed: errors, listings, logs */
#define NVR_CFG_RELOAD 0x2u /* SIGHUP applies a change without a restart */
#define NVR_CFG_OPTIONAL 0x4u /* a path that may be left empty: feature off */

struct nvr_config_key {
	const char *section;
	const char *name;
	const char *def; /* the default, spelled as in a file */
	const char *doc;
	int64_t min, max;
	size_t offset; /* of the field in struct nvr_config */
	enum nvr_config_type type;
	unsigned flags;
};

struct nvr_config {
	/* [nvrd] */
	enum nvr_log_level log_level;
	char *secret_file;
	char *stats_file;
	/* [database] */
	char *db_conninfo;
	int64_t db_connect_timeout_ms;
	/* [signing] */
	char *signing_key;
	char *signing_cert;
	/* [ingest] */
	int64_t ingest_workers;
	int64_t ingest_timeout_ms;
	int64_t ingest_reconnect_max_ms;
	/* [storage] */
	char *storage_root;
	int64_t segment_duration_ms;
	int64_t segment_max_bytes;
	int64_t sync_interval_ms;
	int64_t storage_writers;
	int64_t retention_interval_ms;
	int64_t high_water; /* percent */
	int64_t low_water;  /* percent */
	/* [web] */
	char *web_listen;
	char *web_tls_cert;
	char *web_tls_key;
	bool web_tls_compat;
	int64_t web_threads;
	int64_t web_connections_per_address;
	int64_t web_db_connections;
	char *web_realm;
	char *web_allow;
	bool web_allow_basic;
	int64_t web_session_lifetime_ms;
	int64_t web_session_idle_ms;
	int64_t web_lockout_failures;
	int64_t web_lockout_ms;
};

struct nvr_config_error {
	char *file;
	unsigned line; /* 0: the whole file */
	char *msg;
};

struct nvr_config_errors {
	struct nvr_config_error *v;
	size_t n, cap;
};

/*
 * Reads and parses `path`. On NVR_OK, *out is a new config the caller frees
 * with nvr_config_free(). On NVR_ERR_CONFIG or NVR_ERR_IO, *out is NULL and
 * every problem found is appended to errs (the caller frees errs with
 * nvr_config_errors_free(), also after success, where it stays empty).
 */
nvr_err nvr_config_load(const char *path, struct nvr_config **out,
    struct nvr_config_errors *errs);

/* As nvr_config_load(), from memory. `name` labels errors. `text` need not
 * be NUL-terminated; it is not kept. */
nvr_err nvr_config_parse(const char *name, const char *text, size_t len,
    struct nvr_config **out, struct nvr_config_errors *errs);

/* A new config holding only defaults; freed with nvr_config_free(). */
nvr_err nvr_config_defaults(struct nvr_config **out);

void nvr_config_free(struct nvr_config *cfg);
void nvr_config_errors_free(struct nvr_config_errors *errs);

/* Prints "file:line: message" per error, one per line. */
void nvr_config_errors_print(const struct nvr_config_errors *errs, FILE *f);

size_t nvr_config_key_count(void);
const struct nvr_config_key *nvr_config_key_at(size_t i);

bool nvr_config_key_equal(const struct nvr_config_key *k,
    const struct nvr_config *a, const struct nvr_config *b);

/* Writes the value of k in cfg as it would be spelled in a file; secret
 * keys print as "(secret)" when set. */
void nvr_config_key_format(const struct nvr_config_key *k,
    const struct nvr_config *cfg, char *buf, size_t size);

/* Prints the whole configuration as a commented INI file. */
void nvr_config_print(const struct nvr_config *cfg, FILE *f);

/* Value parsers, exposed for tests. */
nvr_err nvr_config_parse_bool(const char *s, bool *out);
nvr_err nvr_config_parse_int(const char *s, int64_t *out);
nvr_err nvr_config_parse_duration(const char *s, int64_t *ms);
nvr_err nvr_config_parse_size(const char *s, int64_t *bytes);

#endif

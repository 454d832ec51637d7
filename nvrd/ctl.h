/*
 * ctl.h: nvrctl, the recorder's command-line tool, run on the machine by an
 * administrator. Each subcommand is one file (ctl_camera.c ...); this
 * header is what they share.
 */
#ifndef NVR_CTL_H
#define NVR_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "nvrd/config.h"
#include "storage/secret.h"

/* Exit statuses, as nvrd's. */
enum { NVR_CTL_OK = 0, NVR_CTL_FAIL = 1, NVR_CTL_USAGE = 2, NVR_CTL_CONFIG = 78 };

struct nvr_ctl {
	const char *config_path;
	struct nvr_config *cfg; /* loaded on first use */
	PGconn *db;             /* connected on first use */
	struct stg_secret *secret;
};

/* The configuration, loaded once; errors are printed. NULL on failure. */
struct nvr_config *nvr_ctl_config(struct nvr_ctl *ctl);
/* A database connection, made once; errors are printed. NULL on failure. */
PGconn *nvr_ctl_db(struct nvr_ctl *ctl);
/* The recorder secret, made (owned like its folder) if it does not exist. */
struct stg_secret *nvr_ctl_secret(struct nvr_ctl *ctl);

/* "nvrctl:<login>": who made a change from the machine, for the audit log. */
void nvr_ctl_actor(char *out, size_t size);

/* Appends one audit row for a change made here (actor nvrctl:USER,
 * address "local"); a failure is reported, the change stays made. */
nvr_err nvr_ctl_audit_change(PGconn *db, const char *action, const char *object, const char *detail);

/* Prints "nvrctl: message" (and "  hint: ..." when hint is set) to stderr. */
void nvr_ctl_error(const char *hint, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A certificate's SHA-256 fingerprint as people paste it (64 hex digits,
 * with or without colons, either case, or openssl x509 -fingerprint's whole
 * line) into 64 lowercase hex digits; false if it is not one. */
bool nvr_ctl_fingerprint(const char *in, char out[65]);

/* Reads the first line of path ("-": standard input, without echo on a
 * terminal) into a new string the caller wipes and frees. */
char *nvr_ctl_read_secret_line(const char *path, const char *prompt);

int nvr_ctl_camera(struct nvr_ctl *ctl, int argc, char **argv);
int nvr_ctl_export(struct nvr_ctl *ctl, int argc, char **argv);
int nvr_ctl_hold(struct nvr_ctl *ctl, int argc, char **argv);
int nvr_ctl_keyholder(struct nvr_ctl *ctl, int argc, char **argv);
int nvr_ctl_verify(struct nvr_ctl *ctl, int argc, char **argv);
int nvr_ctl_decrypt(struct nvr_ctl *ctl, int argc, char **argv);
int nvr_ctl_user(struct nvr_ctl *ctl, int argc, char **argv);
int nvr_ctl_audit(struct nvr_ctl *ctl, int argc, char **argv);
int nvr_ctl_tls(struct nvr_ctl *ctl, int argc, char **argv);

#endif

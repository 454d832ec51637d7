/*
 * audit_priv.h: what audit.c (which appends) and audit_verify.c (which
 * defines the chain and checks it) share: docs/FORMAT.md "Audit chain".
 */
#ifndef NVR_WEB_AUDIT_PRIV_H
#define NVR_WEB_AUDIT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

#define ROW_TAG "nvr-audit-v1"
#define CHECKPOINT_TAG "nvr-audit-checkpoint-v1"

/* The text fields in hash order, after id and at. */
enum { F_ACTOR, F_ADDRESS, F_ACTION, F_OBJECT, F_OUTCOME, F_DETAIL, NF };

/* A whole decimal int64, as PostgreSQL prints one. */
bool web_audit_parse_i64(const char *s, int64_t *out);

/* SHA-256 of "nvr-audit-v1", id and at in decimal, the six text fields,
 * each field length-prefixed, then prev's 32 bytes. */
nvr_err web_audit_row_hash(int64_t id, int64_t at_us, const char *const f[NF], const size_t len[NF],
    const uint8_t prev[32], uint8_t out[32]);

/* What a checkpoint signs: "nvr-audit-checkpoint-v1\n<id>\n<hex sha256>\n"
 * in buf; its length, 0 if it does not fit. */
size_t web_audit_checkpoint_text(int64_t id, const uint8_t sha[32], char *buf, size_t size);

#endif

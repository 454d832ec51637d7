/*
 * catalog.h: cameras, key holders and camera status in PostgreSQL, for
 * nvrctl (which changes them) and nvrd (which follows them: every change
 * ends with NOTIFY nvr_config, which nvrd LISTENs to).
 *
 * Camera passwords only ever appear here sealed with the recorder secret
 * (storage/secret.h). Every libpq result is checked and cleared here.
 */
#ifndef NVR_STG_CATALOG_H
#define NVR_STG_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "nvrd/err.h"
#include "nvrd/uuid.h"
#include "storage/secret.h"

#define STG_NOTIFY_CHANNEL "nvr_config"
#define STG_NAME_MAX 64

struct stg_camera {
	nvr_uuid id;
	char name[STG_NAME_MAX + 1];
	char *url;
	char *username;         /* NULL: no credentials */
	uint8_t *password_sealed; /* NULL: no password */
	size_t password_sealed_len;
	char *tls_ca_pem;       /* NULL: see pin, else the system store */
	bool has_pin;
	uint8_t pin[32];        /* SHA-256 of the camera certificate's DER */
	bool allow_basic;
	bool plain_rtp;
	char transport[8];      /* "tcp", "udp", "tunnel" (ing_transport_name); "" writes tcp */
	bool enabled;
	char updated_at[40];    /* changes when the row does */
	double keep_days;       /* retention: maximum age in days; 0: no limit */
	int64_t keep_bytes;     /* retention: maximum bytes; 0: no limit */
	/* from camera_status, for listings */
	char state[32];
	char *last_error;
	char *warning;          /* recording, but e.g. over an unprotected link */
};

struct stg_keyholder {
	nvr_uuid id;
	char name[STG_NAME_MAX + 1];
	uint8_t fingerprint[32];
	char created_at[40];
	EVP_PKEY *pub; /* loaded by stg_catalog_keyholders() only */
};

/* Frees what a struct's pointers own (not the struct itself). */
void stg_camera_clear(struct stg_camera *c);
void stg_cameras_free(struct stg_camera *v, size_t n);
void stg_keyholders_free(struct stg_keyholder *v, size_t n);

/* Names: 1 to 64 of A-Z a-z 0-9 . _ - (and @ for key holders), not
 * starting with a punctuation mark. Returns a reason or NULL. */
const char *stg_catalog_check_name(const char *name, bool keyholder);

/* A certificate pin, "ab:cd:..." or "abcd..." (64 hex digits), into pin. */
bool stg_catalog_parse_pin(const char *s, uint8_t pin[32]);

/* Whether text (len bytes) holds at least one PEM certificate: what a
 * camera CA bundle must. */
bool stg_catalog_ca_pem_ok(const char *text, size_t len);

/* Seals password to c->id (which must be set) with the recorder secret
 * into c->password_sealed, replacing what was there. The caller wipes the
 * password. */
nvr_err stg_catalog_camera_seal_password(const struct stg_secret *s, struct stg_camera *c, const char *password);

/* Adds a camera, with c->id if set (the password is sealed to it), else a
 * new id. NVR_ERR_INVAL if the name is taken. */
nvr_err stg_catalog_camera_add(PGconn *db, struct stg_camera *c);

/* Writes what can change of a camera read with stg_catalog_camera_get()
 * (url, credentials, trust, allow_basic, plain_rtp, transport, enabled;
 * not the name), found by id; its updated_at changes, so nvrd restarts it.
 * NVR_ERR_INVAL if it was removed or changed since c->updated_at. */
nvr_err stg_catalog_camera_update(PGconn *db, const struct stg_camera *c);

/* A camera's retention limits, by name, without restarting it (its
 * updated_at stays): each of max_age_days and max_bytes is NULL to leave
 * it, "" to remove the limit, or a positive number (days may have a
 * fraction). NVR_ERR_INVAL for an unknown camera or a limit not > 0. */
nvr_err stg_catalog_camera_retention(PGconn *db, const char *name, const char *max_age_days, const char *max_bytes);

/* Cameras not removed, by name; *v is a new array (stg_cameras_free). */
nvr_err stg_catalog_cameras(PGconn *db, struct stg_camera **v, size_t *n);

/* One camera by name; NVR_ERR_INVAL if there is none. */
nvr_err stg_catalog_camera_get(PGconn *db, const char *name, struct stg_camera *c);

/* Stops and hides a camera; its recordings stay. NVR_ERR_INVAL if unknown. */
nvr_err stg_catalog_camera_remove(PGconn *db, const char *name);

/* Registers a key holder's P-256 public key (PEM). NVR_ERR_INVAL if the
 * key is not P-256, or the name or key is already registered. */
nvr_err stg_catalog_keyholder_add(PGconn *db, const char *name, const char *pem, struct stg_keyholder *out);

/* Active key holders; with keys, each pub is loaded (else NULL). */
nvr_err stg_catalog_keyholders(PGconn *db, bool keys, struct stg_keyholder **v, size_t *n);

/* Marks a key holder removed: new keys are no longer sealed to it (those
 * already sealed stay readable by it). NVR_ERR_INVAL if unknown. */
nvr_err stg_catalog_keyholder_remove(PGconn *db, const char *name);

/* NOTIFY nvr_config: nvrd picks up the change without a restart. */
nvr_err stg_catalog_notify(PGconn *db);

#endif

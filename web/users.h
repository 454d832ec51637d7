/*
 * users.h: the user store, shared by `nvrctl user` and the API's admin
 * calls: adding a user with its camera grants and key holder, changing
 * one, setting a password, removing a user, ending a user's sessions. Each
 * change is one transaction. Refusals come back as a reason and the name
 * at fault; nvrctl and the API word them for their own readers.
 *
 * A password in clear is seen only by web_users_password_make(), which
 * keeps nothing of it but the scrypt hash and the sealed HA1 values.
 */
#ifndef NVR_WEB_USERS_H
#define NVR_WEB_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "nvrd/err.h"
#include "nvrd/uuid.h"
#include "storage/catalog.h"
#include "storage/secret.h"
#include "web/password.h"

/* Why a change was refused (NVR_ERR_INVAL). */
enum web_users_refusal {
	WEB_USERS_NAME_TAKEN = 1, /* an active user has this name */
	WEB_USERS_NO_USER,        /* no active user with this id */
	WEB_USERS_NO_KEY_HOLDER,  /* name: the key holder that does not exist */
	WEB_USERS_NO_CAMERA,      /* name: the camera that does not exist */
	WEB_USERS_LAST_ADMIN,     /* the change would leave no enabled admin */
};

struct web_users_why {
	enum web_users_refusal what;
	char name[STG_NAME_MAX + 1];
};

/* What is kept of a password: its scrypt hash and the sealed HA1 values. */
struct web_users_password {
	char hash[WEB_PASSWORD_HASH_MAX];
	uint8_t *ha1; /* sealed; owned, freed by web_users_password_clear() */
	size_t ha1_len;
};

/* Hashes password (already checked against the policy) and seals its HA1
 * values for user id/name under the recorder secret, as the Digest realm
 * needs them. The caller wipes the password; *out is cleared with
 * web_users_password_clear() (also after a failure). */
nvr_err web_users_password_make(const struct stg_secret *s, const char *realm, const nvr_uuid *id, const char *name,
    const char *password, struct web_users_password *out);
void web_users_password_clear(struct web_users_password *p);

/* Camera grants: every camera, or the named ones (each must exist). */
struct web_users_grants {
	bool all;
	const char *const *names; /* borrowed */
	size_t n;
};

struct web_users_new {
	nvr_uuid id;
	const char *name;
	unsigned role;                  /* one WEB_ROLE_ bit */
	struct web_users_grants cameras;
	const char *key_holder;         /* NULL: none */
};

/* Adds a user and its grants. NVR_ERR_INVAL with why: NAME_TAKEN,
 * NO_KEY_HOLDER, NO_CAMERA; NVR_ERR_DB (logged). Nothing is kept on
 * failure. */
nvr_err web_users_insert(PGconn *db, const struct web_users_new *u, const struct web_users_password *pw,
    struct web_users_why *why);

/* An active user, by name. */
struct web_users_row {
	nvr_uuid id;
	unsigned role;
	bool disabled;
};

/* NVR_ERR_INVAL if there is no active user by that name. */
nvr_err web_users_get(PGconn *db, const char *name, struct web_users_row *out);

/* A change to a user; what is left NULL or -1 stays. */
struct web_users_change {
	unsigned role;                          /* 0: unchanged */
	const struct web_users_grants *cameras; /* replaces the grants */
	bool set_key_holder;
	const char *key_holder;                 /* with set_key_holder; NULL: none */
	int disabled;                           /* -1: unchanged; 1 also ends the sessions */
	const struct web_users_password *password; /* also ends the sessions */
};

/* Applies c in one transaction. With keep_an_admin the change is refused
 * (WEB_USERS_LAST_ADMIN) if it would demote or disable the last enabled
 * admin. NVR_ERR_INVAL with why: NO_USER, NO_KEY_HOLDER, NO_CAMERA,
 * LAST_ADMIN; NVR_ERR_DB (logged). */
nvr_err web_users_update(PGconn *db, const nvr_uuid *id, const struct web_users_change *c, bool keep_an_admin,
    struct web_users_why *why);

/* Sets a new password and ends the user's sessions (nvrctl user passwd). */
nvr_err web_users_set_password(PGconn *db, const nvr_uuid *id, const struct web_users_password *pw);

/* Removes the user and ends its sessions; with keep_an_admin, refused
 * (WEB_USERS_LAST_ADMIN) for the last enabled admin. */
nvr_err web_users_remove(PGconn *db, const nvr_uuid *id, bool keep_an_admin, struct web_users_why *why);

/* Ends every session of the user; *ended gets how many were live. */
nvr_err web_users_end_sessions(PGconn *db, const nvr_uuid *id, int64_t *ended);

#endif

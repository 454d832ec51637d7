/*
 * err.h: the one error type of the NVR.
 *
 * Every function that can fail returns an nvr_err. NVR_OK is 0, so
 * `if ((rc = f()) != NVR_OK) goto out;` reads the same everywhere. Codes say
 * what kind of failure happened; the words for the operator (which camera,
 * which file, what to do) are logged where the failure is understood.
 */
#ifndef NVR_ERR_H
#define NVR_ERR_H

typedef enum nvr_err {
	NVR_OK = 0,
	NVR_ERR_NOMEM,          /* an allocation failed */
	NVR_ERR_INVAL,          /* malformed input or a bad argument */
	NVR_ERR_TOOBIG,         /* a length or count is over its bound */
	NVR_ERR_IO,             /* a read, write, open or fsync failed */
	NVR_ERR_NOSPACE,        /* a write was short: treated as a full disk */
	NVR_ERR_CONFIG,         /* the configuration is invalid */
	NVR_ERR_DB,             /* PostgreSQL refused or failed a statement */
	NVR_ERR_DB_UNREACHABLE, /* no connection to PostgreSQL */
	NVR_ERR_SCHEMA,         /* the database schema is not one we can use */
	NVR_ERR_CRYPTO,         /* OpenSSL failed */
	NVR_ERR_INTERRUPTED,    /* a wait was cut short by its wake-up fd */
	NVR_ERR_INTERNAL,       /* a broken invariant: a bug */
	NVR_ERR__COUNT
} nvr_err;

/* A short, static, lower-case description; never NULL. */
const char *nvr_err_str(nvr_err e);

#endif

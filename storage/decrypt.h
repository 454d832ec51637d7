/*
 * decrypt.h: the key holder's decryption of recordings into a playable
 * MP4 (nvrctl decrypt). Runs offline on a folder laid out as a storage
 * root (docs/FORMAT.md section 2): the recorder's own root, or an
 * extracted export bundle (section 12). Needs no database and no
 * configuration: the files and the key holder's private key.
 *
 * Nothing is written from recordings that do not verify (storage/verify.h:
 * each segment chosen, and the hash chain between them; not the rest of
 * the folder) unless forced, and then the clip says so in its metadata.
 * Missing segments between those chosen are reported, not refused: an
 * export or retention may have left them out. The clip is
 * made under a temporary name next to the output and linked into place
 * only when whole: a failure leaves nothing under the output's name.
 * Unsealed keys are wiped before they are freed and never printed.
 */
#ifndef NVR_STG_DECRYPT_H
#define NVR_STG_DECRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "nvrd/err.h"

struct stg_decrypt_opts {
	EVP_PKEY *holder;   /* the key holder's private key (borrowed) */
	const char *out;    /* the MP4 to make; must not exist */
	const char *camera; /* camera id or name; NULL: the only camera there */
	const char *stream; /* stream name; NULL: "video" */
	bool has_from, has_to;
	int64_t from_ns, to_ns; /* [from, to): ns since 1970, UTC */
	bool force;             /* write even from recordings that do not verify */
	const char *trust;      /* the recorder's certificate every signer must be (PEM), or NULL */
	const char *pin;        /* or its SHA-256 (64 lowercase hex), or NULL: see stg_verify_opts */
	FILE *report;           /* what did not verify, and warnings; NULL: stderr */
};

struct stg_decrypt_result {
	char camera_id[37];
	char camera[65]; /* its name, as the last manifest has it */
	char stream[16];
	char codec[32];
	uint64_t segments;    /* decrypted, whole or in part */
	uint64_t packets;     /* RTP packets decrypted into the clip */
	uint64_t failed;      /* RTP packets that did not decrypt (left out) */
	uint64_t gaps;        /* breaks in the segments' seq (missing segments) */
	int64_t first_ns;     /* time of the first and last packet in the clip */
	int64_t last_ns;
	uint64_t bytes;       /* size of the MP4 */
	bool verified;        /* false: forced from recordings that failed to verify */
	char signer[65];      /* SHA-256 of the certificate whose key signed the segments */
};

/*
 * Decrypts one camera stream below dir into opts->out. NVR_OK when the MP4
 * is in place (res says what it holds); otherwise nothing is at opts->out
 * and why (of whysize bytes) says what failed: NVR_ERR_INVAL (nothing to
 * decrypt, a camera to choose, the recordings do not verify), NVR_ERR_CRYPTO
 * (no sealed copy of a key opens with this key), NVR_ERR_IO, NVR_ERR_NOMEM.
 * Calls gst_init() and srtp_init() if needed.
 */
nvr_err stg_decrypt_dir(const char *dir, const struct stg_decrypt_opts *opts, struct stg_decrypt_result *res,
    char *why, size_t whysize);

#endif

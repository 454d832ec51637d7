/*
 * fileio.h: the few file operations storage makes durable, shared by the
 * writer threads and the start-up reconciliation: folders created and
 * synced in their parents, whole small files written once and synced,
 * positioned writes that say a full disk is full.
 */
#ifndef NVR_STG_FILEIO_H
#define NVR_STG_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nvrd/err.h"

/* mkdir -p with mode 0750; each folder created is made durable in its
 * parent. Folders that exist are fine. NVR_ERR_IO (errno set) otherwise. */
nvr_err stg_make_dirs(const char *path);

/* fsync of a folder, so that names created or renamed in it last. */
void stg_sync_dir(const char *dir);

/* All of buf at offset off, retrying EINTR: NVR_ERR_NOSPACE for a full
 * disk (ENOSPC or a short write), NVR_ERR_IO otherwise. */
nvr_err stg_write_all(int fd, const uint8_t *buf, size_t len, uint64_t off);

/* Reads n bytes, or up to the end of the file, retrying EINTR: the bytes
 * read, or -1 with errno set. */
ssize_t stg_read_full(int fd, uint8_t *buf, size_t n);

/* A whole file of at most max bytes into a new buffer (NUL-terminated;
 * the caller frees *out), opened with open_flags added to O_RDONLY |
 * O_CLOEXEC (O_NOFOLLOW, say). NVR_ERR_TOOBIG past max, NVR_ERR_NOMEM, or
 * NVR_ERR_IO with errno set; *out is NULL then. */
nvr_err stg_read_small(const char *path, size_t max, int open_flags, char **out, size_t *len);

/* A new file (never an existing one: O_EXCL), mode 0640, holding exactly
 * data, synced (fdatasync) before it returns; removed again on failure.
 * The caller syncs the folder (stg_sync_dir) once for all it wrote. */
nvr_err stg_write_durable(const char *path, const void *data, size_t len);

#endif

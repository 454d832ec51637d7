/*
 * tar.h: the POSIX ustar format (IEEE Std 1003.1, "pax" interchange
 * format without extended headers) as export bundles use it
 * (docs/FORMAT.md section 12): regular files only, names split into the
 * 155-byte prefix and 100-byte name fields, sizes up to 8 GiB - 1.
 *
 * Hand-written because none of the libraries we build on reads or writes
 * tar, and a bundle needs only this strict subset: a reader that accepts
 * no links, devices, folders or pax records has nothing to get wrong about
 * them. Everything here works on one 512-byte header block at a time.
 */
#ifndef NVR_STG_TAR_H
#define NVR_STG_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvrd/err.h"

#define STG_TAR_BLOCK 512
#define STG_TAR_PATH_MAX 256 /* prefix (155) + '/' + name (100) */
#define STG_TAR_SIZE_MAX ((uint64_t)077777777777) /* 11 octal digits */

/* Fills block with the header of a regular file path (mode 0444, owner
 * 0, mtime in seconds since 1970) of size bytes. NVR_ERR_INVAL when path
 * cannot be split into ustar's fields or size is too large. */
nvr_err stg_tar_header(uint8_t block[STG_TAR_BLOCK], const char *path, uint64_t size, int64_t mtime);

/* Zero bytes that follow size bytes of data to the next block. */
size_t stg_tar_padding(uint64_t size);

/* What a header block holds. */
enum stg_tar_kind { STG_TAR_FILE, STG_TAR_END };

/* Decodes one header block: a regular file (path, a NUL-terminated copy
 * of prefix/name, and size) or the zero block that starts the end. Any
 * other entry (a folder, link, device, pax or GNU record), a bad checksum
 * or a field out of bounds is NVR_ERR_INVAL with *why set (static);
 * path then holds the member's name if the block had one to read (else
 * it is empty), so that the caller can say which member is wrong. */
nvr_err stg_tar_parse(const uint8_t block[STG_TAR_BLOCK], enum stg_tar_kind *kind,
    char path[STG_TAR_PATH_MAX], uint64_t *size, const char **why);

/* The mtime field of a header block (seconds since 1970); false if it is
 * not octal digits. */
bool stg_tar_mtime(const uint8_t block[STG_TAR_BLOCK], int64_t *mtime);

/* NVR_OK when block is, byte for byte, the header stg_tar_header writes
 * for path, size and mtime: the strict reading of a bundle, where any
 * other mode, owner, name split, link, time or padding is a change.
 * Otherwise NVR_ERR_INVAL with *why naming the first field that differs
 * (static text). */
nvr_err stg_tar_check(const uint8_t block[STG_TAR_BLOCK], const char *path, uint64_t size, int64_t mtime,
    const char **why);

#endif

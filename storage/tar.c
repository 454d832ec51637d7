/*
 * tar.c: ustar header blocks (tar.h). Numeric fields are octal digits
 * ended by a NUL, as POSIX writes them; the reader also takes a space end
 * and leading spaces, as older writers (GNU tar) use them.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "nvrd/util.h"
#include "storage/tar.h"

/* Field offsets and sizes (POSIX ustar). */
#define F_NAME 0
#define F_MODE 100
#define F_UID 108
#define F_GID 116
#define F_SIZE 124
#define F_MTIME 136
#define F_CHKSUM 148
#define F_TYPE 156
#define F_MAGIC 257
#define F_VERSION 263
#define F_PREFIX 345
#define NAME_LEN 100
#define PREFIX_LEN 155

static void
put_octal(uint8_t *field, size_t width, uint64_t v)
{
	char buf[24];

	/* width - 1 digits, then a NUL: callers keep v in range. */
	snprintf(buf, sizeof(buf), "%0*llo", (int)(width - 1), (unsigned long long)v);
	memcpy(field, buf, width - 1);
	field[width - 1] = '\0';
}

static unsigned
checksum(const uint8_t block[STG_TAR_BLOCK])
{
	unsigned sum = 0;

	/* The checksum field counts as eight spaces. */
	for (size_t i = 0; i < STG_TAR_BLOCK; i++)
		sum += i >= F_CHKSUM && i < F_CHKSUM + 8 ? ' ' : block[i];
	return sum;
}

/* Where path splits into prefix and name: the last '/' that leaves a name
 * of at most 100 bytes and a prefix of at most 155; 0 for no prefix;
 * -1 when there is none. */
static ssize_t
split_at(const char *path, size_t len)
{
	if (len <= NAME_LEN)
		return 0;
	for (size_t i = len - 1; i > 0; i--) {
		if (len - i - 1 > NAME_LEN)
			return -1;
		if (i <= PREFIX_LEN && len - i - 1 >= 1 && path[i] == '/')
			return (ssize_t)i;
	}
	return -1;
}

nvr_err
stg_tar_header(uint8_t block[STG_TAR_BLOCK], const char *path, uint64_t size, int64_t mtime)
{
	size_t len = strlen(path);
	ssize_t cut = split_at(path, len);

	if (cut < 0 || len == 0 || size > STG_TAR_SIZE_MAX || mtime < 0)
		return NVR_ERR_INVAL;
	memset(block, 0, STG_TAR_BLOCK);
	if (cut == 0) {
		memcpy(block + F_NAME, path, len);
	} else {
		memcpy(block + F_PREFIX, path, (size_t)cut);
		memcpy(block + F_NAME, path + cut + 1, len - (size_t)cut - 1);
	}
	put_octal(block + F_MODE, 8, 0444);
	put_octal(block + F_UID, 8, 0);
	put_octal(block + F_GID, 8, 0);
	put_octal(block + F_SIZE, 12, size);
	put_octal(block + F_MTIME, 12, (uint64_t)mtime);
	block[F_TYPE] = '0';
	memcpy(block + F_MAGIC, "ustar", 6);
	memcpy(block + F_VERSION, "00", 2);
	/* Six digits, a NUL and a space, as POSIX and GNU tar write it. */
	snprintf((char *)block + F_CHKSUM, 8, "%06o", checksum(block));
	block[F_CHKSUM + 7] = ' ';
	return NVR_OK;
}

size_t
stg_tar_padding(uint64_t size)
{
	return (size_t)((STG_TAR_BLOCK - size % STG_TAR_BLOCK) % STG_TAR_BLOCK);
}

/* An octal field: optional leading spaces, digits, then NUL or spaces to
 * its end. false for anything else (a GNU base-256 size, say). */
static bool
get_octal(const uint8_t *field, size_t width, uint64_t *out)
{
	size_t i = 0;
	uint64_t v = 0;
	bool digits = false;

	while (i < width && field[i] == ' ')
		i++;
	for (; i < width && field[i] >= '0' && field[i] <= '7'; i++, digits = true) {
		if (v > (UINT64_MAX >> 3))
			return false;
		v = v << 3 | (uint64_t)(field[i] - '0');
	}
	for (; i < width; i++)
		if (field[i] != '\0' && field[i] != ' ')
			return false;
	*out = v;
	return digits;
}

/* A NUL-terminated copy of a field of at most width bytes (NUL-padded). */
static size_t
get_string(const uint8_t *field, size_t width, char *out)
{
	size_t n = strnlen((const char *)field, width);

	memcpy(out, field, n);
	out[n] = '\0';
	return n;
}


nvr_err
stg_tar_parse(const uint8_t block[STG_TAR_BLOCK], enum stg_tar_kind *kind,
    char path[STG_TAR_PATH_MAX], uint64_t *size, const char **why)
{
	uint64_t sum;
	size_t n;

	path[0] = '\0';
	if (nvr_all_zero(block, STG_TAR_BLOCK)) {
		*kind = STG_TAR_END;
		return NVR_OK;
	}
	*why = "not a ustar header (bad magic or checksum)";
	if (memcmp(block + F_MAGIC, "ustar", 5) != 0 || !get_octal(block + F_CHKSUM, 8, &sum) ||
	    sum != checksum(block))
		return NVR_ERR_INVAL;
	/* the name first, so that what is wrong with a member can name it */
	n = get_string(block + F_PREFIX, PREFIX_LEN, path);
	if (n > 0)
		path[n++] = '/';
	if (get_string(block + F_NAME, NAME_LEN, path + n) == 0) {
		*why = "a member without a name";
		return NVR_ERR_INVAL;
	}
	/* '\0' (old tar) and '7' (contiguous) are regular files to POSIX
	 * readers: read, then refused by stg_tar_check as not a bundle's */
	if (block[F_TYPE] != '0' && block[F_TYPE] != '\0' && block[F_TYPE] != '7') {
		*why = "a member that is not a regular file (folder, link, device or extended header)";
		return NVR_ERR_INVAL;
	}
	if (!get_octal(block + F_SIZE, 12, size)) {
		*why = "a member whose size field is not octal digits";
		return NVR_ERR_INVAL;
	}
	*kind = STG_TAR_FILE;
	return NVR_OK;
}

bool
stg_tar_mtime(const uint8_t block[STG_TAR_BLOCK], int64_t *mtime)
{
	uint64_t v;

	if (!get_octal(block + F_MTIME, 12, &v) || v > (uint64_t)INT64_MAX)
		return false;
	*mtime = (int64_t)v;
	return true;
}

nvr_err
stg_tar_check(const uint8_t block[STG_TAR_BLOCK], const char *path, uint64_t size, int64_t mtime,
    const char **why)
{
	/* Every field of the ustar header, in order (POSIX pax, ustar format). */
	static const struct {
		size_t off, len;
		const char *what;
	} fields[] = {
		{ 0, 100, "its name" }, { 100, 8, "its mode (a bundle's members are 0444)" },
		{ 108, 8, "its owner (uid 0)" }, { 116, 8, "its group (gid 0)" }, { 124, 12, "its size field" },
		{ 136, 12, "its time (every member has the bundle's)" }, { 156, 1, "its type (a regular file)" },
		{ 157, 100, "its link name (none)" }, { 257, 8, "its magic and version (ustar 00)" },
		{ 265, 32, "its owner's name (none)" }, { 297, 32, "its group's name (none)" },
		{ 329, 16, "its device numbers (none)" }, { 345, 155, "its name's prefix" },
		{ 500, 12, "the end of its header block (zeros)" },
		/* last: any other change alters it too, and is the better name */
		{ 148, 8, "its checksum field" },
	};
	uint8_t want[STG_TAR_BLOCK];

	if (stg_tar_header(want, path, size, mtime) != NVR_OK) {
		*why = "a name or size no bundle header can hold";
		return NVR_ERR_INVAL;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (memcmp(block + fields[i].off, want + fields[i].off, fields[i].len) != 0) {
			*why = fields[i].what;
			return NVR_ERR_INVAL;
		}
	}
	return NVR_OK;
}

/*
 * fileio.c: durable file operations for storage (fileio.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fileio.h"

nvr_err
stg_make_dirs(const char *path)
{
	char p[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(p))
		return NVR_ERR_TOOBIG;
	memcpy(p, path, n + 1);
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0750) == 0) {
			char *slash = strrchr(p, '/');
			if (slash != NULL && slash != p) {
				*slash = '\0';
				int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (dfd >= 0) {
					fsync(dfd);
					close(dfd);
				}
				*slash = '/';
			}
		} else if (errno != EEXIST) {
			return NVR_ERR_IO;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	return NVR_OK;
}

void
stg_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

nvr_err
stg_write_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ENOSPC ? NVR_ERR_NOSPACE : NVR_ERR_IO;
		if (n == 0)
			return NVR_ERR_NOSPACE;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return NVR_OK;
}

nvr_err
stg_write_durable(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	nvr_err rc;

	if (fd < 0)
		return NVR_ERR_IO;
	rc = stg_write_all(fd, data, len, 0);
	if (rc == NVR_OK && fdatasync(fd) != 0)
		rc = NVR_ERR_IO;
	close(fd);
	if (rc != NVR_OK)
		unlink(path);
	return rc;
}

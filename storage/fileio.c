/*
 * fileio.c: durable file operations for storage (fileio.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
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

ssize_t
stg_read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

nvr_err
stg_read_small(const char *path, size_t max, int open_flags, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | open_flags), e;
	char *b = NULL;
	ssize_t n;
	nvr_err rc = NVR_ERR_IO;

	*out = NULL;
	if (fd < 0)
		return NVR_ERR_IO;
	if ((b = malloc(max + 1)) == NULL) {
		rc = NVR_ERR_NOMEM;
		goto out;
	}
	/* One byte more than max tells a file of max bytes from a longer one. */
	if ((n = stg_read_full(fd, (uint8_t *)b, max + 1)) < 0)
		goto out;
	if ((size_t)n > max) {
		rc = NVR_ERR_TOOBIG;
		goto out;
	}
	b[n] = '\0';
	*len = (size_t)n;
	*out = b;
	b = NULL;
	rc = NVR_OK;
out:
	e = errno;
	free(b);
	close(fd);
	errno = e;
	return rc;
}

/*
 * bundle.c: extracting and checking export bundles (bundle.h). The tar is
 * untrusted input: every length is bounded, names are checked before a
 * file is made, files are created with O_EXCL | O_NOFOLLOW inside a folder
 * only we can write, so a bundle cannot write outside it or over itself.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "nvrd/encode.h"
#include "nvrd/uuid.h"
#include "nvrd/util.h"
#include "storage/bundle.h"
#include "storage/fileio.h"
#include "storage/tar.h"

#define BLOCK ((size_t)1 << 20)
#define DEPTH_MAX 6 /* <camera>/<stream>/<yyyy>/<mm>/<dd>/<file> */
#define TOP_PREFIX "nvr-export-"

/* A name below the top folder: 1 to DEPTH_MAX components of letters,
 * digits, '.', '_' and '-', none empty, "." or "..". */
bool
stg_bundle_name_ok(const char *rel)
{
	int depth = 1;
	size_t comp = 0;

	for (const char *p = rel;; p++) {
		if (*p == '/' || *p == '\0') {
			if (comp == 0 || (comp == 1 && p[-1] == '.') || (comp == 2 && p[-1] == '.' && p[-2] == '.'))
				return false;
			if (*p == '\0')
				return true;
			if (++depth > DEPTH_MAX)
				return false;
			comp = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		    *p == '_' || *p == '-'))
			return false;
		comp++;
	}
}

/* member_rel's why for a member below another top folder than the first's. */
static const char other_top[] = "below another top folder than the bundle's first member";

/* Splits a member's name into the top folder (checked against the first
 * member's) and the rest. */
static const char *
member_rel(struct stg_bundle *b, const char *path, const char **why)
{
	const char *slash = strchr(path, '/');
	size_t top = slash ? (size_t)(slash - path) : 0;
	nvr_uuid id;
	char buf[64];

	*why = "a member outside a top folder nvr-export-<uuid>/";
	if (slash == NULL || top != strlen(TOP_PREFIX) + NVR_UUID_STRLEN - 1 || strncmp(path, TOP_PREFIX, 11) != 0)
		return NULL;
	snprintf(buf, sizeof(buf), "%.*s", (int)(top - 11), path + 11);
	if (nvr_uuid_parse(buf, &id) != NVR_OK)
		return NULL;
	if (b->root[0] == '\0') {
		snprintf(b->root, sizeof(b->root), "%s/%.*s", b->tmp, (int)top, path);
		if (mkdir(b->root, 0700) != 0) {
			*why = "cannot make the temporary folder to extract into";
			return NULL;
		}
	} else if (strlen(b->root) != strlen(b->tmp) + 1 + top || strncmp(b->root + strlen(b->tmp) + 1, path, top) != 0) {
		*why = other_top;
		return NULL;
	}
	*why = "a member whose name is not one a bundle has (only letters, digits, '.', '_' and '-', at most 6 deep)";
	return stg_bundle_name_ok(slash + 1) ? slash + 1 : NULL;
}

static nvr_err finding(struct stg_bundle *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static nvr_err
make_parents(const char *root, const char *rel)
{
	char p[PATH_MAX];
	size_t n = strlen(root);

	if ((size_t)snprintf(p, sizeof(p), "%s/%s", root, rel) >= sizeof(p))
		return NVR_ERR_TOOBIG;
	for (char *s = p + n; (s = strchr(s + 1, '/')) != NULL;) {
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return NVR_ERR_IO;
		*s = '/';
	}
	return NVR_OK;
}


/* Exactly n bytes, or false (an error, or the end of the file first). */
static bool
read_exactly(int fd, uint8_t *buf, size_t n)
{
	return stg_read_full(fd, buf, n) == (ssize_t)n;
}

static nvr_err __attribute__((format(printf, 4, 5)))
say(nvr_err rc, char *why, size_t whysize, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whysize, fmt, ap);
	va_end(ap);
	return rc;
}

/* Copies one member's data (size bytes, then its padding) from the tar
 * to a new file, hashing it. */
static nvr_err
copy_member(int in, struct stg_bundle *b, struct stg_bundle_member *m, uint8_t *buf, EVP_MD_CTX *md,
    char *why, size_t whysize)
{
	char dest[PATH_MAX];
	uint64_t left = m->size;
	nvr_err rc = NVR_ERR_IO;
	int out;

	if (make_parents(b->root, m->path) != NVR_OK)
		return say(NVR_ERR_IO, why, whysize, "cannot make a folder for %s: %s", m->path, strerror(errno));
	snprintf(dest, sizeof(dest), "%s/%s", b->root, m->path);
	if ((out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return say(errno == EEXIST ? NVR_ERR_INVAL : NVR_ERR_IO, why, whysize, "member %s: %s", m->path,
		    errno == EEXIST ? "it appears twice in the tar" : strerror(errno));
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	while (left > 0) {
		size_t n = left < BLOCK ? (size_t)left : BLOCK;
		if (!read_exactly(in, buf, n)) {
			rc = say(NVR_ERR_INVAL, why, whysize, "member %s: the tar ends inside it (truncated)", m->path);
			goto out;
		}
		if (EVP_DigestUpdate(md, buf, n) != 1 || stg_write_all(out, buf, n, m->size - left) != NVR_OK) {
			rc = say(NVR_ERR_IO, why, whysize, "cannot extract %s: %s", m->path, strerror(errno));
			goto out;
		}
		left -= n;
	}
	if (EVP_DigestFinal_ex(md, m->sha, NULL) != 1 || !read_exactly(in, buf, stg_tar_padding(m->size))) {
		rc = say(NVR_ERR_INVAL, why, whysize, "member %s: the tar ends inside it (truncated)", m->path);
		goto out;
	}
	/* Bytes hidden where tar readers skip them are in no member's hash. */
	rc = nvr_all_zero(buf, stg_tar_padding(m->size)) ? NVR_OK
						 : finding(b, "member %s: the padding after its data is not zeros: "
							      "something hidden in the tar", m->path);
out:
	close(out);
	return rc;
}

static nvr_err
add_member(struct stg_bundle *b, const char *rel, uint64_t size, struct stg_bundle_member **out)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		void *p = realloc(b->members, cap * sizeof(*b->members));
		if (p == NULL)
			return NVR_ERR_NOMEM;
		b->members = p;
		b->cap = cap;
	}
	*out = &b->members[b->n];
	if (((*out)->path = strdup(rel)) == NULL)
		return NVR_ERR_NOMEM;
	(*out)->size = size;
	b->n++;
	return NVR_OK;
}

/* Keeps a finding about the tar's shape (bundle.h); NVR_ERR_NOMEM only. */
static nvr_err
finding(struct stg_bundle *b, const char *fmt, ...)
{
	char **f = realloc(b->findings, (b->nfindings + 1) * sizeof(*f));
	va_list ap;
	int n;

	if (f == NULL)
		return NVR_ERR_NOMEM;
	b->findings = f;
	va_start(ap, fmt);
	n = vasprintf(&f[b->nfindings], fmt, ap);
	va_end(ap);
	if (n < 0)
		return NVR_ERR_NOMEM;
	b->nfindings++;
	return NVR_OK;
}

/* The end of the archive (FORMAT.md 12.1): the zero block just read, one
 * more, and then the end of the file; a bundle is nothing else. */
static nvr_err
check_end(int in, struct stg_bundle *b, uint8_t *buf, char *why, size_t whysize)
{
	static const uint8_t zeros[STG_TAR_BLOCK];
	struct stat st;
	off_t at;

	if (b->n == 0)
		return say(NVR_ERR_INVAL, why, whysize, "the tar is empty");
	if (!read_exactly(in, buf, STG_TAR_BLOCK))
		return finding(b, "the tar ends inside its two end blocks: truncated");
	if (memcmp(buf, zeros, STG_TAR_BLOCK) != 0)
		return finding(b, "after %zu members, one zero block and then more data: something hidden after the "
				  "end of the archive (tar -i shows it)", b->n);
	if ((at = lseek(in, 0, SEEK_CUR)) < 0 || fstat(in, &st) != 0)
		return say(NVR_ERR_IO, why, whysize, "cannot tell where the tar ends: %s", strerror(errno));
	if (st.st_size != at)
		return finding(b, "%lld bytes follow the end of the archive: appended to the bundle",
		    (long long)(st.st_size - at));
	return NVR_OK;
}

/* A member's header block is exactly the one the recorder writes for its
 * name and size, but for its time, which stg_bundle_verify compares with
 * export.json's (a changed time is that member's finding, not every
 * other member's). */
static nvr_err
check_header(struct stg_bundle *b, const uint8_t *block, const char *path, uint64_t size, int64_t *mtime,
    char *why, size_t whysize)
{
	const char *w = "its time is not octal digits";

	if (!stg_tar_mtime(block, mtime))
		return say(NVR_ERR_INVAL, why, whysize, "member '%.200s': %s", path, w);
	if (stg_tar_check(block, path, size, *mtime, &w) != NVR_OK)
		return finding(b, "member %.200s: its tar header is not the one the recorder writes: %s differs "
				  "(changed after the export)", path, w);
	return NVR_OK;
}

static nvr_err
extract_all(int in, struct stg_bundle *b, uint8_t *buf, EVP_MD_CTX *md, char *why, size_t whysize)
{
	char path[STG_TAR_PATH_MAX];
	enum stg_tar_kind kind;
	struct stg_bundle_member *m;
	const char *w, *rel;
	uint64_t size;
	int64_t mtime;
	nvr_err rc;

	for (;;) {
		if (!read_exactly(in, buf, STG_TAR_BLOCK))
			return say(NVR_ERR_INVAL, why, whysize, "the tar ends after %zu members, without its end blocks "
			    "(truncated)", b->n);
		if (stg_tar_parse(buf, &kind, path, &size, &w) != NVR_OK)
			return path[0] != '\0' ? say(NVR_ERR_INVAL, why, whysize, "member '%.200s' (after %zu members): %s",
						      path, b->n, w)
						: say(NVR_ERR_INVAL, why, whysize, "after %zu members: %s", b->n, w);
		if (kind == STG_TAR_END) {
			rc = check_end(in, b, buf, why, whysize);
			return rc == NVR_ERR_NOMEM ? say(rc, why, whysize, "out of memory") : rc;
		}
		if (b->n == STG_BUNDLE_MEMBERS_MAX)
			return say(NVR_ERR_TOOBIG, why, whysize, "more than %d members", STG_BUNDLE_MEMBERS_MAX);
		if ((rc = check_header(b, buf, path, size, &mtime, why, whysize)) != NVR_OK)
			return rc == NVR_ERR_NOMEM ? say(rc, why, whysize, "out of memory") : rc;
		if ((rel = member_rel(b, path, &w)) == NULL && w == other_top)
			return say(NVR_ERR_INVAL, why, whysize, "member '%.200s' is %s, '%s/%s': one of the two was renamed",
			    path, w, strrchr(b->root, '/') + 1, b->members[0].path);
		if (rel == NULL)
			return say(NVR_ERR_INVAL, why, whysize, "member '%.200s': %s", path, w);
		if ((rc = add_member(b, rel, size, &m)) != NVR_OK)
			return say(rc, why, whysize, "out of memory");
		m->mtime = mtime;
		if ((rc = copy_member(in, b, m, buf, md, why, whysize)) != NVR_OK)
			return rc;
	}
}

nvr_err
stg_bundle_extract(const char *path, struct stg_bundle *b, char *why, size_t whysize)
{
	const char *tmpdir = getenv("TMPDIR");
	uint8_t *buf = malloc(BLOCK);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	nvr_err rc = NVR_ERR_NOMEM;
	int in = -1;

	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "%s", path);
	if (buf == NULL || md == NULL) {
		say(rc, why, whysize, "out of memory");
		goto out;
	}
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = say(NVR_ERR_IO, why, whysize, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
	snprintf(b->tmp, sizeof(b->tmp), "%s/nvr-bundle-XXXXXX", tmpdir && tmpdir[0] ? tmpdir : "/tmp");
	if (mkdtemp(b->tmp) == NULL) {
		rc = say(NVR_ERR_IO, why, whysize, "cannot make a temporary folder in %s: %s", b->tmp, strerror(errno));
		b->tmp[0] = '\0';
		goto out;
	}
	rc = extract_all(in, b, buf, md, why, whysize);
out:
	if (in >= 0)
		close(in);
	EVP_MD_CTX_free(md);
	free(buf);
	return rc;
}

static bool
ends_with(const char *s, const char *end)
{
	size_t n = strlen(s), m = strlen(end);

	return n >= m && strcmp(s + n - m, end) == 0;
}

bool
stg_bundle_is(const char *path)
{
	struct stat st;

	/* Any regular file but a segment's three: a tar too short or too
	 * damaged to show its magic is then called so, not a segment. */
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && !ends_with(path, ".nvrseg") &&
	    !ends_with(path, ".manifest.json") && !ends_with(path, ".manifest.json.sig");
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void
stg_bundle_close(struct stg_bundle *b)
{
	if (b->tmp[0] != '\0')
		nftw(b->tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < b->n; i++)
		free(b->members[i].path);
	free(b->members);
	for (size_t i = 0; i < b->nfindings; i++)
		free(b->findings[i]);
	free(b->findings);
	json_decref(b->manifest);
	memset(b, 0, sizeof(*b));
}

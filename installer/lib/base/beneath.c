/* Files beneath a root directory; see beneath.h. */
#include "base/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"

#define BENEATH_DEPTH_MAX 64

/* Split rel into components (in place); refuse empty, "." and ".." ones. */
static int split(char *rel, char **comp, size_t *n, const char *root, const char *orig, struct app_err *e)
{
	char *save = NULL;

	*n = 0;
	if (rel[0] == '/' || (*rel && rel[strlen(rel) - 1] == '/'))
		return app_err_set(e, -EINVAL, "'%s' is not a path below '%s'", orig, root);
	for (char *c = strtok_r(rel, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0 || *n >= BENEATH_DEPTH_MAX)
			return app_err_set(e, -EINVAL, "'%s' is not a path below '%s'", orig, root);
		comp[(*n)++] = c;
	}
	if (*n == 0)
		return app_err_set(e, -EINVAL, "'%s' names no file below '%s'", orig, root);
	return 0;
}

/* Open comp[0..n) as directories below dfd (consumed), creating them when
 * create; a symbolic link (or anything not a directory) is refused. */
static int walk(int dfd, char **comp, size_t n, bool create, const char *root, struct app_err *e)
{
	for (size_t i = 0; i < n; i++) {
		int next;

		if (create && mkdirat(dfd, comp[i], 0755) < 0 && errno != EEXIST) {
			int err = errno;

			close(dfd);
			return app_err_set(e, -err, "cannot create directory '%s' below '%s': %s", comp[i],
					   root, strerror(err));
		}
		next = openat(dfd, comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			int err = errno;
			struct stat st;
			bool link =
			    fstatat(dfd, comp[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);

			close(dfd);
			if (link || err == ELOOP)
				return app_err_set(
				    e, -ELOOP,
				    "'%s' below '%s' is a symbolic link; refusing to follow it "
				    "out of '%s'",
				    comp[i], root, root);
			return app_err_set(e, -err, "cannot open directory '%s' below '%s': %s", comp[i],
					   root, strerror(err));
		}
		close(dfd);
		dfd = next;
	}
	return dfd;
}

static int open_root(const char *root, bool create, struct app_err *e)
{
	int fd;

	if (create && mkdir_p(root, 0755, e) < 0)
		return e ? e->code : -EIO;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return app_err_set(e, -errno, "cannot open directory '%s': %s", root, strerror(errno));
	return fd;
}

static int write_at(int dfd, const char *name, const void *data, size_t len, mode_t mode, const char *path,
		    struct app_err *e)
{
	char tmp[300];
	struct stat st;
	int fd = -1;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return app_err_set(e, -ELOOP, "'%s' is a symbolic link; refusing to write through it", path);
	for (int tries = 0; fd < 0 && tries < 16; tries++) {
		unsigned r = 0;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (unsigned)getpid() ^ (unsigned)tries;
		snprintf(tmp, sizeof(tmp), "%.200s.tmp.%08x", name, r);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return app_err_set(e, -errno, "cannot create a temporary file beside '%s': %s", path,
				   strerror(errno));
	if (fchmod(fd, mode) < 0)
		goto fail;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, (const char *)data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) < 0)
		goto fail;
	fsync(dfd);
	return 0;
fail : {
	int err = errno;

	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	return app_err_set(e, -err, "cannot write '%s': %s", path, strerror(err));
}
}

int write_file_beneath(const char *root, const char *rel, const void *data, size_t len, mode_t mode,
		       struct app_err *e)
{
	char *copy = xstrdup(rel), *comp[BENEATH_DEPTH_MAX], *path = xasprintf("%s/%s", root, rel);
	size_t n;
	int r = split(copy, comp, &n, root, rel, e), dfd;

	if (r == 0) {
		dfd = open_root(root, true, e);
		if (dfd >= 0)
			dfd = walk(dfd, comp, n - 1, true, root, e);
		r = dfd < 0 ? dfd : write_at(dfd, comp[n - 1], data, len, mode, path, e);
		if (dfd >= 0)
			close(dfd);
	}
	free(path);
	free(copy);
	return r;
}

int unlink_beneath(const char *root, const char *rel, struct app_err *e)
{
	char *copy = xstrdup(rel), *comp[BENEATH_DEPTH_MAX];
	size_t n;
	int r = split(copy, comp, &n, root, rel, e), dfd;

	for (size_t keep = n; r == 0 && keep > 0; keep--) {
		/* keep == n: the file; then each directory that became empty */
		dfd = open_root(root, false, e);
		if (dfd >= 0)
			dfd = walk(dfd, comp, keep - 1, false, root, e);
		if (dfd == -ENOENT && keep == n) {
			r = 0;
			break;
		}
		if (dfd < 0) {
			r = dfd;
			break;
		}
		if (unlinkat(dfd, comp[keep - 1], keep == n ? 0 : AT_REMOVEDIR) < 0) {
			int err = errno;

			close(dfd);
			if (keep == n && err != ENOENT)
				r = app_err_set(e, -err, "cannot remove '%s/%s': %s", root, rel,
						strerror(err));
			break; /* a directory that is not empty stays */
		}
		close(dfd);
	}
	free(copy);
	return r;
}

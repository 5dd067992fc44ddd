#include "base/util.h"

#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"

static void oom(void)
{
	fputs("appliance: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	return s ? xstrndup(s, strlen(s)) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	va_end(ap);
	return p;
}

/* memcmp(p, p + 1) would read every zero byte twice; data usually shows in
 * the first bytes */
static const unsigned char zero_page[4096];

bool mem_all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n) {
		size_t k = n < sizeof(zero_page) ? n : sizeof(zero_page);

		if (memcmp(c, zero_page, k) != 0)
			return false;
		c += k;
		n -= k;
	}
	return true;
}

void wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

/* Buffers may hold secret values (secrets, machine configs, kubeconfigs):
 * growing one copies it into a new block and wipes the old one (realloc
 * would leave the old bytes in freed memory), and buf_free wipes it. */
void buf_append(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *grown;

		while (cap < b->len + len + 1)
			cap *= 2;
		grown = xmalloc(cap);
		if (b->data) {
			memcpy(grown, b->data, b->len + 1);
			wipe(b->data, b->cap);
			free(b->data);
		}
		b->data = grown;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	buf_append(b, p, (size_t)n);
	free(p);
}

void buf_free(struct buf *b)
{
	wipe(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int mkdir_p(const char *path, mode_t mode, struct app_err *e)
{
	char *p = xstrdup(path);
	int r = 0;

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			r = app_err_set(e, -errno, "cannot create directory '%s': %s", p, strerror(errno));
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		r = app_err_set(e, -errno, "cannot create directory '%s': %s", p, strerror(errno));
out:
	free(p);
	return r;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, struct app_err *e)
{
	char *copy = xstrdup(path), *dir = dirname(copy);
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd = -1, dfd, r;

	r = mkdir_p(dir, 0755, e);
	if (r < 0)
		goto out;
	fd = mkstemp(tmp);
	if (fd < 0) {
		r = app_err_set(e, -errno, "cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, mode) < 0) {
		r = app_err_set(e, -errno, "cannot chmod '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = app_err_set(e, -errno, "cannot write '%s': %s", path, strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		r = app_err_set(e, -errno, "cannot write '%s': %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = app_err_set(e, -errno, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		goto fail;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	r = 0;
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	free(copy);
	return r;
}

int read_file(const char *path, size_t max, struct buf *out, struct app_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return app_err_set(e, -errno, "cannot open '%s': %s", path, strerror(errno));
	r = read_fd(fd, path, max, out, e);
	close(fd);
	return r;
}

const char *file_kind(mode_t m)
{
	static const struct {
		mode_t type;
		const char *what;
	} kinds[] = {
		{ S_IFIFO, "a FIFO" },	  { S_IFCHR, "a character device" }, { S_IFBLK, "a block device" },
		{ S_IFSOCK, "a socket" }, { S_IFDIR, "a directory" },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if ((m & S_IFMT) == kinds[i].type)
			return kinds[i].what;
	return "not a regular file";
}

int open_regular(const char *path, struct stat *ret_st, struct app_err *e)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), r;

	if (fd < 0)
		return app_err_set(e, -errno, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		r = app_err_set(e, -errno, "cannot stat '%s': %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		r = app_err_set(e, -EINVAL, "'%s' is %s, not a regular file; refusing to read it", path,
				file_kind(st.st_mode));
	else
		r = 0;
	if (r < 0) {
		close(fd);
		return r;
	}
	if (ret_st)
		*ret_st = st;
	return fd;
}

int read_regular(const char *path, size_t max, struct buf *out, struct app_err *e)
{
	int fd = open_regular(path, NULL, e), r;

	if (fd < 0)
		return fd;
	r = read_fd(fd, path, max, out, e);
	close(fd);
	return r;
}

int read_fd(int fd, const char *path, size_t max, struct buf *out, struct app_err *e)
{
	char chunk[65536];
	ssize_t n;
	int r = 0;

	buf_append(out, "", 0);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = app_err_set(e, -errno, "cannot read '%s': %s", path, strerror(errno));
			break;
		}
		if (out->len + (size_t)n > max) {
			r = app_err_set(e, -EFBIG, "'%s' is larger than %zu bytes", path, max);
			break;
		}
		buf_append(out, chunk, (size_t)n);
	}
	wipe(chunk, sizeof(chunk)); /* the file may be a secret */
	return r;
}

/* compact: no decimal for a whole number or from 100 up ("2 TiB", "512 GiB") */
static const char *bytes_in_units(uint64_t bytes, bool compact, char *buf, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%llu B", (unsigned long long)bytes);
	else if (compact && (v >= 100.0 || v == (double)(uint64_t)v))
		snprintf(buf, n, "%.0f %s", v, units[u]);
	else
		snprintf(buf, n, "%.1f %s", v, units[u]);
	return buf;
}

const char *fmt_bytes(uint64_t bytes, char *buf, size_t n)
{
	return bytes_in_units(bytes, false, buf, n);
}

const char *fmt_bytes_compact(uint64_t bytes, char *buf, size_t n)
{
	return bytes_in_units(bytes, true, buf, n);
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int protect_process_secrets(void)
{
	struct rlimit none = { 0, 0 };
	int r = 0;

	/* no core dump can carry a secret, and no other process of the same user
	 * can ptrace this one or read its memory through /proc */
	if (setrlimit(RLIMIT_CORE, &none) < 0)
		r = -errno;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		r = -errno;
	return r;
}

void secure_free(void *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

long util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

bool path_beneath(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Small shared helpers: allocation that aborts on OOM, a growable buffer,
 * atomic file writes. Use these instead of writing another copy. */
#ifndef APPLIANCE_UTIL_H
#define APPLIANCE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct app_err;
struct stat;

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whether the n bytes at p are all zero: one pass at memcmp's speed against a
 * page of zeros that stays in the cache (the image writer's zero maps and
 * read-back, the Ceph wipe's backup). */
bool mem_all_zero(const void *p, size_t n);

/* Growable byte buffer, always NUL-terminated. Growth and buf_free wipe the
 * bytes they give back (a buffer may hold a secret). */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

/* Write data to path atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory), with the given mode. Creates missing
 * parent directories (0755). */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, struct app_err *e);

/* Read a whole file (at most max bytes; larger is an error). NUL-terminated.
 * The read buffer on the stack is wiped: the file may be a secret. */
int read_file(const char *path, size_t max, struct buf *out, struct app_err *e);
/* The same from an open fd (not closed); path names it in messages. */
int read_fd(int fd, const char *path, size_t max, struct buf *out, struct app_err *e);
/* Open a regular file for reading, without blocking: a FIFO, a device or a
 * directory is refused (-EINVAL, "'PATH' is a FIFO, not a regular file; ...")
 * instead of hanging on open or read. Returns the fd (its stat in *ret_st when
 * non-NULL) or a negative errno. */
int open_regular(const char *path, struct stat *ret_st, struct app_err *e);
/* read_file() of a regular file only, opened with open_regular(). */
int read_regular(const char *path, size_t max, struct buf *out, struct app_err *e);
/* "a FIFO", "a character device", ...: what a non-regular file is, for messages. */
const char *file_kind(mode_t m);

/* True when the resolved path lies in the resolved folder dir (or is dir). */
bool path_beneath(const char *path, const char *dir);

/* mkdir -p */
int mkdir_p(const char *path, mode_t mode, struct app_err *e);

/* Bytes for people: "512 B", "1.5 KiB", "256.0 MiB", "2.0 TiB". Returns buf. */
const char *fmt_bytes(uint64_t bytes, char *buf, size_t n);
/* The same without a decimal for a whole number or from 100 up: "2 TiB", "512 GiB",
 * "1.5 GiB" (NAS capacities). Returns buf. */
const char *fmt_bytes_compact(uint64_t bytes, char *buf, size_t n);

/* Hex SHA-256 of a buffer into out[65]. */
void sha256_hex(const void *data, size_t len, char out[65]);

/* Overwrite then free secret material. */
void secure_free(void *p, size_t len);
/* Overwrite n bytes at p with zeroes the compiler cannot optimise away. */
void wipe(void *p, size_t n);
/* No core dumps (RLIMIT_CORE 0) and not dumpable (PR_SET_DUMPABLE 0): call
 * before the first secret is read. 0 or a negative errno. */
int protect_process_secrets(void);

/* Milliseconds on the monotonic clock (for deadlines and backoff). */
long util_mono_ms(void);
/* Sleep ms milliseconds, resuming after signals. */
void util_sleep_ms(long ms);

#endif

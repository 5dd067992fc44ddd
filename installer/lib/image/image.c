/* The Talos image writer: source -> decompress -> write -> verify; see image.h. */
#include "image/image.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "net/fetch.h"
#include "profile/model.h"
#include "image/partition.h"
#include "base/util.h"

#define BLK 4096u
#define ZMAP_BYTES (IMAGE_CHUNK / BLK / 8)
#define N_CHUNKS 6	     /* chunk buffers: decoder and writer in flight + queue */
#define SRC_BLOCK (1u << 20) /* compressed blocks between fetch and decoder */
#define N_SRC_BLOCKS 4
#define SYNC_BYTES (64ull << 20) /* make written data durable at least this often */
#define SYNC_NS 2000000000ll	 /* ... or this often */

/* ---- a bounded queue of pointers ------------------------------------------ */

struct queue {
	void *v[16];
	unsigned head, n, cap;
	bool closed;
	pthread_mutex_t mu;
	pthread_cond_t can_pop, can_push;
};

static void q_init(struct queue *q, unsigned cap)
{
	memset(q, 0, sizeof(*q));
	q->cap = cap;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->can_pop, NULL);
	pthread_cond_init(&q->can_push, NULL);
}

static void q_destroy(struct queue *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->can_pop);
	pthread_cond_destroy(&q->can_push);
}

/* -1 when the queue is closed */
static int q_push(struct queue *q, void *p)
{
	pthread_mutex_lock(&q->mu);
	while (q->n == q->cap && !q->closed)
		pthread_cond_wait(&q->can_push, &q->mu);
	if (q->closed) {
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	q->v[(q->head + q->n++) % q->cap] = p;
	pthread_cond_signal(&q->can_pop);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

/* NULL when closed and drained */
static void *q_pop(struct queue *q)
{
	void *p = NULL;

	pthread_mutex_lock(&q->mu);
	while (q->n == 0 && !q->closed)
		pthread_cond_wait(&q->can_pop, &q->mu);
	if (q->n) {
		p = q->v[q->head];
		q->head = (q->head + 1) % q->cap;
		q->n--;
		pthread_cond_signal(&q->can_push);
	}
	pthread_mutex_unlock(&q->mu);
	return p;
}

static void q_close(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	pthread_cond_broadcast(&q->can_pop);
	pthread_cond_broadcast(&q->can_push);
	pthread_mutex_unlock(&q->mu);
}

static void *xaligned(size_t n)
{
	void *p = NULL;
	if (posix_memalign(&p, BLK, n) != 0)
		p = xmalloc(0); /* unreachable in practice; keeps the contract */
	return p;
}

static void hex32(const unsigned char d[32], char out[65])
{
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[64] = '\0';
}

static const char *fmt_names[] = { "none", "gzip", "xz", "zstd" };

/* ---- chunk digest ----------------------------------------------------------- */

static bool all_zero(const unsigned char *p, size_t n)
{
	if (n == 0)
		return true;
	if (p[0] != 0 || p[n - 1] != 0)
		return false;
	return memcmp(p, p + 1, n - 1) == 0;
}

/* SHA-256 over (length, zero-block bitmap, non-zero blocks). zmap gets the bitmap. */
/* Which 4 KiB blocks of the chunk are all zeros (bit set = zero block). */
static void chunk_zmap(const unsigned char *data, size_t len, unsigned char zmap[ZMAP_BYTES])
{
	size_t nblk = (len + BLK - 1) / BLK;

	memset(zmap, 0, ZMAP_BYTES);
	for (size_t b = 0; b < nblk; b++) {
		size_t n = (b + 1) * BLK <= len ? BLK : len - b * BLK;
		if (all_zero(data + b * BLK, n))
			zmap[b / 8] |= (unsigned char)(1u << (b % 8));
	}
}

static bool zbit(const unsigned char *zmap, size_t b)
{
	return zmap[b / 8] & (1u << (b % 8));
}

/* ---- the source: a file read here, or a URL fetched by its own thread ------- */

struct src_block {
	char data[SRC_BLOCK];
	size_t len;
};

struct source {
	const char *name;
	const char *ca_file;
	int fetch_retries;
	unsigned fetch_backoff_ms;
	fetch_retry_fn on_retry;
	void *retry_ctx;
	bool url;
	int fd;			  /* file */
	struct src_block *blocks; /* pool, filled by the reader or fetch thread */
	struct queue free_q, full_q;
	bool queues;
	struct src_block *cur;	   /* block lent to libarchive */
	struct src_block *filling; /* url: block the fetch thread fills */
	pthread_t thread;
	bool thread_started;
	struct app_err fetch_err;
	int fetch_rc;
	bool hash;	/* compute the SHA-256 of the source bytes */
	EVP_MD_CTX *md; /* ... here */
	_Atomic uint64_t consumed;
	uint64_t total;
	_Atomic bool stop; /* stop early */
};

static int fetch_sink(void *ctx, const void *data, size_t len)
{
	struct source *s = ctx;
	const char *p = data;

	while (len) {
		size_t n;
		if (!s->filling) {
			s->filling = q_pop(&s->free_q);
			if (!s->filling)
				return -1;
			s->filling->len = 0;
		}
		n = SRC_BLOCK - s->filling->len;
		if (n > len)
			n = len;
		memcpy(s->filling->data + s->filling->len, p, n);
		if (s->md)
			EVP_DigestUpdate(s->md, p, n);
		s->filling->len += n;
		p += n;
		len -= n;
		if (s->filling->len == SRC_BLOCK) {
			if (q_push(&s->full_q, s->filling) < 0)
				return -1;
			s->filling = NULL;
		}
	}
	return 0;
}

static void fetch_total(void *ctx, uint64_t done, uint64_t total)
{
	struct source *s = ctx;
	(void)done;
	if (total)
		s->total = total;
}

static void fetch_retried(void *ctx, int attempt, uint64_t at, const char *why)
{
	struct source *s = ctx;
	if (s->on_retry)
		s->on_retry(s->retry_ctx, attempt, at, why);
}

static void *fetch_thread(void *arg)
{
	struct source *s = arg;
	struct fetch_opts fo = {
		.url = s->name,
		.ca_file = s->ca_file,
		.retries = s->fetch_retries,
		.backoff_ms = s->fetch_backoff_ms,
		.progress = fetch_total,
		.on_retry = fetch_retried,
		.ctx = s,
	};

	s->fetch_rc = fetch_stream(&fo, fetch_sink, s, &s->fetch_err);
	if (s->fetch_rc == 0 && s->filling && s->filling->len) {
		q_push(&s->full_q, s->filling);
		s->filling = NULL;
	}
	q_close(&s->full_q);
	return NULL;
}

/* Files get a reader thread too: the source hash is computed there, off the
 * decompressor's core. */
static void *file_thread(void *arg)
{
	struct source *s = arg;

	for (;;) {
		struct src_block *b = q_pop(&s->free_q);
		size_t got = 0;
		if (!b)
			break;
		while (got < SRC_BLOCK) {
			ssize_t n = read(s->fd, b->data + got, SRC_BLOCK - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				s->fetch_rc = app_err_set(&s->fetch_err, -errno, "cannot read '%s': %s",
							  s->name, strerror(errno));
				q_close(&s->full_q);
				return NULL;
			}
			if (n == 0)
				break;
			got += (size_t)n;
		}
		if (got == 0)
			break;
		b->len = got;
		if (s->md)
			EVP_DigestUpdate(s->md, b->data, got);
		if (q_push(&s->full_q, b) < 0 || got < SRC_BLOCK)
			break;
	}
	q_close(&s->full_q);
	return NULL;
}

static int source_open(struct source *s, struct app_err *e)
{
	if (s->hash) {
		s->md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(s->md, EVP_sha256(), NULL);
	}
	s->url = fetch_is_url(s->name);
	s->fd = -1;
	if (!s->url) {
		struct stat st;
		s->fd = open(s->name, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0)
			return app_err_set(e, -errno, "cannot open image '%s': %s", s->name, strerror(errno));
		if (fstat(s->fd, &st) == 0)
			s->total = (uint64_t)st.st_size;
		posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	s->blocks = xcalloc(N_SRC_BLOCKS, sizeof(*s->blocks));
	q_init(&s->free_q, N_SRC_BLOCKS);
	q_init(&s->full_q, N_SRC_BLOCKS);
	s->queues = true;
	for (int i = 0; i < N_SRC_BLOCKS; i++)
		q_push(&s->free_q, &s->blocks[i]);
	if (pthread_create(&s->thread, NULL, s->url ? fetch_thread : file_thread, s) != 0)
		return app_err_set(e, -EAGAIN, "cannot start the reader thread for '%s'", s->name);
	s->thread_started = true;
	return 0;
}

static void source_close(struct source *s)
{
	if (s->queues) {
		q_close(&s->free_q);
		q_close(&s->full_q);
		if (s->thread_started)
			pthread_join(s->thread, NULL);
		q_destroy(&s->free_q);
		q_destroy(&s->full_q);
	}
	free(s->blocks);
	if (s->fd >= 0)
		close(s->fd);
	EVP_MD_CTX_free(s->md);
}

static la_ssize_t source_read(struct archive *a, void *ud, const void **buf)
{
	struct source *s = ud;

	if (s->stop)
		return 0;
	if (s->cur)
		q_push(&s->free_q, s->cur);
	s->cur = q_pop(&s->full_q);
	if (!s->cur) {
		if (s->fetch_rc < 0) {
			archive_set_error(a, EIO, "%s", s->fetch_err.msg);
			return -1;
		}
		return 0;
	}
	*buf = s->cur->data;
	s->consumed += s->cur->len;
	return (la_ssize_t)s->cur->len;
}

/* ---- decoder: libarchive raw reader -> chunks ------------------------------- */

struct chunk {
	unsigned char *data;
	size_t len;
	uint64_t index;
	unsigned char zmap[ZMAP_BYTES];
};

struct decoder {
	struct source src;
	struct archive *a;
	char format[16];
	struct chunk chunks[N_CHUNKS];
	struct queue free_q, full_q;
	pthread_t thread;
	bool thread_started;
	struct app_err err;
	int rc;
	uint64_t out_bytes;
};

static int decoder_open(struct decoder *d, struct app_err *e)
{
	struct archive_entry *ae;
	int r, code;

	r = source_open(&d->src, e);
	if (r < 0)
		return r;
	d->a = archive_read_new();
	archive_read_support_filter_zstd(d->a);
	archive_read_support_filter_xz(d->a);
	archive_read_support_filter_gzip(d->a);
	archive_read_support_format_raw(d->a);
	if (archive_read_open2(d->a, &d->src, NULL, source_read, NULL, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(d->a, &ae) != ARCHIVE_OK) {
		const char *why = archive_error_string(d->a);
		return app_err_set(e, -EIO, "cannot read image '%s': %s", d->src.name,
				   why ? why : "empty or unreadable");
	}
	code = archive_filter_code(d->a, 0);
	snprintf(d->format, sizeof(d->format), "%s",
		 code == ARCHIVE_FILTER_ZSTD   ? fmt_names[3]
		 : code == ARCHIVE_FILTER_XZ   ? fmt_names[2]
		 : code == ARCHIVE_FILTER_GZIP ? fmt_names[1]
					       : fmt_names[0]);
	return 0;
}

/* Fill one chunk; 0 at the end of the image, 1 with data, negative on error. */
static int decode_chunk(struct decoder *d, struct chunk *c, uint64_t index)
{
	c->len = 0;
	c->index = index;
	while (c->len < IMAGE_CHUNK) {
		la_ssize_t n = archive_read_data(d->a, c->data + c->len, IMAGE_CHUNK - c->len);
		if (n < 0) {
			const char *why = archive_error_string(d->a);
			return app_err_set(&d->err, -EIO,
					   "image '%s' is corrupt or truncated at %llu bytes (%s): %s",
					   d->src.name, (unsigned long long)(d->out_bytes + c->len),
					   d->format, why ? why : "decompression failed");
		}
		if (n == 0)
			break;
		c->len += (size_t)n;
	}
	if (c->len == 0)
		return 0;
	chunk_zmap(c->data, c->len, c->zmap);
	d->out_bytes += c->len;
	return 1;
}

static void *decoder_thread(void *arg)
{
	struct decoder *d = arg;
	for (uint64_t i = 0;; i++) {
		struct chunk *c = q_pop(&d->free_q);
		int r;
		if (!c)
			break;
		r = decode_chunk(d, c, i);
		if (r <= 0) {
			d->rc = r;
			break;
		}
		if (q_push(&d->full_q, c) < 0)
			break;
	}
	q_close(&d->full_q);
	return NULL;
}

static void decoder_close(struct decoder *d)
{
	if (d->thread_started) {
		q_close(&d->free_q);
		q_close(&d->full_q);
		d->src.stop = true;
		if (d->src.queues) {
			q_close(&d->src.free_q);
			q_close(&d->src.full_q);
		}
		pthread_join(d->thread, NULL);
		q_destroy(&d->free_q);
		q_destroy(&d->full_q);
	}
	if (d->a)
		archive_read_free(d->a);
	for (int i = 0; i < N_CHUNKS; i++)
		free(d->chunks[i].data);
	source_close(&d->src);
}

static int decoder_start(struct decoder *d, struct app_err *e)
{
	q_init(&d->free_q, N_CHUNKS);
	q_init(&d->full_q, N_CHUNKS);
	for (int i = 0; i < N_CHUNKS; i++) {
		d->chunks[i].data = xaligned(IMAGE_CHUNK);
		q_push(&d->free_q, &d->chunks[i]);
	}
	if (pthread_create(&d->thread, NULL, decoder_thread, d) != 0)
		return app_err_set(e, -EAGAIN, "cannot start the decompression thread");
	d->thread_started = true;
	return 0;
}

/* ---- GPT facts from the image's first chunk --------------------------------- */

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Image size from the primary GPT header's backup-header LBA (512-byte sectors). */
static uint64_t gpt_image_size(const unsigned char *c, size_t len)
{
	uint64_t alt;

	if (len < 1024 || memcmp(c + 512, "EFI PART", 8) != 0)
		return 0;
	alt = le64(c + 512 + 32);
	if (alt < 34 || alt > (1ull << 40))
		return 0;
	return (alt + 1) * 512;
}

/* ---- the target --------------------------------------------------------------- */

struct target {
	const char *path;
	int fd;
	bool blockdev;
	bool growable; /* an empty regular file: grows to the image */
	bool direct;   /* O_DIRECT currently set */
	bool can_direct;
	unsigned align; /* O_DIRECT length granularity */
	uint64_t size;	/* device size; UINT64_MAX when growable */
	uint64_t file_size;
	bool punch_ok;
	bool zeroout_ok;
	unsigned char *zeros; /* IMAGE_CHUNK of zeros: untouched anonymous memory, no RSS */
};

static int set_direct(struct target *t, bool on)
{
	int fl;

	if (!t->can_direct || t->direct == on)
		return 0;
	fl = fcntl(t->fd, F_GETFL);
	if (fl < 0 || fcntl(t->fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) < 0)
		return -errno;
	t->direct = on;
	return 0;
}

static int t_pwrite(struct target *t, const void *buf, size_t len, uint64_t off, struct app_err *e)
{
	const char *p = buf;

	/* O_DIRECT needs sector-sized lengths; the image's odd tail goes buffered. */
	if (t->direct && len % t->align)
		set_direct(t, false);
	while (len) {
		ssize_t n = pwrite(t->fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOSPC || errno == EFBIG)
				return app_err_set(e, -ENOSPC,
						   "disk '%s' is too small: writing at byte %llu failed: %s",
						   t->path, (unsigned long long)off, strerror(errno));
			return app_err_set(e, -errno, "cannot write to '%s' at byte %llu: %s", t->path,
					   (unsigned long long)off, strerror(errno));
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	set_direct(t, true);
	return 0;
}

/* A read-only fd of its own for reading back (O_DIRECT when it can), so the
 * verifier thread never races the writer over file flags. */
struct rd {
	const char *path;
	int fd;
	bool direct;
	unsigned align;
	unsigned char *buf;
};

static int rd_direct(struct rd *r, bool on)
{
	int fl = fcntl(r->fd, F_GETFL);
	if (fl < 0 || fcntl(r->fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) < 0)
		return -1;
	r->direct = on;
	return 0;
}

static int rd_open(struct rd *r, const struct target *t, struct app_err *e)
{
	struct stat a, b;

	r->path = t->path;
	r->align = t->align;
	r->fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return app_err_set(e, -errno, "cannot open '%s' to read it back: %s", t->path,
				   strerror(errno));
	if (fstat(r->fd, &a) < 0 || fstat(t->fd, &b) < 0 ||
	    (S_ISBLK(a.st_mode) ? a.st_rdev != b.st_rdev : a.st_dev != b.st_dev || a.st_ino != b.st_ino))
		return app_err_set(e, -ESTALE, "'%s' changed while it was being written", t->path);
	rd_direct(r, t->can_direct);
	r->buf = xaligned(IMAGE_CHUNK);
	return 0;
}

static void rd_close(struct rd *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
}

static int rd_read(struct rd *r, size_t len, uint64_t off, struct app_err *e)
{
	bool was = r->direct;
	char *p = (char *)r->buf;

	if (r->direct && len % r->align)
		rd_direct(r, false); /* the image's odd tail */
	if (!r->direct) {
		/* buffered: get the range to the disk, drop it from the cache, read it again */
		sync_file_range(r->fd, (off_t)off, (off_t)len,
				SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
				    SYNC_FILE_RANGE_WAIT_AFTER);
		posix_fadvise(r->fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
	}
	while (len) {
		ssize_t n = pread(r->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			return app_err_set(e, -err, "cannot read back '%s' at byte %llu: %s", r->path,
					   (unsigned long long)off, n < 0 ? strerror(err) : "unexpected end");
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	if (was && !r->direct)
		rd_direct(r, true);
	return 0;
}

static int t_grow(struct target *t, uint64_t end, struct app_err *e)
{
	if (!t->growable || end <= t->file_size)
		return 0;
	if (ftruncate(t->fd, (off_t)end) < 0)
		return app_err_set(e, -errno, "cannot extend '%s' to %llu bytes: %s", t->path,
				   (unsigned long long)end, strerror(errno));
	t->file_size = end;
	return 0;
}

/* Make [off, off+len) read as zeros without sending zeros when the target can. */
static int t_zero(struct target *t, uint64_t off, uint64_t len, struct app_err *e)
{
	if (t->blockdev && off % t->align == 0 && len % t->align == 0) {
		uint64_t range[2] = { off, len };
		/* the device zeroes the range, unmapping it when it can (thin/loop: holes);
		 * the kernel refuses rather than falling back to writing zeros */
		if (t->punch_ok) {
			if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				      (off_t)len) == 0)
				return 0;
			t->punch_ok = false;
		}
		if (t->zeroout_ok) {
			if (ioctl(t->fd, BLKZEROOUT, range) == 0)
				return 0;
			if (errno != EOPNOTSUPP && errno != EINVAL && errno != ENOTTY)
				return app_err_set(e, -errno, "cannot zero '%s' at byte %llu: %s", t->path,
						   (unsigned long long)off, strerror(errno));
			t->zeroout_ok = false;
		}
	}
	if (!t->blockdev) {
		if (t->growable && off >= t->file_size)
			return t_grow(t, off + len, e); /* beyond the old end: already a hole */
		if (t->punch_ok) {
			if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				      (off_t)len) == 0)
				return t_grow(t, off + len, e);
			t->punch_ok = false;
		}
	}
	while (len) {
		size_t n = len < IMAGE_CHUNK ? (size_t)len : IMAGE_CHUNK;
		int r = t_pwrite(t, t->zeros, n, off, e);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

static int t_sync(struct target *t, struct app_err *e)
{
	if (fdatasync(t->fd) < 0)
		return app_err_set(e, -errno, "cannot sync '%s': %s", t->path, strerror(errno));
	return 0;
}

/* Write one chunk: zero runs zeroed, data runs written. */
static int write_chunk(struct target *t, const struct chunk *c, uint64_t *written, uint64_t *zeroed,
		       struct app_err *e)
{
	uint64_t base = c->index * (uint64_t)IMAGE_CHUNK;
	size_t nblk = (c->len + BLK - 1) / BLK;
	int r = t_grow(t, base + c->len, e);

	for (size_t b = 0; r == 0 && b < nblk;) {
		/* a partial last block is written as data so the tail stays exact */
#define ZERO_BLOCK(b) (zbit(c->zmap, (b)) && ((b) + 1) * BLK <= c->len)
		bool z = ZERO_BLOCK(b);
		size_t s = b, from, to;
		while (b < nblk && ZERO_BLOCK(b) == z)
			b++;
#undef ZERO_BLOCK
		from = s * BLK;
		to = b * BLK < c->len ? b * BLK : c->len;
		if (z) {
			r = t_zero(t, base + from, to - from, e);
			*zeroed += to - from;
		} else {
			r = t_pwrite(t, c->data + from, to - from, base + from, e);
			*written += to - from;
		}
	}
	return r;
}

/* Read a chunk range back and digest it. */
/* Read chunk c's range back bypassing the page cache; *equal when it matches c. */
/* Read chunk c's range back bypassing the page cache; *equal when it matches c. */
static int readback_equal(struct rd *rd, const struct chunk *c, bool *equal, struct app_err *e)
{
	int r = rd_read(rd, c->len, c->index * (uint64_t)IMAGE_CHUNK, e);
	if (r < 0)
		return r;
	*equal = memcmp(rd->buf, c->data, c->len) == 0;
	return 0;
}

/* ---- journal of written, synced chunks ------------------------------------------ */

struct journal {
	pthread_mutex_t mu; /* the writer and the verifier both append */
	FILE *f;
	char *path;
	char id[96];
	bool *have;
	size_t n;
};

static void jr_set(struct journal *j, uint64_t i, bool have)
{
	if (i >= j->n) {
		size_t n = j->n ? j->n : 64;
		while (n <= i)
			n *= 2;
		j->have = xrealloc(j->have, n * sizeof(*j->have));
		memset(j->have + j->n, 0, (n - j->n) * sizeof(*j->have));
		j->n = n;
	}
	j->have[i] = have;
}

static bool jr_has(struct journal *j, uint64_t i)
{
	bool r;
	if (!j->f)
		return false;
	pthread_mutex_lock(&j->mu);
	r = i < j->n && j->have[i];
	pthread_mutex_unlock(&j->mu);
	return r;
}

static int jr_open(struct journal *j, const char *path, const struct target *t, const char *source_id,
		   struct app_err *e)
{
	struct stat st;
	char line[1300], head[1200];
	bool match = false;
	FILE *f;

	if (fstat(t->fd, &st) < 0)
		return app_err_set(e, -errno, "cannot stat '%s': %s", t->path, strerror(errno));
	if (t->blockdev)
		snprintf(j->id, sizeof(j->id), "blk:%u:%u", major(st.st_rdev), minor(st.st_rdev));
	else
		snprintf(j->id, sizeof(j->id), "file:%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
	snprintf(head, sizeof(head), "appliance-image-journal 2 chunk=%u target=%s source=%.1000s\n",
		 IMAGE_CHUNK, j->id, source_id);
	j->path = xstrdup(path);
	f = fopen(path, "re");
	if (f) {
		if (fgets(line, sizeof(line), f) && strcmp(line, head) == 0) {
			match = true;
			while (fgets(line, sizeof(line), f)) {
				unsigned long long i;
				size_t l = strlen(line);
				if (l == 0 || line[l - 1] != '\n')
					break; /* torn last line */
				if (sscanf(line, "w %llu", &i) == 1)
					jr_set(j, i, true);
				else if (sscanf(line, "d %llu", &i) == 1)
					jr_set(j, i, false);
			}
		}
		fclose(f);
	}
	{
		char *dir = xstrdup(path), *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			mkdir_p(dir, 0755, NULL);
		}
		free(dir);
	}
	j->f = fopen(path, match ? "ae" : "we");
	if (!j->f)
		return app_err_set(e, -errno, "cannot open journal '%s': %s", path, strerror(errno));
	if (!match) {
		free(j->have);
		j->have = NULL;
		j->n = 0;
		fputs(head, j->f);
	}
	fflush(j->f);
	return 0;
}

static int jr_sync(struct journal *j, struct app_err *e)
{
	int r = 0;

	if (!j->f)
		return 0;
	pthread_mutex_lock(&j->mu);
	if (fflush(j->f) != 0 || fdatasync(fileno(j->f)) < 0)
		r = app_err_set(e, -errno, "cannot write journal '%s': %s", j->path, strerror(errno));
	pthread_mutex_unlock(&j->mu);
	return r;
}

/* Chunk i was written (or, with written false, must not be trusted). */
static void jr_add(struct journal *j, uint64_t i, bool written)
{
	if (!j->f)
		return;
	pthread_mutex_lock(&j->mu);
	fprintf(j->f, "%c %llu\n", written ? 'w' : 'd', (unsigned long long)i);
	fflush(j->f); /* survives kill -9; fsynced at the next checkpoint */
	jr_set(j, i, written);
	pthread_mutex_unlock(&j->mu);
}

static void jr_close(struct journal *j)
{
	if (j->f)
		fclose(j->f);
	free(j->path);
	free(j->have);
}

char *image_default_journal(const char *target)
{
	struct stat st;
	const char *base = strrchr(target, '/');

	if (stat(target, &st) == 0 && S_ISBLK(st.st_mode))
		return xasprintf("/var/lib/appliance/image-%s.journal", base ? base + 1 : target);
	return xasprintf("%s.image-journal", target);
}

/* ---- image_write -------------------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

struct writer {
	const struct image_write_opts *o;
	image_progress_fn progress;
	void *ctx;
	struct image_progress p;
	struct target t;
	struct journal j;
	struct decoder d;
	struct rd rd_w, rd_v; /* read-back fds: writer (journal skips, head), verifier */
	struct queue vq;      /* written chunks waiting to be read back */
	pthread_t vthread;
	bool v_started;
	_Atomic int v_rc;
	struct app_err v_err;
	_Atomic uint64_t v_verified;
	bool sent;	    /* handle_chunk passed the chunk on to the verifier */
	struct chunk *head; /* chunk 0, written last */
	bool head_invalidated;
	uint64_t pending_from, pending_to; /* chunks written since the last sync */
	uint64_t since_sync;
	int64_t last_sync;
	struct image_result res;
};

static void report(struct writer *w, enum image_phase ph, uint64_t out)
{
	if (!w->progress)
		return;
	w->p.phase = ph;
	w->p.in_bytes = w->d.src.consumed;
	w->p.in_total = w->d.src.total;
	w->p.out_bytes = out;
	w->progress(w->ctx, &w->p);
}

/* Durable point: sync the data, then the journal. The journal is only a hint
 * (a re-run skips a listed chunk only when it reads back equal), so entries are
 * appended as chunks are written and a power cut between the two costs a rewrite,
 * never a wrong disk. */
static int checkpoint(struct writer *w, struct app_err *e)
{
	int r;

	if (w->pending_from == w->pending_to)
		return 0;
	r = t_sync(&w->t, e);
	if (r < 0)
		return r;
	w->pending_from = w->pending_to;
	w->since_sync = 0;
	w->last_sync = now_ns();
	return jr_sync(&w->j, e);
}

/* Before the first write: clear chunk 0's sectors so a half-written disk never
 * carries a partition table. */
static int invalidate_head(struct writer *w, struct app_err *e)
{
	size_t len = w->head ? w->head->len : 0;
	int r;

	if (w->head_invalidated)
		return 0;
	w->head_invalidated = true;
	if (len > 64 * 1024)
		len = 64 * 1024; /* protective MBR + primary GPT and then some */
	r = t_grow(&w->t, len, e);
	if (r == 0)
		r = t_pwrite(&w->t, w->t.zeros, len, 0, e);
	if (r == 0)
		r = t_sync(&w->t, e);
	if (r == 0) {
		jr_add(&w->j, 0, false);
		r = jr_sync(&w->j, e);
	}
	return r;
}

static int differs(struct writer *w, const struct chunk *c, struct app_err *e)
{
	uint64_t off = c->index * (uint64_t)IMAGE_CHUNK;
	jr_add(&w->j, c->index, false);
	jr_sync(&w->j, NULL);
	return app_err_set(e, -EIO, "read-back of disk '%s' differs from image '%s' in bytes %llu-%llu",
			   w->t.path, w->o->source, (unsigned long long)off,
			   (unsigned long long)(off + c->len - 1));
}

static void *verify_thread(void *arg)
{
	struct writer *w = arg;

	for (;;) {
		struct chunk *c = q_pop(&w->vq);
		bool eq = false;
		int r;
		if (!c)
			break;
		if (w->v_rc == 0) {
			r = readback_equal(&w->rd_v, c, &eq, &w->v_err);
			if (r == 0 && !eq)
				r = differs(w, c, &w->v_err);
			if (r < 0) {
				w->v_rc = r;
			} else {
				jr_add(&w->j, c->index, true);
				w->v_verified += c->len;
			}
		}
		q_push(&w->d.free_q, c);
	}
	return NULL;
}

static int verifier_start(struct writer *w, struct app_err *e)
{
	int r = rd_open(&w->rd_w, &w->t, e);
	if (r == 0)
		r = rd_open(&w->rd_v, &w->t, e);
	if (r < 0)
		return r;
	q_init(&w->vq, N_CHUNKS);
	if (pthread_create(&w->vthread, NULL, verify_thread, w) != 0)
		return app_err_set(e, -EAGAIN, "cannot start the read-back thread");
	w->v_started = true;
	return 0;
}

/* Wait for every queued read-back; its verdict. */
static int verifier_stop(struct writer *w, struct app_err *e)
{
	if (!w->v_started)
		return 0;
	q_close(&w->vq);
	pthread_join(w->vthread, NULL);
	q_destroy(&w->vq);
	w->v_started = false;
	w->res.verified += w->v_verified;
	if (w->v_rc < 0) {
		*e = w->v_err;
		return w->v_rc;
	}
	return 0;
}

static int handle_chunk(struct writer *w, struct chunk *c, struct app_err *e)
{
	uint64_t off = c->index * (uint64_t)IMAGE_CHUNK;
	bool eq = false;
	int r;

	if (c->index == 0) {
		uint64_t isz = gpt_image_size(c->data, c->len);
		w->p.out_total = isz;
		if (isz && isz > w->t.size)
			return app_err_set(
			    e, -ENOSPC,
			    "disk '%s' is too small: image '%s' needs %llu bytes, the disk has %llu",
			    w->t.path, w->o->source, (unsigned long long)isz, (unsigned long long)w->t.size);
		w->head = c;
		return 1; /* kept: written last */
	}
	if (off + c->len > w->t.size)
		return app_err_set(e, -ENOSPC,
				   "disk '%s' is too small: image '%s' is larger than its %llu bytes",
				   w->t.path, w->o->source, (unsigned long long)w->t.size);
	/* listed in the journal: skip it when it reads back equal */
	if (jr_has(&w->j, c->index)) {
		r = readback_equal(&w->rd_w, c, &eq, e);
		if (r < 0)
			return r;
		if (eq) {
			w->res.skipped += c->len;
			w->res.verified += c->len;
			return 0;
		}
	}
	r = invalidate_head(w, e);
	if (r == 0)
		r = write_chunk(&w->t, c, &w->res.written, &w->res.zeroed, e);
	if (r < 0)
		return r;
	/* the verifier reads it back while the chunk is still in memory: a byte
	 * compare, no second hash; it journals it and returns the buffer */
	if (q_push(&w->vq, c) < 0)
		return app_err_set(e, -ECANCELED, "read-back stopped");
	w->sent = true;
	w->since_sync += c->len;
	w->pending_to = c->index + 1;
	if (w->since_sync >= SYNC_BYTES || now_ns() - w->last_sync >= SYNC_NS)
		return checkpoint(w, e);
	return 0;
}

static int target_open(struct writer *w, struct app_err *e)
{
	struct target *t = &w->t;
	struct stat st;
	int fd = disk_open_write(&w->o->target, 0, e);
	int ssz = 0;

	t->path = w->o->target.path;
	t->fd = fd;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return app_err_set(e, -errno, "cannot stat '%s': %s", t->path, strerror(errno));
	t->blockdev = S_ISBLK(st.st_mode);
	if (t->blockdev) {
		if (ioctl(fd, BLKGETSIZE64, &t->size) < 0)
			return app_err_set(e, -errno, "cannot get the size of '%s': %s", t->path,
					   strerror(errno));
		t->zeroout_ok = true;
		t->punch_ok = true;
		if (ioctl(fd, BLKSSZGET, &ssz) < 0 || ssz < 512)
			ssz = 512;
		t->align = (unsigned)ssz;
	} else if (S_ISREG(st.st_mode)) {
		t->file_size = (uint64_t)st.st_size;
		t->growable = st.st_size == 0;
		t->size = t->growable ? UINT64_MAX : (uint64_t)st.st_size;
		t->punch_ok = true;
		t->align = BLK;
	} else {
		return app_err_set(e, -EINVAL, "'%s' is neither a block device nor a regular file", t->path);
	}
	t->can_direct = true;
	if (set_direct(t, true) < 0) {
		t->can_direct = false;
		t->direct = false;
	}
	w->res.direct_io = t->direct;
	t->zeros = mmap(NULL, IMAGE_CHUNK, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->zeros == MAP_FAILED) {
		t->zeros = NULL;
		return app_err_set(e, -ENOMEM, "cannot map a zero buffer");
	}
	return 0;
}

static int finish(struct writer *w, struct app_err *e)
{
	const struct image_write_opts *o = w->o;
	int r;

	/* the source's own hash first: a wrong image must never become bootable */
	if (o->sha256 && strcasecmp(o->sha256, w->res.source_sha256) != 0) {
		r = invalidate_head(w, e);
		if (r == 0)
			r = app_err_set(
			    e, -EBADMSG,
			    "sha256 of '%s' is %s, expected %s; disk '%s' left without a partition table",
			    o->source, w->res.source_sha256, o->sha256, w->t.path);
		return r;
	}
	/* then the head, which makes the disk look like what it now is */
	if (w->head) {
		struct chunk *h = w->head;
		bool same = false;
		if (!w->head_invalidated && jr_has(&w->j, 0)) {
			r = readback_equal(&w->rd_w, h, &same, e);
			if (r < 0)
				return r;
		}
		if (!same) {
			bool eq = false;
			r = write_chunk(&w->t, h, &w->res.written, &w->res.zeroed, e);
			if (r == 0)
				r = t_sync(&w->t, e);
			if (r == 0)
				r = readback_equal(&w->rd_w, h, &eq, e);
			if (r < 0)
				return r;
			if (!eq)
				return differs(w, h, e);
			jr_add(&w->j, 0, true);
			r = jr_sync(&w->j, e);
			if (r < 0)
				return r;
		} else {
			w->res.skipped += h->len;
		}
		w->res.verified += h->len;
	}
	report(w, IMAGE_PHASE_VERIFY, w->res.image_size);
	if (w->t.growable && w->t.file_size < w->res.image_size &&
	    (r = t_grow(&w->t, w->res.image_size, e)) < 0)
		return r;
	/* the backup GPT goes to the real end of the disk */
	if (!o->keep_backup_gpt && w->head && gpt_image_size(w->head->data, w->head->len) &&
	    w->res.image_size < (w->t.growable ? w->t.file_size : w->t.size)) {
		set_direct(&w->t, false);
		r = partition_relocate_backup(w->t.fd, w->t.path, &w->res.gpt_relocated, e);
		if (r < 0)
			return r;
	}
	return t_sync(&w->t, e);
}

/* What the journal remembers of the source: a different source resets it. */
static char *source_id(const char *source)
{
	struct stat st;
	if (!fetch_is_url(source) && stat(source, &st) == 0)
		return xasprintf("file:%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino, (long long)st.st_size,
				 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	return xasprintf("url:%s", source);
}

int image_write(const struct image_write_opts *o, image_progress_fn progress, void *ctx,
		struct image_result *res, struct app_err *e)
{
	struct writer *w = xcalloc(1, sizeof(*w));
	unsigned char dg[32];
	char *jpath = NULL, *sid = NULL;
	int r;

	w->o = o;
	w->progress = progress;
	w->ctx = ctx;
	w->t.fd = -1;
	w->rd_w.fd = w->rd_v.fd = -1;
	pthread_mutex_init(&w->j.mu, NULL);
	w->last_sync = now_ns();
	w->d.src.name = o->source;
	w->d.src.ca_file = o->ca_file;
	w->d.src.fetch_retries = o->fetch_retries;
	w->d.src.fetch_backoff_ms = o->fetch_backoff_ms;
	w->d.src.on_retry = o->on_retry;
	w->d.src.retry_ctx = o->retry_ctx;
	w->d.src.hash = o->sha256 != NULL;

	r = target_open(w, e);
	if (r == 0 && !o->no_journal) {
		jpath = o->journal ? xstrdup(o->journal) : image_default_journal(o->target.path);
		sid = source_id(o->source);
		r = jr_open(&w->j, jpath, &w->t, sid, e);
	}
	if (r == 0)
		r = decoder_open(&w->d, e);
	if (r == 0) {
		snprintf(w->res.format, sizeof(w->res.format), "%s", w->d.format);
		r = verifier_start(w, e);
	}
	if (r == 0)
		r = decoder_start(&w->d, e);
	while (r == 0) {
		struct chunk *c;
		if (w->v_rc < 0)
			break;
		c = q_pop(&w->d.full_q);
		if (!c)
			break;
		w->res.image_size += c->len;
		r = handle_chunk(w, c, e);
		if (r == 1) {
			r = 0; /* chunk 0 stays out of the pool until the end */
		} else if (r == 0 && c->index != 0 && !w->sent) {
			q_push(&w->d.free_q, c);
		}
		w->sent = false;
		report(w, IMAGE_PHASE_WRITE, w->res.image_size);
	}
	{
		struct app_err ve = { 0 };
		int vr = verifier_stop(w, &ve);
		if (r == 0 && vr < 0)
			r = app_err_set(e, vr, "%s", ve.msg);
	}
	if (r == 0 && w->d.rc < 0)
		r = app_err_set(e, w->d.rc, "%s", w->d.err.msg);
	if (r == 0 && w->res.image_size == 0)
		r = app_err_set(e, -EINVAL, "image '%s' is empty", o->source);
	if (r == 0)
		r = checkpoint(w, e);
	if (r == 0) {
		if (w->d.src.md) {
			EVP_DigestFinal_ex(w->d.src.md, dg, NULL);
			hex32(dg, w->res.source_sha256);
			memcpy(w->res.image_digest, w->res.source_sha256, sizeof(w->res.image_digest));
		}
		w->res.source_size = w->d.src.consumed;
		r = finish(w, e);
	}
	decoder_close(&w->d);
	if (res)
		*res = w->res;
	jr_close(&w->j);
	pthread_mutex_destroy(&w->j.mu);
	if (w->t.fd >= 0)
		close(w->t.fd);
	if (w->t.zeros)
		munmap(w->t.zeros, IMAGE_CHUNK);
	rd_close(&w->rd_w);
	rd_close(&w->rd_v);
	free(jpath);
	free(sid);
	free(w);
	return r;
}

/* ---- image_inspect -------------------------------------------------------------- */

int image_inspect(const char *source, const char *ca_file, struct image_info *ret, struct app_err *e)
{
	struct decoder d = { 0 };
	struct chunk c = { 0 };
	int r;

	memset(ret, 0, sizeof(*ret));
	d.src.name = source;
	d.src.ca_file = ca_file;
	r = decoder_open(&d, e);
	if (r == 0) {
		snprintf(ret->format, sizeof(ret->format), "%s", d.format);
		c.data = xaligned(IMAGE_CHUNK);
		r = decode_chunk(&d, &c, 0);
		if (r < 0)
			r = app_err_set(e, r, "%s", d.err.msg);
		else if (r == 0)
			r = app_err_set(e, -EINVAL, "image '%s' is empty", source);
		else
			r = 0;
	}
	ret->source_size = d.src.url ? d.src.total : d.src.total;
	if (r == 0) {
		ret->image_size = gpt_image_size(c.data, c.len);
		ret->gpt = ret->image_size != 0;
		if (ret->gpt)
			r = partition_list_head(c.data, c.len, ret->image_size, ret->parts, 16, &ret->n_parts,
						e);
	}
	free(c.data);
	d.src.stop = true;
	decoder_close(&d);
	return r;
}

/* ---- naming and pins ------------------------------------------------------------ */

char *image_pin_key(const struct model *m, const char *schematic_id)
{
	const struct talos_image *im = &m->talos.image;
	return xasprintf("%s/%s/%s-%s.%s", schematic_id, m->talos.version,
			 im->platform ? im->platform : "metal", im->arch ? im->arch : "amd64",
			 im->format ? im->format : "raw.zst");
}

char *image_url(const struct model *m, const char *schematic_id)
{
	const struct talos_image *im = &m->talos.image;
	const char *base = im->mirror && *im->mirror ? im->mirror : im->factory;
	char *key = image_pin_key(m, schematic_id), *url;
	size_t bl = strlen(base);

	while (bl && base[bl - 1] == '/')
		bl--;
	url = xasprintf("%.*s/image/%s", (int)bl, base, key);
	free(key);
	return url;
}

char *image_cache_name(const struct model *m, const char *schematic_id)
{
	char *k = image_pin_key(m, schematic_id);
	for (char *p = k; *p; p++)
		if (*p == '/')
			*p = '-';
	return k;
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* The pins file is line-oriented YAML we also append to:
 *   pins:
 *     "KEY": HEX
 * Comments and blank lines are allowed. Anything else is an error with its line. */
int image_pin_lookup(const char *pins_path, const char *key, char ret[65], struct app_err *e)
{
	struct buf b = { 0 };
	char *line, *save = NULL;
	int lineno = 0, found = 0, r;
	bool in_pins = false;

	if (access(pins_path, F_OK) != 0)
		return 0;
	r = read_file(pins_path, 16u << 20, &b, e);
	if (r < 0)
		return r;
	for (line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char k[512], v[128];
		lineno++;
		if (line[strspn(line, " \t")] == '#' || line[strspn(line, " \t\r")] == '\0')
			continue;
		if (strncmp(line, "pins:", 5) == 0 && line[5 + strspn(line + 5, " \t\r")] == '\0') {
			in_pins = true;
			continue;
		}
		if (in_pins &&
		    (sscanf(line, " \"%511[^\"]\": %127s", k, v) == 2 ||
		     sscanf(line, " %511[^:\" ]: %127s", k, v) == 2) &&
		    (line[0] == ' ' || line[0] == '\t')) {
			if (!is_hex64(v)) {
				r = app_err_set(e, -EINVAL,
						"%s: pin '%s' is not a lower-case sha256 hex digest",
						pins_path, k);
				break;
			}
			if (strcmp(k, key) == 0) {
				memcpy(ret, v, 65);
				found = 1;
			}
			continue;
		}
		r = app_err_set(e, -EINVAL, "%s: unexpected line (expected 'pins:' then '  \"KEY\": SHA256')",
				pins_path);
		break;
	}
	buf_free(&b);
	return r < 0 ? r : found;
}

int image_pin_record(const char *pins_path, const char *key, const char *hex, struct app_err *e)
{
	struct buf b = { 0 };
	char have[65];
	int r = image_pin_lookup(pins_path, key, have, e);

	if (r < 0)
		return r;
	if (r == 1) {
		if (strcmp(have, hex) == 0)
			return 0;
		return app_err_set(e, -EEXIST, "%s: '%s' is already pinned to %s; refusing to record %s",
				   pins_path, key, have, hex);
	}
	if (access(pins_path, F_OK) == 0 && (r = read_file(pins_path, 16u << 20, &b, e)) < 0)
		return r;
	if (b.len == 0)
		buf_puts(&b, "# sha256 of Image Factory files, by "
			     "\"<schematic>/<version>/<platform>-<arch>.<format>\"\npins:\n");
	else if (b.data[b.len - 1] != '\n')
		buf_puts(&b, "\n");
	buf_printf(&b, "  \"%s\": %s\n", key, hex);
	r = write_file_atomic(pins_path, b.data, b.len, 0644, e);
	buf_free(&b);
	return r;
}

int image_file_sha256(const char *path, char ret[65], struct app_err *e)
{
	EVP_MD_CTX *md;
	unsigned char d[32];
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return app_err_set(e, -errno, "cannot open '%s': %s", path, strerror(errno));
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	buf = xmalloc(SRC_BLOCK);
	while ((n = read(fd, buf, SRC_BLOCK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = app_err_set(e, -errno, "cannot read '%s': %s", path, strerror(errno));
			break;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
	}
	EVP_DigestFinal_ex(md, d, NULL);
	hex32(d, ret);
	EVP_MD_CTX_free(md);
	free(buf);
	close(fd);
	return r;
}

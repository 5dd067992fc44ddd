/* Reading the image back; see verify.h. */
#include "image/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

static int rd_direct(struct readback *r, bool on)
{
	int fl = fcntl(r->fd, F_GETFL);
	if (fl < 0 || fcntl(r->fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) < 0)
		return -1;
	r->direct = on;
	return 0;
}

int readback_open(struct readback *r, const struct image_target *t, struct app_err *e)
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
	r->buf = chunk_buf_alloc(IMAGE_CHUNK);
	return 0;
}

void readback_close(struct readback *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->buf);
	r->buf = NULL;
}

static int rd_read(struct readback *r, size_t len, uint64_t off, struct app_err *e)
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

int readback_equal(struct readback *r, const struct chunk *c, bool *equal, struct app_err *e)
{
	int rc = rd_read(r, c->len, c->index * (uint64_t)IMAGE_CHUNK, e);
	if (rc < 0)
		return rc;
	*equal = memcmp(r->buf, c->data, c->len) == 0;
	return 0;
}

int verify_differs(struct image_journal *j, const char *target, const char *source, const struct chunk *c,
		   struct app_err *e)
{
	uint64_t off = c->index * (uint64_t)IMAGE_CHUNK;
	image_journal_add(j, c->index, false);
	image_journal_sync(j, NULL);
	return app_err_set(e, -EIO, "read-back of disk '%s' differs from image '%s' in bytes %llu-%llu",
			   target, source, (unsigned long long)off, (unsigned long long)(off + c->len - 1));
}

/* One item of the verifier's queue: a chunk in memory, or a range of all-zero chunks. */
struct vwork {
	struct chunk *c;
	uint64_t first, count;
	size_t last_len;
};

#define ZERO_ITEM 4 /* all-zero chunks per queue item: long runs are shared by the threads */

static void fail(struct verifier *v, int r, const struct app_err *err)
{
	pthread_mutex_lock(&v->mu);
	if (v->rc == 0) {
		v->err = *err;
		v->rc = r;
	}
	pthread_mutex_unlock(&v->mu);
}

/* Read back the all-zero chunks of w; journal each one. */
static int verify_zeros(struct vthread *t, const struct vwork *w, struct app_err *e)
{
	struct verifier *v = t->v;

	for (uint64_t i = 0; i < w->count; i++) {
		struct chunk z = { .index = w->first + i };
		int r;

		z.len = i + 1 == w->count ? w->last_len : IMAGE_CHUNK;
		r = rd_read(&t->rd, z.len, z.index * (uint64_t)IMAGE_CHUNK, e);
		if (r < 0)
			return r;
		if (!mem_all_zero(t->rd.buf, z.len))
			return verify_differs(v->j, t->rd.path, v->source, &z, e);
		image_journal_add(v->j, z.index, true);
		v->verified += z.len;
	}
	return 0;
}

static int verify_chunk(struct vthread *t, const struct chunk *c, struct app_err *e)
{
	struct verifier *v = t->v;
	bool eq = false;
	int r = readback_equal(&t->rd, c, &eq, e);

	if (r == 0 && !eq)
		r = verify_differs(v->j, t->rd.path, v->source, c, e);
	if (r == 0) {
		image_journal_add(v->j, c->index, true);
		v->verified += c->len;
	}
	return r;
}

static void *verify_thread(void *arg)
{
	struct vthread *t = arg;
	struct verifier *v = t->v;
	struct vwork *w;

	while ((w = bqueue_pop(&v->q)) != NULL) {
		struct app_err err = { 0 };
		int r = 0;

		if (v->rc == 0)
			r = w->c ? verify_chunk(t, w->c, &err) : verify_zeros(t, w, &err);
		if (r < 0)
			fail(v, r, &err);
		if (w->c)
			bqueue_push(v->done_q, w->c);
		free(w);
	}
	return NULL;
}

int verifier_start(struct verifier *v, const struct image_target *t, struct image_journal *j,
		   struct bqueue *done_q, unsigned cap, const char *source, struct app_err *e)
{
	v->j = j;
	v->done_q = done_q;
	v->source = source;
	pthread_mutex_init(&v->mu, NULL);
	bqueue_init(&v->q, cap);
	for (v->n = 0; v->n < VERIFIER_THREADS; v->n++) {
		struct vthread *th = &v->th[v->n];
		int r = readback_open(&th->rd, t, e);
		if (r < 0) {
			readback_close(&th->rd);
			return r;
		}
		th->v = v;
		if (pthread_create(&th->thread, NULL, verify_thread, th) != 0) {
			readback_close(&th->rd);
			return app_err_set(e, -EAGAIN, "cannot start the read-back threads");
		}
	}
	return 0;
}

static int push(struct verifier *v, struct vwork *w)
{
	if (bqueue_push(&v->q, w) < 0) {
		free(w);
		return -1;
	}
	return 0;
}

int verifier_push(struct verifier *v, struct chunk *c)
{
	struct vwork *w = xcalloc(1, sizeof(*w));
	w->c = c;
	return push(v, w);
}

int verifier_push_zeros(struct verifier *v, uint64_t first, uint64_t count, size_t last_len)
{
	while (count) {
		struct vwork *w = xcalloc(1, sizeof(*w));
		w->first = first;
		w->count = count < ZERO_ITEM ? count : ZERO_ITEM;
		w->last_len = w->count == count ? last_len : IMAGE_CHUNK;
		if (push(v, w) < 0)
			return -1;
		first += w->count;
		count -= w->count;
	}
	return 0;
}

int verifier_stop(struct verifier *v, struct app_err *e)
{
	if (!v->done_q)
		return 0;
	bqueue_close(&v->q);
	for (unsigned i = 0; i < v->n; i++)
		pthread_join(v->th[i].thread, NULL);
	bqueue_destroy(&v->q);
	pthread_mutex_destroy(&v->mu);
	v->done_q = NULL;
	if (v->rc < 0) {
		*e = v->err;
		return v->rc;
	}
	return 0;
}

void verifier_close(struct verifier *v)
{
	for (unsigned i = 0; i < v->n; i++)
		readback_close(&v->th[i].rd);
	v->n = 0;
}

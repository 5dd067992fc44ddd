/* The image writer's source: a file or a URL read by its own thread; see source.h. */
#include "image/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "image/pin.h"

static int fetch_sink(void *ctx, const void *data, size_t len)
{
	struct image_source *s = ctx;
	const char *p = data;

	while (len) {
		size_t n;
		if (!s->filling) {
			s->filling = bqueue_pop(&s->free_q);
			if (!s->filling)
				return -1;
			s->filling->len = 0;
		}
		n = SOURCE_BLOCK - s->filling->len;
		if (n > len)
			n = len;
		memcpy(s->filling->data + s->filling->len, p, n);
		if (s->md)
			EVP_DigestUpdate(s->md, p, n);
		s->filling->len += n;
		p += n;
		len -= n;
		if (s->filling->len == SOURCE_BLOCK) {
			if (bqueue_push(&s->full_q, s->filling) < 0)
				return -1;
			s->filling = NULL;
		}
	}
	return 0;
}

static void fetch_total(void *ctx, uint64_t done, uint64_t total)
{
	struct image_source *s = ctx;
	(void)done;
	if (total)
		s->total = total;
}

static void fetch_retried(void *ctx, int attempt, uint64_t at, const char *why)
{
	struct image_source *s = ctx;
	if (s->on_retry)
		s->on_retry(s->retry_ctx, attempt, at, why);
}

static void *fetch_thread(void *arg)
{
	struct image_source *s = arg;
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
		bqueue_push(&s->full_q, s->filling);
		s->filling = NULL;
	}
	bqueue_close(&s->full_q);
	return NULL;
}

/* Files get a reader thread too: the source hash is computed there, off the
 * decompressor's core. */
static void *file_thread(void *arg)
{
	struct image_source *s = arg;

	for (;;) {
		struct src_block *b = bqueue_pop(&s->free_q);
		size_t got = 0;
		if (!b)
			break;
		while (got < SOURCE_BLOCK) {
			ssize_t n = read(s->fd, b->data + got, SOURCE_BLOCK - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				s->fetch_rc = app_err_set(&s->fetch_err, -errno, "cannot read '%s': %s",
							  s->name, strerror(errno));
				bqueue_close(&s->full_q);
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
		if (bqueue_push(&s->full_q, b) < 0 || got < SOURCE_BLOCK)
			break;
	}
	bqueue_close(&s->full_q);
	return NULL;
}

int source_open(struct image_source *s, struct app_err *e)
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
	s->blocks = xcalloc(SOURCE_N_BLOCKS, sizeof(*s->blocks));
	bqueue_init(&s->free_q, SOURCE_N_BLOCKS);
	bqueue_init(&s->full_q, SOURCE_N_BLOCKS);
	s->queues = true;
	for (int i = 0; i < SOURCE_N_BLOCKS; i++)
		bqueue_push(&s->free_q, &s->blocks[i]);
	if (pthread_create(&s->thread, NULL, s->url ? fetch_thread : file_thread, s) != 0)
		return app_err_set(e, -EAGAIN, "cannot start the reader thread for '%s'", s->name);
	s->thread_started = true;
	return 0;
}

struct src_block *source_next(struct image_source *s)
{
	if (s->cur)
		bqueue_push(&s->free_q, s->cur);
	s->cur = bqueue_pop(&s->full_q);
	if (s->cur)
		s->consumed += s->cur->len;
	return s->cur;
}

void source_stop(struct image_source *s)
{
	s->stop = true;
	if (s->queues) {
		bqueue_close(&s->free_q);
		bqueue_close(&s->full_q);
	}
}

void source_sha256(struct image_source *s, char ret[65])
{
	unsigned char dg[32];

	EVP_DigestFinal_ex(s->md, dg, NULL);
	image_hex32(dg, ret);
}

void source_close(struct image_source *s)
{
	if (s->queues) {
		bqueue_close(&s->free_q);
		bqueue_close(&s->full_q);
		if (s->thread_started)
			pthread_join(s->thread, NULL);
		bqueue_destroy(&s->free_q);
		bqueue_destroy(&s->full_q);
	}
	free(s->blocks);
	if (s->fd >= 0)
		close(s->fd);
	EVP_MD_CTX_free(s->md);
}

/* The image writer's decompressor; see decoder.h. */
#include "image/decoder.h"

#include <archive.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char *fmt_names[] = { "none", "gzip", "xz", "zstd" };

static la_ssize_t source_read(struct archive *a, void *ud, const void **buf)
{
	struct image_source *s = ud;
	struct src_block *b;

	if (s->stop)
		return 0;
	b = source_next(s);
	if (!b) {
		if (s->fetch_rc < 0) {
			archive_set_error(a, EIO, "%s", s->fetch_err.msg);
			return -1;
		}
		return 0;
	}
	*buf = b->data;
	return (la_ssize_t)b->len;
}

int decoder_open(struct decoder *d, struct app_err *e)
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

int decoder_chunk(struct decoder *d, struct chunk *c, uint64_t index)
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
	chunk_zmap(c);
	d->out_bytes += c->len;
	return 1;
}

static void *decoder_thread(void *arg)
{
	struct decoder *d = arg;
	for (uint64_t i = 0;; i++) {
		struct chunk *c = bqueue_pop(&d->free_q);
		int r;
		if (!c)
			break;
		r = decoder_chunk(d, c, i);
		if (r <= 0) {
			d->rc = r;
			break;
		}
		if (bqueue_push(&d->full_q, c) < 0)
			break;
	}
	bqueue_close(&d->full_q);
	return NULL;
}

int decoder_start(struct decoder *d, struct app_err *e)
{
	bqueue_init(&d->free_q, DECODER_N_CHUNKS);
	bqueue_init(&d->full_q, DECODER_N_CHUNKS);
	for (int i = 0; i < DECODER_N_CHUNKS; i++) {
		d->chunks[i].data = chunk_buf_alloc(IMAGE_CHUNK);
		bqueue_push(&d->free_q, &d->chunks[i]);
	}
	if (pthread_create(&d->thread, NULL, decoder_thread, d) != 0)
		return app_err_set(e, -EAGAIN, "cannot start the decompression thread");
	d->thread_started = true;
	return 0;
}

void decoder_close(struct decoder *d)
{
	if (d->thread_started) {
		bqueue_close(&d->free_q);
		bqueue_close(&d->full_q);
		source_stop(&d->src);
		pthread_join(d->thread, NULL);
		bqueue_destroy(&d->free_q);
		bqueue_destroy(&d->full_q);
	}
	if (d->a)
		archive_read_free(d->a);
	for (int i = 0; i < DECODER_N_CHUNKS; i++)
		free(d->chunks[i].data);
	source_close(&d->src);
}

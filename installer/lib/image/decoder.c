/* The image writer's decompressor; see decoder.h. */
#include "image/decoder.h"

#include <archive.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static const char *fmt_names[] = { "none", "gzip", "xz", "zstd" };

/* zstd's frame magic (RFC 8878 3.1.1, little-endian 0xFD2FB528) */
static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

static la_ssize_t source_read(struct archive *a, void *ud, const void **buf)
{
	struct decoder *d = ud;
	struct image_source *s = &d->src;
	struct src_block *b;

	if (s->stop)
		return 0;
	b = d->peek ? d->peek : source_next(s);
	d->peek = NULL;
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
	/* zstd (Talos's format) is decoded by libzstd straight into the chunks:
	 * libarchive would decode into its own buffer and copy every byte again */
	d->peek = source_next(&d->src);
	if (d->peek && d->peek->len >= sizeof(zstd_magic) &&
	    memcmp(d->peek->data, zstd_magic, sizeof(zstd_magic)) == 0) {
		d->zs = ZSTD_createDStream();
		if (!d->zs || ZSTD_isError(ZSTD_initDStream(d->zs)))
			return app_err_set(e, -ENOMEM, "cannot start decompressing '%s'", d->src.name);
		d->zin = d->peek;
		d->zpos = 0;
		d->peek = NULL;
		snprintf(d->format, sizeof(d->format), "%s", fmt_names[3]);
		return 0;
	}
	if (!d->peek && d->src.fetch_rc < 0)
		return app_err_set(e, d->src.fetch_rc, "cannot read image '%s': %s", d->src.name,
				   d->src.fetch_err.msg);
	d->a = archive_read_new();
	archive_read_support_filter_zstd(d->a);
	archive_read_support_filter_xz(d->a);
	archive_read_support_filter_gzip(d->a);
	archive_read_support_format_raw(d->a);
	if (archive_read_open2(d->a, d, NULL, source_read, NULL, NULL) != ARCHIVE_OK ||
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

static int corrupt(struct decoder *d, const struct chunk *c, const char *why)
{
	return app_err_set(&d->err, -EIO, "image '%s' is corrupt or truncated at %llu bytes (%s): %s",
			   d->src.name, (unsigned long long)(d->out_bytes + c->len), d->format, why);
}

/* Fill c from the zstd stream; frames may follow one another (as zstd -d takes them). */
static int zstd_fill(struct decoder *d, struct chunk *c)
{
	ZSTD_outBuffer out = { c->data, IMAGE_CHUNK, 0 };

	while (out.pos < out.size) {
		ZSTD_inBuffer in;
		size_t r;

		if (!d->zin || d->zpos == d->zin->len) {
			if (d->zdone) /* the source ended last time */
				break;
			d->zin = d->src.stop ? NULL : source_next(&d->src);
			d->zpos = 0;
			if (!d->zin) {
				d->zdone = true;
				c->len = out.pos;
				if (d->src.fetch_rc < 0)
					return corrupt(d, c, d->src.fetch_err.msg);
				if (d->zpending)
					return corrupt(d, c, "the last frame is incomplete");
				break;
			}
			continue;
		}
		in = (ZSTD_inBuffer){ d->zin->data, d->zin->len, d->zpos };
		r = ZSTD_decompressStream(d->zs, &out, &in);
		d->zpos = in.pos;
		if (ZSTD_isError(r)) {
			c->len = out.pos;
			return corrupt(d, c, ZSTD_getErrorName(r));
		}
		d->zpending = r != 0;
	}
	c->len = out.pos;
	return 0;
}

int decoder_chunk(struct decoder *d, struct chunk *c, uint64_t index)
{
	c->len = 0;
	c->index = index;
	if (d->zs) {
		int r = zstd_fill(d, c);
		if (r < 0)
			return r;
	}
	while (!d->zs && c->len < IMAGE_CHUNK) {
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
	d->out_bytes += c->len; /* the zero map is the consumer's (off this thread) */
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
	ZSTD_freeDStream(d->zs);
	for (int i = 0; i < DECODER_N_CHUNKS; i++)
		free(d->chunks[i].data);
	source_close(&d->src);
}

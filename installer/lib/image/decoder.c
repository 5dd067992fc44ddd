/* The image writer's decompressor; see decoder.h. */
#include "image/decoder.h"

#include <archive.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* the buffer-less API (ZSTD_decompressContinue & co.): zstd.h's "advanced"
 * section, exported by libzstd.so (Debian 12: 1.5.4) and unchanged since v1.0 */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "base/util.h"

/* Decoded in place: the chunks are the slots of one ring, filled in order, and
 * the ring is the decoder's window (no copy out of a window of its own: that
 * copy was a third of the decoder thread's time, the pipeline's busiest). A
 * block may run past its chunk into the next slot (taken first), past the last
 * slot into RING_SLACK (copied to slot 0, where the next chunk starts; zstd
 * sees the jump and takes the ring as its previous segment). Frames whose
 * window the ring cannot hold (the slots still being decoded into excluded)
 * are streamed instead, from that frame on. */
#define RING_SLACK ((size_t)ZSTD_BLOCKSIZE_MAX)
#define RING_WINDOW_MAX ((size_t)(DECODER_N_CHUNKS - 2) * IMAGE_CHUNK - RING_SLACK)

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

static int corrupt_at(struct decoder *d, struct app_err *e, uint64_t off, const char *why)
{
	return app_err_set(e, -EIO, "image '%s' is corrupt or truncated at %llu bytes (%s): %s", d->src.name,
			   (unsigned long long)off, d->format, why);
}

static int corrupt(struct decoder *d, const struct chunk *c, const char *why)
{
	return corrupt_at(d, &d->err, d->out_bytes + c->len, why);
}

/* Fill c (from c->len on) from the zstd stream; frames may follow one another
 * (as zstd -d takes them). */
static int zstd_fill(struct decoder *d, struct chunk *c)
{
	ZSTD_outBuffer out = { c->data, IMAGE_CHUNK, c->len };

	while (out.pos < out.size) {
		bool pend = d->pend_pos < d->pend_len; /* looked at by the in-place decoder: first */
		ZSTD_inBuffer in;
		size_t r;

		if (!pend && (!d->zin || d->zpos == d->zin->len)) {
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
		in = pend ? (ZSTD_inBuffer){ d->pend, d->pend_len, d->pend_pos }
			  : (ZSTD_inBuffer){ d->zin->data, d->zin->len, d->zpos };
		r = ZSTD_decompressStream(d->zs, &out, &in);
		*(pend ? &d->pend_pos : &d->zpos) = in.pos;
		if (ZSTD_isError(r)) {
			c->len = out.pos;
			return corrupt(d, c, ZSTD_getErrorName(r));
		}
		d->zpending = r != 0;
	}
	c->len = out.pos;
	return 0;
}

/* ---- zstd in place: the input in exact byte counts ---- */

/* A source block with bytes left; false at the end of the source. */
static bool in_next(struct decoder *d)
{
	while (!d->zin || d->zpos == d->zin->len) {
		if (d->zdone)
			return false;
		d->zin = d->src.stop ? NULL : source_next(&d->src);
		d->zpos = 0;
		if (!d->zin) {
			d->zdone = true;
			return false;
		}
	}
	return true;
}

/* Move up to n bytes of input to dst (NULL: drop them), looked-at bytes first;
 * the count moved. */
static size_t in_copy(struct decoder *d, unsigned char *dst, size_t n)
{
	size_t got = d->pend_len - d->pend_pos;

	if (got > n)
		got = n;
	if (dst)
		memcpy(dst, d->pend + d->pend_pos, got);
	d->pend_pos += got;
	while (got < n && in_next(d)) {
		size_t k = d->zin->len - d->zpos;
		if (k > n - got)
			k = n - got;
		if (dst)
			memcpy(dst + got, d->zin->data + d->zpos, k);
		d->zpos += k;
		got += k;
	}
	return got;
}

/* The next n (<= ZSTD_BLOCKSIZE_MAX) input bytes, contiguous: where they are
 * when one source block holds them all, else gathered in d->stage. NULL when
 * the input ends first. */
static const void *in_take(struct decoder *d, size_t n)
{
	if (d->pend_pos == d->pend_len && in_next(d) && d->zin->len - d->zpos >= n) {
		const void *p = d->zin->data + d->zpos;
		d->zpos += n;
		return p;
	}
	if (n > ZSTD_BLOCKSIZE_MAX)
		return NULL;
	return in_copy(d, d->stage, n) == n ? d->stage : NULL;
}

/* Look at the next n (<= sizeof(d->pend)) input bytes without consuming them;
 * how many there are (fewer at the end). */
static size_t in_peek(struct decoder *d, size_t n, const unsigned char **p)
{
	size_t have = d->pend_len - d->pend_pos;

	memmove(d->pend, d->pend + d->pend_pos, have);
	d->pend_pos = 0;
	d->pend_len = have;
	while (d->pend_len < n && in_next(d)) {
		size_t k = d->zin->len - d->zpos;
		if (k > n - d->pend_len)
			k = n - d->pend_len;
		memcpy(d->pend + d->pend_len, d->zin->data + d->zpos, k);
		d->zpos += k;
		d->pend_len += k;
	}
	*p = d->pend;
	return d->pend_len;
}

/* Slot k of the ring once downstream gave it back (chunks come back in any
 * order, the ring is filled in order); NULL when stopping. */
static struct chunk *take_slot(struct decoder *d, unsigned k)
{
	while (!d->slot_free[k]) {
		struct chunk *c = bqueue_pop(&d->free_q);
		if (!c)
			return NULL;
		d->slot_free[c - d->chunks] = true;
	}
	d->slot_free[k] = false;
	return &d->chunks[k];
}

/* ---- frame checksums, checked by the consumer ---- */

static void frame_add(struct decoder *d, uint64_t start)
{
	pthread_mutex_lock(&d->frames_mu);
	if (d->nframes == d->frames_cap) {
		d->frames_cap = d->frames_cap ? 2 * d->frames_cap : 16;
		d->frames = xrealloc(d->frames, d->frames_cap * sizeof(*d->frames));
	}
	d->frames[d->nframes++] = (struct zframe){ .start = start };
	pthread_mutex_unlock(&d->frames_mu);
}

/* The frame being decoded ends at end with checksum p[0..3] (RFC 8878 3.1.1:
 * the low 32 bits of XXH64 of its content, little-endian). */
static void frame_end(struct decoder *d, uint64_t end, const unsigned char *p)
{
	pthread_mutex_lock(&d->frames_mu);
	if (d->nframes > 0) {
		struct zframe *f = &d->frames[d->nframes - 1];
		f->end = end;
		f->sum = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		f->ended = true;
	}
	pthread_mutex_unlock(&d->frames_mu);
}

/* Bytes [a, b) of the image (data: b - a bytes) against the frames listed. */
static int check_range(struct decoder *d, const unsigned char *data, uint64_t a, uint64_t b,
		       struct app_err *e)
{
	for (;;) {
		struct zframe f;
		bool have;
		uint64_t from, to;

		pthread_mutex_lock(&d->frames_mu);
		have = d->frame_next < d->nframes;
		if (have)
			f = d->frames[d->frame_next];
		pthread_mutex_unlock(&d->frames_mu);
		if (!have || f.start > b)
			break;
		from = f.start > a ? f.start : a;
		to = f.ended && f.end < b ? f.end : b;
		if (to > from)
			xxh64_update(&d->fsum, data + (from - a), (size_t)(to - from));
		if (!f.ended || f.end > b)
			break;
		if ((uint32_t)xxh64_digest(&d->fsum) != f.sum) {
			char why[96];
			snprintf(why, sizeof(why),
				 "the frame's content checksum is %08x, its bytes hash to %08x", f.sum,
				 (uint32_t)xxh64_digest(&d->fsum));
			return corrupt_at(d, e, f.end, why);
		}
		xxh64_init(&d->fsum, 0);
		if (++d->frame_next >= 256) { /* forget the frames checked */
			pthread_mutex_lock(&d->frames_mu);
			d->nframes -= d->frame_next;
			memmove(d->frames, d->frames + d->frame_next, d->nframes * sizeof(*d->frames));
			d->frame_next = 0;
			pthread_mutex_unlock(&d->frames_mu);
		}
	}
	d->sum_pos = b;
	return 0;
}

int decoder_check(struct decoder *d, const struct chunk *c, struct app_err *e)
{
	uint64_t a = c->index * (uint64_t)IMAGE_CHUNK;

	return d->sum_off ? check_range(d, c->data, a, a + c->len, e) : 0;
}

int decoder_check_end(struct decoder *d, struct app_err *e)
{
	int r;

	if (!d->sum_off)
		return 0;
	r = check_range(d, NULL, d->sum_pos, d->sum_pos, e);
	if (r == 0) {
		bool left;
		pthread_mutex_lock(&d->frames_mu);
		left = d->frame_next < d->nframes;
		pthread_mutex_unlock(&d->frames_mu);
		if (left) /* the decoder says so first, in practice */
			r = corrupt_at(d, e, d->sum_pos, "the last frame is incomplete");
	}
	return r;
}

/* At a frame boundary: 1 a frame was begun, 0 the input ended, 2 the frame's
 * window is too large for the ring (stream it), negative on error. */
static int frame_start(struct decoder *d, struct chunk *c)
{
	for (;;) {
		ZSTD_frameHeader fh;
		const unsigned char *p;
		size_t n = in_peek(d, ZSTD_FRAMEHEADERSIZE_MAX, &p), r;

		if (n == 0)
			return d->src.fetch_rc < 0 ? corrupt(d, c, d->src.fetch_err.msg) : 0;
		r = ZSTD_getFrameHeader(&fh, p, n);
		if (ZSTD_isError(r))
			return corrupt(d, c, ZSTD_getErrorName(r));
		if (r > 0)
			return corrupt(d, c, "the last frame is incomplete");
		if (fh.frameType == ZSTD_skippableFrame) {
			uint64_t skip = fh.headerSize + fh.frameContentSize;
			if (in_copy(d, NULL, (size_t)skip) != skip)
				return corrupt(d, c, "the last frame is incomplete");
			continue;
		}
		if (fh.windowSize > RING_WINDOW_MAX)
			return 2;
		r = ZSTD_decompressBegin(d->zd);
		if (ZSTD_isError(r))
			return corrupt(d, c, ZSTD_getErrorName(r));
		if (d->sum_off && fh.checksumFlag)
			frame_add(d, c->index * (uint64_t)IMAGE_CHUNK + c->len);
		d->block_max = fh.blockSizeMax;
		d->in_frame = true;
		return 1;
	}
}

/* Fill c (a slot, from c->len on) by decoding blocks where they belong: 0, or
 * 2 when the rest is to be streamed, negative on error. */
static int direct_fill(struct decoder *d, struct chunk *c)
{
	size_t slot = (size_t)(c - d->chunks);

	while (c->len < IMAGE_CHUNK) {
		unsigned char *dst = c->data + c->len, *end;
		const void *src;
		size_t need, n;

		if (!d->in_frame) {
			int r = frame_start(d, c);
			if (r <= 0 || r == 2)
				return r;
			continue;
		}
		need = ZSTD_nextSrcSizeToDecompress(d->zd);
		if (need == 0) {
			d->in_frame = false;
			continue;
		}
		if (IMAGE_CHUNK - c->len < d->block_max && !d->held_next) {
			/* the block may run into the next chunk: its slot first */
			if (!take_slot(d, (unsigned)((slot + 1) % DECODER_N_CHUNKS)))
				return app_err_set(&d->err, -ECANCELED, "decoding '%s' was stopped",
						   d->src.name);
			d->held_next = true;
		}
		/* only memory this thread owns: zstd may use all of dst's capacity
		 * (wild copies past a block's end, literals) */
		end = c->data + IMAGE_CHUNK;
		if (d->held_next)
			end += slot + 1 == DECODER_N_CHUNKS ? RING_SLACK : IMAGE_CHUNK;
		src = in_take(d, need);
		if (!src)
			return corrupt(d, c,
				       d->src.fetch_rc < 0 ? d->src.fetch_err.msg
							   : "the last frame is incomplete");
		if (d->sum_off && ZSTD_nextInputType(d->zd) == ZSTDnit_checksum)
			frame_end(d, c->index * (uint64_t)IMAGE_CHUNK + c->len, src);
		n = ZSTD_decompressContinue(d->zd, dst, (size_t)(end - dst), src, need);
		if (ZSTD_isError(n))
			return corrupt(d, c, ZSTD_getErrorName(n));
		c->len += n;
	}
	d->carry = c->len - IMAGE_CHUNK;
	c->len = IMAGE_CHUNK;
	return 0;
}

/* The decoder thread's zstd chunk: slot c, chunk index; as decoder_chunk(). */
static int ring_chunk(struct decoder *d, struct chunk *c, uint64_t index)
{
	int r = 0;

	c->index = index;
	c->len = d->carry;
	if (d->carry && c == &d->chunks[0]) /* decoded past the last slot */
		memcpy(c->data, d->ring + DECODER_N_CHUNKS * (size_t)IMAGE_CHUNK, d->carry);
	d->carry = 0;
	if (d->direct) {
		r = direct_fill(d, c);
		if (r < 0)
			return r;
		if (r == 2)
			d->direct = false; /* this frame on: streamed into the slots */
	}
	if (!d->direct && (r = zstd_fill(d, c)) < 0)
		return r;
	if (c->len == 0)
		return 0;
	d->out_bytes += c->len;
	return 1;
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
			return corrupt(d, c, why ? why : "decompression failed");
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
		unsigned k = (unsigned)(i % DECODER_N_CHUNKS);
		struct chunk *c;
		int r;

		if (!d->ring)
			c = bqueue_pop(&d->free_q);
		else if (d->held_next)
			c = &d->chunks[k];
		else
			c = take_slot(d, k);
		d->held_next = false;
		if (!c)
			break;
		r = d->ring ? ring_chunk(d, c, i) : decoder_chunk(d, c, i);
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
	if (d->zs) {
		d->zd = ZSTD_createDCtx();
		if (!d->zd)
			return app_err_set(e, -ENOMEM, "cannot start decompressing '%s'", d->src.name);
		/* checksums checked by the consumer (decoder_check); a libzstd without
		 * the parameter (before 1.4.7) checks them itself */
		pthread_mutex_init(&d->frames_mu, NULL); /* destroyed with zd */
		xxh64_init(&d->fsum, 0);
		d->sum_off = !ZSTD_isError(
		    ZSTD_DCtx_setParameter(d->zd, ZSTD_d_forceIgnoreChecksum, ZSTD_d_ignoreChecksum));
		d->ring = chunk_buf_alloc(DECODER_N_CHUNKS * (size_t)IMAGE_CHUNK + RING_SLACK);
		d->stage = xmalloc(ZSTD_BLOCKSIZE_MAX);
		d->direct = true;
	}
	for (int i = 0; i < DECODER_N_CHUNKS; i++) {
		d->chunks[i].data =
		    d->ring ? d->ring + i * (size_t)IMAGE_CHUNK : chunk_buf_alloc(IMAGE_CHUNK);
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
	if (d->zd)
		pthread_mutex_destroy(&d->frames_mu);
	ZSTD_freeDCtx(d->zd);
	free(d->frames);
	free(d->stage);
	if (d->ring)
		free(d->ring);
	else
		for (int i = 0; i < DECODER_N_CHUNKS; i++)
			free(d->chunks[i].data);
	source_close(&d->src);
}

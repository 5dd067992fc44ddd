/* The Talos image writer: source -> decompress -> write -> verify; see image.h.
 * This file joins the pieces: the writer loop, the checkpoints, chunk 0 last,
 * the finish (source hash, head, backup GPT), and image_inspect. */
#include "image/image.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/err.h"
#include "base/util.h"
#include "image/chunk.h"
#include "image/decoder.h"
#include "image/journal.h"
#include "image/partition.h"
#include "image/target.h"
#include "image/verify.h"
#include "image/writers.h"
#include "net/fetch.h"

char *image_default_journal(const char *state_dir, const char *target)
{
	struct stat st;
	const char *base = strrchr(target, '/');

	if (stat(target, &st) == 0 && S_ISBLK(st.st_mode))
		return xasprintf("%s/image-%s.journal", state_dir ? state_dir : "/var/lib/appliance",
				 base ? base + 1 : target);
	return xasprintf("%s.image-journal", target);
}

/* ---- image_write -------------------------------------------------------------- */

/* Durable points. Every chunk is read back before it is journaled, and a re-run
 * skips a journaled chunk only when it reads back equal, so no sync is needed for
 * a right disk: the syncs are for the two promises that need them. The head is
 * invalidated durably before the first write and written last after a sync (a
 * disk never looks bootable with a partial image), and a checkpoint (data, then
 * journal) every SYNC_BYTES of data (chunks of zeros not counted) or SYNC_NS
 * bounds what a power cut costs a re-run.
 * Then one last sync (libfdisk's, when it moves the backup GPT). */
#define SYNC_BYTES (512ull << 20)
#define SYNC_NS 5000000000ll
#define WRITERS 4	     /* data writes in flight */
#define ZERO_MIN (64u << 10) /* zero runs inside data shorter than this are written as data */
/* A run of whole zero chunks is zeroed in pieces of this size: its zeroing and
 * reading back then overlap the decoding of the rest instead of all coming after
 * it (an image ends with gigabytes of zeros: zeroed in one call at the end, then
 * read back, that was a third of a 4 GiB write). 3 GiB of zeros: 12 calls. */
#define ZERO_PIECE (256ull << 20)

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* The zero run being gathered across chunks: zeroed in one call when the data
 * after it (or the end) arrives. head: the chunk whose tail starts the run,
 * tail: the chunk being written when the run ends inside it (both read back
 * once the run is zeroed); zc_*: whole chunks of zeros inside it, their
 * buffers already back in the pool. */
struct zrun {
	bool on;
	uint64_t start, end;
	struct chunk *head, *tail;
	uint64_t zc_first, zc_count;
	size_t zc_last_len;
};

struct writer {
	const struct image_write_opts *o;
	image_progress_fn progress;
	void *ctx;
	struct image_progress p;
	struct image_target t;
	struct image_journal j;
	struct decoder d;
	struct readback rd_w; /* the writer's read-back fd: journal skips, head */
	struct verifier v;
	struct writers ws;
	struct zrun z;
	struct chunk *head; /* chunk 0, written last: a copy (head_c), its slot goes back */
	struct chunk head_c;
	bool head_invalidated;
	bool dirty; /* written since the last checkpoint */
	uint64_t since_sync;
	int64_t last_sync;
	/* a local source with a pin: hashed before the first byte is written */
	pthread_t pin_thread;
	bool pin_started, pin_joined;
	int pin_rc;
	struct app_err pin_err;
	char pin_have[65];
	char *source_id_start;
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

static int checkpoint(struct writer *w, struct app_err *e)
{
	int r;

	if (!w->dirty)
		return 0;
	r = target_sync(&w->t, e);
	if (r < 0)
		return r;
	w->dirty = false;
	w->since_sync = 0;
	w->last_sync = now_ns();
	return image_journal_sync(&w->j, e);
}

static void *pin_thread(void *arg)
{
	struct writer *w = arg;
	w->pin_rc = image_file_sha256(w->o->source, w->pin_have, &w->pin_err);
	return NULL;
}

/* The pin of a local source, checked before anything is written: a wrong pin
 * changes nothing on the disk. */
static int pin_check(struct writer *w, struct app_err *e)
{
	if (!w->pin_started)
		return 0;
	if (!w->pin_joined) {
		pthread_join(w->pin_thread, NULL);
		w->pin_joined = true;
		if (w->pin_rc == 0 && strcasecmp(w->pin_have, w->o->sha256) != 0)
			w->pin_rc =
			    app_err_set(&w->pin_err, -EBADMSG,
					"sha256 of '%s' is %s, expected %s; nothing was written to '%s'",
					w->o->source, w->pin_have, w->o->sha256, w->t.path);
	}
	if (w->pin_rc < 0) {
		*e = w->pin_err;
		return w->pin_rc;
	}
	return 0;
}

/* Before the first write: the pin, then chunk 0's sectors cleared durably so a
 * half-written disk never carries a partition table. */
static int invalidate_head(struct writer *w, struct app_err *e)
{
	size_t len = w->head ? w->head->len : 0;
	int r;

	if (w->head_invalidated)
		return 0;
	r = pin_check(w, e);
	if (r < 0)
		return r;
	w->head_invalidated = true;
	if (len > 64 * 1024)
		len = 64 * 1024; /* protective MBR + primary GPT and then some */
	r = target_grow(&w->t, len, e);
	if (r == 0)
		r = target_pwrite(&w->t, w->t.zeros, len, 0, e);
	if (r == 0)
		r = target_sync(&w->t, e);
	/* a hint like every entry: a re-run reads the head back before trusting it */
	image_journal_add(&w->j, 0, false);
	return r;
}

/* One part of chunk c is on the disk; the last one sends it to be read back. */
static void chunk_done(void *ctx, struct chunk *c)
{
	struct writer *w = ctx;
	if (atomic_fetch_sub(&c->pending, 1) == 1)
		verifier_push(&w->v, c); /* fails only when stopping */
}

/* A zero run is on the disk: what it covers goes to be read back. */
static int zeros_done(struct writer *w, const struct zrun *z)
{
	if (z->head)
		chunk_done(w, z->head);
	if (z->tail)
		chunk_done(w, z->tail);
	if (z->zc_count && verifier_push_zeros(&w->v, z->zc_first, z->zc_count, z->zc_last_len) < 0)
		return -1;
	return 0;
}

static void zero_job_done(void *ctx, void *tag, bool ok)
{
	if (ok)
		zeros_done(ctx, tag); /* fails only when stopping */
	free(tag);
}

/* Zero the run gathered so far; cur: the chunk being written (NULL at the end). */
static int flush_zeros(struct writer *w, struct chunk *cur, struct app_err *e)
{
	struct zrun *z = &w->z;
	uint64_t len = z->end - z->start;
	int r;

	if (!z->on)
		return 0;
	z->on = false;
	if (w->t.blockdev && z->start % w->t.align == 0 && len % w->t.align == 0) {
		/* zeroing a long run takes a while (BLKZEROOUT, discard): in a writer
		 * thread, while the next chunks are decoded and written */
		struct zrun *tag = xmalloc(sizeof(*tag));
		if (cur && z->end > cur->index * (uint64_t)IMAGE_CHUNK) {
			atomic_fetch_add(&cur->pending, 1); /* part of cur: it waits for the run */
			z->tail = cur;
		}
		*tag = *z;
		r = writers_submit_zero(&w->ws, z->start, len, tag);
		if (r < 0) {
			free(tag);
			r = writers_drain(&w->ws, e);
			return r < 0 ? r : app_err_set(e, -ECANCELED, "the writer threads stopped");
		}
		w->res.zeroed += len;
	} else {
		r = target_zero(&w->t, z->start, len, e);
		if (r < 0)
			return r;
		w->res.zeroed += len;
		if (zeros_done(w, z) < 0)
			return app_err_set(e, -ECANCELED, "read-back stopped");
	}
	z->head = z->tail = NULL;
	z->zc_count = 0;
	return 0;
}

/* Bytes [from, to) of the disk must read as zeros: join the run or start one. */
static int add_zeros(struct writer *w, struct chunk *cur, uint64_t from, uint64_t to, struct app_err *e)
{
	int r;

	if (w->z.on && w->z.end == from) {
		w->z.end = to;
		return 0;
	}
	r = flush_zeros(w, cur, e);
	if (r < 0)
		return r;
	w->z.on = true;
	w->z.start = from;
	w->z.end = to;
	return 0;
}

static int submit(struct writer *w, struct chunk *c, size_t from, size_t to, struct app_err *e)
{
	atomic_fetch_add(&c->pending, 1);
	if (writers_submit(&w->ws, c, from, to) < 0) {
		int r;
		atomic_fetch_sub(&c->pending, 1);
		r = writers_drain(&w->ws, e);
		return r < 0 ? r : app_err_set(e, -ECANCELED, "the writer threads stopped");
	}
	return 0;
}

/* Chunk c, which must be written: data runs to the writer threads, zero runs
 * gathered across chunks. The chunk goes to the verifier once all its parts are
 * on the disk. */
static int write_chunk(struct writer *w, struct chunk *c, struct app_err *e)
{
	uint64_t base = c->index * (uint64_t)IMAGE_CHUNK;
	size_t ds = 0, de = 0, from = 0, to = 0;
	bool z, data = false, any_data = false, tail_zero = false;
	int r = target_grow(&w->t, base + c->len, e);

	if (r < 0)
		return r;
	if (c->len % w->t.align) {
		/* the image's odd tail: alone, with everything before it on the disk */
		r = flush_zeros(w, NULL, e); /* drained next: c waits for nothing */
		if (r == 0)
			r = writers_drain(&w->ws, e);
		if (r == 0)
			r = target_write_chunk(&w->t, c, &w->res.written, &w->res.zeroed, e);
		if (r == 0 && verifier_push(&w->v, c) < 0)
			r = app_err_set(e, -ECANCELED, "read-back stopped");
		return r;
	}
	atomic_store(&c->pending, 1); /* this function's hold */
	while (chunk_next_run(c, &from, &to, &z)) {
		tail_zero = z;
		if (z && data && to < c->len && to - from < ZERO_MIN) {
			de = to; /* a short hole inside data: written as data */
			continue;
		}
		if (z) {
			if (data && (r = submit(w, c, ds, de, e)) < 0)
				return r;
			data = false;
			r = add_zeros(w, c, base + from, base + to, e);
		} else {
			r = flush_zeros(w, c, e);
			if (!data)
				ds = from;
			de = to;
			data = any_data = true;
		}
		if (r < 0)
			return r;
	}
	if (data && (r = submit(w, c, ds, de, e)) < 0)
		return r;
	if (!any_data) {
		/* all zeros: part of the run, no buffer held */
		if (w->z.zc_count == 0)
			w->z.zc_first = c->index;
		w->z.zc_count++;
		w->z.zc_last_len = c->len;
		bqueue_push(&w->d.free_q, c);
		if (w->z.end - w->z.start >= ZERO_PIECE)
			return flush_zeros(w, NULL, e); /* ends with c: nothing of the next chunk in it */
		return 0;
	}
	if (tail_zero) {
		/* the run that starts in c's tail is zeroed now (c read back after it),
		 * the rest of it from the next chunk on: a chunk waiting for the end of
		 * a run would hold its slot while the decoder needs it again */
		atomic_fetch_add(&c->pending, 1);
		w->z.head = c;
		chunk_done(w, c);
		return flush_zeros(w, NULL, e);
	}
	chunk_done(w, c);
	return 0;
}

static int handle_chunk(struct writer *w, struct chunk *c, struct app_err *e)
{
	uint64_t off = c->index * (uint64_t)IMAGE_CHUNK;
	size_t data;
	bool eq = false;
	int r;

	if (c->index == 0) {
		uint64_t isz = partition_image_size(c->data, c->len);
		w->p.out_total = isz;
		if (isz && isz > w->t.size)
			return app_err_set(
			    e, -ENOSPC,
			    "disk '%s' is too small: image '%s' needs %llu bytes, the disk has %llu",
			    w->t.path, w->o->source, (unsigned long long)isz, (unsigned long long)w->t.size);
		/* kept to be written last, as a copy: the decoder fills its slots in
		 * order and needs this one back */
		w->head_c.data = chunk_buf_alloc(IMAGE_CHUNK);
		memcpy(w->head_c.data, c->data, c->len);
		memcpy(w->head_c.zmap, c->zmap, sizeof(c->zmap));
		w->head_c.len = c->len;
		w->head_c.index = 0;
		w->head = &w->head_c;
		bqueue_push(&w->d.free_q, c);
		return 0;
	}
	if (off + c->len > w->t.size)
		return app_err_set(e, -ENOSPC,
				   "disk '%s' is too small: image '%s' is larger than its %llu bytes",
				   w->t.path, w->o->source, (unsigned long long)w->t.size);
	/* listed in the journal: skip it when it reads back equal */
	if (image_journal_has(&w->j, c->index)) {
		r = readback_equal(&w->rd_w, c, &eq, e);
		if (r < 0)
			return r;
		if (eq) {
			w->res.skipped += c->len;
			w->res.verified += c->len;
			bqueue_push(&w->d.free_q, c);
			return 0;
		}
	}
	/* for the checkpoint, before c may go back to the decoder: a chunk of zeros
	 * does not count (zeroing it again after a power cut costs next to nothing,
	 * and a sync stalls this thread 15-35 ms on a loop device: a 3 GiB tail of
	 * zeros made six of them) */
	data = chunk_zero(c) ? 0 : c->len;
	r = invalidate_head(w, e);
	if (r == 0)
		r = write_chunk(w, c, e);
	if (r < 0)
		return r;
	w->dirty = true;
	w->since_sync += data;
	if (w->since_sync >= SYNC_BYTES || now_ns() - w->last_sync >= SYNC_NS)
		return checkpoint(w, e);
	return 0;
}

static int finish(struct writer *w, struct app_err *e)
{
	const struct image_write_opts *o = w->o;
	int r = pin_check(w, e);

	if (r < 0)
		return r; /* a wrong pin of a local file: nothing was written */
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
		if (!w->head_invalidated && image_journal_has(&w->j, 0)) {
			r = readback_equal(&w->rd_w, h, &same, e);
			if (r < 0)
				return r;
		}
		if (!same) {
			bool eq = false;
			/* everything before the head on the disk first: one sync */
			r = target_sync(&w->t, e);
			if (r == 0)
				r = target_write_chunk(&w->t, h, &w->res.written, &w->res.zeroed, e);
			if (r == 0)
				r = readback_equal(&w->rd_w, h, &eq, e);
			if (r < 0)
				return r;
			if (!eq)
				return verify_differs(&w->j, w->t.path, o->source, h, e);
			image_journal_add(&w->j, 0, true);
		} else {
			w->res.skipped += h->len;
		}
		w->res.verified += h->len;
	}
	report(w, IMAGE_PHASE_VERIFY, w->res.image_size);
	if (w->t.growable && w->t.file_size < w->res.image_size &&
	    (r = target_grow(&w->t, w->res.image_size, e)) < 0)
		return r;
	/* the backup GPT goes to the real end of the disk */
	if (!o->keep_backup_gpt && w->head && partition_image_size(w->head->data, w->head->len) &&
	    w->res.image_size < (w->t.growable ? w->t.file_size : w->t.size)) {
		target_set_direct(&w->t, false);
		r = partition_relocate_backup(w->t.fd, w->t.path, &w->res.gpt_relocated, e);
		if (r < 0 || w->res.gpt_relocated)
			return r; /* written and synced */
	}
	return target_sync(&w->t, e);
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

/* The hash of a pinned source: a local file's was taken before the first write
 * (then the file must not have changed since), a download's as it streamed. */
static int source_hash(struct writer *w, struct app_err *e)
{
	if (w->pin_started) {
		char *now = source_id(w->o->source);
		bool same = strcmp(now, w->source_id_start) == 0;
		free(now);
		if (!same)
			return app_err_set(e, -ESTALE, "image '%s' changed while it was being written",
					   w->o->source);
		memcpy(w->res.source_sha256, w->pin_have, sizeof(w->res.source_sha256));
	} else if (w->d.src.md) {
		source_sha256(&w->d.src, w->res.source_sha256);
	} else {
		return 0;
	}
	memcpy(w->res.image_digest, w->res.source_sha256, sizeof(w->res.image_digest));
	return 0;
}

int image_write(const struct image_write_opts *o, image_progress_fn progress, void *ctx,
		struct image_result *res, struct app_err *e)
{
	struct writer *w = xcalloc(1, sizeof(*w));
	char *jpath = NULL;
	int r;

	w->o = o;
	w->progress = progress;
	w->ctx = ctx;
	w->t.fd = -1;
	w->rd_w.fd = -1;
	image_journal_init(&w->j);
	w->last_sync = now_ns();
	w->d.src.name = o->source;
	w->d.src.ca_file = o->ca_file;
	w->d.src.fetch_retries = o->fetch_retries;
	w->d.src.fetch_backoff_ms = o->fetch_backoff_ms;
	w->d.src.on_retry = o->on_retry;
	w->d.src.retry_ctx = o->retry_ctx;
	w->source_id_start = source_id(o->source);
	/* a local file with a pin is hashed up front, beside the first chunks' decoding;
	 * a download is hashed as it streams */
	w->d.src.hash = o->sha256 && fetch_is_url(o->source);

	r = target_open(&w->t, &o->target, e);
	w->res.direct_io = w->t.direct;
	if (r == 0 && o->sha256 && !fetch_is_url(o->source)) {
		if (pthread_create(&w->pin_thread, NULL, pin_thread, w) != 0)
			r = app_err_set(e, -EAGAIN, "cannot start the hashing thread");
		else
			w->pin_started = true;
	}
	if (r == 0 && !o->no_journal) {
		jpath =
		    o->journal ? xstrdup(o->journal) : image_default_journal(o->state_dir, o->target.path);
		r = image_journal_open(&w->j, jpath, &w->t, w->source_id_start, e);
	}
	if (r == 0)
		r = decoder_open(&w->d, e);
	if (r == 0) {
		snprintf(w->res.format, sizeof(w->res.format), "%s", w->d.format);
		r = readback_open(&w->rd_w, &w->t, e);
		if (r == 0)
			r = verifier_start(&w->v, &w->t, &w->j, &w->d.free_q, BQUEUE_MAX, o->source, e);
		if (r == 0)
			r = writers_start(&w->ws, &w->t, WRITERS, chunk_done, zero_job_done, w, e);
	}
	if (r == 0)
		r = decoder_start(&w->d, e);
	while (r == 0) {
		struct chunk *c;
		if (w->v.rc < 0 || writers_failed(&w->ws))
			break;
		c = bqueue_pop(&w->d.full_q);
		if (!c)
			break;
		/* here, not in the decoder: its thread is the pipeline's busiest; before
		 * the chunk is handed on (a chunk of zeros goes back to the pool at once) */
		chunk_zmap(c);
		r = decoder_check(&w->d, c, e);
		if (r < 0)
			break;
		w->res.image_size += c->len;
		r = handle_chunk(w, c, e);
		report(w, IMAGE_PHASE_WRITE, w->res.image_size);
	}
	if (r == 0)
		r = flush_zeros(w, NULL, e);
	if (r == 0 && w->ws.t)
		r = writers_drain(&w->ws, e);
	writers_stop(&w->ws);
	w->res.written += w->ws.written;
	{
		struct app_err ve = { 0 };
		int vr = verifier_stop(&w->v, &ve);
		w->res.verified += w->v.verified;
		if (r == 0 && vr < 0)
			r = app_err_set(e, vr, "%s", ve.msg);
	}
	if (r == 0 && w->d.rc < 0)
		r = app_err_set(e, w->d.rc, "%s", w->d.err.msg);
	if (r == 0)
		r = decoder_check_end(&w->d, e);
	if (r == 0 && w->res.image_size == 0)
		r = app_err_set(e, -EINVAL, "image '%s' is empty", o->source);
	if (r == 0) {
		w->res.source_size = w->d.src.consumed;
		r = source_hash(w, e);
		if (r == 0)
			r = finish(w, e);
	}
	if (w->pin_started && !w->pin_joined)
		pthread_join(w->pin_thread, NULL);
	decoder_close(&w->d);
	if (res)
		*res = w->res;
	image_journal_close(&w->j);
	target_close(&w->t);
	readback_close(&w->rd_w);
	verifier_close(&w->v);
	free(w->head_c.data);
	free(jpath);
	free(w->source_id_start);
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
		c.data = chunk_buf_alloc(IMAGE_CHUNK);
		r = decoder_chunk(&d, &c, 0);
		if (r < 0)
			r = app_err_set(e, r, "%s", d.err.msg);
		else if (r == 0)
			r = app_err_set(e, -EINVAL, "image '%s' is empty", source);
		else
			r = 0;
	}
	ret->source_size = d.src.total;
	if (r == 0) {
		ret->image_size = partition_image_size(c.data, c.len);
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

/* The Talos image writer: source -> decompress -> write -> verify; see image.h.
 * This file joins the pieces: the writer loop, the checkpoints, chunk 0 last,
 * the finish (source hash, head, backup GPT), and image_inspect. */
#include "image/image.h"

#include <errno.h>
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
#include "net/fetch.h"

#define SYNC_BYTES (64ull << 20) /* make written data durable at least this often */
#define SYNC_NS 2000000000ll	 /* ... or this often */

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
	struct image_target t;
	struct image_journal j;
	struct decoder d;
	struct readback rd_w; /* the writer's read-back fd: journal skips, head */
	struct verifier v;
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
	r = target_sync(&w->t, e);
	if (r < 0)
		return r;
	w->pending_from = w->pending_to;
	w->since_sync = 0;
	w->last_sync = now_ns();
	return image_journal_sync(&w->j, e);
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
	r = target_grow(&w->t, len, e);
	if (r == 0)
		r = target_pwrite(&w->t, w->t.zeros, len, 0, e);
	if (r == 0)
		r = target_sync(&w->t, e);
	if (r == 0) {
		image_journal_add(&w->j, 0, false);
		r = image_journal_sync(&w->j, e);
	}
	return r;
}

static int handle_chunk(struct writer *w, struct chunk *c, struct app_err *e)
{
	uint64_t off = c->index * (uint64_t)IMAGE_CHUNK;
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
		w->head = c;
		return 1; /* kept: written last */
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
			return 0;
		}
	}
	r = invalidate_head(w, e);
	if (r == 0)
		r = target_write_chunk(&w->t, c, &w->res.written, &w->res.zeroed, e);
	if (r < 0)
		return r;
	/* the verifier reads it back while the chunk is still in memory: a byte
	 * compare, no second hash; it journals it and returns the buffer */
	if (verifier_push(&w->v, c) < 0)
		return app_err_set(e, -ECANCELED, "read-back stopped");
	w->sent = true;
	w->since_sync += c->len;
	w->pending_to = c->index + 1;
	if (w->since_sync >= SYNC_BYTES || now_ns() - w->last_sync >= SYNC_NS)
		return checkpoint(w, e);
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
		if (!w->head_invalidated && image_journal_has(&w->j, 0)) {
			r = readback_equal(&w->rd_w, h, &same, e);
			if (r < 0)
				return r;
		}
		if (!same) {
			bool eq = false;
			r = target_write_chunk(&w->t, h, &w->res.written, &w->res.zeroed, e);
			if (r == 0)
				r = target_sync(&w->t, e);
			if (r == 0)
				r = readback_equal(&w->rd_w, h, &eq, e);
			if (r < 0)
				return r;
			if (!eq)
				return verify_differs(&w->j, w->t.path, o->source, h, e);
			image_journal_add(&w->j, 0, true);
			r = image_journal_sync(&w->j, e);
			if (r < 0)
				return r;
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
		if (r < 0)
			return r;
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

int image_write(const struct image_write_opts *o, image_progress_fn progress, void *ctx,
		struct image_result *res, struct app_err *e)
{
	struct writer *w = xcalloc(1, sizeof(*w));
	char *jpath = NULL, *sid = NULL;
	int r;

	w->o = o;
	w->progress = progress;
	w->ctx = ctx;
	w->t.fd = -1;
	w->rd_w.fd = w->v.rd.fd = -1;
	image_journal_init(&w->j);
	w->last_sync = now_ns();
	w->d.src.name = o->source;
	w->d.src.ca_file = o->ca_file;
	w->d.src.fetch_retries = o->fetch_retries;
	w->d.src.fetch_backoff_ms = o->fetch_backoff_ms;
	w->d.src.on_retry = o->on_retry;
	w->d.src.retry_ctx = o->retry_ctx;
	w->d.src.hash = o->sha256 != NULL;

	r = target_open(&w->t, &o->target, e);
	w->res.direct_io = w->t.direct;
	if (r == 0 && !o->no_journal) {
		jpath = o->journal ? xstrdup(o->journal) : image_default_journal(o->target.path);
		sid = source_id(o->source);
		r = image_journal_open(&w->j, jpath, &w->t, sid, e);
	}
	if (r == 0)
		r = decoder_open(&w->d, e);
	if (r == 0) {
		snprintf(w->res.format, sizeof(w->res.format), "%s", w->d.format);
		r = readback_open(&w->rd_w, &w->t, e);
		if (r == 0)
			r = verifier_start(&w->v, &w->t, &w->j, &w->d.free_q, DECODER_N_CHUNKS, o->source, e);
	}
	if (r == 0)
		r = decoder_start(&w->d, e);
	while (r == 0) {
		struct chunk *c;
		if (w->v.rc < 0)
			break;
		c = bqueue_pop(&w->d.full_q);
		if (!c)
			break;
		w->res.image_size += c->len;
		r = handle_chunk(w, c, e);
		if (r == 1) {
			r = 0; /* chunk 0 stays out of the pool until the end */
		} else if (r == 0 && c->index != 0 && !w->sent) {
			bqueue_push(&w->d.free_q, c);
		}
		w->sent = false;
		report(w, IMAGE_PHASE_WRITE, w->res.image_size);
	}
	{
		struct app_err ve = { 0 };
		int vr = verifier_stop(&w->v, &ve);
		w->res.verified += w->v.verified;
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
			source_sha256(&w->d.src, w->res.source_sha256);
			memcpy(w->res.image_digest, w->res.source_sha256, sizeof(w->res.image_digest));
		}
		w->res.source_size = w->d.src.consumed;
		r = finish(w, e);
	}
	decoder_close(&w->d);
	if (res)
		*res = w->res;
	image_journal_close(&w->j);
	target_close(&w->t);
	readback_close(&w->rd_w);
	verifier_close(&w->v);
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

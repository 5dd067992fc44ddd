/* Several data writes in flight: a small pool of threads doing the O_DIRECT
 * pwrite()s of data runs and the zeroing of zero runs on a block device, so the device always has work queued
 * while the next chunk is decoded. Each finished job is handed to a callback (the pipeline then knows when a
 * whole chunk is on the disk). */
#ifndef APPLIANCE_IMAGE_WRITERS_H
#define APPLIANCE_IMAGE_WRITERS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "image/chunk.h"
#include "image/queue.h"
#include "image/target.h"

#define WRITERS_MAX 8

/* done(ctx, c) runs in a writer thread once a job of chunk c is written;
 * zdone(ctx, tag, ok) once for every zeroing job queued: ok when it is done,
 * false when it failed or was dropped. */
typedef void (*writers_done_fn)(void *ctx, struct chunk *c);
typedef void (*writers_zdone_fn)(void *ctx, void *tag, bool ok);

struct writers {
	struct image_target *t;
	struct bqueue q; /* jobs */
	pthread_t th[WRITERS_MAX];
	unsigned n;
	writers_done_fn done;
	writers_zdone_fn zdone;
	void *ctx;
	pthread_mutex_t mu; /* guards inflight, rc, err */
	pthread_cond_t idle;
	unsigned inflight; /* submitted, not finished */
	int rc;		   /* the first failure */
	struct app_err err;
	_Atomic uint64_t written; /* bytes written */
};

/* Start n (<= WRITERS_MAX) threads writing to t. */
int writers_start(struct writers *ws, struct image_target *t, unsigned n, writers_done_fn done,
		  writers_zdone_fn zdone, void *ctx, struct app_err *e);

/* Queue the write of c->data[from, to) at c's place on the target; to - from
 * is a multiple of t->align. Blocks while the queue is full. -1 once a write
 * failed (see writers_drain()). */
int writers_submit(struct writers *ws, struct chunk *c, size_t from, size_t to);

/* Queue the zeroing of [off, off + len) of a block device (a multiple of
 * t->align, see target_zero()), with tag for zdone. Same contract as
 * writers_submit(). */
int writers_submit_zero(struct writers *ws, uint64_t off, uint64_t len, void *tag);
/* A write failed already (cheap, for the submitting loop). */
bool writers_failed(struct writers *ws);

/* Wait until every submitted job finished; the first failure, if any. */
int writers_drain(struct writers *ws, struct app_err *e);

/* Stop and join the threads (queued jobs are dropped); safe after a failed
 * or missing start when ws was zeroed. */
void writers_stop(struct writers *ws);

#endif

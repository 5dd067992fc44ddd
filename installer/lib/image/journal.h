/* The image writer's chunk journal: one line per chunk written and read back
 * equal ("w N"), or not to be trusted ("d N"), under a header keyed to the
 * target and the source. It is only a hint: a re-run skips a listed chunk
 * when reading it back gives exactly the stream's bytes, so a lost or stale
 * journal costs time, never a wrong disk. Thread-safe: the writer and the
 * verifier both append. */
#ifndef APPLIANCE_IMAGE_JOURNAL_H
#define APPLIANCE_IMAGE_JOURNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "image/target.h"

struct image_journal {
	pthread_mutex_t mu;
	FILE *f; /* NULL: no journal, every call is a no-op */
	char *path;
	char id[96];
	bool *have;
	size_t n;
};

/* Before anything else, journal or not. */
void image_journal_init(struct image_journal *j);

/* Read path when its header matches (target t, source_id), else start it afresh. */
int image_journal_open(struct image_journal *j, const char *path, const struct image_target *t,
		       const char *source_id, struct app_err *e);

/* Chunk i is listed as written. */
bool image_journal_has(struct image_journal *j, uint64_t i);

/* Chunk i was written (or, with written false, must not be trusted). Flushed
 * at once (survives kill -9); durable at the next image_journal_sync(). */
void image_journal_add(struct image_journal *j, uint64_t i, bool written);

int image_journal_sync(struct image_journal *j, struct app_err *e);

/* Close and free; also after a failed or skipped open. */
void image_journal_close(struct image_journal *j);

#endif

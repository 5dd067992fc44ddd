/* Reading the image back: every chunk written is read back bypassing the page
 * cache (O_DIRECT on an fd of its own, or sync + drop + read) and compared
 * byte for byte with the decompressed stream while it is still in memory.
 * The verifier does that in threads of its own (two reads in flight) and
 * journals each chunk that read back equal. */
#ifndef APPLIANCE_IMAGE_VERIFY_H
#define APPLIANCE_IMAGE_VERIFY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "image/chunk.h"
#include "image/journal.h"
#include "image/queue.h"
#include "image/target.h"

/* A read-only fd of its own (O_DIRECT when it can), so a reading thread never
 * races the writer over file flags. */
struct readback {
	const char *path;
	int fd; /* -1 before readback_open() */
	bool direct;
	unsigned align;
	unsigned char *buf; /* IMAGE_CHUNK */
};

/* Open the file t writes to, checking it is the same one. */
int readback_open(struct readback *r, const struct image_target *t, struct app_err *e);
void readback_close(struct readback *r);

/* Read chunk c's range back bypassing the page cache; *equal when it matches c. */
int readback_equal(struct readback *r, const struct chunk *c, bool *equal, struct app_err *e);

/* Chunk c read back different: journal it as untrusted, say so. */
int verify_differs(struct image_journal *j, const char *target, const char *source, const struct chunk *c,
		   struct app_err *e);

#define VERIFIER_THREADS 2 /* reads in flight: one read at a time leaves the device idle between */

struct verifier;
struct vthread {
	struct verifier *v;
	struct readback rd;
	pthread_t thread;
};

struct verifier {
	struct vthread th[VERIFIER_THREADS];
	unsigned n;	    /* threads started (each with its readback open) */
	struct bqueue q;    /* written chunks waiting to be read back */
	pthread_mutex_t mu; /* guards err */
	_Atomic int rc;	    /* the first failure; later chunks are passed through unread */
	struct app_err err;
	_Atomic uint64_t verified;
	struct image_journal *j;
	struct bqueue *done_q; /* where chunks go once read back */
	const char *source;    /* for messages */
};

/* v zeroed before. Chunks read back go to done_q; at most cap (<= BQUEUE_MAX)
 * wait. */
int verifier_start(struct verifier *v, const struct image_target *t, struct image_journal *j,
		   struct bqueue *done_q, unsigned cap, const char *source, struct app_err *e);

/* Queue chunk c for reading back; -1 when the verifier stopped. */
int verifier_push(struct verifier *v, struct chunk *c);

/* Queue count all-zero chunks from chunk first on (the last one last_len
 * bytes long, the others IMAGE_CHUNK): read back, they must be zeros. They
 * hold no buffer, so a long zero run costs no memory. */
int verifier_push_zeros(struct verifier *v, uint64_t first, uint64_t count, size_t last_len);

/* Wait for every queued read-back; its verdict. */
int verifier_stop(struct verifier *v, struct app_err *e);

void verifier_close(struct verifier *v);

#endif

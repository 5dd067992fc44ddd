/* The image writer's source: a file read by a thread of its own, or a URL
 * streamed by fetch.c in a thread of its own, handed over as compressed
 * blocks through a bounded pool. The SHA-256 of the source bytes is computed
 * in that thread, off the decompressor's core. */
#ifndef APPLIANCE_IMAGE_SOURCE_H
#define APPLIANCE_IMAGE_SOURCE_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "image/queue.h"
#include "net/fetch.h"

#define SOURCE_BLOCK (1u << 20) /* compressed blocks between the reader and the decoder */
#define SOURCE_N_BLOCKS 4

struct src_block {
	char data[SOURCE_BLOCK];
	size_t len;
};

struct image_source {
	/* set by the caller before source_open() */
	const char *name; /* file path or http(s):// URL */
	const char *ca_file;
	int fetch_retries;
	unsigned fetch_backoff_ms;
	fetch_retry_fn on_retry;
	void *retry_ctx;
	bool hash; /* compute the SHA-256 of the source bytes */

	/* state */
	bool url;
	int fd;			  /* file */
	struct src_block *blocks; /* pool, filled by the reader or fetch thread */
	struct bqueue free_q, full_q;
	bool queues;
	struct src_block *cur;	   /* block lent to the consumer */
	struct src_block *filling; /* url: block the fetch thread fills */
	pthread_t thread;
	bool thread_started;
	struct app_err fetch_err;
	int fetch_rc;
	EVP_MD_CTX *md;
	_Atomic uint64_t consumed;
	uint64_t total;	   /* source size when known */
	_Atomic bool stop; /* stop early */
};

/* Open the source and start its reader thread. */
int source_open(struct image_source *s, struct app_err *e);

/* The next full block (the previous one goes back to the pool); NULL at the
 * end or on a read error (then s->fetch_rc < 0 and s->fetch_err say why). */
struct src_block *source_next(struct image_source *s);

/* Ask the reader thread to stop and wake it. */
void source_stop(struct image_source *s);

/* Hex SHA-256 of the bytes read so far (only with s->hash); ends the digest. */
void source_sha256(struct image_source *s, char ret[65]);

void source_close(struct image_source *s);

#endif

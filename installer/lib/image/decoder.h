/* The image writer's decompressor: libzstd for zstd (decoded straight into
 * the chunks: libarchive would decode into its own buffer and copy again),
 * libarchive's raw reader for xz, gzip and none, over an image_source, cutting
 * the image into chunks in a thread of its own. Chunks circulate through two
 * bounded queues: free_q (empty buffers) and full_q (decoded chunks, in order). */
#ifndef APPLIANCE_IMAGE_DECODER_H
#define APPLIANCE_IMAGE_DECODER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "image/chunk.h"
#include "image/queue.h"
#include "image/source.h"
#include "image/xxh64.h"

#define DECODER_N_CHUNKS 12 /* chunk buffers: decoded, being written, being read back */

struct archive;
struct ZSTD_DCtx_s;

/* A zstd frame decoded in place with a content checksum: its bytes' place in the
 * image, and the checksum its last 4 bytes carry (once read). */
struct zframe {
	uint64_t start, end;
	uint32_t sum;
	bool ended;
};

struct decoder {
	struct image_source src;      /* its parameters are set by the caller */
	struct archive *a;	      /* gzip, xz, none */
	struct ZSTD_DCtx_s *zs;	      /* zstd, streamed (copied out of its window): image_inspect, fallback */
	struct src_block *zin, *peek; /* zstd: block being decoded; first block, read ahead */
	size_t zpos;
	bool zpending, zdone; /* zstd: a frame is unfinished; the source ended */
	/* zstd decoded in place (decoder_start): the chunks are the slots of one ring,
	 * filled in order, which is the decoder's window (see decoder.c) */
	bool direct;
	unsigned char *ring;		  /* DECODER_N_CHUNKS chunks, then RING_SLACK */
	struct ZSTD_DCtx_s *zd;		  /* buffer-less decoder */
	bool in_frame;			  /* zd is inside a frame */
	size_t block_max;		  /* the frame's largest block */
	size_t carry;			  /* bytes decoded past the chunk just filled */
	bool held_next;			  /* the next slot is taken already */
	bool slot_free[DECODER_N_CHUNKS]; /* back from downstream, not taken again yet */
	unsigned char *stage;		  /* input split over two source blocks, gathered */
	unsigned char pend[32];		  /* frame header bytes looked at, not consumed yet */
	size_t pend_len, pend_pos;
	/* the checksums of frames decoded in place are checked by the consumer of
	 * full_q (decoder_check), not in this thread, the pipeline's busiest: zstd
	 * is told to ignore them (a third of its time), frames are listed here */
	bool sum_off;
	pthread_mutex_t frames_mu;
	struct zframe *frames;
	size_t nframes, frames_cap, frame_next; /* frame_next: the consumer's */
	struct xxh64 fsum;			/* the consumer's, over frames[frame_next] */
	uint64_t sum_pos;			/* the consumer's: bytes of the image it saw */
	char format[16];			/* "zstd", "xz", "gzip", "none" */
	struct chunk chunks[DECODER_N_CHUNKS];
	struct bqueue free_q, full_q;
	pthread_t thread;
	bool thread_started;
	struct app_err err;
	int rc; /* the decoder thread's verdict: negative with err on failure */
	uint64_t out_bytes;
};

/* Open the source and read the format. */
int decoder_open(struct decoder *d, struct app_err *e);

/* Fill one chunk in this thread (not its zero map: chunk_zmap()); 0 at the end of the image, 1 with data,
 * negative on error (message in d->err). */
int decoder_chunk(struct decoder *d, struct chunk *c, uint64_t index);

/* Decode the whole image in a thread: chunks come out of d->full_q, go back
 * through d->free_q. */
int decoder_start(struct decoder *d, struct app_err *e);

/* In the consumer of full_q, for each chunk in order: hash its bytes that zstd
 * frames with a checksum hold and compare each frame's checksum at its end
 * (zstd left that to this thread). 0, or negative with e set: the image is
 * corrupt. decoder_check_end() after the last chunk: frames ending there. */
int decoder_check(struct decoder *d, const struct chunk *c, struct app_err *e);
int decoder_check_end(struct decoder *d, struct app_err *e);

/* Stop the thread (if any), the source, and free everything. */
void decoder_close(struct decoder *d);

#endif

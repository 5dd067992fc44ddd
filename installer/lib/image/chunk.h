/* A chunk of the decompressed image: IMAGE_CHUNK bytes (the last may be
 * shorter) at index * IMAGE_CHUNK, with a bitmap of its all-zero 4 KiB blocks
 * so the writer can zero them instead of sending zeros. */
#ifndef APPLIANCE_IMAGE_CHUNK_H
#define APPLIANCE_IMAGE_CHUNK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

#define CHUNK_BLK 4096u /* zero-detection block; also the O_DIRECT buffer alignment */
#define CHUNK_ZMAP_BYTES (IMAGE_CHUNK / CHUNK_BLK / 8)

struct chunk {
	unsigned char *data; /* IMAGE_CHUNK bytes, CHUNK_BLK-aligned */
	size_t len;
	uint64_t index;
	unsigned char zmap[CHUNK_ZMAP_BYTES]; /* bit set = all-zero block */
	_Atomic int pending;		      /* writer: parts of it not on the disk yet */
};

/* An n-byte buffer aligned for O_DIRECT; free() it. */
void *chunk_buf_alloc(size_t n);

/* Fill c->zmap from c->data and c->len. */
void chunk_zmap(struct chunk *c);

/* Block b is all zeros and whole (a partial last block counts as data, so the
 * tail stays exact). */
bool chunk_zero_block(const struct chunk *c, size_t b);

/* Every block of c is a whole zero block (its zero map). */
bool chunk_zero(const struct chunk *c);

/* Runs of c: start with *from = *to = 0; each call gives the next run
 * [*from, *to) of zero blocks (*zero) or data, false after the last. */
bool chunk_next_run(const struct chunk *c, size_t *from, size_t *to, bool *zero);

#endif

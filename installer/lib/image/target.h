/* The image writer's target: a block device or a regular file opened through
 * disk_open_write() (so the disk safety policy applies), written with O_DIRECT
 * when it can, zero runs made to read as zeros without sending zeros
 * (punch hole, BLKZEROOUT) when it can. */
#ifndef APPLIANCE_IMAGE_TARGET_H
#define APPLIANCE_IMAGE_TARGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "disk/disk.h"
#include "image/chunk.h"

struct image_target {
	const char *path;
	int fd;
	bool blockdev;
	bool growable; /* an empty regular file: grows to the image */
	bool direct;   /* O_DIRECT currently set */
	bool can_direct;
	unsigned align; /* O_DIRECT length granularity */
	uint64_t size;	/* device size; UINT64_MAX when growable */
	uint64_t file_size;
	_Atomic bool punch_ok; /* atomic: writer threads zero runs too */
	_Atomic bool zeroout_ok;
	/* a loop device over a file whose allocated ranges are zeroed in place first
	 * (target_zero): that file, read-only, and the device's offset in it */
	int backing_fd;
	bool backing_open;
	uint64_t backing_off;
	_Atomic bool inplace_ok;
	unsigned char *zeros; /* IMAGE_CHUNK of zeros: untouched anonymous memory, no RSS */
};

/* Open claim->path for writing. t->fd is -1 before; target_close() after,
 * whatever this returned. */
int target_open(struct image_target *t, const struct disk_claim *claim, struct app_err *e);
void target_close(struct image_target *t);

/* Turn O_DIRECT on or off (no-op when the target cannot do it). */
int target_set_direct(struct image_target *t, bool on);

/* Write len bytes at off (an odd-sized tail goes buffered). */
int target_pwrite(struct image_target *t, const void *buf, size_t len, uint64_t off, struct app_err *e);

/* The same for a length that is a multiple of t->align, from any thread: never
 * touches the descriptor's flags, so several writes can be in flight. */
int target_pwrite_aligned(struct image_target *t, const void *buf, size_t len, uint64_t off,
			  struct app_err *e);

/* A growable file: extend it to end bytes. */
int target_grow(struct image_target *t, uint64_t end, struct app_err *e);

/* Make [off, off+len) read as zeros, without sending zeros when the target can. */
int target_zero(struct image_target *t, uint64_t off, uint64_t len, struct app_err *e);

int target_sync(struct image_target *t, struct app_err *e);

/* Write one chunk: zero runs zeroed, data runs written; counts what went where. */
int target_write_chunk(struct image_target *t, const struct chunk *c, uint64_t *written, uint64_t *zeroed,
		       struct app_err *e);

#endif

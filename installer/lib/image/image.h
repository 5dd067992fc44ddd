/* The Talos image writer. OWNER: image work (issue 7).
 *
 *   source (file, or URL through fetch.c)  --compressed blocks-->
 *   decompress (libarchive raw: zstd, xz, gzip, none; per-chunk digest)  --4 MiB chunks-->
 *   write (zero runs -> BLKZEROOUT / holes, data -> O_DIRECT pwrite, bounded syncs)  -->
 *   read back (own thread, own O_DIRECT fd): every chunk is compared byte for byte with
 *      the decompressed stream while it is still in memory, then journaled
 *   -> write chunk 0 (protective MBR + primary GPT) last, so an interrupted or failed
 *      write never leaves a disk that looks bootable
 *   -> move the backup GPT header to the real end of the disk (libfdisk, partition.c).
 *
 * The four stages run in their own threads joined by bounded queues; peak RSS
 * stays under 50 MiB whatever the image size. The target is always opened
 * through disk_open_write() (disk.h), so the disk safety policy applies.
 *
 * Journal: one line per chunk written and read back equal, keyed to the target
 * and the source (file identity or URL). It is only a hint: a re-run skips a
 * listed chunk when reading it back gives exactly the stream's bytes, and
 * rewrites it otherwise, so a lost or stale journal costs time, never a wrong disk.
 *
 * The pieces, each header its whole API: queue.h (bounded queue between the
 * threads), source.h (file or URL reader thread, source hash), decoder.h
 * (libarchive decompression into chunks), chunk.h (a chunk and its zero-block
 * map), target.h (open, O_DIRECT writes, zeroing, sync), journal.h (the chunk
 * journal), verify.h (read-back and its thread), pin.h (naming and pins);
 * image.c joins them into the pipeline. */
#ifndef APPLIANCE_IMAGE_H
#define APPLIANCE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk/disk.h"
#include "net/fetch.h"
#include "image/partition.h"
#include "image/pin.h"

struct app_err;

#define IMAGE_CHUNK (2u << 20)

enum image_phase { IMAGE_PHASE_WRITE = 0, IMAGE_PHASE_VERIFY, IMAGE_PHASE_FINISH };

struct image_progress {
	enum image_phase phase;
	uint64_t in_bytes;  /* source bytes consumed (compressed) */
	uint64_t in_total;  /* source size when known, else 0 */
	uint64_t out_bytes; /* image bytes handled (write) or read back (verify) */
	uint64_t out_total; /* image size when known (from its GPT), else 0 */
};
typedef void (*image_progress_fn)(void *ctx, const struct image_progress *p);

struct image_write_opts {
	const char *source;	   /* file path or http(s):// URL */
	const char *ca_file;	   /* for https sources: extra CA bundle (tests) */
	struct disk_claim target;  /* target.path: block device or regular file */
	const char *sha256;	   /* expected SHA-256 (hex) of the SOURCE bytes as given; NULL: none */
	const char *journal;	   /* chunk journal path; NULL: image_default_journal() */
	const char *state_dir;	   /* folder of a block device's default journal; NULL: /var/lib/appliance */
	bool no_journal;	   /* neither read nor write a journal */
	bool keep_backup_gpt;	   /* leave the backup GPT where the image put it */
	int fetch_retries;	   /* 0: fetch default */
	unsigned fetch_backoff_ms; /* 0: fetch default */
	fetch_retry_fn on_retry;   /* URL sources: told about each retry (may be NULL) */
	void *retry_ctx;
};

struct image_result {
	uint64_t image_size;	/* decompressed bytes */
	uint64_t source_size;	/* compressed bytes */
	char source_sha256[65]; /* of the source bytes */
	char image_digest[65];	/* SHA-256 over the chunk digests */
	char format[16];	/* "zstd", "xz", "gzip", "none" */
	uint64_t written;	/* data bytes written */
	uint64_t zeroed;	/* bytes zeroed without data transfer */
	uint64_t skipped;	/* bytes not rewritten: already on the disk (journal) */
	uint64_t verified;	/* bytes read back and compared */
	bool gpt_relocated;	/* the backup GPT header was moved to the end of the disk */
	bool direct_io;		/* O_DIRECT was used (else bounded syncs + fadvise) */
};

/* Write opts->source onto opts->target.path. 0 on success (the image read back
 * equal); negative errno and *e otherwise. res may be NULL. */
int image_write(const struct image_write_opts *opts, image_progress_fn progress, void *ctx,
		struct image_result *res, struct app_err *e);

/* What a write would do, without opening the target for writing: decompress
 * the head of the source and describe it. */
struct image_info {
	char format[16];
	uint64_t source_size; /* 0 for URLs when unknown */
	bool gpt;
	uint64_t image_size; /* from the GPT's backup header location; 0 when unknown */
	struct partition_entry parts[16];
	unsigned n_parts;
};
int image_inspect(const char *source, const char *ca_file, struct image_info *ret, struct app_err *e);

/* Default journal path for a target: "<file>.image-journal" for regular files,
 * STATE_DIR/image-<name>.journal for block devices (state_dir NULL:
 * /var/lib/appliance). Caller frees. */
char *image_default_journal(const char *state_dir, const char *target);

#endif

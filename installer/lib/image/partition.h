/* GPT edits the image writer needs, done with util-linux's libfdisk (no
 * hand-written GPT code): list, move the backup header to the end of the disk,
 * and add or find the `metal-iso` config partition right after the last
 * partition. Every function works on an fd the caller opened (through
 * disk_open_write() for writes) and does not close it. OWNER: image work (issue 7). */
#ifndef APPLIANCE_PARTITION_H
#define APPLIANCE_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct app_err;

#define PARTITION_CONFIG_NAME "metal-iso"
/* Linux filesystem data */
#define PARTITION_CONFIG_TYPE "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

struct partition_entry {
	unsigned partno; /* 1-based */
	uint64_t start;	 /* bytes */
	uint64_t size;	 /* bytes */
	char name[72];
	char type[48]; /* type name ("EFI System", "Linux filesystem") */
};

/* The GPT partitions of fd (path names it in messages), by start. *n <= max.
 * disk_size (may be NULL) gets the size libfdisk sees. */
int partition_list(int fd, const char *path, struct partition_entry *ret, unsigned max, unsigned *n,
		   uint64_t *disk_size, struct app_err *e);

/* The same for an image's first bytes (protective MBR + primary GPT) whose
 * whole size is image_size: done on a sparse memfd, nothing is written. */
int partition_list_head(const void *head, size_t len, uint64_t image_size, struct partition_entry *ret,
			unsigned max, unsigned *n, struct app_err *e);

/* The image size an image's first bytes announce: the primary GPT header's
 * backup-header LBA (512-byte sectors) + 1; 0 without a GPT. */
uint64_t partition_image_size(const void *head, size_t len);

/* Move the backup GPT header and entries to the last sectors of the disk and
 * extend the usable range to match. *moved is false when already there. */
int partition_relocate_backup(int fd, const char *path, bool *moved, struct app_err *e);

enum partition_config_action { PARTITION_CONFIG_CREATE = 0, PARTITION_CONFIG_REUSE, PARTITION_CONFIG_RESIZE };

/* Find or make the `metal-iso` partition for a volume of `bytes`: reuse it when
 * big enough, grow it when it is the last partition and space follows, else
 * create it 1 MiB-aligned right after the last partition. With apply false
 * only *ret and *action are computed. */
int partition_config(int fd, const char *path, uint64_t bytes, bool apply, struct partition_entry *ret,
		     enum partition_config_action *action, struct app_err *e);

#endif

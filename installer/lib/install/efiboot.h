/* Firmware boot order through efivarfs: make the next boot start the install
 * disk's EFI system partition, recording the previous BootOrder first so it
 * can be restored. The efivarfs directory is a parameter so tests use a plain
 * directory of files in efivarfs's format (4-byte attributes + data).
 * On BIOS machines (no efivarfs) nothing is written: the caller tells the user
 * what to do. OWNER: install work (issue 9). */
#ifndef APPLIANCE_EFIBOOT_H
#define APPLIANCE_EFIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct app_err;

#define EFIBOOT_DEFAULT_DIR "/sys/firmware/efi/efivars"
#define EFIBOOT_LOADER "\\EFI\\BOOT\\BOOTX64.EFI"

/* The EFI system partition the new entry points at. */
struct efiboot_target {
	char disk[256];	    /* for messages */
	uint32_t partno;    /* 1-based */
	uint64_t start;	    /* in 512-byte sectors */
	uint64_t size;	    /* in 512-byte sectors */
	char part_uuid[37]; /* GPT partition GUID, lower-case text */
};

/* True when dir looks like efivarfs with a BootOrder or Boot#### variable
 * (i.e. this machine booted with UEFI). */
bool efiboot_is_uefi(const char *dir);

/* Find the EFI system partition on disk (image file or block device) with
 * libblkid. -ENOENT with a message when there is none. */
int efiboot_find_esp(const char *disk, struct efiboot_target *ret, struct app_err *e);

/* Current BootOrder as "0001,0000" into out ("" when unset). */
int efiboot_order(const char *dir, char *out, size_t n, struct app_err *e);

/* Make an entry for t (reusing one that already points at the same partition
 * GUID) and put it first in BootOrder. The previous BootOrder is written to
 * record_file once (an existing record is kept: it holds the order from before
 * the first attempt). result: "Boot0003 first (previous order 0001,0000)". */
int efiboot_apply(const char *dir, const struct efiboot_target *t, const char *record_file, char *result,
		  size_t n, struct app_err *e);

/* 0 when BootOrder's first entry points at t's partition; else -ESTALE with why. */
int efiboot_check(const char *dir, const struct efiboot_target *t, struct app_err *e);

#endif

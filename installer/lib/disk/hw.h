/* Disk inventory: what disks this machine has, read from sysfs and probed with
 * libblkid. Read-only: nothing here opens a disk for writing (disk.h does).
 *
 * Everything is read below a configurable root (sysfs = ROOT/sys, device
 * nodes = ROOT/dev, mounts = ROOT/proc/self/mountinfo, swap = ROOT/proc/swaps)
 * so tests can describe NVMe, md and dm holders with fixture trees on a kernel
 * that has none of them. A fixture's ROOT/dev/NAME may be a plain image file:
 * libblkid probes it like a device.
 *
 * OWNER: disks work (issue 6). */
#ifndef APPLIANCE_HW_H
#define APPLIANCE_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/model.h"

struct app_err;

/* One signature libblkid found (what wipefs lists). */
struct hw_sig {
	char *type;	 /* ext4, xfs, gpt, PMBR, dos, LVM2_member, ceph_bluestore, linux_raid_member */
	char *usage;	 /* filesystem, raid, crypto, other, partition_table */
	char *label;	 /* NULL when none */
	char *uuid;	 /* NULL when none */
	uint64_t offset; /* absolute byte offset of the magic on the disk */
	uint64_t length; /* bytes of the magic */
	int partno;	 /* 0: on the whole disk; N: inside partition N */
};

struct hw_part {
	int partno;
	char *name;		/* sysfs name (loop0p1, nvme0n1p1) */
	char *path;		/* /dev/NAME */
	uint64_t start, size;	/* bytes */
	struct strlist mounts;	/* mount points */
	struct strlist holders; /* sysfs holders (dm-0, md127) */
	bool swap;
};

struct hw_disk {
	char *name;		/* sda, nvme0n1, loop3; the file name for image files */
	char *path;		/* /dev/NAME as the running system names it, or the image file */
	char *dev;		/* what to open: ROOT/dev/NAME (== path when ROOT is /) */
	struct strlist by_path; /* /dev/disk/by-path/... links to the disk */
	char *model, *vendor, *serial, *wwid;
	char *transport;     /* nvme, sata, scsi, usb, virtio, mmc, loop, file, unknown */
	char *backing;	     /* loop devices: backing file */
	char *pttype;	     /* gpt, dos or NULL */
	uint64_t size;	     /* bytes */
	uint32_t lsec, psec; /* logical / physical sector size */
	unsigned maj, min;   /* device number (0:0 for image files) */
	bool rotational, removable, read_only, discard, is_file;
	bool live; /* carries the running live system */
	bool swap; /* disk or a partition is active swap */
	struct hw_part *parts;
	size_t n_parts;
	struct hw_sig *sigs; /* whole disk and partitions */
	size_t n_sigs;
	struct strlist mounts;	/* "PATH on MOUNTPOINT" for the disk and its partitions */
	struct strlist holders; /* "NAME held by HOLDER" for the disk and its partitions */
	char *probe_error;	/* libblkid could not read the disk: why */
};

struct hw_inventory {
	struct hw_disk *v;
	size_t n;
	bool probed; /* libblkid ran (hw_opts.no_probe was false) */
};

struct hw_opts {
	const char *root;	  /* NULL: env APPLIANCE_HW_ROOT, else "/" */
	const char *live;	  /* path on the live medium; NULL: env APPLIANCE_LIVE_DISK */
	const char *const *files; /* image files to list as disks */
	size_t n_files;
	const char *const *only; /* when set: only these disk names or paths */
	size_t n_only;
	bool no_probe; /* sysfs only, no libblkid */
};

/* Build the inventory (sorted by name; image files last in the given order). */
int hw_inventory(const struct hw_opts *o, struct hw_inventory *ret, struct app_err *e);
void hw_inventory_free(struct hw_inventory *inv);

/* The disk whose path, dev, by-path link or name is path (after resolving
 * symlinks under the root), or NULL. */
const struct hw_disk *hw_find(const struct hw_inventory *inv, const char *path);

/* Probe an open disk (or image file) of size bytes with libblkid: every
 * signature on the disk and inside its partitions. Partition extents found in
 * the partition table are returned in *ret_parts (partno, start, size only)
 * when ret_parts is non-NULL. */
int hw_probe_fd(int fd, uint64_t size, const char *what, struct hw_sig **ret_sigs, size_t *ret_n,
		struct hw_part **ret_parts, size_t *ret_nparts, char **ret_pttype, struct app_err *e);
void hw_sigs_free(struct hw_sig *v, size_t n);

/* Probe one disk of an inventory built with no_probe (signatures, partition
 * table extents); sets d->probe_error instead of failing. */
void hw_probe_disk(struct hw_disk *d);
/* A deep copy of d (free with hw_disk_free). */
void hw_disk_copy(const struct hw_disk *d, struct hw_disk *ret);
void hw_disk_free(struct hw_disk *d);
void hw_parts_free(struct hw_part *v, size_t n);

/* The root in effect for o (never NULL). */
const char *hw_root(const struct hw_opts *o);

#endif

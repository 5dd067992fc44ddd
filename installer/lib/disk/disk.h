/* The one disk-safety policy, and the only place block devices are opened for
 * writing. OWNER: disks work (issue 6); image, wipe and install call it.
 *
 * Regular files (image files in tests and the demo) pass the device checks
 * that do not apply to them; block devices must pass them all: not the disk
 * the live system runs from, not mounted / swap / held (dm, md, LVM), no
 * partition in use, not read-only, not smaller than the role's minimum, and
 * (when a node is given) named by a selector of that node for that role.
 * Loop devices are judged by what backs them (LOOP_GET_STATUS64): a backing
 * block device passes the policy itself; a disk or file backing a loop device
 * in use is refused, and so is every other loop device on it. */
#ifndef APPLIANCE_DISK_H
#define APPLIANCE_DISK_H

#include <stddef.h>
#include <stdint.h>

struct hw_inventory;
struct hw_disk;
struct model;
struct model_node;
struct app_err;

enum disk_role { DISK_ROLE_INSTALL = 0, DISK_ROLE_CEPH, DISK_ROLE_ANY };

struct disk_claim {
	const char *path; /* /dev/... or an image file */
	enum disk_role role;
	const struct model *model;     /* optional: with node, selectors are enforced */
	const struct model_node *node; /* optional */
	uint64_t min_size;	       /* 0: no minimum */
	const char *root; /* hw root for the inventory (hw.h); NULL: env APPLIANCE_HW_ROOT or / */
	const char *live; /* path on the live medium; NULL: env APPLIANCE_LIVE_DISK */
};

/* 0 when the policy allows writing; else a negative errno and a message that
 * names the disk and the reason ("disk '/dev/loop3' is mounted at '/mnt'; refusing to write"). */
int disk_policy_check(const struct disk_claim *c, struct app_err *e);

/* disk_policy_check, then open(O_RDWR | O_CLOEXEC | O_EXCL for block devices | extra_flags).
 * Returns the fd or a negative errno. */
int disk_open_write(const struct disk_claim *c, int extra_flags, struct app_err *e);

/* The same policy against an inventory the caller already built (hw.h):
 * d is the inventory entry for c->path (NULL: looked up, refused when absent).
 * The inventory must list every disk of the machine so selectors resolve
 * exactly as they would for the whole node. */
int disk_policy_check_inv(const struct disk_claim *c, const struct hw_inventory *inv, const struct hw_disk *d,
			  struct app_err *e);

/* Open d for writing after disk_policy_check_inv (O_EXCL for block devices). */
int disk_open_write_inv(const struct disk_claim *c, const struct hw_inventory *inv, const struct hw_disk *d,
			int extra_flags, struct app_err *e);

/* What a disk is, independent of the name it has today, for records that
 * must find the same disk again (wipe backups, journals): "serial=S wwid=W"
 * (either may be missing) for a block device, "loop-file=MAJ:MIN:INO" /
 * "loop-blk=MAJ:MIN" for a loop device (its backing), "file=MAJ:MIN:INO" for
 * an image file. -ENODATA (out "") when the disk has nothing that identifies
 * it (a block device without serial or WWID). root: hw root (NULL: "/"). */
int disk_identity(const struct hw_disk *d, const char *root, char *out, size_t n);

/* "installDisk", "cephDisks", "disk" */
const char *disk_role_name(enum disk_role r);

#endif

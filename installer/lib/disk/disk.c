/* The one disk-safety policy. Every writer (image, wipe, install) comes
 * through here; each refusal names the disk and the reason. */
#include "disk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/err.h"
#include "disk/hw.h"
#include "profile/model.h"
#include "disk/selector.h"
#include "base/util.h"

static const char *const role_names[] = {
	[DISK_ROLE_INSTALL] = "installDisk",
	[DISK_ROLE_CEPH] = "cephDisks",
	[DISK_ROLE_ANY] = "disk",
};

const char *disk_role_name(enum disk_role r)
{
	if ((unsigned)r < sizeof(role_names) / sizeof(role_names[0]))
		return role_names[r];
	return "disk";
}

/* What kind of holder a sysfs holder name is. */
static const struct {
	const char *prefix;
	const char *what;
} holder_kinds[] = {
	{ "dm-", "device-mapper: LVM, dm-crypt or multipath" },
	{ "md", "md RAID" },
	{ "bcache", "bcache" },
	{ "loop", "a loop device" },
};

static const char *holder_kind(const char *h)
{
	for (size_t i = 0; i < sizeof(holder_kinds) / sizeof(holder_kinds[0]); i++)
		if (strncmp(h, holder_kinds[i].prefix, strlen(holder_kinds[i].prefix)) == 0)
			return holder_kinds[i].what;
	return "another device";
}

static int refuse_in_use(const struct hw_disk *d, struct app_err *e)
{
	if (d->live)
		return app_err_set(e, -EBUSY, "disk '%s' carries the running live system; refusing to write",
				   d->path);
	for (size_t i = 0; i < d->mounts.n; i++) {
		/* the disk itself first, then partitions */
		const char *s = d->mounts.v[i];
		size_t pl = strlen(d->path);

		if (strncmp(s, d->path, pl) == 0 && strncmp(s + pl, " on ", 4) == 0)
			return app_err_set(e, -EBUSY, "disk '%s' is mounted at '%s'; refusing to write",
					   d->path, s + pl + 4);
	}
	for (size_t i = 0; i < d->n_parts; i++)
		if (d->parts[i].mounts.n)
			return app_err_set(e, -EBUSY,
					   "disk '%s' has partition '%s' mounted at '%s'; refusing to write",
					   d->path, d->parts[i].path, d->parts[i].mounts.v[0]);
	for (size_t i = 0; i < d->n_parts; i++)
		if (d->parts[i].swap)
			return app_err_set(e, -EBUSY,
					   "disk '%s' has partition '%s' in use as swap; refusing to write",
					   d->path, d->parts[i].path);
	if (d->swap)
		return app_err_set(e, -EBUSY, "disk '%s' is in use as swap; refusing to write", d->path);
	for (size_t i = 0; i < d->n_parts; i++)
		if (d->parts[i].holders.n)
			return app_err_set(
			    e, -EBUSY, "disk '%s' has partition '%s' held by '%s' (%s); refusing to write",
			    d->path, d->parts[i].path, d->parts[i].holders.v[0],
			    holder_kind(d->parts[i].holders.v[0]));
	for (size_t i = 0; i < d->holders.n; i++) {
		const char *h = strstr(d->holders.v[i], " held by ");

		if (h && strncmp(d->holders.v[i], d->name, strlen(d->name)) == 0 &&
		    d->holders.v[i][strlen(d->name)] == ' ')
			return app_err_set(e, -EBUSY, "disk '%s' is held by '%s' (%s); refusing to write",
					   d->path, h + 9, holder_kind(h + 9));
	}
	return 0;
}

/* ---- loop devices: judged by what backs them ----------------------------
 *
 * A loop device writes through to its backing block device or file, so the
 * policy follows the stack both ways: a loop is judged by what backs it (a
 * block device goes through the policy itself), and a disk or file that backs
 * a loop device in use (mounted, held, swap, live, or backing one in use
 * itself) is refused, and so is every other loop on it. */

#define LOOP_DEPTH_MAX 8 /* stacks deeper than this are refused, not followed */

/* What a disk is to the kernel: a block device number or a file (dev+inode). */
struct bkey {
	bool blk, valid;
	unsigned long long dev; /* blk: st_rdev; file: st_dev */
	unsigned long long ino;
};

static bool bkey_eq(const struct bkey *a, const struct bkey *b)
{
	return a->valid && b->valid && a->blk == b->blk && a->dev == b->dev && (a->blk || a->ino == b->ino);
}

static bool is_loop(const struct hw_disk *d)
{
	return !d->is_file && strncmp(d->name, "loop", 4) == 0;
}

static struct bkey key_of(const struct hw_disk *d)
{
	struct bkey k = { 0 };
	struct stat st;

	if (!d->is_file) {
		k.blk = k.valid = true;
		k.dev = makedev(d->maj, d->min);
	} else if (stat(d->dev, &st) == 0) {
		k.valid = true;
		k.dev = st.st_dev;
		k.ino = st.st_ino;
	}
	return k;
}

/* The backing of loop device d: LOOP_GET_STATUS64 on the device (dev+inode
 * of the backing file, rdev when it is a block device); on a fixture tree
 * (no real loop device) the sysfs loop/backing_file path under the root. */
static struct bkey loop_backing(const struct hw_disk *d, const char *root)
{
	struct bkey k = { 0 };
	struct loop_info64 li;
	struct stat st;
	int fd = open(d->dev, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd >= 0) {
		int r = ioctl(fd, LOOP_GET_STATUS64, &li);

		close(fd);
		if (r == 0) {
			k.valid = true;
			k.blk = li.lo_rdevice != 0;
			k.dev = k.blk ? li.lo_rdevice : li.lo_device;
			k.ino = k.blk ? 0 : li.lo_inode;
			return k;
		}
	}
	if (d->backing && *d->backing) {
		char *p = strcmp(root, "/") == 0 ? xstrdup(d->backing) : xasprintf("%s/%s", root, d->backing);

		if (stat(p, &st) == 0) {
			k.valid = true;
			k.blk = S_ISBLK(st.st_mode);
			k.dev = k.blk ? st.st_rdev : st.st_dev;
			k.ino = k.blk ? 0 : st.st_ino;
		}
		free(p);
	}
	return k;
}

/* The inventory disk that block device number dev is, or holds as a
 * partition (sysfs /sys/dev/block/MAJ:MIN -> .../block/DISK/PART). */
static const struct hw_disk *disk_of_devno(const struct hw_inventory *inv, unsigned long long dev,
					   const char *root)
{
	char link[PATH_MAX], *p, *slash;
	ssize_t n;

	for (size_t i = 0; i < inv->n; i++)
		if (!inv->v[i].is_file && makedev(inv->v[i].maj, inv->v[i].min) == dev)
			return &inv->v[i];
	p = strcmp(root, "/") == 0 ? xasprintf("/sys/dev/block/%u:%u", major(dev), minor(dev))
				   : xasprintf("%s/sys/dev/block/%u:%u", root, major(dev), minor(dev));
	n = readlink(p, link, sizeof(link) - 1);
	free(p);
	if (n <= 0)
		return NULL;
	link[n] = '\0';
	slash = strrchr(link, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	slash = strrchr(link, '/');
	for (size_t i = 0; slash && i < inv->n; i++)
		if (!inv->v[i].is_file && strcmp(inv->v[i].name, slash + 1) == 0)
			return &inv->v[i];
	return NULL;
}

static int check_stack(const struct hw_inventory *inv, const struct hw_disk *d, const char *root, int depth,
		       struct app_err *e);

/* Refuse when a loop device backed by k (the disk or file called name; skip:
 * the loop device we came from) is in use. */
static int check_users(const struct hw_inventory *inv, const char *name, const struct hw_disk *skip,
		       const struct bkey *k, const char *root, int depth, struct app_err *e)
{
	for (size_t i = 0; i < inv->n; i++) {
		const struct hw_disk *l = &inv->v[i];
		struct bkey lk;
		int r;

		if (l == skip || !is_loop(l))
			continue;
		lk = loop_backing(l, root);
		if (!bkey_eq(&lk, k))
			continue;
		if (depth >= LOOP_DEPTH_MAX)
			return app_err_set(e, -ELOOP,
					   "disk '%s' is part of a stack of loop devices deeper than %d; "
					   "refusing to write",
					   name, LOOP_DEPTH_MAX);
		r = refuse_in_use(l, e);
		if (r == 0) {
			struct bkey up = key_of(l);

			r = check_users(inv, l->path, l, &up, root, depth + 1, e);
		}
		if (r < 0)
			return app_err_prefix(e, "disk '%s' backs loop device '%s'", name, l->path);
	}
	return 0;
}

/* d's own stack: whatever backs it (when d is a loop device), whatever it backs. */
static int check_stack(const struct hw_inventory *inv, const struct hw_disk *d, const char *root, int depth,
		       struct app_err *e)
{
	struct bkey k = key_of(d), b;
	const struct hw_disk *low;
	int r;

	if (depth >= LOOP_DEPTH_MAX)
		return app_err_set(
		    e, -ELOOP,
		    "disk '%s' is part of a stack of loop devices deeper than %d; refusing to write", d->path,
		    LOOP_DEPTH_MAX);
	r = check_users(inv, d->path, d, &k, root, depth, e);
	if (r < 0 || !is_loop(d))
		return r;
	b = loop_backing(d, root);
	if (!b.valid)
		return app_err_set(e, -ENOENT,
				   "disk '%s' is a loop device whose backing file cannot be found ('%s'); "
				   "refusing to write",
				   d->path, d->backing ? d->backing : "?");
	if (!b.blk) {
		/* a file: every other loop on it must be idle */
		r = check_users(inv, d->backing ? d->backing : "?", d, &b, root, depth + 1, e);
		if (r < 0)
			return app_err_prefix(e, "disk '%s' is a loop device on '%s'", d->path,
					      d->backing ? d->backing : "?");
		return 0;
	}
	low = disk_of_devno(inv, b.dev, root);
	if (!low)
		return app_err_set(
		    e, -EPERM,
		    "disk '%s' is a loop device on '%s', which is not a disk this machine lists; "
		    "refusing to write",
		    d->path, d->backing ? d->backing : "?");
	r = refuse_in_use(low, e);
	if (r == 0)
		r = check_stack(inv, low, root, depth + 1, e);
	if (r < 0)
		return app_err_prefix(e, "disk '%s' is a loop device on '%s'", d->path,
				      d->backing ? d->backing : low->path);
	return 0;
}

static int check_selectors(const struct disk_claim *c, const struct hw_inventory *inv,
			   const struct hw_disk *d, struct app_err *e)
{
	struct selector_result res = { 0 };
	struct app_err se = { 0 };
	size_t idx = (size_t)(d - inv->v);
	int r = selector_resolve_node(c->model, c->node, inv, &res, &se);

	if (r < 0) {
		selector_result_free(&res);
		return app_err_set(e, r, "disk '%s': the selectors of %s", d->path, se.msg);
	}
	for (size_t i = 0; i < res.n; i++) {
		if (c->role != DISK_ROLE_ANY && res.v[i].role != c->role)
			continue;
		for (size_t k = 0; k < res.v[i].n_disks; k++)
			if (res.v[i].disks[k] == idx) {
				selector_result_free(&res);
				return 0;
			}
	}
	selector_result_free(&res);
	return app_err_set(e, -EPERM,
			   "disk '%s' is not named by any %s selector of node '%s'; refusing to write",
			   d->path, disk_role_name(c->role), c->node->name ? c->node->name : "?");
}

int disk_policy_check_inv(const struct disk_claim *c, const struct hw_inventory *inv, const struct hw_disk *d,
			  struct app_err *e)
{
	char have[32], want[32];
	int r;

	if (!c || !c->path || !*c->path)
		return app_err_set(e, -EINVAL, "no disk given");
	if (!d)
		d = hw_find(inv, c->path);
	if (!d) {
		struct stat st;

		for (size_t i = 0; i < inv->n; i++)
			for (size_t k = 0; k < inv->v[i].n_parts; k++)
				if (strcmp(inv->v[i].parts[k].path, c->path) == 0)
					return app_err_set(
					    e, -EINVAL,
					    "'%s' is a partition of disk '%s', not a whole disk; "
					    "refusing to write",
					    c->path, inv->v[i].path);
		if (stat(c->path, &st) != 0)
			return app_err_set(e, -ENOENT, "disk '%s' does not exist", c->path);
		return app_err_set(e, -EINVAL, "'%s' is not a disk this machine lists; refusing to write",
				   c->path);
	}
	r = refuse_in_use(d, e);
	if (r == 0)
		r = check_stack(inv, d, hw_root(&(struct hw_opts){ .root = c->root }), 0, e);
	if (r < 0)
		return r;
	if (d->read_only)
		return app_err_set(e, -EROFS, "disk '%s' is read-only; refusing to write", d->path);
	if (c->min_size && d->size < c->min_size)
		return app_err_set(
		    e, -ENOSPC, "disk '%s' is %s, smaller than the minimum %s; refusing to write", d->path,
		    fmt_bytes(d->size, have, sizeof(have)), fmt_bytes(c->min_size, want, sizeof(want)));
	if (c->model && c->node)
		return check_selectors(c, inv, d, e);
	return 0;
}

/* Inventory for a standalone check: the whole machine (no libblkid probing:
 * the policy needs sysfs facts only), plus the image file when path is one. */
static int claim_inventory(const struct disk_claim *c, struct hw_inventory *inv, struct app_err *e)
{
	struct hw_opts o = { .root = c->root, .live = c->live, .no_probe = true };
	struct stat st;
	int r = hw_inventory(&o, inv, e);

	if (r < 0)
		return r;
	if (hw_find(inv, c->path) || stat(c->path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	hw_inventory_free(inv);
	o.files = &c->path;
	o.n_files = 1;
	return hw_inventory(&o, inv, e);
}

/* disk_policy_check and disk_open_write: the same as their _inv forms on an
 * inventory of their own (open_write: open the disk too). */
static int claim_standalone(const struct disk_claim *c, bool open_write, int extra_flags, struct app_err *e)
{
	struct hw_inventory inv = { 0 };
	int r;

	if (!c || !c->path || !*c->path)
		return app_err_set(e, -EINVAL, "no disk given");
	r = claim_inventory(c, &inv, e);
	if (r == 0)
		r = open_write ? disk_open_write_inv(c, &inv, NULL, extra_flags, e)
			       : disk_policy_check_inv(c, &inv, NULL, e);
	hw_inventory_free(&inv);
	return r;
}

int disk_policy_check(const struct disk_claim *c, struct app_err *e)
{
	return claim_standalone(c, false, 0, e);
}

int disk_open_write_inv(const struct disk_claim *c, const struct hw_inventory *inv, const struct hw_disk *d,
			int extra_flags, struct app_err *e)
{
	struct stat st;
	const char *dev;
	int r, fd, flags = O_RDWR | O_CLOEXEC | extra_flags;

	if (!d)
		d = hw_find(inv, c->path);
	r = disk_policy_check_inv(c, inv, d, e);
	if (r < 0)
		return r;
	dev = d->dev;
	if (stat(dev, &st) != 0)
		return app_err_set(e, -errno, "disk '%s': cannot stat '%s': %s", d->path, dev,
				   strerror(errno));
	if (S_ISBLK(st.st_mode))
		flags |= O_EXCL;
	else if (!S_ISREG(st.st_mode))
		return app_err_set(e, -EINVAL, "disk '%s': '%s' is neither a block device nor an image file",
				   d->path, dev);
	fd = open(dev, flags);
	if (fd < 0) {
		r = -errno;
		if (r == -EBUSY)
			return app_err_set(
			    e, r,
			    "disk '%s' is busy: another program has it open exclusively; refusing to write",
			    d->path);
		if (r == -EROFS || r == -EACCES)
			return app_err_set(e, r, "disk '%s' is read-only; refusing to write", d->path);
		return app_err_set(e, r, "disk '%s': cannot open for writing: %s", d->path, strerror(-r));
	}
	return fd;
}

int disk_open_write(const struct disk_claim *c, int extra_flags, struct app_err *e)
{
	return claim_standalone(c, true, extra_flags, e);
}

/* ---- identity -------------------------------------------------------------- */

/* s without blanks (sysfs serials are padded): '_' for each run of them */
static void put_word(struct buf *b, const char *key, const char *s)
{
	bool blank = false;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return;
	buf_printf(b, "%s%s=", b->len ? " " : "", key);
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n') {
			blank = true;
			continue;
		}
		if (blank)
			buf_append(b, "_", 1);
		blank = false;
		buf_append(b, s, 1);
	}
}

int disk_identity(const struct hw_disk *d, const char *root, char *out, size_t n)
{
	struct buf b = { 0 };
	struct bkey k;
	int r = 0;

	if (!root)
		root = "/";
	if (d->is_file) {
		k = key_of(d);
		if (k.valid)
			buf_printf(&b, "file=%u:%u:%llu", major(k.dev), minor(k.dev), k.ino);
	} else if (is_loop(d)) {
		k = loop_backing(d, root);
		if (k.valid && k.blk)
			buf_printf(&b, "loop-blk=%u:%u", major(k.dev), minor(k.dev));
		else if (k.valid)
			buf_printf(&b, "loop-file=%u:%u:%llu", major(k.dev), minor(k.dev), k.ino);
	} else {
		put_word(&b, "serial", d->serial ? d->serial : "");
		put_word(&b, "wwid", d->wwid ? d->wwid : "");
	}
	if (!b.len)
		r = -ENODATA;
	snprintf(out, n, "%s", b.data ? b.data : "");
	buf_free(&b);
	return r;
}

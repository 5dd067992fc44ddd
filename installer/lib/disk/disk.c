/* The one disk-safety policy. Every writer (image, wipe, install) comes
 * through here; each refusal names the disk and the reason. */
#include "disk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

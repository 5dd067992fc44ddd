/* Disk inventory from sysfs + libblkid below a configurable root. */
#include "disk/hw.h"

#include <blkid/blkid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/fs.h>

#include "base/err.h"
#include "base/util.h"

/* ---- small helpers ------------------------------------------------------ */

static void sl_add(struct strlist *l, char *s)
{
	l->v = xrealloc(l->v, sizeof(*l->v) * (l->n + 1));
	l->v[l->n++] = s;
}

static void sl_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Trimmed content of a small sysfs file, or NULL. */
static char *read_attr(const char *dir, const char *attr)
{
	char *p = xasprintf("%s/%s", dir, attr);
	char buf[512];
	ssize_t n;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	char *s, *end;

	free(p);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	s = buf;
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\0'))
		*--end = '\0';
	if (!*s)
		return NULL;
	return xstrdup(s);
}

static uint64_t read_u64(const char *dir, const char *attr, uint64_t def)
{
	char *s = read_attr(dir, attr);
	char *end;
	unsigned long long v;

	if (!s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		v = def;
	free(s);
	return v;
}

/* SCSI unit serial number from VPD page 0x80 (4-byte header, then ASCII). */
static char *read_vpd80(const char *dir)
{
	char *p = xasprintf("%s/device/vpd_pg80", dir);
	unsigned char buf[256];
	ssize_t n;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	size_t len, i = 4;

	free(p);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 4)
		return NULL;
	len = buf[3];
	if (len + 4 > (size_t)n)
		len = (size_t)n - 4;
	while (i < 4 + len && buf[i] == ' ')
		i++;
	while (len + 4 > i && buf[len + 3] == ' ')
		len--;
	if (len + 4 <= i)
		return NULL;
	return xstrndup((const char *)buf + i, len + 4 - i);
}

const char *hw_root(const struct hw_opts *o)
{
	const char *r = o ? o->root : NULL;

	if (!r || !*r)
		r = getenv("APPLIANCE_HW_ROOT");
	if (!r || !*r)
		r = "/";
	return r;
}

/* root + "/" + rel without doubling slashes. */
static char *under(const char *root, const char *rel)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n == 1 && root[0] == '/')
		return xasprintf("/%s", rel);
	return xasprintf("%.*s/%s", (int)n, root, rel);
}

/* ---- transport: one table of sysfs path fragments --------------------- */

static const struct {
	const char *fragment;
	const char *transport;
} transports[] = {
	{ "/nvme/", "nvme" }, { "/virtio", "virtio" },		 { "/usb", "usb" },   { "/mmc_host/", "mmc" },
	{ "/ata", "sata" },   { "/virtual/block/loop", "loop" }, { "/host", "scsi" },
};

static const char *transport_of(const char *sysdir, const char *name)
{
	char real[PATH_MAX];

	if (realpath(sysdir, real)) {
		for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
			if (strstr(real, transports[i].fragment))
				return transports[i].transport;
	}
	if (strncmp(name, "nvme", 4) == 0)
		return "nvme";
	if (strncmp(name, "loop", 4) == 0)
		return "loop";
	if (strncmp(name, "vd", 2) == 0)
		return "virtio";
	if (strncmp(name, "mmcblk", 6) == 0)
		return "mmc";
	return "unknown";
}

/* Virtual devices that are never install or Ceph disks. */
static const char *const skip_prefixes[] = { "dm-", "md", "ram", "zram", "sr", "fd", "nbd" };

static bool skip_name(const char *name)
{
	for (size_t i = 0; i < sizeof(skip_prefixes) / sizeof(skip_prefixes[0]); i++)
		if (strncmp(name, skip_prefixes[i], strlen(skip_prefixes[i])) == 0)
			return true;
	return false;
}

/* ---- libblkid ----------------------------------------------------------- */

void hw_sigs_free(struct hw_sig *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].type);
		free(v[i].usage);
		free(v[i].label);
		free(v[i].uuid);
	}
	free(v);
}

void hw_parts_free(struct hw_part *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].path);
		sl_free(&v[i].mounts);
		sl_free(&v[i].holders);
	}
	free(v);
}

static char *lookup(blkid_probe pr, const char *key)
{
	const char *v = NULL;

	if (blkid_probe_lookup_value(pr, key, &v, NULL) == 0 && v && *v)
		return xstrdup(v);
	return NULL;
}

/* Every signature of one region (like wipefs: walk blkid_do_probe). */
static int probe_region(int fd, uint64_t off, uint64_t size, int partno, bool parts, const char *what,
			struct hw_sig **v, size_t *n, struct app_err *e)
{
	blkid_probe pr = blkid_new_probe();

	if (!pr)
		return app_err_set(e, -ENOMEM, "%s: cannot create a libblkid probe", what);
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)off, (blkid_loff_t)size) != 0) {
		blkid_free_probe(pr);
		return app_err_set(e, -EIO, "%s: libblkid cannot read %llu bytes at offset %llu", what,
				   (unsigned long long)size, (unsigned long long)off);
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE |
						  BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID |
						  BLKID_SUBLKS_BADCSUM);
	blkid_probe_enable_partitions(pr, parts ? 1 : 0);
	if (parts)
		blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);
	/* like wipefs --no-act: hide each magic found and step back, so that what
	 * sits behind it (the backup GPT header, the protective MBR) shows up too */
	for (int rounds = 0; rounds < 64 && blkid_do_probe(pr) == 0; rounds++) {
		const char *moff = NULL, *magic = NULL;
		size_t mlen = 0;
		bool pt = false;
		struct hw_sig s = { 0 };

		if (blkid_probe_lookup_value(pr, "SBMAGIC_OFFSET", &moff, NULL) == 0) {
			blkid_probe_lookup_value(pr, "SBMAGIC", &magic, &mlen);
		} else if (blkid_probe_lookup_value(pr, "PTMAGIC_OFFSET", &moff, NULL) == 0) {
			blkid_probe_lookup_value(pr, "PTMAGIC", &magic, &mlen);
			pt = true;
		} else {
			continue;
		}
		s.offset = off + strtoull(moff, NULL, 10);
		s.length = mlen;
		s.partno = partno;
		s.type = lookup(pr, pt ? "PTTYPE" : "TYPE");
		if (!s.type)
			s.type = xstrdup("unknown");
		s.usage = pt ? xstrdup("partition_table") : lookup(pr, "USAGE");
		s.label = pt ? NULL : lookup(pr, "LABEL");
		s.uuid = lookup(pr, pt ? "PTUUID" : "UUID");
		*v = xrealloc(*v, sizeof(**v) * (*n + 1));
		(*v)[(*n)++] = s;
		if (mlen && blkid_probe_hide_range(pr, strtoull(moff, NULL, 10), mlen) == 0)
			blkid_probe_step_back(pr);
	}
	blkid_free_probe(pr);
	return 0;
}

/* Partition extents from the partition table. */
static int probe_parts(int fd, uint64_t size, struct hw_part **ret, size_t *n, char **pttype)
{
	blkid_probe pr = blkid_new_probe();
	blkid_partlist ls;
	int np;

	if (!pr)
		return 0;
	if (blkid_probe_set_device(pr, fd, 0, (blkid_loff_t)size) != 0)
		goto out;
	blkid_probe_enable_superblocks(pr, 0);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_FORCE_GPT);
	ls = blkid_probe_get_partitions(pr);
	if (!ls)
		goto out;
	if (pttype && blkid_partlist_get_table(ls))
		*pttype = xstrdup(blkid_parttable_get_type(blkid_partlist_get_table(ls)));
	np = blkid_partlist_numof_partitions(ls);
	for (int i = 0; i < np; i++) {
		blkid_partition p = blkid_partlist_get_partition(ls, i);
		struct hw_part hp = { 0 };

		if (!p || blkid_partition_is_extended(p))
			continue;
		hp.partno = blkid_partition_get_partno(p);
		hp.start = (uint64_t)blkid_partition_get_start(p) * 512;
		hp.size = (uint64_t)blkid_partition_get_size(p) * 512;
		*ret = xrealloc(*ret, sizeof(**ret) * (*n + 1));
		(*ret)[(*n)++] = hp;
	}
out:
	blkid_free_probe(pr);
	return 0;
}

/* libblkid reads a region in small pieces, one after the other, without
 * readahead (it sets POSIX_FADV_RANDOM): some 130 reads per disk and
 * partition, each a wait for the device. Most of them fall in two windows it
 * reads whole anyway: the first and the last 512 KiB, where its zfs prober
 * reads the four 256 KiB ZFS labels (util-linux libblkid/src/superblocks/zfs.c:
 * at 0, 256 KiB, and 512 and 256 KiB before the end rounded down to 256 KiB);
 * GPT, MBR, md, DDF and most superblocks lie inside them. Asking for both
 * windows first (POSIX_FADV_WILLNEED: the kernel reads them in a few large
 * requests, without waiting) makes those reads page-cache hits. Only a hint:
 * every byte libblkid looks at still comes from the device, read now. */
#define PROBE_WINDOW (512 * 1024)
#define ZFS_LABEL (256 * 1024)

static void prefetch_region(int fd, uint64_t off, uint64_t size)
{
	uint64_t tail = PROBE_WINDOW + size % ZFS_LABEL;

	posix_fadvise(fd, (off_t)off, (off_t)(size < PROBE_WINDOW ? size : PROBE_WINDOW),
		      POSIX_FADV_WILLNEED);
	if (size > tail)
		posix_fadvise(fd, (off_t)(off + size - tail), (off_t)tail, POSIX_FADV_WILLNEED);
}

int hw_probe_fd(int fd, uint64_t size, const char *what, struct hw_sig **ret_sigs, size_t *ret_n,
		struct hw_part **ret_parts, size_t *ret_nparts, char **ret_pttype, struct app_err *e)
{
	struct hw_sig *sigs = NULL;
	struct hw_part *parts = NULL;
	size_t ns = 0, np = 0;
	char *pttype = NULL;
	int r;

	prefetch_region(fd, 0, size);
	r = probe_region(fd, 0, size, 0, true, what, &sigs, &ns, e);
	if (r < 0)
		return r;
	probe_parts(fd, size, &parts, &np, &pttype);
	for (size_t i = 0; i < np; i++) /* all at once: their reads go out together */
		if (parts[i].size && parts[i].start + parts[i].size <= size)
			prefetch_region(fd, parts[i].start, parts[i].size);
	for (size_t i = 0; i < np; i++) {
		if (parts[i].size == 0 || parts[i].start + parts[i].size > size)
			continue;
		r = probe_region(fd, parts[i].start, parts[i].size, parts[i].partno, false, what, &sigs, &ns,
				 e);
		if (r < 0) {
			hw_sigs_free(sigs, ns);
			hw_parts_free(parts, np);
			free(pttype);
			return r;
		}
	}
	*ret_sigs = sigs;
	*ret_n = ns;
	if (ret_parts) {
		*ret_parts = parts;
		*ret_nparts = np;
	} else {
		hw_parts_free(parts, np);
	}
	if (ret_pttype)
		*ret_pttype = pttype;
	else
		free(pttype);
	return 0;
}

/* ---- mounts, swaps, live medium ---------------------------------------- */

struct mnt {
	unsigned maj, min;
	char *source;
	char *target;
};

struct mnts {
	struct mnt *v;
	size_t n;
	struct strlist swaps; /* swap device paths */
};

/* mountinfo escapes spaces etc. as \040 */
static char *unoctal(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] && s[3]) {
			*o++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static void read_mounts(const char *root, struct mnts *m)
{
	char *p = under(root, "proc/self/mountinfo");
	FILE *f = fopen(p, "re");
	char *line = NULL;
	size_t cap = 0;

	free(p);
	if (f) {
		while (getline(&line, &cap, f) > 0) {
			unsigned maj, min;
			char target[4096], source[4096];
			char *dash = strstr(line, " - ");

			if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, target) != 3)
				continue;
			source[0] = '\0';
			if (dash)
				sscanf(dash + 3, "%*s %4095s", source);
			m->v = xrealloc(m->v, sizeof(*m->v) * (m->n + 1));
			m->v[m->n].maj = maj;
			m->v[m->n].min = min;
			m->v[m->n].target = unoctal(target);
			m->v[m->n].source = unoctal(source);
			m->n++;
		}
		fclose(f);
	}
	p = under(root, "proc/swaps");
	f = fopen(p, "re");
	free(p);
	if (f) {
		bool first = true;

		while (getline(&line, &cap, f) > 0) {
			char name[4096];

			if (first) {
				first = false;
				continue;
			}
			if (sscanf(line, "%4095s", name) == 1)
				sl_add(&m->swaps, unoctal(name));
		}
		fclose(f);
	}
	free(line);
}

static void mnts_free(struct mnts *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].source);
		free(m->v[i].target);
	}
	free(m->v);
	sl_free(&m->swaps);
}

/* Is swap file s the device /dev/NAME (or its device number)? */
static bool swap_is(const char *root, const char *s, const char *name, unsigned maj, unsigned min)
{
	struct stat st;
	const char *b = strrchr(s, '/');

	if (b && strcmp(b + 1, name) == 0 && strncmp(s, "/dev/", 5) == 0)
		return true;
	if (strcmp(root, "/") == 0 && stat(s, &st) == 0 && S_ISBLK(st.st_mode) && major(st.st_rdev) == maj &&
	    minor(st.st_rdev) == min)
		return true;
	return false;
}

/* Mount points where the live system's medium usually sits. */
static const char *const live_mounts[] = { "/", "/run/live/medium", "/lib/live/mount/medium",
					   "/run/initramfs/live", "/cdrom" };

/* ---- building one disk -------------------------------------------------- */

static void parse_devno(const char *dir, unsigned *maj, unsigned *min)
{
	char *s = read_attr(dir, "dev");

	*maj = *min = 0;
	if (s)
		sscanf(s, "%u:%u", maj, min);
	free(s);
}

static void add_holders(const char *dir, const char *name, struct strlist *mine, struct strlist *disk)
{
	char *p = xasprintf("%s/holders", dir);
	DIR *d = opendir(p);
	struct dirent *de;

	free(p);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		sl_add(mine, xstrdup(de->d_name));
		sl_add(disk, xasprintf("%s held by %s", name, de->d_name));
	}
	closedir(d);
}

static void add_mounts(const struct mnts *m, unsigned maj, unsigned min, const char *path,
		       struct strlist *mine, struct strlist *disk)
{
	if (maj == 0 && min == 0)
		return;
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i].maj != maj || m->v[i].min != min)
			continue;
		sl_add(mine, xstrdup(m->v[i].target));
		sl_add(disk, xasprintf("%s on %s", path, m->v[i].target));
	}
}

static int part_cmp(const void *a, const void *b)
{
	const struct hw_part *x = a, *y = b;

	return x->partno - y->partno;
}

/* Partitions from sysfs: subdirectories with a "partition" attribute. */
static void sysfs_parts(const char *sysdir, struct hw_disk *d, const struct mnts *m, const char *root)
{
	DIR *dir = opendir(sysdir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char *pd, *pn;
		struct hw_part hp = { 0 };
		unsigned maj, min;

		if (de->d_name[0] == '.' || strncmp(de->d_name, d->name, strlen(d->name)) != 0)
			continue;
		pd = xasprintf("%s/%s", sysdir, de->d_name);
		pn = read_attr(pd, "partition");
		if (!pn) {
			free(pd);
			continue;
		}
		hp.partno = atoi(pn);
		free(pn);
		hp.name = xstrdup(de->d_name);
		hp.path = xasprintf("/dev/%s", de->d_name);
		hp.start = read_u64(pd, "start", 0) * 512;
		hp.size = read_u64(pd, "size", 0) * 512;
		parse_devno(pd, &maj, &min);
		add_holders(pd, hp.name, &hp.holders, &d->holders);
		add_mounts(m, maj, min, hp.path, &hp.mounts, &d->mounts);
		for (size_t i = 0; i < m->swaps.n; i++)
			if (swap_is(root, m->swaps.v[i], hp.name, maj, min))
				hp.swap = d->swap = true;
		free(pd);
		d->parts = xrealloc(d->parts, sizeof(*d->parts) * (d->n_parts + 1));
		d->parts[d->n_parts++] = hp;
	}
	closedir(dir);
	if (d->n_parts)
		qsort(d->parts, d->n_parts, sizeof(*d->parts), part_cmp);
}

/* Merge partition extents from the partition table that sysfs does not know
 * (image files, loop devices without partition nodes). */
static void merge_table_parts(struct hw_disk *d, struct hw_part *tp, size_t ntp)
{
	for (size_t i = 0; i < ntp; i++) {
		bool known = false;

		for (size_t j = 0; j < d->n_parts; j++)
			if (d->parts[j].partno == tp[i].partno)
				known = true;
		if (known)
			continue;
		d->parts = xrealloc(d->parts, sizeof(*d->parts) * (d->n_parts + 1));
		d->parts[d->n_parts] = tp[i];
		d->parts[d->n_parts].name = xasprintf(
		    "%s%s%d", d->name,
		    (d->name[0] && d->name[strlen(d->name) - 1] >= '0' && d->name[strlen(d->name) - 1] <= '9')
			? "p"
			: "",
		    tp[i].partno);
		d->parts[d->n_parts].path = d->is_file ? xasprintf("%s#%d", d->path, tp[i].partno)
						       : xasprintf("/dev/%s", d->parts[d->n_parts].name);
		memset(&tp[i], 0, sizeof(tp[i]));
		d->n_parts++;
	}
	if (d->n_parts)
		qsort(d->parts, d->n_parts, sizeof(*d->parts), part_cmp);
}

void hw_probe_disk(struct hw_disk *d)
{
	struct app_err e = { 0 };
	struct hw_part *tp = NULL;
	size_t ntp = 0;
	int fd = open(d->dev, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		d->probe_error = xasprintf("cannot open '%s': %s", d->dev, strerror(errno));
		return;
	}
	if (d->is_file || d->size == 0) {
		struct stat st;
		uint64_t sz = 0;

		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			sz = (uint64_t)st.st_size;
		else if (ioctl(fd, BLKGETSIZE64, &sz) != 0)
			sz = 0;
		if (sz && (d->size == 0 || d->size > sz))
			d->size = sz;
	}
	if (hw_probe_fd(fd, d->size, d->path, &d->sigs, &d->n_sigs, &tp, &ntp, &d->pttype, &e) < 0)
		d->probe_error = xstrdup(e.msg);
	merge_table_parts(d, tp, ntp);
	hw_parts_free(tp, ntp);
	close(fd);
}

static void by_path_links(const char *root, struct hw_disk *d)
{
	char *dir = under(root, "dev/disk/by-path");
	DIR *dd = opendir(dir);
	struct dirent *de;

	if (dd) {
		while ((de = readdir(dd))) {
			char target[PATH_MAX], *lp;
			ssize_t n;
			const char *b;

			if (de->d_name[0] == '.')
				continue;
			lp = xasprintf("%s/%s", dir, de->d_name);
			n = readlink(lp, target, sizeof(target) - 1);
			free(lp);
			if (n <= 0)
				continue;
			target[n] = '\0';
			b = strrchr(target, '/');
			b = b ? b + 1 : target;
			if (strcmp(b, d->name) == 0)
				sl_add(&d->by_path, xasprintf("/dev/disk/by-path/%s", de->d_name));
		}
		closedir(dd);
	}
	free(dir);
}

static bool wanted(const struct hw_opts *o, const char *name)
{
	if (!o || !o->n_only)
		return true;
	for (size_t i = 0; i < o->n_only; i++) {
		const char *w = o->only[i];
		const char *b = strrchr(w, '/');

		if (strcmp(w, name) == 0 || (b && strcmp(b + 1, name) == 0))
			return true;
	}
	return false;
}

static int disk_from_sysfs(const char *root, const char *name, const struct mnts *m, struct hw_disk *d)
{
	char *sys = under(root, "sys/block");
	char *sysdir = xasprintf("%s/%s", sys, name);

	free(sys);
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->path = xasprintf("/dev/%s", name);
	d->dev = strcmp(root, "/") == 0 ? xstrdup(d->path) : under(root, d->path + 1);
	d->size = read_u64(sysdir, "size", 0) * 512;
	d->lsec = (uint32_t)read_u64(sysdir, "queue/logical_block_size", 512);
	d->psec = (uint32_t)read_u64(sysdir, "queue/physical_block_size", d->lsec);
	d->rotational = read_u64(sysdir, "queue/rotational", 0) != 0;
	d->discard = read_u64(sysdir, "queue/discard_max_bytes", 0) != 0;
	d->removable = read_u64(sysdir, "removable", 0) != 0;
	d->read_only = read_u64(sysdir, "ro", 0) != 0;
	d->model = read_attr(sysdir, "device/model");
	d->vendor = read_attr(sysdir, "device/vendor");
	d->serial = read_attr(sysdir, "device/serial");
	if (!d->serial)
		d->serial = read_attr(sysdir, "serial");
	if (!d->serial)
		d->serial = read_vpd80(sysdir);
	d->wwid = read_attr(sysdir, "wwid");
	if (!d->wwid)
		d->wwid = read_attr(sysdir, "device/wwid");
	d->transport = xstrdup(transport_of(sysdir, name));
	d->backing = read_attr(sysdir, "loop/backing_file");
	parse_devno(sysdir, &d->maj, &d->min);
	{
		struct strlist own = { 0 };

		add_holders(sysdir, name, &own, &d->holders);
		sl_free(&own);
	}
	{
		struct strlist own = { 0 };

		add_mounts(m, d->maj, d->min, d->path, &own, &d->mounts);
		sl_free(&own);
	}
	for (size_t i = 0; i < m->swaps.n; i++)
		if (swap_is(root, m->swaps.v[i], name, d->maj, d->min))
			d->swap = true;
	sysfs_parts(sysdir, d, m, root);
	by_path_links(root, d);
	free(sysdir);
	return 0;
}

void hw_disk_free(struct hw_disk *d)
{
	free(d->name);
	free(d->path);
	free(d->dev);
	sl_free(&d->by_path);
	free(d->model);
	free(d->vendor);
	free(d->serial);
	free(d->wwid);
	free(d->transport);
	free(d->backing);
	free(d->pttype);
	hw_parts_free(d->parts, d->n_parts);
	hw_sigs_free(d->sigs, d->n_sigs);
	sl_free(&d->mounts);
	sl_free(&d->holders);
	free(d->probe_error);
}

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void sl_copy(const struct strlist *a, struct strlist *b)
{
	memset(b, 0, sizeof(*b));
	for (size_t i = 0; i < a->n; i++)
		sl_add(b, xstrdup(a->v[i]));
}

void hw_disk_copy(const struct hw_disk *d, struct hw_disk *r)
{
	*r = *d;
	r->name = dup0(d->name);
	r->path = dup0(d->path);
	r->dev = dup0(d->dev);
	sl_copy(&d->by_path, &r->by_path);
	r->model = dup0(d->model);
	r->vendor = dup0(d->vendor);
	r->serial = dup0(d->serial);
	r->wwid = dup0(d->wwid);
	r->transport = dup0(d->transport);
	r->backing = dup0(d->backing);
	r->pttype = dup0(d->pttype);
	r->parts = d->n_parts ? xcalloc(d->n_parts, sizeof(*r->parts)) : NULL;
	for (size_t i = 0; i < d->n_parts; i++) {
		r->parts[i] = d->parts[i];
		r->parts[i].name = dup0(d->parts[i].name);
		r->parts[i].path = dup0(d->parts[i].path);
		sl_copy(&d->parts[i].mounts, &r->parts[i].mounts);
		sl_copy(&d->parts[i].holders, &r->parts[i].holders);
	}
	r->sigs = d->n_sigs ? xcalloc(d->n_sigs, sizeof(*r->sigs)) : NULL;
	for (size_t i = 0; i < d->n_sigs; i++) {
		r->sigs[i] = d->sigs[i];
		r->sigs[i].type = dup0(d->sigs[i].type);
		r->sigs[i].usage = dup0(d->sigs[i].usage);
		r->sigs[i].label = dup0(d->sigs[i].label);
		r->sigs[i].uuid = dup0(d->sigs[i].uuid);
	}
	sl_copy(&d->mounts, &r->mounts);
	sl_copy(&d->holders, &r->holders);
	r->probe_error = dup0(d->probe_error);
}

void hw_inventory_free(struct hw_inventory *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->n; i++)
		hw_disk_free(&inv->v[i]);
	free(inv->v);
	inv->v = NULL;
	inv->n = 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* Does (maj,min) belong to disk d or one of its partitions? */
static bool disk_has_devno(const char *root, const struct hw_disk *d, unsigned maj, unsigned min)
{
	char *sys, *pd;
	unsigned pm, pn;
	bool hit = false;

	if (d->is_file || (maj == 0 && min == 0))
		return false;
	if (d->maj == maj && d->min == min)
		return true;
	sys = under(root, "sys/block");
	for (size_t i = 0; i < d->n_parts && !hit; i++) {
		if (!d->parts[i].name)
			continue;
		pd = xasprintf("%s/%s/%s", sys, d->name, d->parts[i].name);
		parse_devno(pd, &pm, &pn);
		hit = pm == maj && pn == min && (pm || pn);
		free(pd);
	}
	free(sys);
	return hit;
}

static void mark_live(const char *root, const struct hw_opts *o, const struct mnts *m,
		      struct hw_inventory *inv)
{
	const char *live = o && o->live ? o->live : getenv("APPLIANCE_LIVE_DISK");

	for (size_t i = 0; i < m->n; i++) {
		bool is_live = false;

		for (size_t k = 0; k < sizeof(live_mounts) / sizeof(live_mounts[0]); k++)
			if (strcmp(m->v[i].target, live_mounts[k]) == 0)
				is_live = true;
		if (!is_live)
			continue;
		for (size_t j = 0; j < inv->n; j++)
			if (disk_has_devno(root, &inv->v[j], m->v[i].maj, m->v[i].min))
				inv->v[j].live = true;
	}
	if (live && *live) {
		struct stat st;
		char real[PATH_MAX];
		bool have_real = realpath(live, real) != NULL;
		bool have_st = stat(live, &st) == 0;

		for (size_t j = 0; j < inv->n; j++) {
			struct hw_disk *d = &inv->v[j];

			if (strcmp(live, d->path) == 0 || strcmp(live, d->dev) == 0 ||
			    (have_real && strcmp(real, d->dev) == 0))
				d->live = true;
			else if (have_st && S_ISBLK(st.st_mode) &&
				 disk_has_devno(root, d, major(st.st_rdev), minor(st.st_rdev)))
				d->live = true;
			else if (have_st && !S_ISBLK(st.st_mode) &&
				 disk_has_devno(root, d, major(st.st_dev), minor(st.st_dev)))
				d->live = true;
		}
	}
}

static int add_file(const char *path, struct hw_disk *d, struct app_err *e)
{
	struct stat st;
	const char *b = strrchr(path, '/');

	if (stat(path, &st) != 0)
		return app_err_set(e, -errno, "image file '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return app_err_set(e, -EINVAL, "image file '%s' is not a regular file", path);
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(b ? b + 1 : path);
	d->path = xstrdup(path);
	d->dev = xstrdup(path);
	d->transport = xstrdup("file");
	d->is_file = true;
	d->size = (uint64_t)st.st_size;
	d->lsec = d->psec = 512;
	d->discard = true; /* hole punching */
	d->read_only = access(path, W_OK) != 0;
	return 0;
}

int hw_inventory(const struct hw_opts *o, struct hw_inventory *ret, struct app_err *e)
{
	const char *root = hw_root(o);
	char *sys = under(root, "sys/block");
	DIR *dir = opendir(sys);
	struct dirent *de;
	char **names = NULL;
	size_t nn = 0;
	struct mnts m = { 0 };
	struct hw_inventory inv = { 0 };
	int r = 0;

	if (!dir) {
		r = app_err_set(e, -errno, "cannot list disks in '%s': %s", sys, strerror(errno));
		free(sys);
		return r;
	}
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || skip_name(de->d_name) || !wanted(o, de->d_name))
			continue;
		names = xrealloc(names, sizeof(*names) * (nn + 1));
		names[nn++] = xstrdup(de->d_name);
	}
	closedir(dir);
	if (nn)
		qsort(names, nn, sizeof(*names), name_cmp);
	read_mounts(root, &m);
	for (size_t i = 0; i < nn; i++) {
		struct hw_disk d;
		char *sd = xasprintf("%s/%s", sys, names[i]);
		bool hidden = read_u64(sd, "hidden", 0) != 0;
		uint64_t sz = read_u64(sd, "size", 0);

		free(sd);
		if (hidden || sz == 0)
			continue; /* NVMe multipath paths, detached loop devices, empty readers */
		disk_from_sysfs(root, names[i], &m, &d);
		inv.v = xrealloc(inv.v, sizeof(*inv.v) * (inv.n + 1));
		inv.v[inv.n++] = d;
	}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	free(sys);
	for (size_t i = 0; o && i < o->n_files; i++) {
		struct hw_disk d;

		r = add_file(o->files[i], &d, e);
		if (r < 0)
			goto fail;
		inv.v = xrealloc(inv.v, sizeof(*inv.v) * (inv.n + 1));
		inv.v[inv.n++] = d;
	}
	for (size_t i = 0; i < inv.n && !(o && o->no_probe); i++)
		hw_probe_disk(&inv.v[i]);
	inv.probed = !(o && o->no_probe);
	mark_live(root, o, &m, &inv);
	mnts_free(&m);
	*ret = inv;
	return 0;
fail:
	mnts_free(&m);
	hw_inventory_free(&inv);
	return r;
}

const struct hw_disk *hw_find(const struct hw_inventory *inv, const char *path)
{
	char real[PATH_MAX];
	bool have_real = realpath(path, real) != NULL;

	for (size_t i = 0; i < inv->n; i++) {
		const struct hw_disk *d = &inv->v[i];

		if (strcmp(path, d->path) == 0 || strcmp(path, d->dev) == 0)
			return d;
		for (size_t k = 0; k < d->by_path.n; k++)
			if (strcmp(path, d->by_path.v[k]) == 0)
				return d;
	}
	if (have_real)
		for (size_t i = 0; i < inv->n; i++) {
			char dreal[PATH_MAX];

			if (realpath(inv->v[i].dev, dreal) && strcmp(real, dreal) == 0)
				return &inv->v[i];
		}
	return NULL;
}

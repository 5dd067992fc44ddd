/* GPT edits through libfdisk; see partition.h. */
#include "image/partition.h"

#include <errno.h>
#include <libfdisk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"

#define MIB (1024ull * 1024)

static int open_gpt(int fd, const char *path, bool readonly, struct fdisk_context **ret, struct app_err *e)
{
	struct fdisk_context *cxt = fdisk_new_context();
	int r;

	if (!cxt)
		return app_err_set(e, -ENOMEM, "cannot read the partition table of '%s'", path);
	r = fdisk_assign_device_by_fd(cxt, fd, path, readonly);
	if (r < 0) {
		fdisk_unref_context(cxt);
		return app_err_set(e, r, "cannot read the partition table of '%s': %s", path, strerror(-r));
	}
	if (!fdisk_is_labeltype(cxt, FDISK_DISKLABEL_GPT)) {
		fdisk_deassign_device(cxt, 1);
		fdisk_unref_context(cxt);
		return app_err_set(e, -EINVAL, "'%s' has no GPT partition table", path);
	}
	*ret = cxt;
	return 0;
}

static void close_gpt(struct fdisk_context *cxt)
{
	if (!cxt)
		return;
	fdisk_deassign_device(cxt, 1);
	fdisk_unref_context(cxt);
}

static int list(struct fdisk_context *cxt, const char *path, struct partition_entry *ret, unsigned max,
		unsigned *n, struct app_err *e)
{
	struct fdisk_table *tb = NULL;
	struct fdisk_iter *itr;
	struct fdisk_partition *pa;
	unsigned long ssz = fdisk_get_sector_size(cxt);
	int r = fdisk_get_partitions(cxt, &tb);

	*n = 0;
	if (r < 0)
		return app_err_set(e, r, "cannot list the partitions of '%s'", path);
	fdisk_table_sort_partitions(tb, fdisk_partition_cmp_start);
	itr = fdisk_new_iter(FDISK_ITER_FORWARD);
	while (fdisk_table_next_partition(tb, itr, &pa) == 0) {
		struct partition_entry *p;
		struct fdisk_parttype *t;
		const char *name;
		if (!fdisk_partition_has_start(pa) || !fdisk_partition_has_size(pa))
			continue;
		if (*n == max)
			break;
		p = &ret[(*n)++];
		memset(p, 0, sizeof(*p));
		p->partno = (unsigned)fdisk_partition_get_partno(pa) + 1;
		p->start = fdisk_partition_get_start(pa) * ssz;
		p->size = fdisk_partition_get_size(pa) * ssz;
		name = fdisk_partition_get_name(pa);
		snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
		t = fdisk_partition_get_type(pa);
		snprintf(p->type, sizeof(p->type), "%s",
			 t && fdisk_parttype_get_name(t) ? fdisk_parttype_get_name(t) : "");
	}
	fdisk_free_iter(itr);
	fdisk_unref_table(tb);
	return 0;
}

int partition_list(int fd, const char *path, struct partition_entry *ret, unsigned max, unsigned *n,
		   uint64_t *disk_size, struct app_err *e)
{
	struct fdisk_context *cxt = NULL;
	int r = open_gpt(fd, path, true, &cxt, e);

	if (r < 0)
		return r;
	r = list(cxt, path, ret, max, n, e);
	if (disk_size)
		*disk_size = fdisk_get_nsectors(cxt) * fdisk_get_sector_size(cxt);
	close_gpt(cxt);
	return r;
}

int partition_list_head(const void *head, size_t len, uint64_t image_size, struct partition_entry *ret,
			unsigned max, unsigned *n, struct app_err *e)
{
	int fd = memfd_create("image-head", MFD_CLOEXEC), r;

	*n = 0;
	if (fd < 0)
		return app_err_set(e, -errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)image_size) < 0 || pwrite(fd, head, len, 0) != (ssize_t)len) {
		r = app_err_set(e, -errno, "cannot stage the image's partition table: %s", strerror(errno));
		close(fd);
		return r;
	}
	r = partition_list(fd, "image", ret, max, n, NULL, e);
	close(fd);
	return r;
}

static int write_label(struct fdisk_context *cxt, int fd, const char *path, struct app_err *e)
{
	int r = fdisk_write_disklabel(cxt);

	if (r < 0)
		return app_err_set(e, r, "cannot write the partition table of '%s': %s", path, strerror(-r));
	if (fsync(fd) < 0)
		return app_err_set(e, -errno, "cannot sync '%s': %s", path, strerror(errno));
	return 0;
}

int partition_relocate_backup(int fd, const char *path, bool *moved, struct app_err *e)
{
	struct fdisk_context *cxt = NULL;
	int r = open_gpt(fd, path, false, &cxt, e);

	*moved = false;
	if (r < 0)
		return r;
	/* libfdisk notices a backup header short of the end on probe, relocates it
	 * in memory and marks the label changed; writing puts it at the end. */
	if (fdisk_label_is_changed(fdisk_get_label(cxt, NULL))) {
		r = write_label(cxt, fd, path, e);
		*moved = r == 0;
	}
	close_gpt(cxt);
	return r;
}

/* The metal-iso partition's GUID, derived from the disk's GUID: two installs
 * of the same image and config give byte-identical disks (libfdisk would pick
 * a random one). RFC 4122 version-4 layout of sha256(disk GUID || name). */
static int stable_partition_uuid(struct fdisk_context *cxt, struct fdisk_partition *pa)
{
	char *disk_id = NULL, *seed, hex[65], uuid[37];
	int r = fdisk_get_disklabel_id(cxt, &disk_id);

	if (r < 0 || !disk_id)
		return r < 0 ? r : -EINVAL;
	seed = xasprintf("%s/%s", disk_id, PARTITION_CONFIG_NAME);
	sha256_hex(seed, strlen(seed), hex);
	free(seed);
	free(disk_id);
	hex[12] = '4';		       /* version 4 */
	hex[16] = "89ab"[hex[16] % 4]; /* RFC 4122 variant */
	snprintf(uuid, sizeof(uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return fdisk_partition_set_uuid(pa, uuid);
}

int partition_config(int fd, const char *path, uint64_t bytes, bool apply, struct partition_entry *ret,
		     enum partition_config_action *action, struct app_err *e)
{
	struct fdisk_context *cxt = NULL;
	struct partition_entry parts[128];
	const struct partition_entry *found = NULL, *last = NULL;
	struct fdisk_partition *pa = NULL;
	struct fdisk_parttype *type;
	unsigned n = 0;
	unsigned long ssz;
	uint64_t want, start, last_lba;
	size_t partno = 0;
	int r = open_gpt(fd, path, !apply, &cxt, e);

	if (r < 0)
		return r;
	r = list(cxt, path, parts, 128, &n, e);
	if (r < 0)
		goto out;
	ssz = fdisk_get_sector_size(cxt);
	last_lba = fdisk_get_last_lba(cxt);
	want = (bytes + MIB - 1) / MIB * MIB;
	if (want == 0)
		want = MIB;
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(parts[i].name, PARTITION_CONFIG_NAME) == 0) {
			if (found) {
				r = app_err_set(
				    e, -EINVAL,
				    "'%s' has two partitions named '%s' (%u and %u); refusing to guess", path,
				    PARTITION_CONFIG_NAME, found->partno, parts[i].partno);
				goto out;
			}
			found = &parts[i];
		}
		last = &parts[i]; /* sorted by start */
	}
	if (found && found->size >= want) {
		*ret = *found;
		*action = PARTITION_CONFIG_REUSE;
		/* Rewrite the table as it stands: libfdisk writes the backup entries and
		 * header, then the primary entries and header (util-linux
		 * libfdisk/src/gpt.c, gpt_write_disklabel()), so a cut between them leaves
		 * a primary copy whose CRC does not match; the probe then reads the backup,
		 * finds the partition, and without this write the torn copy would stay. */
		if (apply)
			r = write_label(cxt, fd, path, e);
		goto out;
	}
	if (found) {
		if (found != last || (found->start / ssz) + want / ssz - 1 > last_lba) {
			r = app_err_set(e, -ENOSPC,
					"partition %u '%s' of '%s' holds %llu bytes, the volume needs %llu, "
					"and it cannot grow "
					"(%s)",
					found->partno, PARTITION_CONFIG_NAME, path,
					(unsigned long long)found->size, (unsigned long long)bytes,
					found != last ? "another partition follows it" : "the disk ends");
			goto out;
		}
		*ret = *found;
		ret->size = want;
		*action = PARTITION_CONFIG_RESIZE;
		if (apply) {
			pa = fdisk_new_partition();
			fdisk_partition_set_size(pa, want / ssz);
			r = fdisk_set_partition(cxt, found->partno - 1, pa);
			if (r < 0) {
				r = app_err_set(e, r, "cannot grow partition %u of '%s': %s", found->partno,
						path, strerror(-r));
				goto out;
			}
			r = write_label(cxt, fd, path, e);
		}
		goto out;
	}
	start = last ? (last->start + last->size + MIB - 1) / MIB * MIB : MIB;
	if (start / ssz + want / ssz - 1 > last_lba) {
		r = app_err_set(e, -ENOSPC, "no room on '%s' for a %llu-byte '%s' partition after byte %llu",
				path, (unsigned long long)want, PARTITION_CONFIG_NAME,
				(unsigned long long)start);
		goto out;
	}
	memset(ret, 0, sizeof(*ret));
	ret->start = start;
	ret->size = want;
	snprintf(ret->name, sizeof(ret->name), "%s", PARTITION_CONFIG_NAME);
	snprintf(ret->type, sizeof(ret->type), "Linux filesystem");
	*action = PARTITION_CONFIG_CREATE;
	if (!apply) {
		ret->partno = 0;
		for (unsigned i = 0; i < n; i++)
			if (parts[i].partno > ret->partno)
				ret->partno = parts[i].partno;
		ret->partno++;
		goto out;
	}
	pa = fdisk_new_partition();
	r = stable_partition_uuid(cxt, pa);
	if (r < 0) {
		r = app_err_set(e, r, "'%s': cannot read the disk's GPT identifier", path);
		goto out;
	}
	fdisk_partition_set_start(pa, start / ssz);
	fdisk_partition_set_size(pa, want / ssz);
	fdisk_partition_partno_follow_default(pa, 1);
	fdisk_partition_set_name(pa, PARTITION_CONFIG_NAME);
	type = fdisk_label_get_parttype_from_string(fdisk_get_label(cxt, NULL), PARTITION_CONFIG_TYPE);
	fdisk_partition_set_type(pa, type);
	fdisk_unref_parttype(type);
	r = fdisk_add_partition(cxt, pa, &partno);
	if (r < 0) {
		r = app_err_set(e, r, "cannot add partition '%s' to '%s': %s", PARTITION_CONFIG_NAME, path,
				strerror(-r));
		goto out;
	}
	ret->partno = (unsigned)partno + 1;
	r = write_label(cxt, fd, path, e);
out:
	fdisk_unref_partition(pa);
	close_gpt(cxt);
	return r;
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t partition_image_size(const void *head, size_t len)
{
	const unsigned char *c = head;
	uint64_t alt;

	if (len < 1024 || memcmp(c + 512, "EFI PART", 8) != 0)
		return 0;
	alt = le64(c + 512 + 32);
	if (alt < 34 || alt > (1ull << 40))
		return 0;
	return (alt + 1) * 512;
}

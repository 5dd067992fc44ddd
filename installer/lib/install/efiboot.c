#include "install/efiboot.h"

#include <blkid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"

#define GLOBAL_GUID "8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define ESP_TYPE "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
#define EFIVARFS_MAGIC 0xde5e81e4
#define VAR_ATTRS 0x7u /* non-volatile | boot service | runtime */
#define LOAD_OPTION_ACTIVE 0x1u
#define LABEL "Talos (appliance)"
#define MAX_VAR (64 * 1024)

static char *var_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s-" GLOBAL_GUID, dir, name);
}

/* Read a variable's data (without the attribute word). -ENOENT when absent. */
static int var_read(const char *dir, const char *name, struct buf *out, struct app_err *e)
{
	char *p = var_path(dir, name);
	struct buf b = { 0 };
	int r = read_file(p, MAX_VAR, &b, e);

	if (r < 0) {
		free(p);
		buf_free(&b);
		return r;
	}
	/* efivarfs shows a variable that was created but never written as an
	 * empty file (fs/efivarfs/inode.c efivarfs_create: the firmware variable
	 * exists only after the first write), so empty means absent. */
	if (b.len == 0) {
		free(p);
		buf_free(&b);
		return -ENOENT;
	}
	if (b.len < 4) {
		r = app_err_set(e, -EINVAL, "efi variable '%s' is %zu bytes: too short for its attributes", p,
				b.len);
		free(p);
		buf_free(&b);
		return r;
	}
	free(p);
	buf_append(out, b.data + 4, b.len - 4);
	buf_free(&b);
	return 0;
}

/* efivarfs wants the whole variable (attributes + data) in one write(2) and
 * marks files immutable; SetVariable is all-or-nothing there. A plain
 * directory (tests, an offline image) gets the same all-or-nothing through
 * a temporary file and rename: a power cut never leaves half a variable. */
static int var_write(const char *dir, const char *name, const void *data, size_t len, struct app_err *e)
{
	char *p = var_path(dir, name), *v = xmalloc(len + 4);
	uint32_t attrs = VAR_ATTRS;
	struct statfs sf;
	int fd, r = 0, fl;
	ssize_t w;

	memcpy(v, &attrs, 4);
	memcpy(v + 4, data, len);
	if (statfs(dir, &sf) < 0 || (unsigned long)sf.f_type != EFIVARFS_MAGIC) {
		r = write_file_atomic(p, v, len + 4, 0644, e);
		free(v);
		free(p);
		return r;
	}
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (ioctl(fd, FS_IOC_GETFLAGS, &fl) == 0 && (fl & FS_IMMUTABLE_FL)) {
			fl &= ~FS_IMMUTABLE_FL;
			(void)ioctl(fd, FS_IOC_SETFLAGS, &fl);
		}
		close(fd);
	}
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = app_err_set(e, -errno, "cannot open efi variable '%s' for writing: %s", p,
				strerror(errno));
	} else {
		w = write(fd, v, len + 4);
		if (w != (ssize_t)(len + 4))
			r = app_err_set(e, w < 0 ? -errno : -EIO, "cannot write efi variable '%s': %s", p,
					w < 0 ? strerror(errno) : "short write");
		if (fsync(fd) < 0 && r == 0 && errno != EINVAL && errno != EROFS)
			r = app_err_set(e, -errno, "cannot sync efi variable '%s': %s", p, strerror(errno));
		close(fd);
	}
	free(v);
	free(p);
	return r;
}

bool efiboot_is_uefi(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d)))
		found = strncmp(de->d_name, "Boot", 4) == 0 && strstr(de->d_name, GLOBAL_GUID);
	closedir(d);
	return found;
}

/* ---- GUIDs: text <-> EFI mixed-endian bytes ------------------------------ */

static int guid_parse(const char *s, uint8_t out[16])
{
	static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	uint8_t raw[16];
	int k = 0;

	for (const char *c = s; *c && k < 16; c++) {
		unsigned v;
		if (*c == '-')
			continue;
		if (sscanf(c, "%2x", &v) != 1)
			return -EINVAL;
		raw[k++] = (uint8_t)v;
		c++;
	}
	if (k != 16)
		return -EINVAL;
	for (int i = 0; i < 16; i++)
		out[i] = raw[order[i]];
	return 0;
}

/* ---- load options --------------------------------------------------------- */

static void put_u16(struct buf *b, uint16_t v)
{
	buf_append(b, &v, 2);
}

static void put_u32(struct buf *b, uint32_t v)
{
	buf_append(b, &v, 4);
}

static void put_u64(struct buf *b, uint64_t v)
{
	buf_append(b, &v, 8);
}

static void put_ucs2(struct buf *b, const char *s)
{
	for (; *s; s++)
		put_u16(b, (uint16_t)(unsigned char)*s);
	put_u16(b, 0);
}

/* EFI_LOAD_OPTION: attributes, FilePathListLength, Description (UCS-2),
 * device path HD(GPT)/File(loader)/End. */
static int load_option(const struct efiboot_target *t, struct buf *out, struct app_err *e)
{
	struct buf dp = { 0 };
	uint8_t guid[16], mbr_type = 2, sig_type = 2;
	uint8_t hdr[2];

	if (guid_parse(t->part_uuid, guid) < 0)
		return app_err_set(e, -EINVAL, "disk '%s': partition guid '%s' is not a guid", t->disk,
				   t->part_uuid);
	/* Hard drive media path: type 4, subtype 1, length 42 */
	hdr[0] = 4;
	hdr[1] = 1;
	buf_append(&dp, hdr, 2);
	put_u16(&dp, 42);
	put_u32(&dp, t->partno);
	put_u64(&dp, t->start);
	put_u64(&dp, t->size);
	buf_append(&dp, guid, 16);
	buf_append(&dp, &mbr_type, 1);
	buf_append(&dp, &sig_type, 1);
	/* File path: type 4, subtype 4 */
	hdr[1] = 4;
	buf_append(&dp, hdr, 2);
	put_u16(&dp, (uint16_t)(4 + 2 * (strlen(EFIBOOT_LOADER) + 1)));
	put_ucs2(&dp, EFIBOOT_LOADER);
	/* End of entire device path */
	hdr[0] = 0x7f;
	hdr[1] = 0xff;
	buf_append(&dp, hdr, 2);
	put_u16(&dp, 4);

	put_u32(out, LOAD_OPTION_ACTIVE);
	put_u16(out, (uint16_t)dp.len);
	put_ucs2(out, LABEL);
	buf_append(out, dp.data, dp.len);
	buf_free(&dp);
	return 0;
}

/* Does load option data point at partition guid (HD node with that signature)? */
static bool option_points_at(const struct buf *opt, const uint8_t guid[16])
{
	const uint8_t *p = (const uint8_t *)opt->data, *end = p + opt->len;
	uint16_t fpl;

	if (opt->len < 6)
		return false;
	memcpy(&fpl, p + 4, 2);
	p += 6;
	while (p + 1 < end && (p[0] | p[1] << 8)) /* skip description */
		p += 2;
	p += 2;
	if (p + fpl > end)
		return false;
	end = p + fpl;
	while (p + 4 <= end) {
		uint16_t len;
		memcpy(&len, p + 2, 2);
		if (len < 4 || p + len > end)
			return false;
		if (p[0] == 4 && p[1] == 1 && len == 42 && memcmp(p + 24, guid, 16) == 0)
			return true;
		if (p[0] == 0x7f && p[1] == 0xff)
			break;
		p += len;
	}
	return false;
}

int efiboot_order(const char *dir, char *out, size_t n, struct app_err *e)
{
	struct buf b = { 0 };
	size_t used = 0;
	int r = var_read(dir, "BootOrder", &b, e);

	out[0] = '\0';
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i + 1 < b.len; i += 2) {
		uint16_t v;
		memcpy(&v, b.data + i, 2);
		used += (size_t)snprintf(out + used, used < n ? n - used : 0, "%s%04X", i ? "," : "", v);
	}
	buf_free(&b);
	return 0;
}

/* Boot#### number whose option points at guid, or -1; *free_num = lowest unused. */
static int find_entry(const char *dir, const uint8_t guid[16], int *free_num)
{
	int found = -1;

	*free_num = -1;
	for (int i = 0; i <= 0xffff; i++) {
		char name[16];
		struct buf b = { 0 };
		struct app_err ignore;
		snprintf(name, sizeof(name), "Boot%04X", i);
		if (var_read(dir, name, &b, &ignore) < 0) {
			buf_free(&b);
			if (*free_num < 0)
				*free_num = i;
			if (i > 0x100) /* nobody numbers entries this high; stop scanning */
				break;
			continue;
		}
		if (found < 0 && option_points_at(&b, guid))
			found = i;
		buf_free(&b);
	}
	return found;
}

int efiboot_apply(const char *dir, const struct efiboot_target *t, const char *record_file, char *result,
		  size_t n, struct app_err *e)
{
	struct buf opt = { 0 }, order = { 0 }, neworder = { 0 };
	char prev[1024], name[16];
	uint8_t guid[16];
	int num, free_num, r;
	struct stat st;

	if (guid_parse(t->part_uuid, guid) < 0)
		return app_err_set(e, -EINVAL, "disk '%s': partition guid '%s' is not a guid", t->disk,
				   t->part_uuid);
	r = efiboot_order(dir, prev, sizeof(prev), e);
	if (r < 0)
		return r;
	if (record_file && stat(record_file, &st) < 0) {
		char *rec = xasprintf("BootOrder=%s\n", prev);
		r = write_file_atomic(record_file, rec, strlen(rec), 0644, e);
		free(rec);
		if (r < 0)
			return r;
	}
	num = find_entry(dir, guid, &free_num);
	if (num < 0) {
		if (free_num < 0)
			return app_err_set(e, -ENOSPC, "efivars '%s': no free Boot#### number", dir);
		num = free_num;
		r = load_option(t, &opt, e);
		snprintf(name, sizeof(name), "Boot%04X", num);
		if (r == 0)
			r = var_write(dir, name, opt.data, opt.len, e);
		buf_free(&opt);
		if (r < 0)
			return r;
	}
	r = var_read(dir, "BootOrder", &order, e);
	if (r < 0 && r != -ENOENT)
		return r;
	put_u16(&neworder, (uint16_t)num);
	for (size_t i = 0; i + 1 < order.len; i += 2) {
		uint16_t v;
		memcpy(&v, order.data + i, 2);
		if (v != num)
			put_u16(&neworder, v);
	}
	r = var_write(dir, "BootOrder", neworder.data, neworder.len, e);
	buf_free(&order);
	buf_free(&neworder);
	if (r < 0)
		return r;
	snprintf(result, n, "Boot%04X first (previous order %s)", num, *prev ? prev : "unset");
	return 0;
}

int efiboot_check(const char *dir, const struct efiboot_target *t, struct app_err *e)
{
	struct buf order = { 0 }, opt = { 0 };
	uint8_t guid[16];
	uint16_t first;
	char name[16];
	int r;

	if (guid_parse(t->part_uuid, guid) < 0)
		return app_err_set(e, -EINVAL, "disk '%s': partition guid '%s' is not a guid", t->disk,
				   t->part_uuid);
	r = var_read(dir, "BootOrder", &order, e);
	if (r < 0 || order.len < 2) {
		buf_free(&order);
		return app_err_set(e, -ESTALE, "BootOrder in '%s' is unset", dir);
	}
	memcpy(&first, order.data, 2);
	buf_free(&order);
	snprintf(name, sizeof(name), "Boot%04X", first);
	r = var_read(dir, name, &opt, e);
	if (r == 0 && !option_points_at(&opt, guid))
		r = app_err_set(e, -ESTALE, "first boot entry %s does not point at '%s' partition %u", name,
				t->disk, t->partno);
	buf_free(&opt);
	return r < 0 ? -ESTALE : 0;
}

int efiboot_find_esp(const char *disk, struct efiboot_target *ret, struct app_err *e)
{
	blkid_probe pr = blkid_new_probe_from_filename(disk);
	blkid_partlist pl;
	int r = -ENOENT;

	if (!pr)
		return app_err_set(e, -errno ? -errno : -EIO, "cannot probe disk '%s': %s", disk,
				   strerror(errno));
	blkid_probe_enable_superblocks(pr, 0);
	blkid_probe_enable_partitions(pr, 1);
	pl = blkid_probe_get_partitions(pr);
	for (int i = 0; pl && i < blkid_partlist_numof_partitions(pl); i++) {
		blkid_partition p = blkid_partlist_get_partition(pl, i);
		const char *type = blkid_partition_get_type_string(p), *uuid = blkid_partition_get_uuid(p);
		if (!type || !uuid || strcasecmp(type, ESP_TYPE) != 0)
			continue;
		memset(ret, 0, sizeof(*ret));
		snprintf(ret->disk, sizeof(ret->disk), "%s", disk);
		ret->partno = (uint32_t)blkid_partition_get_partno(p);
		ret->start = (uint64_t)blkid_partition_get_start(p);
		ret->size = (uint64_t)blkid_partition_get_size(p);
		snprintf(ret->part_uuid, sizeof(ret->part_uuid), "%s", uuid);
		for (char *c = ret->part_uuid; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		r = 0;
		break;
	}
	blkid_free_probe(pr);
	if (r < 0)
		return app_err_set(e, r, "disk '%s' has no EFI system partition", disk);
	return 0;
}

#include "talos/talos_volume.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "base/err.h"
#include "base/util.h"
#include "profile/model.h"
#include "talos/talos_check.h"

#define CONFIG_MAX (8u << 20)

/* libarchive stamps the volume with the time it was built, so two builds of
 * the same config differ and an install could never be compared byte for byte
 * with another. Set every ISO9660 date to the epoch: the volume descriptors'
 * dates, every directory record's date and Rock Ridge TF timestamps. */
#define ISO_SECTOR 2048

static void iso_zero_date7(unsigned char *d)
{
	static const unsigned char epoch[7] = { 70, 1, 1, 0, 0, 0, 0 };
	memcpy(d, epoch, sizeof(epoch));
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Rock Ridge TF entries in a directory record's system use area. */
static void iso_fix_susp(unsigned char *rec, size_t len)
{
	size_t name_len = rec[32], off = 33 + name_len + ((name_len & 1) ? 0 : 1);

	while (off + 4 <= len) {
		unsigned char *su = rec + off;
		size_t su_len = su[2];
		if (su_len < 4 || off + su_len > len)
			break;
		if (su[0] == 'T' && su[1] == 'F' && su_len >= 5) {
			size_t stamp = (su[4] & 0x80) ? 17 : 7;
			for (size_t t = 5; t + stamp <= su_len; t += stamp) {
				if (stamp == 7)
					iso_zero_date7(su + t);
				else
					memcpy(su + t, "1970010100000000\0", 17);
			}
		}
		off += su_len;
	}
}

static int iso_fix_dir(unsigned char *img, size_t img_len, uint32_t lba, uint32_t size, int depth)
{
	size_t at = (size_t)lba * ISO_SECTOR;

	if (depth > 8 || size > (1u << 20) || at > img_len || size > img_len - at)
		return -EINVAL;
	for (uint32_t off = 0; off < size;) {
		unsigned char *rec = img + at + off;
		uint32_t len = rec[0];
		if (len == 0) { /* records do not cross sectors: go to the next one */
			off = (off / ISO_SECTOR + 1) * ISO_SECTOR;
			continue;
		}
		if (len < 34 || off + len > size)
			return -EINVAL;
		iso_zero_date7(rec + 18);
		iso_fix_susp(rec, len);
		bool self_or_parent = rec[32] == 1 && (rec[33] == 0 || rec[33] == 1);
		if ((rec[25] & 2) && !self_or_parent) {
			int r = iso_fix_dir(img, img_len, le32(rec + 2), le32(rec + 10), depth + 1);
			if (r < 0)
				return r;
		}
		off += len;
	}
	return 0;
}

static int iso_fix_times(unsigned char *img, size_t img_len)
{
	for (int sector = 16; sector < 32; sector++) {
		unsigned char *vd = img + (size_t)sector * ISO_SECTOR;

		if ((size_t)(sector + 1) * ISO_SECTOR > img_len || memcmp(vd + 1, "CD001", 5) != 0)
			return -EINVAL;
		if (vd[0] == 255) {
			/* libarchive's informational block after the terminator:
			 * "INFO <ctime>\n..." (referenced by nothing) */
			unsigned char *info = vd + ISO_SECTOR;
			if ((size_t)(sector + 2) * ISO_SECTOR <= img_len && memcmp(info, "INFO ", 5) == 0 &&
			    info[5 + 24] == '\n')
				memcpy(info + 5, "Thu Jan  1 00:00:00 1970", 24);
			return 0;
		}
		if (vd[0] != 1 && vd[0] != 2)
			continue;
		/* creation, modification, (expiration stays unset), effective */
		memcpy(vd + 813, "1970010100000000\0", 17);
		memcpy(vd + 830, "1970010100000000\0", 17);
		memcpy(vd + 864, "1970010100000000\0", 17);
		iso_zero_date7(vd + 156 + 18);
		int r = iso_fix_dir(img, img_len, le32(vd + 156 + 2), le32(vd + 156 + 10), 0);
		if (r < 0)
			return r;
	}
	return -EINVAL;
}

static la_ssize_t to_buf(struct archive *a, void *ctx, const void *data, size_t n)
{
	(void)a;
	buf_append(ctx, data, n);
	return (la_ssize_t)n;
}

int talos_volume_build(const char *config, size_t len, const char *out_path, struct app_err *e)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ent = archive_entry_new();
	struct buf img = { 0 };
	int r = 0;

	/* the whole image in memory (it is small): built, dated, then written once */
	if (archive_write_set_format_iso9660(a) != ARCHIVE_OK ||
	    archive_write_set_options(a, "volume-id=" TALOS_VOLUME_LABEL ",rockridge,joliet") != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open(a, &img, NULL, to_buf, NULL) != ARCHIVE_OK) {
		r = app_err_set(e, -EIO, "'%s': cannot start an iso9660 image: %s", out_path,
				archive_error_string(a));
		goto out;
	}
	archive_entry_set_pathname(ent, TALOS_VOLUME_FILE);
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_perm(ent, 0600);
	archive_entry_set_size(ent, (la_int64_t)len);
	archive_entry_set_mtime(ent, 0, 0);
	if (archive_write_header(a, ent) != ARCHIVE_OK ||
	    archive_write_data(a, config, len) != (la_ssize_t)len || archive_write_close(a) != ARCHIVE_OK) {
		r = app_err_set(e, -EIO, "'%s': cannot write the iso9660 image: %s", out_path,
				archive_error_string(a));
		goto out;
	}
	if (iso_fix_times((unsigned char *)img.data, img.len) < 0) {
		r = app_err_set(e, -EIO, "'%s': cannot normalise the iso9660 timestamps", out_path);
		goto out;
	}
	r = write_file_atomic(out_path, img.data, img.len, 0600, e);
out:
	archive_entry_free(ent);
	archive_write_free(a);
	/* the image holds the machine config, secrets included */
	secure_free(img.data, img.cap);
	return r;
}

/* The volume label the way Talos' go-blockdevice probe reads it: the
 * Joliet (supplementary) descriptor's UCS-2 volume id when there is one,
 * else the primary descriptor's, trailing spaces and NULs trimmed. */
static int read_label(int fd, const char *path, char label[33], struct app_err *e)
{
	unsigned char vd[2048];
	char primary[33] = "", joliet[33] = "";
	bool have_primary = false, have_joliet = false;

	for (int i = 0; i < 16; i++) {
		ssize_t n = pread(fd, vd, sizeof(vd), 0x8000 + 2048 * (off_t)i);
		if (n != (ssize_t)sizeof(vd) || memcmp(vd + 1, "CD001", 5) != 0)
			break;
		if (vd[0] == 0xff)
			break;
		if (vd[0] == 1 && !have_primary) {
			memcpy(primary, vd + 40, 32);
			have_primary = true;
		} else if (vd[0] == 2 && !have_joliet) {
			size_t k = 0;
			for (size_t j = 0; j + 1 < 32; j += 2) /* UCS-2 BE; ASCII only */
				joliet[k++] = vd[40 + j] ? '?' : (char)vd[40 + j + 1];
			joliet[k] = '\0';
			have_joliet = true;
		}
	}
	if (!have_primary)
		return app_err_set(e, -EINVAL, "'%s' is not an iso9660 image (no primary volume descriptor)",
				   path);
	strcpy(label, have_joliet ? joliet : primary);
	for (size_t n = strlen(label); n && (label[n - 1] == ' ' || label[n - 1] == '\0'); n--)
		label[n - 1] = '\0';
	return 0;
}

int talos_volume_read(const char *path, char label[33], struct buf *config, struct app_err *e)
{
	struct archive *a = NULL;
	struct archive_entry *ent;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r, found = 0;

	if (fd < 0)
		return app_err_set(e, -errno, "cannot open '%s': %s", path, strerror(errno));
	r = read_label(fd, path, label, e);
	if (r < 0)
		goto out;
	a = archive_read_new();
	archive_read_support_format_iso9660(a);
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		r = app_err_set(e, -EINVAL, "'%s': %s", path, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ent);
		char chunk[16384];
		la_ssize_t n;

		if (strcmp(name, TALOS_VOLUME_FILE) != 0)
			continue;
		found = 1;
		buf_append(config, "", 0);
		while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
			if (config->len + (size_t)n > CONFIG_MAX) {
				r = app_err_set(e, -EFBIG, "'%s': %s is larger than %u bytes", path,
						TALOS_VOLUME_FILE, CONFIG_MAX);
				goto out;
			}
			buf_append(config, chunk, (size_t)n);
		}
		if (n < 0) {
			r = app_err_set(e, -EIO, "'%s': cannot read %s: %s", path, TALOS_VOLUME_FILE,
					archive_error_string(a));
			goto out;
		}
		break;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_EOF) {
		r = app_err_set(e, -EINVAL, "'%s': %s", path, archive_error_string(a));
		goto out;
	}
	r = found ? 0 : app_err_set(e, -ENOENT, "'%s' has no %s at its root", path, TALOS_VOLUME_FILE);
out:
	if (a)
		archive_read_free(a);
	close(fd);
	return r;
}

char *talos_volume_device(const struct model *m, const struct model_node *node, struct app_err *e)
{
	const char *p = node->install_disk.path, *name;
	size_t len;

	if (!talos_disk_exact_path(p)) {
		app_err_set(e, -ENOENT,
			    "node '%s': its installDisk is a selector, so the config volume's device name is "
			    "known only to the node; give --config-volume DEV (e.g. nvme0n1p%lld)",
			    node->name, m->talos.config_partition);
		return NULL;
	}
	name = p + 5;
	len = strlen(name);
	/* the kernel puts a 'p' between a name ending in a digit and the number */
	return xasprintf("%s%s%lld", name, len && name[len - 1] >= '0' && name[len - 1] <= '9' ? "p" : "",
			 m->talos.config_partition);
}

/* The image writer's target; see target.h. */
#include "image/target.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <linux/major.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int target_set_direct(struct image_target *t, bool on)
{
	int fl;

	if (!t->can_direct || t->direct == on)
		return 0;
	fl = fcntl(t->fd, F_GETFL);
	if (fl < 0 || fcntl(t->fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) < 0)
		return -errno;
	t->direct = on;
	return 0;
}

static int pwrite_all(struct image_target *t, const void *buf, size_t len, uint64_t off, struct app_err *e)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(t->fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOSPC || errno == EFBIG)
				return app_err_set(e, -ENOSPC,
						   "disk '%s' is too small: writing at byte %llu failed: %s",
						   t->path, (unsigned long long)off, strerror(errno));
			return app_err_set(e, -errno, "cannot write to '%s' at byte %llu: %s", t->path,
					   (unsigned long long)off, strerror(errno));
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int target_pwrite(struct image_target *t, const void *buf, size_t len, uint64_t off, struct app_err *e)
{
	int r;

	/* O_DIRECT needs sector-sized lengths; the image's odd tail goes buffered. */
	if (t->direct && len % t->align)
		target_set_direct(t, false);
	r = pwrite_all(t, buf, len, off, e);
	if (r == 0)
		target_set_direct(t, true);
	return r;
}

int target_pwrite_aligned(struct image_target *t, const void *buf, size_t len, uint64_t off,
			  struct app_err *e)
{
	return pwrite_all(t, buf, len, off, e);
}

int target_grow(struct image_target *t, uint64_t end, struct app_err *e)
{
	if (!t->growable || end <= t->file_size)
		return 0;
	if (ftruncate(t->fd, (off_t)end) < 0)
		return app_err_set(e, -errno, "cannot extend '%s' to %llu bytes: %s", t->path,
				   (unsigned long long)end, strerror(errno));
	t->file_size = end;
	return 0;
}

/* Unmapping zeroes (punch) let an SSD deallocate. On a loop device they free the
 * backing file's blocks (ext4: 576 ms for 4 GiB of them), where BLKZEROOUT's
 * REQ_NOUNMAP makes the loop driver zero the range in place (drivers/block/loop.c:
 * a write-zeroes request with REQ_NOUNMAP is FALLOC_FL_ZERO_RANGE on the backing
 * file; ext4 makes the extents unwritten: 5-9 ms for the same 4 GiB). Only over
 * ext4 with extents: elsewhere (tmpfs, FAT, NFS: no ZERO_RANGE, the kernel then
 * writes pages of zeros; XFS and Btrfs zero a range by punching and
 * preallocating, no cheaper) punching stays first. And only for ranges the file
 * has allocated (backing_allocated): a sparse file stays sparse. */
static void loop_backing(struct image_target *t, dev_t rdev)
{
	char path[64], backing[4096];
	struct loop_info64 li;
	struct statfs fs;
	struct stat st;
	int flags = 0, fd;
	FILE *f;
	bool ok;

	if (major(rdev) != LOOP_MAJOR || ioctl(t->fd, LOOP_GET_STATUS64, &li) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/loop/backing_file", major(rdev), minor(rdev));
	f = fopen(path, "re");
	if (!f)
		return;
	ok = fgets(backing, sizeof(backing), f) != NULL;
	fclose(f);
	if (!ok)
		return;
	backing[strcspn(backing, "\n")] = '\0';
	fd = open(backing, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == li.lo_inode && fstatfs(fd, &fs) == 0 &&
	    fs.f_type == EXT4_SUPER_MAGIC && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
	    (flags & FS_EXTENT_FL)) {
		t->backing_fd = fd;
		t->backing_open = true;
		t->backing_off = li.lo_offset;
		t->inplace_ok = true;
		return;
	}
	close(fd);
}

/* The backing file has [off, off+len) of the device allocated: no hole in it. */
static bool backing_allocated(struct image_target *t, uint64_t off, uint64_t len)
{
	off_t at = (off_t)(t->backing_off + off);
	off_t hole = lseek(t->backing_fd, at, SEEK_HOLE);

	return hole >= 0 && (uint64_t)hole >= (uint64_t)at + len;
}

int target_zero(struct image_target *t, uint64_t off, uint64_t len, struct app_err *e)
{
	if (t->blockdev && off % t->align == 0 && len % t->align == 0) {
		uint64_t range[2] = { off, len };
		/* the device zeroes the range, unmapping it where it can (punching: the
		 * kernel refuses rather than writing zeros, BLKDEV_ZERO_NOFALLBACK); on
		 * a loop device keeping what its file has allocated mapped (see
		 * loop_backing), and any failure of that falls back to punching
		 * (ZERO_RANGE may need blocks the backing filesystem no longer has) */
		if (t->inplace_ok && backing_allocated(t, off, len)) {
			if (ioctl(t->fd, BLKZEROOUT, range) == 0)
				return 0;
			t->inplace_ok = false;
		}
		if (t->punch_ok) {
			if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				      (off_t)len) == 0)
				return 0;
			t->punch_ok = false;
		}
		if (t->zeroout_ok) {
			if (ioctl(t->fd, BLKZEROOUT, range) == 0)
				return 0;
			if (errno != EOPNOTSUPP && errno != EINVAL && errno != ENOTTY)
				return app_err_set(e, -errno, "cannot zero '%s' at byte %llu: %s", t->path,
						   (unsigned long long)off, strerror(errno));
			t->zeroout_ok = false;
		}
	}
	if (!t->blockdev) {
		if (t->growable && off >= t->file_size)
			return target_grow(t, off + len, e); /* beyond the old end: already a hole */
		if (t->punch_ok) {
			if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				      (off_t)len) == 0)
				return target_grow(t, off + len, e);
			t->punch_ok = false;
		}
	}
	while (len) {
		size_t n = len < IMAGE_CHUNK ? (size_t)len : IMAGE_CHUNK;
		int r = target_pwrite(t, t->zeros, n, off, e);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

int target_sync(struct image_target *t, struct app_err *e)
{
	if (fdatasync(t->fd) < 0)
		return app_err_set(e, -errno, "cannot sync '%s': %s", t->path, strerror(errno));
	return 0;
}

int target_write_chunk(struct image_target *t, const struct chunk *c, uint64_t *written, uint64_t *zeroed,
		       struct app_err *e)
{
	uint64_t base = c->index * (uint64_t)IMAGE_CHUNK;
	size_t from = 0, to = 0;
	bool z;
	int r = target_grow(t, base + c->len, e);

	while (r == 0 && chunk_next_run(c, &from, &to, &z)) {
		if (z) {
			r = target_zero(t, base + from, to - from, e);
			*zeroed += to - from;
		} else {
			r = target_pwrite(t, c->data + from, to - from, base + from, e);
			*written += to - from;
		}
	}
	return r;
}

int target_open(struct image_target *t, const struct disk_claim *claim, struct app_err *e)
{
	struct stat st;
	int fd = disk_open_write(claim, 0, e);
	int ssz = 0;

	t->path = claim->path;
	t->fd = fd;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return app_err_set(e, -errno, "cannot stat '%s': %s", t->path, strerror(errno));
	t->blockdev = S_ISBLK(st.st_mode);
	if (t->blockdev) {
		if (ioctl(fd, BLKGETSIZE64, &t->size) < 0)
			return app_err_set(e, -errno, "cannot get the size of '%s': %s", t->path,
					   strerror(errno));
		t->zeroout_ok = true;
		t->punch_ok = true;
		loop_backing(t, st.st_rdev);
		if (ioctl(fd, BLKSSZGET, &ssz) < 0 || ssz < 512)
			ssz = 512;
		t->align = (unsigned)ssz;
	} else if (S_ISREG(st.st_mode)) {
		t->file_size = (uint64_t)st.st_size;
		t->growable = st.st_size == 0;
		t->size = t->growable ? UINT64_MAX : (uint64_t)st.st_size;
		t->punch_ok = true;
		t->align = CHUNK_BLK;
	} else {
		return app_err_set(e, -EINVAL, "'%s' is neither a block device nor a regular file", t->path);
	}
	t->can_direct = true;
	if (target_set_direct(t, true) < 0) {
		t->can_direct = false;
		t->direct = false;
	}
	t->zeros = mmap(NULL, IMAGE_CHUNK, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->zeros == MAP_FAILED) {
		t->zeros = NULL;
		return app_err_set(e, -ENOMEM, "cannot map a zero buffer");
	}
	return 0;
}

void target_close(struct image_target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->backing_open)
		close(t->backing_fd);
	t->backing_open = false;
	if (t->zeros)
		munmap(t->zeros, IMAGE_CHUNK);
	t->zeros = NULL;
}

/* The safety policy, row by row, against a hand-built inventory: live medium,
 * mounted disk / partition, swap, held disk / partition (dm, md), read-only,
 * too small, not named by the node's selectors, ambiguous selectors, a
 * partition instead of a disk, a missing disk; then disk_open_write on an
 * image file through a fixture root. Each row asserts the exact message. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "disk/disk.h"
#include "base/err.h"
#include "disk/hw.h"
#include "profile/model.h"
#include "base/util.h"

#define GiB (1024ULL * 1024 * 1024)

static char *m_sdb[] = { "/dev/sdb on /mnt/x" };
static char *m_sdc[] = { "/dev/sdc1 on /var" };
static char *pm_sdc[] = { "/var" };
static char *h_nvme0[] = { "nvme0n1 held by dm-0" };
static char *ph_nvme1[] = { "md127" };
static char *h_nvme1[] = { "nvme1n1p1 held by md127" };

static struct hw_part p_sdc[] = {
	{ .partno = 1, .name = "sdc1", .path = "/dev/sdc1", .mounts = { pm_sdc, 1 } }
};
static struct hw_part p_sdd[] = { { .partno = 2, .name = "sdd2", .path = "/dev/sdd2", .swap = true } };
static struct hw_part p_nvme1[] = {
	{ .partno = 1, .name = "nvme1n1p1", .path = "/dev/nvme1n1p1", .holders = { ph_nvme1, 1 } }
};

#define DISK(n, sz, ...)                                                                \
	{                                                                               \
		.name = n, .path = "/dev/" n, .dev = "/dev/" n, .size = sz, __VA_ARGS__ \
	}
static struct hw_disk disks[] = {
	DISK("sda", 8 * GiB, .live = true, .transport = "usb"),
	DISK("sdb", 8 * GiB, .mounts = { m_sdb, 1 }),
	DISK("sdc", 8 * GiB, .mounts = { m_sdc, 1 }, .parts = p_sdc, .n_parts = 1),
	DISK("sdd", 8 * GiB, .parts = p_sdd, .n_parts = 1, .swap = true),
	DISK("sde", 8 * GiB, .swap = true),
	DISK("nvme0n1", 8 * GiB, .holders = { h_nvme0, 1 }, .transport = "nvme"),
	DISK("nvme1n1", 8 * GiB, .holders = { h_nvme1, 1 }, .parts = p_nvme1, .n_parts = 1,
	     .transport = "nvme"),
	DISK("sdf", 8 * GiB, .read_only = true),
	DISK("sdg", 1 * GiB),
	DISK("sdh", 8 * GiB),
	DISK("sdi", 8 * GiB),
};
static struct hw_inventory inv = { .v = disks, .n = sizeof(disks) / sizeof(disks[0]) };

static void refused(const char *path, uint64_t min, int code, const char *msg)
{
	struct disk_claim c = { .path = path, .role = DISK_ROLE_ANY, .min_size = min };
	struct app_err e = { 0 };

	assert_int_equal(disk_policy_check_inv(&c, &inv, NULL, &e), code);
	assert_string_equal(e.msg, msg);
}

static void test_refusal_rows(void **state)
{
	(void)state;
	refused("/dev/sda", 0, -EBUSY, "disk '/dev/sda' carries the running live system; refusing to write");
	refused("/dev/sdb", 0, -EBUSY, "disk '/dev/sdb' is mounted at '/mnt/x'; refusing to write");
	refused("/dev/sdc", 0, -EBUSY,
		"disk '/dev/sdc' has partition '/dev/sdc1' mounted at '/var'; refusing to write");
	refused("/dev/sdd", 0, -EBUSY,
		"disk '/dev/sdd' has partition '/dev/sdd2' in use as swap; refusing to write");
	refused("/dev/sde", 0, -EBUSY, "disk '/dev/sde' is in use as swap; refusing to write");
	refused("/dev/nvme0n1", 0, -EBUSY,
		"disk '/dev/nvme0n1' is held by 'dm-0' (device-mapper: LVM, dm-crypt or multipath); refusing "
		"to write");
	refused("/dev/nvme1n1", 0, -EBUSY,
		"disk '/dev/nvme1n1' has partition '/dev/nvme1n1p1' held by 'md127' (md RAID); refusing to "
		"write");
	refused("/dev/sdf", 0, -EROFS, "disk '/dev/sdf' is read-only; refusing to write");
	refused("/dev/sdg", 2 * GiB, -ENOSPC,
		"disk '/dev/sdg' is 1.0 GiB, smaller than the minimum 2.0 GiB; refusing to write");
	refused("/dev/sdc1", 0, -EINVAL,
		"'/dev/sdc1' is a partition of disk '/dev/sdc', not a whole disk; refusing to write");
	refused("/dev/appliance-no-such-disk", 0, -ENOENT,
		"disk '/dev/appliance-no-such-disk' does not exist");
	refused("", 0, -EINVAL, "no disk given");
}

static void test_allowed(void **state)
{
	struct disk_claim c = { .path = "/dev/sdh", .role = DISK_ROLE_ANY, .min_size = 8 * GiB };
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(disk_policy_check_inv(&c, &inv, NULL, &e), 0);
	c.path = "/dev/sdg"; /* small, but no minimum asked */
	c.min_size = 0;
	assert_int_equal(disk_policy_check_inv(&c, &inv, NULL, &e), 0);
}

static void test_selectors_enforced(void **state)
{
	struct ceph_disks ceph = { .selector = { .path = "/dev/sdi" }, .match = "one", .wipe = true };
	struct model_node node = {
		.name = "n1", .install_disk = { .path = "/dev/sdh" }, .ceph_disks = &ceph, .n_ceph_disks = 1
	};
	struct model m = { .nodes = &node, .n_nodes = 1 };
	struct disk_claim c = { .path = "/dev/sdh", .role = DISK_ROLE_INSTALL, .model = &m, .node = &node };
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(disk_policy_check_inv(&c, &inv, NULL, &e), 0);
	c.role = DISK_ROLE_CEPH;
	assert_int_equal(disk_policy_check_inv(&c, &inv, NULL, &e), -EPERM);
	assert_string_equal(
	    e.msg, "disk '/dev/sdh' is not named by any cephDisks selector of node 'n1'; refusing to write");
	c.path = "/dev/sdi";
	assert_int_equal(disk_policy_check_inv(&c, &inv, NULL, &e), 0);
	c.role = DISK_ROLE_ANY;
	assert_int_equal(disk_policy_check_inv(&c, &inv, NULL, &e), 0);
	c.path = "/dev/sdg";
	assert_int_equal(disk_policy_check_inv(&c, &inv, NULL, &e), -EPERM);
	assert_string_equal(
	    e.msg, "disk '/dev/sdg' is not named by any disk selector of node 'n1'; refusing to write");

	/* an ambiguous selector refuses even the disks it matches */
	node.install_disk.path = "/dev/sd[hg]";
	c.path = "/dev/sdh";
	c.role = DISK_ROLE_INSTALL;
	assert_int_equal(disk_policy_check_inv(&c, &inv, NULL, &e), -EINVAL);
	assert_non_null(strstr(e.msg,
			       "disk '/dev/sdh': the selectors of node 'n1': nodes[0].installDisk matches 2 "
			       "disks, expected exactly one; candidates:\n"));
	assert_string_equal(disk_role_name(DISK_ROLE_CEPH), "cephDisks");
}

static void test_open_image_file_through_fixture_root(void **state)
{
	char root[] = "/tmp/test_disk.XXXXXX";
	char *sys, *img;
	struct disk_claim c = { .role = DISK_ROLE_ANY };
	struct app_err e = { 0 };
	int fd;

	(void)state;
	assert_non_null(mkdtemp(root));
	sys = xasprintf("%s/sys/block", root);
	assert_int_equal(mkdir_p(sys, 0755, &e), 0);
	img = xasprintf("%s/disk.img", root);
	fd = open(img, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	c.path = img;
	c.root = root;
	fd = disk_open_write(&c, 0, &e);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "x", 1, 0), 1);
	close(fd);
	c.min_size = 2 << 20;
	assert_int_equal(disk_policy_check(&c, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "is 1.0 MiB, smaller than the minimum 2.0 MiB; refusing to write"));
	c.min_size = 0;
	c.live = img;
	assert_int_equal(disk_open_write(&c, 0, &e), -EBUSY);
	assert_non_null(strstr(e.msg, "carries the running live system; refusing to write"));
	unlink(img);
	rmdir(sys);
	free(sys);
	sys = xasprintf("%s/sys", root);
	rmdir(sys);
	rmdir(root);
	free(sys);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal_rows),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_selectors_enforced),
		cmocka_unit_test(test_open_image_file_through_fixture_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

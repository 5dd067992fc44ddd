/* Inventory without real hardware: libblkid on a crafted image (DOS table with
 * a BlueStore label inside partition 1), and hw_inventory on a fixture sysfs
 * tree written here: NVMe (serial trimmed, 4K sectors, WWID, by-path link,
 * swap), a hidden NVMe multipath node, dm-0, an empty loop device, and a USB
 * stick whose partition is mounted at /cdrom (the live medium). */
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

#include "base/err.h"
#include "disk/hw.h"
#include "base/util.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char *p = xasprintf("%s/%s", root, rel);
	struct app_err e = { 0 };

	assert_int_equal(write_file_atomic(p, text, strlen(text), 0644, &e), 0);
	free(p);
}

static void link_at(const char *target, const char *rel)
{
	char *p = xasprintf("%s/%s", root, rel);
	char *dir = xstrdup(p);
	struct app_err e = { 0 };

	*strrchr(dir, '/') = '\0';
	assert_int_equal(mkdir_p(dir, 0755, &e), 0);
	assert_int_equal(symlink(target, p), 0);
	free(dir);
	free(p);
}

/* A 16 MiB image: DOS table, partition 1 = [1 MiB, 9 MiB) type 0x83, BlueStore label at its start. */
static void make_image(const char *path)
{
	unsigned char mbr[512] = { 0 };
	unsigned char *pe = mbr + 0x1be;
	uint32_t start = 2048, count = 16384;
	static const char label[] = "bluestore block device\n6a1a6c0e-6c3b-4d3e-9a4e-1c2d3e4f5a6b\n";
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 << 20), 0);
	pe[4] = 0x83;
	memcpy(pe + 8, &start, 4);
	memcpy(pe + 12, &count, 4);
	memcpy(mbr + 440, "\x12\x34\x56\x78", 4); /* disk id */
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	assert_int_equal(pwrite(fd, mbr, sizeof(mbr), 0), (ssize_t)sizeof(mbr));
	assert_int_equal(pwrite(fd, label, sizeof(label) - 1, 1 << 20), (ssize_t)sizeof(label) - 1);
	close(fd);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_hw.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", root);

	(void)state;
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static void test_probe_image(void **state)
{
	char *img = xasprintf("%s/disk.img", root);
	struct hw_sig *sigs = NULL;
	struct hw_part *parts = NULL;
	size_t ns = 0, np = 0;
	char *pttype = NULL;
	struct app_err e = { 0 };
	int fd;

	(void)state;
	make_image(img);
	fd = open(img, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(hw_probe_fd(fd, 16 << 20, img, &sigs, &ns, &parts, &np, &pttype, &e), 0);
	close(fd);
	assert_string_equal(pttype, "dos");
	assert_int_equal(np, 1);
	assert_int_equal(parts[0].partno, 1);
	assert_int_equal(parts[0].start, 1 << 20);
	assert_int_equal(parts[0].size, 8 << 20);
	assert_int_equal(ns, 2);
	assert_string_equal(sigs[0].type, "dos");
	assert_string_equal(sigs[0].usage, "partition_table");
	assert_int_equal(sigs[0].offset, 0x1fe);
	assert_int_equal(sigs[0].length, 2);
	assert_int_equal(sigs[0].partno, 0);
	assert_string_equal(sigs[1].type, "ceph_bluestore");
	assert_int_equal(sigs[1].offset, 1 << 20);
	assert_int_equal(sigs[1].length, 22);
	assert_int_equal(sigs[1].partno, 1);
	hw_sigs_free(sigs, ns);
	hw_parts_free(parts, np);
	free(pttype);
	free(img);
}

static void build_tree(void)
{
	const char *nv = "sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1";
	const char *usb =
	    "sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb";
	char *p;

	p = xasprintf("%s/size", nv), put(p, "32768\n"), free(p);
	p = xasprintf("%s/dev", nv), put(p, "259:0\n"), free(p);
	p = xasprintf("%s/wwid", nv), put(p, "eui.0123456789abcdef\n"), free(p);
	p = xasprintf("%s/device/serial", nv), put(p, "  SER 1      \n"), free(p);
	p = xasprintf("%s/device/model", nv), put(p, "Fast NVMe 1TB                           \n"), free(p);
	p = xasprintf("%s/queue/logical_block_size", nv), put(p, "4096\n"), free(p);
	p = xasprintf("%s/queue/physical_block_size", nv), put(p, "4096\n"), free(p);
	p = xasprintf("%s/queue/rotational", nv), put(p, "0\n"), free(p);
	p = xasprintf("%s/queue/discard_max_bytes", nv), put(p, "2199023255040\n"), free(p);
	link_at("../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1", "sys/block/nvme0n1");
	put("sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0c0n1/size", "32768\n");
	put("sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0c0n1/hidden", "1\n");
	link_at("../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0c0n1", "sys/block/nvme0c0n1");
	put("sys/devices/virtual/block/dm-0/size", "2048\n");
	link_at("../devices/virtual/block/dm-0", "sys/block/dm-0");
	put("sys/devices/virtual/block/loop0/size", "0\n");
	link_at("../devices/virtual/block/loop0", "sys/block/loop0");
	p = xasprintf("%s/size", usb), put(p, "65536\n"), free(p);
	p = xasprintf("%s/dev", usb), put(p, "8:16\n"), free(p);
	p = xasprintf("%s/removable", usb), put(p, "1\n"), free(p);
	p = xasprintf("%s/ro", usb), put(p, "1\n"), free(p);
	p = xasprintf("%s/queue/rotational", usb), put(p, "1\n"), free(p);
	p = xasprintf("%s/device/model", usb), put(p, "Cruzer\n"), free(p);
	p = xasprintf("%s/sdb1/partition", usb), put(p, "1\n"), free(p);
	p = xasprintf("%s/sdb1/start", usb), put(p, "2048\n"), free(p);
	p = xasprintf("%s/sdb1/size", usb), put(p, "63488\n"), free(p);
	p = xasprintf("%s/sdb1/dev", usb), put(p, "8:17\n"), free(p);
	link_at("../devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb",
		"sys/block/sdb");
	put("proc/self/mountinfo", "21 1 0:20 / / rw - overlay overlay rw\n"
				   "30 21 8:17 / /cdrom ro,relatime - iso9660 /dev/sdb1 ro\n"
				   "31 21 0:30 / /mnt/with\\040space rw - tmpfs tmpfs rw\n");
	put("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/nvme0n1 partition 1024 0 -2\n");
	link_at("../../nvme0n1", "dev/disk/by-path/pci-0000:00:04.0-nvme-1");
	p = xasprintf("%s/dev/nvme0n1", root);
	make_image(p);
	free(p);
}

static void test_inventory_fixture_tree(void **state)
{
	struct hw_opts o = { .root = root };
	struct hw_inventory inv = { 0 };
	struct app_err e = { 0 };
	const struct hw_disk *n, *s;
	char *devpath;

	(void)state;
	build_tree();
	assert_int_equal(hw_inventory(&o, &inv, &e), 0);
	assert_int_equal(inv.n, 2); /* nvme0c0n1 hidden, dm-0 virtual, loop0 empty */
	n = &inv.v[0];
	s = &inv.v[1];
	assert_string_equal(n->name, "nvme0n1");
	assert_string_equal(n->path, "/dev/nvme0n1");
	devpath = xasprintf("%s/dev/nvme0n1", root);
	assert_string_equal(n->dev, devpath);
	assert_string_equal(n->serial, "SER 1");
	assert_string_equal(n->model, "Fast NVMe 1TB");
	assert_string_equal(n->wwid, "eui.0123456789abcdef");
	assert_string_equal(n->transport, "nvme");
	assert_int_equal(n->size, 16 << 20);
	assert_int_equal(n->lsec, 4096);
	assert_true(n->discard);
	assert_true(n->swap);
	assert_false(n->live);
	assert_int_equal(n->by_path.n, 1);
	assert_string_equal(n->by_path.v[0], "/dev/disk/by-path/pci-0000:00:04.0-nvme-1");
	assert_int_equal(n->n_sigs, 2);
	assert_string_equal(n->sigs[1].type, "ceph_bluestore");
	assert_int_equal(n->n_parts, 1);
	assert_string_equal(n->parts[0].path, "/dev/nvme0n1p1");

	assert_string_equal(s->name, "sdb");
	assert_string_equal(s->transport, "usb");
	assert_string_equal(s->model, "Cruzer");
	assert_true(s->removable);
	assert_true(s->rotational);
	assert_true(s->read_only);
	assert_true(s->live);
	assert_int_equal(s->mounts.n, 1);
	assert_string_equal(s->mounts.v[0], "/dev/sdb1 on /cdrom");
	assert_int_equal(s->n_parts, 1);
	assert_int_equal(s->parts[0].start, 1 << 20);
	assert_non_null(s->probe_error);
	assert_non_null(strstr(s->probe_error, "/dev/sdb': No such file or directory"));

	assert_ptr_equal(hw_find(&inv, "/dev/disk/by-path/pci-0000:00:04.0-nvme-1"), n);
	assert_ptr_equal(hw_find(&inv, devpath), n);
	assert_ptr_equal(hw_find(&inv, "/dev/sdb"), s);
	assert_null(hw_find(&inv, "/dev/sdz"));
	hw_inventory_free(&inv);

	/* only + live override + no probing */
	{
		const char *only[] = { "/dev/nvme0n1" };
		struct hw_opts o2 = {
			.root = root, .only = only, .n_only = 1, .live = "/dev/nvme0n1", .no_probe = true
		};

		assert_int_equal(hw_inventory(&o2, &inv, &e), 0);
		assert_int_equal(inv.n, 1);
		assert_true(inv.v[0].live);
		assert_int_equal(inv.v[0].n_sigs, 0);
		hw_inventory_free(&inv);
	}
	free(devpath);
}

static void test_missing_root_and_files(void **state)
{
	struct hw_opts o = { .root = "/nonexistent-appliance-root" };
	struct hw_inventory inv = { 0 };
	struct app_err e = { 0 };
	const char *files[] = { "/nonexistent.img" };
	char buf[32];

	(void)state;
	assert_int_equal(hw_inventory(&o, &inv, &e), -ENOENT);
	assert_string_equal(
	    e.msg, "cannot list disks in '/nonexistent-appliance-root/sys/block': No such file or directory");
	put("sys/block/.keep", "");
	o.root = root;
	o.files = files;
	o.n_files = 1;
	assert_int_equal(hw_inventory(&o, &inv, &e), -ENOENT);
	assert_string_equal(e.msg, "image file '/nonexistent.img': No such file or directory");
	assert_string_equal(fmt_bytes(1536ULL << 20, buf, sizeof(buf)), "1.5 GiB");
	assert_string_equal(fmt_bytes(512, buf, sizeof(buf)), "512 B");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_probe_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inventory_fixture_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_root_and_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

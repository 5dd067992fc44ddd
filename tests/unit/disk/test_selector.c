/* Selector resolution against a hand-built inventory: every key, size operators,
 * the reasons given for each candidate, and the errors: zero matches, several
 * matches for a single-disk role, too small, double claims, empty selectors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "disk/hw.h"
#include "profile/model.h"
#include "disk/selector.h"
#include "base/util.h"

#define GB 1000000000ULL

static char *bp_nvme1[] = { "/dev/disk/by-path/pci-0000:00:05.0-nvme-1" };

static struct hw_disk disks[] = {
	{ .name = "nvme0n1",
	  .path = "/dev/nvme0n1",
	  .dev = "/dev/nvme0n1",
	  .model = "Samsung SSD 980 PRO 1TB",
	  .serial = "S5GXNX0T100001",
	  .wwid = "eui.002538b111111111",
	  .transport = "nvme",
	  .size = 1000 * GB },
	{ .name = "nvme1n1",
	  .path = "/dev/nvme1n1",
	  .dev = "/dev/nvme1n1",
	  .model = "Samsung SSD 990 PRO 2TB",
	  .serial = "S6Z2NJ0W200002",
	  .wwid = "eui.002538b222222222",
	  .transport = "nvme",
	  .size = 2000 * GB,
	  .by_path = { .v = bp_nvme1, .n = 1 } },
	{ .name = "nvme2n1",
	  .path = "/dev/nvme2n1",
	  .dev = "/dev/nvme2n1",
	  .model = "Samsung SSD 990 PRO 2TB",
	  .serial = "S6Z2NJ0W200003",
	  .wwid = "eui.002538b333333333",
	  .transport = "nvme",
	  .size = 2000 * GB },
	{ .name = "sda",
	  .path = "/dev/sda",
	  .dev = "/dev/sda",
	  .model = "Ultra USB 3.0",
	  .transport = "usb",
	  .size = 32 * GB },
};

static struct hw_inventory inv = { .v = disks, .n = sizeof(disks) / sizeof(disks[0]) };

static struct ceph_disks ceph[3];
static struct model_node node = { .name = "n1" };
static struct model model = { .nodes = &node, .n_nodes = 1 };

static int setup(void **state)
{
	(void)state;
	memset(&node.install_disk, 0, sizeof(node.install_disk));
	memset(ceph, 0, sizeof(ceph));
	node.ceph_disks = ceph;
	node.n_ceph_disks = 0;
	return 0;
}

static void test_match_keys_and_reasons(void **state)
{
	struct disk_selector s = { .serial = "S6Z2*", .transport = "nvme" };
	char why[512];

	(void)state;
	assert_int_equal(selector_match(&s, &disks[1], why, sizeof(why)), 1);
	assert_string_equal(why, "serial 'S6Z2NJ0W200002' matches 'S6Z2*', transport 'nvme' matches 'nvme'");
	assert_int_equal(selector_match(&s, &disks[0], why, sizeof(why)), 0);
	assert_string_equal(why, "serial 'S5GXNX0T100001' does not match 'S6Z2*'");
	assert_int_equal(selector_match(&s, &disks[3], why, sizeof(why)), 0);
	assert_string_equal(why, "has no serial (wanted 'S6Z2*')");

	s = (struct disk_selector){ .path = "/dev/disk/by-path/*nvme-1" };
	assert_int_equal(selector_match(&s, &disks[1], why, sizeof(why)), 1);
	assert_string_equal(
	    why, "path '/dev/disk/by-path/pci-0000:00:05.0-nvme-1' matches '/dev/disk/by-path/*nvme-1'");
	assert_int_equal(selector_match(&s, &disks[2], why, sizeof(why)), 0);
	assert_string_equal(why, "path '/dev/nvme2n1' does not match '/dev/disk/by-path/*nvme-1'");

	s = (struct disk_selector){ .wwid = "eui.002538b3*", .model = "*990*" };
	assert_int_equal(selector_match(&s, &disks[2], why, sizeof(why)), 1);
	assert_int_equal(selector_match(&s, &disks[1], why, sizeof(why)), 0);
	assert_string_equal(why, "wwid 'eui.002538b222222222' does not match 'eui.002538b3*'");
}

static void test_size_operators(void **state)
{
	static const struct {
		enum size_op op;
		uint64_t want;
		int hit[4];
	} rows[] = {
		{ SIZE_OP_GE, 1000 * GB, { 1, 1, 1, 0 } }, { SIZE_OP_GT, 1000 * GB, { 0, 1, 1, 0 } },
		{ SIZE_OP_LE, 1000 * GB, { 1, 0, 0, 1 } }, { SIZE_OP_LT, 1000 * GB, { 0, 0, 0, 1 } },
		{ SIZE_OP_EQ, 32 * GB, { 0, 0, 0, 1 } },
	};
	char why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct disk_selector s = { .size = "x", .size_op = rows[i].op, .size_bytes = rows[i].want };

		for (size_t d = 0; d < 4; d++)
			assert_int_equal(selector_match(&s, &disks[d], why, sizeof(why)), rows[i].hit[d]);
	}
	{
		struct disk_selector s = { .size = ">= 1TB", .size_op = SIZE_OP_GE, .size_bytes = 1000 * GB };

		assert_int_equal(selector_match(&s, &disks[3], why, sizeof(why)), 0);
		assert_string_equal(why, "size 32000000000 is not >= 1000000000000 ('>= 1TB')");
	}
}

static void test_resolve_ok(void **state)
{
	struct selector_result r = { 0 };
	struct app_err e = { 0 };

	(void)state;
	node.install_disk.serial = "S5GX*";
	ceph[0].selector.model = "*990 PRO*";
	ceph[0].match = "all";
	ceph[0].wipe = true;
	node.n_ceph_disks = 1;
	assert_int_equal(selector_resolve_node(&model, &node, &inv, &r, &e), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.v[0].key, "nodes[0].installDisk");
	assert_int_equal(r.v[0].n_disks, 1);
	assert_int_equal(r.v[0].disks[0], 0);
	assert_string_equal(r.v[1].key, "nodes[0].cephDisks[0]");
	assert_int_equal(r.v[1].n_disks, 2);
	assert_true(r.v[1].wipe);
	assert_non_null(strstr(r.report, "nodes[0].cephDisks[0]: 2 disks\n"));
	assert_non_null(
	    strstr(r.report, "  /dev/sda: no match: model 'Ultra USB 3.0' does not match '*990 PRO*'\n"));
	selector_result_free(&r);
}

static void test_zero_matches(void **state)
{
	struct selector_result r = { 0 };
	struct app_err e = { 0 };

	(void)state;
	node.install_disk.serial = "NOPE*";
	assert_int_equal(selector_resolve_node(&model, &node, &inv, &r, &e), -EINVAL);
	assert_string_equal(e.msg,
			    "node 'n1': nodes[0].installDisk matches no disk; candidates:\n"
			    "  /dev/nvme0n1: no match: serial 'S5GXNX0T100001' does not match 'NOPE*'\n"
			    "  /dev/nvme1n1: no match: serial 'S6Z2NJ0W200002' does not match 'NOPE*'\n"
			    "  /dev/nvme2n1: no match: serial 'S6Z2NJ0W200003' does not match 'NOPE*'\n"
			    "  /dev/sda: no match: has no serial (wanted 'NOPE*')");
	selector_result_free(&r);

	/* match: all needs one or more; match: any is fine with none */
	node.install_disk.serial = "S5GX*";
	ceph[0].selector.serial = "NOPE*";
	ceph[0].match = "all";
	node.n_ceph_disks = 1;
	assert_int_equal(selector_resolve_node(&model, &node, &inv, &r, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "nodes[0].cephDisks[0] matches no disk; candidates:"));
	selector_result_free(&r);
	ceph[0].match = "any";
	assert_int_equal(selector_resolve_node(&model, &node, &inv, &r, &e), 0);
	assert_int_equal(r.v[1].n_disks, 0);
	selector_result_free(&r);
}

static void test_several_matches_never_first(void **state)
{
	struct selector_result r = { 0 };
	struct app_err e = { 0 };

	(void)state;
	node.install_disk.transport = "nvme";
	assert_int_equal(selector_resolve_node(&model, &node, &inv, &r, &e), -EINVAL);
	assert_string_equal(
	    e.msg, "node 'n1': nodes[0].installDisk matches 3 disks, expected exactly one; candidates:\n"
		   "  /dev/nvme0n1: matches (transport 'nvme' matches 'nvme')\n"
		   "  /dev/nvme1n1: matches (transport 'nvme' matches 'nvme')\n"
		   "  /dev/nvme2n1: matches (transport 'nvme' matches 'nvme')\n"
		   "  /dev/sda: no match: transport 'usb' does not match 'nvme'");
	selector_result_free(&r);

	/* match: one (the default) on cephDisks too */
	node.install_disk.transport = "usb";
	ceph[0].selector.model = "*990*";
	node.n_ceph_disks = 1;
	assert_int_equal(selector_resolve_node(&model, &node, &inv, &r, &e), -EINVAL);
	assert_non_null(
	    strstr(e.msg, "nodes[0].cephDisks[0] matches 2 disks, expected exactly one; candidates:"));
	selector_result_free(&r);
}

static void test_too_small(void **state)
{
	struct selector_result r = { 0 };
	struct app_err e = { 0 };

	(void)state;
	node.install_disk.transport = "usb";
	node.install_disk.min_size = (struct model_size){ .text = "64Gi", .bytes = 64ULL << 30 };
	assert_int_equal(selector_resolve_node(&model, &node, &inv, &r, &e), -EINVAL);
	assert_string_equal(
	    e.msg, "node 'n1': nodes[0].installDisk matches a disk smaller than its minimum size 64Gi; "
		   "candidates:\n"
		   "  /dev/nvme0n1: no match: transport 'nvme' does not match 'usb'\n"
		   "  /dev/nvme1n1: no match: transport 'nvme' does not match 'usb'\n"
		   "  /dev/nvme2n1: no match: transport 'nvme' does not match 'usb'\n"
		   "  /dev/sda: matches (transport 'usb' matches 'usb') but is too small: 29.8 GiB < "
		   "minimum 64Gi");
	selector_result_free(&r);
}

static void test_double_claims(void **state)
{
	struct selector_result r = { 0 };
	struct app_err e = { 0 };

	(void)state;
	node.install_disk.serial = "S6Z2NJ0W200002";
	ceph[0].selector.model = "*990*";
	ceph[0].match = "all";
	node.n_ceph_disks = 1;
	assert_int_equal(selector_resolve_node(&model, &node, &inv, &r, &e), -EINVAL);
	assert_string_equal(e.msg,
			    "node 'n1': disk '/dev/nvme1n1' is claimed by both nodes[0].installDisk and "
			    "nodes[0].cephDisks[0]");
	selector_result_free(&r);

	node.install_disk.serial = "S5GX*";
	ceph[1].selector.serial = "S6Z2NJ0W200003";
	node.n_ceph_disks = 2;
	assert_int_equal(selector_resolve_node(&model, &node, &inv, &r, &e), -EINVAL);
	assert_string_equal(e.msg,
			    "node 'n1': disk '/dev/nvme2n1' is claimed by both nodes[0].cephDisks[0] and "
			    "nodes[0].cephDisks[1]");
	selector_result_free(&r);
}

static void test_empty_ceph_selector(void **state)
{
	struct selector_result r = { 0 };
	struct app_err e = { 0 };

	(void)state;
	node.install_disk.serial = "S5GX*";
	ceph[0].match = "all";
	node.n_ceph_disks = 1;
	assert_int_equal(selector_resolve_node(&model, &node, &inv, &r, &e), -EINVAL);
	assert_string_equal(
	    e.msg, "node 'n1': nodes[0].cephDisks[0] has no selector fields; it would match every disk");
	selector_result_free(&r);
}

static void test_long_candidate_list_is_cut_whole_lines(void **state)
{
	struct hw_disk many[40];
	struct hw_inventory big = { .v = many, .n = 40 };
	struct selector_result r = { 0 };
	struct app_err e = { 0 };
	char names[40][32];

	(void)state;
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "/dev/loop%d", i);
		many[i] = (struct hw_disk){ .name = names[i] + 5,
					    .path = names[i],
					    .dev = names[i],
					    .transport = "loop",
					    .size = GB };
	}
	node.install_disk.path = "/dev/loop*";
	assert_int_equal(selector_resolve_node(&model, &node, &big, &r, &e), -EINVAL);
	assert_true(strlen(e.msg) < sizeof(e.msg));
	assert_non_null(strstr(e.msg, "\n  ..."));
	assert_non_null(
	    strstr(r.report, "  /dev/loop39: matches (path '/dev/loop39' matches '/dev/loop*')\n"));
	selector_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_match_keys_and_reasons, setup),
		cmocka_unit_test_setup(test_size_operators, setup),
		cmocka_unit_test_setup(test_resolve_ok, setup),
		cmocka_unit_test_setup(test_zero_matches, setup),
		cmocka_unit_test_setup(test_several_matches_never_first, setup),
		cmocka_unit_test_setup(test_too_small, setup),
		cmocka_unit_test_setup(test_double_claims, setup),
		cmocka_unit_test_setup(test_empty_ceph_selector, setup),
		cmocka_unit_test_setup(test_long_candidate_list_is_cut_whole_lines, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

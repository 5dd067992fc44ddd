/* appliance identify: the profile's node block for the machine this runs on
 * (its MACs, DMI serial and UUID, its disks with selectors that pick each one
 * alone), to paste under `nodes:`. Read-only: nothing is opened for writing. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "base/err.h"
#include "base/json.h"
#include "base/util.h"
#include "disk/hw.h"
#include "install/identity.h"
#include "install/nodeblock.h"
#include "profile/profile.h"
#include "profile/value.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: appliance identify [--name NAME] [--json] [--min-size SIZE]\n"
		   "                          [--hw-root DIR] [--sysfs DIR]\n\n"
		   "Print the profile's node block for this machine: its MACs, DMI serial and UUID,\n"
		   "and its disks, each with a selector that matches it alone. Paste it under\n"
		   "'nodes:' and decide what is marked CHOOSE. Reads sysfs and probes the disks;\n"
		   "writes nothing. On the live system: boot the stick with appliance.action=check.\n\n"
		   "  --name NAME     the node's name in the block (default node-1)\n"
		   "  --json          the facts as one JSON object instead\n"
		   "  --min-size SIZE suggest no install disk smaller than SIZE (default: Talos'\n"
		   "                  minimum system disk, talos.installDiskMinSize of the defaults)\n"
		   "  --hw-root DIR   read the machine below DIR (DIR/sys, DIR/dev; tests, fixtures)\n"
		   "  --sysfs DIR     sysfs for the MACs and DMI (default HW_ROOT/sys, else /sys)\n\n"
		   "examples:\n"
		   "  appliance identify --name lake-1 > lake-1.yaml   # paste it under 'nodes:'\n"
		   "  appliance identify --name lake-1 --json         # the facts, for a script\n\n"
		   "exit: 0 ok, 1 the machine could not be read, 2 usage error\n");
}

static void print_json(const struct identity *id, const struct hw_inventory *inv)
{
	printf("{\"macs\":[");
	for (size_t i = 0; i < id->macs.n; i++) {
		printf("%s", i ? "," : "");
		json_str(stdout, id->macs.v[i]);
	}
	printf("],\"serial\":");
	json_str(stdout, id->serial);
	printf(",\"uuid\":");
	json_str(stdout, id->uuid);
	printf(",\"disks\":[");
	for (size_t i = 0; i < inv->n; i++) {
		const struct hw_disk *d = &inv->v[i];
		char *sel = nodeblock_selector(inv, d);
		printf("%s{\"path\":", i ? "," : "");
		json_str(stdout, d->path ? d->path : d->name);
		printf(",\"size\":%llu,\"model\":", (unsigned long long)d->size);
		json_str(stdout, d->model);
		printf(",\"serial\":");
		json_str(stdout, d->serial);
		printf(",\"transport\":");
		json_str(stdout, d->transport);
		printf(",\"selector\":");
		json_str(stdout, sel);
		printf(",\"live\":%s}", d->live ? "true" : "false");
		free(sel);
	}
	printf("]}\n");
}

int cmd_identify(int argc, char **argv)
{
	struct hw_opts ho = { 0 };
	struct hw_inventory inv = { 0 };
	struct identity id = { 0 };
	struct app_err e = { 0 };
	const char *name = "node-1", *sysfs = NULL, *min_text = NULL, *v;
	uint64_t min_size = 0;
	const char **files = NULL;
	size_t n_files = 0;
	bool json = false;
	char *sys;
	int r;

	for (int i = 1; i < argc; i++) {
		if (cmd_is_help(argv[i])) {
			usage(stdout);
			free(files);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if ((v = cmd_opt(argc, argv, &i, "--name")))
			name = v;
		else if ((v = cmd_opt(argc, argv, &i, "--sysfs")))
			sysfs = v;
		else if ((v = cmd_opt(argc, argv, &i, "--min-size")))
			min_text = v;
		else if (!cmd_hw_opt(argc, argv, &i, &ho, &files, &n_files)) {
			free(files);
			return cmd_usage_error(
			    "identify",
			    argv[i][0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", argv[i]);
		}
	}
	if (!value_is_k8s_name(name)) {
		free(files);
		return cmd_usage_error("identify", "--name '%s' is not a lower-case name", name);
	}
	if (min_text ? profile_parse_size(min_text, &min_size) < 0
		     : profile_default_size("talos.installDiskMinSize", &min_size) < 0) {
		free(files);
		return cmd_usage_error("identify", "--min-size '%s' is not a size (10Gi, 500MB)",
				       min_text ? min_text : "");
	}
	ho.files = files;
	ho.n_files = n_files;
	sys = sysfs ? xstrdup(sysfs) : xasprintf("%s/sys", strcmp(hw_root(&ho), "/") ? hw_root(&ho) : "");
	r = identity_read(sys, &id, &e);
	if (r == 0)
		r = hw_inventory(&ho, &inv, &e);
	if (r < 0) {
		cmd_err(&e);
		identity_free(&id);
		free(sys);
		free(files);
		return EXIT_FAIL;
	}
	if (json) {
		print_json(&id, &inv);
	} else {
		struct buf b = { 0 };
		nodeblock_render(name, &id, &inv, min_size, &b);
		printf("# node block for this machine (appliance identify): paste it under 'nodes:'\n%s",
		       b.data ? b.data : "");
		buf_free(&b);
	}
	hw_inventory_free(&inv);
	identity_free(&id);
	free(sys);
	free(files);
	return EXIT_OK;
}

/* appliance wipe PROFILE --node NAME [--apply] [--backup DIR] [--disk PATH] [--unattended] [--json]
 * appliance wipe --restore DIR [--json]
 * Prepare a node's Ceph disks to Rook's standard (wipe.h); dry run unless --apply. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "base/err.h"
#include "disk/hw.h"
#include "base/json.h"
#include "profile/model.h"
#include "disk/selector.h"
#include "base/util.h"
#include "disk/wipe.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: appliance wipe PROFILE --node NAME [--apply] [--backup DIR] [--disk PATH]\n"
		   "                      [--unattended] [--json] [--hw-root DIR]\n"
		   "                      [--disk-file FILE]...\n"
		   "                      [--live PATH] [--site FILE]... [--set KEY=VALUE]...\n"
		   "       appliance wipe --restore DIR [--json] [--hw-root DIR] [--live PATH]\n\n"
		   "Prepare the node's Ceph disks (cephDisks selectors) so Rook makes OSDs on them.\n"
		   "Without --apply, print what would be erased: disk, offset, length, kind, type.\n"
		   "With --apply, per disk and all disks in parallel: erase every signature libblkid\n"
		   "finds (disk and partitions), zero the protective MBR and both GPT headers, zero\n"
		   "200 KiB at Rook's zap offsets (0, 1G, 10G, 100G, 1000G), discard the whole disk\n"
		   "(else zero the first and last 100 MiB), re-read the partition table, and fail\n"
		   "unless libblkid then finds nothing. Every disk passes the safety policy first.\n\n"
		   "  --apply            really erase\n"
		   "  --backup DIR       save every region first (DIR/index + DIR/diskN.img); the\n"
		   "                     disk is then zeroed at both ends instead of discarded so\n"
		   "                     that the backup holds everything erased\n"
		   "  --restore DIR      write a backup back (each region checked against its\n"
		   "                     sha256)\n"
		   "  --disk PATH        only this disk (it must be one of the node's Ceph disks)\n"
		   "  --unattended       only entries with 'wipe: true' (what install --unattended\n"
		   "                     does)\n"
		   "  --json             one JSON object on stdout\n"
		   "  --hw-root DIR      read sys/, dev/ and proc/ below DIR (fixture trees)\n"
		   "  --disk-file FILE   list an image file as a disk (repeatable)\n"
		   "  --live PATH        treat the disk holding PATH as the live medium\n\n"
		   "examples:\n"
		   "  appliance wipe site.yaml --node lake-1    # what would be erased\n"
		   "  appliance wipe site.yaml --node lake-1 --backup wipe-backup --apply\n\n"
		   "exit: 0 ok (dry run printed, or every disk wiped and clean), 1 refused or\n"
		   "failed, 2 usage error or invalid profile\n");
}

static const char *type_text(const struct wipe_region *g, char *buf, size_t n)
{
	if (g->partno)
		snprintf(buf, n, "%s (partition %d)", g->type, g->partno);
	else
		snprintf(buf, n, "%s", g->type);
	return buf;
}

static void print_plan_text(const struct wipe_plan *p, const char *node, bool apply)
{
	char t[300];

	printf("node '%s': %zu Ceph disk%s%s\n", node, p->n, p->n == 1 ? "" : "s",
	       apply ? "" : "; dry run, nothing is erased without --apply");
	printf("%-24s %-14s %-12s %-9s %s\n", "DEVICE", "OFFSET", "LENGTH", "KIND", "TYPE");
	for (size_t i = 0; i < p->n; i++)
		for (size_t k = 0; k < p->v[i].n; k++) {
			const struct wipe_region *g = &p->v[i].v[k];

			printf("%-24s 0x%-12llx %-12llu %-9s %s\n", p->v[i].path,
			       (unsigned long long)g->offset, (unsigned long long)g->length,
			       wipe_kind_name(g->kind), type_text(g, t, sizeof(t)));
		}
}

static void print_result_text(const struct wipe_result *res, const char *backup, bool restore)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct wipe_disk_result *d = &res->v[i];

		if (d->rc < 0)
			printf("%s: FAILED: %s\n", d->path, d->msg);
		else if (restore)
			printf("%s: restored %zu regions, %llu bytes (%.2f s)\n", d->path, d->regions,
			       (unsigned long long)d->bytes_zeroed, d->seconds);
		else
			printf("%s: wiped %zu regions, %s, %llu bytes zeroed, clean (%.2f s)\n", d->path,
			       d->regions, d->discarded ? "discarded" : "not discarded",
			       (unsigned long long)d->bytes_zeroed, d->seconds);
	}
	if (backup && !restore)
		printf("backup: %s/index (undo with: appliance wipe --restore %s)\n", backup, backup);
	printf("%.2f s\n", res->seconds);
}

static void print_results_json(const struct wipe_result *res)
{
	printf("\"results\":[");
	for (size_t i = 0; i < res->n; i++) {
		const struct wipe_disk_result *d = &res->v[i];

		printf("%s{\"path\":", i ? "," : "");
		json_str(stdout, d->path);
		printf(",\"ok\":%s,\"error\":", d->rc == 0 ? "true" : "false");
		json_str(stdout, d->rc < 0 ? d->msg : NULL);
		printf(",\"regions\":%zu,\"discarded\":%s,\"bytes\":%llu,\"seconds\":%.3f}", d->regions,
		       d->discarded ? "true" : "false", (unsigned long long)d->bytes_zeroed, d->seconds);
	}
	printf("],\"seconds\":%.3f", res->seconds);
}

static void print_json(const char *node, const struct wipe_plan *p, const struct wipe_result *res, bool apply,
		       const char *backup, const struct app_err *e)
{
	printf("{\"node\":");
	json_str(stdout, node);
	printf(",\"apply\":%s,\"backup\":", apply ? "true" : "false");
	json_str(stdout, backup);
	printf(",\"ok\":%s,\"error\":", e && e->msg[0] ? "false" : "true");
	json_str(stdout, e && e->msg[0] ? e->msg : NULL);
	printf(",\"disks\":[");
	for (size_t i = 0; p && i < p->n; i++) {
		const struct wipe_target *t = &p->v[i];

		printf("%s{\"path\":", i ? "," : "");
		json_str(stdout, t->path);
		printf(",\"role\":");
		json_str(stdout, t->key);
		printf(",\"size\":%llu,\"discard\":%s,\"regions\":[", (unsigned long long)t->size,
		       t->discard ? "true" : "false");
		for (size_t k = 0; k < t->n; k++) {
			printf("%s{\"offset\":%llu,\"length\":%llu,\"kind\":", k ? "," : "",
			       (unsigned long long)t->v[k].offset, (unsigned long long)t->v[k].length);
			json_str(stdout, wipe_kind_name(t->v[k].kind));
			printf(",\"type\":");
			json_str(stdout, t->v[k].type);
			printf(",\"partition\":%d}", t->v[k].partno);
		}
		printf("]}");
	}
	printf("]");
	if (res) {
		putchar(',');
		print_results_json(res);
	}
	printf("}\n");
}

/* After a refusal: the node's whole selector report (every candidate), on stderr. */
static void print_selection(const struct model *m, const struct model_node *node,
			    const struct hw_inventory *inv)
{
	struct selector_result sr = { 0 };
	struct app_err e = { 0 };

	if (selector_resolve_node(m, node, inv, &sr, &e) < 0)
		fprintf(stderr, "selectors of node '%s' (every disk of this machine):\n%s", node->name,
			sr.report ? sr.report : "");
	selector_result_free(&sr);
}

static int do_restore(const char *dir, const char *root, const char *live, bool json)
{
	struct wipe_result res = { 0 };
	struct app_err e = { 0 };
	int r = wipe_restore(dir, root, live, &res, &e);

	if (json) {
		printf("{\"restore\":");
		json_str(stdout, dir);
		printf(",\"ok\":%s,\"error\":", r == 0 ? "true" : "false");
		json_str(stdout, r < 0 ? e.msg : NULL);
		putchar(',');
		print_results_json(&res);
		printf("}\n");
	} else {
		print_result_text(&res, NULL, true);
		if (r < 0)
			cmd_err(&e);
	}
	wipe_result_free(&res);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

/* libblkid allocates (calloc) a buffer for every read and frees them all after
 * each probe, 256 KiB for each ZFS label, in every thread that probes. With
 * glibc's defaults those come from fresh mappings or a heap that is trimmed
 * again at once: page faults, zeroing and unmapping on every probe, nearly a
 * third of a probe's CPU and most of what four parallel probes contended on
 * (mmap_lock). Keep one heap, never trimmed, for this short-lived process. */
static void malloc_for_probes(void)
{
	mallopt(M_ARENA_MAX, 1);		/* one heap for every thread */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024); /* libblkid's buffers from the heap */
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_TOP_PAD, 4 * 1024 * 1024);
}

int cmd_wipe(int argc, char **argv)
{
	struct profile_opts po = { 0 };
	struct hw_opts ho = { 0 };
	struct wipe_opts wo = { 0 };
	const char **files = NULL;
	size_t n_files = 0;
	const char *node_name = NULL, *backup = NULL, *restore = NULL, *v;
	bool json = false, apply = false;
	struct hw_inventory inv = { 0 };
	struct wipe_plan plan = { 0 };
	struct wipe_result res = { 0 };
	struct app_err e = { 0 };
	const struct model_node *node;
	struct model *m = NULL;
	int rc = EXIT_OK, r;

	for (int i = 1; i < argc; i++) {
		if (cmd_is_help(argv[i])) {
			usage(stdout);
			goto out;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--apply") == 0) {
			apply = true;
		} else if (strcmp(argv[i], "--unattended") == 0) {
			wo.unattended = true;
		} else if (cmd_hw_opt(argc, argv, &i, &ho, &files, &n_files)) {
			continue;
		} else if ((v = cmd_opt(argc, argv, &i, "--node"))) {
			node_name = v;
		} else if ((v = cmd_opt(argc, argv, &i, "--backup"))) {
			backup = v;
		} else if ((v = cmd_opt(argc, argv, &i, "--restore"))) {
			restore = v;
		} else if ((v = cmd_opt(argc, argv, &i, "--disk"))) {
			wo.only = v;
		} else if ((r = profile_opts_arg(&po, argc, argv, &i)) != 0) {
			if (r < 0) {
				rc = cmd_usage_error("wipe", "bad option '%s'", argv[i]);
				goto out;
			}
		} else if ((rc = cmd_profile_arg("wipe", &po, argv[i])) != 0) {
			goto out;
		}
	}
	if (restore) {
		if (po.profile || node_name || apply || backup || wo.only) {
			rc = cmd_usage_error(
			    "wipe", "--restore DIR takes no PROFILE, --node, --apply, --backup or --disk");
			goto out;
		}
		rc = do_restore(restore, ho.root, ho.live, json);
		goto out;
	}
	if (!po.profile || !node_name) {
		rc = cmd_usage_error("wipe", "PROFILE and --node NAME are required");
		goto out;
	}
	if (backup && !apply) {
		rc = cmd_usage_error("wipe", "--backup only makes sense with --apply");
		goto out;
	}
	m = cmd_load_node(&po, node_name, &node);
	if (!m) {
		rc = EXIT_USAGE;
		goto out;
	}
	malloc_for_probes();
	ho.files = files;
	ho.n_files = n_files;
	ho.no_probe = true; /* selectors need sysfs facts only; the disks to wipe are probed in the plan */
	wo.backup = backup != NULL;
	wo.root = ho.root;
	wo.live = ho.live;
	if (hw_inventory(&ho, &inv, &e) < 0 || wipe_plan_node(m, node, &inv, &wo, &plan, &e) < 0) {
		if (json)
			print_json(node_name, NULL, NULL, apply, backup, &e);
		else
			cmd_err(&e);
		if (!json && inv.n)
			print_selection(m, node, &inv);
		rc = EXIT_FAIL;
		goto out;
	}
	if (apply) {
		r = wipe_apply(&plan, backup, &res, &e);
		if (json) {
			print_json(node_name, &plan, &res, apply, backup, r < 0 ? &e : NULL);
		} else {
			print_result_text(&res, r == 0 || res.n ? backup : NULL, false);
			if (r < 0)
				cmd_err(&e);
		}
		rc = r < 0 ? EXIT_FAIL : EXIT_OK;
	} else if (json) {
		print_json(node_name, &plan, NULL, apply, backup, NULL);
	} else {
		print_plan_text(&plan, node_name, apply);
	}
out:
	wipe_result_free(&res);
	wipe_plan_free(&plan);
	hw_inventory_free(&inv);
	if (m)
		model_free(m);
	free(files);
	profile_opts_free(&po);
	return rc;
}

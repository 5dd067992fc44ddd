/* appliance disks [--json] [--hw-root DIR] [--disk-file FILE]... [--live PATH]
 *                 [PROFILE --node NAME [--site FILE]... [--set KEY=VALUE]...]
 * The inventory (hw.h) and, with a profile, which role each disk plays
 * (selector.h). Read-only. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "base/err.h"
#include "disk/hw.h"
#include "base/json.h"
#include "profile/model.h"
#include "disk/selector.h"
#include "base/util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: appliance disks [--json] [--hw-root DIR] [--disk-file FILE]...\n"
		   "                       [--disk NAME]... [--live PATH]\n"
		   "       [PROFILE --node NAME [--site FILE]... [--set KEY=VALUE]...]\n\n"
		   "List this machine's disks from sysfs and libblkid: path, model, serial, WWID,\n"
		   "size, sector sizes, transport, rotational/removable/read-only, partitions,\n"
		   "every signature (type, offset, label), mount points, holders (dm, md, LVM)\n"
		   "and whether the disk carries the running live system. Nothing is written.\n\n"
		   "With PROFILE and --node, also resolve that node's installDisk and cephDisks\n"
		   "selectors and show every candidate with why it did or did not match.\n\n"
		   "  --json             one JSON object on stdout\n"
		   "  --hw-root DIR      read sys/, dev/ and proc/ below DIR (fixture trees;\n"
		   "                     default /, or $APPLIANCE_HW_ROOT)\n"
		   "  --disk-file FILE   list an image file as a disk (repeatable)\n"
		   "  --disk NAME        only this disk (sda or /dev/sda; repeatable; not with\n"
		   "                     PROFILE)\n"
		   "  --live PATH        treat the disk holding PATH as the live medium (default\n"
		   "                     $APPLIANCE_LIVE_DISK; the disks backing / and the live\n"
		   "                     mounts are always detected)\n\n"
		   "examples:\n"
		   "  appliance disks                          # this machine's disks\n"
		   "  appliance disks site.yaml --node lake-1  # what its selectors pick, and why\n\n"
		   "exit: 0 ok, 1 the inventory failed or a selector did not resolve, 2 usage\n"
		   "error or invalid profile\n");
}

static const char *dash(const char *s)
{
	return s && *s ? s : "-";
}

/* Roles of disk index j: comma-separated keys into buf. */
static const char *roles_of(const struct selector_result *sr, size_t j, char *buf, size_t n)
{
	buf[0] = '\0';
	for (size_t i = 0; sr && i < sr->n; i++)
		for (size_t k = 0; k < sr->v[i].n_disks; k++)
			if (sr->v[i].disks[k] == j) {
				size_t len = strlen(buf);
				snprintf(buf + len, n - len, "%s%s", len ? "," : "", sr->v[i].key);
			}
	return buf;
}

static void print_text(const struct hw_inventory *inv, const struct selector_result *sr)
{
	char sz[32], roles[512];

	if (inv->n == 0)
		printf("no disks found\n");
	for (size_t i = 0; i < inv->n; i++) {
		const struct hw_disk *d = &inv->v[i];

		printf("%s  %s  %s  model=%s serial=%s wwid=%s\n", d->path,
		       fmt_bytes(d->size, sz, sizeof(sz)), d->transport, dash(d->model), dash(d->serial),
		       dash(d->wwid));
		/* two lines: one was ~90 columns */
		printf("  size %llu bytes, sectors %u/%u\n", (unsigned long long)d->size, d->lsec, d->psec);
		printf("  rotational=%s removable=%s read-only=%s discard=%s\n", d->rotational ? "yes" : "no",
		       d->removable ? "yes" : "no", d->read_only ? "yes" : "no", d->discard ? "yes" : "no");
		if (d->live)
			printf("  live system: yes (never written)\n");
		if (d->backing)
			printf("  backing file: %s\n", d->backing);
		for (size_t k = 0; k < d->by_path.n; k++)
			printf("  by-path: %s\n", d->by_path.v[k]);
		if (d->pttype)
			printf("  partition table: %s\n", d->pttype);
		for (size_t k = 0; k < d->n_parts; k++)
			printf("  partition %d: %s start %llu size %llu\n", d->parts[k].partno,
			       d->parts[k].path, (unsigned long long)d->parts[k].start,
			       (unsigned long long)d->parts[k].size);
		for (size_t k = 0; k < d->n_sigs; k++) {
			const struct hw_sig *s = &d->sigs[k];

			printf("  signature: %s at 0x%llx (%s", s->type, (unsigned long long)s->offset,
			       dash(s->usage));
			if (s->partno)
				printf(", partition %d", s->partno);
			if (s->label)
				printf(", label '%s'", s->label);
			if (s->uuid)
				printf(", uuid %s", s->uuid);
			printf(")\n");
		}
		for (size_t k = 0; k < d->mounts.n; k++)
			printf("  mounted: %s\n", d->mounts.v[k]);
		if (d->swap)
			printf("  swap: yes\n");
		for (size_t k = 0; k < d->holders.n; k++)
			printf("  held: %s\n", d->holders.v[k]);
		if (d->probe_error)
			printf("  probe error: %s\n", d->probe_error);
		if (sr && *roles_of(sr, i, roles, sizeof(roles)))
			printf("  role: %s\n", roles);
	}
}

static void json_strlist(const struct strlist *l)
{
	putchar('[');
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			putchar(',');
		json_str(stdout, l->v[i]);
	}
	putchar(']');
}

static void json_kv(const char *k, const char *v, bool comma)
{
	json_str(stdout, k);
	putchar(':');
	json_str(stdout, v);
	if (comma)
		putchar(',');
}

static void print_json(const struct hw_inventory *inv, const struct selector_result *sr, const char *node,
		       const struct app_err *se)
{
	char roles[512];

	printf("{\"disks\":[");
	for (size_t i = 0; i < inv->n; i++) {
		const struct hw_disk *d = &inv->v[i];

		printf("%s{", i ? "," : "");
		json_kv("name", d->name, true);
		json_kv("path", d->path, true);
		json_kv("dev", d->dev, true);
		printf("\"by_path\":");
		json_strlist(&d->by_path);
		putchar(',');
		json_kv("model", d->model, true);
		json_kv("vendor", d->vendor, true);
		json_kv("serial", d->serial, true);
		json_kv("wwid", d->wwid, true);
		json_kv("transport", d->transport, true);
		json_kv("backing_file", d->backing, true);
		json_kv("partition_table", d->pttype, true);
		printf("\"size\":%llu,\"logical_sector_size\":%u,\"physical_sector_size\":%u,",
		       (unsigned long long)d->size, d->lsec, d->psec);
		printf("\"rotational\":%s,\"removable\":%s,\"read_only\":%s,\"discard\":%s,\"live\":%s,"
		       "\"swap\":%s,",
		       d->rotational ? "true" : "false", d->removable ? "true" : "false",
		       d->read_only ? "true" : "false", d->discard ? "true" : "false",
		       d->live ? "true" : "false", d->swap ? "true" : "false");
		printf("\"partitions\":[");
		for (size_t k = 0; k < d->n_parts; k++) {
			const struct hw_part *p = &d->parts[k];

			printf("%s{\"number\":%d,", k ? "," : "", p->partno);
			json_kv("path", p->path, true);
			printf("\"start\":%llu,\"size\":%llu,\"swap\":%s,\"mounts\":",
			       (unsigned long long)p->start, (unsigned long long)p->size,
			       p->swap ? "true" : "false");
			json_strlist(&p->mounts);
			printf(",\"holders\":");
			json_strlist(&p->holders);
			putchar('}');
		}
		printf("],\"signatures\":[");
		for (size_t k = 0; k < d->n_sigs; k++) {
			const struct hw_sig *s = &d->sigs[k];

			printf("%s{", k ? "," : "");
			json_kv("type", s->type, true);
			json_kv("usage", s->usage, true);
			json_kv("label", s->label, true);
			json_kv("uuid", s->uuid, true);
			printf("\"offset\":%llu,\"length\":%llu,\"partition\":%d}",
			       (unsigned long long)s->offset, (unsigned long long)s->length, s->partno);
		}
		printf("],\"mounts\":");
		json_strlist(&d->mounts);
		printf(",\"holders\":");
		json_strlist(&d->holders);
		printf(",\"roles\":[");
		if (sr) {
			bool first = true;

			for (size_t r = 0; r < sr->n; r++)
				for (size_t k = 0; k < sr->v[r].n_disks; k++)
					if (sr->v[r].disks[k] == i) {
						if (!first)
							putchar(',');
						json_str(stdout, sr->v[r].key);
						first = false;
					}
		}
		printf("],");
		json_kv("probe_error", d->probe_error, false);
		putchar('}');
		(void)roles;
	}
	printf("]");
	if (node) {
		printf(",\"selection\":{");
		json_kv("node", node, true);
		printf("\"ok\":%s,", se->msg[0] ? "false" : "true");
		json_kv("error", se->msg[0] ? se->msg : NULL, true);
		json_kv("report", sr ? sr->report : NULL, false);
		putchar('}');
	}
	printf("}\n");
}

int cmd_disks(int argc, char **argv)
{
	struct profile_opts po = { 0 };
	struct hw_opts ho = { 0 };
	const char **files = NULL, **only = NULL;
	size_t n_files = 0, n_only = 0;
	const char *node_name = NULL, *v;
	bool json = false;
	struct hw_inventory inv = { 0 };
	struct selector_result sr = { 0 };
	struct app_err e = { 0 }, se = { 0 };
	const struct model_node *node = NULL;
	struct model *m = NULL;
	int rc = EXIT_OK, r;

	for (int i = 1; i < argc; i++) {
		if (cmd_is_help(argv[i])) {
			usage(stdout);
			rc = EXIT_OK;
			goto out;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (cmd_hw_opt(argc, argv, &i, &ho, &files, &n_files)) {
			continue;
		} else if ((v = cmd_opt(argc, argv, &i, "--node"))) {
			node_name = v;
		} else if ((v = cmd_opt(argc, argv, &i, "--disk"))) {
			only = xrealloc(only, sizeof(*only) * (n_only + 1));
			only[n_only++] = v;
		} else if ((r = profile_opts_arg(&po, argc, argv, &i)) != 0) {
			if (r < 0) {
				rc = cmd_usage_error("disks", "bad option '%s'", argv[i]);
				goto out;
			}
		} else if ((rc = cmd_profile_arg("disks", &po, argv[i])) != 0) {
			goto out;
		}
	}
	if ((po.profile != NULL) != (node_name != NULL)) {
		rc = cmd_usage_error("disks", "PROFILE and --node go together");
		goto out;
	}
	ho.files = files;
	ho.n_files = n_files;
	ho.only = only;
	ho.n_only = n_only;
	if (po.profile && n_only) {
		rc = cmd_usage_error(
		    "disks", "--disk lists a few disks; selectors need them all: drop it with PROFILE");
		goto out;
	}
	if (po.profile) {
		m = cmd_load_node(&po, node_name, &node);
		if (!m) {
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (hw_inventory(&ho, &inv, &e) < 0) {
		cmd_err(&e);
		rc = EXIT_FAIL;
		goto out;
	}
	if (m && selector_resolve_node(m, node, &inv, &sr, &se) < 0)
		rc = EXIT_FAIL;
	if (json) {
		print_json(&inv, m ? &sr : NULL, node_name, &se);
	} else {
		print_text(&inv, m ? &sr : NULL);
		if (m) {
			printf("\nselectors of node '%s':\n%s", node_name, sr.report ? sr.report : "");
			if (rc != EXIT_OK)
				cmd_err(&se);
		}
	}
out:
	selector_result_free(&sr);
	hw_inventory_free(&inv);
	if (m)
		model_free(m);
	free(files);
	free(only);
	profile_opts_free(&po);
	return rc;
}

/* The node block of one machine (see nodeblock.h). */
#include "install/nodeblock.h"

#include <stdlib.h>
#include <string.h>

/* The value of field F of every disk, for the uniqueness test. */
enum key { K_SERIAL, K_WWID, K_MODEL, K_PATH };

static const char *field(const struct hw_disk *d, enum key k)
{
	switch (k) {
	case K_SERIAL:
		return d->serial;
	case K_WWID:
		return d->wwid;
	case K_MODEL:
		return d->model;
	default:
		return d->path ? d->path : d->name;
	}
}

static bool unique(const struct hw_inventory *inv, const struct hw_disk *d, enum key k)
{
	const char *v = field(d, k);

	if (!v || !*v || strchr(v, '"') || strchr(v, '\\'))
		return false;
	for (size_t i = 0; i < inv->n; i++)
		if (&inv->v[i] != d && field(&inv->v[i], k) && strcmp(field(&inv->v[i], k), v) == 0)
			return false;
	return true;
}

char *nodeblock_selector(const struct hw_inventory *inv, const struct hw_disk *d)
{
	/* a serial or WWID stays with the disk when it moves; a model only while it
	 * is the only one of its kind; the path only while the slots stay */
	static const struct {
		enum key k;
		const char *name;
	} order[] = { { K_SERIAL, "serial" }, { K_WWID, "wwid" }, { K_MODEL, "model" } };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (unique(inv, d, order[i].k))
			return xasprintf("%s: \"%s\"", order[i].name, field(d, order[i].k));
	return xasprintf("path: \"%s\"", field(d, K_PATH));
}

static bool candidate(const struct hw_disk *d)
{
	return !d->live && !d->removable && !d->read_only && d->size > 0;
}

static void disk_comment(struct buf *out, const struct hw_disk *d)
{
	char sz[32];

	buf_printf(out, "%s, %s, %s%s%s\n", d->path ? d->path : d->name, fmt_bytes(d->size, sz, sizeof(sz)),
		   d->transport ? d->transport : "?", d->model ? ", " : "", d->model ? d->model : "");
}

void nodeblock_render(const char *name, const struct identity *id, const struct hw_inventory *inv,
		      uint64_t min_size, struct buf *out)
{
	const struct hw_disk *install = NULL;
	char *sel, min[32];
	bool others = false;

	fmt_bytes(min_size, min, sizeof(min));
	for (size_t i = 0; i < inv->n; i++)
		if (candidate(&inv->v[i]) && inv->v[i].size >= min_size &&
		    (!install || inv->v[i].size < install->size))
			install = &inv->v[i];
	buf_printf(out, "  - name: %s  # CHOOSE: this node's name (also its hostname)\n", name);
	buf_puts(out, "    role: controlplane  # CHOOSE: controlplane (1 or 3 of them) or worker\n");
	buf_puts(out, "    identity:  # how `install --auto` and PXE find this machine\n");
	buf_puts(out, "      macs: [");
	for (size_t i = 0; i < id->macs.n; i++)
		buf_printf(out, "%s\"%s\"", i ? ", " : "", id->macs.v[i]);
	buf_puts(out, "]\n");
	if (id->serial && *id->serial && !strchr(id->serial, '"'))
		buf_printf(out, "      serial: \"%s\"\n", id->serial);
	if (id->uuid && *id->uuid)
		buf_printf(out, "      uuid: \"%s\"\n", id->uuid);
	for (size_t i = 0; i < inv->n; i++)
		if (candidate(&inv->v[i]) && inv->v[i].size < min_size) {
			buf_puts(out, "    # too small for Talos (under its minimum system disk of ");
			buf_printf(out, "%s,\n    # talos.installDiskMinSize), not suggested: ", min);
			disk_comment(out, &inv->v[i]);
		}
	if (!install) {
		buf_printf(out, "    # no disk of at least %s found that Talos could go on\n", min);
		buf_puts(out, "    installDisk: {}  # CHOOSE: the disk Talos is written to (overwritten)\n");
		return;
	}
	sel = nodeblock_selector(inv, install);
	buf_puts(out, "    # CHOOSE the install disk (overwritten: Talos and its config partition);\n");
	buf_printf(out, "    # the smallest of at least %s is suggested: ", min);
	disk_comment(out, install);
	buf_printf(out, "    installDisk: {%s}\n", sel);
	free(sel);
	for (size_t i = 0; i < inv->n; i++) {
		const struct hw_disk *d = &inv->v[i];
		if (d == install || !candidate(d))
			continue;
		if (!others)
			buf_puts(out, "    # CHOOSE the disks Ceph may take (everything on them is erased):\n"
				      "    # uncomment cephDisks and the entries to give\n"
				      "    # cephDisks:\n");
		others = true;
		sel = nodeblock_selector(inv, d);
		buf_puts(out, "    #   ");
		disk_comment(out, d);
		buf_printf(out, "    #   - {%s, wipe: true}\n", sel);
		free(sel);
	}
}

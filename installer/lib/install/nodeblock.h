/* The profile's node block for one machine, as `appliance identify` prints it
 * on the machine itself (or on its live system): what identifies it (MACs,
 * DMI serial and UUID) and its disks, each with the narrowest selector that
 * picks it alone among the machine's disks. The choices that are the site's
 * (name, role, which disks Ceph may wipe) are marked CHOOSE. */
#ifndef APPLIANCE_NODEBLOCK_H
#define APPLIANCE_NODEBLOCK_H

#include "base/util.h"
#include "disk/hw.h"
#include "install/identity.h"

/* Appends the YAML of a `nodes:` list entry (indented two spaces, named NAME)
 * to OUT. The install disk suggested is the smallest fixed disk that does not
 * carry the live system and has at least MIN_SIZE bytes (Talos' minimum,
 * talos.installDiskMinSize); a smaller one is named with the reason; the others
 * are listed as commented Ceph candidates. */
void nodeblock_render(const char *name, const struct identity *id, const struct hw_inventory *inv,
		      uint64_t min_size, struct buf *out);

/* The selector for disk D that matches no other disk of INV, as the inside
 * of a YAML flow map ("serial: \"S\""). Caller frees. */
char *nodeblock_selector(const struct hw_inventory *inv, const struct hw_disk *d);

#endif

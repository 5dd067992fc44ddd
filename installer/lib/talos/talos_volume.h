/* First-boot config delivery: an ISO9660 volume labelled `metal-iso` holding
 * config.yaml at its root. Talos booted with talos.config=metal-iso reads it
 * from any volume with that filesystem label (its probe takes the Joliet
 * volume id when there is one, else the primary one; libarchive writes the
 * exact `metal-iso` in the Joliet descriptor and METAL_ISO in the primary). */
#ifndef APPLIANCE_TALOS_VOLUME_H
#define APPLIANCE_TALOS_VOLUME_H

#include <stddef.h>

struct buf;
struct app_err;

#define TALOS_VOLUME_LABEL "metal-iso"
#define TALOS_VOLUME_FILE "config.yaml"

/* Write the image to out_path (mode 0600: the config holds secrets),
 * atomically, with libarchive's iso9660 writer (Rock Ridge + Joliet). */
int talos_volume_build(const char *config, size_t len, const char *out_path, struct app_err *e);

/* Read an image back: its label as Talos' probe sees it (label[33]) and
 * config.yaml (read with libarchive) appended to config. */
int talos_volume_read(const char *path, char label[33], struct buf *config, struct app_err *e);

struct model;
struct model_node;
/* The config volume's device name as the node's Talos names it
 * ("nvme0n1p5", "sda5"): the node's exact installDisk path and
 * talos.configPartition. NULL (and e) when the install disk is a selector,
 * whose kernel name only the node knows. Caller frees. */
char *talos_volume_device(const struct model *m, const struct model_node *node, struct app_err *e);

#endif

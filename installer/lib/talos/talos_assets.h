/* Where the Talos boot assets of a profile live: Image Factory paths
 * (/image/<id>/<version>/<file>, /pxe/<id>/<version>/<platform>-<arch>)
 * under talos.image.mirror when set, else talos.image.factory; and the
 * installer image <talos.image.installer>/<id>:<version>. */
#ifndef APPLIANCE_TALOS_ASSETS_H
#define APPLIANCE_TALOS_ASSETS_H

struct model;

enum talos_asset {
	TALOS_ASSET_DISK = 0,  /* raw disk image in the profile's talos.image.format */
	TALOS_ASSET_RAW_ZST,   /* metal-amd64.raw.zst */
	TALOS_ASSET_RAW_XZ,    /* metal-amd64.raw.xz */
	TALOS_ASSET_ISO,       /* metal-amd64.iso */
	TALOS_ASSET_KERNEL,    /* kernel-amd64 */
	TALOS_ASSET_INITRAMFS, /* initramfs-amd64.xz */
	TALOS_ASSET_IPXE,      /* iPXE script */
	TALOS_ASSET_INSTALLER, /* container image reference, not a URL */
	TALOS_ASSET_COUNT
};

/* Short name ("raw.zst", "iso", "kernel", ..., "installer"). */
const char *talos_asset_name(enum talos_asset a);

/* URL (or image reference for TALOS_ASSET_INSTALLER) of asset a for the
 * schematic id; caller frees. */
char *talos_asset_url(const struct model *m, const char *schematic_id, enum talos_asset a);

#endif

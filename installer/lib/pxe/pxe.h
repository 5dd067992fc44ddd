/* PXE tree for unattended installs of many nodes, served with standard tools.
 *
 * pxe_build() writes into one directory (the TFTP root):
 *   undionly.kpxe, ipxe.efi     iPXE from Debian's ipxe package (BIOS, UEFI)
 *   boot.ipxe                   the script iPXE runs: chains mac-<aa-bb-..>.ipxe
 *                               for a known NIC, else boots the live system,
 *                               which identifies the machine (install --auto)
 *   mac-<aa-bb-cc-dd-ee-ff>.ipxe one per MAC of every node: boots with appliance.node=NAME
 *   live/vmlinuz, live/initrd.img   the live system (make iso)
 *   site.cpio                   second initramfs: /appliance/profile/ with the
 *                               profile, its overlays (site-N.yaml), --set values
 *                               (set.args), the files it names, the Talos secrets
 *                               bundle and --include files
 *   grub/grub.cfg (+ grub/x86_64-efi/core.efi when a GRUB netboot dir is given):
 *                               UEFI network boot through GRUB instead of iPXE
 *   dnsmasq.conf                proxy-DHCP (coexists with the site's router) + TFTP
 * Library code: never prints; errors name the file and what was expected. */
#ifndef APPLIANCE_PXE_H
#define APPLIANCE_PXE_H

#include <stdbool.h>
#include <stddef.h>

#include "profile/model.h"

struct app_err;

struct pxe_opts {
	const char *out;	  /* the tree (created) */
	const char *live_dir;	  /* vmlinuz + initrd.img */
	const char *ipxe_dir;	  /* undionly.kpxe + ipxe.efi */
	const char *netboot_dir;  /* optional: grub-mknetdir output (grub/x86_64-efi/core.efi) */
	const char *interface;	  /* optional: dnsmasq interface= */
	const char *kernel_args;  /* optional: appended to every kernel command line */
	bool interactive;	  /* plan then ask on the console instead of unattended */
	const char *const *sites; /* --site overlays, packed as site-N.yaml */
	size_t n_sites;
	const char *const *sets; /* --set KEY=VALUE, packed as set.args (one a line) */
	size_t n_sets;
	const char *const *include; /* extra files beside the profile (secrets.env, ...) */
	size_t n_include;
	const char *secrets; /* optional: the site's Talos secrets bundle, packed as talos-secrets.yaml */
};

struct pxe_result {
	struct strlist files;  /* every file written, relative to out, in order */
	size_t n_node_scripts; /* mac-*.ipxe written */
};

int pxe_build(const struct model *m, const struct pxe_opts *o, struct pxe_result *ret, struct app_err *e);
void pxe_result_free(struct pxe_result *r);

/* "52:54:00:AB:cd:01" -> "52-54-00-ab-cd-01" (iPXE ${mac:hexhyp}). out holds 18
 * bytes. -EINVAL when mac is not six hex pairs separated by ':' or '-'. */
int pxe_mac_hexhyp(const char *mac, char out[18], struct app_err *e);

/* "192.168.50.17/24" -> "192.168.50.0,proxy,255.255.255.0" (dnsmasq
 * dhcp-range for proxy-DHCP on that subnet); caller frees. */
int pxe_proxy_range(const char *cidr, char **ret, struct app_err *e);

/* Before serving as root: dnsmasq drops to an unprivileged user ("dnsmasq",
 * else "nobody") and, as root, would serve only world-readable files; site.cpio
 * stays 0600 and is handed to that user instead. Sets *ret_user (static string). */
int pxe_serve_prepare(const char *out, const char **ret_user, struct app_err *e);

/* argv (NULL-terminated; the caller execs it or frees each string and the array) that runs dnsmasq on a
 * tree built by pxe_build in the foreground as user, logging to stderr. */
char **pxe_dnsmasq_argv(const char *out, const char *interface, const char *user);

#endif

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
 *                               (set.args) and its pins file. No secret: everything
 *                               in the tree is public to the LAN (TFTP)
 *   grub/grub.cfg (+ grub/x86_64-efi/core.efi when a GRUB netboot dir is given):
 *                               UEFI network boot through GRUB instead of iPXE
 *   dnsmasq.conf                proxy-DHCP (coexists with the site's router) + TFTP
 * and, beside the tree (never under it), OUT.payloads/NODE.cpio: one payload per
 * node, rendered here (pxe_payload.h), fetched by the live system over HTTP from
 * appliance.payload=URL + MAC and handed out once (pxe_serve.h).
 * Library code: never prints; errors name the file and what was expected. */
#ifndef APPLIANCE_PXE_H
#define APPLIANCE_PXE_H

#include <stdbool.h>
#include <stddef.h>

#include "profile/model.h"
#include "pxe/pxe_payload.h"

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
	/* optional: the site's Talos secrets bundle; each node's config is rendered
	 * from it here into OUT.payloads/ (the bundle itself never leaves) */
	const char *secrets;
	const char *payload_url;	/* appliance.payload=: where the live system fetches URL/<mac> */
	const char *const *allow_files; /* absolute paths the profile may name outside its folder */
	size_t n_allow_files;
};

struct pxe_result {
	struct strlist files;	      /* every file written, relative to out, in order */
	size_t n_node_scripts;	      /* mac-*.ipxe written */
	struct pxe_payloads payloads; /* one per node when o->secrets */
};

int pxe_build(const struct model *m, const struct pxe_opts *o, struct pxe_result *ret, struct app_err *e);
void pxe_result_free(struct pxe_result *r);

/* "52:54:00:AB:cd:01" -> "52-54-00-ab-cd-01" (iPXE ${mac:hexhyp}). out holds 18
 * bytes. -EINVAL when mac is not six hex pairs separated by ':' or '-'. */
int pxe_mac_hexhyp(const char *mac, char out[18], struct app_err *e);

/* "192.168.50.17/24" -> "192.168.50.0,proxy,255.255.255.0" (dnsmasq
 * dhcp-range for proxy-DHCP on that subnet); caller frees. */
int pxe_proxy_range(const char *cidr, char **ret, struct app_err *e);

/* The user dnsmasq drops to: as root "dnsmasq", else "nobody" (NULL: neither
 * exists); otherwise the current user. It reads only the public tree: nothing
 * is handed to it (no chown), so it can rewrite nothing a node boots. */
const char *pxe_dnsmasq_user(void);

/* argv (NULL-terminated; the caller execs it or frees each string and the array) that runs dnsmasq on a
 * tree built by pxe_build in the foreground as user, logging to stderr. */
char **pxe_dnsmasq_argv(const char *out, const char *interface, const char *user);

#endif

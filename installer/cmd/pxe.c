/* appliance pxe: build (and optionally serve) the PXE tree for unattended
 * installs of the profile's nodes. The tree itself is lib/pxe.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "base/err.h"
#include "profile/model.h"
#include "pxe/pxe.h"
#include "base/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: appliance pxe PROFILE --out DIR [--site FILE]... [--set KEY=VALUE]...\n"
		"       [--live DIR] [--ipxe DIR] [--netboot DIR] [--secrets FILE] [--include FILE]...\n"
		"       [--kernel-args ARGS] [--interactive] [--serve IFACE]\n\n"
		"Write a PXE tree for the profile's nodes into DIR: iPXE scripts (one per node MAC\n"
		"and a default that lets the live system identify the machine), the live system's\n"
		"kernel and initramfs, the profile as a second initramfs (site.cpio, mode 0600),\n"
		"GRUB network boot config, and a dnsmasq config in proxy-DHCP mode with TFTP for\n"
		"BIOS (undionly.kpxe) and UEFI (ipxe.efi). Nodes install unattended.\n\n"
		"options:\n"
		"  --out DIR          the tree (TFTP root); created\n"
		"  --live DIR         vmlinuz + initrd.img of the live system (default $APPLIANCE_LIVE_DIR,\n"
		"                     PREFIX/share/appliance/live, or build/iso/live from 'make iso')\n"
		"  --ipxe DIR         undionly.kpxe + ipxe.efi (default /usr/lib/ipxe)\n"
		"  --netboot DIR      grub-mknetdir output for UEFI GRUB network boot (default: the live\n"
		"                     dir's ../netboot when present)\n"
		"  --secrets FILE     the site's Talos secrets bundle (appliance talos secrets): every node\n"
		"                     must get the same one, so pass it when installing several nodes\n"
		"  --include FILE     also put FILE beside the profile (e.g. secrets.env: KEY=VALUE lines\n"
		"                     the live system exports for the profile's env: secrets)\n"
		"  --kernel-args ARGS appended to every kernel command line\n"
		"  --interactive      show the plan and ask on the console instead of installing unattended\n"
		"  --serve IFACE      then run dnsmasq on IFACE in the foreground (root; Ctrl-C stops)\n"
		"  --site FILE, --set KEY=VALUE   profile overlays (packed into site.cpio too; a --set\n"
		"                     path names a file as the live system sees it)\n\n"
		"site.cpio carries the profile and the files it names over TFTP: serve it on a trusted\n"
		"network only.\n"
		"exit codes: 0 ok, 1 the tree could not be written or dnsmasq not run, 2 usage/invalid "
		"profile\n");
}

static const char *first_dir(const char *const *cands, size_t n, const char *probe)
{
	for (size_t i = 0; i < n; i++) {
		char *p;
		int ok;

		if (!cands[i])
			continue;
		p = xasprintf("%s/%s", cands[i], probe);
		ok = access(p, R_OK) == 0;
		free(p);
		if (ok)
			return cands[i];
	}
	return NULL;
}

int cmd_pxe(int argc, char **argv)
{
	struct profile_opts po = { 0 };
	struct pxe_opts o = { .ipxe_dir = "/usr/lib/ipxe" };
	struct pxe_result res = { 0 };
	struct app_err e = { 0 };
	const char **inc = NULL;
	const char *serve = NULL;
	char *netboot = NULL;
	struct model *m = NULL;
	int n_inc = 0, rc = EXIT_USAGE, r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;

		if (cmd_is_help(a)) {
			usage(stdout);
			rc = EXIT_OK;
			goto out;
		}
		r = profile_opts_arg(&po, argc, argv, &i);
		if (r < 0)
			goto out;
		if (r > 0)
			continue;
		if (strcmp(a, "--interactive") == 0) {
			o.interactive = true;
			continue;
		}
		if (strcmp(a, "--out") == 0)
			dst = &o.out;
		else if (strcmp(a, "--live") == 0)
			dst = &o.live_dir;
		else if (strcmp(a, "--ipxe") == 0)
			dst = &o.ipxe_dir;
		else if (strcmp(a, "--netboot") == 0)
			dst = &o.netboot_dir;
		else if (strcmp(a, "--kernel-args") == 0)
			dst = &o.kernel_args;
		else if (strcmp(a, "--secrets") == 0)
			dst = &o.secrets;
		else if (strcmp(a, "--serve") == 0)
			dst = &serve;
		else if (strcmp(a, "--include") == 0) {
			inc = xrealloc(inc, sizeof(*inc) * (size_t)(n_inc + 1));
			dst = &inc[n_inc++];
		} else if (a[0] == '-') {
			rc = cmd_usage_error("pxe", "unknown option '%s'", a);
			goto out;
		} else if (!po.profile) {
			po.profile = a;
			continue;
		} else {
			rc = cmd_usage_error("pxe", "unexpected argument '%s'", a);
			goto out;
		}
		if (i + 1 >= argc || argv[i + 1][0] == '\0') {
			rc = cmd_usage_error("pxe", "option '%s' needs a value", a);
			goto out;
		}
		*dst = argv[++i];
	}
	if (!po.profile) {
		rc = cmd_usage_error("pxe", "no PROFILE given");
		goto out;
	}
	if (!o.out) {
		rc = cmd_usage_error("pxe", "--out DIR is required");
		goto out;
	}
	if (!o.live_dir) {
		const char *cands[] = { getenv("APPLIANCE_LIVE_DIR"), "/usr/local/share/appliance/live",
					"/usr/share/appliance/live", "build/iso/live" };
		o.live_dir = first_dir(cands, sizeof(cands) / sizeof(cands[0]), "initrd.img");
		if (!o.live_dir) {
			cmd_error(
			    "no live system found in $APPLIANCE_LIVE_DIR, /usr/local/share/appliance/live, "
			    "/usr/share/appliance/live or build/iso/live: run 'make iso' or pass --live DIR");
			rc = EXIT_FAIL;
			goto out;
		}
	}
	if (!o.netboot_dir) {
		char *cand = xasprintf("%s/../netboot", o.live_dir);
		const char *c[] = { cand };
		if (first_dir(c, 1, "grub/x86_64-efi/core.efi"))
			netboot = cand;
		else
			free(cand);
		o.netboot_dir = netboot;
	}
	o.interface = serve;
	o.sites = po.sites;
	o.n_sites = (size_t)po.n_sites;
	o.sets = po.sets;
	o.n_sets = (size_t)po.n_sets;
	o.include = inc;
	o.n_include = (size_t)n_inc;

	m = cmd_load_model(&po, true);
	if (!m) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (pxe_build(m, &o, &res, &e) < 0) {
		cmd_err(&e);
		rc = e.code == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	printf("pxe: wrote %zu files to %s: %zu node scripts (%zu nodes), boot.ipxe, site.cpio, "
	       "dnsmasq.conf%s\n",
	       res.files.n, o.out, res.n_node_scripts, m->n_nodes,
	       o.netboot_dir ? ", grub/ (UEFI netboot)" : "");
	printf("pxe: nodes install %s; serve with: dnsmasq -k --conf-file=%s/dnsmasq.conf "
	       "(or appliance pxe ... --serve IFACE)\n",
	       o.interactive ? "after a question on their console" : "unattended", o.out);
	rc = EXIT_OK;
	if (serve) {
		const char *user = NULL;
		char **av;

		if (pxe_serve_prepare(o.out, &user, &e) < 0) {
			cmd_err(&e);
			rc = EXIT_FAIL;
			goto out;
		}
		av = pxe_dnsmasq_argv(o.out, serve, user);
		printf("pxe: serving %s on %s (proxy-DHCP for %s, TFTP); Ctrl-C stops\n", o.out, serve,
		       m->site.lan_cidr);
		fflush(stdout);
		execvp(av[0], av);
		cmd_error("cannot run dnsmasq: %s (install dnsmasq-base)", strerror(errno));
		rc = EXIT_FAIL;
	}
out:
	pxe_result_free(&res);
	if (m)
		model_free(m);
	profile_opts_free(&po);
	free(inc);
	free(netboot);
	return rc;
}

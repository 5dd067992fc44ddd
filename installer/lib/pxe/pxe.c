/* PXE tree: iPXE scripts, GRUB netboot config, live system, site.cpio,
 * dnsmasq proxy-DHCP config. See pxe.h. */
#include "pxe/pxe.h"

#include <archive_entry.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "pxe/pxe_cpio.h"
#include "pxe/pxe_payload.h"
#include "talos/talos_identity.h"

#define PXE_MAX_FILE (1024UL * 1024 * 1024)

static void note(struct pxe_result *r, const char *rel)
{
	r->files.v = xrealloc(r->files.v, sizeof(*r->files.v) * (r->files.n + 1));
	r->files.v[r->files.n++] = xstrdup(rel);
}

static int put(const struct pxe_opts *o, struct pxe_result *r, const char *rel, const void *data, size_t len,
	       mode_t mode, struct app_err *e)
{
	char *path = xasprintf("%s/%s", o->out, rel);
	int ret = write_file_atomic(path, data, len, mode, e);

	free(path);
	if (ret == 0)
		note(r, rel);
	return ret;
}

static int copy_in(const struct pxe_opts *o, struct pxe_result *r, const char *src, const char *rel,
		   mode_t mode, struct app_err *e)
{
	struct buf b = { 0 };
	int ret = read_file(src, PXE_MAX_FILE, &b, e);

	if (ret == 0)
		ret = put(o, r, rel, b.data, b.len, mode, e);
	buf_free(&b);
	return ret;
}

/* Copy a directory tree (regular files and directories only). */
static int copy_tree(const struct pxe_opts *o, struct pxe_result *r, const char *src, const char *rel,
		     struct app_err *e)
{
	DIR *d = opendir(src);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return app_err_set(e, -errno, "cannot read directory '%s': %s", src, strerror(errno));
	while (ret == 0 && (de = readdir(d))) {
		struct stat st;
		char *s, *t;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		s = xasprintf("%s/%s", src, de->d_name);
		t = xasprintf("%s/%s", rel, de->d_name);
		if (stat(s, &st) == 0 && S_ISDIR(st.st_mode))
			ret = copy_tree(o, r, s, t, e);
		else if (S_ISREG(st.st_mode))
			ret = copy_in(o, r, s, t, 0644, e);
		free(s);
		free(t);
	}
	closedir(d);
	return ret;
}

int pxe_mac_hexhyp(const char *mac, char out[18], struct app_err *e)
{
	static const char hex[] = "0123456789abcdef";

	if (!mac || strlen(mac) != 17)
		goto bad;
	for (int i = 0; i < 17; i++) {
		char c = mac[i];
		if (i % 3 == 2) {
			if (c != ':' && c != '-')
				goto bad;
			out[i] = '-';
		} else {
			const char *p = c ? strchr(hex, c | 0x20) : NULL;
			if (!p)
				goto bad;
			out[i] = *p;
		}
	}
	out[17] = '\0';
	return 0;
bad:
	return app_err_set(e, -EINVAL, "MAC address '%s': expected six hex pairs like 52:54:00:12:34:01",
			   mac ? mac : "");
}

int pxe_proxy_range(const char *cidr, char **ret, struct app_err *e)
{
	char addr[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	struct in_addr a, n, m;
	char *end = NULL;
	long bits;

	if (!slash || (size_t)(slash - cidr) >= sizeof(addr))
		goto bad;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	bits = strtol(slash + 1, &end, 10);
	if (slash[1] == '\0' || *end != '\0' || bits < 1 || bits > 30 || inet_pton(AF_INET, addr, &a) != 1)
		goto bad;
	m.s_addr = htonl(0xffffffffu << (32 - bits));
	n.s_addr = a.s_addr & m.s_addr;
	inet_ntop(AF_INET, &n, net, sizeof(net));
	inet_ntop(AF_INET, &m, mask, sizeof(mask));
	*ret = xasprintf("%s,proxy,%s", net, mask);
	return 0;
bad:
	return app_err_set(e, -EINVAL, "site.lan.cidr '%s': expected an IPv4 network like 192.168.50.0/24",
			   cidr ? cidr : "");
}

/* The kernel command line every boot path uses (node may be NULL). */
static char *kernel_cmdline(const struct pxe_opts *o, const char *node)
{
	struct buf b = { 0 };

	buf_puts(&b, "console=ttyS0,115200n8 console=tty0 quiet");
	if (!o->interactive)
		buf_puts(&b, " appliance.unattended=1");
	if (node)
		buf_printf(&b, " appliance.node=%s", node);
	if (o->payload_url && *o->payload_url)
		buf_printf(&b, " appliance.payload=%s", o->payload_url);
	if (o->kernel_args && *o->kernel_args)
		buf_printf(&b, " %s", o->kernel_args);
	return b.data;
}

/* The nodes install from this tree: the live system's action, the last appliance.action= of
 * the command line as iso/init reads it, is install (the default), not check or shell. */
static bool tree_installs(const struct pxe_opts *o)
{
	char *line = kernel_cmdline(o, NULL), *save = NULL, *action = NULL;
	bool installs;

	for (char *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (strncmp(w, "appliance.action=", 17) == 0)
			action = w + 17;
	installs = !action || !*action || strcmp(action, "install") == 0;
	free(line);
	return installs;
}

static void ipxe_boot(struct buf *b, const struct pxe_opts *o, const char *node)
{
	char *args = kernel_cmdline(o, node);

	buf_printf(b,
		   "kernel live/vmlinuz initrd=initrd.img initrd=site.cpio %s\n"
		   "initrd live/initrd.img\n"
		   "initrd site.cpio\n"
		   "boot\n",
		   args);
	free(args);
}

static int write_ipxe(const struct model *m, const struct pxe_opts *o, struct pxe_result *r,
		      struct app_err *e)
{
	struct buf b = { 0 };
	int ret;

	buf_printf(&b,
		   "#!ipxe\n"
		   "# appliance PXE boot script for site '%s' (generated by `appliance pxe`; re-run it\n"
		   "# after changing the profile). A NIC the profile names boots its node's script;\n"
		   "# any other machine boots the live system, which identifies it by MAC, DMI serial\n"
		   "# or UUID and refuses to install when it matches no node.\n"
		   "echo appliance: ${mac} (${ip})\n"
		   "chain --autofree mac-${mac:hexhyp}.ipxe || goto identify\n"
		   ":identify\n"
		   "echo appliance: ${mac} is not a node MAC of the profile: identifying by DMI\n",
		   m->site.cluster ? m->site.cluster : "");
	ipxe_boot(&b, o, NULL);
	ret = put(o, r, "boot.ipxe", b.data, b.len, 0644, e);
	buf_free(&b);
	for (size_t i = 0; ret == 0 && i < m->n_nodes; i++) {
		const struct model_node *n = &m->nodes[i];
		for (size_t j = 0; ret == 0 && j < n->identity.macs.n; j++) {
			char hh[18], *rel;

			ret = pxe_mac_hexhyp(n->identity.macs.v[j], hh, e);
			if (ret < 0) {
				app_err_prefix(e, "node '%s'", n->name);
				break;
			}
			memset(&b, 0, sizeof(b));
			buf_printf(&b, "#!ipxe\n# node '%s' (%s), NIC %s\n", n->name,
				   n->role_text ? n->role_text : "", n->identity.macs.v[j]);
			ipxe_boot(&b, o, n->name);
			rel = xasprintf("mac-%s.ipxe", hh);
			ret = put(o, r, rel, b.data, b.len, 0644, e);
			if (ret == 0)
				r->n_node_scripts++;
			free(rel);
			buf_free(&b);
		}
	}
	return ret;
}

static int write_grub(const struct model *m, const struct pxe_opts *o, struct pxe_result *r,
		      struct app_err *e)
{
	struct buf b = { 0 };
	char *args = kernel_cmdline(o, NULL);
	int ret = 0;

	buf_printf(&b,
		   "# appliance: UEFI network boot through GRUB (grub-mknetdir), site '%s'.\n"
		   "# A NIC the profile names sources node-<mac>.cfg, which sets its node.\n"
		   "set timeout=0\n"
		   "set appliance_node=\"\"\n"
		   "# ('[ -f ]' does not work over TFTP; an unknown MAC just prints 'file not found')\n"
		   "source $prefix/node-$net_default_mac.cfg\n"
		   "menuentry \"appliance install\" {\n"
		   "\tlinux /live/vmlinuz %s $appliance_node\n"
		   "\tinitrd /live/initrd.img /site.cpio\n"
		   "}\n",
		   m->site.cluster ? m->site.cluster : "", args);
	free(args);
	ret = put(o, r, "grub/grub.cfg", b.data, b.len, 0644, e);
	buf_free(&b);
	for (size_t i = 0; ret == 0 && i < m->n_nodes; i++) {
		const struct model_node *n = &m->nodes[i];
		for (size_t j = 0; ret == 0 && j < n->identity.macs.n; j++) {
			char hh[18], *rel, *text;

			ret = pxe_mac_hexhyp(n->identity.macs.v[j], hh, e);
			if (ret < 0)
				break;
			for (char *p = hh; *p; p++)
				if (*p == '-')
					*p = ':';
			rel = xasprintf("grub/node-%s.cfg", hh);
			text = xasprintf("# node '%s'\nset appliance_node=\"appliance.node=%s\"\n", n->name,
					 n->name);
			ret = put(o, r, rel, text, strlen(text), 0644, e);
			free(rel);
			free(text);
		}
	}
	return ret;
}

static int write_dnsmasq(const struct model *m, const struct pxe_opts *o, struct pxe_result *r,
			 struct app_err *e)
{
	static const struct {
		const char *csa, *what;
	} arches[] = { { "x86PC", "BIOS" }, { "X86-64_EFI", "UEFI" }, { "BC_EFI", "UEFI" } };
	struct buf b = { 0 };
	char *range = NULL, *root;
	int ret;

	ret = pxe_proxy_range(m->site.lan_cidr, &range, e);
	if (ret < 0)
		return ret;
	root = realpath(o->out, NULL);
	buf_printf(&b,
		   "# dnsmasq for appliance PXE installs of site '%s' (generated by `appliance pxe`).\n"
		   "# Proxy-DHCP: the site's router keeps handing out addresses; this only tells\n"
		   "# PXE clients what to boot. Run: appliance pxe ... --serve IFACE, or as root:\n"
		   "#   dnsmasq -k --user=nobody --conf-file=THIS\n"
		   "# Nothing here is secret: node payloads are served once over HTTP by\n"
		   "# appliance pxe --serve, from a directory outside this tree.\n"
		   "port=0\n"
		   "log-dhcp\n"
		   "dhcp-range=%s\n",
		   m->site.cluster ? m->site.cluster : "", range);
	if (o->interface)
		buf_printf(&b, "interface=%s\nbind-interfaces\n", o->interface);
	buf_puts(&b, "dhcp-no-override\n"
		     "# iPXE identifies itself (user class iPXE, option 175): give it the script,\n"
		     "# give every other PXE ROM the iPXE binary for its firmware.\n"
		     "dhcp-userclass=set:ipxe,iPXE\n"
		     "dhcp-match=set:ipxe,175\n");
	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
		buf_printf(&b, "pxe-service=tag:!ipxe,%s,\"appliance installer (%s)\",%s\n", arches[i].csa,
			   arches[i].what,
			   strcmp(arches[i].what, "BIOS") == 0 ? "undionly.kpxe" : "ipxe.efi");
	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
		buf_printf(&b, "pxe-service=tag:ipxe,%s,\"appliance installer\",boot.ipxe\n", arches[i].csa);
	buf_printf(&b, "enable-tftp\ntftp-root=%s\n", root ? root : o->out);
	ret = put(o, r, "dnsmasq.conf", b.data, b.len, 0644, e);
	free(root);
	free(range);
	buf_free(&b);
	return ret;
}

/* The files the profile names relative to its own directory (the pins file),
 * packed under tree/ relative to their deepest common directory, with
 * profile.yaml a symlink into it (the live init resolves it with readlink -f).
 * No secret is packed: file: secrets are read on this machine only, to render
 * the node payloads (pxe_payload.h). The compiled-in default pins file ships
 * with the live system and is not packed. Files that do not exist are left to
 * the installer to report. */
struct packed {
	char **abs; /* realpath of each file; [0] is the profile */
	size_t n;
};

static void packed_add(struct packed *p, const char *path)
{
	char *abs = realpath(path, NULL);

	if (!abs)
		return;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->abs[i], abs) == 0) {
			free(abs);
			return;
		}
	p->abs = xrealloc(p->abs, sizeof(*p->abs) * (p->n + 1));
	p->abs[p->n++] = abs;
}

static size_t common_dir_len(const struct packed *p)
{
	size_t len = (size_t)(strrchr(p->abs[0], '/') - p->abs[0]);

	for (size_t i = 1; i < p->n; i++) {
		size_t k = 0;
		while (k < len && p->abs[i][k] == p->abs[0][k])
			k++;
		/* back to a whole path component */
		while (k > 0 && !(p->abs[0][k] == '/' && (p->abs[i][k] == '/')))
			k--;
		if (k < len)
			len = k;
	}
	return len;
}

static int write_site_cpio(const struct model *m, const struct pxe_opts *o, struct pxe_result *r,
			   struct app_err *e)
{
	/* Built in memory (the profile is small), then written atomically. */
	struct pxe_cpio c;
	struct packed p = { 0 };
	size_t root;
	int ret;

	ret = pxe_cpio_open(&c, "site.cpio", 64UL * 1024 * 1024, e);
	if (ret < 0)
		goto done;
	packed_add(&p, m->path);
	if (p.n == 0) {
		ret = app_err_set(e, -errno, "profile '%s': %s", m->path, strerror(errno));
		goto done;
	}
	if (m->talos.image.pins && model_where(m, "talos.image.pins")) {
		char *src = model_path(m, m->talos.image.pins);
		packed_add(&p, src);
		free(src);
	}
	root = common_dir_len(&p);
	for (size_t i = 0; ret == 0 && i < p.n; i++) {
		char *rel = xasprintf("appliance/profile/tree%s", p.abs[i] + root);
		ret = pxe_cpio_add_file(&c, rel, p.abs[i], PXE_MAX_FILE, e);
		free(rel);
	}
	if (ret == 0) {
		char *link = xasprintf("tree%s", p.abs[0] + root);
		ret = pxe_cpio_add(&c, "appliance/profile/profile.yaml", AE_IFLNK, link, NULL, 0, e);
		free(link);
	}
	for (size_t i = 0; ret == 0 && i < o->n_sites; i++) {
		char *rel = xasprintf("appliance/profile/site-%zu.yaml", i + 1);
		ret = pxe_cpio_add_file(&c, rel, o->sites[i], PXE_MAX_FILE, e);
		free(rel);
	}
	if (ret == 0 && o->n_sets > 0) {
		struct buf b = { 0 };
		for (size_t i = 0; i < o->n_sets; i++)
			buf_printf(&b, "%s\n", o->sets[i]);
		if (strpbrk(b.data, " \t"))
			ret = app_err_set(e, -EINVAL,
					  "--set values for PXE cannot contain blanks (the live "
					  "system passes them as words)");
		else
			ret =
			    pxe_cpio_add(&c, "appliance/profile/set.args", AE_IFREG, NULL, b.data, b.len, e);
		buf_free(&b);
	}
	if (ret == 0)
		ret = pxe_cpio_close(&c, e);
	if (ret == 0)
		ret = put(o, r, "site.cpio", c.mem, c.used, 0644, e);
done:
	pxe_cpio_free(&c);
	for (size_t i = 0; i < p.n; i++)
		free(p.abs[i]);
	free(p.abs);
	return ret;
}

static int need_file(const char *dir, const char *name, const char *const what[2], char **ret,
		     struct app_err *e)
{
	char *p = xasprintf("%s/%s", dir, name);

	if (access(p, R_OK) != 0) {
		app_err_set(e, -ENOENT, "%s '%s' not found (%s): %s", what[0], p, strerror(errno), what[1]);
		free(p);
		return e->code;
	}
	*ret = p;
	return 0;
}

int pxe_build(const struct model *m, const struct pxe_opts *o, struct pxe_result *ret, struct app_err *e)
{
	static const struct {
		const char *name, *rel;
		int dir; /* 0 live, 1 ipxe */
	} assets[] = {
		{ "vmlinuz", "live/vmlinuz", 0 },
		{ "initrd.img", "live/initrd.img", 0 },
		{ "undionly.kpxe", "undionly.kpxe", 1 },
		{ "ipxe.efi", "ipxe.efi", 1 },
	};
	static const char *const what[][2] = {
		{ "live system file", "run 'make iso' or pass --live DIR" },
		{ "iPXE binary", "install Debian's ipxe package or pass --ipxe DIR" },
	};
	static const char *const grub_what[2] = { "GRUB netboot image",
						  "run 'make iso' (grub-mknetdir) or pass --netboot DIR" };
	char *src[sizeof(assets) / sizeof(assets[0])] = { 0 };
	struct pxe_result r = { 0 };
	int rc = 0;

	if (!m->site.lan_cidr)
		return app_err_set(e, -EINVAL,
				   "site.lan.cidr is not set: the proxy-DHCP config needs the subnet");
	/* Check every input before writing anything. */
	rc = pxe_check_files(m, o, e);
	for (size_t i = 0; rc == 0 && i < sizeof(assets) / sizeof(assets[0]); i++)
		rc = need_file(assets[i].dir ? o->ipxe_dir : o->live_dir, assets[i].name, what[assets[i].dir],
			       &src[i], e);
	if (rc == 0 && o->netboot_dir) {
		char *core = NULL;
		rc = need_file(o->netboot_dir, "grub/x86_64-efi/core.efi", grub_what, &core, e);
		free(core);
	}
	if (rc == 0 && o->secrets && !o->payload_url)
		rc = app_err_set(e, -EINVAL,
				 "node payloads need the URL nodes fetch them from: pass --payload-url URL "
				 "(or --serve IFACE)");
	if (rc == 0 && o->payload_url && !o->secrets)
		rc = app_err_set(e, -EINVAL,
				 "--payload-url without --secrets: there are no node payloads to fetch");
	/* one cluster identity: without a bundle each node would make its own (issue 20) */
	if (rc == 0 && !o->secrets && tree_installs(o) && talos_identity_need_bundle(m, e) < 0) {
		char *why = xstrdup(e->msg);
		rc = app_err_set(e, -EINVAL,
				 "%s (a tree that only checks and identifies the machines needs "
				 "none: --kernel-args appliance.action=check)",
				 why);
		free(why);
	}
	/* the payloads in memory first: a bad bundle or secret stops before anything is written */
	if (rc == 0)
		rc = pxe_payloads_render(m, o, &r.payloads, e);
	if (rc == 0)
		rc = mkdir_p(o->out, 0755, e);
	if (rc == 0)
		rc = pxe_payloads_write(&r.payloads, e);
	for (size_t i = 0; rc == 0 && i < sizeof(assets) / sizeof(assets[0]); i++)
		rc = copy_in(o, &r, src[i], assets[i].rel, 0644, e);
	if (rc == 0)
		rc = write_site_cpio(m, o, &r, e);
	if (rc == 0)
		rc = write_ipxe(m, o, &r, e);
	if (rc == 0 && o->netboot_dir) {
		char *g = xasprintf("%s/grub", o->netboot_dir);
		rc = copy_tree(o, &r, g, "grub", e);
		free(g);
	}
	if (rc == 0)
		rc = write_grub(m, o, &r, e);
	if (rc == 0)
		rc = write_dnsmasq(m, o, &r, e);
	for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++)
		free(src[i]);
	if (rc < 0) {
		pxe_result_free(&r);
		return rc;
	}
	*ret = r;
	return 0;
}

void pxe_result_free(struct pxe_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->files.n; i++)
		free(r->files.v[i]);
	free(r->files.v);
	r->files.v = NULL;
	r->files.n = 0;
	pxe_payloads_free(&r->payloads);
}

const char *pxe_dnsmasq_user(void)
{
	static const char *const users[] = { "dnsmasq", "nobody" };
	const struct passwd *pw;

	if (geteuid() != 0) {
		pw = getpwuid(geteuid());
		return pw ? pw->pw_name : "root";
	}
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		if (getpwnam(users[i]))
			return users[i];
	return NULL;
}

char **pxe_dnsmasq_argv(const char *out, const char *interface, const char *user)
{
	char **v = xcalloc(10, sizeof(*v));
	size_t n = 0;

	v[n++] = xstrdup("dnsmasq");
	v[n++] = xstrdup("--keep-in-foreground");
	v[n++] = xstrdup("--log-facility=-");
	v[n++] = xasprintf("--conf-file=%s/dnsmasq.conf", out);
	v[n++] = xstrdup("--pid-file");
	v[n++] = xasprintf("--user=%s", user);
	if (interface) {
		v[n++] = xasprintf("--interface=%s", interface);
		v[n++] = xstrdup("--bind-interfaces");
	}
	return v;
}

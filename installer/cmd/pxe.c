/* appliance pxe: build (and optionally serve) the PXE tree for unattended
 * installs of the profile's nodes. The tree itself is lib/pxe.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "base/err.h"
#include "image/cache.h"
#include "image/pin.h"
#include "profile/model.h"
#include "pxe/pxe.h"
#include "pxe/pxe_serve.h"
#include "base/json.h"
#include "talos/talos_schematic.h"
#include "base/util.h"
#include "base/wrap.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: appliance pxe PROFILE --out DIR [--site FILE]... [--set KEY=VALUE]...\n"
		   "       [--live DIR] [--ipxe DIR] [--netboot DIR]\n"
		   "       [--secrets FILE [--payload-url URL]] [--allow-file PATH]...\n"
		   "       [--kernel-args ARGS] [--interactive] [--serve IFACE]\n"
		   "       [--listen ADDR:PORT] [--approve] [--cache DIR] [--ca-file FILE]\n"
		   "       [--no-image] [--json]\n\n"
		   "Write a PXE tree for the profile's nodes into DIR: iPXE scripts (one per node\n"
		   "MAC and a default that lets the live system identify the machine), the live\n"
		   "system's kernel and initramfs, the profile as a second initramfs\n"
		   "(site.cpio), GRUB network boot config, and a dnsmasq config in proxy-DHCP\n"
		   "mode with TFTP for BIOS (undionly.kpxe) and UEFI (ipxe.efi). Nothing in DIR\n"
		   "is secret.\n\n"
		   "With --secrets, each node's machine config is rendered here (as 'appliance\n"
		   "talos gen' does) and packed with only the secrets that config itself carries\n"
		   "into DIR.payloads/NODE.cpio (0700/0600, outside DIR). The live system\n"
		   "fetches its payload over HTTP from URL/<its MAC>; the payload server hands\n"
		   "each out once.\n\n"
		   "options:\n"
		   "  --out DIR          the tree (TFTP root); created\n"
		   "  --live DIR         vmlinuz + initrd.img of the live system (default\n"
		   "                     $APPLIANCE_LIVE_DIR, PREFIX/share/appliance/live, or\n"
		   "                     build/iso/live from 'make iso')\n"
		   "  --ipxe DIR         undionly.kpxe + ipxe.efi (default /usr/lib/ipxe)\n"
		   "  --netboot DIR      grub-mknetdir output for UEFI GRUB network boot\n"
		   "                     (default: the live dir's ../netboot when present)\n"
		   "  --secrets FILE     the site's Talos secrets bundle (appliance talos\n"
		   "                     secrets): node payloads are rendered from it; it never\n"
		   "                     leaves this machine\n"
		   "  --payload-url URL  where nodes fetch their payload (default with --serve:\n"
		   "                     http://IFACE address:8069/)\n"
		   "  --allow-file PATH  the profile may name this absolute path outside its\n"
		   "                     folder (file: secrets, pins); repeatable. Relative paths\n"
		   "                     leaving the folder are always refused\n"
		   "  --kernel-args ARGS appended to every kernel command line\n"
		   "  --interactive      show the plan and ask on the console instead of\n"
		   "                     installing unattended\n"
		   "  --serve IFACE      then run dnsmasq on IFACE and the payload server in the\n"
		   "                     foreground (root; Ctrl-C stops)\n"
		   "  --listen ADDR:PORT where the payload server listens (default with --serve:\n"
		   "                     IFACE's address, port 8069); alone (without --serve) it\n"
		   "                     runs only the payload server, for a site whose TFTP is\n"
		   "                     served elsewhere\n"
		   "  --approve          ask on this terminal before each payload leaves (no\n"
		   "                     terminal: refuse)\n"
		   "  --cache DIR        this machine's image cache: the payload server also\n"
		   "                     serves the profile's pinned Talos image from it\n"
		   "                     (downloaded once and verified here first) and the nodes\n"
		   "                     fetch it from URL/image/KEY, not from the internet\n"
		   "                     (default $APPLIANCE_STATE_DIR/cache or\n"
		   "                     /var/lib/appliance/cache)\n"
		   "  --ca-file FILE     extra CA bundle for an https image mirror\n"
		   "  --no-image         do not serve the image: every node downloads it itself\n"
		   "  --json             the result as one JSON object on stdout (tree, payloads\n"
		   "                     with the names of their secrets, never a value; also on\n"
		   "                     failure); serving, first one event object a line\n"
		   "                     (listening, ready, request), the result last\n"
		   "  --site FILE, --set KEY=VALUE   profile overlays (packed into site.cpio too;\n"
		   "                     a --set path names a file as the live system sees it)\n\n"
		   "The payload server logs every request (time, client address, MAC, node,\n"
		   "verdict). A second request for a node is refused (HTTP 410) and reported:\n"
		   "re-run appliance pxe to re-arm a node. See docs/security.md.\n\n"
		   "examples:\n"
		   "  appliance pxe site.yaml --out /srv/tftp --secrets talos-secrets.yaml \\\n"
		   "      --serve eth0\n"
		   "  appliance pxe site.yaml --out /srv/tftp --json | jq .files\n\n"
		   "exit codes: 0 ok, 1 the tree could not be written or a server not run,\n"
		   "2 usage/invalid profile\n");
}

/* --json while serving: {"event":NAME, then FIELDS (a JSON fragment
 * starting with ','), one line each, flushed at once */
static void event_json(const char *name, const char *fields)
{
	fputs("{\"event\":", stdout);
	json_str(stdout, name);
	fputs(fields, stdout);
	fputs("}\n", stdout);
	fflush(stdout);
}

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t child_gone;

static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		child_gone = 1;
	stop_flag = 1;
}

static void serve_log(void *ctx, const struct pxe_serve_event *ev)
{
	bool loud = strcmp(ev->verdict, "sent") != 0 && strcmp(ev->verdict, "unknown") != 0 &&
		    strcmp(ev->verdict, "bad-request") != 0;

	(void)ctx;
	if (cmd_json()) {
		struct buf b = { 0 };
		const char *k[] = { "time", "client", "mac", "node", "verdict", "detail" };
		const char *v[] = { ev->time, ev->client, ev->mac, ev->node, ev->verdict, ev->detail };
		for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
			buf_printf(&b, ",\"%s\":", k[i]);
			json_buf_str(&b, v[i]);
		}
		buf_printf(&b, ",\"status\":%d", ev->status);
		event_json("request", b.data);
		buf_free(&b);
	}
	cmd_say("pxe-serve: %s client %s mac %s node %s: %s (HTTP %d): %s\n", ev->time, ev->client, ev->mac,
		ev->node, ev->verdict, ev->status, ev->detail);
	fflush(stdout);
	if (loud)
		fprintf(stderr, "appliance pxe: !!! %s: %s from %s (mac %s): %s\n", ev->time, ev->verdict,
			ev->client, ev->mac, ev->detail);
}

/* --approve: ask on the controlling terminal; no terminal, no payload. */
static int serve_ask(void *ctx, const char *node, const char *mac, const char *client)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	char answer[16] = { 0 };
	struct pollfd p;
	ssize_t n;

	(void)ctx;
	if (fd < 0)
		return -1;
	dprintf(fd, "appliance pxe: node '%s' (mac %s) asks from %s for its payload. Send it? [y/N] ", node,
		mac, client);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	n = poll(&p, 1, 300 * 1000) == 1 ? read(fd, answer, sizeof(answer) - 1) : -1;
	close(fd);
	if (n <= 0)
		return 0;
	return answer[0] == 'y' || answer[0] == 'Y';
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

/* Run dnsmasq (child, when iface) and the payload server (when payloads)
 * until Ctrl-C or dnsmasq exits. */
/* The pinned image the payload server hands to every node. */
struct served_image {
	char *key, *file;
};

static void served_image_free(struct served_image *si)
{
	free(si->key);
	free(si->file);
}

/* The profile's pinned image in this machine's cache (downloaded once and
 * verified). 1: ready to serve; 0: not pinned, nothing to serve (said); <0 error. */
static int image_prepare(const struct model *m, const char *cache_dir, const char *ca_file,
			 struct served_image *si, struct app_err *e)
{
	char sid[65], sha[65], *pins = NULL, *url = NULL, *name = NULL;
	bool downloaded = false;
	int r = talos_schematic_id(m, sid, e);

	if (r < 0)
		return r;
	si->key = image_pin_key(m, sid);
	pins = m->talos.image.pins ? model_path(m, m->talos.image.pins) : NULL;
	r = pins ? image_pin_lookup(pins, si->key, sha, e) : 0;
	cmd_json_str("imageKey", si->key);
	cmd_json_bool("imageServed", r > 0);
	if (r == 0) {
		cmd_say("pxe: image %s is not pinned%s%s: not served; each node downloads it itself\n",
			si->key, pins ? " in " : "", pins ? pins : "");
		goto out;
	}
	if (r < 0)
		goto out;
	url = image_url(m, sid);
	name = image_cache_name(m, sid);
	si->file = xasprintf("%s/%s", cache_dir, name);
	r = image_cache_get(&m->talos.image, &(struct fetch_opts){ .url = url, .ca_file = ca_file }, si->file,
			    sha, &downloaded, e);
	if (r == 0) {
		cmd_json_str("imageFile", si->file);
		cmd_json_str("imageSha256", sha);
		cmd_say("pxe: image %s %s %s, sha256 %s as pinned: served to the nodes\n", si->key,
			downloaded ? "downloaded once into" : "in the cache,", si->file, sha);
		r = 1;
	}
out:
	free(pins);
	free(url);
	free(name);
	return r;
}

static int serve(const struct model *m, const struct pxe_opts *o, const struct pxe_result *res,
		 const char *iface, int lfd, bool approve, const struct served_image *si)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct app_err e = { 0 };
	pid_t child = -1;
	int rc = EXIT_OK, status = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	if (iface) {
		const char *user = pxe_dnsmasq_user();
		char **av;

		if (!user) {
			cmd_error("no user 'dnsmasq' or 'nobody' for dnsmasq to serve TFTP as");
			return EXIT_FAIL;
		}
		av = pxe_dnsmasq_argv(o->out, iface, user);
		fflush(stdout);
		child = fork();
		if (child == 0) {
			if (lfd >= 0)
				close(lfd);
			execvp(av[0], av);
			cmd_error("cannot run dnsmasq: %s (install dnsmasq-base)", strerror(errno));
			_exit(127);
		}
		for (size_t i = 0; av[i]; i++)
			free(av[i]);
		free(av);
		if (child < 0) {
			cmd_error("fork: %s", strerror(errno));
			return EXIT_FAIL;
		}
		cmd_say("pxe: serving %s on %s (proxy-DHCP for %s, TFTP) as user %s; Ctrl-C stops\n", o->out,
			iface, m->site.lan_cidr, user);
	}
	if (lfd >= 0) {
		struct pxe_serve_opts so = {
			.m = m,
			.payload_dir = res->payloads.dir,
			.image_file = si->file,
			.image_key = si->key,
			.approve = approve,
			.log = serve_log,
			.ask = serve_ask,
			.stop = &stop_flag,
		};
		int tty = approve ? open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
		if (tty >= 0)
			close(tty);
		else if (approve)
			fprintf(stderr,
				"appliance pxe: !!! --approve and no terminal: every payload request will "
				"be refused\n");
		if (cmd_json()) {
			char *f = xasprintf(",\"payloads\":%zu,\"approve\":%s", res->payloads.n,
					    approve ? "true" : "false");
			event_json("ready", f);
			free(f);
		}
		cmd_say("pxe: payload server ready: %zu payloads, each handed out once%s\n", res->payloads.n,
			approve ? " after the operator approves it here" : "");
		fflush(stdout);
		if (pxe_serve_run(&so, lfd, &e) < 0) {
			cmd_err(&e);
			rc = EXIT_FAIL;
		}
	} else {
		fflush(stdout);
		while (!stop_flag)
			pause();
	}
	if (child > 0) {
		if (!child_gone)
			kill(child, SIGTERM);
		waitpid(child, &status, 0);
		if (child_gone && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			cmd_error("dnsmasq stopped (%s %d): nothing is served",
				  WIFEXITED(status) ? "exit" : "signal",
				  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			rc = EXIT_FAIL;
		}
	}
	return rc;
}

static void names(struct buf *b, const char *lead, const struct strlist *l)
{
	for (size_t k = 0; k < l->n; k++)
		buf_printf(b, "%s%s", k ? ", " : lead, l->v[k]);
}

/* One payload, by what it carries (secret names only, never a value): the
 * config's CA keys and the profile secrets rendered into it, and what
 * secrets.env holds for the install's own NAS check. Wrapped at 80 columns. */
static void say_payload(const struct model *m, const struct pxe_payloads *ps,
			const struct pxe_payload_info *p)
{
	const struct model_node *n = model_node_by_name(m, p->node);
	struct buf b = { 0 }, pre = { 0 };

	buf_printf(&pre, "pxe: payload %s/%s.cpio ", ps->dir, p->node);
	buf_printf(&b, "(0600, %zu bytes): %s machine config", p->bytes,
		   n && n->role_text ? n->role_text : "");
	if (p->ca_keys)
		buf_puts(&b, " with the cluster CA keys");
	names(&b, p->ca_keys ? " and secrets " : " with secrets ", &p->config_secrets);
	if (!p->ca_keys && !p->config_secrets.n)
		buf_puts(&b, " (no secret)");
	names(&b, "; secrets.env: ", &p->secrets);
	wrap_print(stdout, pre.data, b.data, 4);
	buf_free(&b);
	buf_free(&pre);
}

static void json_names(struct buf *b, const struct strlist *l)
{
	buf_puts(b, "[");
	for (size_t k = 0; k < l->n; k++) {
		if (k)
			buf_puts(b, ",");
		json_buf_str(b, l->v[k]);
	}
	buf_puts(b, "]");
}

/* --json: the tree, each node's payload (names of the secrets it carries,
 * never their values) and where nodes fetch it */
static void pxe_json_tree(const struct model *m, const struct pxe_opts *o, const struct pxe_result *res)
{
	struct buf b = { 0 };

	if (!cmd_json())
		return;
	cmd_json_str("out", o->out);
	cmd_json_int("files", (long long)res->files.n);
	cmd_json_int("nodeScripts", (long long)res->n_node_scripts);
	cmd_json_int("nodes", (long long)m->n_nodes);
	cmd_json_bool("netboot", o->netboot_dir != NULL);
	cmd_json_bool("unattended", !o->interactive);
	cmd_json_str("payloadUrl", o->secrets ? o->payload_url : NULL);
	buf_puts(&b, "[");
	for (size_t i = 0; i < res->payloads.n; i++) {
		const struct pxe_payload_info *p = &res->payloads.v[i];
		const struct model_node *n = model_node_by_name(m, p->node);
		char *file = xasprintf("%s/%s.cpio", res->payloads.dir, p->node);
		buf_puts(&b, i ? ",{\"node\":" : "{\"node\":");
		json_buf_str(&b, p->node);
		buf_puts(&b, ",\"file\":");
		json_buf_str(&b, file);
		buf_printf(&b, ",\"bytes\":%zu,\"role\":", p->bytes);
		json_buf_str(&b, n ? n->role_text : NULL);
		buf_puts(&b, ",\"secrets\":");
		json_names(&b, &p->secrets);
		buf_printf(&b, ",\"caKeys\":%s,\"configSecrets\":", p->ca_keys ? "true" : "false");
		json_names(&b, &p->config_secrets);
		buf_puts(&b, "}");
		free(file);
	}
	buf_puts(&b, "]");
	cmd_json_raw("payloads", b.data);
	buf_free(&b);
}

int cmd_pxe(int argc, char **argv)
{
	struct profile_opts po = { 0 };
	struct pxe_opts o = { .ipxe_dir = "/usr/lib/ipxe" };
	struct pxe_result res = { 0 };
	struct app_err e = { 0 };
	const char **allow = NULL;
	const char *serve_if = NULL, *listen_at = NULL, *cache_dir = NULL, *ca_file = NULL;
	char *netboot = NULL, *listen_buf = NULL, *url_buf = NULL, *cache_buf = NULL, *url_set = NULL;
	const char **sets = NULL;
	struct served_image si = { 0 };
	struct model *m = NULL;
	bool approve = false, no_image = false;
	int n_allow = 0, rc = EXIT_USAGE, r, lfd = -1, port = 0;

	cmd_json_begin(argc, argv, "pxe");
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
		if (strcmp(a, "--approve") == 0) {
			approve = true;
			continue;
		}
		if (strcmp(a, "--no-image") == 0) {
			no_image = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) /* the result object (cmd/result.c) */
			continue;
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
		else if (strcmp(a, "--payload-url") == 0)
			dst = &o.payload_url;
		else if (strcmp(a, "--serve") == 0)
			dst = &serve_if;
		else if (strcmp(a, "--listen") == 0)
			dst = &listen_at;
		else if (strcmp(a, "--cache") == 0)
			dst = &cache_dir;
		else if (strcmp(a, "--ca-file") == 0)
			dst = &ca_file;
		else if (strcmp(a, "--allow-file") == 0) {
			allow = xrealloc(allow, sizeof(*allow) * (size_t)(n_allow + 1));
			dst = &allow[n_allow++];
		} else if (strcmp(a, "--include") == 0) {
			rc = cmd_usage_error(
			    "pxe", "--include is gone: nothing secret goes into the PXE tree any more; "
				   "export the profile's env: secrets here and pass --secrets BUNDLE, "
				   "each node gets what its own config carries (docs/security.md)");
			goto out;
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
	cmd_default_profile(&po);
	if (!po.profile) {
		rc = cmd_usage_error("pxe", "no PROFILE given");
		goto out;
	}
	if (!o.out) {
		rc = cmd_usage_error("pxe", "--out DIR is required");
		goto out;
	}
	if (approve && !serve_if && !listen_at) {
		rc = cmd_usage_error("pxe", "--approve needs --serve IFACE or --listen ADDR:PORT");
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
	o.interface = serve_if;
	o.sites = po.sites;
	o.n_sites = (size_t)po.n_sites;
	o.sets = po.sets;
	o.n_sets = (size_t)po.n_sets;
	o.allow_files = allow;
	o.n_allow_files = (size_t)n_allow;

	m = cmd_load_model(&po, true);
	if (!m) {
		rc = EXIT_USAGE;
		goto out;
	}
	/* The payload server listens before anything is written: a port in use stops here. */
	if (serve_if && !listen_at && o.secrets) {
		char addr[64];
		if (pxe_iface_addr(serve_if, addr, sizeof(addr), &e) < 0) {
			cmd_err(&e);
			rc = EXIT_FAIL;
			goto out;
		}
		listen_at = listen_buf = xasprintf("%s:8069", addr);
	}
	if (listen_at && o.secrets) {
		if (pxe_serve_listen(listen_at, &lfd, &port, &e) < 0) {
			cmd_err(&e);
			rc = e.code == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
			goto out;
		}
		if (!o.payload_url && strncmp(listen_at, "0.0.0.0:", 8) != 0) {
			const char *colon = strrchr(listen_at, ':');
			o.payload_url = url_buf =
			    xasprintf("http://%.*s:%d/", (int)(colon - listen_at), listen_at, port);
		}
	}
	/* One download for many nodes: the payload server also serves the pinned
	 * image from this machine's cache, and the nodes' profiles point at it. */
	if (lfd >= 0 && o.payload_url && !no_image) {
		if (!cache_dir) {
			cache_dir = cache_buf = xasprintf("%s/cache", cmd_state_dir());
		}
		r = image_prepare(m, cache_dir, ca_file, &si, &e);
		if (r < 0) {
			cmd_err(&e);
			rc = EXIT_FAIL;
			goto out;
		}
		if (r > 0) {
			sets = xmalloc(sizeof(*sets) * (o.n_sets + 1));
			for (size_t k = 0; k < o.n_sets; k++)
				sets[k] = o.sets[k];
			sets[o.n_sets] = url_set = xasprintf("talos.image.mirror=%s", o.payload_url);
			o.sets = sets;
			o.n_sets++;
		}
	}
	if (pxe_build(m, &o, &res, &e) < 0) {
		cmd_err(&e);
		rc = e.code == -EINVAL || e.code == -EPERM ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	pxe_json_tree(m, &o, &res);
	cmd_say("pxe: wrote %zu files to %s: %zu node scripts (%zu nodes), boot.ipxe, site.cpio, "
		"dnsmasq.conf%s\n",
		res.files.n, o.out, res.n_node_scripts, m->n_nodes,
		o.netboot_dir ? ", grub/ (UEFI netboot)" : "");
	if (!o.netboot_dir) /* grub/ then holds configs but no core.efi to load them */
		cmd_say("pxe: no GRUB netboot image (make iso, or --netboot DIR): UEFI machines boot "
			"through ipxe.efi only\n");
	for (size_t i = 0; i < res.payloads.n && !cmd_json(); i++)
		say_payload(m, &res.payloads, &res.payloads.v[i]);
	if (o.secrets)
		cmd_say("pxe: nodes fetch their payload from %s<mac>, once each\n", o.payload_url);
	else
		cmd_say(
		    "pxe: no --secrets: no node payloads (an install needs one; the live system can still "
		    "check and identify)\n");
	cmd_say("pxe: nodes install %s; serve with: appliance pxe ... --serve IFACE\n",
		o.interactive ? "after a question on their console" : "unattended");
	if (listen_at && o.secrets && cmd_json()) {
		char *addr = xasprintf("%.*s:%d", (int)strcspn(listen_at, ":"), listen_at, port);
		struct buf f = { 0 };
		buf_puts(&f, ",\"address\":");
		json_buf_str(&f, addr);
		cmd_json_str("listen", addr);
		event_json("listening", f.data);
		buf_free(&f);
		free(addr);
	}
	if (listen_at && o.secrets)
		cmd_say("pxe: payload server listening on %.*s:%d\n", (int)strcspn(listen_at, ":"), listen_at,
			port);
	fflush(stdout);
	rc = EXIT_OK;
	if (serve_if || lfd >= 0)
		rc = serve(m, &o, &res, serve_if, lfd, approve, &si);
out:
	if (lfd >= 0)
		close(lfd);
	pxe_result_free(&res);
	if (m)
		model_free(m);
	profile_opts_free(&po);
	free(allow);
	free(netboot);
	free(listen_buf);
	free(url_buf);
	free(cache_buf);
	free(url_set);
	free(sets);
	served_image_free(&si);
	return rc;
}

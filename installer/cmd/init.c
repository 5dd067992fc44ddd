/* appliance init: a commented starter profile for a new site. Every choice
 * that is the site's is a "<CHOOSE: ...>" marker, which validate reports at
 * its position until it is replaced; everything else comes from the built-in
 * defaults (appliance config shows them, validate --keys explains them). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "base/err.h"
#include "base/util.h"
#include "profile/value.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: appliance init [--name NAME] [--nodes N] [--out FILE]\n\n"
		   "Write a starter profile for a new site: every choice that is yours is marked\n"
		   "<CHOOSE: ...>, and 'appliance validate' lists the ones left, each at its line.\n"
		   "Replace each node block with 'appliance identify' run on that machine.\n"
		   "docs/getting-started.md walks through it, secrets included.\n\n"
		   "  --name NAME   the site's short name (default home): cluster talos-NAME\n"
		   "  --nodes N     how many machines (1 to 64, default 3): 1 or 3 control planes\n"
		   "  --out FILE    write FILE (never replaced) instead of standard output\n\n"
		   "examples:\n"
		   "  appliance init --name lakehouse --nodes 3 --out site.yaml\n"
		   "  appliance validate site.yaml     # lists every choice still to make\n\n"
		   "exit: 0 ok, 1 FILE could not be written, 2 usage error\n");
}

static void starter(struct buf *b, const char *site, long nodes)
{
	long cps = nodes >= 3 ? 3 : 1;

	buf_printf(b,
		   "# appliance profile of site '%s', written by `appliance init`.\n"
		   "# Replace every <CHOOSE: ...> marker: `appliance validate FILE` lists those left.\n"
		   "# Everything not written here has a built-in default: `appliance config FILE`\n"
		   "# shows the whole profile, `appliance validate --keys` explains every key.\n"
		   "apiVersion: appliance/v1\n"
		   "kind: Appliance\n\n"
		   "site:\n"
		   "  cluster: talos-%s\n"
		   "  location: %s  # a short name of the place; part of the backup paths\n"
		   "  timezone: UTC  # or your zone of the tz database, e.g. Europe/Berlin\n"
		   "  domains: [\"<CHOOSE: the DNS domain of your services, e.g. home.example.com>\"]\n"
		   "  lan:\n"
		   "    cidr: \"<CHOOSE: your LAN, e.g. 192.168.1.0/24>\"\n"
		   "    gateway: \"<CHOOSE: your router, e.g. 192.168.1.1>\"\n"
		   "  # the database backups' S3 keys, as Flux variables (from the secrets below);\n"
		   "  # only what the components turned on here use (a second backup store,\n"
		   "  # apps.immich.database.secondary, would add its own two)\n"
		   "  secretVars:\n"
		   "    COMMON_S3_ACCESS_KEY: s3AccessKey\n"
		   "    COMMON_S3_SECRET_KEY: s3SecretKey\n\n"
		   "# One block per machine: run `appliance identify --name NAME` on each (or boot\n"
		   "# the appliance stick with appliance.action=check) and paste its output here.\n"
		   "nodes:\n",
		   site, site, site);
	for (long i = 1; i <= nodes; i++)
		buf_printf(
		    b,
		    "  - name: %s-%ld\n"
		    "    role: %s\n"
		    "    identity: {macs: [\"<CHOOSE: run 'appliance identify --name %s-%ld' on it>\"]}\n"
		    "    installDisk: {serial: \"<CHOOSE: run 'appliance identify --name %s-%ld' on it>\"}\n",
		    site, i, i <= cps ? "controlplane" : "worker", site, i, site, i);
	buf_printf(
	    b,
	    "\n"
	    "talos:\n"
	    "  # the Kubernetes API: a name every node maps to the VIP, a free LAN address\n"
	    "  endpoint: \"https://<CHOOSE: e.g. k8s.%s.internal>:6443\"\n"
	    "  vip: \"<CHOOSE: a free address of your LAN, e.g. 192.168.1.25>\"\n"
	    "  # the Talos image's hash, beside this file: `appliance image fetch FILE\n"
	    "  # --trust-on-first-use` records it (the default is the repository's own)\n"
	    "  image: {pins: pins.yaml}\n"
	    "%s"
	    "\n"
	    "nas:\n"
	    "  address: \"<CHOOSE: the NAS address, e.g. 192.168.1.10>\"\n"
	    "  share: \"<CHOOSE: the SMB share, e.g. media>\"\n"
	    "  photos: \"<CHOOSE: the folder of existing photos in the share (read only)>\"\n"
	    "  library: \"<CHOOSE: the folder Immich writes to in the share>\"\n"
	    "  username: nasUsername\n"
	    "  password: nasPassword\n\n"
	    "gitops:\n"
	    "  url: \"<CHOOSE: your GitOps repository, e.g. ssh://git@github.com/you/homelab.git>\"\n"
	    "  # an ssh:// or git@ URL also needs the git server's host key, the line(s)\n"
	    "  # 'ssh-keyscan github.com' prints (validate refuses the URL without it):\n"
	    "  # knownHosts: \"github.com ssh-ed25519 AAAA...\"\n"
	    "  credentials: gitDeployKey\n"
	    "  sops: sopsKey\n\n"
	    "platform:\n"
	    "  # the LoadBalancer addresses (the gateways'): no default, required. With l2\n"
	    "  # Cilium answers ARP for them on the LAN, so the range is a free part of it\n"
	    "  # (outside the router's DHCP range); a router that speaks BGP can learn a\n"
	    "  # range of its own instead (announce: bgp, docs/profile.md)\n"
	    "  cilium:\n"
	    "    values: {l2announcements: {enabled: true}}\n"
	    "    loadBalancer:\n"
	    "      cidr: \"<CHOOSE: a free range of your LAN, e.g. 192.168.1.240/28>\"\n"
	    "      announce: l2\n\n"
	    "apps:\n"
	    "  immich:\n"
	    "    database:\n"
	    "      primary:  # where the database backups go (S3): no default, required\n"
	    "        endpoint: \"<CHOOSE: your S3 endpoint, e.g. https://s3.eu-central-1.amazonaws.com>\"\n"
	    "        destinationPath: \"<CHOOSE: s3://BUCKET/PATH/, e.g. s3://backups/%s/immich/>\"\n\n"
	    "# Where each secret's value lives: env:NAME (an environment variable) or\n"
	    "# file:PATH (relative to this file). Values are read only when needed, never\n"
	    "# printed. docs/getting-started.md says how to create each one.\n"
	    "secrets:\n"
	    "  nasUsername: env:NAS_USERNAME\n"
	    "  nasPassword: env:NAS_PASSWORD\n"
	    "  gitDeployKey: file:secrets/deploy-key\n"
	    "  sopsKey: file:secrets/sops-gpg.asc\n"
	    "  s3AccessKey: env:S3_ACCESS_KEY\n"
	    "  s3SecretKey: env:S3_SECRET_KEY\n",
	    site,
	    nodes > 1 ? "  # every node must share one cluster identity: run `appliance talos secrets\n"
			"  # FILE --out talos-secrets.yaml` once and add the fingerprint it prints:\n"
			"  # caFingerprint: <64 hex digits>\n"
		      : "",
	    site);
}

int cmd_init(int argc, char **argv)
{
	const char *site = "home", *out = NULL, *v;
	long nodes = 3;
	struct buf b = { 0 };
	struct app_err e = { 0 };
	char *end;

	for (int i = 1; i < argc; i++) {
		if (cmd_is_help(argv[i])) {
			usage(stdout);
			return EXIT_OK;
		}
		if ((v = cmd_opt(argc, argv, &i, "--name")))
			site = v;
		else if ((v = cmd_opt(argc, argv, &i, "--site"))) {
			/* the old spelling, kept for one release: elsewhere --site
			 * names an overlay FILE */
			fputs("appliance init: --site is now --name (--site names an overlay file in the "
			      "other commands)\n",
			      stderr);
			site = v;
		} else if ((v = cmd_opt(argc, argv, &i, "--out")))
			out = v;
		else if ((v = cmd_opt(argc, argv, &i, "--nodes"))) {
			errno = 0;
			nodes = strtol(v, &end, 10);
			if (!*v || *end || errno || nodes < 1 || nodes > 64)
				return cmd_usage_error("init", "--nodes '%s': expected a number from 1 to 64",
						       v);
		} else
			return cmd_usage_error(
			    "init", argv[i][0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'",
			    argv[i]);
	}
	if (!value_is_k8s_name(site) || strchr(site, '.'))
		return cmd_usage_error(
		    "init", "--name '%s': expected a short lower-case name (letters, digits, '-')", site);
	starter(&b, site, nodes);
	if (!out) {
		fputs(b.data, stdout);
		buf_free(&b);
		return EXIT_OK;
	}
	if (access(out, F_OK) == 0) {
		buf_free(&b);
		cmd_error("'%s' exists; not replaced (choose another --out)", out);
		return EXIT_FAIL;
	}
	if (write_file_atomic(out, b.data, b.len, 0644, &e) < 0) {
		buf_free(&b);
		cmd_err(&e);
		return EXIT_FAIL;
	}
	buf_free(&b);
	fprintf(stderr, "wrote %s: next, 'appliance validate %s' lists the choices left\n", out, out);
	return EXIT_OK;
}

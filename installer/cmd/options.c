/* Every command's arguments and options as data (see doc.h). One row per
 * option the command's parser accepts; tests/integration/cli_docs.sh holds
 * each table against the parser in cmd/<name>.c and the command's --help. */
#include "cmd/doc.h"

#define SITE_SET                                                                                      \
	{ "--site", "FILE", NULL, "merge a site overlay over the profile (repeatable; later wins)" }, \
	{                                                                                             \
		"--set", "KEY=VALUE", NULL,                                                           \
		    "override one value, KEY like nodes[0].role or nas.port "                         \
		    "(repeatable)"                                                                    \
	}
#define END                            \
	{                              \
		NULL, NULL, NULL, NULL \
	}

const struct cmd_doc cmd_doc_validate = {
	.args = "PROFILE",
	.opts =
	    (const struct cmd_opt[]){
		SITE_SET,
		{ "--json", NULL, NULL, "print {valid, errors, warnings, diagnostics} as JSON on stdout" },
		{ "--keys", NULL, NULL,
		  "print every key a profile may have, its type and default; no "
		  "PROFILE" },
		END },
	.exit = "2 also when the profile is invalid (warnings alone exit 0)",
};

const struct cmd_doc cmd_doc_render = {
	.args = "PROFILE",
	.opts =
	    (const struct cmd_opt[]){
		SITE_SET,
		{ "--out", "DIR", NULL,
		  "output directory, a checkout of the GitOps repository (default gitops.out)" },
		{ "--check", NULL, NULL, "write nothing; list files that differ; exit 1 when any does" },
		{ "--diff", NULL, NULL, "like --check, and show a unified diff" },
		{ "--json", NULL, NULL, "machine-readable result on stdout" },
		{ "--only", "app", NULL, "only clusters/<cluster>/apps/immich (the platform exists)" },
		{ "--recovery", NULL, NULL,
		  "the database bootstraps by recovery from the primary object store and archives under a "
		  "new "
		  "serverName" },
		{ "--server-name", "NAME", NULL,
		  "serverName for the new archive (default <source>-recovery)" },
		{ "--graph", NULL, NULL,
		  "print the Flux Kustomizations as a Markdown table: what each waits for" },
		END },
	.exit = "1 also when --check or --diff found drift",
};

const struct cmd_doc cmd_doc_talos = {
	.args = "PROFILE",
	.subs = "secrets gen schematic config-volume",
	.opts =
	    (const struct cmd_opt[]){
		SITE_SET,
		{ "--out", "FILE", "secrets gen config-volume",
		  "secrets: the bundle to write; gen: the folder for the configs; config-volume: the ISO9660 "
		  "volume" },
		{ "--rotate", NULL, "secrets", "replace an existing bundle (the old one is kept)" },
		{ "--secrets", "FILE", "gen config-volume", "the site's Talos secrets bundle" },
		{ "--node", "NAME", "gen config-volume", "only this node (gen: repeatable)" },
		{ "--config", "FILE", "config-volume", "an existing machine config instead of --secrets" },
		{ "--id", NULL, "schematic", "print only the schematic id" },
		{ "--urls", NULL, "schematic", "print only the asset URLs" },
		{ "--json", NULL, "secrets gen schematic",
		  "secrets: {out, caFingerprint, previous} as JSON; gen: the configs written; schematic: "
		  "the schematic, id, URLs" },
		END },
};

#define HW_OPTS(root_help)                                                                \
	{ "--hw-root", "DIR", NULL, root_help },                                          \
	    { "--disk-file", "FILE", NULL, "list an image file as a disk (repeatable)" }, \
	{                                                                                 \
		"--live", "PATH", NULL,                                                   \
		    "treat the disk holding PATH as the live medium (default "            \
		    "$APPLIANCE_LIVE_DISK)"                                               \
	}

const struct cmd_doc cmd_doc_disks = {
	.args = "[PROFILE]",
	.opts =
	    (const struct cmd_opt[]){
		SITE_SET,
		{ "--json", NULL, NULL, "one JSON object on stdout" },
		HW_OPTS("read sys/, dev/ and proc/ below DIR (default / or $APPLIANCE_HW_ROOT)"),
		{ "--disk", "NAME", NULL, "only this disk (sda or /dev/sda; repeatable; not with PROFILE)" },
		{ "--node", "NAME", NULL,
		  "with PROFILE: resolve this node's disk selectors and show why each disk "
		  "matched or not" },
		END },
	.exit = "1 also when a selector did not resolve",
};

const struct cmd_doc cmd_doc_wipe = {
	.args = "PROFILE",
	.opts =
	    (const struct cmd_opt[]){
		SITE_SET,
		{ "--node", "NAME", NULL, "the node whose Ceph disks are prepared" },
		{ "--apply", NULL, NULL, "really erase (default: print what would be erased)" },
		{ "--backup", "DIR", NULL, "save every region first (DIR/index + DIR/diskN.img)" },
		{ "--restore", "DIR", NULL,
		  "write a backup back (each region checked against its sha256); no PROFILE" },
		{ "--disk", "PATH", NULL, "only this disk (one of the node's Ceph disks)" },
		{ "--unattended", NULL, NULL,
		  "only entries with 'wipe: true' (what install --unattended does)" },
		{ "--json", NULL, NULL, "one JSON object on stdout" },
		HW_OPTS("read sys/, dev/ and proc/ below DIR (fixture trees)"),
		END },
	.exit = "1 also when the safety policy refused a disk",
};

const struct cmd_doc cmd_doc_image = {
	.args = "PROFILE | SOURCE DEVICE | DEVICE",
	.subs = "fetch write add-config",
	.opts =
	    (const struct cmd_opt[]){
		{ "--site", "FILE", "fetch",
		  "merge a site overlay over the profile (repeatable; later wins)" },
		{ "--set", "KEY=VALUE", "fetch", "override one value of the profile (repeatable)" },
		{ "--cache", "DIR", "fetch",
		  "the image cache install reads (default $APPLIANCE_STATE_DIR/cache, else "
		  "/var/lib/appliance/cache)" },
		{ "--trust-on-first-use", NULL, "fetch",
		  "accept an unpinned image and record the hash it saw" },
		{ "--ca-file", "FILE", "fetch write", "extra CA bundle for an https mirror" },
		{ "--sha256", "HEX", "write", "the expected hash of SOURCE" },
		{ "--journal", "FILE", "write", "where the write journal goes (a re-run resumes from it)" },
		{ "--keep-backup-gpt", NULL, "write", "leave the backup GPT where the image put it" },
		{ "--volume", "FILE", "add-config",
		  "the Talos config volume (appliance talos config-volume)" },
		{ "--apply", NULL, "write add-config",
		  "really write (default: print what would be written)" },
		{ "--json", NULL, NULL, "one JSON result object on stdout (progress stays on stderr)" },
		END },
};

const struct cmd_doc cmd_doc_nas = {
	.args = "PROFILE",
	.subs = "check prepare",
	.opts =
	    (const struct cmd_opt[]){
		SITE_SET,
		{ "--json", NULL, NULL, "machine-readable output on stdout" },
		{ "--timeout", "DURATION", "check", "per-operation timeout, e.g. 10s (default nas.timeout)" },
		{ "--retries", "N", "check", "extra attempts on transient errors (default nas.retries)" },
		{ "--apply", NULL, "prepare", "make the changes (default: show them)" },
		END },
	.exit = "1 also when a required check failed",
};

#define PLAN_OPTS                                                                                         \
	SITE_SET, { "--node", "NAME", NULL, "install the profile's node NAME" },                          \
	    { "--auto", NULL, NULL, "find the node by this machine's MACs, DMI serial or UUID" },         \
	    { "--json", NULL, NULL, "one JSON event per line on stdout" },                                \
	    { "--state-dir", "DIR", NULL,                                                                 \
	      "journal, configs and image cache (default $APPLIANCE_STATE_DIR or /var/lib/appliance)" },  \
	    { "--secrets", "FILE", NULL,                                                                  \
	      "the site's Talos secrets bundle (default STATE_DIR/talos-secrets.yaml)" },                 \
	    { "--cache", "DIR", NULL, "image cache (default STATE_DIR/cache)" },                          \
	    { "--sysfs", "DIR", NULL,                                                                     \
	      "where sysfs is (identity, efivarfs; default HW_ROOT/sys, else /sys)" },                    \
	    { "--hw-root", "DIR", NULL, "root for the disk inventory (default /)" },                      \
	    { "--disk-file", "FILE", NULL, "list an image file as a disk (repeatable)" },                 \
	    { "--ca-file", "FILE", NULL, "extra CA bundle for an https image mirror" },                   \
	    { "--config", "FILE", NULL, "the node's machine config rendered elsewhere (a PXE payload)" }, \
	{                                                                                                 \
		"--image-dir", "DIR", NULL, "pinned images to use first, read-only"                       \
	}

const struct cmd_doc cmd_doc_plan = {
	.args = "PROFILE",
	.opts = (const struct cmd_opt[]){ PLAN_OPTS, END },
	.exit = "1 also when a step would be refused or is not available",
};

const struct cmd_doc cmd_doc_install = {
	.args = "PROFILE",
	.opts =
	    (const struct cmd_opt[]){ PLAN_OPTS,
				      { "--apply", NULL, NULL, "carry the steps out (destructive)" },
				      { "--unattended", NULL, NULL,
					"never ask; Ceph disks are wiped only when the profile says wipe: "
					"true" },
				      END },
	.exit = "1 also when a step failed, was refused or interrupted",
};

const struct cmd_doc cmd_doc_pxe = {
	.args = "PROFILE",
	.opts =
	    (const struct cmd_opt[]){
		SITE_SET,
		{ "--out", "DIR", NULL, "the tree (TFTP root); created" },
		{ "--live", "DIR", NULL,
		  "vmlinuz + initrd.img of the live system (default $APPLIANCE_LIVE_DIR, "
		  "PREFIX/share/appliance/live or build/iso/live)" },
		{ "--ipxe", "DIR", NULL, "undionly.kpxe + ipxe.efi (default /usr/lib/ipxe)" },
		{ "--netboot", "DIR", NULL, "grub-mknetdir output for UEFI GRUB network boot" },
		{ "--secrets", "FILE", NULL,
		  "the site's Talos secrets bundle: node payloads are rendered from it" },
		{ "--payload-url", "URL", NULL,
		  "where nodes fetch their payload (default with --serve: port 8069)" },
		{ "--allow-file", "PATH", NULL,
		  "the profile may name this absolute path outside its folder (repeatable)" },
		{ "--listen", "ADDR:PORT", NULL,
		  "where the payload server listens (alone: only the payload server)" },
		{ "--approve", NULL, NULL, "ask on this terminal before each payload leaves" },
		{ "--kernel-args", "ARGS", NULL, "appended to every kernel command line" },
		{ "--interactive", NULL, NULL,
		  "show the plan and ask on the console instead of installing unattended" },
		{ "--serve", "IFACE", NULL,
		  "then run dnsmasq on IFACE in the foreground (root; Ctrl-C stops)" },
		{ "--json", NULL, NULL,
		  "the result as one JSON object (serving: one event a line, the result last)" },
		END },
};

const struct cmd_doc cmd_doc_bootstrap = {
	.args = "PROFILE",
	.opts =
	    (const struct cmd_opt[]){
		SITE_SET,
		{ "--secrets", "FILE", NULL,
		  "the site's Talos secrets bundle (a client certificate is made from its OS CA)" },
		{ "--talosconfig", "FILE", NULL, "use this talosconfig's CA and client certificate instead" },
		{ "--context", "NAME", NULL, "talosconfig context (default: its current one)" },
		{ "--node", "NAME", NULL, "control-plane node to bootstrap (default: the first one)" },
		{ "--endpoint", "HOST[:PORT]", NULL,
		  "address of its Talos API (default: the node's address, 50000)" },
		{ "--kubeconfig", "PATH", NULL,
		  "where to write the kubeconfig (default ./kubeconfig, mode 0600)" },
		{ "--wait", "DURATION", NULL,
		  "how long to wait for apid, e.g. 5m (default 10m; 0s: one try)" },
		{ "--config-volume", "DEV", NULL,
		  "the config volume's device on the nodes (default from the profile)" },
		{ "--keep-config-volumes", NULL, NULL,
		  "do not scrub the metal-iso config volumes afterwards" },
		{ "--json", NULL, NULL, "one JSON result object on stdout (also on failure)" },
		END },
};

const struct cmd_doc cmd_doc_rebuild = {
	.args = "PROFILE",
	.opts =
	    (const struct cmd_opt[]){
		SITE_SET,
		{ "--secrets", "FILE", NULL,
		  "the site's Talos secrets bundle (kept off-site; never regenerated)" },
		{ "--apply", NULL, NULL, "carry it out (default: preflight and plan only)" },
		{ "--out", "DIR", NULL, "GitOps checkout to render into (default gitops.out)" },
		{ "--server-name", "NAME", NULL,
		  "serverName for the new backups (default <source>-recovery)" },
		{ "--node", "NAME", NULL, "with --apply: the node this machine is (install flow)" },
		{ "--state-dir", "DIR", NULL, "with --node: install state (journal, configs, image cache)" },
		{ "--disk-file", "FILE", NULL, "with --node: treat an image file as a disk (repeatable)" },
		{ "--sysfs", "DIR", NULL, "with --node: sysfs root for identity" },
		{ "--hw-root", "DIR", NULL, "with --node: root for the disk inventory" },
		{ "--endpoint", "HOST[:PORT]", NULL, "with --apply: Talos API of the first control plane" },
		{ "--kubeconfig", "PATH", NULL,
		  "with --endpoint: where the kubeconfig goes (default ./kubeconfig)" },
		{ "--wait", "DURATION", NULL,
		  "with --endpoint: how long to wait for apid, e.g. 5m (default 10m)" },
		{ "--skip-nas", NULL, NULL, "do not check the NAS" },
		{ "--json", NULL, NULL, "the result as one JSON object on stdout, the text on stderr" },
		END },
	.exit = "1 also when a preflight failed (nothing was touched)",
};

const struct cmd_doc cmd_doc_version = { .opts = (const struct cmd_opt[]){ END } };

const struct cmd_doc cmd_doc_help = { .args = "[COMMAND]", .opts = (const struct cmd_opt[]){ END } };

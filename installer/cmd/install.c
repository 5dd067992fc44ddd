/* appliance install / appliance plan: one code path (lib/plan.c). `plan` and
 * `install` without --apply only compute and describe; `install --apply`
 * carries the steps out, journaled under the state directory.
 *
 * Exit codes (docs/install.md):
 *   0  plan: every step could be planned; install: every step done or already done
 *   1  a step failed, was refused, was interrupted (Ctrl-C), or is not available
 *   2  usage error, invalid profile, or --node names no node of the profile */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "base/err.h"
#include "profile/model.h"
#include "profile/value.h"
#include "install/plan.h"
#include "install/report.h"
#include "base/util.h"

int install_command(int argc, char **argv, bool plan_only);

static volatile sig_atomic_t stop_flag, busy_flag;

/* Ctrl-C: during a step that journals its chunks (image fetch and write) or
 * is idempotent (Ceph wipe), stop now: the next run resumes from the last
 * verified chunk. Otherwise stop after the current (short) step. A second
 * Ctrl-C always stops at once. */
static void on_sigint(int sig)
{
	static const char now[] = "\nappliance: stopped; re-run the same command to resume\n";
	static const char later[] = "\nappliance: stopping after this step (Ctrl-C again to stop now); "
				    "re-run to resume\n";

	if (stop_flag || busy_flag) {
		if (write(STDERR_FILENO, now, sizeof(now) - 1) < 0) {
			/* nothing to do */
		}
		_exit(EXIT_FAIL);
	}
	(void)sig;
	stop_flag = 1;
	if (write(STDERR_FILENO, later, sizeof(later) - 1) < 0) {
		/* nothing to do */
	}
}

static void usage(FILE *f, const char *cmd)
{
	fprintf(f,
		"usage: appliance %s PROFILE [--site FILE]... [--set KEY=VALUE]...\n"
		"       (--node NAME | --auto) [--json] [--state-dir DIR] [--secrets FILE]\n"
		"       [--cache DIR] [--image-dir DIR] [--sysfs DIR] [--hw-root DIR]\n"
		"       [--disk-file FILE]... [--ca-file FILE] [--config FILE] [--reinstall]\n"
		"       [--new-cluster]%s\n\n",
		cmd, strcmp(cmd, "install") == 0 ? " [--apply] [--unattended]" : "");
	fprintf(f, "%s\n\n",
		strcmp(cmd, "install") == 0
		    ? "Install this node: identify it, check the NAS, the image and the secrets,\n"
		      "render its Talos config, write the image and the metal-iso config partition\n"
		      "to the install disk, prepare the Ceph disks, set the boot order and render\n"
		      "the GitOps tree. Every step is journaled in the state directory: a re-run\n"
		      "skips what is done and still checks out. Without --apply this is\n"
		      "'appliance plan'."
		    : "Show every step an install would take, what each would change (devices,\n"
		      "bytes, partitions, signatures, files) and what it leaves alone. Changes\n"
		      "nothing; read-only preflights (NAS, image, secrets, config) are run.");
	fprintf(f, "options:\n"
		   "  --node NAME        install the profile's node NAME\n"
		   "  --auto             find the node by this machine's MACs, DMI serial or UUID\n"
		   "  --site FILE        site overlay (repeatable); --set KEY=VALUE overrides a\n"
		   "                     value\n"
		   "  --json             one JSON event per line on stdout\n"
		   "  --state-dir DIR    journal, configs and image cache (default\n"
		   "                     $APPLIANCE_STATE_DIR or /var/lib/appliance)\n"
		   "  --secrets FILE     the site's Talos secrets bundle (default\n"
		   "                     STATE_DIR/talos-secrets.yaml); must match\n"
		   "                     talos.caFingerprint. Generated when missing only for a\n"
		   "                     one-node site, or with --new-cluster\n"
		   "  --new-cluster      allow a new bundle for a site of several nodes (its first\n"
		   "                     node)\n"
		   "  --dry-run          the default: show the plan, change nothing\n"
		   "  -q, --quiet        only what changes, what failed and the summary\n"
		   "  -v, --verbose      also every step's inputs (what a re-run compares)\n"
		   "  --config FILE      the node's machine config rendered elsewhere (appliance\n"
		   "                     pxe payload): used as it is, no bundle needed; secrets\n"
		   "                     not delivered are skipped\n"
		   "  --cache DIR        image cache (default STATE_DIR/cache)\n"
		   "  --image-dir DIR    pinned images to use first, read-only (the live system\n"
		   "                     passes the stick's appliance/images)\n"
		   "  --sysfs DIR        where sysfs is (identity, efivarfs; default HW_ROOT/sys,\n"
		   "                     else /sys)\n"
		   "  --hw-root DIR      root for the disk inventory (default /)\n"
		   "  --disk-file FILE   list an image file as a disk (repeatable; tests and the\n"
		   "                     demo)\n"
		   "  --ca-file FILE     extra CA bundle for an https image mirror\n"
		   "  --reinstall        re-image an install disk that already runs Talos\n"
		   "                     (STATE/EPHEMERAL on it); otherwise such a disk is refused\n");
	if (strcmp(cmd, "install") == 0)
		fprintf(f, "  --apply            carry the steps out (destructive)\n"
			   "  --unattended       never ask; Ceph disks are wiped only when the profile\n"
			   "                     says wipe: true\n");
	if (strcmp(cmd, "install") == 0)
		fprintf(f, "\nexamples:\n"
			   "  appliance install site.yaml --node lake-1 --secrets talos-secrets.yaml\n"
			   "  appliance install site.yaml --auto --secrets talos-secrets.yaml --apply\n");
	else
		fprintf(f, "\nexamples:\n"
			   "  appliance plan site.yaml --node lake-1 --secrets talos-secrets.yaml\n"
			   "  appliance plan site.yaml --auto -q\n");
	fprintf(f, "\nexit codes: 0 ok, 1 a step failed, was refused, interrupted or is not\n"
		   "            available, 2 usage error, invalid profile or unknown node\n");
}

static bool confirm(const struct plan_opts *po)
{
	char line[64];

	fprintf(stderr,
		"\nThis erases the disks listed above as 'write', 'erase' and 'partition'.\n"
		"Type 'yes' to install node '%s': ",
		po->node ? po->node : "(auto)");
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return strcmp(line, "yes\n") == 0;
}

/* ARG as one shell word: as is when it is plain, else in single quotes. */
static void shell_word(struct buf *b, const char *arg)
{
	bool plain = *arg != '\0';

	for (const char *p = arg; *p; p++)
		plain &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			 strchr("-_./=:,@%+", *p);
	if (plain) {
		buf_puts(b, arg);
		return;
	}
	buf_puts(b, "'");
	for (const char *p = arg; *p; p++)
		if (*p == '\'')
			buf_puts(b, "'\\''");
		else
			buf_append(b, p, 1);
	buf_puts(b, "'");
}

/* PROFILE [--site F]... [--set K=V]... as shell words (what suggested commands need). */
static char *profile_words(const struct profile_opts *po)
{
	struct buf b = { 0 };

	shell_word(&b, po->profile);
	for (int i = 0; i < po->n_sites; i++) {
		buf_puts(&b, " --site ");
		shell_word(&b, po->sites[i]);
	}
	for (int i = 0; i < po->n_sets; i++) {
		buf_puts(&b, " --set ");
		shell_word(&b, po->sets[i]);
	}
	return b.data;
}

/* The install command that carries out this plan, complete and ready to
 * paste: the same arguments, 'install' for 'plan', and --apply. */
static char *apply_command(int argc, char **argv)
{
	struct buf b = { 0 };

	buf_puts(&b, "appliance install");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			continue;
		buf_puts(&b, " ");
		shell_word(&b, argv[i]);
	}
	buf_puts(&b, " --apply");
	return b.data;
}

int install_command(int argc, char **argv, bool plan_only)
{
	const char *cmd = plan_only ? "plan" : "install";
	struct profile_opts po = { 0 };
	struct plan_opts o = { 0 };
	struct plan_outcome out = { 0 };
	struct app_err e = { 0 };
	const char **files = NULL;
	bool json = false, dry_run = false;
	int verbosity = 0;
	char *profile_args = NULL;
	struct model *m;
	int r, n_files = 0, rc;
	const char *v;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cmd_is_help(a)) {
			usage(stdout, cmd);
			profile_opts_free(&po);
			free(files);
			return EXIT_OK;
		}
		r = profile_opts_arg(&po, argc, argv, &i);
		if (r < 0)
			goto usage_err;
		if (r > 0)
			continue;
		if (strcmp(a, "--auto") == 0)
			o.autodetect = true;
		else if (strcmp(a, "--json") == 0)
			json = true;
		else if (!plan_only && strcmp(a, "--apply") == 0)
			o.apply = true;
		else if (!plan_only && strcmp(a, "--unattended") == 0)
			o.unattended = true;
		else if (strcmp(a, "--reinstall") == 0)
			o.reinstall = true;
		else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
			verbosity = -1;
		else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
			verbosity = 1;
		else if (strcmp(a, "--dry-run") == 0)
			dry_run = true; /* the default: said so, and refused with --apply */
		else if (strcmp(a, "--new-cluster") == 0)
			o.new_cluster = true;
		else if ((v = cmd_opt(argc, argv, &i, "--node")))
			o.node = v;
		else if ((v = cmd_opt(argc, argv, &i, "--state-dir")))
			o.state_dir = v;
		else if ((v = cmd_opt(argc, argv, &i, "--secrets")))
			o.secrets = v;
		else if ((v = cmd_opt(argc, argv, &i, "--config")))
			o.config = v;
		else if ((v = cmd_opt(argc, argv, &i, "--cache")))
			o.cache_dir = v;
		else if ((v = cmd_opt(argc, argv, &i, "--image-dir")))
			o.image_dir = v;
		else if ((v = cmd_opt(argc, argv, &i, "--sysfs")))
			o.sysfs = v;
		else if ((v = cmd_opt(argc, argv, &i, "--hw-root")))
			o.hw_root = v;
		else if ((v = cmd_opt(argc, argv, &i, "--ca-file")))
			o.ca_file = v;
		else if ((v = cmd_opt(argc, argv, &i, "--disk-file"))) {
			files = xrealloc(files, sizeof(*files) * (size_t)(n_files + 1));
			files[n_files++] = v;
		} else if (a[0] == '-') {
			rc = cmd_usage_error(cmd, "unknown option '%s'", a);
			goto out_free;
		} else if (!po.profile)
			po.profile = a;
		else {
			rc = cmd_usage_error(cmd, "unexpected argument '%s'", a);
			goto out_free;
		}
	}
	cmd_default_profile(&po);
	if (!po.profile) {
		rc = cmd_usage_error(cmd, "no PROFILE given");
		goto out_free;
	}
	if (dry_run && o.apply) {
		rc = cmd_usage_error(
		    cmd, "--dry-run and --apply contradict each other (a dry run is the default)");
		goto out_free;
	}
	if (!o.node == !o.autodetect) {
		rc = cmd_usage_error(cmd, "give exactly one of --node NAME and --auto");
		goto out_free;
	}
	if (o.config && (o.secrets || !o.node)) {
		rc = cmd_usage_error(cmd, "--config is one node's machine config: give it with --node NAME "
					  "and without --secrets");
		goto out_free;
	}
	/* invalid input, refused before the engine journals or writes anything */
	if (o.config && (rc = cmd_check_machine_config(o.config, 4u << 20)) != 0)
		goto out_free;
	if (!o.state_dir)
		o.state_dir = cmd_state_dir();
	m = cmd_load_model(&po, false);
	if (!m) {
		rc = EXIT_USAGE;
		goto out_free;
	}
	if (o.node && !model_node_by_name(m, o.node)) {
		const char *near = value_closest(o.node, (const char *const *)&m->nodes[0].name,
						 sizeof(m->nodes[0]), m->n_nodes);
		if (near)
			cmd_error("node '%s' is not in profile '%s'; did you mean '%s'?", o.node, po.profile,
				  near);
		else
			cmd_error("node '%s' is not in profile '%s'", o.node, po.profile);
		model_free(m);
		rc = EXIT_USAGE;
		goto out_free;
	}
	o.model = m;
	profile_args = profile_words(&po);
	o.profile_args = profile_args;
	if (m->install.unattended)
		o.unattended = true; /* the profile says: never ask */
	o.disk_files = files;
	o.n_disk_files = n_files;
	o.stop = &stop_flag;
	o.busy = &busy_flag;
	o.report = report_new(stdout, json ? REPORT_JSON : REPORT_TTY);
	report_set_verbosity(o.report, verbosity);
	{
		struct sigaction sa = { .sa_handler = on_sigint };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}

	/* Interactive install: show the plan, then ask. */
	if (o.apply && !o.unattended && !json && isatty(STDIN_FILENO)) {
		struct plan_opts dry = o;
		dry.apply = false;
		r = plan_run(&dry, &out, &e);
		if (r < 0 && r != -ENOSYS) {
			cmd_err(&e);
			rc = EXIT_FAIL;
			goto out_model;
		}
		if (!confirm(&o)) {
			cmd_error("not confirmed; nothing was changed");
			rc = EXIT_FAIL;
			goto out_model;
		}
	} else if (o.apply) {
		o.unattended = true; /* nobody said yes: only wipes the profile opts into */
	}
	r = plan_run(&o, &out, &e);
	if (r < 0) {
		rc = EXIT_FAIL;
		if (report_get_mode(o.report) == REPORT_JSON)
			report_end(o.report, rc, e.msg);
		else {
			cmd_err(&e);
			for (char *l = out.more_failures, *nl; l && *l; l = nl + 1) {
				nl = strchr(l, '\n');
				*nl = '\0';
				cmd_error("%s", l);
			}
		}
		if (out.refused && o.apply)
			fprintf(stderr, "appliance: no disk was changed\n");
	} else {
		rc = EXIT_OK;
		char *cmdline = apply_command(argc, argv);
		char *outcome = xasprintf("plan complete; to carry it out:\n  %s", cmdline);
		report_end(o.report, rc, o.apply ? "install complete: reboot into Talos" : outcome);
		free(outcome);
		free(cmdline);
	}
out_model:
	free(out.more_failures);
	free(profile_args);
	report_free(o.report);
	model_free(m);
out_free:
	profile_opts_free(&po);
	free(files);
	return rc;
usage_err:
	profile_opts_free(&po);
	free(files);
	fprintf(stderr, "try 'appliance %s --help'\n", cmd);
	return EXIT_USAGE;
}

int cmd_install(int argc, char **argv)
{
	return install_command(argc, argv, false);
}

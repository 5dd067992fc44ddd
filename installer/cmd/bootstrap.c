/* appliance bootstrap: wait for apid on the first control-plane node, call
 * Bootstrap once (ALREADY_EXISTS on a re-run is success), fetch the admin
 * kubeconfig, then scrub the config volumes over the Talos API (unless
 * --keep-config-volumes): they still hold each node's config and secrets. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "base/err.h"
#include "profile/model.h"
#include "net/talosapi.h"
#include "talos/talos_config.h"
#include "talos/talos_volume.h"
#include "base/util.h"
#include "base/json.h"

/* --json: one config volume's fate in the configVolumes array */
static void volume_json(struct buf *b, const char *node, const char *dev, const char *result)
{
	buf_puts(b, b->len > 1 ? ",{\"node\":" : "{\"node\":");
	json_buf_str(b, node);
	buf_puts(b, ",\"device\":");
	json_buf_str(b, dev);
	buf_puts(b, ",\"result\":");
	json_buf_str(b, result);
	buf_puts(b, "}");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: appliance bootstrap PROFILE (--secrets FILE | --talosconfig FILE)\n"
		   "                 [OPTIONS]\n"
		   "\n"
		   "Bootstrap etcd on the first control-plane node over the Talos API (gRPC,\n"
		   "mutual TLS on port 50000) and write the admin kubeconfig. Safe to re-run: a\n"
		   "node that is already bootstrapped counts as success. Then every node's\n"
		   "metal-iso config volume (which still holds its machine config and secrets)\n"
		   "is overwritten with zeroes and its partition dropped through the Talos API;\n"
		   "Talos keeps its config in STATE.\n"
		   "\n"
		   "options:\n"
		   "  --secrets FILE        the site's Talos secrets bundle (a client certificate\n"
		   "                        is made from its OS CA in memory)\n"
		   "  --talosconfig FILE    use this talosconfig's CA and client certificate\n"
		   "  --context NAME        talosconfig context (default: its current one)\n"
		   "  --node NAME           control-plane node to bootstrap (default: the first)\n"
		   "  --endpoint HOST[:PORT]\n"
		   "                        address of its Talos API (default: the node's static\n"
		   "                        address, port 50000)\n"
		   "  --kubeconfig PATH     where to write the kubeconfig (default: ./kubeconfig,\n"
		   "                        mode 0600)\n"
		   "  --wait DURATION       how long to wait for apid, e.g. 5m (default 10m;\n"
		   "                        0s: one try)\n"
		   "  --keep-config-volumes do not scrub the metal-iso config volumes afterwards\n"
		   "  --config-volume DEV   the config volume's device on the nodes (e.g.\n"
		   "                        nvme0n1p5); default: each node's installDisk path and\n"
		   "                        talos.configPartition\n"
		   "  --json                one JSON result object on stdout ({command, node,\n"
		   "                        etcd, kubeconfig, configVolumes, ok, exit, error}),\n"
		   "                        also on failure; never a key or the kubeconfig itself\n"
		   "  --site FILE, --set KEY=VALUE  profile overlays\n"
		   "  -h, --help            this help\n"
		   "\n"
		   "examples:\n"
		   "  appliance bootstrap site.yaml --secrets talos-secrets.yaml\n"
		   "  appliance bootstrap site.yaml --secrets talos-secrets.yaml --json | jq .etcd\n"
		   "\n"
		   "exit codes: 0 ok, 1 failure, 2 usage error or invalid input\n");
}

struct bs_opts {
	struct profile_opts p;
	const char *secrets, *talosconfig, *context, *node, *endpoint, *kubeconfig, *volume;
	long long wait_ms;
	bool keep_volumes;
};

static int parse_args(int argc, char **argv, struct bs_opts *o)
{
	static const struct cmd_value_opt vals[] = {
		{ "--secrets", offsetof(struct bs_opts, secrets) },
		{ "--talosconfig", offsetof(struct bs_opts, talosconfig) },
		{ "--context", offsetof(struct bs_opts, context) },
		{ "--node", offsetof(struct bs_opts, node) },
		{ "--endpoint", offsetof(struct bs_opts, endpoint) },
		{ "--kubeconfig", offsetof(struct bs_opts, kubeconfig) },
		{ "--config-volume", offsetof(struct bs_opts, volume) },
		{ "--wait", CMD_OPT_OWN },
	};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		const struct cmd_value_opt *hit;
		int r = profile_opts_arg(&o->p, argc, argv, &i);

		if (r < 0)
			return cmd_usage_error("bootstrap", "bad option");
		if (r > 0)
			continue;
		if (cmd_is_help(a)) {
			usage(stdout);
			return -1;
		}
		if (strcmp(a, "--keep-config-volumes") == 0) {
			o->keep_volumes = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) /* the result object (cmd/result.c) */
			continue;
		r = cmd_value_opts("bootstrap", argc, argv, &i, vals, sizeof(vals) / sizeof(vals[0]), o, &hit,
				   &v);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0 && hit->off == CMD_OPT_OWN && /* --wait */
		    cmd_parse_duration("bootstrap", "--wait", v, 0, 86400000, &o->wait_ms))
			return EXIT_USAGE;
		if (r > 0)
			continue;
		r = cmd_profile_arg("bootstrap", &o->p, a);
		if (r)
			return r;
	}
	cmd_default_profile(&o->p);
	if (!o->p.profile)
		return cmd_usage_error("bootstrap", "no PROFILE given");
	if (!o->secrets && !o->talosconfig)
		return cmd_usage_error("bootstrap", "give --secrets FILE or --talosconfig FILE");
	if (o->secrets && o->talosconfig)
		return cmd_usage_error("bootstrap", "give only one of --secrets and --talosconfig");
	if (o->keep_volumes && o->volume)
		return cmd_usage_error("bootstrap",
				       "--config-volume and --keep-config-volumes exclude each other");
	return 0;
}

/* After bootstrap every node's config volume still holds its machine config
 * (CA keys on control planes, the Flux secrets): overwrite it with zeroes and
 * drop its partition. skip_volume_check: Talos refuses to wipe a partition
 * that backs a volume ("in use by volume") without it; FAST would clear only
 * the signatures and leave config.yaml readable. A refusal is reported and
 * fails the command; the other nodes are still scrubbed. */
static int scrub_config_volumes(const struct model *m, const struct model_node *boot, const struct bs_opts *o,
				const char *boot_host, int port, const struct talos_creds *creds,
				const struct talosapi_retry *rt)
{
	int failed = 0;
	struct buf vj = { 0 };

	buf_puts(&vj, "[");
	cmd_json_bool("configVolumesKept", o->keep_volumes);

	if (o->keep_volumes) {
		cmd_say("config volumes: kept (--keep-config-volumes); they still hold each node's machine "
			"config and its secrets\n");
		buf_free(&vj);
		return 0;
	}
	if (!m->talos.config_delivery || strcmp(m->talos.config_delivery, "metal-iso") != 0) {
		cmd_say("config volumes: none (talos.configDelivery is '%s')\n",
			m->talos.config_delivery ? m->talos.config_delivery : "none");
		buf_free(&vj);
		return 0;
	}
	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct model_node *n = &m->nodes[i];
		struct app_err e = { 0 };
		char *h = NULL, *dev = NULL;

		/* with --endpoint only that node is reachable */
		if (o->endpoint && n != boot)
			continue;
		h = o->endpoint ? xstrdup(boot_host) : cmd_node_host(n);
		dev = o->volume ? xstrdup(o->volume) : talos_volume_device(m, n, &e);
		if (!h) {
			cmd_error("config volume of node '%s' not scrubbed: the node has no static address; "
				  "run again with --node %s --endpoint HOST",
				  n->name, n->name);
			volume_json(&vj, n->name, dev, "failed");
			failed++;
		} else if (!dev) {
			cmd_error("config volume not scrubbed: %s", e.msg);
			volume_json(&vj, n->name, NULL, "failed");
			failed++;
		} else {
			struct talosapi_node sn = { .host = h, .port = port, .creds = creds };
			struct talosapi_wipe w = { .device = dev,
						   .method = TALOSAPI_WIPE_ZEROES,
						   .skip_volume_check = true,
						   .drop_partition = true };

			int r = talosapi_wipe_device(&sn, rt, &w, &e);

			if (r == -ENOENT) {
				/* a re-run after the partition was dropped */
				cmd_say(
				    "config volume: %s on %s not found (already scrubbed and its partition "
				    "dropped; if that is not its name, give --config-volume DEV)\n",
				    dev, n->name);
				volume_json(&vj, n->name, dev, "absent");
			} else if (r < 0) {
				cmd_error(
				    "config volume '%s' on node '%s' was not scrubbed (its machine config "
				    "and secrets remain): %s",
				    dev, n->name, e.msg);
				volume_json(&vj, n->name, dev, "failed");
				failed++;
			} else {
				cmd_say(
				    "config volume: %s on %s overwritten with zeroes, partition dropped\n",
				    dev, n->name);
				volume_json(&vj, n->name, dev, "scrubbed");
			}
		}
		free(h);
		free(dev);
	}
	buf_puts(&vj, "]");
	cmd_json_raw("configVolumes", vj.data);
	buf_free(&vj);
	if (o->endpoint && m->n_nodes > 1)
		cmd_say("config volumes: only %s was reachable through --endpoint; the other nodes' config "
			"volumes were not scrubbed (without --endpoint each node is reached at its "
			"address)\n",
			boot->name);
	return failed ? -EIO : 0;
}

int cmd_bootstrap(int argc, char **argv)
{
	struct bs_opts o = { .wait_ms = 600000 };
	struct talos_creds creds = { 0 };
	struct app_err e = { 0 };
	struct buf kube = { 0 };
	const struct model_node *node = NULL;
	enum talosapi_bootstrap_result res;
	struct model *m = NULL;
	char *host = NULL;
	int port = TALOSAPI_PORT, rc = EXIT_FAIL, r;

	cmd_json_begin(argc, argv, "bootstrap");
	r = parse_args(argc, argv, &o);
	if (r != 0) {
		profile_opts_free(&o.p);
		return r < 0 ? EXIT_OK : r;
	}
	m = cmd_load_model(&o.p, false);
	if (!m) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (o.node) {
		node = model_node_by_name(m, o.node);
		if (!node) {
			rc = cmd_usage_error("bootstrap", "no node '%s' in the profile", o.node);
			goto out;
		}
		if (node->role != NODE_ROLE_CONTROLPLANE) {
			rc = cmd_usage_error("bootstrap",
					     "node '%s' is a %s; etcd is bootstrapped on a control plane",
					     o.node, node->role_text ? node->role_text : "worker");
			goto out;
		}
	} else {
		for (size_t i = 0; i < m->n_nodes && !node; i++)
			if (m->nodes[i].role == NODE_ROLE_CONTROLPLANE)
				node = &m->nodes[i];
		if (!node) {
			rc = cmd_usage_error("bootstrap", "the profile has no control-plane node");
			goto out;
		}
	}
	if (o.endpoint) {
		if (talosapi_parse_endpoint(o.endpoint, &host, &port) < 0) {
			rc =
			    cmd_usage_error("bootstrap", "--endpoint '%s': expected HOST[:PORT]", o.endpoint);
			goto out;
		}
	} else if (!(host = cmd_node_host(node))) {
		rc = cmd_usage_error(
		    "bootstrap", "node '%s' has no static address or hostname; give --endpoint", node->name);
		goto out;
	}

	if (o.secrets)
		r = talos_creds_from_secrets(o.secrets, time(NULL), &creds, &e);
	else
		r = talos_creds_from_talosconfig(o.talosconfig, o.context, &creds, &e);
	if (r < 0) {
		cmd_err(&e);
		rc = EXIT_USAGE;
		goto out;
	}

	{
		struct talosapi_node tn = { .host = host, .port = port, .creds = &creds };
		struct talosapi_retry rt = { .deadline_ms = (long)o.wait_ms, .on_retry = cmd_talos_on_retry };
		const char *out_path = o.kubeconfig ? o.kubeconfig : "kubeconfig";

		if (o.wait_ms == 0)
			rt.attempts = 1;
		cmd_json_str("node", node->name);
		cmd_json_str("host", host);
		cmd_json_int("port", port);
		cmd_say("bootstrap: node %s, Talos API %s:%d\n", node->name, host, port);
		fflush(stdout);
		if (talosapi_bootstrap(&tn, &rt, &res, &e) < 0) {
			cmd_error("bootstrap of node '%s' failed: %s", node->name, e.msg);
			goto out;
		}
		cmd_json_str("etcd",
			     res == TALOSAPI_ALREADY_BOOTSTRAPPED ? "already-bootstrapped" : "bootstrapped");
		if (res == TALOSAPI_ALREADY_BOOTSTRAPPED)
			cmd_say("etcd: already bootstrapped on %s (ALREADY_EXISTS); not bootstrapped again\n",
				node->name);
		else
			cmd_say("etcd: bootstrapped on %s\n", node->name);
		fflush(stdout);
		if (talosapi_kubeconfig(&tn, &rt, &kube, &e) < 0) {
			cmd_error("kubeconfig from node '%s': %s", node->name, e.msg);
			goto out;
		}
		r = talos_config_kubeconfig_server(m, &kube, &e);
		if (r < 0) {
			cmd_err(&e);
			goto out;
		}
		if (write_file_atomic(out_path, kube.data, kube.len, 0600, &e) < 0) {
			cmd_err(&e);
			goto out;
		}
		cmd_json_str("kubeconfig", out_path);
		cmd_json_bool("kubeconfigServerIsVip", r > 0);
		cmd_say("kubeconfig: %s (%zu bytes, mode 0600)%s\n", out_path, kube.len,
			r > 0 ? "; its server is the VIP, which the API server's certificate names" : "");

		if (scrub_config_volumes(m, node, &o, host, port, &creds, &rt) < 0)
			goto out;
	}
	rc = EXIT_OK;
out:
	if (kube.data)
		secure_free(kube.data, kube.cap);
	talos_creds_free(&creds);
	free(host);
	if (m)
		model_free(m);
	profile_opts_free(&o.p);
	return rc;
}

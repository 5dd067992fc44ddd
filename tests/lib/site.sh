# shellcheck shell=bash
# site_one_node FILE INSTALL-PATH CEPH-PATH...: a --site overlay for the wipe tests and
# bench: one control-plane node n1 (hostname n1.local, MAC 52:54:00:12:34:01) installing to
# INSTALL-PATH, each CEPH-PATH a Ceph disk to wipe.
site_one_node() {
	local out=$1 inst=$2 d
	shift 2
	{
		echo "nodes:"
		echo "  - name: n1"
		echo "    role: controlplane"
		echo "    hostname: n1.local"
		echo "    identity: {macs: [\"52:54:00:12:34:01\"]}"
		echo "    installDisk: {path: $inst}"
		echo "    cephDisks:"
		for d in "$@"; do echo "      - {path: $d, wipe: true}"; done
	} >"$out"
}

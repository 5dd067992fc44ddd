# shellcheck shell=bash
# Site overlays (--site FILE) for the wipe tests and bench: one control-plane node n1
# (hostname n1.local, MAC 52:54:00:12:34:01).
#   site_nodes FILE INSTALL-SELECTOR CEPH-ENTRY...   selectors and entries as YAML flow
#                                                    mappings, e.g. "{path: /dev/loop3}"
#   site_one_node FILE INSTALL-PATH CEPH-PATH...     each CEPH-PATH a disk to wipe
site_nodes() {
	local out=$1 inst=$2 c
	shift 2
	{
		echo "nodes:"
		echo "  - name: n1"
		echo "    role: controlplane"
		echo "    hostname: n1.local"
		echo "    identity: {macs: [\"52:54:00:12:34:01\"]}"
		echo "    installDisk: $inst"
		echo "    cephDisks:"
		for c in "$@"; do echo "      - $c"; done
	} >"$out"
}

site_one_node() {
	local out=$1 inst=$2 d entries=()
	shift 2
	for d in "$@"; do entries+=("{path: $d, wipe: true}"); done
	site_nodes "$out" "{path: $inst}" "${entries[@]}"
}

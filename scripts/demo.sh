#!/usr/bin/env bash
# make demo: install the simulated site (profiles/demo.yaml) end to end, without questions.
#
# The simulated machine "demo-1" is a directory tree standing in for / (APPLIANCE_HW_ROOT):
#   sys/block/nvme{0,1,2}n1   sysfs entries with the NVMe serials the demo profile selects
#   dev/nvme{0,1,2}n1         256 MiB image files: the install disk and two Ceph disks that
#                             carry old Ceph (BlueStore in a GPT partition) and LVM2 signatures
#   sys/class/net, sys/class/dmi/id, sys/firmware/efi/efivars
#                             the node's MAC and DMI serial, and UEFI variables with a BootOrder
# plus, on 127.0.0.1: a real smbd as the UNAS (tests/lib/smbd.sh) and nginx as the image mirror
# serving a synthetic Talos image (images/mkimage.sh, tests/lib/nginx.sh).
#
# It shows the plan, runs the install with progress, prints the result, and cleans up (servers
# stopped, temp files removed) even on failure. Sourced (not run), it only defines the demo_*
# functions the integration tests reuse.
#
# Environment: APPLIANCE (binary), DEMO_KEEP=1 keeps the temp dir, DEMO_JSON=1 installs with --json.

DEMO_ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO_NODE=demo-1
DEMO_DISK_MIB=${DEMO_DISK_MIB:-256}
DEMO_CEPH_MIB=${DEMO_CEPH_MIB:-$DEMO_DISK_MIB}
DEMO_IMAGE_MIB=${DEMO_IMAGE_MIB:-160}

# Throw-away secret values (the demo profile reads them with env:).
demo_secrets() {
	export APPLIANCE_DEMO_NAS_USER=appliance-demo
	export APPLIANCE_DEMO_NAS_PASSWORD=demo-nas-pw-$$
	export APPLIANCE_DEMO_GIT_TOKEN=demo-git-token
	export APPLIANCE_DEMO_SOPS_KEY=demo-sops-key
	export APPLIANCE_DEMO_OP_CREDENTIALS='{"demo":"credentials"}'
	export APPLIANCE_DEMO_OP_TOKEN=demo-op-token
	export APPLIANCE_DEMO_S3_ACCESS_KEY=demo-s3-access
	export APPLIANCE_DEMO_S3_SECRET_KEY=demo-s3-secret
}

# demo_sysdisk ROOT NAME SERIAL MODEL [MIB]: a sysfs entry and a sparse image file as /dev/NAME.
demo_sysdisk() {
	local root=$1 name=$2 serial=$3 model=$4 mib=${5:-$DEMO_DISK_MIB} s
	s=$root/sys/block/$name
	mkdir -p "$s/device" "$s/queue" "$root/dev"
	truncate -s "${mib}M" "$root/dev/$name"
	echo $((mib * 2048)) >"$s/size"
	echo "$serial" >"$s/device/serial"
	echo "$model" >"$s/device/model"
	echo 512 >"$s/queue/logical_block_size"
	echo 512 >"$s/queue/physical_block_size"
	echo 0 >"$s/queue/rotational"
	echo 2199023255040 >"$s/queue/discard_max_bytes" # NVMe: discard (a hole in the image file)
	echo 0 >"$s/ro"
	echo 0 >"$s/removable"
}

# Old Ceph signatures: a GPT partition holding a BlueStore label.
demo_old_bluestore() {
	local f=$1
	sgdisk -o -n 1:2048:+16M -t 1:8300 "$f" >/dev/null
	printf 'bluestore block device\n%s\n' "0d6f6d8e-4d4e-4a36-9b57-5f6d2c0f4a11" |
		dd of="$f" bs=512 seek=2048 conv=notrunc status=none
}

# Old LVM2 metadata: a physical volume (through a temporary loop device when this
# machine can make one, else LVM2's label written as pvcreate would).
demo_old_lvm() {
	local f=$1 dev
	if dev=$(losetup -f --show "$f" 2>/dev/null); then
		pvcreate -q -y -ff --config 'devices{obtain_device_list_from_udev=0 use_devicesfile=0} activation{udev_sync=0 udev_rules=0}' \
			"$dev" >/dev/null 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
		losetup -d "$dev"
	fi
}

# demo_machine ROOT: the simulated node demo-1.
demo_machine() {
	local root=$1 ev=$1/sys/firmware/efi/efivars g=8be4df61-93ca-11d2-aa0d-00e098032b8c
	demo_sysdisk "$root" nvme0n1 APPL-INSTALL-1 "Demo NVMe install"
	demo_sysdisk "$root" nvme1n1 APPL-CEPH-1A "Demo NVMe ceph" "$DEMO_CEPH_MIB"
	demo_sysdisk "$root" nvme2n1 APPL-CEPH-1B "Demo NVMe ceph" "$DEMO_CEPH_MIB"
	demo_old_bluestore "$root/dev/nvme1n1"
	demo_old_lvm "$root/dev/nvme2n1"
	echo "old signatures on the Ceph disks:"
	wipefs "$root/dev/nvme1n1" "$root/dev/nvme2n1" | sed 's/^/  /'
	mkdir -p "$root/sys/class/net/eth0" "$root/sys/class/net/lo" "$root/sys/class/dmi/id" "$ev"
	echo 52:54:00:12:34:01 >"$root/sys/class/net/eth0/address"
	echo 00:00:00:00:00:00 >"$root/sys/class/net/lo/address"
	echo APPL-DEMO-1 >"$root/sys/class/dmi/id/product_serial"
	echo 5a1d3c1e-0000-4000-8000-000000000001 >"$root/sys/class/dmi/id/product_uuid"
	# UEFI: a PXE entry (Boot0000) first, then a USB stick (Boot0001)
	/usr/bin/python3 - "$ev" "$g" <<'EOF'
import struct, sys
ev, g = sys.argv[1], sys.argv[2]
def opt(desc):
    end = b"\x7f\xff\x04\x00"
    d = desc.encode("utf-16-le") + b"\0\0"
    return struct.pack("<IH", 1, len(end)) + d + end
for name, data in (("Boot0000", opt("UEFI PXEv4")), ("Boot0001", opt("UEFI USB installer")),
                   ("BootOrder", struct.pack("<HH", 0, 1))):
    open(f"{ev}/{name}-{g}", "wb").write(struct.pack("<I", 7) + data)
EOF
}

# demo_nas: smbd with share k8s holding pics (a few photos) and immich (empty library).
demo_nas() {
	. "$DEMO_ROOT_DIR/tests/lib/smbd.sh"
	smbd_init demo-smbd
	mkdir -p "$T/nas/k8s/pics/2024" "$T/nas/k8s/immich"
	for i in 1 2 3; do head -c 4096 /dev/urandom >"$T/nas/k8s/pics/2024/IMG_000$i.jpg"; done
	head -c 4096 /dev/urandom >"$T/nas/k8s/pics/IMG_0000.jpg"
	smbd_user "$APPLIANCE_DEMO_NAS_USER" "$APPLIANCE_DEMO_NAS_PASSWORD" >/dev/null 2>&1 # Samba's own chatter
	chown -R "$APPLIANCE_DEMO_NAS_USER" "$T/nas/k8s"
	chmod -R u+rwX "$T/nas/k8s"
	smbd_share k8s "$T/nas/k8s"
	smbd_start
}

# demo_image DIR: the synthetic Talos image, zstd-compressed, in DIR/metal.raw.zst.
demo_image() {
	local dir=$1
	mkdir -p "$dir"
	# DEMO_IMAGE_ARGS: other mkimage.sh options (e.g. "--exact --fill 1": Talos v1.10.5's real table)
	# shellcheck disable=SC2086
	bash "$DEMO_ROOT_DIR/images/mkimage.sh" ${DEMO_IMAGE_ARGS:---size-mib $DEMO_IMAGE_MIB --fill 20} --seed 7 \
		"$dir/metal.raw" >/dev/null
	zstd -q -3 -f --rm "$dir/metal.raw" -o "$dir/metal.raw.zst"
}

# demo_mirror DIR KEY FILE: serve FILE as DIR/image/KEY through nginx on 127.0.0.1.
# Sets DEMO_MIRROR to the base URL, or leaves it empty when no nginx helper exists.
demo_mirror() {
	local dir=$1 key=$2 file=$3
	DEMO_MIRROR=
	mkdir -p "$dir/image/$(dirname "$key")"
	ln -f "$file" "$dir/image/$key" 2>/dev/null || cp "$file" "$dir/image/$key"
	if [ -f "$DEMO_ROOT_DIR/tests/lib/nginx.sh" ]; then
		. "$DEMO_ROOT_DIR/tests/lib/nginx.sh"
		nginx_start "$dir"
		DEMO_MIRROR=$NGINX_HTTP/
	fi
}

# demo_setup: everything above; sets DEMO_HW (machine root), DEMO_STATE, DEMO_ARGS (the
# common plan/install arguments), DEMO_PINS and DEMO_SECRETS (the site's Talos bundle).
demo_setup() {
	local sid key sha
	demo_secrets
	DEMO_HW=$T/machine
	DEMO_STATE=$T/state
	demo_machine "$DEMO_HW"
	demo_nas
	sid=$("$APPLIANCE" talos schematic "$DEMO_ROOT_DIR/profiles/demo.yaml" --id 2>/dev/null) ||
		sid=$("$APPLIANCE" plan "$DEMO_ROOT_DIR/profiles/demo.yaml" --node "$DEMO_NODE" --hw-root "$DEMO_HW" \
			--state-dir "$T/probe-state" --set "nas.port=$SMBD_PORT" --set "talos.image.pins=$T/none.yaml" --json 2>&1 |
			sed -n "s|.*image '\\([0-9a-f]\\{64\\}\\)/.*|\\1|p" | sed -n 1p)
	[ -n "$sid" ] || { echo "demo: cannot find the schematic id" >&2; return 1; }
	key=$sid/v1.10.5/metal-amd64.raw.zst
	demo_image "$T/img"
	sha=$(sha256sum "$T/img/metal.raw.zst" | cut -d' ' -f1)
	DEMO_PINS=$T/pins.yaml
	printf 'pins:\n  %s: %s\n' "$key" "$sha" >"$DEMO_PINS"
	demo_mirror "$T/www" "$key" "$T/img/metal.raw.zst"
	# the site's one cluster identity, made once (README: the main job) and recorded
	DEMO_SECRETS=$T/talos-secrets.yaml
	DEMO_FP=$("$APPLIANCE" talos secrets "$DEMO_ROOT_DIR/profiles/demo.yaml" --out "$DEMO_SECRETS" |
		sed -n 's/^OS CA fingerprint: //p')
	[ -n "$DEMO_FP" ] || { echo "demo: cannot create the Talos secrets bundle" >&2; return 1; }
	# this run's facts (the NAS's port, the bundle's fingerprint, the mirror) in a site
	# overlay, as a real site keeps its own: the commands the story prints stay short
	DEMO_SITE=$T/local.yaml
	{
		printf 'nas:\n  port: %s\n' "$SMBD_PORT"
		printf 'talos:\n  caFingerprint: "%s"\n' "$DEMO_FP"
		[ -z "$DEMO_MIRROR" ] || printf '  image:\n    mirror: "%s"\n' "$DEMO_MIRROR"
	} >"$DEMO_SITE"
	DEMO_ARGS=("$DEMO_ROOT_DIR/profiles/demo.yaml" --site "$DEMO_SITE" --node "$DEMO_NODE" --hw-root "$DEMO_HW"
		--state-dir "$DEMO_STATE" --set "talos.image.pins=$DEMO_PINS"
		--set "gitops.out=$T/home-kubernetes" --secrets "$DEMO_SECRETS")
	if [ -z "$DEMO_MIRROR" ]; then
		# no mirror helper in this tree: seed the image cache instead
		mkdir -p "$DEMO_STATE/cache"
		cp "$T/img/metal.raw.zst" "$DEMO_STATE/cache/$(echo "$key" | tr / -)"
	fi
}

# demo_setup_tap: demo_setup in a TAP test (tests/lib/tap.sh): a private copy of the binary
# (the tree's may be relinked while a long test runs), then the site; on failure the setup's
# log and exit 1.
demo_setup_tap() {
	cp "$APPLIANCE" "$T/appliance" && APPLIANCE=$T/appliance
	demo_setup >"$T/setup.log" 2>&1 || {
		not_ok "demo site set up"
		sed 's/^/#   /' "$T/setup.log" | tail -20
		exit 1
	}
}

# sha256 of the three disks, one line
demo_disk_hashes() {
	sha256sum "$DEMO_HW"/dev/nvme{0,1,2}n1 | cut -d' ' -f1 | tr '\n' ' '
}

demo_result() {
	local d
	echo
	echo "=== install disk /dev/nvme0n1 (machine/dev/nvme0n1):"
	sgdisk -p "$DEMO_HW/dev/nvme0n1" | sed -n '/^Number/,$p'
	echo
	echo "=== Ceph disks (wipefs lists every signature; none on a clean disk):"
	for d in nvme1n1 nvme2n1; do
		if out=$(wipefs "$DEMO_HW/dev/$d" 2>&1) && [ -n "$out" ]; then
			echo "  /dev/$d: NOT clean:"
			echo "$out" | sed 's/^/    /'
		else
			echo "  /dev/$d: clean"
		fi
	done
	echo
	echo "=== NAS checks:"
	"$APPLIANCE" nas check "$DEMO_ROOT_DIR/profiles/demo.yaml" --set "nas.port=$SMBD_PORT" --json |
		/usr/bin/python3 -c '
import json, sys
rows = json.load(sys.stdin).get("checks", [])
for r in rows:
    print("  %-5s %-14s %s" % (r.get("status", "?"), r.get("id", "?"), r.get("title", "")))' 2>/dev/null ||
		echo "  (see preflight-nas above)"
	echo
	echo "=== firmware boot order (efivars; the old one is in state/bootorder.previous):"
	/usr/bin/python3 -c '
import struct, sys
ev, g = sys.argv[1], "8be4df61-93ca-11d2-aa0d-00e098032b8c"
order = open(f"{ev}/BootOrder-{g}", "rb").read()[4:]
for (n,) in struct.iter_unpack("<H", order):
    data = open(f"{ev}/Boot{n:04X}-{g}", "rb").read()[10:]
    print("  Boot%04X  %s" % (n, data.decode("utf-16-le", "replace").split("\0")[0]))
' "$DEMO_HW/sys/firmware/efi/efivars"
	echo
	echo "=== rendered GitOps tree (home-kubernetes): files per folder"
	(cd "$T/home-kubernetes" 2>/dev/null && find . -mindepth 3 -maxdepth 3 -type d | sort |
		while read -r d; do echo "  $(find "$d" -type f | wc -l) files in ${d#./}"; done) || echo "  (none)"
}

demo_main() {
	set -uo pipefail
	export APPLIANCE=${APPLIANCE:-$DEMO_ROOT_DIR/installer/appliance}
	local cols=${COLUMNS:-}
	. "$DEMO_ROOT_DIR/tests/lib/tap.sh"
	# the story is for this terminal (80 columns unless COLUMNS says more), not the tests' width
	if [ -n "$cols" ]; then export COLUMNS=$cols; else unset COLUMNS; fi
	[ "${DEMO_KEEP:-}" = 1 ] && at_exit "cp -a $T ${T}.kept && echo kept ${T}.kept >&2"
	echo "=== setting up the simulated site in $T"
	demo_setup >"$T/setup.log" 2>&1 || {
		cat "$T/setup.log" >&2
		echo "demo: setup failed" >&2
		exit 1
	}
	grep -A8 '^old signatures' "$T/setup.log"
	# the story with paths relative to the site's folder: shorter lines
	cd "$T" || exit 1
	ln -sf "$DEMO_ROOT_DIR/profiles/demo.yaml" demo.yaml
	local args=() a
	for a in "${DEMO_ARGS[@]}"; do
		a=${a//$T\//}
		[ "$a" = "$DEMO_ROOT_DIR/profiles/demo.yaml" ] && a=demo.yaml
		args+=("$a")
	done
	echo
	echo "=== appliance plan ${args[*]:0:3} ..."
	"$APPLIANCE" plan "${args[@]}"
	echo
	echo "=== appliance install ... --apply --unattended"
	local rc=0 json=()
	[ "${DEMO_JSON:-}" = 1 ] && json=(--json)
	"$APPLIANCE" install "${args[@]}" --apply --unattended "${json[@]}" || rc=$?
	demo_result
	echo
	if [ $rc -eq 0 ]; then
		echo "demo: install complete"
	else
		echo "demo: install exited $rc (see above)"
	fi
	cat <<'EOT'

next steps for a real site (docs/getting-started.md):
  appliance init --name NAME --nodes 3 --out site.yaml   # a starter profile
  appliance identify --name NODE                         # on each machine
  appliance validate site.yaml                           # until it says valid
  appliance talos secrets site.yaml --out talos-secrets.yaml
  appliance plan site.yaml --auto --secrets talos-secrets.yaml
EOT
	exit $rc
}

# --bench: time the install by step (--json step-end events) and a re-run of the finished install.
demo_bench() {
	set -uo pipefail
	export APPLIANCE=${APPLIANCE:-$DEMO_ROOT_DIR/installer/appliance}
	. "$DEMO_ROOT_DIR/tests/lib/tap.sh"
	demo_setup >/dev/null || { echo "bench-install: setup failed" >&2; exit 1; }
	local t0 t1 t2 rc
	t0=$(date +%s.%N)
	"$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended --json >"$T/run1.json"
	rc=$?
	t1=$(date +%s.%N)
	"$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended --json >"$T/run2.json"
	t2=$(date +%s.%N)
	echo "bench-install: demo install (exit $rc), ${DEMO_DISK_MIB} MiB disks, ${DEMO_IMAGE_MIB} MiB synthetic image"
	/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    ev = json.loads(line)
    if ev.get("event") == "step-end":
        print("  %-18s %8.3f s  %s" % (ev["step"], ev["seconds"], ev["status"]))
' "$T/run1.json"
	awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
		printf "  %-18s %8.3f s\n", "total", b - a
		printf "bench-install: re-run of the finished install: %.3f s (target < 2 s): %s\n", c - b, (c - b < 2) ? "ok" : "OVER"
	}'
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	--bench) demo_bench ;;
	*) demo_main "$@" ;;
	esac
fi

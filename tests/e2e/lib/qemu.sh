# shellcheck shell=bash disable=SC2034
# QEMU helpers for the boot-media end-to-end tests (source after tap.sh).
#
#   e2e_require_qemu          skip loudly (exit 77) when QEMU or its firmware is missing
#   e2e_assets                build the binary, the live system and the ISO (make iso-assets;
#                             E2E_NO_BUILD=1 skips the build);
#                             sets LIVE_DIR (build/iso/live), ISO (build/iso/appliance.iso),
#                             NETBOOT_DIR (build/iso/netboot)
#   e2e_node_disks NODE N     three raw disks for demo node N in $T/NODE/: install.raw
#                             (2 GiB sparse, blank), ceph-a.raw (old ext4), ceph-b.raw (an old
#                             GPT); sets DISK_ARGS (-drive/-device nvme with the
#                             serials profiles/demo.yaml names). The install disk has
#                             discard=unmap (a deallocated range reads back as zeros, as
#                             on NVMe drives that report DLFEAT); the Ceph disks keep
#                             QEMU's default, which accepts a discard and changes nothing,
#                             like many SSDs: the wipe must still leave them clean
#   e2e_site_overlay FILE [PINS]  site.yaml pointing the guest at the host's servers
#                             through guestfwd (10.0.2.100), and the pins file PINS
#   e2e_netdev [user opts]    prints -netdev user,restrict=on,... with the guestfwds
#                             (nginx 8080, smbd 445, the PXE payload server 8069 when
#                             NGINX_PORT, SMBD_PORT, PAYLOAD_PORT are set)
#   e2e_qemu NAME SECS ARGS...  run QEMU (TCG, 1 GiB, 2 vCPUs, serial to $T/NAME.serial);
#                             returns QEMU's exit code (124 on timeout); writes the wall
#                             time in seconds to $T/NAME.secs
#   e2e_result NAME           the "APPLIANCE RESULT:" line of the serial log
#   e2e_ovmf_args NAME        pflash args with a private copy of the OVMF variables
E2E_GUEST_HOST=10.0.2.100

e2e_require_qemu() {
	command -v qemu-system-x86_64 >/dev/null 2>&1 ||
		skip_all "!!! qemu-system-x86_64 not installed: the boot-media e2e test did NOT run (make deps)"
	[ -r /usr/share/OVMF/OVMF_CODE_4M.fd ] ||
		skip_all "!!! OVMF not installed: the boot-media e2e test did NOT run (make deps)"
	[ -r /usr/lib/ipxe/qemu/efi-virtio.rom ] || [ -r /usr/share/qemu/pxe-virtio.rom ] ||
		skip_all "!!! ipxe-qemu not installed: the boot-media e2e test did NOT run (make deps)"
}

e2e_assets() {
	mkdir -p "$ROOT/build"
	# one build at a time when several e2e scripts run at once;
	# E2E_NO_BUILD=1 uses what build/iso already holds (iterating on a test)
	if [ "${E2E_NO_BUILD:-0}" != 1 ] && ! flock "$ROOT/build/.iso-assets.lock" make -C "$ROOT" -s iso-assets >"$T/make-iso.log" 2>&1; then
		not_ok "make iso-assets"
		tail -20 "$T/make-iso.log" | sed 's/^/#   /'
		exit 1
	fi
	LIVE_DIR=$ROOT/build/iso/live
	ISO=$ROOT/build/iso/appliance.iso
	NETBOOT_DIR=$ROOT/build/iso/netboot
	MKINITRAMFS=$ROOT/build/iso/mkinitramfs
}

e2e_node_disks() {
	local node=$1 n=$2 d=$T/$1
	mkdir -p "$d"
	truncate -s "${E2E_INSTALL_SIZE:-2G}" "$d/install.raw"
	truncate -s 1G "$d/ceph-a.raw" "$d/ceph-b.raw"
	mkfs.ext4 -q -F -L old-data "$d/ceph-a.raw" >/dev/null
	sgdisk -o -n 1:2048:0 -t 1:8300 -c 1:old-osd "$d/ceph-b.raw" >/dev/null
	# "clean after the install" only means something if they were not clean before
	for c in ceph-a ceph-b; do
		[ -n "$(wipefs "$d/$c.raw" 2>/dev/null)" ] || {
			echo "e2e: $d/$c.raw carries no old signature" >&2
			return 1
		}
	done
	DISK_ARGS=(
		-drive "file=$d/install.raw,format=raw,if=none,discard=unmap,id=${node}i"
		-device "nvme,drive=${node}i,serial=APPL-INSTALL-$n"
		-drive "file=$d/ceph-a.raw,format=raw,if=none,id=${node}a"
		-device "nvme,drive=${node}a,serial=APPL-CEPH-$n-A"
		-drive "file=$d/ceph-b.raw,format=raw,if=none,id=${node}b"
		-device "nvme,drive=${node}b,serial=APPL-CEPH-$n-B"
	)
}

e2e_site_overlay() {
	{
		echo "# the guest reaches the host's test servers through QEMU guestfwd"
		echo "talos:"
		echo "  image:"
		echo "    mirror: http://$E2E_GUEST_HOST:8080/"
		[ -n "${2:-}" ] && echo "    pins: $2"
		echo "nas:"
		echo "  address: $E2E_GUEST_HOST"
		echo "  port: 445"
	} >"$1"
}

e2e_netdev() {
	local s="user,id=n0,restrict=on${1:-}"
	# one forwarder process per guest connection, to 127.0.0.1 only (lib/fwd.py)
	local fwd="/usr/bin/python3 $ROOT/tests/e2e/lib/fwd.py"
	[ -n "${NGINX_PORT:-}" ] && s="$s,guestfwd=tcp:$E2E_GUEST_HOST:8080-cmd:$fwd $NGINX_PORT"
	[ -n "${SMBD_PORT:-}" ] && s="$s,guestfwd=tcp:$E2E_GUEST_HOST:445-cmd:$fwd $SMBD_PORT"
	[ -n "${PAYLOAD_PORT:-}" ] && s="$s,guestfwd=tcp:$E2E_GUEST_HOST:8069-cmd:$fwd $PAYLOAD_PORT"
	echo "$s"
}

e2e_ovmf_args() {
	cp /usr/share/OVMF/OVMF_VARS_4M.fd "$T/$1.vars"
	OVMF_ARGS=(
		-drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
		-drive "if=pflash,format=raw,file=$T/$1.vars"
	)
}

e2e_qemu() {
	local name=$1 secs=$2 start end rc
	shift 2
	start=$(date +%s)
	timeout --kill-after=5 "$secs" qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -machine q35 \
		-nographic -no-reboot -monitor none -display none -serial "file:$T/$name.serial" \
		"$@" >"$T/$name.qemu.log" 2>&1 </dev/null
	rc=$?
	end=$(date +%s)
	echo $((end - start)) >"$T/$name.secs"
	diag "$name: QEMU exit $rc after $((end - start)) s"
	return $rc
}

e2e_result() {
	grep -a 'APPLIANCE RESULT:' "$T/$1.serial" | tail -1 | tr -d '\r'
}

# e2e_show NAME: the last lines of a run's serial log as diagnostics
e2e_show() {
	tail -40 "$T/$1.serial" | tr -d '\r' | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g; s/^/#   /'
}

# shellcheck shell=bash disable=SC2034
# The demo site for the boot-media e2e tests (source after tap.sh and qemu.sh).
#
#   e2e_site_setup   real smbd (the NAS) and nginx (the image mirror serving a synthetic
#                    Talos image, images/mkimage.sh) on 127.0.0.1, and the site as the guest
#                    sees it in $T/site/: profile.yaml (profiles/demo.yaml), site.yaml (the
#                    host's servers at 10.0.2.100 through guestfwd, pins beside the profile),
#                    pins.yaml, secrets.env (the demo's throw-away secret values),
#                    talos-secrets.yaml (the site's Talos secrets bundle).
#                    Sets SMBD_PORT, NGINX_PORT, E2E_IMAGE (the uncompressed image).
#   e2e_check_install NAME NODE DIR   host-side checks of a finished run: serial summary,
#                    Talos image bytes on DIR/install.raw, the metal-iso partition with the
#                    node's config, the Ceph disks DIR/ceph-{a,b}.raw clean
#   e2e_begin        e2e_require_qemu + e2e_assets + e2e_site_setup, one ok line
#   e2e_stick ISO BYTES   ISO written to a BYTES-sized $T/stick.img the documented way
#                    (appliance image write: verified, backup GPT moved to the end); sets S
#                    (mtools' IMG@@OFFSET for its writable FAT partition labelled APPLIANCE,
#                    exit 1 when there is none) and writes $T/grub.cfg, the stick's boot
#                    settings for an unattended install with no menu delay
# scripts/demo.sh provides the servers and the image (demo_secrets, demo_nas, demo_image,
# demo_mirror).
. "$ROOT/scripts/demo.sh"

e2e_site_setup() {
	local sid key sha fp
	demo_secrets
	demo_nas >"$T/nas.log" 2>&1 || { cat "$T/nas.log"; return 1; }
	sid=$("$APPLIANCE" talos schematic "$ROOT/profiles/demo.yaml" --id) || return 1
	key=$sid/v1.10.5/metal-amd64.raw.zst
	DEMO_IMAGE_MIB=${E2E_IMAGE_MIB:-160} demo_image "$T/img"
	sha=$(sha256sum "$T/img/metal.raw.zst" | cut -d' ' -f1)
	zstd -q -d -c "$T/img/metal.raw.zst" >"$T/img/metal.raw"
	E2E_IMAGE=$T/img/metal.raw
	demo_mirror "$T/www" "$key" "$T/img/metal.raw.zst" >"$T/nginx.log" 2>&1
	[ -n "$DEMO_MIRROR" ] || { echo "no nginx mirror"; return 1; }
	NGINX_PORT=${NGINX_HTTP##*:}
	mkdir -p "$T/site"
	cp "$ROOT/profiles/demo.yaml" "$T/site/profile.yaml"
	printf 'pins:\n  %s: %s\n' "$key" "$sha" >"$T/site/pins.yaml"
	e2e_site_overlay "$T/site/site.yaml" pins.yaml
	env | grep '^APPLIANCE_DEMO_' | sort | while IFS='=' read -r k v; do printf '%s=%s\n' "$k" "$v"; done >"$T/site/secrets.env"
	chmod 0600 "$T/site/secrets.env"
	# One secrets bundle for the site, made on the host (as for several nodes; it also
	# spares each guest a minute of key generation under TCG).
	"$APPLIANCE" talos secrets "$T/site/profile.yaml" --site "$T/site/site.yaml" \
		--out "$T/site/talos-secrets.yaml" >"$T/secrets.log" 2>&1 || { cat "$T/secrets.log"; return 1; }
	# a multi-node site names its cluster identity: every node checks the bundle against it
	fp=$(grep -o '[0-9a-f]\{64\}' "$T/secrets.log" | head -1)
	[ -n "$fp" ] || { echo "no CA fingerprint in: $(cat "$T/secrets.log")"; return 1; }
	sed -i "s/^talos:\$/talos:\n  caFingerprint: $fp/" "$T/site/site.yaml"
	"$APPLIANCE" validate "$T/site/profile.yaml" --site "$T/site/site.yaml" >"$T/site.validate" 2>&1 ||
		{ cat "$T/site.validate"; return 1; }
}

# e2e_part_start FILE LABEL: start sector of the GPT partition named LABEL
e2e_part_start() {
	sgdisk -p "$1" 2>/dev/null | awk -v l="$2" '$NF == l {print $2}' | head -1
}

e2e_check_install() {
	local name=$1 node=$2 d=$3 res start n
	res=$(e2e_result "$name")
	if [[ "$res" == *"APPLIANCE RESULT: ok action=install exit=0"* ]]; then
		ok "$name: serial summary: $res"
	else
		not_ok "$name: serial summary says ok (got '${res:-nothing}')"
		e2e_show "$name"
		return 1
	fi
	# Talos image bytes: every sector of the image between the primary and the backup
	# GPT (the install relocates the backup header and adds metal-iso behind META)
	n=$(stat -c %s "$E2E_IMAGE")
	check "$name: Talos image bytes on the install disk" \
		cmp -i 1048576 -n $((n - 2 * 1048576)) "$E2E_IMAGE" "$d/install.raw"
	start=$(e2e_part_start "$d/install.raw" metal-iso)
	if [ -n "$start" ]; then
		ok "$name: install disk has a metal-iso partition (sector $start)"
		dd if="$d/install.raw" of="$T/$name.metal-iso" bs=512 skip="$start" count=2048 status=none
		rm -rf "$T/$name.cfg"
		mkdir -p "$T/$name.cfg"
		xorriso -osirrox on -indev "$T/$name.metal-iso" -extract / "$T/$name.cfg" >/dev/null 2>&1
		expect_out "$name: metal-iso holds $node's machine config" "hostname: $node\\.local" \
			cat "$T/$name.cfg/config.yaml"
	else
		not_ok "$name: install disk has a metal-iso partition"
		sgdisk -p "$d/install.raw" 2>&1 | sed 's/^/#   /'
	fi
	for c in ceph-a ceph-b; do
		if out=$(wipefs "$d/$c.raw" 2>&1) && [ -z "$out" ]; then
			ok "$name: Ceph disk $c is clean (no signature left)"
		else
			not_ok "$name: Ceph disk $c is clean"
			echo "$out" | sed 's/^/#   /'
		fi
	done
}

# e2e_begin: the start every install e2e test shares: QEMU present (else a loud
# skip), the live system built, the demo site's servers up (one ok line; on failure
# the setup log and exit 1).
e2e_begin() {
	e2e_require_qemu
	e2e_assets
	e2e_site_setup >"$T/setup.log" 2>&1 || {
		not_ok "demo site set up"
		tail -20 "$T/setup.log" | sed 's/^/#   /'
		exit 1
	}
	ok "demo site: smbd on $SMBD_PORT, nginx on $NGINX_PORT, synthetic Talos image"
}

e2e_stick() {
	local off="" start
	truncate -s "$2" "$T/stick.img"
	check "appliance image write puts the ISO on the stick" "$APPLIANCE" image write "$1" "$T/stick.img" --apply
	while read -r _ start; do
		[ "$(blkid -p -O $((start * 512)) -s LABEL -o value "$T/stick.img" 2>/dev/null)" = APPLIANCE ] &&
			off=$((start * 512))
	done < <(partx -g -o NR,START "$T/stick.img" 2>/dev/null)
	if [ -n "$off" ]; then ok "the ISO has a writable FAT partition labelled APPLIANCE (offset $off)"; else
		not_ok "the ISO has a writable FAT partition labelled APPLIANCE"
		partx -s "$T/stick.img" | sed 's/^/#   /'
		exit 1
	fi
	S="$T/stick.img@@$off"
	printf 'set default=1\nset timeout=0\nset appliance_console="console=tty0 console=ttyS0,115200n8"\n' >"$T/grub.cfg"
}

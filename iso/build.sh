#!/bin/bash
# Build the live system and its hybrid ISO from Debian packages already on
# this machine (packages.txt): the Debian kernel, an initramfs written by
# iso/mkinitramfs (libarchive cpio newc) with busybox-static, the appliance
# binary and its shared libraries, the kernel modules in iso/modules.list
# (+ their dependencies from modules.dep), the firmware named in
# firmware/live.list, and iso/init.
#
# usage: iso/build.sh [--out DIR] [--appliance BIN] [--mkinitramfs BIN]
#                     [--profile FILE|DIR] [--cmdline "ARGS"] [--iso FILE]
#                     [--compress gzip|zstd|xz] [--no-iso] [--firmware DIR]
# DIR: what iso/firmware.sh unpacked (default build/firmware); entries of
# firmware/live.list not found there come from this machine's /lib/firmware.
# --image FILE (repeatable): a pinned Talos image, named as the install's image cache
# names it (<schematic>-<version>-metal-amd64.raw.zst), copied into the stick's
# appliance/images/ (the writable partition is sized for it): the live system
# installs from it before any network (install --image-dir).
# Environment: GRUB_TIMEOUT (menu seconds, 5), GRUB_DEFAULT (menu entry, 0).
# Output (DIR defaults to build/iso):
#   DIR/live/vmlinuz, DIR/live/initrd.img   kernel + initramfs (also for PXE)
#   DIR/appliance.iso                       hybrid ISO: CD and USB stick, BIOS and UEFI,
#                                           with a writable FAT partition labelled APPLIANCE
#   DIR/netboot/                            GRUB network boot dir (UEFI PXE without iPXE)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/iso
APP=$ROOT/installer/appliance
MKI=""
PROFILE=""
CMDLINE=""
ISO=""
COMPRESS=gzip
MAKE_ISO=1
FWDIR=$ROOT/build/firmware
IMAGES=()
STICK_MB=${STICK_MB:-32}

die() { echo "iso/build.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=$2; shift ;;
	--appliance) APP=$2; shift ;;
	--mkinitramfs) MKI=$2; shift ;;
	--profile) PROFILE=$2; shift ;;
	--cmdline) CMDLINE=$2; shift ;;
	--iso) ISO=$2; shift ;;
	--compress) COMPRESS=$2; shift ;;
	--no-iso) MAKE_ISO=0 ;;
	--firmware) FWDIR=$2; shift ;;
	--image) [ -f "$2" ] || die "no image file '$2'"; IMAGES+=("$(realpath "$2")"); shift ;;
	-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "iso/build.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
OUT=$(realpath -m "$OUT")
MKI=${MKI:-$OUT/mkinitramfs}
ISO=${ISO:-$OUT/appliance.iso}
[ -x "$APP" ] || die "appliance binary '$APP' not found (run 'make' first)"
[ -x "$MKI" ] || die "mkinitramfs '$MKI' not found (built by 'make iso')"

# The newest Debian kernel that has its modules installed.
KVER=""
for k in $(ls /boot/vmlinuz-* 2>/dev/null | sed 's|/boot/vmlinuz-||' | sort -V); do
	[ -f "/lib/modules/$k/modules.dep" ] && KVER=$k
done
[ -n "$KVER" ] || die "no /boot/vmlinuz-* with /lib/modules/<version>/modules.dep (install linux-image-amd64)"
MODDIR=/lib/modules/$KVER
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && "$BUSYBOX" --list | grep -x udhcpc >/dev/null || die "busybox-static with udhcpc not found at $BUSYBOX"
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is dynamically linked: install busybox-static"

W=$OUT/work
rm -rf "$W"
mkdir -p "$W" "$OUT/live"
LIST=$W/initramfs.list
: >"$LIST"
declare -A SEEN=()
add_dir() { # add_dir PATH: PATH and its parents
	local d=$1 p=""
	local IFS=/
	for part in $d; do
		[ -z "$part" ] && continue
		p="$p/$part"
		[ -n "${SEEN[$p]:-}" ] && continue
		SEEN[$p]=1
		echo "dir $p 0755" >>"$LIST"
	done
}
add_file() { # add_file DEST SRC MODE
	[ -n "${SEEN[$1]:-}" ] && return 0
	add_dir "$(dirname "$1")"
	SEEN[$1]=1
	echo "file $1 $2 $3" >>"$LIST"
}
add_link() { # add_link DEST TARGET
	[ -n "${SEEN[$1]:-}" ] && return 0
	add_dir "$(dirname "$1")"
	SEEN[$1]=1
	echo "slink $1 $2" >>"$LIST"
}
# A shared object at its own path (and the path ldd printed, if that is a link).
# ICU's 31 MB data library (pulled in by libarchive -> libxml2, used only for
# XML charset conversion that the installer never does) is replaced by a stub
# exporting the same symbol, so the initramfs stays small; ICU reports
# "invalid format" if anything ever asks it for data.
add_lib() {
	local p=$1 real src sym
	real=$(readlink -f "$p")
	src=$real
	case "$real" in
	*/libicudata.so.*)
		sym=$(nm -D --defined-only "$real" | awk '$3 ~ /^icudt[0-9]+_dat$/ {print $3}')
		if [ -n "$sym" ]; then
			echo "const unsigned char ${sym}[64] __attribute__((aligned(16))) = { 0 };" >"$W/icustub.c"
			${CC:-cc} -shared -fPIC -Wl,-soname,"$(objdump -p "$real" | awk '/SONAME/ {print $2}')" \
				-o "$W/$(basename "$real")" "$W/icustub.c"
			src=$W/$(basename "$real")
		fi
		;;
	esac
	add_file "$real" "$src" 0755
	[ "$p" != "$real" ] && add_link "$p" "$real"
	return 0
}

# ---- base layout ---------------------------------------------------------
for d in /dev /proc /sys /run /tmp /mnt/stick /mnt/media /root /etc /var/log /lib64; do add_dir "$d"; done
echo "nod /dev/console 0600 c 5 1" >>"$LIST"
echo "nod /dev/null 0666 c 1 3" >>"$LIST"
echo "nod /dev/ttyS0 0600 c 4 64" >>"$LIST"
add_file /bin/busybox "$BUSYBOX" 0755
for a in $("$BUSYBOX" --list-full); do
	case "$a" in bin/busybox) continue ;; esac
	add_link "/$a" /bin/busybox
done
add_file /init "$ROOT/iso/init" 0755
add_file /etc/udhcpc.script "$ROOT/iso/udhcpc.script" 0755
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$W/passwd"
printf 'root:x:0:\n' >"$W/group"
printf '127.0.0.1 localhost\n' >"$W/hosts"
printf 'hosts: files dns\n' >"$W/nsswitch.conf"
printf '[global]\n\tclient min protocol = SMB2\n' >"$W/smb.conf"
for f in passwd group hosts nsswitch.conf; do add_file /etc/$f "$W/$f" 0644; done
add_file /etc/samba/smb.conf "$W/smb.conf" 0644
[ -f /etc/ssl/certs/ca-certificates.crt ] && add_file /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt 0644

# ---- the appliance, mdadm, lvm and their shared libraries ---------------
add_libs_of() { # add_libs_of FILE: every library ldd lists for FILE
	ldd "$1" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}' | sort -u >"$W/libs"
	while read -r l; do add_lib "$l"; done <"$W/libs"
}
add_bin() { # add_bin DEST SRC: a program and every library ldd lists for it
	add_file "$1" "$2" 0755
	add_libs_of "$2"
}
add_bin /usr/bin/appliance "$APP"
# libsmbclient is dlopen()ed on first use (installer/lib/nas/smbload.c), so ldd does not list it
smb=$(PATH=$PATH:/sbin:/usr/sbin ldconfig -p | awk '$1 == "libsmbclient.so.0" && /x86-64/ && !n++ {print $NF}')
[ -n "$smb" ] || die "libsmbclient.so.0 not found (install libsmbclient-dev: make deps)"
add_lib "$smb"
add_libs_of "$smb"
add_lib /lib64/ld-linux-x86-64.so.2
# md RAID and LVM on a disk hold it (the safety policy refuses it): the live
# shell can inspect and stop them (mdadm --stop, vgchange -an) before a wipe.
# No udev here: lvm creates its /dev nodes itself and scans /dev.
for b in mdadm lvm; do
	[ -x "/usr/sbin/$b" ] || die "/usr/sbin/$b not found (install mdadm and lvm2: make deps)"
	add_bin "/usr/sbin/$b" "/usr/sbin/$b"
done
for l in pvs vgs lvs pvcreate vgcreate lvcreate pvremove vgremove lvremove vgchange lvchange pvscan vgscan; do
	add_link "/usr/sbin/$l" lvm
done
printf 'activation {\n\tudev_sync = 0\n\tudev_rules = 0\n}\ndevices {\n\tobtain_device_list_from_udev = 0\n\tuse_devicesfile = 0\n}\nbackup {\n\tbackup = 0\n\tarchive = 0\n}\n' >"$W/lvm.conf"
add_file /etc/lvm/lvm.conf "$W/lvm.conf" 0644
add_dir /run/lvm
add_dir /run/lock/lvm
add_dir /run/mdadm
for p in "$ROOT"/profiles/*.yaml "$ROOT"/images/*.yaml; do
	[ -f "$p" ] && add_file "/usr/share/appliance/$(basename "$(dirname "$p")")/$(basename "$p")" "$p" 0644
done
add_dir /usr/share/appliance/images

# ---- embedded site profile (optional) -----------------------------------
if [ -n "$PROFILE" ]; then
	if [ -d "$PROFILE" ]; then
		(cd "$PROFILE" && find . -type f | sort) | while read -r f; do
			add_file "/appliance/profile/${f#./}" "$PROFILE/${f#./}" 0600
		done
	else
		[ -f "$PROFILE" ] || die "profile '$PROFILE' not found"
		add_file /appliance/profile/profile.yaml "$(readlink -f "$PROFILE")" 0600
	fi
fi

# ---- kernel modules (+ dependencies, in load order) ---------------------
# modules.dep: "kernel/x/a.ko: kernel/y/b.ko ..." with every transitive dependency.
grep -v '^[[:space:]]*\(#\|$\)' "$ROOT/iso/modules.list" | awk '{print $1}' >"$W/want"
awk -v want="$W/want" '
	BEGIN { while ((getline m < want) > 0) w[m] = 1 }
	{
		f = $1; sub(/:$/, "", f); n = f; sub(/.*\//, "", n); sub(/\.ko.*$/, "", n); gsub(/-/, "_", n)
		deps[n] = ""; path[n] = f
		for (i = 2; i <= NF; i++) { d = $i; sub(/.*\//, "", d); sub(/\.ko.*$/, "", d); gsub(/-/, "_", d); deps[n] = deps[n] " " d }
	}
	function load(m,   k, a, i) {
		if (done[m] || !(m in path)) return
		done[m] = 1
		k = split(deps[m], a, " ")
		for (i = k; i >= 1; i--) load(a[i])
		print path[m]
	}
	END { for (m in w) if (!(m in path)) missing = missing " " m
	      if (missing != "") print "iso/build.sh: not in this kernel (skipped):" missing > "/dev/stderr"
	      close(want)
	      while ((getline m < want) > 0) load(m) }
' "$MODDIR/modules.dep" >"$W/modules.order"
: >"$W/modules.load"
while read -r m; do
	add_file "$MODDIR/$m" "$MODDIR/$m" 0644
	echo "$MODDIR/$m" >>"$W/modules.load"
done <"$W/modules.order"
add_file /etc/modules.load "$W/modules.load" 0644
for f in modules.builtin modules.order; do
	[ -f "$MODDIR/$f" ] && add_file "$MODDIR/$f" "$MODDIR/$f" 0644
done

# ---- firmware named in firmware/live.list --------------------------------
# From the packages iso/firmware.sh unpacked into $FWDIR/root (Debian's
# non-free-firmware, fetched with a private apt configuration), else from this
# machine's /lib/firmware. FIRMWARE.txt (in the initramfs and on the ISO) lists
# every file carried with its package, version and licence, and every entry
# that could not be had; each package's copyright file goes along.
FWROOT=$FWDIR/root
FWTXT=$W/FIRMWARE.txt
{
	echo "# Firmware carried by this live system (firmware/live.list)."
	echo "# file  package  version  licence"
} >"$FWTXT"
fw_missing=""
declare -A FW_PKG=()
while read -r fw pkg _comp lic; do
	case "$fw" in '' | \#*) continue ;; esac
	found=0
	for base in "$FWROOT" ""; do
		for f in "$base"/lib/firmware/$fw; do
			[ -e "$f" ] || continue
			dest=${f#"$base"}
			add_file "$dest" "$(readlink -f "$f")" 0644
			ver=$(awk -v p="$pkg" '$1 == p { print $2 }' "$FWDIR/packages.txt" 2>/dev/null)
			[ -n "$base" ] || ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo installed)
			echo "$dest  $pkg  ${ver:-unknown}  $lic" >>"$FWTXT"
			FW_PKG[$pkg]=$base
			found=1
		done
		[ "$found" = 1 ] && break
	done
	[ "$found" = 1 ] || fw_missing="$fw_missing $fw($pkg)"
done <"$ROOT/firmware/live.list"
for p in "${!FW_PKG[@]}"; do
	c=${FW_PKG[$p]}/usr/share/doc/$p/copyright
	[ -f "$c" ] && add_file "/usr/share/doc/$p/copyright" "$c" 0644
done
if [ -n "$fw_missing" ]; then
	echo "# not carried (could not get):$fw_missing" >>"$FWTXT"
	echo "iso/build.sh: firmware not carried (could not get):$fw_missing" >&2
fi
add_file /usr/share/appliance/FIRMWARE.txt "$FWTXT" 0644
echo "iso/build.sh: firmware: $(grep -vc '^#' "$FWTXT") files from $(printf '%s\n' "${!FW_PKG[@]}" | grep -c .) packages"

printf 'kernel=%s\nappliance=%s\n' "$KVER" "$("$APP" version 2>/dev/null || echo unknown)" >"$W/build-info"
add_file /etc/appliance-live "$W/build-info" 0644

# ---- initramfs and kernel -------------------------------------------------
"$MKI" -c "$COMPRESS" -o "$OUT/live/initrd.img" "$LIST"
cp "/boot/vmlinuz-$KVER" "$OUT/live/vmlinuz"
echo "iso/build.sh: initramfs $(du -h "$OUT/live/initrd.img" | cut -f1) ($(wc -l <"$W/modules.order") modules), kernel $KVER"

[ "$MAKE_ISO" = 1 ] || exit 0

# ---- ISO tree: GRUB config + live system ----------------------------------
R=$W/isoroot
mkdir -p "$R/boot/grub" "$R/live"
cp "$OUT/live/vmlinuz" "$OUT/live/initrd.img" "$R/live/"
sed -e "s|@CMDLINE@|$CMDLINE|g" -e "s|@TIMEOUT@|${GRUB_TIMEOUT:-5}|g" -e "s|^set default=0|set default=${GRUB_DEFAULT:-0}|" \
	"$ROOT/iso/grub.cfg" >"$R/boot/grub/grub.cfg"
echo "appliance live ISO: the writable partition labelled APPLIANCE holds appliance/profile.yaml" >"$R/README.txt"
cp "$FWTXT" "$R/FIRMWARE.txt"
for p in "${!FW_PKG[@]}"; do
	c=${FW_PKG[$p]}/usr/share/doc/$p/copyright
	[ -f "$c" ] && install -D -m 0644 "$c" "$R/licences/$p.copyright"
done

# Writable FAT partition appended to the ISO: the site profile, the
# installer's journal and logs. Users edit it on any OS after writing the stick.
P=$W/stick.img
rm -f "$P"
img_mb=0
for f in "${IMAGES[@]}"; do img_mb=$((img_mb + ($(stat -c %s "$f") + 1048575) / 1048576)); done
# room for the images plus FAT overhead (1/32) and the journal and logs
STICK_MB=$((STICK_MB + img_mb + img_mb / 32))
truncate -s "${STICK_MB}M" "$P"
fat=""
[ "$STICK_MB" -gt 1024 ] && fat=-F
mformat -i "$P" $fat -v APPLIANCE -N 0a9e0001 :: >/dev/null
mmd -i "$P" ::/appliance
if [ "${#IMAGES[@]}" -gt 0 ]; then
	mmd -i "$P" ::/appliance/images
	for f in "${IMAGES[@]}"; do
		mcopy -i "$P" "$f" "::/appliance/images/$(basename "$f")"
		echo "iso/build.sh: stick carries image $(basename "$f") ($(du -h "$f" | cut -f1))"
	done
fi
mcopy -i "$P" "$ROOT/iso/stick-README.txt" ::/appliance/README.txt
mcopy -i "$P" "$ROOT/iso/stick-grub.cfg" ::/appliance/grub.cfg
grub-mkrescue --compress=xz -o "$ISO.tmp" "$R" -- -volid APPLIANCE_LIVE \
	-append_partition 3 0x0c "$P" >"$W/mkrescue.log" 2>&1 || { cat "$W/mkrescue.log" >&2; die "grub-mkrescue failed"; }
mv "$ISO.tmp" "$ISO"
echo "iso/build.sh: $ISO $(du -h "$ISO" | cut -f1)"

# ---- GRUB network boot directory (UEFI PXE where iPXE is not chained) ----
N=$OUT/netboot
rm -rf "$N"
mkdir -p "$N"
grub-mknetdir --net-directory="$N" --subdir=grub -d /usr/lib/grub/x86_64-efi >"$W/mknetdir.log" 2>&1 ||
	{ cat "$W/mknetdir.log" >&2; die "grub-mknetdir failed"; }
echo "iso/build.sh: $N (grub/x86_64-efi/core.efi)"

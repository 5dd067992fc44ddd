#!/usr/bin/env bash
# Build a synthetic Talos-like metal disk image (there is no network here, so
# tests and the demo cannot use the real metal-amd64.raw.zst).
#
#   images/mkimage.sh [options] OUT.raw
#     --version V     Talos version whose layout to copy (default v1.10.5)
#     --size-mib N    total image size (default: Talos's raw image size for V)
#     --boot-mib N    size of the BOOT partition (default: Talos's, shrunk to fit --size-mib)
#     --fill PCT      percent of the image that is random data (default 40); the rest is
#                     long zero runs, like a real image's unused filesystem space
#     --seed S        seed for the pseudo-random data (default 1): same seed, same bytes
#     --tail-bytes N  append N extra bytes (sizes that are not a multiple of the block size)
#     --exact         the exact partition table of Talos v1.10.5's metal-amd64.raw (dual boot):
#                     2247 MiB image; 1 EFI 1101 MiB EF00, 2 BIOS 1 MiB EF02 with the legacy BIOS
#                     bootable attribute (bit 2), 3 BOOT 1000 MiB 8300, 4 META 1 MiB 8300, names =
#                     labels, first partition at 1 MiB; 143 MiB free after META
#                     (siderolabs/talos v1.10.5: pkg/imager/profile/default.go MinRAWDiskSize 1246 MiB
#                     + output.go FillDefaults' 1 + 1000 MiB for dual boot; internal/pkg/partition
#                     partition.go sizes, types and attributes; bootloader/dual/dual.go)
#
# Layout (GPT, 512-byte sectors, 1 MiB aligned), as Talos >= 1.8 lays out its metal image:
#   1 EFI   vfat "EFI"     100 MiB  (EF00)
#   2 BIOS  BIOS boot        1 MiB  (EF02)
#   3 BOOT  "BOOT"        1000 MiB  (8300)
#   4 META  "META"           1 MiB  (8300)
# STATE and EPHEMERAL are not in the image: Talos creates them at first boot in the
# free space after META. Needs sgdisk, mkfs.vfat, mtools, openssl.
set -euo pipefail

version=v1.10.5 size_mib="" boot_mib="" fill=40 seed=1 tail=0 exact=0
while [ $# -gt 1 ]; do
	case "$1" in
	--version) version=$2; shift 2 ;;
	--size-mib) size_mib=$2; shift 2 ;;
	--boot-mib) boot_mib=$2; shift 2 ;;
	--fill) fill=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--tail-bytes) tail=$2; shift 2 ;;
	--exact) exact=1; shift ;;
	*) echo "mkimage.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
done
[ $# -eq 1 ] || { sed -n '2,28p' "$0" >&2; exit 2; }
out=$1

# Talos partition sizes (MiB) by version: EFI BIOS BOOT META and the raw image size.
case "$version" in
v1.[89].* | v1.1[0-9].*) efi=100 bios=1 boot=1000 meta=1 total=1246 ;;
v1.[4-7].*) efi=100 bios=1 boot=1000 meta=1 total=1246 ;;
*) echo "mkimage.sh: no layout known for Talos $version" >&2; exit 2 ;;
esac
if [ "$exact" = 1 ]; then
	case "$version" in
	v1.10.*) efi=1101 bios=1 boot=1000 meta=1 total=2247 ;;
	*) echo "mkimage.sh: --exact knows only Talos v1.10.x's layout" >&2; exit 2 ;;
	esac
	{ [ -z "$size_mib" ] && [ -z "$boot_mib" ] && [ "$tail" = 0 ]; } ||
		{ echo "mkimage.sh: --exact takes no --size-mib, --boot-mib or --tail-bytes" >&2; exit 2; }
fi
[ -n "$size_mib" ] && total=$size_mib
if [ "$exact" = 1 ]; then
	:
elif [ -n "$boot_mib" ]; then
	boot=$boot_mib
else
	max=$((total - efi - bios - meta - 2))
	[ "$boot" -gt "$max" ] && boot=$max
fi
# small images: shrink the EFI partition too (never below 33 MiB, FAT32's floor for mkfs.vfat -F 32)
if [ $((efi + bios + boot + meta + 2)) -gt "$total" ]; then
	efi=$((total - bios - boot - meta - 2))
	[ "$efi" -ge 8 ] || { echo "mkimage.sh: --size-mib $total is too small for this layout" >&2; exit 2; }
fi

rand() { # rand BYTES SALT: deterministic pseudo-random bytes on stdout
	(
		set +o pipefail
		openssl enc -aes-256-ctr -nosalt -pass "pass:mkimage-$seed-$2" -pbkdf2 -iter 1 </dev/zero 2>/dev/null | head -c "$1"
	)
}
put() { # put FILE OFFSET_BYTES: copy FILE into the image at OFFSET
	dd if="$1" of="$out" bs=1M oflag=seek_bytes seek="$2" conv=notrunc,sparse status=none
}

tmp=$(mktemp -d /tmp/mkimage.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rm -f "$out"
truncate -s "${total}M" "$out"
sgdisk -Z "$out" >/dev/null 2>&1 || true
sgdisk -a 2048 \
	-n 1:1M:+${efi}M -t 1:EF00 -c 1:EFI \
	-n 2:0:+${bios}M -t 2:EF02 -c 2:BIOS \
	-n 3:0:+${boot}M -t 3:8300 -c 3:BOOT \
	-n 4:0:+${meta}M -t 4:8300 -c 4:META \
	"$out" >/dev/null
# the BIOS boot partition carries the legacy BIOS bootable attribute (go-blockdevice
# gpt.WithLegacyBIOSBootableAttribute), as Talos writes it
[ "$exact" = 1 ] && sgdisk -A 2:set:2 "$out" >/dev/null

mib=$((1024 * 1024))
efi_off=$mib
bios_off=$(((1 + efi) * mib))
boot_off=$(((1 + efi + bios) * mib))
meta_off=$(((1 + efi + bios + boot) * mib))

# random data budget: fill% of the image, spread over the partitions
budget=$((total * mib / 100 * fill))
efi_data=$((budget / 10)); [ "$efi_data" -gt $((efi * mib / 2)) ] && efi_data=$((efi * mib / 2))
boot_data=$((budget - efi_data - 256 * 1024)); [ "$boot_data" -lt 0 ] && boot_data=0
[ "$boot_data" -gt $((boot * mib)) ] && boot_data=$((boot * mib))

# EFI: a real FAT filesystem with files of random bytes (loader, kernel, initramfs)
mkfs.vfat -C -n EFI "$tmp/efi.img" $((efi * 1024)) >/dev/null
mmd -i "$tmp/efi.img" ::/EFI ::/EFI/BOOT ::/EFI/Linux
rand 131072 bootx64 >"$tmp/BOOTX64.EFI"
rand $((efi_data > 200000 ? efi_data - 131072 : 65536)) uki >"$tmp/talos.efi"
mcopy -i "$tmp/efi.img" "$tmp/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$tmp/efi.img" "$tmp/talos.efi" "::/EFI/Linux/Talos-$version.efi"
put "$tmp/efi.img" "$efi_off"

# BIOS boot: some core image, then zeros
rand 98304 bios >"$tmp/bios"
put "$tmp/bios" "$bios_off"

# BOOT: runs of data separated by long zero runs (8 extents)
if [ "$boot_data" -gt 0 ]; then
	step=$((boot * mib / 8))
	piece=$((boot_data / 8 / mib * mib))
	[ "$piece" -gt "$step" ] && piece=$step
	for i in 0 1 2 3 4 5 6 7; do
		[ "$piece" -gt 0 ] || break
		rand "$piece" "boot$i" >"$tmp/piece"
		put "$tmp/piece" $((boot_off + i * step))
	done
fi

# META: Talos writes a small ADV header
rand 8192 meta >"$tmp/meta"
put "$tmp/meta" "$meta_off"

if [ "$tail" -gt 0 ]; then
	rand "$tail" tail >>"$out"
	# keep the backup GPT valid at the new end
	sgdisk -e "$out" >/dev/null 2>&1
fi
sgdisk -v "$out" >/dev/null 2>&1

#!/usr/bin/python3
"""Do to a disk (image file) what Talos v1.10's first boot does to its partition table.

usage: images/talos-firstboot.py DISK [--bios]

What Talos does, and where (siderolabs/talos v1.10.5):
- UEFI boot (default): the boot code of the protective MBR (bytes 0-445) is wiped and the
  BIOS and BOOT partitions are deleted; booted through BIOS (--bios) the EFI partition is
  deleted instead (internal/app/machined/pkg/runtime/v1alpha1/bootloader/bootloader.go,
  CleanupBootloader). GPT entries are not renumbered.
- STATE (100 MiB, internal/pkg/partition/constants.go StateSize) and EPHEMERAL (the rest)
  are created in the free space, STATE in the smallest free gap it fits and EPHEMERAL in the
  largest remaining one, in the first free GPT entries, both Linux filesystem data, named by
  their labels, and formatted XFS with those labels (partition.NewFormatOptions).
The XFS here is a superblock from mkfs.xfs copied to the start of each partition: enough for
libblkid (and so for Talos' probe) to see the filesystem and its label.
Needs sfdisk, sgdisk and mkfs.xfs.
"""
import json
import os
import subprocess
import sys
import tempfile

MIB = 1024 * 1024
SECTOR = 512
ALIGN = MIB // SECTOR
STATE_SECTORS = 100 * MIB // SECTOR


def table(disk):
    out = subprocess.run(["sfdisk", "-J", disk], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["partitiontable"]


def gaps(t):
    """free aligned extents [start, end) in sectors, between the partitions"""
    used = sorted((p["start"], p["start"] + p["size"]) for p in t.get("partitions", []))
    first, last = t["firstlba"], t["lastlba"] + 1
    out, cur = [], first
    for s, e in used + [(last, last)]:
        a = -(-cur // ALIGN) * ALIGN
        if s > a:
            out.append((a, s))
        cur = max(cur, e)
    return out


def entry(disk, p):
    """the GPT entry number of a partition ("DISK5" or, for names ending in a digit, "DISKp5")"""
    return int(p["node"][len(disk):].lstrip("p"))


def number_of(disk, name):
    for p in table(disk).get("partitions", []):
        if p.get("name") == name:
            return entry(disk, p)
    return None


def xfs_superblock(label, tmp):
    img = os.path.join(tmp, label + ".xfs")
    with open(img, "wb") as f:
        f.truncate(320 * MIB)
    subprocess.run(["mkfs.xfs", "-q", "-f", "-L", label, img], check=True)
    with open(img, "rb") as f:
        return f.read(64 * 1024)


def main(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    disk, bios = argv[1], "--bios" in argv[2:]
    if bios:
        drop = ["EFI"]
    else:
        drop = ["BIOS", "BOOT"]
        with open(disk, "r+b") as f:
            f.write(b"\0" * 446)
    for name in drop:
        n = number_of(disk, name)
        if n is not None:
            subprocess.run(["sgdisk", "-d", str(n), disk], check=True, capture_output=True)
    free = gaps(table(disk))
    fits = [g for g in free if g[1] - g[0] >= STATE_SECTORS]
    if not fits:
        sys.stderr.write("talos-firstboot: no free gap holds STATE (100 MiB)\n")
        return 1
    state = min(fits, key=lambda g: (g[1] - g[0], g[0]))
    subprocess.run(["sgdisk", "-n", "0:%d:%d" % (state[0], state[0] + STATE_SECTORS - 1), "-t", "0:8300",
                    "-c", "0:STATE", disk], check=True, capture_output=True)
    free = gaps(table(disk))
    eph = max(free, key=lambda g: (g[1] - g[0], -g[0]))
    end = eph[0] + (eph[1] - eph[0]) // ALIGN * ALIGN - 1
    subprocess.run(["sgdisk", "-n", "0:%d:%d" % (eph[0], end), "-t", "0:8300", "-c", "0:EPHEMERAL", disk],
                   check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp, open(disk, "r+b") as f:
        for name in ("STATE", "EPHEMERAL"):
            sb = xfs_superblock(name, tmp)
            part = [p for p in table(disk)["partitions"] if p.get("name") == name][0]
            f.seek(part["start"] * SECTOR)
            f.write(sb)
    for p in table(disk)["partitions"]:
        print("%d %s %d MiB at %d MiB" % (entry(disk, p), p.get("name", ""), p["size"] * SECTOR // MIB,
                                          p["start"] * SECTOR // MIB))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

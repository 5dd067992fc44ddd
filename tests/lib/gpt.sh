# GPT helpers for tests that read the partition table of a disk image they made
# (sfdisk -J; nothing is written).

# gpt_table DISK: one line per partition, "N name type start size attrs" (start and size
# in MiB, attrs "-" when none)
gpt_table() {
	sfdisk -J "$1" | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
for p in t["partitions"]:
    n = p["node"][len(sys.argv[1]):].lstrip("p")
    print(n, p.get("name", ""), p["type"], p["start"] * 512 // 1048576, p["size"] * 512 // 1048576, p.get("attrs", "-"))
' "$1"
}

# gpt_label DISK NAME: the filesystem label blkid finds in the first 8 MiB of the
# partition named NAME (copied to $T/gpt_label.part first)
gpt_label() {
	local start
	start=$(sfdisk -J "$1" | /usr/bin/python3 -c '
import json, sys
print([p["start"] for p in json.load(sys.stdin)["partitiontable"]["partitions"] if p.get("name") == sys.argv[1]][0])
' "$2") || return 1
	dd if="$1" of="$T/gpt_label.part" bs=512 skip="$start" count=16384 status=none &&
		blkid -p -o value -s LABEL "$T/gpt_label.part"
}

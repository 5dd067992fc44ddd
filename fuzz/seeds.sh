#!/usr/bin/env bash
# Seed corpora for make fuzz: real inputs of each kind, made from the repository and its
# tools (nothing downloaded). Usage: fuzz/seeds.sh CORPUS_DIR (one folder per target).
set -u
C=$1
cd "$(dirname "$0")/.." || exit 1
mkdir -p "$C"/{profile,s3,grpc,kubeconfig,journal,gpt}
cp -n profiles/*.yaml tests/profiles/valid/*.yaml tests/profiles/invalid/*.yaml "$C/profile/" 2>/dev/null
# s3: a ListObjectsV2 page shaped as s3rver answers it, an error body, a backup.info
cat >"$C/s3/page.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;1</NextContinuationToken><Contents><Key>p/a&amp;b&#47;&#x41;</Key><LastModified>2026-11-20T23:00:01.000Z</LastModified><ETag>&quot;x&quot;</ETag><Size>123</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>p/c</Key><LastModified>2026-11-21T00:00:00Z</LastModified><Size>0</Size></Contents></ListBucketResult>
XML
printf '<?xml version="1.0"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>' >"$C/s3/error.xml"
printf 'backup_label=None\nbegin_time=2026-11-22 23:00:00\nstatus=DONE\n' >"$C/s3/backup.info"
# grpc: framed messages (flag, big-endian length, protobuf) as the Talos API sends them
printf '\x00\x00\x00\x00\x0a\x0a\x08\x0a\x06\x0a\x04node' >"$C/grpc/multi-reply"
printf '\x00\x00\x00\x00\x0c\x0a\x02\x12\x00\x12\x06abcdef' >"$C/grpc/data"
printf '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x08\x96\x01' >"$C/grpc/two"
# kubeconfig: the .tar.gz Talos streams (one member, "kubeconfig")
tmp=$(mktemp -d)
printf 'apiVersion: v1\nkind: Config\nclusters: []\n' >"$tmp/kubeconfig"
tar -C "$tmp" -czf "$C/kubeconfig/kubeconfig.tar.gz" kubeconfig
tar -C "$tmp" -czf "$C/kubeconfig/dot.tar.gz" ./kubeconfig
# journal: an install entry; image journal chunk lines (odd first byte: the harness puts the header first)
printf 'step=write-image\nstatus=done\ninputs=%064d\nstarted=1\nfinished=2\nruns=1\nresult=ok\n' 0 >"$C/journal/entry"
printf 'w 0\nw 1\nd 1\nw 5\n' | sed '1s/^/\x01/' >"$C/journal/chunks"
# gpt: the first 64 KiB of a GPT image with three partitions (sgdisk on a sparse file)
if command -v sgdisk >/dev/null; then
	truncate -s 8M "$tmp/disk"
	sgdisk -q -n 1:2048:+1M -t 1:ef00 -c 1:EFI -n 2:0:+2M -c 2:BOOT -n 3:0:0 -c 3:STATE "$tmp/disk" >/dev/null
	head -c 65536 "$tmp/disk" >"$C/gpt/gpt3"
fi


# a chunk number past any disk (the fuzzer found it allocating without bound)
printf 'w 18446744073709551615\nw 9223372036854775807\n' | sed '1s/^/\x01/' >"$C/journal/huge-chunk"
rm -rf "$tmp"

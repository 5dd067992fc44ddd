# Disks (issue 6): inventory, selectors, safety policy, Ceph wipe.
# bench-disks: 4 x 8 GiB sparse loop disks wiped in parallel vs one alone, and vs the shell
# sequence (wipefs -a, sgdisk --zap-all, dd at Rook's offsets, blkdiscard). Needs root.
BENCH += bench-disks

.PHONY: bench-disks
bench-disks: $(BIN)
	@bash tests/fixtures/disks/bench.sh

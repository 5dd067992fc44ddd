# Image writer (issue 7): `make bench-image` (part of `make bench`) compares
# `appliance image write` with zstd|dd and bmaptool on one loop device, the
# download+write pipeline with its slowest stage, and reports peak RSS.
# BENCH_IMAGE_MIB=N changes the synthetic image size (default 2048).
BENCH += bench-image
.PHONY: bench-image
bench-image: $(BIN)
	@bash images/bench.sh

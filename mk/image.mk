# Image writer (issue 7): `make bench-image` (part of `make bench`) compares
# `appliance image write` with zstd|dd and bmaptool on one loop device, the
# download+write pipeline with its slowest stage, and reports peak RSS.
# BENCH_IMAGE_MIBS="256 4096" the synthetic image sizes (default), BENCH_IMAGE_REPS=3
# the runs of each (best kept).
BENCH += bench-image
.PHONY: bench-image
bench-image: $(BIN)
	@bash images/bench.sh

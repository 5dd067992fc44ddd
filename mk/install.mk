# Install (issue 9): benchmark of the demo install. OWNER: install work.
#   make bench-install   demo install time split by step (from the --json events), and the
#                        time of a re-run of the finished install (journal overhead; target < 2 s)
.PHONY: bench-install
BENCH += bench-install

bench-install: $(DEPS_DEMO) $(BIN)
	bash scripts/demo.sh --bench

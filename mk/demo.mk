# make demo: install the simulated site end to end (scripts/demo.sh). OWNER: install work (issue 9).
demo: $(DEPS_DEMO) $(BIN)
	bash scripts/demo.sh

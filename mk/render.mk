# render (issue 4): regenerate the golden trees after an intended output change,
# then review `git diff tests/golden/render`.
.PHONY: render-golden
render-golden: $(BIN)
	@for p in immich demo; do \
		rm -rf tests/golden/render/$$p; \
		./$(BIN) render profiles/$$p.yaml --out tests/golden/render/$$p || exit 1; \
	done

# nas: only the NAS tests (unit, sanitized unit, integration against a private smbd).
.PHONY: test-nas
test-nas: $(BIN) build/tests/nas/test_nas build/san/tests/nas/test_nas
	@bash tests/run.sh unit build/tests/nas/test_nas build/san/tests/nas/test_nas -- integration tests/integration/nas.sh

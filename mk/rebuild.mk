# rebuild + bootstrap: s3rver (npm) for the S3 tests, installed once into the
# git-ignored build/s3rver (tests/servers/s3rver.sh installs it on demand too),
# and the area's own test target.
.PHONY: s3rver test-rebuild
s3rver: build/s3rver/node_modules/.bin/s3rver
build/s3rver/node_modules/.bin/s3rver:
	@mkdir -p build/s3rver
	cd build/s3rver && npm install --no-audit --no-fund --silent --prefix . s3rver@3

test-rebuild: $(BIN) build/tests/net/test_grpc build/san/tests/net/test_grpc build/tests/net/test_s3 build/san/tests/net/test_s3 s3rver
	@bash tests/run.sh unit build/tests/net/test_grpc build/san/tests/net/test_grpc build/tests/net/test_s3 build/san/tests/net/test_s3 \
		-- integration tests/integration/bootstrap.sh tests/integration/rebuild.sh tests/integration/rebuild-e2e.sh

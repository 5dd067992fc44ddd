# appliance talos (issue 5): secrets, machine configs, schematic, config volume.
#   make test-talos    the talos unit tests (plain + ASan/UBSan) and tests/integration/talos.sh
#   make bench-talos   `appliance talos secrets` (one RSA-4096 + 4 CAs) and `talos gen` times,
#                      each against `openssl genpkey` of one RSA-4096 key measured in the same run
.PHONY: test-talos bench-talos
BENCH += bench-talos

TALOS_UNIT := build/tests/talos/test_talos build/tests/talos/test_talos_config build/san/tests/talos/test_talos \
	build/san/tests/talos/test_talos_config
test-talos: $(BIN) $(TALOS_UNIT)
	@bash tests/run.sh unit $(TALOS_UNIT) -- integration tests/integration/talos.sh

bench-talos: $(BIN)
	@bash -c '\
	set -e; t=$$(mktemp -d); trap "rm -rf $$t" EXIT; \
	export APPLIANCE_DEMO_NAS_USER=u APPLIANCE_DEMO_NAS_PASSWORD=p APPLIANCE_DEMO_GIT_TOKEN=g \
	  APPLIANCE_DEMO_SOPS_KEY=s APPLIANCE_DEMO_OP_CREDENTIALS=c APPLIANCE_DEMO_OP_TOKEN=o \
	  APPLIANCE_DEMO_S3_ACCESS_KEY=a APPLIANCE_DEMO_S3_SECRET_KEY=k; \
	now() { date +%s%N; }; n=5; \
	a=$$(now); for i in $$(seq $$n); do openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out $$t/k.pem 2>/dev/null; done; b=$$(now); \
	for i in $$(seq $$n); do rm -f $$t/s.yaml; $(BIN) talos secrets profiles/demo.yaml --out $$t/s.yaml >/dev/null; done; c=$$(now); \
	for i in $$(seq $$n); do rm -rf $$t/o; $(BIN) talos gen profiles/demo.yaml --secrets $$t/s.yaml --out $$t/o >/dev/null; done; d=$$(now); \
	base=$$(( (b-a)/n/1000000 )); sec=$$(( (c-b)/n/1000000 )); gen=$$(( (d-c)/n/1000000 )); \
	echo "bench-talos: openssl genpkey RSA-4096 $${base} ms (baseline), talos secrets $${sec} ms, talos gen (3 nodes + talosconfig) $${gen} ms (mean of $$n)"; \
	echo "bench-talos: secrets/baseline ratio $$(awk "BEGIN{printf \"%.2f\", $$sec/$$base}"), gen/baseline ratio $$(awk "BEGIN{printf \"%.2f\", $$gen/$$base}") (RSA key generation time varies a lot run to run)"'

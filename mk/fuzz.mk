# make fuzz FUZZ_SECONDS=600: libFuzzer (clang) on the profile loader, seeded
# with every profile in the repository. Prints executions and crashes.
FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard installer/lib/profile/*.c) installer/lib/base/ytree.c \
	installer/lib/base/util.c installer/lib/base/err.c installer/lib/base/json.c
.PHONY: fuzz
build/fuzz/profile_fuzz: fuzz/profile_fuzz.c $(FUZZ_SRC) installer/lib/profile/profile_defaults.S profiles/defaults.yaml | $(DEPS_FUZZ)
	@mkdir -p $(dir $@)
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Iinstaller/lib -Iprofiles \
		-o $@ fuzz/profile_fuzz.c $(FUZZ_SRC) installer/lib/profile/profile_defaults.S -lyaml -lcrypto
fuzz: build/fuzz/profile_fuzz
	@mkdir -p build/fuzz/corpus fuzz/findings
	@cp -n profiles/*.yaml tests/profiles/valid/*.yaml tests/profiles/invalid/*.yaml build/fuzz/corpus/ 2>/dev/null || true
	build/fuzz/profile_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix=fuzz/findings/ -print_final_stats=1 build/fuzz/corpus 2>&1 | tee build/fuzz/last.log | \
		grep -E '^(#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY)' ; \
	crashes=$$(ls fuzz/findings 2>/dev/null | wc -l); echo "fuzz: crashes: $$crashes"; [ "$$crashes" -eq 0 ]

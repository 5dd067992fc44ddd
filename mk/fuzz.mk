# make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="profile s3 ..."]: libFuzzer (clang) with ASan and
# UBSan (any report is a crash), one target after the other, each FUZZ_SECONDS long:
#   profile     the profile loader (seeded with every profile in the repository)
#   s3          the S3 ListObjectsV2 / error / backup.info parsers
#   grpc        gRPC framing, the Talos API reply decoders, the protobuf reader
#   kubeconfig  the Kubeconfig .tar.gz reader
#   journal     the install journal's entry parser and the image writer's chunk journal
#   gpt         an image's GPT as the image writer reads it (announced size, libfdisk list)
# Prints executions, peak RSS and crashes per target; fails when any target crashed.
# Crash inputs go to fuzz/findings/TARGET-*; corpora grow in build/fuzz/corpus/TARGET.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= profile s3 grpc kubeconfig journal gpt
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all -Iinstaller/lib
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o) $(LIB_ASM:%.S=build/fuzz/obj/%.o)
.PHONY: fuzz fuzz-build

build/fuzz/obj/%.o: %.c | $(DEPS_FUZZ)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -MMD -MP -c -o $@ $<
build/fuzz/obj/%.o: %.S profiles/defaults.yaml | $(DEPS_FUZZ)
	@mkdir -p $(dir $@)
	@clang -Iprofiles -c -o $@ $<
build/fuzz/libfuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	@ar rcs $@ $^
build/fuzz/%_fuzz: fuzz/%_fuzz.c build/fuzz/libfuzz.a
	@echo "  FUZZLD  $@"
	@clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libfuzz.a $(PKG_LIBS)
-include $(FUZZ_OBJ:.o=.d)

fuzz-build: $(FUZZ_TARGETS:%=build/fuzz/%_fuzz)

# Seeds: real inputs of each kind, made from the repository and its tools.
build/fuzz/corpus/%: ; @mkdir -p $@
fuzz-seeds: $(FUZZ_TARGETS:%=build/fuzz/corpus/%)
	@bash fuzz/seeds.sh build/fuzz/corpus

fuzz: fuzz-build fuzz-seeds
	@mkdir -p fuzz/findings
	@fail=0; for t in $(FUZZ_TARGETS); do \
		build/fuzz/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
			-artifact_prefix=fuzz/findings/$$t- -print_final_stats=1 build/fuzz/corpus/$$t \
			>build/fuzz/$$t.log 2>&1; rc=$$?; \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' build/fuzz/$$t.log); \
		rss=$$(sed -n 's/^stat::peak_rss_mb: *//p' build/fuzz/$$t.log); \
		crashes=$$(ls fuzz/findings 2>/dev/null | grep -c "^$$t-"); \
		echo "fuzz: $$t: $${execs:-0} executions in $(FUZZ_SECONDS) s, peak RSS $${rss:-?} MB, crashes $$crashes (exit $$rc)"; \
		grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error' build/fuzz/$$t.log | head -5; \
		[ "$$crashes" -eq 0 ] && [ "$$rc" -eq 0 ] || fail=1; \
	done; exit $$fail

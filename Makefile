# appliance: build, test, demo, bench, fuzz, iso, install.
# Areas add their own targets in mk/<area>.mk (included below) so that this
# file stays the same as modules land. Sources are found by wildcard.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKGS := yaml-0.1 libcurl libarchive libzstd blkid fdisk smbclient openssl

# Dependency check first: everything that builds or runs goes through deps.
# packages.txt is grouped by purpose; each target asks for its groups and one
# stamp stands for each set of groups, so `make test` after `make demo` still
# installs the rest (scripts/deps.sh GROUP...).
DEPS_STAMP := build/.deps-build
DEPS_DEMO := build/.deps-build+demo
DEPS_TEST := build/.deps-build+demo+test+iso
DEPS_ISO := build/.deps-build+iso
DEPS_FUZZ := build/.deps-build+fuzz
DEPS_ALL := build/.deps-build+demo+test+iso+fuzz

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libsmbclient is not linked: nas/smbload.c loads it on first use (samba's libraries slow every start)
PKG_LIBS = $(shell pkg-config --libs $(filter-out smbclient,$(PKGS)) 2>/dev/null) -lpthread -ldl
CFLAGS ?= -O2 -g
WARNFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wshadow -Wformat=2 \
	-Wmissing-prototypes -Wstrict-prototypes -Wvla -fno-strict-aliasing
ALL_CFLAGS = $(CFLAGS) $(WARNFLAGS) -D_GNU_SOURCE -Iinstaller -Iinstaller/lib $(PKG_CFLAGS) -MMD -MP
SAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC := $(sort $(wildcard installer/lib/*/*.c))
CMD_SRC := $(sort $(wildcard installer/cmd/*.c)) installer/main.c
UNIT_SRC := $(sort $(wildcard tests/unit/*/test_*.c))
LIB_ASM := $(sort $(wildcard installer/lib/*/*.S))

LIB_OBJ := $(LIB_SRC:%.c=build/%.o) $(LIB_ASM:%.S=build/%.o)
CMD_OBJ := $(CMD_SRC:%.c=build/%.o)
LIB_SAN_OBJ := $(LIB_SRC:%.c=build/san/%.o) $(LIB_ASM:%.S=build/san/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
UNIT_SAN_BIN := $(UNIT_SRC:tests/unit/%.c=build/san/tests/%)

BIN := installer/appliance

.PHONY: all man deps test test-unit test-integration test-e2e demo bench fuzz install clean format format-check iso
all: $(BIN)

deps: $(DEPS_ALL)
# a static pattern rule: the stamps are explicit targets (never "intermediate")
$(sort $(DEPS_STAMP) $(DEPS_DEMO) $(DEPS_TEST) $(DEPS_ISO) $(DEPS_FUZZ) $(DEPS_ALL)): build/.deps-%: packages.txt scripts/deps.sh
	sh scripts/deps.sh packages.txt $(subst +, ,$*)
	@mkdir -p build && touch $@

build/libappliance.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^
build/san/libappliance.a: $(LIB_SAN_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BIN): $(CMD_OBJ) build/libappliance.a
	$(CC) $(CFLAGS) -o $@ $(CMD_OBJ) build/libappliance.a $(PKG_LIBS)

build/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<
build/%.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -Iprofiles -c -o $@ $<
build/san/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC san  $<"
	@$(CC) $(ALL_CFLAGS) $(SAN_CFLAGS) -c -o $@ $<
build/san/%.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -Iprofiles -c -o $@ $<

build/tests/%: tests/unit/%.c build/libappliance.a | $(DEPS_TEST)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< build/libappliance.a $(PKG_LIBS) -lcmocka
build/san/tests/%: tests/unit/%.c build/san/libappliance.a | $(DEPS_TEST)
	@mkdir -p $(dir $@)
	@echo "  LD san  $@"
	@$(CC) $(ALL_CFLAGS) $(SAN_CFLAGS) -Itests/unit -o $@ $< build/san/libappliance.a $(PKG_LIBS) -lcmocka

# ---- tests -------------------------------------------------------------------
# tests/run.sh runs every runner, prints each summary and ends with
# "N passed, N failed"; non-zero exit on any failure.
test: $(DEPS_TEST) $(BIN) $(UNIT_BIN) $(UNIT_SAN_BIN)
	@bash tests/run.sh unit $(UNIT_BIN) $(UNIT_SAN_BIN) -- integration tests/integration/*.sh -- e2e tests/e2e/*.sh

test-unit: $(DEPS_TEST) $(UNIT_BIN) $(UNIT_SAN_BIN)
	@bash tests/run.sh unit $(UNIT_BIN) $(UNIT_SAN_BIN)

test-integration: $(DEPS_TEST) $(BIN)
	@bash tests/run.sh integration tests/integration/*.sh

test-e2e: $(DEPS_TEST) $(BIN)
	@bash tests/run.sh e2e tests/e2e/*.sh

# ---- formatting ----------------------------------------------------------------
FORMAT_SRC = $(wildcard installer/*.c installer/*.h installer/*/*.c installer/*/*.h installer/*/*/*.c installer/*/*/*.h tests/unit/*.h tests/unit/*/*.c fuzz/*.c iso/*.c)
format:
	clang-format -i $(FORMAT_SRC)
format-check: | $(DEPS_TEST)
	@bad=$$(for f in $(FORMAT_SRC); do clang-format --dry-run -Werror $$f >/dev/null 2>&1 || echo $$f; done); \
	if [ -n "$$bad" ]; then echo "format-check: not clang-formatted (run 'make format'):"; echo "$$bad"; exit 1; fi; \
	echo "format-check: ok"

# ---- man page ----------------------------------------------------------------
# appliance(1): the prose of man/appliance.1.in around the COMMANDS section the
# binary prints from its own command and option tables (`appliance _man`).
MAN := build/man/appliance.1
.PHONY: man
man: $(MAN)
# $(MAN).in: the page with @PREFIX@ left for `make install PREFIX=...` to fill
$(MAN).in: man/appliance.1.in $(BIN)
	@mkdir -p $(dir $@)
	@$(BIN) _man >$@.commands
	@sed -e "s|@VERSION@|$$($(BIN) version | head -1 | cut -d' ' -f2)|" \
		-e "s|@DATE@|$$(git log -1 --format=%cs -- man/appliance.1.in installer 2>/dev/null || date -u +%F)|" \
		-e '/^@COMMANDS@$$/r $@.commands' -e '/^@COMMANDS@$$/d' $< >$@.tmp && mv $@.tmp $@
	@rm -f $@.commands
$(MAN): $(MAN).in
	@sed 's|@PREFIX@|$(PREFIX)|g' $< >$@
	@echo "  MAN     $@"

# ---- install -----------------------------------------------------------------
install: $(BIN) $(MAN).in
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/appliance
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	sed 's|@PREFIX@|$(PREFIX)|g' $(MAN).in >$(DESTDIR)$(PREFIX)/share/man/man1/appliance.1
	chmod 0644 $(DESTDIR)$(PREFIX)/share/man/man1/appliance.1
	install -D -m 0644 completions/appliance.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/appliance
	install -D -m 0644 completions/_appliance $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_appliance
	install -d $(DESTDIR)$(PREFIX)/share/appliance/profiles $(DESTDIR)$(PREFIX)/share/appliance/images \
		$(DESTDIR)$(PREFIX)/share/doc/appliance/docs
	install -m 0644 profiles/*.yaml $(DESTDIR)$(PREFIX)/share/appliance/profiles/
	install -m 0644 images/*.yaml $(DESTDIR)$(PREFIX)/share/appliance/images/
	# the docs keep the clone's layout, so README.md's docs/... links and the docs'
	# ../profiles/... links resolve where they are installed
	install -m 0644 README.md packages.txt $(DESTDIR)$(PREFIX)/share/doc/appliance/
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/appliance/docs/
	ln -sfn ../../appliance/profiles $(DESTDIR)$(PREFIX)/share/doc/appliance/profiles

clean:
	rm -rf build $(BIN)

# Areas' own targets: demo, bench-*, fuzz, iso, ...
BENCH :=
include $(sort $(wildcard mk/*.mk))

bench: $(DEPS_TEST) $(BIN) $(BENCH)

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(LIB_SAN_OBJ:.o=.d)

# the compiled-in defaults follow profiles/defaults.yaml
build/installer/lib/profile/profile_defaults.o build/san/installer/lib/profile/profile_defaults.o: profiles/defaults.yaml

# What `appliance version` prints beside the version: the commit it was built from and the
# build date (build/version_info.h, rewritten only when either changes, so main.o is rebuilt
# then and only then). A tree without git says "unknown".
VERSION_INFO := build/version_info.h
.PHONY: version-info-force
$(VERSION_INFO): version-info-force
	@mkdir -p build
	@c=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	if [ "$$c" != unknown ] && [ -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then c="$$c-dirty"; fi; \
	printf '#define APPLIANCE_COMMIT "%s"\n#define APPLIANCE_BUILD_DATE "%s"\n' "$$c" "$$(date -u +%F)" >$@.tmp; \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
build/installer/main.o build/san/installer/main.o: $(VERSION_INFO)

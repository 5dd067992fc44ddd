# Boot media (issue 10): the live system, its hybrid ISO, the PXE assets.
#   make iso          build/iso/appliance.iso, build/iso/live/{vmlinuz,initrd.img},
#                     build/iso/netboot/ (GRUB network boot for UEFI PXE)
#   make bench-iso    make-iso time, ISO size, boot-to-installer and install times in QEMU
# The e2e tests (tests/e2e/iso*.sh, pxe*.sh) build what they need through
# `make iso-assets`, so `make test-e2e` works from a clean clone.
ISO_DIR := build/iso
ISO_MKI := $(ISO_DIR)/mkinitramfs
ISO_OUT := $(ISO_DIR)/appliance.iso
ISO_INPUTS := iso/build.sh iso/firmware.sh iso/init iso/udhcpc.script iso/grub.cfg iso/stick-grub.cfg iso/stick-README.txt \
	iso/modules.list firmware/live.list $(wildcard profiles/*.yaml images/*.yaml)

.PHONY: iso iso-assets bench-iso
BENCH += bench-iso

$(ISO_MKI): iso/mkinitramfs.c | $(DEPS_ISO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARNFLAGS) -D_GNU_SOURCE -o $@ $< $(shell pkg-config --cflags --libs libarchive)

# The firmware of firmware/live.list, from Debian's packages (non-free-firmware
# included) through a private apt configuration. The stamp is made only when
# every package was had, so an offline build tries again next time.
FW_DIR := build/firmware
FW_STAMP := $(FW_DIR)/.stamp
$(FW_STAMP): firmware/live.list iso/firmware.sh | $(DEPS_ISO)
	@bash iso/firmware.sh --list firmware/live.list --out $(FW_DIR)
	@[ -s $(FW_DIR)/missing.txt ] || touch $@
.PHONY: firmware
firmware: $(FW_STAMP)

# make iso ISO_IMAGES="CACHE/<schematic>-v1.10.5-metal-amd64.raw.zst ...": the stick also
# carries these pinned Talos images and installs from them without a network.
ISO_IMAGES ?=
$(ISO_OUT): $(BIN) $(ISO_MKI) $(ISO_INPUTS) $(FW_STAMP) $(ISO_IMAGES)
	bash iso/build.sh --out $(ISO_DIR) --appliance $(BIN) --mkinitramfs $(ISO_MKI) --firmware $(FW_DIR) \
		$(foreach f,$(ISO_IMAGES),--image $(f))

iso: $(ISO_OUT)
iso-assets: $(ISO_OUT)

bench-iso: $(BIN) $(ISO_MKI)
	@bash tests/e2e/lib/bench-iso.sh

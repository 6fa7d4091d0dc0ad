# memvisor: `make` builds build/vmm and build/guest.elf.
#   make deps    install the Debian packages the build and tests need
#   make test    every test (unit tests and guest boots, under ASan/UBSan; then test-kvm)
#   make test-kvm  the real-KVM tests: Linux guests under our VMM, in QEMU TCG with nested SVM
#   make demo    the main job: overcommitted guests, reclamation on show
#   make bench   benchmarks: figures and ratios, measured side by side
#   make experiments  the seed paper's experiments (scripts/experiments.sh; QUICK=1: --quick)
CC      := gcc
BUILD   := build
PKGS    := liburing libzstd libxxhash libsodium

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes
CSTD    := -std=c11 -D_GNU_SOURCE
OPT     := -O2 -g
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS  := $(CSTD) $(WARN) $(OPT) -MMD -MP
# Recursive (=), not simple (:=): a target that needs deps (make test-kvm on
# a fresh machine) asks pkg-config when it links, after deps installed the
# packages, not when make reads this file, before.
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread

VMM_SRCS := $(wildcard vmm/*.c)
MM_SRCS  := $(wildcard mm/*.c)
# The parts of vmm/ with no KVM, no threads and no I/O: unit-tested directly.
VMM_PURE := vmm/size.c vmm/config.c vmm/elf_loader.c vmm/boot_layout.c vmm/json.c vmm/ram_map.c

obj      = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
tobj     = $(patsubst %.c,$(BUILD)/test/obj/%.o,$(1))

.PHONY: all deps test test-unit test-valgrind test-integration test-stress test-fuzz test-kvm soak demo bench experiments clean
all: $(BUILD)/vmm $(BUILD)/guest.elf $(BUILD)/vmmctl

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/test/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@

# The control socket's client: no KVM, no memory manager.
$(BUILD)/vmmctl: $(call obj,tools/vmmctl.c tools/jdom.c)
	$(CC) $(OPT) -o $@ $^

$(BUILD)/vmm: $(call obj,$(VMM_SRCS) $(MM_SRCS))
	$(CC) $(OPT) -o $@ $^ $(LDLIBS)

# The test build: the same VMM under ASan and UBSan, next to the same guest.
$(BUILD)/test/vmm: $(call tobj,$(VMM_SRCS) $(MM_SRCS)) | $(BUILD)/test/guest.elf
	$(CC) $(OPT) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/test/guest.elf: $(BUILD)/guest.elf
	@mkdir -p $(dir $@)
	ln -sf ../guest.elf $@

CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

$(BUILD)/test/unit_vmm: $(call tobj,tests/unit/test_vmm.c $(VMM_PURE))
	$(CC) $(OPT) $(SAN) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# mm/ has its own tests and links nothing of vmm/ or KVM.
$(BUILD)/test/unit_mm: $(call tobj,tests/unit/test_mm.c $(MM_SRCS))
	$(CC) $(OPT) $(SAN) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# The same mm unit tests without sanitizers, for Valgrind's memcheck (it and ASan do not mix).
$(BUILD)/vg/unit_mm: $(call obj,tests/unit/test_mm.c $(MM_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)
test-valgrind: $(BUILD)/vg/unit_mm
	@CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite $< \
		>$(BUILD)/vg/unit_mm.log 2>&1 || { cat $(BUILD)/vg/unit_mm.log; exit 1; }
	@tail -n 1 $(BUILD)/vg/unit_mm.log | sed 's/^/valgrind: unit_mm under memcheck: /'
	@echo "valgrind: unit_mm clean (no memory errors, no definite leaks)"

$(BUILD)/test/unit_guest_mem: $(call tobj,tests/unit/test_guest_mem.c $(MM_SRCS))
	$(CC) $(OPT) $(SAN) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# The test guest's pure parts, compiled for the host.
GUEST_PURE := guest/lib/args.c guest/lib/fmt.c guest/kernel/palloc.c guest/kernel/pcache.c guest/workloads/pattern.c
$(call tobj,tests/unit/test_guest.c $(GUEST_PURE)): CFLAGS += -Iguest -I.
$(BUILD)/test/unit_guest: $(call tobj,tests/unit/test_guest.c $(GUEST_PURE))
	$(CC) $(OPT) $(SAN) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# The device models: virtqueues, PCI and virtio-pci, on plain memory.
DEVICES := vmm/virtq.c vmm/pci.c vmm/virtio_pci.c vmm/virtio_balloon.c
$(BUILD)/test/unit_devices: $(call tobj,tests/unit/test_devices.c $(DEVICES))
	$(CC) $(OPT) $(SAN) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# What a Linux guest reads: the bzImage loader, the ACPI tables, the 16550A.
LINUX_PURE := vmm/linux_boot.c vmm/acpi_tables.c vmm/uart.c vmm/ram_map.c
$(BUILD)/test/unit_linux: $(call tobj,tests/unit/test_linux.c $(LINUX_PURE))
	$(CC) $(OPT) $(SAN) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

UNIT_TESTS := $(BUILD)/test/unit_vmm $(BUILD)/test/unit_mm $(BUILD)/test/unit_guest_mem $(BUILD)/test/unit_guest \
	      $(BUILD)/test/unit_devices $(BUILD)/test/unit_linux

# A guest that triple-faults at its first instruction, for the failure tests.
$(BUILD)/test/triplefault.elf: tests/integration/triplefault.S
	@mkdir -p $(dir $@)
	$(CC) -nostdlib -static -no-pie -Wl,-Ttext=0x200000 -Wl,--build-id=none -o $@ $<

include guest/guest.mk

# The suites run one after another even under make -j: side by side, the
# stress test's memory pressure and the fuzzer's CPU would compete with the
# real-KVM harness's emulated L1, whose tests have time bounds.
TEST_SUITES := test-unit test-valgrind test-integration test-stress test-fuzz test-kvm
test: deps
	@$(MAKE) --no-print-directory all $(BUILD)/test/vmm $(UNIT_TESTS) $(BUILD)/test/triplefault.elf
	@set -e; for s in $(TEST_SUITES); do $(MAKE) --no-print-directory $$s; done

test-unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

test-integration: all $(BUILD)/test/vmm $(BUILD)/test/triplefault.elf
	@tests/integration/run.sh $(BUILD)/test/vmm

# libFuzzer on the balloon device and its virtqueues (clang), from the
# committed seeds, for FUZZ_SECS; a crash or a wrong page number fails it.
FUZZ_SECS ?= 60
FUZZ_SRCS := tests/fuzz/fuzz_balloon.c vmm/pci.c vmm/virtio_pci.c vmm/virtio_balloon.c vmm/virtq.c
$(BUILD)/fuzz/fuzz_balloon: $(FUZZ_SRCS) $(wildcard vmm/*.h) tests/lib/flat_ram.h
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -I. $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ $(FUZZ_SRCS)
test-fuzz: $(BUILD)/fuzz/fuzz_balloon
	@tests/fuzz/run.sh $< tests/fuzz/seeds $(FUZZ_SECS)

# Integrity under forced transitions (tests/stress/): short in `make test`, long in `make soak`.
STRESS_SECS ?= 30
test-stress: all $(BUILD)/test/vmm
	@tests/stress/stress.sh $(BUILD)/test/vmm $(BUILD)/vmmctl $(STRESS_SECS)

soak: deps
	@$(MAKE) --no-print-directory all $(BUILD)/test/vmm
	@tests/stress/stress.sh $(BUILD)/test/vmm $(BUILD)/vmmctl 600

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

# The floor figures of a swap-in: a QD1 read and a bare userfaultfd round trip.
$(BUILD)/mmbench: $(call obj,bench/mmbench.c $(MM_SRCS))
	$(CC) $(OPT) -o $@ $^ $(LDLIBS)

# The compression cache's per-page costs, on the workloads' own patterns.
$(call obj,bench/zipbench.c guest/workloads/pattern.c): CFLAGS += -Iguest -I.
$(BUILD)/zipbench: $(call obj,bench/zipbench.c guest/workloads/pattern.c mm/zip.c mm/hist.c)
	$(CC) $(OPT) -o $@ $^ $(LDLIBS)

experiments: deps
	@$(MAKE) --no-print-directory all
	@scripts/experiments.sh $(if $(QUICK),--quick)

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/memstress-host $(BUILD)/mmbench $(BUILD)/zipbench
	@scripts/bench.sh

# A stock Debian cloud kernel and a busybox initramfs for the Linux-guest path
# (build/linux/vmlinuz, build/linux/initramfs.cpio.gz; scripts/linux-guest.sh).
.PHONY: linux-guest
linux-guest:
	@scripts/linux-guest.sh

# The real-KVM tests: a stock Linux guest, and the test guest on real SVM,
# inside an L1 Linux on QEMU TCG (scripts/kvm-harness.sh; about 5 minutes).
test-kvm: deps all linux-guest
	@scripts/kvm-harness.sh -t 1800 tests/kvm/run.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

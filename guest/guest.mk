# The test guest (build/guest.elf) and memstress-host, included by the
# top-level Makefile.  Ring 0 (kernel/) and lib/, which ring 0 also calls,
# are built without SSE: ring 0 is emulated on kvm_pvm and SSE there is
# not.  Ring 3 (user/, workloads/) is ordinary optimised code.
GB        := $(BUILD)/guest
GUEST_CF  := -std=c11 -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
             -fno-asynchronous-unwind-tables -fcf-protection=none -O2 -g \
             $(WARN) -MMD -MP -Iguest -I.
GUEST_R0  := $(GUEST_CF) -mgeneral-regs-only -mno-red-zone
GUEST_R3  := $(GUEST_CF)

GUEST_K_OBJS := $(patsubst guest/%,$(GB)/%.o,$(basename $(wildcard guest/kernel/*.c guest/kernel/*.S)))
GUEST_L_OBJS := $(patsubst guest/%.c,$(GB)/%.o,$(wildcard guest/lib/*.c))
GUEST_W_SRCS := $(wildcard guest/workloads/*.c)
GUEST_D_SRCS := $(wildcard balloon-driver/*.c)
GUEST_U_OBJS := $(patsubst guest/%.c,$(GB)/%.o,$(wildcard guest/user/*.c) $(GUEST_W_SRCS)) $(GB)/user/hist.o \
                $(patsubst %.c,$(GB)/%.o,$(GUEST_D_SRCS))

# One rule per source kind; ring 0's objects (and lib/, which ring 0 calls)
# get the no-SSE flags.
GUEST_FLAGS = $(GUEST_R3)
$(GUEST_K_OBJS) $(GUEST_L_OBJS): GUEST_FLAGS = $(GUEST_R0)
$(GB)/%.o: guest/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_FLAGS) -c $< -o $@
$(GB)/%.o: guest/%.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_FLAGS) -c $< -o $@
# The balloon driver runs in ring 3.
$(GB)/balloon-driver/%.o: balloon-driver/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_R3) -c $< -o $@
# mm/'s latency histogram, reused as is by memstress.
$(GB)/user/hist.o: mm/hist.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_R3) -c $< -o $@

$(BUILD)/guest.elf: $(GUEST_K_OBJS) $(GUEST_L_OBJS) $(GUEST_U_OBJS) guest/kernel.ld
	$(CC) -nostdlib -static -no-pie -Wl,-T,guest/kernel.ld -Wl,--build-id=none \
		-Wl,-z,noexecstack -o $@ $(GUEST_K_OBJS) $(GUEST_L_OBJS) $(GUEST_U_OBJS) -lgcc

# memstress-host: the same workload objects, compiled with the same flags,
# as a Linux process: the peer of the guest in `make bench`.
HB := $(BUILD)/host-ms
HOST_MS_OBJS := $(patsubst guest/%.c,$(HB)/%.o,$(GUEST_W_SRCS) $(wildcard guest/lib/*.c)) $(HB)/hist.o \
                $(HB)/host/memstress_host.o $(patsubst %.c,$(HB)/%.o,$(GUEST_D_SRCS))
# Not on a host: libc has the string functions, and there is no line port.
HOST_MS_OBJS := $(filter-out $(HB)/lib/string.o $(HB)/lib/line.o,$(HOST_MS_OBJS))

$(HB)/%.o: guest/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_R3) -c $< -o $@
$(HB)/balloon-driver/%.o: balloon-driver/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_R3) -c $< -o $@
$(HB)/hist.o: mm/hist.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_R3) -c $< -o $@
$(HB)/host/memstress_host.o: guest/host/memstress_host.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iguest -I. -fno-pie -c $< -o $@

$(BUILD)/memstress-host: $(HOST_MS_OBJS)
	$(CC) -no-pie -o $@ $^

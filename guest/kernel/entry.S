/*
 * Ring-0 entry points of the test guest: the boot entry, the exception
 * stubs, the system-call gate and the drop to ring 3.  Every instruction
 * here is emulated on kvm_pvm (about 1 us each), so the paths are short.
 */
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b
#define SEL_UCODE 0x23
#define USER_RFLAGS 0x3202   /* IF set (device interrupts); IOPL 3 where honoured (kvm_pvm clears it: see cpu.c) */

	.section .text.entry, "ax"
	.globl _start
_start:
	/* Only vCPU 0 runs the guest; the others stop for good. */
	test %esi, %esi
	jnz park
	lea kstack_top(%rip), %rsp
	xor %ebp, %ebp
	call kmain          /* RDI = boot info; never returns */
park:
	cli
1:	hlt
	jmp 1b

	.text
/* void cpu_reload_segments(void): CS and the data segments from our GDT. */
	.globl cpu_reload_segments
cpu_reload_segments:
	pushq $0x08
	lea 1f(%rip), %rax
	pushq %rax
	lretq
1:	mov $SEL_KDATA, %eax
	mov %eax, %ss
	mov %eax, %ds
	mov %eax, %es
	ret

/* noreturn void enter_user(uint64_t rip, uint64_t rsp, uint64_t arg) */
	.globl enter_user
enter_user:
	pushq $SEL_UDATA
	pushq %rsi
	pushq $USER_RFLAGS
	pushq $SEL_UCODE
	pushq %rdi
	mov %rdx, %rdi
	xor %eax, %eax
	mov %eax, %ds
	mov %eax, %es
	iretq

/*
 * The system-call gate is int3 (vector 3, a DPL-3 trap gate): on kvm_pvm
 * `syscall` reaches LSTAR without leaving ring 3, and `int imm8` from
 * ring 3 triple-faults, while exceptions do enter ring 0.  int3 is one
 * byte, and the saved RIP already points past it.
 * In: RAX = number, RDI, RSI, RDX = arguments.  Out: RAX.
 * Ring 0 always runs with interrupts off (every gate is an interrupt
 * gate), so its single stack is enough.
 */
	.globl syscall_gate
syscall_gate:
	sub $8, %rsp        /* 5-word frame: re-align to 16 for the C call */
	mov %rdx, %rcx
	mov %rsi, %rdx
	mov %rdi, %rsi
	mov %rax, %rdi
	call syscall_dispatch   /* (nr, a0, a1, a2) */
	add $8, %rsp
	iretq

/* Exception stubs: one error-code slot and the vector, then a common frame. */
.macro ISR_NOERR n
isr\n:
	pushq $0
	pushq $\n
	jmp isr_common
.endm
.macro ISR_ERR n
isr\n:
	pushq $\n
	jmp isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR   8
ISR_NOERR 9
ISR_ERR   10
ISR_ERR   11
ISR_ERR   12
ISR_ERR   13
ISR_ERR   14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR   17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR   21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR   29
ISR_ERR   30
ISR_NOERR 31
/* The PIC lines, vectors 32-47. */
.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
ISR_NOERR \n
.endr

/* Layout must match struct trap_frame in kernel.h. */
isr_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	call trap_handler
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

	.section .rodata
	.globl isr_table
	.balign 8
isr_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
	.quad isr\n
	.endr

	.bss
	.balign 16
	.globl kstack_top
kstack:
	.skip 16384
kstack_top:
	.section .note.GNU-stack, "", @progbits

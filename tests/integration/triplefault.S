/* A guest that faults before it has an IDT: the CPU triple-faults. */
	.globl _start
_start:
	ud2

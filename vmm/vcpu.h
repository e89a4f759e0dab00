/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: one virtual CPU.  The machine runs each on its own thread;
 * this file knows the KVM side (set-up, the exit loop, the kick signal),
 * not the machine's states.
 */
#ifndef FERRY_VMM_VCPU_H
#define FERRY_VMM_VCPU_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

struct kvm_vm;
struct vmm_bus;
struct boot_cpu_state;

/* Sent to a vCPU thread to make it leave KVM_RUN (see vcpu_thread_init()). */
#define VCPU_KICK_SIGNAL SIGUSR1

enum vcpu_exit {
	VCPU_EXIT_KICKED,	/* interrupted by VCPU_KICK_SIGNAL: look at the machine's flags */
	VCPU_EXIT_HLT,		/* HLT with no in-kernel irqchip (tests only) */
	VCPU_EXIT_SHUTDOWN,	/* triple fault: the CPU resets */
	VCPU_EXIT_POWEROFF,	/* KVM_SYSTEM_EVENT_SHUTDOWN */
	VCPU_EXIT_RESET,	/* KVM_SYSTEM_EVENT_RESET */
	VCPU_EXIT_ERROR,	/* entry failure, internal error, unknown exit: diagnosed */
};

struct vcpu;

/*
 * Creates vCPU @id (its APIC id) of @nr_vcpus: CPUID, MSR defaults
 * (MTRRdefType write-back among them), FPU, and with an in-kernel irqchip
 * the LAPIC's LINT0 (ExtINT on the BSP) and LINT1 (NMI).
 */
int vcpu_new(struct kvm_vm *vm, unsigned int id, unsigned int nr_vcpus, struct vcpu **vcpu,
	     char *err, size_t errlen);
void vcpu_free(struct vcpu *vcpu);

int vcpu_fd(const struct vcpu *vcpu);
unsigned int vcpu_id(const struct vcpu *vcpu);

/*
 * Puts the vCPU back as vcpu_new() left it (registers, FPU, XCR0, LAPIC,
 * MSR defaults, KVM's paravirtual MSRs off, BSP runnable / AP waiting for
 * SIPI).  Only while the vCPU's thread is parked outside KVM_RUN.
 */
int vcpu_reset(struct vcpu *vcpu);

/* Puts the vCPU in 64-bit mode at the kernel's entry point. */
int vcpu_set_boot_state(struct vcpu *vcpu, const struct boot_cpu_state *st);

/*
 * Installs the process-wide handler of VCPU_KICK_SIGNAL (idempotent).
 * Called once before any vCPU thread starts.
 */
int vcpu_signal_init(void);
/* Called first on the vCPU's own thread: binds the kick to it and unblocks the signal. */
void vcpu_thread_init(struct vcpu *vcpu);

/*
 * Runs the guest, handling port I/O and MMIO through @bus, until an exit
 * the machine must see.  Runs on the thread that called vcpu_thread_init().
 */
enum vcpu_exit vcpu_run(struct vcpu *vcpu, struct vmm_bus *bus);

/* Registers and control registers, for a person reading a failure. */
void vcpu_dump(struct vcpu *vcpu, FILE *out);

#endif /* FERRY_VMM_VCPU_H */

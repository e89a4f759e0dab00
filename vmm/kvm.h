/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: the KVM virtual machine: /dev/kvm, the VM fd, its in-kernel
 * interrupt controllers, the memslots that follow the guest memory map, and
 * the GSI routing table, which the VMM owns (KVM only ever gets a full copy).
 */
#ifndef FERRY_VMM_KVM_H
#define FERRY_VMM_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

struct mem_map;

/* Legacy interrupts: GSIs 0..23 are the IOAPIC's pins (0..15 also the PICs'). */
#define KVM_GSI_LEGACY_COUNT	24

struct kvm_vm_opts {
	const char *dev_path;	/* NULL: /dev/kvm */
	/*
	 * Create the in-kernel IOAPIC/PIC/LAPIC, the PIT and the GSI routing.
	 * Only tests turn this off, to see HLT exits of a bare vCPU.
	 */
	bool irqchip;
};

struct kvm_vm;

/*
 * Opens KVM, checks its API and every capability ferry relies on, creates
 * the VM.  Errors are explained in @err (a missing capability is named).
 */
int kvm_vm_new(const struct kvm_vm_opts *opts, struct kvm_vm **vm, char *err, size_t errlen);
void kvm_vm_free(struct kvm_vm *vm);

int kvm_vm_fd(const struct kvm_vm *vm);
int kvm_vm_sys_fd(const struct kvm_vm *vm);
/* Size of the kvm_run area of a vCPU fd (KVM_GET_VCPU_MMAP_SIZE). */
size_t kvm_vm_run_size(const struct kvm_vm *vm);
bool kvm_vm_has_irqchip(const struct kvm_vm *vm);
/* Largest vCPU count KVM accepts (KVM_CAP_MAX_VCPUS). */
unsigned int kvm_vm_max_vcpus(const struct kvm_vm *vm);
/* KVM_GET_SUPPORTED_CPUID; owned by @vm. */
const struct kvm_cpuid2 *kvm_vm_supported_cpuid(const struct kvm_vm *vm);

/* Makes every region of @map (now and later) a KVM memslot, until the VM is freed. */
int kvm_vm_track_memory(struct kvm_vm *vm, struct mem_map *map);

/* Puts the PICs, the IOAPIC and the PIT back in their state at creation (reset). */
int kvm_vm_reset_irqchip(struct kvm_vm *vm);

/* KVM_IRQ_LINE: drives a legacy GSI (edge devices pulse it: 1 then 0). */
int kvm_vm_irq_line(struct kvm_vm *vm, uint32_t gsi, bool level);

/*
 * MSI routes for passthrough MSI/MSI-X.  A route gets a GSI >= 24; its
 * address/data can change (the guest reprograms vectors) without a new GSI,
 * so an irqfd bound to it stays valid.  Every change is pushed to KVM
 * before the call returns.
 */
int kvm_gsi_alloc_msi(struct kvm_vm *vm, uint64_t addr, uint32_t data, uint32_t *gsi);
int kvm_gsi_update_msi(struct kvm_vm *vm, uint32_t gsi, uint64_t addr, uint32_t data);
int kvm_gsi_free(struct kvm_vm *vm, uint32_t gsi);

/*
 * KVM_IRQFD: a write to @fd raises @gsi.  With @resample_fd >= 0 the GSI is
 * level-triggered: KVM deasserts it on the guest's EOI and signals
 * @resample_fd (INTx passthrough).
 */
int kvm_irqfd_assign(struct kvm_vm *vm, int fd, uint32_t gsi, int resample_fd);
int kvm_irqfd_deassign(struct kvm_vm *vm, int fd, uint32_t gsi);

#endif /* FERRY_VMM_KVM_H */

// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPUID fix-ups.  KVM_GET_SUPPORTED_CPUID reports what the host and KVM can
 * offer but leaves every per-CPU field (APIC ids) and the topology to the
 * VMM: without them all vCPUs would claim APIC id 0.
 */
#include "vmm/cpuid.h"

#define CPUID_1_ECX_HYPERVISOR	(1u << 31)
#define CPUID_1_EDX_HTT		(1u << 28)
#define TOPO_LEVEL_SMT		1
#define TOPO_LEVEL_CORE		2

/* Bits needed to number @n things (0 for 1). */
static unsigned int order_base2(unsigned int n)
{
	unsigned int bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void fix_topology_leaf(struct kvm_cpuid_entry2 *e, unsigned int apic_id,
			      unsigned int nr_vcpus)
{
	/* Subleaf 0: threads (one per core); 1: cores; others: invalid. */
	e->edx = apic_id;
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (TOPO_LEVEL_SMT << 8) | e->index;
		break;
	case 1:
		e->eax = order_base2(nr_vcpus);
		e->ebx = nr_vcpus;
		e->ecx = (TOPO_LEVEL_CORE << 8) | e->index;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

void cpuid_fixup(struct kvm_cpuid2 *cpuid, unsigned int apic_id, unsigned int nr_vcpus)
{
	unsigned int bits = order_base2(nr_vcpus);
	unsigned int per_pkg = 1u << bits;

	for (unsigned int i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 0x1:
			e->ebx = (e->ebx & 0x0000ffff) | (per_pkg & 0xff) << 16 | apic_id << 24;
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (nr_vcpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 0x4:
			/* Cores per package - 1, and each cache private to its core. */
			if (e->eax & 0x1f)
				e->eax = (e->eax & 0x3fff) | ((per_pkg - 1) & 0x3f) << 26;
			break;
		case 0xb:
		case 0x1f:
			fix_topology_leaf(e, apic_id, nr_vcpus);
			break;
		case 0x80000008:
			/* AMD: cores per package - 1 and the APIC id bits that number them. */
			e->ecx = (e->ecx & ~0xf0ffu) | (bits & 0xf) << 12 | ((nr_vcpus - 1) & 0xff);
			break;
		case 0x8000001e:
			/* AMD: extended APIC id, core id, one thread per core, node 0. */
			e->eax = apic_id;
			e->ebx = apic_id & 0xff;
			e->ecx = 0;
			break;
		default:
			break;
		}
	}
}

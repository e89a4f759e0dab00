/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: the guest's CPUID, derived from what KVM supports.  Each
 * vCPU gets its own copy with its APIC id and the machine's topology (one
 * socket, one thread per core, @nr_vcpus cores), so that the topology leaves
 * agree with the MADT.
 */
#ifndef FERRY_VMM_CPUID_H
#define FERRY_VMM_CPUID_H

#include <linux/kvm.h>

/* Rewrites @cpuid in place for vCPU @apic_id of @nr_vcpus. */
void cpuid_fixup(struct kvm_cpuid2 *cpuid, unsigned int apic_id, unsigned int nr_vcpus);

#endif /* FERRY_VMM_CPUID_H */

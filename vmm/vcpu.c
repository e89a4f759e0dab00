// SPDX-License-Identifier: GPL-2.0-only
/*
 * One vCPU: KVM set-up and the exit loop.
 *
 * Kicking: the machine sends VCPU_KICK_SIGNAL to the vCPU's thread.  The
 * handler sets kvm_run.immediate_exit of the vCPU bound to that thread, so
 * the kick is never lost: during KVM_RUN it interrupts it (EINTR), and
 * between a flag check and the next KVM_RUN it makes that KVM_RUN return at
 * once.  vcpu_run() clears immediate_exit when it reports the kick.
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "vmm/boot.h"
#include "vmm/bus.h"
#include "vmm/cpuid.h"
#include "vmm/kvm.h"
#include "vmm/vcpu.h"

#define MSR_IA32_SYSENTER_CS	0x00000174
#define MSR_IA32_SYSENTER_ESP	0x00000175
#define MSR_IA32_SYSENTER_EIP	0x00000176
#define MSR_IA32_MISC_ENABLE	0x000001a0
#define MSR_MTRR_DEF_TYPE	0x000002ff
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102

#define MISC_ENABLE_FAST_STRING	0x1
/* MTRRs enabled (bit 11), fixed-range enabled (bit 10), default type write-back (6). */
#define MTRR_DEF_TYPE_WB_ENABLED 0xc06

#define APIC_LVT0		0x350
#define APIC_LVT1		0x360
#define APIC_MODE_NMI		0x4
#define APIC_MODE_EXTINT	0x7

/* KVM's paravirtual MSRs: zeroed on reset so KVM stops writing into old guest memory. */
static const uint32_t vcpu_pv_msrs[] = {
	0x4b564d00,	/* wall clock */
	0x4b564d01,	/* system time (kvmclock page) */
	0x4b564d02,	/* async page faults */
	0x4b564d03,	/* steal time */
	0x4b564d04,	/* PV EOI */
	0x4b564d06,	/* async PF interrupt */
	0x11,		/* legacy wall clock */
	0x12,		/* legacy system time */
};

/* What the vCPU looked like when ferry had set it up: a reset goes back to it. */
struct vcpu_reset_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_xcrs xcrs;
	struct kvm_vcpu_events events;	/* nothing pending: no exception, NMI or interrupt */
	bool has_lapic, has_xcrs;
};

struct vcpu {
	unsigned int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	struct kvm_vm *vm;
	struct vcpu_reset_state reset;
};

static __thread struct kvm_run *vcpu_tls_run;

static void vcpu_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void vcpu_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int vcpu_set_cpuid(struct vcpu *v, unsigned int nr_vcpus)
{
	const struct kvm_cpuid2 *sup = kvm_vm_supported_cpuid(v->vm);
	size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int ret = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, sup, sz);
	cpuid_fixup(c, v->id, nr_vcpus);
	if (ioctl(v->fd, KVM_SET_CPUID2, c))
		ret = -errno;
	free(c);
	return ret;
}

static const struct {
	uint32_t index;
	uint64_t value;
} vcpu_msr_defaults[] = {
	{ MSR_IA32_SYSENTER_CS, 0 },
	{ MSR_IA32_SYSENTER_ESP, 0 },
	{ MSR_IA32_SYSENTER_EIP, 0 },
	{ MSR_STAR, 0 },
	{ MSR_LSTAR, 0 },
	{ MSR_CSTAR, 0 },
	{ MSR_SYSCALL_MASK, 0 },
	{ MSR_KERNEL_GS_BASE, 0 },
	{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
	/*
	 * No firmware runs to program the MTRRs.  Once a device is registered
	 * with kvm-vfio, KVM honours the guest's MTRRs, and the reset value
	 * (disabled = uncached) would make all RAM uncached.
	 */
	{ MSR_MTRR_DEF_TYPE, MTRR_DEF_TYPE_WB_ENABLED },
};

#define VCPU_NR_MSRS (sizeof(vcpu_msr_defaults) / sizeof(vcpu_msr_defaults[0]))

static int vcpu_set_msrs(struct vcpu *v, char *err, size_t errlen)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[VCPU_NR_MSRS];
	} m;
	int n;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = VCPU_NR_MSRS;
	for (size_t i = 0; i < VCPU_NR_MSRS; i++) {
		m.e[i].index = vcpu_msr_defaults[i].index;
		m.e[i].data = vcpu_msr_defaults[i].value;
	}
	n = ioctl(v->fd, KVM_SET_MSRS, &m);
	if (n < 0) {
		n = -errno;
		vcpu_err(err, errlen, "vCPU %u: KVM_SET_MSRS failed: %s", v->id, strerror(-n));
		return n;
	}
	if ((size_t)n < VCPU_NR_MSRS) {
		/* KVM stops at the first MSR it refuses. */
		vcpu_err(err, errlen, "vCPU %u: KVM refused to set MSR 0x%x to 0x%llx", v->id,
			 vcpu_msr_defaults[n].index,
			 (unsigned long long)vcpu_msr_defaults[n].value);
		return -EINVAL;
	}
	return 0;
}

static void lapic_set_lvt(struct kvm_lapic_state *s, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &s->regs[reg], sizeof(v));
	/* Delivery mode is bits 8-10; unmask (bit 16). */
	v = (v & ~(0x700u | 0x10000u)) | mode << 8;
	memcpy(&s->regs[reg], &v, sizeof(v));
}

static int vcpu_set_lapic(struct vcpu *v)
{
	struct kvm_lapic_state s;

	if (ioctl(v->fd, KVM_GET_LAPIC, &s))
		return -errno;
	/* The BSP takes the PIC's interrupts (ExtINT) until the OS switches to the IOAPIC. */
	if (v->id == 0)
		lapic_set_lvt(&s, APIC_LVT0, APIC_MODE_EXTINT);
	lapic_set_lvt(&s, APIC_LVT1, APIC_MODE_NMI);
	return ioctl(v->fd, KVM_SET_LAPIC, &s) ? -errno : 0;
}

static int vcpu_set_fpu(struct vcpu *v)
{
	struct kvm_fpu fpu = {
		.fcw = 0x37f,		/* x87 reset value: all exceptions masked */
		.mxcsr = 0x1f80,	/* SSE reset value: all exceptions masked */
	};

	return ioctl(v->fd, KVM_SET_FPU, &fpu) ? -errno : 0;
}

static int vcpu_save_reset_state(struct vcpu *v)
{
	struct vcpu_reset_state *r = &v->reset;

	if (ioctl(v->fd, KVM_GET_REGS, &r->regs) || ioctl(v->fd, KVM_GET_SREGS, &r->sregs) ||
	    ioctl(v->fd, KVM_GET_FPU, &r->fpu) || ioctl(v->fd, KVM_GET_MP_STATE, &r->mp) ||
	    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &r->events))
		return -errno;
	r->has_lapic = kvm_vm_has_irqchip(v->vm);
	if (r->has_lapic && ioctl(v->fd, KVM_GET_LAPIC, &r->lapic))
		return -errno;
	r->has_xcrs = ioctl(kvm_vm_sys_fd(v->vm), KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	if (r->has_xcrs && ioctl(v->fd, KVM_GET_XCRS, &r->xcrs))
		return -errno;
	return 0;
}

int vcpu_reset(struct vcpu *v)
{
	struct vcpu_reset_state *r = &v->reset;
	int ret;

	/* SREGS first: it carries the APIC base, which the LAPIC state must match. */
	if (ioctl(v->fd, KVM_SET_SREGS, &r->sregs) || ioctl(v->fd, KVM_SET_REGS, &r->regs) ||
	    ioctl(v->fd, KVM_SET_FPU, &r->fpu))
		return -errno;
	if (r->has_xcrs && ioctl(v->fd, KVM_SET_XCRS, &r->xcrs))
		return -errno;
	if (r->has_lapic && ioctl(v->fd, KVM_SET_LAPIC, &r->lapic))
		return -errno;
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &r->events))
		return -errno;
	ret = vcpu_set_msrs(v, NULL, 0);
	if (ret)
		return ret;
	for (size_t i = 0; i < sizeof(vcpu_pv_msrs) / sizeof(vcpu_pv_msrs[0]); i++) {
		struct {
			struct kvm_msrs hdr;
			struct kvm_msr_entry e;
		} m = { .hdr.nmsrs = 1, .e.index = vcpu_pv_msrs[i] };

		/* Refused means KVM lacks it, so the guest cannot have enabled it. */
		ioctl(v->fd, KVM_SET_MSRS, &m);
	}
	/* The BSP runs; APs wait for INIT/SIPI again. */
	return ioctl(v->fd, KVM_SET_MP_STATE, &r->mp) ? -errno : 0;
}

int vcpu_new(struct kvm_vm *vm, unsigned int id, unsigned int nr_vcpus, struct vcpu **out,
	     char *err, size_t errlen)
{
	struct vcpu *v = calloc(1, sizeof(*v));
	int ret;

	if (!v)
		return -ENOMEM;
	v->id = id;
	v->vm = vm;
	v->run_size = kvm_vm_run_size(vm);
	v->fd = ioctl(kvm_vm_fd(vm), KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		ret = -errno;
		vcpu_err(err, errlen, "cannot create vCPU %u: KVM_CREATE_VCPU: %s", id,
			 strerror(-ret));
		goto err_free;
	}
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		ret = -errno;
		vcpu_err(err, errlen, "vCPU %u: cannot map kvm_run: %s", id, strerror(-ret));
		goto err_close;
	}
	ret = vcpu_set_cpuid(v, nr_vcpus);
	if (ret) {
		vcpu_err(err, errlen, "vCPU %u: KVM_SET_CPUID2 failed: %s", id, strerror(-ret));
		goto err_unmap;
	}
	ret = vcpu_set_msrs(v, err, errlen);
	if (ret)
		goto err_unmap;
	ret = vcpu_set_fpu(v);
	if (ret) {
		vcpu_err(err, errlen, "vCPU %u: KVM_SET_FPU failed: %s", id, strerror(-ret));
		goto err_unmap;
	}
	if (kvm_vm_has_irqchip(vm)) {
		ret = vcpu_set_lapic(v);
		if (ret) {
			vcpu_err(err, errlen, "vCPU %u: setting up its LAPIC failed: %s", id,
				 strerror(-ret));
			goto err_unmap;
		}
	}
	ret = vcpu_save_reset_state(v);
	if (ret) {
		vcpu_err(err, errlen, "vCPU %u: cannot read its initial state: %s", id,
			 strerror(-ret));
		goto err_unmap;
	}
	*out = v;
	return 0;

err_unmap:
	munmap(v->run, v->run_size);
err_close:
	close(v->fd);
err_free:
	free(v);
	return ret;
}

void vcpu_free(struct vcpu *v)
{
	if (!v)
		return;
	munmap(v->run, v->run_size);
	close(v->fd);
	free(v);
}

int vcpu_fd(const struct vcpu *v)
{
	return v->fd;
}

unsigned int vcpu_id(const struct vcpu *v)
{
	return v->id;
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code64 ? 0 : 1,
		.s = 1,
		.l = code64 ? 1 : 0,
		.g = 1,
	};
}

int vcpu_set_boot_state(struct vcpu *v, const struct boot_cpu_state *st)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	seg_flat(&sregs.cs, st->cs, 0xb, true);		/* execute/read, accessed */
	seg_flat(&sregs.ds, st->ds, 0x3, false);	/* read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = st->gdt_base;
	sregs.gdt.limit = st->gdt_limit;
	sregs.cr0 = st->cr0;
	sregs.cr3 = st->cr3;
	sregs.cr4 = st->cr4;
	sregs.efer = st->efer;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs))
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;	/* bit 1 is always set; interrupts off */
	regs.rip = st->rip;
	regs.rsi = st->rsi;
	regs.rsp = st->rsp;
	regs.rbp = st->rsp;
	return ioctl(v->fd, KVM_SET_REGS, &regs) ? -errno : 0;
}

static void vcpu_kick_handler(int sig)
{
	(void)sig;
	if (vcpu_tls_run)
		vcpu_tls_run->immediate_exit = 1;
}

int vcpu_signal_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;
	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) ? -errno : 0;
}

void vcpu_thread_init(struct vcpu *v)
{
	sigset_t set;

	vcpu_tls_run = v->run;
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void vcpu_io(struct vcpu *v, struct vmm_bus *bus)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep outs/ins) arrives as @count back-to-back items. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		vmm_bus_access(bus, VMM_BUS_PIO, run->io.port, data, run->io.size, is_write);
		data += run->io.size;
	}
}

static void vcpu_mmio(struct vcpu *v, struct vmm_bus *bus)
{
	struct kvm_run *run = v->run;

	vmm_bus_access(bus, VMM_BUS_MMIO, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
		       run->mmio.is_write);
}

enum vcpu_exit vcpu_run(struct vcpu *v, struct vmm_bus *bus)
{
	struct kvm_run *run = v->run;

	for (;;) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				run->immediate_exit = 0;
				return VCPU_EXIT_KICKED;
			}
			fprintf(stderr, "ferry: vCPU %u: KVM_RUN failed: %s\n", v->id,
				strerror(errno));
			vcpu_dump(v, stderr);
			return VCPU_EXIT_ERROR;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			vcpu_io(v, bus);
			break;
		case KVM_EXIT_MMIO:
			vcpu_mmio(v, bus);
			break;
		case KVM_EXIT_INTR:
			return VCPU_EXIT_KICKED;
		case KVM_EXIT_HLT:
			return VCPU_EXIT_HLT;
		case KVM_EXIT_SHUTDOWN:
			return VCPU_EXIT_SHUTDOWN;
		case KVM_EXIT_SYSTEM_EVENT:
			if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
				return VCPU_EXIT_POWEROFF;
			if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
				return VCPU_EXIT_RESET;
			fprintf(stderr, "ferry: vCPU %u: system event %u (guest crash?)\n",
				v->id, run->system_event.type);
			vcpu_dump(v, stderr);
			return VCPU_EXIT_ERROR;
		case KVM_EXIT_FAIL_ENTRY:
			fprintf(stderr, "ferry: vCPU %u: KVM could not enter the guest "
				"(hardware entry failure reason 0x%llx): "
				"the CPU state is invalid\n",
				v->id, (unsigned long long)
				run->fail_entry.hardware_entry_failure_reason);
			vcpu_dump(v, stderr);
			return VCPU_EXIT_ERROR;
		case KVM_EXIT_INTERNAL_ERROR:
			fprintf(stderr, "ferry: vCPU %u: KVM internal error, suberror %u%s\n",
				v->id, run->internal.suberror,
				run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
				" (KVM could not emulate an instruction)" : "");
			vcpu_dump(v, stderr);
			return VCPU_EXIT_ERROR;
		default:
			fprintf(stderr, "ferry: vCPU %u: unexpected KVM exit reason %u\n", v->id,
				run->exit_reason);
			vcpu_dump(v, stderr);
			return VCPU_EXIT_ERROR;
		}
	}
}

static void dump_seg(FILE *out, const char *name, const struct kvm_segment *s)
{
	fprintf(out, "  %-3s sel=%04x base=%016llx limit=%08x type=%x p=%u dpl=%u db=%u "
		"l=%u g=%u\n",
		name, s->selector, (unsigned long long)s->base, s->limit, s->type, s->present,
		s->dpl, s->db, s->l, s->g);
}

void vcpu_dump(struct vcpu *v, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) || ioctl(v->fd, KVM_GET_SREGS, &s)) {
		fprintf(out, "  (registers unavailable: %s)\n", strerror(errno));
		return;
	}
	fprintf(out, "  rip=%016llx rsp=%016llx rflags=%016llx\n",
		(unsigned long long)r.rip, (unsigned long long)r.rsp,
		(unsigned long long)r.rflags);
	fprintf(out, "  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n",
		(unsigned long long)r.rax, (unsigned long long)r.rbx,
		(unsigned long long)r.rcx, (unsigned long long)r.rdx);
	fprintf(out, "  rsi=%016llx rdi=%016llx rbp=%016llx\n",
		(unsigned long long)r.rsi, (unsigned long long)r.rdi,
		(unsigned long long)r.rbp);
	fprintf(out, "  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx\n",
		(unsigned long long)s.cr0, (unsigned long long)s.cr2,
		(unsigned long long)s.cr3, (unsigned long long)s.cr4,
		(unsigned long long)s.efer);
	dump_seg(out, "cs", &s.cs);
	dump_seg(out, "ds", &s.ds);
	dump_seg(out, "ss", &s.ss);
	dump_seg(out, "tr", &s.tr);
	fprintf(out, "  gdt base=%016llx limit=%04x idt base=%016llx limit=%04x\n",
		(unsigned long long)s.gdt.base, s.gdt.limit, (unsigned long long)s.idt.base,
		s.idt.limit);
}

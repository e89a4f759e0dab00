// SPDX-License-Identifier: GPL-2.0-only
/*
 * The KVM VM: capabilities, in-kernel irqchip and PIT, memslots following
 * the memory map, and the GSI routing table.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "memory/memory.h"
#include "vmm/kvm.h"
#include "vmm/layout.h"

/* MSI routes live in GSIs [KVM_GSI_LEGACY_COUNT, KVM_GSI_MAX). */
#define KVM_GSI_MAX		1024
#define KVM_CPUID_MAX_ENTRIES	256

struct kvm_msi_route {
	bool used;
	uint64_t addr;
	uint32_t data;
};

struct kvm_slot {
	bool used;
	uint64_t gpa;
};

struct kvm_vm {
	int sys_fd;
	int vm_fd;
	size_t run_size;
	unsigned int max_vcpus;
	bool irqchip;
	struct kvm_cpuid2 *cpuid;

	struct mem_map *map;
	struct mem_listener *listener;
	struct kvm_slot *slots;
	unsigned int nr_slots;

	/* Interrupt controllers and PIT as created, restored on reset. */
	struct kvm_irqchip chips[3];
	struct kvm_pit_state2 pit;

	pthread_mutex_t gsi_lock;
	unsigned int gsi_max;
	struct kvm_msi_route msi[KVM_GSI_MAX - KVM_GSI_LEGACY_COUNT];
};

static void kvm_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const struct {
	int cap;
	const char *name;
	const char *why;
} kvm_required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM from user memory" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel IOAPIC, PIC and LAPIC" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "real-mode TSS on Intel" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR",
	  "real-mode identity map on Intel" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "setting the guest's CPUID" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT timer" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", "GSI routing for MSI passthrough" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts by eventfd" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "doorbells by eventfd" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "pausing vCPUs without races" },
};

static int kvm_open_dev(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOENT:
		kvm_err(err, errlen,
			"%s does not exist: KVM is not available on this host (load the kvm-intel "
			"or kvm-amd module, and enable virtualisation in the firmware)", path);
		return -ENOENT;
	case EACCES:
	case EPERM:
		kvm_err(err, errlen,
			"no permission to open %s: run ferry as a member of its group (usually "
			"`kvm`: usermod -aG kvm $USER) or as root", path);
		return -EACCES;
	default: {
		int e = errno;

		kvm_err(err, errlen, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	}
}

static int kvm_check(struct kvm_vm *vm, const char *path, char *err, size_t errlen)
{
	int ver = ioctl(vm->sys_fd, KVM_GET_API_VERSION, 0);
	int n;

	if (ver != KVM_API_VERSION) {
		kvm_err(err, errlen, "%s speaks KVM API version %d; ferry needs version %d",
			path, ver, KVM_API_VERSION);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(kvm_required_caps) / sizeof(kvm_required_caps[0]); i++) {
		if (ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, kvm_required_caps[i].cap) <= 0) {
			kvm_err(err, errlen,
				"this host's KVM lacks %s (%s), which ferry needs; use a newer "
				"kernel", kvm_required_caps[i].name, kvm_required_caps[i].why);
			return -ENOTSUP;
		}
	}
	n = ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (n <= 0) {
		kvm_err(err, errlen, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
		return -ENOTSUP;
	}
	vm->run_size = (size_t)n;
	n = ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	vm->max_vcpus = n > 0 ? (unsigned int)n : 1;
	n = ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	vm->nr_slots = n > 0 ? (unsigned int)n : 32;
	n = ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING);
	vm->gsi_max = n > KVM_GSI_MAX ? KVM_GSI_MAX : (unsigned int)n;
	return 0;
}

static int kvm_get_cpuid(struct kvm_vm *vm, char *err, size_t errlen)
{
	vm->cpuid = calloc(1, sizeof(*vm->cpuid) +
			   KVM_CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!vm->cpuid)
		return -ENOMEM;
	vm->cpuid->nent = KVM_CPUID_MAX_ENTRIES;
	if (ioctl(vm->sys_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid)) {
		int e = errno;

		kvm_err(err, errlen, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(e));
		return -e;
	}
	return 0;
}

/*
 * Builds the whole routing table from the VMM's copy and hands it to KVM.
 * Legacy part: ISA IRQ n reaches PIC pin n and IOAPIC pin n, except that
 * the PIT's IRQ 0 is wired to IOAPIC pin 2 (the MADT says so with an
 * interrupt source override) and GSI 2, the PIC cascade, has no route.
 */
static int kvm_gsi_push(struct kvm_vm *vm)
{
	unsigned int max = 16 + KVM_GSI_LEGACY_COUNT + vm->gsi_max;
	struct kvm_irq_routing *tbl;
	struct kvm_irq_routing_entry *e;
	unsigned int n = 0;
	int ret = 0;

	tbl = calloc(1, sizeof(*tbl) + max * sizeof(*e));
	if (!tbl)
		return -ENOMEM;
	e = tbl->entries;
	for (unsigned int gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue;
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
		e[n].u.irqchip.pin = gsi & 7;
		n++;
	}
	for (unsigned int gsi = 0; gsi < KVM_GSI_LEGACY_COUNT; gsi++) {
		if (gsi == 2)
			continue;
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[n].u.irqchip.pin = gsi == 0 ? 2 : gsi;
		n++;
	}
	for (unsigned int gsi = KVM_GSI_LEGACY_COUNT; gsi < vm->gsi_max; gsi++) {
		const struct kvm_msi_route *r = &vm->msi[gsi - KVM_GSI_LEGACY_COUNT];

		if (!r->used)
			continue;
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_MSI;
		e[n].u.msi.address_lo = (uint32_t)r->addr;
		e[n].u.msi.address_hi = (uint32_t)(r->addr >> 32);
		e[n].u.msi.data = r->data;
		n++;
	}
	tbl->nr = n;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, tbl))
		ret = -errno;
	free(tbl);
	return ret;
}

static int kvm_setup_irqchip(struct kvm_vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int ret;

	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0)) {
		ret = -errno;
		kvm_err(err, errlen, "KVM_CREATE_IRQCHIP failed: %s", strerror(-ret));
		return ret;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit)) {
		ret = -errno;
		kvm_err(err, errlen, "KVM_CREATE_PIT2 failed: %s", strerror(-ret));
		return ret;
	}
	ret = kvm_gsi_push(vm);
	if (ret) {
		kvm_err(err, errlen, "KVM_SET_GSI_ROUTING failed: %s", strerror(-ret));
		return ret;
	}
	for (unsigned int i = 0; i < 3; i++) {
		vm->chips[i].chip_id = i;	/* PIC master, PIC slave, IOAPIC */
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &vm->chips[i]))
			goto err_state;
	}
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &vm->pit))
		goto err_state;
	return 0;

err_state:
	ret = -errno;
	kvm_err(err, errlen, "cannot read the interrupt controllers' state: %s", strerror(-ret));
	return ret;
}

int kvm_vm_reset_irqchip(struct kvm_vm *vm)
{
	if (!vm->irqchip)
		return 0;
	for (unsigned int i = 0; i < 3; i++) {
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &vm->chips[i]))
			return -errno;
	}
	return ioctl(vm->vm_fd, KVM_SET_PIT2, &vm->pit) ? -errno : 0;
}

int kvm_vm_new(const struct kvm_vm_opts *opts, struct kvm_vm **out, char *err, size_t errlen)
{
	const char *path = opts->dev_path ? opts->dev_path : "/dev/kvm";
	struct kvm_vm *vm;
	int ret;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->vm_fd = -1;
	vm->irqchip = opts->irqchip;
	pthread_mutex_init(&vm->gsi_lock, NULL);

	vm->sys_fd = kvm_open_dev(path, err, errlen);
	if (vm->sys_fd < 0) {
		ret = vm->sys_fd;
		goto err_free;
	}
	ret = kvm_check(vm, path, err, errlen);
	if (ret)
		goto err_close_sys;
	ret = kvm_get_cpuid(vm, err, errlen);
	if (ret)
		goto err_close_sys;
	vm->slots = calloc(vm->nr_slots, sizeof(*vm->slots));
	if (!vm->slots) {
		ret = -ENOMEM;
		goto err_close_sys;
	}

	do {
		vm->vm_fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		ret = -errno;
		kvm_err(err, errlen, "KVM_CREATE_VM failed: %s", strerror(-ret));
		goto err_close_sys;
	}
	/* Intel needs three pages for these below 4 GiB, outside RAM and MMIO. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS)) {
		ret = -errno;
		kvm_err(err, errlen, "KVM_SET_TSS_ADDR failed: %s", strerror(-ret));
		goto err_close_vm;
	}
	uint64_t ident = LAYOUT_KVM_IDENT_MAP;

	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident)) {
		ret = -errno;
		kvm_err(err, errlen, "KVM_SET_IDENTITY_MAP_ADDR failed: %s", strerror(-ret));
		goto err_close_vm;
	}
	if (vm->irqchip) {
		ret = kvm_setup_irqchip(vm, err, errlen);
		if (ret)
			goto err_close_vm;
	}
	*out = vm;
	return 0;

err_close_vm:
	close(vm->vm_fd);
err_close_sys:
	close(vm->sys_fd);
err_free:
	free(vm->slots);
	free(vm->cpuid);
	pthread_mutex_destroy(&vm->gsi_lock);
	free(vm);
	return ret;
}

void kvm_vm_free(struct kvm_vm *vm)
{
	if (!vm)
		return;
	if (vm->listener)
		mem_map_unlisten(vm->map, vm->listener);
	close(vm->vm_fd);
	close(vm->sys_fd);
	free(vm->slots);
	free(vm->cpuid);
	pthread_mutex_destroy(&vm->gsi_lock);
	free(vm);
}

int kvm_vm_fd(const struct kvm_vm *vm)
{
	return vm->vm_fd;
}

int kvm_vm_sys_fd(const struct kvm_vm *vm)
{
	return vm->sys_fd;
}

size_t kvm_vm_run_size(const struct kvm_vm *vm)
{
	return vm->run_size;
}

bool kvm_vm_has_irqchip(const struct kvm_vm *vm)
{
	return vm->irqchip;
}

unsigned int kvm_vm_max_vcpus(const struct kvm_vm *vm)
{
	return vm->max_vcpus;
}

const struct kvm_cpuid2 *kvm_vm_supported_cpuid(const struct kvm_vm *vm)
{
	return vm->cpuid;
}

/* ---- memslots: a listener of the memory map ---- */

static int kvm_slot_set(struct kvm_vm *vm, unsigned int slot, uint64_t gpa, uint64_t size,
			void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

static int kvm_region_add(void *opaque, const struct mem_region *region)
{
	struct kvm_vm *vm = opaque;
	int ret;

	for (unsigned int i = 0; i < vm->nr_slots; i++) {
		if (vm->slots[i].used)
			continue;
		ret = kvm_slot_set(vm, i, region->gpa, region->size, region->hva);
		if (ret)
			return ret;
		vm->slots[i].used = true;
		vm->slots[i].gpa = region->gpa;
		return 0;
	}
	return -ENOSPC;
}

static void kvm_region_del(void *opaque, const struct mem_region *region)
{
	struct kvm_vm *vm = opaque;

	for (unsigned int i = 0; i < vm->nr_slots; i++) {
		if (!vm->slots[i].used || vm->slots[i].gpa != region->gpa)
			continue;
		/* Deleting a slot cannot fail for a slot KVM accepted. */
		kvm_slot_set(vm, i, region->gpa, 0, region->hva);
		vm->slots[i].used = false;
		return;
	}
}

static const struct mem_listener_ops kvm_memslot_ops = {
	.region_add = kvm_region_add,
	.region_del = kvm_region_del,
};

int kvm_vm_track_memory(struct kvm_vm *vm, struct mem_map *map)
{
	if (vm->listener)
		return -EBUSY;
	vm->map = map;
	return mem_map_listen(map, &kvm_memslot_ops, vm, &vm->listener);
}

/* ---- interrupts ---- */

int kvm_vm_irq_line(struct kvm_vm *vm, uint32_t gsi, bool level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = level };

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) ? -errno : 0;
}

int kvm_gsi_alloc_msi(struct kvm_vm *vm, uint64_t addr, uint32_t data, uint32_t *gsi)
{
	int ret = -ENOSPC;

	if (!vm->irqchip)
		return -ENODEV;
	pthread_mutex_lock(&vm->gsi_lock);
	for (unsigned int g = KVM_GSI_LEGACY_COUNT; g < vm->gsi_max; g++) {
		struct kvm_msi_route *r = &vm->msi[g - KVM_GSI_LEGACY_COUNT];

		if (r->used)
			continue;
		*r = (struct kvm_msi_route){ .used = true, .addr = addr, .data = data };
		ret = kvm_gsi_push(vm);
		if (ret)
			r->used = false;
		else
			*gsi = g;
		break;
	}
	pthread_mutex_unlock(&vm->gsi_lock);
	return ret;
}

static struct kvm_msi_route *kvm_msi_route(struct kvm_vm *vm, uint32_t gsi)
{
	if (gsi < KVM_GSI_LEGACY_COUNT || gsi >= vm->gsi_max)
		return NULL;
	return vm->msi[gsi - KVM_GSI_LEGACY_COUNT].used ? &vm->msi[gsi - KVM_GSI_LEGACY_COUNT]
							: NULL;
}

int kvm_gsi_update_msi(struct kvm_vm *vm, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct kvm_msi_route *r, old;
	int ret = -ENOENT;

	pthread_mutex_lock(&vm->gsi_lock);
	r = kvm_msi_route(vm, gsi);
	if (r) {
		old = *r;
		r->addr = addr;
		r->data = data;
		ret = kvm_gsi_push(vm);
		if (ret)
			*r = old;
	}
	pthread_mutex_unlock(&vm->gsi_lock);
	return ret;
}

int kvm_gsi_free(struct kvm_vm *vm, uint32_t gsi)
{
	struct kvm_msi_route *r;
	int ret = -ENOENT;

	pthread_mutex_lock(&vm->gsi_lock);
	r = kvm_msi_route(vm, gsi);
	if (r) {
		r->used = false;
		ret = kvm_gsi_push(vm);
		if (ret)
			r->used = true;
	}
	pthread_mutex_unlock(&vm->gsi_lock);
	return ret;
}

int kvm_irqfd_assign(struct kvm_vm *vm, int fd, uint32_t gsi, int resample_fd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

	if (resample_fd >= 0) {
		irqfd.flags = KVM_IRQFD_FLAG_RESAMPLE;
		irqfd.resamplefd = (uint32_t)resample_fd;
	}
	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) ? -errno : 0;
}

int kvm_irqfd_deassign(struct kvm_vm *vm, int fd, uint32_t gsi)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi,
				   .flags = KVM_IRQFD_FLAG_DEASSIGN };

	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) ? -errno : 0;
}

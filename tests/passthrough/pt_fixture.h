/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The passthrough tests' common fixture: a kernel model (tests/kmodel) with
 * the test's PCI devices, the fault injector (fault_sys) between vfio/ and
 * the model, a KVM VM opened on the model, a memory map with optional RAM,
 * and a passthrough_vm_config pointing at all of it.  Each test file owns
 * one struct pt_fixture (its Criterion .init fills it, its .fini empties
 * it) and adds what is its own (the VM's ops and recorders, iommufd
 * objects, a libvirt URI) to f->cfg before the host is made.
 *
 * Who owns what: the fixture owns the model, the kvm and vm fds it opened,
 * the map, the RAM and f->host (made by pt_fixture_host_new() or by the
 * test, freed by pt_fixture_teardown()).  The test's own recorders and
 * files are the test's to check and remove.
 */
#ifndef FERRY_TESTS_PT_FIXTURE_H
#define FERRY_TESTS_PT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault_sys.h"
#include "kmodel.h"
#include "memory/memory.h"
#include "passthrough/passthrough.h"

/* One RAM buffer: 2 MiB, 2 MiB aligned (a huge-page-sized DMA mapping). */
#define PT_RAM_SIZE	(2ULL << 20)

/* A PCI function of the model: added to @group, then bound to @driver. */
struct pt_fixture_dev {
	const char *bdf;
	uint16_t vendor, device;
	unsigned int group;
	const char *driver;	/* NULL: left unbound */
};

struct pt_fixture_config {
	struct kmodel_config kernel;	/* kmodel_config_legacy() or _iommufd() */
	/* Added in order, then bound in order (the model checks groups at bind). */
	const struct pt_fixture_dev *devs;
	size_t nr_devs;
	/*
	 * How many PT_RAM_SIZE buffers to allocate, back to back; the first is
	 * RAM at GPA 0 in the map, the others are the test's to add.  0: an
	 * empty map (no DMA at all).
	 */
	unsigned int ram_buffers;
	bool cap_ipc_lock;		/* the VMM runs with CAP_IPC_LOCK */
	/* The VM's side (the test's recorder), or NULL: copied into f->cfg. */
	const struct passthrough_vm_ops *ops;
	void *vm;
};

/* .devs and .nr_devs of a pt_fixture_config from an array. */
#define PT_FIXTURE_DEVS(a)	.devs = (a), .nr_devs = sizeof(a) / sizeof((a)[0])

struct pt_fixture {
	struct kmodel *km;
	struct fault_sys fault;
	struct vfio_sys *ms;	/* the model itself, for the test's own calls */
	int kvm_fd, vm_fd;
	unsigned int base_fds;	/* model fds the fixture holds (kvm, vm) */
	int base_eventfds;	/* eventfds of the process before the test (Criterion's) */
	struct mem_map *map;
	uint8_t *ram;		/* ram_buffers * PT_RAM_SIZE, 2 MiB aligned, or NULL */
	void *ram_mapping;	/* the mmap behind ram */
	size_t ram_mapping_len;
	struct passthrough_host *host;
	/* .sys (the fault injector), .vm_fd, .map, container backend and the config's. */
	struct passthrough_vm_config cfg;
	char err[1024];
};

/* Fills @f as @c says; a failure fails the test. */
void pt_fixture_setup(struct pt_fixture *f, const struct pt_fixture_config *c);
/*
 * Frees the host, the map and the RAM, closes the VM, then expects nothing
 * left behind: no model fd, no pinned page, no eventfd the test did not
 * start with.  Frees the model.  f->host may be NULL.
 */
void pt_fixture_teardown(struct pt_fixture *f);

/* passthrough_host_new() on f->cfg into f->host; a failure fails the test. */
void pt_fixture_host_new(struct pt_fixture *f);
/*
 * Parses @spec (which must parse) and adds it to f->host with f->err
 * cleared and *dev NULL before the call: returns passthrough_device_add()'s
 * result.
 */
int pt_fixture_add(struct pt_fixture *f, const char *spec, struct passthrough_device **dev);
/* pt_fixture_add() that must succeed. */
struct passthrough_device *pt_fixture_add_ok(struct pt_fixture *f, const char *spec);

/* Eventfds the process has now beyond f->base_eventfds. */
int pt_fixture_eventfds(const struct pt_fixture *f);

#endif

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: an interrupt line as the emulated devices see it.  The
 * machine binds it to KVM (KVM_IRQ_LINE on @gsi); tests bind it to a
 * recorder, so the devices never depend on KVM.
 */
#ifndef FERRY_VMM_IRQ_H
#define FERRY_VMM_IRQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmm_irq_line {
	/* Drives the line to @level; may be NULL (line not connected). */
	int (*set)(void *opaque, uint32_t gsi, bool level);
	void *opaque;
	uint32_t gsi;
};

static inline void vmm_irq_line_set(const struct vmm_irq_line *line, bool level)
{
	if (line->set)
		line->set(line->opaque, line->gsi, level);
}

#endif /* FERRY_VMM_IRQ_H */

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ private: a 16550A-compatible UART on the port-I/O bus (COM1 is
 * LAYOUT_COM1_PORT / LAYOUT_COM1_GSI).  Transmitted bytes go to an output fd;
 * received bytes come from an input fd polled by the event loop.  The
 * interrupt line is level: high while the IIR reports an interrupt.
 */
#ifndef FERRY_VMM_SERIAL_H
#define FERRY_VMM_SERIAL_H

#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/irq.h"
#include "vmm/vmm.h"

struct serial_config {
	struct vmm_bus *bus;
	uint16_t base;			/* first of 8 ports */
	struct vmm_irq_line irq;
	int out_fd;			/* -1: output discarded */
	/*
	 * -1: no input.  Otherwise polled through @loop; a terminal is put in
	 * raw mode (signal keys still reach ferry) until serial_free().
	 * The fds stay the caller's: serial_free() does not close them.
	 * epoll cannot poll a regular file: serial_new() then fails with
	 * -EPERM (use a terminal, pipe or socket for input).
	 */
	int in_fd;
	struct vmm_loop *loop;
};

struct serial;

int serial_new(const struct serial_config *cfg, struct serial **out);
/* Unregisters the ports and the input fd, restores the terminal. */
void serial_free(struct serial *uart);

#endif /* FERRY_VMM_SERIAL_H */

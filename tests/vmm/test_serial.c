// SPDX-License-Identifier: GPL-2.0-only
/* vmm/serial.c: 16550A register semantics, interrupts, TX and RX paths. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/bus.h"
#include "vmm/serial.h"

#define COM1 0x3f8

struct rig {
	struct vmm_bus *bus;
	struct vmm_loop *loop;
	struct serial *uart;
	int in[2], out[2];
	atomic_int level;
	atomic_int edges;	/* rising edges seen */
};

static int rig_irq(void *opaque, uint32_t gsi, bool level)
{
	struct rig *r = opaque;

	cr_assert_eq(gsi, 4);
	if (level && !atomic_load(&r->level))
		atomic_fetch_add(&r->edges, 1);
	atomic_store(&r->level, level);
	return 0;
}

static void rig_up(struct rig *r, bool with_input)
{
	struct serial_config cfg;

	*r = (struct rig){ .bus = vmm_bus_new(), .in = { -1, -1 } };
	cr_assert(r->bus);
	cr_assert_eq(pipe2(r->out, O_CLOEXEC | O_NONBLOCK), 0);
	cfg = (struct serial_config){
		.bus = r->bus, .base = COM1, .out_fd = r->out[1], .in_fd = -1,
		.irq = { .set = rig_irq, .opaque = r, .gsi = 4 },
	};
	if (with_input) {
		cr_assert_eq(pipe2(r->in, O_CLOEXEC), 0);
		cr_assert_eq(vmm_loop_new(&r->loop), 0);
		cr_assert_eq(vmm_loop_start(r->loop), 0);
		cfg.in_fd = r->in[0];
		cfg.loop = r->loop;
	}
	cr_assert_eq(serial_new(&cfg, &r->uart), 0);
}

static void rig_down(struct rig *r)
{
	serial_free(r->uart);
	vmm_loop_free(r->loop);
	for (int i = 0; i < 2; i++) {
		close(r->out[i]);
		if (r->in[i] >= 0)
			close(r->in[i]);
	}
	vmm_bus_free(r->bus);
}

static uint8_t inb(struct rig *r, unsigned int reg)
{
	uint8_t v = 0;

	cr_assert(vmm_bus_access(r->bus, VMM_BUS_PIO, COM1 + reg, &v, 1, false));
	return v;
}

static void outb(struct rig *r, unsigned int reg, uint8_t v)
{
	cr_assert(vmm_bus_access(r->bus, VMM_BUS_PIO, COM1 + reg, &v, 1, true));
}

Test(serial, dlab_divisor_and_scratch)
{
	struct rig r;

	rig_up(&r, false);
	outb(&r, 1, 0x05);		/* IER */
	outb(&r, 3, 0x83);		/* DLAB, 8N1 */
	outb(&r, 0, 0x01);
	outb(&r, 1, 0x02);
	cr_assert_eq(inb(&r, 0), 0x01);
	cr_assert_eq(inb(&r, 1), 0x02);
	cr_assert_eq(inb(&r, 3), 0x83);
	outb(&r, 3, 0x03);
	cr_assert_eq(inb(&r, 1), 0x05, "IER is back once DLAB is clear");
	outb(&r, 7, 0xa5);
	cr_assert_eq(inb(&r, 7), 0xa5);
	/* A divisor write under DLAB is not transmitted. */
	outb(&r, 3, 0x80);
	outb(&r, 0, 'X');
	outb(&r, 3, 0x03);
	uint8_t c;

	cr_assert_eq(read(r.out[0], &c, 1), -1);
	rig_down(&r);
}

/* The probe sequence of Linux's 8250 autoconfig must end at "16550A". */
Test(serial, detected_as_16550a)
{
	struct rig r;

	rig_up(&r, false);
	/* IER existence test: low nibble writable, reads back exactly. */
	outb(&r, 1, 0);
	cr_assert_eq(inb(&r, 1) & 0x0f, 0);
	outb(&r, 1, 0x0f);
	cr_assert_eq(inb(&r, 1) & 0x0f, 0x0f);
	outb(&r, 1, 0);
	/* Loopback test: MCR = LOOP|OUT2|RTS gives DCD|CTS. */
	outb(&r, 4, 0x1a);
	cr_assert_eq(inb(&r, 6) & 0xf0, 0x90);
	outb(&r, 4, 0);
	/* FIFO enabled: IIR top bits 11 = 16550A. */
	outb(&r, 3, 0xbf);
	outb(&r, 2, 0);
	outb(&r, 3, 0);
	outb(&r, 2, 0x01);
	cr_assert_eq(inb(&r, 2) & 0xc0, 0xc0);
	/* No EFR behind LCR=0x80 or 0xbf: that register reads the non-zero IIR. */
	outb(&r, 3, 0x80);
	cr_assert_neq(inb(&r, 2), 0);
	outb(&r, 3, 0xbf);
	cr_assert_neq(inb(&r, 2), 0);
	/* Not a 16750: the 64-byte FIFO bit never shows in IIR bit 5. */
	outb(&r, 3, 0);
	outb(&r, 2, 0x21);
	cr_assert_eq(inb(&r, 2) & 0x20, 0);
	outb(&r, 3, 0x80);
	outb(&r, 2, 0x21);
	cr_assert_eq(inb(&r, 2) & 0x20, 0);
	outb(&r, 3, 0);
	/* Not an XScale: IER bit 6 (UUE) does not stick. */
	outb(&r, 1, 0x40);
	cr_assert_eq(inb(&r, 1) & 0x40, 0);
	rig_down(&r);
}

Test(serial, lsr_and_loopback_data)
{
	struct rig r;
	uint8_t c;

	rig_up(&r, false);
	cr_assert_eq(inb(&r, 5), 0x60, "THRE|TEMT, no data");
	outb(&r, 2, 0x07);		/* FIFO on, cleared */
	outb(&r, 4, 0x10);		/* loopback */
	outb(&r, 0, 'a');
	outb(&r, 0, 'b');
	cr_assert_eq(inb(&r, 5), 0x61);
	cr_assert_eq(inb(&r, 0), 'a');
	cr_assert_eq(inb(&r, 0), 'b');
	cr_assert_eq(inb(&r, 5), 0x60);
	/* Looped-back bytes never reach the output. */
	cr_assert_eq(read(r.out[0], &c, 1), -1);
	/* Overrun: a 17th byte into a full FIFO sets OE until LSR is read. */
	for (int i = 0; i < 17; i++)
		outb(&r, 0, i);
	cr_assert_eq(inb(&r, 5), 0x63);
	cr_assert_eq(inb(&r, 5), 0x61);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(inb(&r, 0), i);
	/* FIFOs off: a single holding register. */
	outb(&r, 2, 0x00);
	outb(&r, 0, 'x');
	outb(&r, 0, 'y');
	cr_assert_eq(inb(&r, 5), 0x63);
	cr_assert_eq(inb(&r, 0), 'x');
	cr_assert_eq(inb(&r, 2) & 0xc0, 0);
	rig_down(&r);
}

Test(serial, msr_deltas_in_loopback)
{
	struct rig r;

	rig_up(&r, false);
	cr_assert_eq(inb(&r, 6), 0xb0, "a ready modem: DCD, DSR, CTS");
	outb(&r, 4, 0x10);
	/* Entering loopback with all outputs low drops DCD, DSR and CTS. */
	cr_assert_eq(inb(&r, 6), 0x0b);
	cr_assert_eq(inb(&r, 6), 0x00);
	outb(&r, 4, 0x1f);
	cr_assert_eq(inb(&r, 6), 0xfb);
	outb(&r, 4, 0x1b);		/* OUT1 (RI) falls */
	cr_assert_eq(inb(&r, 6), 0xb4);
	rig_down(&r);
}

Test(serial, iir_priorities_and_irq_line)
{
	struct rig r;

	rig_up(&r, false);
	outb(&r, 2, 0xc7);		/* FIFO on, trigger 14 */
	cr_assert_eq(inb(&r, 2), 0xc1);
	cr_assert_eq(atomic_load(&r.level), 0);

	/* THRE: pending as soon as enabled; the IIR read acknowledges it. */
	outb(&r, 1, 0x02);
	cr_assert_eq(atomic_load(&r.level), 1);
	cr_assert_eq(inb(&r, 2), 0xc2);
	cr_assert_eq(atomic_load(&r.level), 0);
	cr_assert_eq(inb(&r, 2), 0xc1);
	outb(&r, 0, 'z');		/* sent at once: empty again */
	cr_assert_eq(atomic_load(&r.level), 1);
	outb(&r, 1, 0x00);
	cr_assert_eq(atomic_load(&r.level), 0);
	cr_assert_eq(inb(&r, 2), 0xc1);

	/* Everything at once, in loopback. */
	outb(&r, 4, 0x10);
	for (int i = 0; i < 17; i++)	/* 16 bytes, then an overrun */
		outb(&r, 0, i);
	outb(&r, 4, 0x12);		/* RTS -> CTS changes: DCTS */
	outb(&r, 1, 0x0f);
	cr_assert_eq(atomic_load(&r.level), 1);
	cr_assert_eq(inb(&r, 2), 0xc6, "line status first");
	cr_assert_eq(inb(&r, 5) & 0x02, 0x02);
	cr_assert_eq(inb(&r, 2), 0xc4, "then data at the trigger level");
	for (int i = 0; i < 3; i++)
		inb(&r, 0);
	cr_assert_eq(inb(&r, 2), 0xcc, "below the trigger: timeout");
	while (inb(&r, 5) & 0x01)
		inb(&r, 0);
	cr_assert_eq(inb(&r, 2), 0xc2, "then THR empty");
	cr_assert_eq(inb(&r, 2), 0xc0, "then modem status");
	cr_assert_eq(atomic_load(&r.level), 1);
	inb(&r, 6);
	cr_assert_eq(inb(&r, 2), 0xc1);
	cr_assert_eq(atomic_load(&r.level), 0);
	rig_down(&r);
}

Test(serial, tx_reaches_output_fd)
{
	struct rig r;
	char buf[16] = { 0 };

	rig_up(&r, false);
	outb(&r, 3, 0x03);
	for (const char *p = "hello\r\n"; *p; p++) {
		cr_assert(inb(&r, 5) & 0x20);
		outb(&r, 0, *p);
	}
	cr_assert_eq(read(r.out[0], buf, sizeof(buf)), 7);
	cr_assert_str_eq(buf, "hello\r\n");
	rig_down(&r);
}

static bool wait_dr(struct rig *r)
{
	for (int i = 0; i < 5000; i++) {
		if (inb(r, 5) & 0x01)
			return true;
		usleep(1000);
	}
	return false;
}

Test(serial, rx_from_input_fd_with_interrupts)
{
	struct rig r;
	char msg[41];

	rig_up(&r, true);
	outb(&r, 2, 0x07);		/* FIFO, trigger 1 */
	outb(&r, 1, 0x01);		/* RX interrupts */
	cr_assert_eq(atomic_load(&r.level), 0);

	cr_assert_eq(write(r.in[1], "k", 1), 1);
	cr_assert(wait_dr(&r));
	cr_assert_eq(atomic_load(&r.level), 1);
	cr_assert_eq(inb(&r, 2), 0xc4);
	cr_assert_eq(inb(&r, 0), 'k');
	cr_assert_eq(atomic_load(&r.level), 0);
	cr_assert_eq(inb(&r, 2), 0xc1);

	/* More than the FIFO holds: flow control keeps every byte, in order. */
	for (int i = 0; i < 40; i++)
		msg[i] = 'A' + i % 26;
	cr_assert_eq(write(r.in[1], msg, 40), 40);
	for (int i = 0; i < 40; i++) {
		cr_assert(wait_dr(&r), "byte %d never arrived", i);
		cr_assert_eq(inb(&r, 0), msg[i]);
	}
	/* End of input: no more data and no spurious interrupt. */
	close(r.in[1]);
	r.in[1] = -1;
	usleep(50000);
	cr_assert_eq(inb(&r, 5) & 0x01, 0);
	cr_assert_eq(atomic_load(&r.level), 0);
	rig_down(&r);
}

Test(serial, ports_go_away_on_free)
{
	struct rig r;
	uint8_t v = 0;

	rig_up(&r, true);
	serial_free(r.uart);
	cr_assert_not(vmm_bus_access(r.bus, VMM_BUS_PIO, COM1 + 5, &v, 1, false));
	cr_assert_eq(v, 0xff);
	r.uart = NULL;
	rig_down(&r);
}

/* A terminal as input: raw while the UART lives, restored afterwards. */
Test(serial, tty_input_is_raw_then_restored)
{
	struct vmm_bus *bus = vmm_bus_new();
	struct vmm_loop *loop;
	struct serial *uart;
	struct termios before, during, after;
	struct serial_config cfg;
	int master, slave;
	uint8_t v = 0;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert_geq(master, 0);
	cr_assert_eq(grantpt(master), 0);
	cr_assert_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	cr_assert_geq(slave, 0);
	cr_assert_eq(tcgetattr(slave, &before), 0);
	cr_assert(before.c_lflag & ICANON);

	cr_assert_eq(vmm_loop_new(&loop), 0);
	cr_assert_eq(vmm_loop_start(loop), 0);
	cfg = (struct serial_config){ .bus = bus, .base = COM1, .out_fd = -1, .in_fd = slave,
				      .loop = loop };
	cr_assert_eq(serial_new(&cfg, &uart), 0);
	cr_assert_eq(tcgetattr(slave, &during), 0);
	cr_assert_eq(during.c_lflag & (ICANON | ECHO), 0, "canonical mode and echo off");
	cr_assert(during.c_lflag & ISIG, "^C still reaches ferry");

	/* No line discipline in the way: one key, no newline, reaches the guest. */
	cr_assert_eq(write(master, "q", 1), 1);
	for (int i = 0; i < 5000; i++) {
		cr_assert(vmm_bus_access(bus, VMM_BUS_PIO, COM1 + 5, &v, 1, false));
		if (v & 1)
			break;
		usleep(1000);
	}
	cr_assert(v & 1);
	cr_assert(vmm_bus_access(bus, VMM_BUS_PIO, COM1, &v, 1, false));
	cr_assert_eq(v, 'q');

	serial_free(uart);
	cr_assert_eq(tcgetattr(slave, &after), 0);
	cr_assert_eq(after.c_lflag, before.c_lflag);
	cr_assert_eq(after.c_iflag, before.c_iflag);
	cr_assert_eq(after.c_oflag, before.c_oflag);
	vmm_loop_free(loop);
	close(slave);
	close(master);
	vmm_bus_free(bus);
}

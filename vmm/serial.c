// SPDX-License-Identifier: GPL-2.0-only
/*
 * A 16550A UART (vmm/serial.h).
 *
 * What Linux's 8250 driver relies on, and this model therefore keeps:
 *  - IER keeps only its low four bits (the autoconfig IER test, and no
 *    XScale UUE bit);
 *  - MCR loopback routes RTS/DTR/OUT1/OUT2 to CTS/DSR/RI/DCD (the loopback
 *    test) and transmitted bytes back into the receiver;
 *  - with FIFOs enabled the IIR reads 0xc0 in its top bits and never sets
 *    bit 5 (so the driver settles on a 16550A, not a 16750), and it is never
 *    zero while an EFR probe reads it;
 *  - enabling the THR-empty interrupt while the THR is empty makes it pending
 *    at once (the driver's TX-enable bug check), and reading the IIR while it
 *    reports THR-empty acknowledges it.
 * Transmission is instantaneous, so THRE and TEMT are always set.  The
 * receive timeout interrupt is reported as soon as the FIFO holds fewer bytes
 * than the trigger level: there is no baud-rate clock to wait four character
 * times on, and the driver treats both kinds of RX interrupt alike.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/serial.h"

#define UART_RBR 0	/* read; DLL when LCR.DLAB */
#define UART_IER 1	/* DLM when LCR.DLAB */
#define UART_IIR 2	/* read */
#define UART_FCR 2	/* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI		0x01
#define IER_THRI	0x02
#define IER_RLSI	0x04
#define IER_MSI		0x08

#define IIR_NONE	0x01
#define IIR_MSI		0x00
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_RLSI	0x06
#define IIR_TIMEOUT	0x0c
#define IIR_FIFO	0xc0

#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define FCR_TRIGGER	0xc0

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_ERRORS	0x1e	/* OE, PE, FE, BI */
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_DELTAS	0x0f
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80

#define RX_FIFO_SIZE 16

struct serial {
	pthread_mutex_t lock;	/* the registers; vCPU threads and the loop thread */
	struct serial_config cfg;

	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	uint8_t lsr_errors;	/* sticky until LSR is read */
	uint8_t msr_deltas;	/* sticky until MSR is read */
	bool thri_pending;	/* THR-empty interrupt not yet acknowledged */
	bool irq_level;

	uint8_t rx[RX_FIFO_SIZE];
	unsigned int rx_head, rx_count;
	bool rx_armed;		/* the input fd is polled for EPOLLIN */
	bool rx_registered;	/* the input fd is in the loop */

	bool tty_saved;
	struct termios tty;
};

static bool serial_fifo(const struct serial *s)
{
	return s->fcr & FCR_ENABLE;
}

static unsigned int serial_rx_cap(const struct serial *s)
{
	/* Without FIFOs the 16550A has a single receive holding register. */
	return serial_fifo(s) ? RX_FIFO_SIZE : 1;
}

static unsigned int serial_rx_trigger(const struct serial *s)
{
	static const unsigned int level[4] = { 1, 4, 8, 14 };

	return serial_fifo(s) ? level[s->fcr >> 6] : 1;
}

/* The modem status lines: wired to MCR in loopback, a ready modem otherwise. */
static uint8_t serial_msr_lines(uint8_t mcr)
{
	uint8_t v = 0;

	if (!(mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	if (mcr & MCR_RTS)
		v |= MSR_CTS;
	if (mcr & MCR_DTR)
		v |= MSR_DSR;
	if (mcr & MCR_OUT1)
		v |= MSR_RI;
	if (mcr & MCR_OUT2)
		v |= MSR_DCD;
	return v;
}

/* The interrupt the IIR reports now, by the 16550's fixed priority. */
static uint8_t serial_iir_id(const struct serial *s)
{
	if ((s->ier & IER_RLSI) && s->lsr_errors)
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count)
		return s->rx_count < serial_rx_trigger(s) ? IIR_TIMEOUT : IIR_RDI;
	if ((s->ier & IER_THRI) && s->thri_pending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && s->msr_deltas)
		return IIR_MSI;
	return IIR_NONE;
}

static void serial_update_irq(struct serial *s)
{
	bool level = serial_iir_id(s) != IIR_NONE;

	if (level != s->irq_level) {
		s->irq_level = level;
		vmm_irq_line_set(&s->cfg.irq, level);
	}
}

static void serial_rx_arm(struct serial *s, bool on)
{
	if (!s->rx_registered || s->rx_armed == on)
		return;
	if (!vmm_loop_mod_fd(s->cfg.loop, s->cfg.in_fd, on ? EPOLLIN : 0))
		s->rx_armed = on;
}

static void serial_rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_count == serial_rx_cap(s)) {
		s->lsr_errors |= LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % RX_FIFO_SIZE] = c;
	s->rx_count++;
}

static uint8_t serial_rx_pop(struct serial *s)
{
	uint8_t c;

	if (!s->rx_count)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % RX_FIFO_SIZE;
	s->rx_count--;
	if (s->rx_count < serial_rx_cap(s))
		serial_rx_arm(s, true);
	return c;
}

static void serial_rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
	serial_rx_arm(s, true);
}

static void serial_tx(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		serial_rx_push(s, c);
	} else if (s->cfg.out_fd >= 0) {
		ssize_t n;

		/*
		 * A full non-blocking output drops the byte: a vCPU must not
		 * spin on a reader that went away.
		 */
		do {
			n = write(s->cfg.out_fd, &c, 1);
		} while (n < 0 && errno == EINTR);
	}
	/* Sent at once: the THR is empty again. */
	s->thri_pending = true;
}

static uint8_t serial_read_reg(struct serial *s, unsigned int reg)
{
	uint8_t v, id;

	switch (reg) {
	case UART_RBR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		return serial_rx_pop(s);
	case UART_IER:
		if (s->lcr & LCR_DLAB)
			return s->dlm;
		return s->ier;
	case UART_IIR:
		id = serial_iir_id(s);
		if (id == IIR_THRI)
			s->thri_pending = false;
		return id | (serial_fifo(s) ? IIR_FIFO : 0);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = LSR_THRE | LSR_TEMT | s->lsr_errors | (s->rx_count ? LSR_DR : 0);
		s->lsr_errors = 0;
		return v;
	case UART_MSR:
		v = serial_msr_lines(s->mcr) | s->msr_deltas;
		s->msr_deltas = 0;
		return v;
	default:
		return s->scr;
	}
}

static void serial_write_reg(struct serial *s, unsigned int reg, uint8_t v)
{
	uint8_t old, now;

	switch (reg) {
	case UART_RBR:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			serial_tx(s, v);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI with an empty THR raises it at once. */
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thri_pending = true;
		s->ier = v & 0x0f;
		break;
	case UART_FCR:
		/* Toggling the enable resets both FIFOs, as does each clear bit. */
		if ((v ^ s->fcr) & FCR_ENABLE || (v & FCR_CLEAR_RX)) {
			s->fcr = v & (FCR_ENABLE | FCR_TRIGGER);
			serial_rx_clear(s);
		} else {
			s->fcr = v & (FCR_ENABLE | FCR_TRIGGER);
		}
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		old = serial_msr_lines(s->mcr);
		s->mcr = v & 0x1f;
		now = serial_msr_lines(s->mcr);
		if ((old ^ now) & MSR_CTS)
			s->msr_deltas |= MSR_DCTS;
		if ((old ^ now) & MSR_DSR)
			s->msr_deltas |= MSR_DDSR;
		if ((old ^ now) & MSR_DCD)
			s->msr_deltas |= MSR_DDCD;
		if ((old & MSR_RI) && !(now & MSR_RI))
			s->msr_deltas |= MSR_TERI;
		break;
	case UART_LSR:
	case UART_MSR:
		break;	/* read-only (factory test registers on real parts) */
	default:
		s->scr = v;
		break;
	}
}

static void serial_bus_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct serial *s = opaque;
	uint8_t *out = data;

	/* Wider accesses read consecutive registers, as the ISA bus would split them. */
	pthread_mutex_lock(&s->lock);
	for (unsigned int i = 0; i < len; i++)
		out[i] = offset + i < 8 ? serial_read_reg(s, offset + i) : 0xff;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_bus_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct serial *s = opaque;
	const uint8_t *in = data;

	pthread_mutex_lock(&s->lock);
	for (unsigned int i = 0; i < len && offset + i < 8; i++)
		serial_write_reg(s, offset + i, in[i]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static const struct vmm_bus_ops serial_bus_ops = {
	.read = serial_bus_read,
	.write = serial_bus_write,
};

/* Loop thread: move what fits of the input into the receive FIFO. */
static void serial_input(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint8_t buf[RX_FIFO_SIZE];
	unsigned int room;
	ssize_t n;

	pthread_mutex_lock(&s->lock);
	room = serial_rx_cap(s) - s->rx_count;
	if (!room) {
		serial_rx_arm(s, false);	/* re-armed when the guest reads */
		goto out;
	}
	n = read(s->cfg.in_fd, buf, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		goto out;
	if (n <= 0) {
		/* End of input (or a broken fd): the guest just sees silence. */
		vmm_loop_del_fd(s->cfg.loop, s->cfg.in_fd);
		s->rx_registered = false;
		s->rx_armed = false;
		goto out;
	}
	for (ssize_t i = 0; i < n; i++)
		serial_rx_push(s, buf[i]);
	if (s->rx_count == serial_rx_cap(s))
		serial_rx_arm(s, false);
	serial_update_irq(s);
out:
	pthread_mutex_unlock(&s->lock);
}

static int serial_tty_raw(struct serial *s)
{
	struct termios raw;

	if (!isatty(s->cfg.in_fd))
		return 0;
	if (tcgetattr(s->cfg.in_fd, &s->tty))
		return -errno;
	raw = s->tty;
	cfmakeraw(&raw);
	/* Keep ^C and friends for ferry itself, like a terminal emulator would. */
	raw.c_lflag |= ISIG;
	if (tcsetattr(s->cfg.in_fd, TCSANOW, &raw))
		return -errno;
	s->tty_saved = true;
	return 0;
}

int serial_new(const struct serial_config *cfg, struct serial **out)
{
	struct serial *s;
	int ret;

	if (!cfg->bus || (cfg->in_fd >= 0 && !cfg->loop))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->cfg = *cfg;
	/* Power-on state: 8N1 is the guest's to set; OUT2 etc. off; THR empty. */
	s->dll = 0x0c;	/* 9600 baud at the PC's 1.8432 MHz clock */

	if (cfg->in_fd >= 0) {
		ret = serial_tty_raw(s);
		if (ret)
			goto err_free;
		ret = vmm_loop_add_fd(cfg->loop, cfg->in_fd, EPOLLIN, serial_input, s);
		if (ret)
			goto err_tty;
		s->rx_registered = true;
		s->rx_armed = true;
	}
	ret = vmm_bus_register(cfg->bus, VMM_BUS_PIO, cfg->base, 8, &serial_bus_ops, s);
	if (ret)
		goto err_loop;
	*out = s;
	return 0;

err_loop:
	if (s->rx_registered)
		vmm_loop_del_fd(cfg->loop, cfg->in_fd);
err_tty:
	if (s->tty_saved)
		tcsetattr(cfg->in_fd, TCSANOW, &s->tty);
err_free:
	pthread_mutex_destroy(&s->lock);
	free(s);
	return ret;
}

void serial_free(struct serial *s)
{
	bool registered;

	if (!s)
		return;
	vmm_bus_unregister(s->cfg.bus, VMM_BUS_PIO, s->cfg.base);
	pthread_mutex_lock(&s->lock);
	registered = s->rx_registered;
	s->rx_registered = false;
	pthread_mutex_unlock(&s->lock);
	/* Not under s->lock: del waits for a running serial_input(), which takes it. */
	if (registered)
		vmm_loop_del_fd(s->cfg.loop, s->cfg.in_fd);
	if (s->tty_saved)
		tcsetattr(s->cfg.in_fd, TCSANOW, &s->tty);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

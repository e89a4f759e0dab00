// SPDX-License-Identifier: GPL-2.0-only
/*
 * Power management and reset (vmm/pm.h).
 *
 * All registers are byte arrays with per-bit write semantics, so ACPICA's
 * 16-bit accesses, and any other width the guest chooses, behave the same.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/pm.h"

#define PM1_STS_PWRBTN		0x0100
#define PM1_STS_W1C		0x8f31	/* TMR, BM, GBL, PWRBTN, SLPBTN, RTC, WAK */
#define PM1_EN_MASK		0x0721	/* TMR, GBL, PWRBTN, SLPBTN, RTC */
#define PM1_CNT_SCI_EN		0x0001
#define PM1_CNT_RW		0x1c06	/* BM_RLD, GBL_RLS, SLP_TYP */
#define PM1_CNT_SLP_TYP_SHIFT	10
#define PM1_CNT_SLP_EN		0x2000

#define RCR_SYS_RST		0x02
#define RCR_RST_CPU		0x04
#define RCR_FULL_RST		0x08

#define I8042_STS_OBF		0x01
#define I8042_STS_SYS		0x04
#define I8042_STS_CMD		0x08	/* last write went to the command port */
#define I8042_CTR_KBDDIS	0x10
#define I8042_CTR_AUXDIS	0x20

struct pm {
	pthread_mutex_t lock;
	struct pm_config cfg;
	uint16_t pm1_sts, pm1_en, pm1_cnt;
	uint16_t gpe_sts, gpe_en;
	uint16_t gpe_level;	/* level-triggered GPE inputs now asserted */
	uint8_t rcr;
	bool sci_level;

	/* i8042 */
	uint8_t kbc_status, kbc_ctr, kbc_out;
	uint8_t kbc_pending;	/* command whose data byte comes next, or 0 */
};

static void pm_update_sci(struct pm *pm)
{
	bool level = (pm->pm1_sts & pm->pm1_en) || (pm->gpe_sts & pm->gpe_en);

	if (level != pm->sci_level) {
		pm->sci_level = level;
		vmm_irq_line_set(&pm->cfg.sci, level);
	}
}

static void pm_request(struct pm *pm, enum pm_request req)
{
	if (pm->cfg.request)
		pm->cfg.request(pm->cfg.opaque, req);
}

static uint16_t set_byte(uint16_t reg, unsigned int i, uint8_t v)
{
	return (reg & ~(0xffu << (8 * i))) | (uint16_t)v << (8 * i);
}

/* ---- PM1a event block: 0 PM1_STS, 2 PM1_EN ---- */

static void pm1_evt_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct pm *pm = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&pm->lock);
	for (unsigned int i = 0; i < len; i++) {
		unsigned int b = offset + i;
		uint16_t reg = b < 2 ? pm->pm1_sts : pm->pm1_en;

		out[i] = b < 4 ? reg >> (8 * (b & 1)) : 0xff;
	}
	pthread_mutex_unlock(&pm->lock);
}

static void pm1_evt_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct pm *pm = opaque;
	const uint8_t *in = data;

	pthread_mutex_lock(&pm->lock);
	for (unsigned int i = 0; i < len && offset + i < 4; i++) {
		unsigned int b = offset + i;
		uint16_t v = (uint16_t)in[i] << (8 * (b & 1));

		if (b < 2)
			pm->pm1_sts &= ~(v & PM1_STS_W1C);
		else
			pm->pm1_en = set_byte(pm->pm1_en, b & 1, in[i]) & PM1_EN_MASK;
	}
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static const struct vmm_bus_ops pm1_evt_ops = { .read = pm1_evt_read, .write = pm1_evt_write };

/* ---- PM1a control block ---- */

static void pm1_cnt_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct pm *pm = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&pm->lock);
	for (unsigned int i = 0; i < len; i++)
		out[i] = offset + i < 2 ? pm->pm1_cnt >> (8 * (offset + i)) : 0xff;
	pthread_mutex_unlock(&pm->lock);
}

static void pm1_cnt_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct pm *pm = opaque;
	const uint8_t *in = data;
	bool sleep = false;
	uint16_t v;

	pthread_mutex_lock(&pm->lock);
	v = pm->pm1_cnt;
	for (unsigned int i = 0; i < len && offset + i < 2; i++) {
		v = set_byte(v, offset + i, in[i]);
		if (offset + i == 1 && (in[i] & (PM1_CNT_SLP_EN >> 8)))
			sleep = true;
	}
	/* SCI_EN is hardwired: this machine is always in ACPI mode. */
	pm->pm1_cnt = (v & PM1_CNT_RW) | PM1_CNT_SCI_EN;
	if (sleep && ((v >> PM1_CNT_SLP_TYP_SHIFT) & 7) == PM_SLP_TYP_S5)
		pm_request(pm, PM_REQUEST_POWEROFF);
	/* Any other sleep type is not offered in the DSDT: SLP_EN does nothing. */
	pthread_mutex_unlock(&pm->lock);
}

static const struct vmm_bus_ops pm1_cnt_ops = { .read = pm1_cnt_read, .write = pm1_cnt_write };

/* ---- GPE0 block: 0..1 GPE0_STS, 2..3 GPE0_EN ---- */

static void gpe0_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct pm *pm = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&pm->lock);
	for (unsigned int i = 0; i < len; i++) {
		unsigned int b = offset + i;
		uint16_t reg = b < 2 ? pm->gpe_sts : pm->gpe_en;

		out[i] = b < 4 ? reg >> (8 * (b & 1)) : 0xff;
	}
	pthread_mutex_unlock(&pm->lock);
}

static void gpe0_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct pm *pm = opaque;
	const uint8_t *in = data;

	pthread_mutex_lock(&pm->lock);
	for (unsigned int i = 0; i < len && offset + i < 4; i++) {
		unsigned int b = offset + i;

		if (b < 2)
			pm->gpe_sts &= ~((uint16_t)in[i] << (8 * b));
		else
			pm->gpe_en = set_byte(pm->gpe_en, b & 1, in[i]);
	}
	/* A level input still asserted sets its status again at once. */
	pm->gpe_sts |= pm->gpe_level;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static const struct vmm_bus_ops gpe0_ops = { .read = gpe0_read, .write = gpe0_write };

/* ---- Reset control register, 0xcf9 ---- */

uint8_t pm_rcr_read(void *opaque)
{
	struct pm *pm = opaque;
	uint8_t v;

	pthread_mutex_lock(&pm->lock);
	v = pm->rcr;
	pthread_mutex_unlock(&pm->lock);
	return v;
}

void pm_rcr_write(void *opaque, uint8_t val)
{
	struct pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	/* RST_CPU is self-clearing: setting it is the reset, whatever the type. */
	pm->rcr = val & (RCR_SYS_RST | RCR_FULL_RST);
	if (val & RCR_RST_CPU)
		pm_request(pm, PM_REQUEST_RESET);
	pthread_mutex_unlock(&pm->lock);
}

/* ---- i8042 keyboard controller with nothing attached ---- */

static void kbc_reply(struct pm *pm, uint8_t v)
{
	pm->kbc_out = v;
	pm->kbc_status |= I8042_STS_OBF;
}

static void kbc_command(struct pm *pm, uint8_t cmd)
{
	switch (cmd) {
	case 0x20:		/* read controller configuration byte */
		kbc_reply(pm, pm->kbc_ctr);
		break;
	case 0x60:		/* write it: the byte follows on the data port */
	case 0xd1:		/* write output port */
		pm->kbc_pending = cmd;
		break;
	case 0xa7:
		pm->kbc_ctr |= I8042_CTR_AUXDIS;
		break;
	case 0xa8:
		pm->kbc_ctr &= ~I8042_CTR_AUXDIS;
		break;
	case 0xa9:		/* AUX interface test: clock line stuck low, no mouse */
		kbc_reply(pm, 0x01);
		break;
	case 0xaa:		/* controller self-test passed */
		kbc_reply(pm, 0x55);
		break;
	case 0xab:		/* keyboard interface test passed */
		kbc_reply(pm, 0x00);
		break;
	case 0xad:
		pm->kbc_ctr |= I8042_CTR_KBDDIS;
		break;
	case 0xae:
		pm->kbc_ctr &= ~I8042_CTR_KBDDIS;
		break;
	case 0xd0:		/* read output port: reset line high, A20 on */
		kbc_reply(pm, 0x03);
		break;
	default:
		/* 0xf0-0xff pulse output lines; bit 0 low pulses the reset line. */
		if (cmd >= 0xf0 && !(cmd & 1))
			pm_request(pm, PM_REQUEST_RESET);
		break;
	}
}

static void kbc_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	struct pm *pm = opaque;
	uint8_t v;

	pthread_mutex_lock(&pm->lock);
	if (offset == 0) {
		v = pm->kbc_out;
		pm->kbc_status &= ~I8042_STS_OBF;
	} else {
		v = pm->kbc_status;
	}
	pthread_mutex_unlock(&pm->lock);
	memset(data, v, 1);
	if (len > 1)
		memset((uint8_t *)data + 1, 0xff, len - 1);
}

static void kbc_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	struct pm *pm = opaque;
	uint8_t v = *(const uint8_t *)data;

	pthread_mutex_lock(&pm->lock);
	if (offset == 4) {
		pm->kbc_status |= I8042_STS_CMD;
		pm->kbc_pending = 0;
		kbc_command(pm, v);
	} else {
		pm->kbc_status &= ~I8042_STS_CMD;
		if (pm->kbc_pending == 0x60) {
			pm->kbc_ctr = v;
			pm->kbc_status = (pm->kbc_status & ~I8042_STS_SYS) | (v & I8042_STS_SYS);
		} else if (pm->kbc_pending == 0xd1 && !(v & 1)) {
			pm_request(pm, PM_REQUEST_RESET);
		}
		/* A byte for the keyboard goes nowhere: there is none. */
		pm->kbc_pending = 0;
	}
	pthread_mutex_unlock(&pm->lock);
}

static const struct vmm_bus_ops kbc_ops = { .read = kbc_read, .write = kbc_write };

/* The i8042 decodes 0x60 and 0x64 only; 0x61-0x63 (PIT/speaker) stay free. */
static const struct {
	uint16_t port, len;
	const struct vmm_bus_ops *ops;
} pm_ranges[] = {
	{ PM_PM1A_EVT_PORT, PM_PM1A_EVT_LEN, &pm1_evt_ops },
	{ PM_PM1A_CNT_PORT, PM_PM1A_CNT_LEN, &pm1_cnt_ops },
	{ PM_GPE0_PORT, PM_GPE0_LEN, &gpe0_ops },
	{ PM_I8042_DATA_PORT, 1, &kbc_ops },
};

static void kbc_cmd_read(void *opaque, uint64_t offset, void *data, unsigned int len)
{
	kbc_read(opaque, 4, data, len);
}

static void kbc_cmd_write(void *opaque, uint64_t offset, const void *data, unsigned int len)
{
	kbc_write(opaque, 4, data, len);
}

static const struct vmm_bus_ops kbc_cmd_ops = { .read = kbc_cmd_read, .write = kbc_cmd_write };

int pm_new(const struct pm_config *cfg, struct pm **out)
{
	struct pm *pm;
	size_t i;
	int ret;

	if (!cfg->bus)
		return -EINVAL;
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	pthread_mutex_init(&pm->lock, NULL);
	pm->cfg = *cfg;
	pm->pm1_cnt = PM1_CNT_SCI_EN;
	/* As firmware leaves it: translation and keyboard interrupt on, POST done. */
	pm->kbc_ctr = 0x45;
	pm->kbc_status = I8042_STS_SYS;

	for (i = 0; i < sizeof(pm_ranges) / sizeof(pm_ranges[0]); i++) {
		ret = vmm_bus_register(cfg->bus, VMM_BUS_PIO, pm_ranges[i].port, pm_ranges[i].len,
				       pm_ranges[i].ops, pm);
		if (ret)
			goto err_unregister;
	}
	ret = vmm_bus_register(cfg->bus, VMM_BUS_PIO, PM_I8042_CMD_PORT, 1, &kbc_cmd_ops, pm);
	if (ret)
		goto err_unregister;
	*out = pm;
	return 0;

err_unregister:
	while (i--)
		vmm_bus_unregister(cfg->bus, VMM_BUS_PIO, pm_ranges[i].port);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
	return ret;
}

void pm_free(struct pm *pm)
{
	if (!pm)
		return;
	vmm_bus_unregister(pm->cfg.bus, VMM_BUS_PIO, PM_I8042_CMD_PORT);
	for (size_t i = 0; i < sizeof(pm_ranges) / sizeof(pm_ranges[0]); i++)
		vmm_bus_unregister(pm->cfg.bus, VMM_BUS_PIO, pm_ranges[i].port);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

void pm_press_power_button(struct pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->pm1_sts |= PM1_STS_PWRBTN;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

int pm_raise_gpe(struct pm *pm, unsigned int gpe)
{
	if (gpe >= PM_GPE0_COUNT)
		return -EINVAL;
	pthread_mutex_lock(&pm->lock);
	pm->gpe_sts |= 1u << gpe;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

int pm_set_gpe_level(struct pm *pm, unsigned int gpe, bool level)
{
	if (gpe >= PM_GPE0_COUNT)
		return -EINVAL;
	pthread_mutex_lock(&pm->lock);
	if (level) {
		pm->gpe_level |= 1u << gpe;
		pm->gpe_sts |= 1u << gpe;
	} else {
		pm->gpe_level &= ~(1u << gpe);
	}
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

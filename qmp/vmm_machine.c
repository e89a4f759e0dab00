// SPDX-License-Identifier: GPL-2.0-only
/* qmp_vmm_machine_ops: the QMP machine commands over vmm/vmm.h's struct vmm. */
#include "qmp/qmp.h"
#include "vmm/vmm.h"

static enum qmp_run_state vmm_machine_state(void *opaque)
{
	struct vmm *vmm = opaque;

	switch (vmm_get_state(vmm)) {
	case VMM_STATE_CREATED:
		return QMP_RUN_STATE_PRELAUNCH;
	case VMM_STATE_RUNNING:
		return QMP_RUN_STATE_RUNNING;
	case VMM_STATE_PAUSED:
		return QMP_RUN_STATE_PAUSED;
	case VMM_STATE_STOPPED:
		break;
	}
	return vmm_get_stop_reason(vmm) == VMM_STOP_ERROR ? QMP_RUN_STATE_INTERNAL_ERROR :
							     QMP_RUN_STATE_SHUTDOWN;
}

static int vmm_machine_pause(void *opaque)
{
	return vmm_pause(opaque);
}

static int vmm_machine_resume(void *opaque)
{
	return vmm_resume(opaque);
}

static int vmm_machine_reset(void *opaque)
{
	vmm_request_reset(opaque);
	return 0;
}

static int vmm_machine_powerdown(void *opaque)
{
	return vmm_request_powerdown(opaque);
}

static int vmm_machine_quit(void *opaque)
{
	vmm_request_stop(opaque, VMM_STOP_HOST);
	return 0;
}

const struct qmp_machine_ops qmp_vmm_machine_ops = {
	.state = vmm_machine_state,
	.pause = vmm_machine_pause,
	.resume = vmm_machine_resume,
	.reset = vmm_machine_reset,
	.powerdown = vmm_machine_powerdown,
	.quit = vmm_machine_quit,
	/* ferry does not reboot guests (vmm.h: a reset ends the run). */
	.reset_is_shutdown = true,
};

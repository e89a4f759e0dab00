/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmm/ - the virtual machine: KVM, vCPUs, event loop, devices, CLI.
 * This is the layer's only public header (used by qmp/ and the tests).
 */
#ifndef FERRY_VMM_H
#define FERRY_VMM_H

#include <stdbool.h>
#include <stdint.h>

/*
 * ---- The event loop ----
 * One epoll loop runs on its own thread.  QMP sockets, eventfds and timers
 * register here.  Rule (BRIEF.md section 2, rule 7): an object is never torn
 * down from inside one of its own callbacks; a callback that decides to
 * destroy its owner defers the destruction with vmm_loop_defer(), which runs
 * after the current dispatch round, outside every callback.
 */
struct vmm_loop;

typedef void (*vmm_loop_fd_fn)(void *opaque, uint32_t epoll_events);
typedef void (*vmm_loop_work_fn)(void *opaque);

int vmm_loop_new(struct vmm_loop **loop);
/* Starts the loop thread. */
int vmm_loop_start(struct vmm_loop *loop);
/* Stops and joins the loop thread; safe to call from any thread but the loop's. */
void vmm_loop_stop(struct vmm_loop *loop);
void vmm_loop_free(struct vmm_loop *loop);

/*
 * May be called from any thread, including from a callback.  After
 * vmm_loop_del_fd() returns, @fn is not running and will not run again for
 * that fd (unless called from @fn itself, which is allowed).
 */
int vmm_loop_add_fd(struct vmm_loop *loop, int fd, uint32_t epoll_events,
		    vmm_loop_fd_fn fn, void *opaque);
int vmm_loop_mod_fd(struct vmm_loop *loop, int fd, uint32_t epoll_events);
int vmm_loop_del_fd(struct vmm_loop *loop, int fd);
int vmm_loop_defer(struct vmm_loop *loop, vmm_loop_work_fn fn, void *opaque);

#endif /* FERRY_VMM_H */

// SPDX-License-Identifier: GPL-2.0-only
/* vmm/loop.c: dispatch, deletion races, deferred work, stop. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "vmm/vmm.h"

/* Waits up to 5 s for @flag to reach @want (the loop runs on its own thread). */
static bool wait_for(atomic_int *flag, int want)
{
	for (int i = 0; i < 5000; i++) {
		if (atomic_load(flag) >= want)
			return true;
		usleep(1000);
	}
	return false;
}

static void poke(int efd)
{
	uint64_t one = 1;

	cr_assert_eq(write(efd, &one, sizeof(one)), sizeof(one));
}

static void drain(int efd)
{
	uint64_t n;

	(void)!read(efd, &n, sizeof(n));
}

struct ctx {
	struct vmm_loop *loop;
	int efd;
	int other_efd;
	atomic_int calls;
	atomic_int done;
	atomic_int order[8];
	atomic_int norder;
	sem_t entered;
	bool in_callback;
};

static struct vmm_loop *new_loop(void)
{
	struct vmm_loop *loop;

	cr_assert_eq(vmm_loop_new(&loop), 0);
	cr_assert_eq(vmm_loop_start(loop), 0);
	return loop;
}

static void count_cb(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	cr_assert(events & EPOLLIN);
	drain(c->efd);
	atomic_fetch_add(&c->calls, 1);
}

Test(loop, dispatches_and_mod_disarms)
{
	struct ctx c = { .loop = new_loop(), .efd = eventfd(0, EFD_NONBLOCK) };

	cr_assert_eq(vmm_loop_add_fd(c.loop, c.efd, EPOLLIN, count_cb, &c), 0);
	cr_assert_eq(vmm_loop_add_fd(c.loop, c.efd, EPOLLIN, count_cb, &c), -EEXIST);
	poke(c.efd);
	cr_assert(wait_for(&c.calls, 1));

	cr_assert_eq(vmm_loop_mod_fd(c.loop, c.efd, 0), 0);
	poke(c.efd);
	usleep(50000);
	cr_assert_eq(atomic_load(&c.calls), 1);
	cr_assert_eq(vmm_loop_mod_fd(c.loop, c.efd, EPOLLIN), 0);
	cr_assert(wait_for(&c.calls, 2));

	cr_assert_eq(vmm_loop_del_fd(c.loop, c.efd), 0);
	cr_assert_eq(vmm_loop_del_fd(c.loop, c.efd), -ENOENT);
	cr_assert_eq(vmm_loop_mod_fd(c.loop, c.efd, EPOLLIN), -ENOENT);
	vmm_loop_free(c.loop);
	close(c.efd);
}

static void self_del_cb(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	/* Level-triggered and never drained: only the deletion stops the calls. */
	atomic_fetch_add(&c->calls, 1);
	cr_assert_eq(vmm_loop_del_fd(c->loop, c->efd), 0);
	cr_assert_eq(vmm_loop_del_fd(c->loop, c->efd), -ENOENT);
	atomic_store(&c->done, 1);
}

Test(loop, del_from_own_callback)
{
	struct ctx c = { .loop = new_loop(), .efd = eventfd(0, EFD_NONBLOCK) };

	poke(c.efd);
	cr_assert_eq(vmm_loop_add_fd(c.loop, c.efd, EPOLLIN, self_del_cb, &c), 0);
	cr_assert(wait_for(&c.done, 1));
	usleep(50000);
	cr_assert_eq(atomic_load(&c.calls), 1);
	/* The fd can be registered again at once. */
	cr_assert_eq(vmm_loop_add_fd(c.loop, c.efd, EPOLLIN, count_cb, &c), 0);
	cr_assert(wait_for(&c.calls, 2));
	vmm_loop_free(c.loop);
	close(c.efd);
}

static void slow_cb(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	drain(c->efd);
	atomic_fetch_add(&c->calls, 1);
	sem_post(&c->entered);
	usleep(200000);
	atomic_store(&c->done, 1);
}

Test(loop, del_from_other_thread_waits_for_running_callback)
{
	struct ctx c = { .loop = new_loop(), .efd = eventfd(0, EFD_NONBLOCK) };

	sem_init(&c.entered, 0, 0);
	cr_assert_eq(vmm_loop_add_fd(c.loop, c.efd, EPOLLIN, slow_cb, &c), 0);
	poke(c.efd);
	sem_wait(&c.entered);
	/* The callback is inside its 200 ms sleep: del must wait it out. */
	cr_assert_eq(vmm_loop_del_fd(c.loop, c.efd), 0);
	cr_assert_eq(atomic_load(&c.done), 1, "del returned while the callback ran");
	poke(c.efd);
	usleep(50000);
	cr_assert_eq(atomic_load(&c.calls), 1);
	vmm_loop_free(c.loop);
	close(c.efd);
	sem_destroy(&c.entered);
}

/* Two fds ready in the same round; whichever runs first deletes the other. */
static struct ctx pair[2];

static void pair_cb(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	atomic_fetch_add(&c->calls, 1);
	vmm_loop_del_fd(c->loop, c->other_efd);
	vmm_loop_del_fd(c->loop, c->efd);
	atomic_store(&c->done, 1);
}

Test(loop, del_of_other_fd_drops_its_pending_event)
{
	struct vmm_loop *loop;

	cr_assert_eq(vmm_loop_new(&loop), 0);
	for (int i = 0; i < 2; i++)
		pair[i] = (struct ctx){ .loop = loop, .efd = eventfd(1, EFD_NONBLOCK) };
	pair[0].other_efd = pair[1].efd;
	pair[1].other_efd = pair[0].efd;
	for (int i = 0; i < 2; i++)
		cr_assert_eq(vmm_loop_add_fd(loop, pair[i].efd, EPOLLIN, pair_cb, &pair[i]), 0);
	/* Both are readable before the loop's first epoll_wait. */
	cr_assert_eq(vmm_loop_start(loop), 0);
	for (int i = 0; i < 500 && !pair[0].done && !pair[1].done; i++)
		usleep(1000);
	usleep(50000);
	cr_assert_eq(atomic_load(&pair[0].calls) + atomic_load(&pair[1].calls), 1);
	vmm_loop_free(loop);
	for (int i = 0; i < 2; i++)
		close(pair[i].efd);
}

static struct ctx dctx;

static void record(void *opaque)
{
	int n = atomic_fetch_add(&dctx.norder, 1);

	/* Deferred work never runs inside a callback. */
	cr_assert_not(dctx.in_callback);
	atomic_store(&dctx.order[n], (int)(long)opaque);
}

static void record_and_defer(void *opaque)
{
	record(opaque);
	cr_assert_eq(vmm_loop_defer(dctx.loop, record, (void *)5L), 0);
}

static void defer_cb(void *opaque, uint32_t events)
{
	dctx.in_callback = true;
	drain(dctx.efd);
	cr_assert_eq(vmm_loop_defer(dctx.loop, record, (void *)1L), 0);
	cr_assert_eq(vmm_loop_defer(dctx.loop, record, (void *)2L), 0);
	cr_assert_eq(vmm_loop_defer(dctx.loop, record_and_defer, (void *)3L), 0);
	cr_assert_eq(vmm_loop_defer(dctx.loop, record, (void *)4L), 0);
	/* Nothing deferred has run yet. */
	cr_assert_eq(atomic_load(&dctx.norder), 0);
	dctx.in_callback = false;
}

Test(loop, defer_runs_in_order_after_the_callback)
{
	dctx = (struct ctx){ .loop = new_loop(), .efd = eventfd(0, EFD_NONBLOCK) };
	cr_assert_eq(vmm_loop_add_fd(dctx.loop, dctx.efd, EPOLLIN, defer_cb, NULL), 0);
	poke(dctx.efd);
	cr_assert(wait_for(&dctx.norder, 5));
	for (int i = 0; i < 5; i++)
		cr_assert_eq(atomic_load(&dctx.order[i]), i + 1);
	vmm_loop_free(dctx.loop);
	close(dctx.efd);
}

/* The pattern of BRIEF rule 7: the callback defers its owner's destruction. */
struct owner {
	struct vmm_loop *loop;
	int efd;
	atomic_int *freed;
};

static void owner_destroy(void *opaque)
{
	struct owner *o = opaque;

	cr_assert_eq(vmm_loop_del_fd(o->loop, o->efd), 0);
	close(o->efd);
	atomic_fetch_add(o->freed, 1);
	free(o);
}

static void owner_cb(void *opaque, uint32_t events)
{
	struct owner *o = opaque;

	drain(o->efd);
	cr_assert_eq(vmm_loop_defer(o->loop, owner_destroy, o), 0);
}

Test(loop, callback_defers_destruction_of_its_owner)
{
	struct vmm_loop *loop = new_loop();
	atomic_int freed = 0;
	struct owner *o = calloc(1, sizeof(*o));

	*o = (struct owner){ .loop = loop, .efd = eventfd(0, EFD_NONBLOCK), .freed = &freed };
	cr_assert_eq(vmm_loop_add_fd(loop, o->efd, EPOLLIN, owner_cb, o), 0);
	poke(o->efd);
	cr_assert(wait_for(&freed, 1));
	vmm_loop_free(loop);
}

static void bump(void *opaque)
{
	atomic_fetch_add((atomic_int *)opaque, 1);
}

Test(loop, defer_from_other_thread_and_stop_restart)
{
	struct ctx c = { .efd = eventfd(0, EFD_NONBLOCK) };
	atomic_int ran = 0;

	cr_assert_eq(vmm_loop_new(&c.loop), 0);
	/* Queued before start: runs as soon as the thread starts. */
	cr_assert_eq(vmm_loop_defer(c.loop, bump, &ran), 0);
	cr_assert_eq(vmm_loop_add_fd(c.loop, c.efd, EPOLLIN, count_cb, &c), 0);
	cr_assert_eq(vmm_loop_start(c.loop), 0);
	cr_assert_eq(vmm_loop_start(c.loop), -EBUSY);
	cr_assert(wait_for(&ran, 1));
	cr_assert_eq(vmm_loop_defer(c.loop, bump, &ran), 0);
	cr_assert(wait_for(&ran, 2));

	vmm_loop_stop(c.loop);
	vmm_loop_stop(c.loop);
	/* Stopped: events wait, and so does deferred work. */
	poke(c.efd);
	cr_assert_eq(vmm_loop_defer(c.loop, bump, &ran), 0);
	usleep(50000);
	cr_assert_eq(atomic_load(&c.calls), 0);
	cr_assert_eq(atomic_load(&ran), 2);

	cr_assert_eq(vmm_loop_start(c.loop), 0);
	cr_assert(wait_for(&c.calls, 1));
	cr_assert(wait_for(&ran, 3));
	vmm_loop_stop(c.loop);
	/* free runs work still queued, so no deferred destruction is lost. */
	cr_assert_eq(vmm_loop_defer(c.loop, bump, &ran), 0);
	vmm_loop_free(c.loop);
	cr_assert_eq(atomic_load(&ran), 4);
	close(c.efd);
}

static void stop_self_cb(void *opaque, uint32_t events)
{
	struct ctx *c = opaque;

	drain(c->efd);
	vmm_loop_stop(c->loop);
	atomic_store(&c->done, 1);
}

Test(loop, stop_from_a_callback_then_free)
{
	struct ctx c = { .loop = new_loop(), .efd = eventfd(0, EFD_NONBLOCK) };

	cr_assert_eq(vmm_loop_add_fd(c.loop, c.efd, EPOLLIN, stop_self_cb, &c), 0);
	poke(c.efd);
	cr_assert(wait_for(&c.done, 1));
	vmm_loop_free(c.loop);
	close(c.efd);
}

/* Many threads add and delete while events fire: no use-after-free (ASan). */
static void *churn(void *arg)
{
	struct ctx *c = arg;

	for (int i = 0; i < 2000; i++) {
		cr_assert_eq(vmm_loop_add_fd(c->loop, c->efd, EPOLLIN, count_cb, c), 0);
		poke(c->efd);
		cr_assert_eq(vmm_loop_del_fd(c->loop, c->efd), 0);
	}
	return NULL;
}

Test(loop, concurrent_add_del)
{
	struct vmm_loop *loop = new_loop();
	struct ctx c[3];
	pthread_t t[3];

	for (int i = 0; i < 3; i++) {
		c[i] = (struct ctx){ .loop = loop, .efd = eventfd(0, EFD_NONBLOCK) };
		cr_assert_eq(pthread_create(&t[i], NULL, churn, &c[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		close(c[i].efd);
	}
	vmm_loop_free(loop);
}

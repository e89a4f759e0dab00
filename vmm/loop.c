// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event loop (vmm/vmm.h): one epoll instance served by one thread.
 *
 * Registrations live in a list under loop->lock; epoll carries a unique id
 * per registration, never a pointer, so an event already fetched for an fd
 * that was deleted (or deleted and added again) in the same round finds no
 * entry, or a different id, and is dropped.  The loop thread marks the entry
 * whose callback it is running; vmm_loop_del_fd() from another thread waits
 * on loop->idle until that mark moves, which is what makes "after del returns,
 * the callback is not running" true.  A callback deleting its own fd only
 * flags the entry, and the loop thread frees it once the callback returns.
 *
 * Deferred work runs at the top of each round, after the previous round's
 * callbacks have all returned and with no lock held: the place where an
 * object may be destroyed (BRIEF rule 7).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/vmm.h"

#define LOOP_KICK_ID 0	/* epoll id of the loop's own eventfd */
#define LOOP_BATCH 32

struct loop_entry {
	struct loop_entry *next;
	uint64_t id;
	int fd;
	vmm_loop_fd_fn fn;
	void *opaque;
	bool dead;	/* deleted while its callback runs: the loop thread frees it */
};

struct loop_work {
	struct loop_work *next;
	vmm_loop_work_fn fn;
	void *opaque;
};

struct vmm_loop {
	int epfd;
	int kick;
	pthread_mutex_t lock;
	pthread_cond_t idle;		/* signalled when @running changes */
	struct loop_entry *entries;
	uint64_t next_id;
	struct loop_entry *running;	/* entry whose callback runs now, or NULL */
	uint64_t done;			/* callbacks returned so far */
	struct loop_work *work, **work_tail;
	pthread_t thread;
	bool started;			/* a thread exists that has not been joined */
	bool stopping;
};

int vmm_loop_new(struct vmm_loop **out)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LOOP_KICK_ID };
	struct vmm_loop *loop;
	int ret;

	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->next_id = LOOP_KICK_ID + 1;
	loop->work_tail = &loop->work;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		ret = -errno;
		goto err_free;
	}
	loop->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->kick < 0) {
		ret = -errno;
		goto err_epoll;
	}
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->kick, &ev)) {
		ret = -errno;
		goto err_kick;
	}
	pthread_mutex_init(&loop->lock, NULL);
	pthread_cond_init(&loop->idle, NULL);
	*out = loop;
	return 0;

err_kick:
	close(loop->kick);
err_epoll:
	close(loop->epfd);
err_free:
	free(loop);
	return ret;
}

static void loop_kick(struct vmm_loop *loop)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: the loop is woken anyway. */
	if (write(loop->kick, &one, sizeof(one)) < 0 && errno != EAGAIN)
		abort();
}

static bool loop_on_thread(struct vmm_loop *loop)
{
	return loop->started && pthread_equal(pthread_self(), loop->thread);
}

/* Runs the work queued so far; work it defers waits for the next round. */
static void loop_run_work(struct vmm_loop *loop)
{
	struct loop_work *w;

	pthread_mutex_lock(&loop->lock);
	w = loop->work;
	loop->work = NULL;
	loop->work_tail = &loop->work;
	pthread_mutex_unlock(&loop->lock);

	while (w) {
		struct loop_work *next = w->next;

		w->fn(w->opaque);
		free(w);
		w = next;
	}
}

static struct loop_entry *loop_find_id(struct vmm_loop *loop, uint64_t id)
{
	for (struct loop_entry *e = loop->entries; e; e = e->next)
		if (e->id == id)
			return e;
	return NULL;
}

static struct loop_entry **loop_find_fd(struct vmm_loop *loop, int fd)
{
	struct loop_entry **p;

	for (p = &loop->entries; *p; p = &(*p)->next)
		if ((*p)->fd == fd)
			return p;
	return NULL;
}

static void loop_dispatch(struct vmm_loop *loop, const struct epoll_event *ev)
{
	struct loop_entry *e;

	if (ev->data.u64 == LOOP_KICK_ID) {
		uint64_t n;

		if (read(loop->kick, &n, sizeof(n)) < 0 && errno != EAGAIN)
			abort();
		return;
	}

	pthread_mutex_lock(&loop->lock);
	e = loop_find_id(loop, ev->data.u64);
	if (!e) {
		pthread_mutex_unlock(&loop->lock);
		return;
	}
	loop->running = e;
	pthread_mutex_unlock(&loop->lock);

	e->fn(e->opaque, ev->events);

	pthread_mutex_lock(&loop->lock);
	loop->running = NULL;
	loop->done++;
	if (e->dead)
		free(e);
	pthread_cond_broadcast(&loop->idle);
	pthread_mutex_unlock(&loop->lock);
}

static void *loop_thread(void *arg)
{
	struct vmm_loop *loop = arg;
	struct epoll_event evs[LOOP_BATCH];

	for (;;) {
		bool stop;
		int n;

		loop_run_work(loop);
		pthread_mutex_lock(&loop->lock);
		stop = loop->stopping;
		pthread_mutex_unlock(&loop->lock);
		if (stop)
			break;

		n = epoll_wait(loop->epfd, evs, LOOP_BATCH, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			abort();	/* EBADF/EINVAL: the loop itself is corrupt */
		}
		for (int i = 0; i < n; i++)
			loop_dispatch(loop, &evs[i]);
	}
	return NULL;
}

int vmm_loop_start(struct vmm_loop *loop)
{
	int ret;

	pthread_mutex_lock(&loop->lock);
	if (loop->started) {
		pthread_mutex_unlock(&loop->lock);
		return -EBUSY;
	}
	loop->stopping = false;
	/* Under the lock so loop_on_thread() never sees a half-set thread id. */
	ret = -pthread_create(&loop->thread, NULL, loop_thread, loop);
	if (!ret)
		loop->started = true;
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

void vmm_loop_stop(struct vmm_loop *loop)
{
	pthread_mutex_lock(&loop->lock);
	if (!loop->started) {
		pthread_mutex_unlock(&loop->lock);
		return;
	}
	loop->stopping = true;
	pthread_mutex_unlock(&loop->lock);
	loop_kick(loop);

	/* From a callback: the thread leaves after this round; a later stop or free joins. */
	if (pthread_equal(pthread_self(), loop->thread))
		return;
	pthread_join(loop->thread, NULL);
	pthread_mutex_lock(&loop->lock);
	loop->started = false;
	loop->stopping = false;
	pthread_mutex_unlock(&loop->lock);
}

void vmm_loop_free(struct vmm_loop *loop)
{
	if (!loop)
		return;
	vmm_loop_stop(loop);
	/* Work still queued (deferred destructions) must not be lost. */
	while (loop->work)
		loop_run_work(loop);
	while (loop->entries) {
		struct loop_entry *e = loop->entries;

		loop->entries = e->next;
		free(e);
	}
	close(loop->kick);
	close(loop->epfd);
	pthread_cond_destroy(&loop->idle);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

int vmm_loop_add_fd(struct vmm_loop *loop, int fd, uint32_t epoll_events,
		    vmm_loop_fd_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = epoll_events };
	struct loop_entry *e;
	int ret = 0;

	if (fd < 0 || !fn)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = fd;
	e->fn = fn;
	e->opaque = opaque;

	pthread_mutex_lock(&loop->lock);
	if (loop_find_fd(loop, fd)) {
		ret = -EEXIST;
		goto out;
	}
	e->id = loop->next_id++;
	ev.data.u64 = e->id;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		ret = -errno;
		goto out;
	}
	e->next = loop->entries;
	loop->entries = e;
	e = NULL;
out:
	pthread_mutex_unlock(&loop->lock);
	free(e);
	return ret;
}

int vmm_loop_mod_fd(struct vmm_loop *loop, int fd, uint32_t epoll_events)
{
	struct epoll_event ev = { .events = epoll_events };
	struct loop_entry **p;
	int ret = 0;

	pthread_mutex_lock(&loop->lock);
	p = loop_find_fd(loop, fd);
	if (!p) {
		ret = -ENOENT;
	} else {
		ev.data.u64 = (*p)->id;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev))
			ret = -errno;
	}
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

int vmm_loop_del_fd(struct vmm_loop *loop, int fd)
{
	struct loop_entry **p, *e;

	pthread_mutex_lock(&loop->lock);
	p = loop_find_fd(loop, fd);
	if (!p) {
		pthread_mutex_unlock(&loop->lock);
		return -ENOENT;
	}
	e = *p;
	*p = e->next;
	/*
	 * EBADF/ENOENT here mean the caller closed the fd first, which removed
	 * it from epoll already; the registration is gone either way.
	 */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);

	if (loop->running != e) {
		free(e);
	} else {
		/* The loop thread frees it when the callback returns. */
		e->dead = true;
		if (!loop_on_thread(loop)) {
			uint64_t done = loop->done;

			/* @e may be freed (and its address reused) once done moves. */
			while (loop->done == done)
				pthread_cond_wait(&loop->idle, &loop->lock);
		}
	}
	pthread_mutex_unlock(&loop->lock);
	return 0;
}

int vmm_loop_defer(struct vmm_loop *loop, vmm_loop_work_fn fn, void *opaque)
{
	struct loop_work *w;

	if (!fn)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->opaque = opaque;

	pthread_mutex_lock(&loop->lock);
	*loop->work_tail = w;
	loop->work_tail = &w->next;
	pthread_mutex_unlock(&loop->lock);
	loop_kick(loop);
	return 0;
}

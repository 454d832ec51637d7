/*
 * worker.c: an ingest worker thread: one epoll loop over its cameras, a
 * command queue from the recorder (add, remove, stop) behind an eventfd,
 * and a 100 ms tick for timeouts, keep-alives, reconnects and the storage
 * sync interval (each camera in its own slot of it). It must never block in anything but epoll_wait.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ingest/rtsp.h"
#include "ingest/worker.h"
#include "nvrd/log.h"
#include "nvrd/util.h"

#define TICK_MS 100
#define MAX_EVENTS 256
/* After a wake with work, the loop lets this long pass before it waits
 * again: cameras send a frame's packets in a burst every 40 ms or so, and
 * taking several bursts per read costs fewer wake-ups and read() calls per
 * byte. Packets wait in the socket; the durability tick is 1 s anyway. */
#define COALESCE_US 10000

enum cmd_type { CMD_ADD, CMD_REMOVE };

struct cmd {
	struct cmd *next;
	enum cmd_type type;
	struct ing_camera *camera; /* CMD_ADD: owned by the command */
	nvr_uuid id;               /* CMD_REMOVE */
};

struct cam_node {
	struct cam_node *next;
	struct ing_camera *c;
	unsigned slot; /* the tick of each sync interval at which it syncs */
};

struct ing_worker {
	pthread_t thread;
	int epfd, evfd;
	int64_t sync_ms;
	pthread_mutex_t lock; /* protects cmds and stop */
	struct cmd *cmds, **cmd_tail;
	bool stop;
	atomic_size_t load;
	/* the thread's own */
	struct cam_node *cams;
	bool again;         /* some camera wants another read turn */
	unsigned tick_no;   /* ticks so far */
	unsigned next_slot; /* for the next camera added */
	char scratch[ING_RTSP_SCRATCH];
};

nvr_err
ing_worker_watch(struct ing_worker *w, int fd, bool want_write, struct ing_watch *watch)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (want_write ? EPOLLOUT : 0u), .data.ptr = watch };

	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return NVR_OK;
	if (errno == ENOENT && epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return NVR_OK;
	return NVR_ERR_IO;
}

void
ing_worker_unwatch(struct ing_worker *w, int fd)
{
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void
post(struct ing_worker *w, struct cmd *cmd)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	*w->cmd_tail = cmd;
	w->cmd_tail = &cmd->next;
	pthread_mutex_unlock(&w->lock);
	if (write(w->evfd, &one, sizeof(one)) != sizeof(one))
		nvr_log(NVR_LOG_ERROR, "ingest: cannot wake a worker: %s", strerror(errno));
}

void
ing_worker_add(struct ing_worker *w, struct ing_camera *c)
{
	struct cmd *cmd = calloc(1, sizeof(*cmd));

	if (cmd == NULL) {
		nvr_log(NVR_LOG_ERROR, "ingest: out of memory; a camera is not started");
		ing_camera_free(c);
		return;
	}
	cmd->type = CMD_ADD;
	cmd->camera = c;
	atomic_fetch_add(&w->load, 1);
	post(w, cmd);
}

void
ing_worker_remove(struct ing_worker *w, const nvr_uuid *id)
{
	struct cmd *cmd = calloc(1, sizeof(*cmd));

	if (cmd == NULL) {
		nvr_log(NVR_LOG_ERROR, "ingest: out of memory; a camera is not stopped");
		return;
	}
	cmd->type = CMD_REMOVE;
	cmd->id = *id;
	post(w, cmd);
}

size_t
ing_worker_load(struct ing_worker *w)
{
	return atomic_load(&w->load);
}

static void
remove_camera(struct ing_worker *w, const nvr_uuid *id)
{
	for (struct cam_node **pp = &w->cams; *pp != NULL; pp = &(*pp)->next) {
		if (memcmp(ing_camera_id((*pp)->c)->b, id->b, 16) == 0) {
			struct cam_node *n = *pp;
			*pp = n->next;
			ing_camera_free(n->c);
			free(n);
			atomic_fetch_sub(&w->load, 1);
			return;
		}
	}
}

/* Runs queued commands; returns false once a stop was asked. */
static bool
run_commands(struct ing_worker *w, int64_t now_ms)
{
	struct cmd *list, *cmd;
	uint64_t v;
	bool stop;

	if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		nvr_log(NVR_LOG_WARNING, "ingest: eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&w->lock);
	list = w->cmds;
	w->cmds = NULL;
	w->cmd_tail = &w->cmds;
	stop = w->stop;
	pthread_mutex_unlock(&w->lock);
	while ((cmd = list) != NULL) {
		list = cmd->next;
		if (cmd->type == CMD_ADD) {
			struct cam_node *n = calloc(1, sizeof(*n));
			if (n == NULL) {
				ing_camera_free(cmd->camera);
				atomic_fetch_sub(&w->load, 1);
			} else {
				n->c = cmd->camera;
				n->slot = w->next_slot++;
				n->next = w->cams;
				w->cams = n;
				ing_camera_start(n->c, w, now_ms);
			}
		} else {
			remove_camera(w, &cmd->id);
		}
		free(cmd);
	}
	return !stop;
}

void
ing_worker_again(struct ing_worker *w)
{
	w->again = true;
}

/* Gives another read turn to the cameras that ran out of their budget with
 * input left in their TLS buffers. Rare: a scan of the list is fine. */
static void
run_again(struct ing_worker *w, int64_t now_ms)
{
	w->again = false;
	for (struct cam_node *n = w->cams; n != NULL; n = n->next)
		ing_camera_again(n->c, now_ms, w->scratch);
}

/* Timeouts and keep-alives for every camera; the storage sync for the
 * cameras whose slot this tick is. Each camera still syncs once per sync
 * interval, but not all at once: the writers see a steady flow rather
 * than every stream's buffers in one burst (and need no more buffers). */
static void
tick(struct ing_worker *w, int64_t now_ms)
{
	unsigned slots = w->sync_ms >= TICK_MS ? (unsigned)(w->sync_ms / TICK_MS) : 1;
	unsigned slot = w->tick_no++ % slots;

	for (struct cam_node *n = w->cams; n != NULL; n = n->next)
		ing_camera_tick(n->c, now_ms, n->slot % slots == slot);
}

static void *
worker_main(void *arg)
{
	struct ing_worker *w = arg;
	struct epoll_event ev[MAX_EVENTS];
	int64_t now = nvr_monotonic_ms(), next_tick = now + TICK_MS, woke_us = 0;
	bool running = true;
	int n;

	/* named, for top -H, perf and gdb */
	pthread_setname_np(pthread_self(), "nvr-ingest");

	while (running) {
		now = nvr_monotonic_ms();
		if (woke_us != 0 && !w->again) {
			int64_t left = woke_us + COALESCE_US - nvr_monotonic_us();
			if (left > 0)
				usleep((useconds_t)left);
		}
		n = epoll_wait(w->epfd, ev, MAX_EVENTS, next_tick > now && !w->again ? (int)(next_tick - now) : 0);
		now = nvr_monotonic_ms();
		woke_us = n > 0 && n < MAX_EVENTS ? nvr_monotonic_us() : 0;
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL)
				running = run_commands(w, now);
			else
				ing_camera_io(ev[i].data.ptr, ev[i].events, now, w->scratch);
		}
		if (w->again)
			run_again(w, now);
		if (now >= next_tick) {
			tick(w, now);
			next_tick = now + TICK_MS;
		}
	}
	/* Stop: every camera ends its session and closes its segments. */
	while (w->cams != NULL) {
		struct cam_node *c = w->cams;
		w->cams = c->next;
		ing_camera_free(c->c);
		free(c);
	}
	return NULL;
}

nvr_err
ing_worker_start(int64_t sync_interval_ms, struct ing_worker **out)
{
	struct ing_worker *w = calloc(1, sizeof(*w));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	*out = NULL;
	if (w == NULL)
		return NVR_ERR_NOMEM;
	w->sync_ms = sync_interval_ms;
	w->cmd_tail = &w->cmds;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&w->lock, NULL);
	if (w->epfd < 0 || w->evfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) != 0 ||
	    pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		if (w->epfd >= 0)
			close(w->epfd);
		if (w->evfd >= 0)
			close(w->evfd);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return NVR_ERR_IO;
	}
	*out = w;
	return NVR_OK;
}

void
ing_worker_stop(struct ing_worker *w)
{
	uint64_t one = 1;
	struct cmd *cmd;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_mutex_unlock(&w->lock);
	if (write(w->evfd, &one, sizeof(one)) != sizeof(one))
		nvr_log(NVR_LOG_ERROR, "ingest: cannot wake a worker to stop it");
	pthread_join(w->thread, NULL);
	while ((cmd = w->cmds) != NULL) { /* added after the stop: never started */
		w->cmds = cmd->next;
		if (cmd->type == CMD_ADD)
			ing_camera_free(cmd->camera);
		free(cmd);
	}
	close(w->epfd);
	close(w->evfd);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/*
 * loadgen-stats.c: nvr-loadgen's counters as a JSON file, written on
 * SIGUSR1 and at exit: totals, the generator's own CPU time (so that a
 * benchmark can subtract what generating the load cost), and per camera,
 * per group and per open session figures.
 *
 * The file is written beside its final name and renamed, so a reader never
 * sees half of it.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "bench/common.h"
#include "bench/loadgen.h"
#include "nvrd/log.h"

static json_t *
counters_json(const struct lg_counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I}",
	    "packets_sent", (json_int_t)c->packets_sent, "bytes_sent", (json_int_t)c->bytes_sent,
	    "packets_dropped", (json_int_t)c->packets_dropped,
	    "bytes_dropped", (json_int_t)c->bytes_dropped);
}

static double
tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* CPU seconds per 10^9 bytes written to the sockets (TLS plaintext). */
static json_t *
generator_json(const struct lg_server *s)
{
	struct rusage ru;
	double user, sys, gb = (double)s->bytes_written / 1e9;

	getrusage(RUSAGE_SELF, &ru);
	user = tv_s(ru.ru_utime);
	sys = tv_s(ru.ru_stime);
	return json_pack("{s:f, s:f, s:f, s:I, s:f, s:i, s:I, s:I}",
	    "uptime_s", (double)(bench_mono_ns() - s->start_ns) / 1e9,
	    "cpu_user_s", user, "cpu_sys_s", sys,
	    "bytes_written", (json_int_t)s->bytes_written,
	    "cpu_s_per_gb", gb > 0 ? (user + sys) / gb : 0.0,
	    "connections_now", (int)s->n_conns, "connections_total", (json_int_t)s->conns_total,
	    "sessions_total", (json_int_t)s->sessions_total);
}

static json_t *
cameras_json(const struct lg_server *s, struct lg_counters *total, unsigned *playing)
{
	json_t *cams = json_object();

	for (unsigned i = 0; i < s->o->cameras; i++) {
		const struct lg_camera *cam = &s->cams[i];
		json_t *o = counters_json(&cam->c);
		char name[16];

		total->packets_sent += cam->c.packets_sent;
		total->bytes_sent += cam->c.bytes_sent;
		total->packets_dropped += cam->c.packets_dropped;
		total->bytes_dropped += cam->c.bytes_dropped;
		json_object_set_new(o, "group", json_integer(cam->group->index));
		json_object_set_new(o, "sessions_now", json_integer(cam->sessions_now));
		json_object_set_new(o, "sessions_total", json_integer((json_int_t)cam->sessions_total));
		snprintf(name, sizeof(name), "cam%u", cam->index);
		json_object_set_new(cams, name, o);
	}
	for (unsigned i = 0; i < s->n_groups; i++)
		*playing += (unsigned)s->groups[i].n_members;
	return cams;
}

static json_t *
groups_json(const struct lg_server *s)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < s->n_groups; i++) {
		const struct lg_group *g = &s->groups[i];

		json_array_append_new(a, json_pack("{s:i, s:I, s:i, s:I, s:I, s:I, s:b}",
		    "index", (int)g->index, "ssrc", (json_int_t)g->ssrc, "playing", (int)g->n_members,
		    "packets_protected", (json_int_t)g->packets, "payload_octets", (json_int_t)g->octets,
		    "capture_loops", (json_int_t)g->loop, "finished", (int)g->finished));
	}
	return a;
}

/* The sessions open now, with their own counters. */
static json_t *
sessions_json(const struct lg_server *s)
{
	json_t *a = json_array();

	for (const struct lg_conn *c = s->conns; c != NULL; c = c->next_conn) {
		json_t *o;

		if (c->cam == NULL)
			continue;
		o = counters_json(&c->c);
		json_object_set_new(o, "client", json_string(c->peer));
		json_object_set_new(o, "camera", json_integer(c->cam->index));
		json_object_set_new(o, "playing", json_boolean(c->playing));
		json_array_append_new(a, o);
	}
	return a;
}

nvr_err
lg_stats_write(const struct lg_server *s, const char *path)
{
	struct lg_counters total = { 0 };
	unsigned playing = 0;
	json_t *cams = cameras_json(s, &total, &playing);
	json_t *root = json_pack("{s:o, s:o, s:i, s:o, s:o, s:o}",
	    "generator", generator_json(s), "totals", counters_json(&total),
	    "sessions_playing", (int)playing, "groups", groups_json(s), "cameras", cams,
	    "sessions", sessions_json(s));
	char tmp[4096];
	nvr_err rc = NVR_OK;

	if (root == NULL)
		return NVR_ERR_NOMEM;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		rc = NVR_ERR_TOOBIG;
	} else if (json_dump_file(root, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(6)) != 0 ||
	    rename(tmp, path) != 0) {
		nvr_log_ex(NVR_LOG_ERROR, strerror(errno), NULL, "cannot write statistics to %s", path);
		rc = NVR_ERR_IO;
	}
	json_decref(root);
	return rc;
}

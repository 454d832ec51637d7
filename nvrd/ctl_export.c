/*
 * ctl_export.c: nvrctl export: an evidence bundle (storage/export.h,
 * docs/FORMAT.md section 12) made on the recorder's machine, as the API's
 * export jobs make them. It takes the evidence holds, audits them and the
 * export before writing (so the bundle holds those rows), writes the tar
 * beside OUT and renames it into place only once it is whole and synced:
 * OUT never names half a bundle.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvrd/ctl.h"
#include "storage/export.h"

#define USAGE                                                                                         \
	"nvrctl export --camera NAME [--camera NAME ...] --from TIME --to TIME --reason TEXT --out BUNDLE.tar" \
	" [--allow-damaged]"

struct args {
	const char *cameras[STG_EXPORT_CAMERAS_MAX];
	size_t ncameras;
	const char *from, *to, *reason, *out;
	bool allow_damaged;
};

static int
parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = { { "camera", required_argument, NULL, 'c' },
		{ "from", required_argument, NULL, 'f' }, { "to", required_argument, NULL, 't' },
		{ "reason", required_argument, NULL, 'r' }, { "out", required_argument, NULL, 'o' },
		{ "allow-damaged", no_argument, NULL, 'D' }, { NULL, 0, NULL, 0 } };
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (a->ncameras == STG_EXPORT_CAMERAS_MAX) {
				nvr_ctl_error(USAGE, "at most %d cameras an export", STG_EXPORT_CAMERAS_MAX);
				return -1;
			}
			a->cameras[a->ncameras++] = optarg;
			break;
		case 'f': a->from = optarg; break;
		case 't': a->to = optarg; break;
		case 'r': a->reason = optarg; break;
		case 'o': a->out = optarg; break;
		case 'D': a->allow_damaged = true; break;
		default:
			nvr_ctl_error(USAGE, c == ':' ? "%s needs a value" : "unknown option '%s'", argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc || a->ncameras == 0 || a->from == NULL || a->to == NULL || a->reason == NULL ||
	    a->out == NULL) {
		nvr_ctl_error(USAGE, "export takes --camera, --from, --to, --reason and --out");
		return -1;
	}
	return 0;
}

/* ---- the progress bar ------------------------------------------------------- */

struct bar {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	struct stg_export_progress *p;
	struct timespec start;
};

static double
since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
bar_draw(struct bar *b)
{
	uint64_t done = atomic_load(&b->p->done), total = atomic_load(&b->p->total);
	double s = since(&b->start), pct = total ? 100.0 * (double)done / (double)total : 0;
	char fill[31];
	int n = (int)(pct * 30 / 100);

	memset(fill, '#', (size_t)n);
	memset(fill + n, '.', (size_t)(30 - n));
	fill[30] = '\0';
	fprintf(stderr, "\r[%s] %5.1f%%  %.1f / %.1f MB  %.0f MB/s ", fill, pct, (double)done / 1e6,
	    (double)total / 1e6, s > 0 ? (double)done / 1e6 / s : 0);
}

static void *
bar_run(void *arg)
{
	struct bar *b = arg;
	struct timespec t;

	pthread_mutex_lock(&b->lock);
	while (!b->done) {
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 250000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&b->cond, &b->lock, &t);
		bar_draw(b);
	}
	pthread_mutex_unlock(&b->lock);
	fputc('\n', stderr);
	return NULL;
}

/* A bar on stderr while the bundle is written, only on a terminal. */
static bool
bar_start(struct bar *b, struct stg_export_progress *p)
{
	if (!isatty(STDERR_FILENO))
		return false;
	b->p = p;
	clock_gettime(CLOCK_MONOTONIC, &b->start);
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	return pthread_create(&b->thread, NULL, bar_run, b) == 0;
}

static void
bar_stop(struct bar *b)
{
	pthread_mutex_lock(&b->lock);
	b->done = true;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
}

/* ---- the export ---------------------------------------------------------------- */

/* The export's audit detail: what was asked, and (done) what was written. */
static char *
detail(const struct stg_export_req *req, const json_t *holds, const char *file, const char *error)
{
	json_t *d = json_pack("{s:[], s:s, s:s, s:s, s:O}", "cameras", "from", req->from, "to", req->to,
	    "reason", req->reason, "holds", holds ? holds : json_null());
	char *text;

	for (size_t i = 0; d != NULL && i < req->ncameras; i++)
		json_array_append_new(json_object_get(d, "cameras"), json_string(req->cameras[i]));
	if (d != NULL && file != NULL)
		json_object_set_new(d, "file", json_string(file));
	if (d != NULL && error != NULL)
		json_object_set_new(d, "error", json_string(error));
	text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	return text;
}

static void
audit(PGconn *db, const char *action, const struct stg_export_req *req, const json_t *holds, const char *file,
    const char *error)
{
	char id[NVR_UUID_STRLEN], *d = detail(req, holds, file, error);

	nvr_uuid_format(&req->id, id);
	(void)nvr_ctl_audit_change(db, action, id, d);
	free(d);
}

/* Holds taken: one hold.add row each, as nvrctl hold add writes. */
static void
audit_holds(PGconn *db, const json_t *holds)
{
	for (size_t i = 0; i < json_array_size(holds); i++) {
		json_t *h = json_array_get(holds, i);
		char *text = json_dumps(h, JSON_COMPACT);
		(void)nvr_ctl_audit_change(db, "hold.add", json_string_value(json_object_get(h, "id")), text);
		free(text);
	}
}

/* The bundle at out (storage/export.h), with a progress bar meanwhile. */
static nvr_err
write_file(struct nvr_ctl *ctl, const struct stg_signer *sg, const struct stg_export_req *req,
    const json_t *holds, const char *out, struct stg_export_progress *p, json_t **report, char *why,
    size_t whysize)
{
	struct bar bar = { 0 };
	bool drawn = bar_start(&bar, p);
	nvr_err rc = stg_export_to_file(ctl->db, ctl->cfg->storage_root, sg, req, holds, out, p, NULL, report, why,
	    whysize);

	if (drawn)
		bar_stop(&bar);
	return rc;
}

/* What the bundle lacks of the range, and the damaged segments it holds
 * (--allow-damaged): on stdout, after the line that names the bundle. */
static void
say_report(const json_t *report)
{
	size_t i;
	json_t *e;

	if (json_is_true(json_object_get(report, "complete"))) {
		printf("complete: the segments cover the whole range asked for\n");
		return;
	}
	json_array_foreach(json_object_get(report, "missing"), i, e) {
		const char *st = json_string_value(json_object_get(e, "stream"));
		printf("NOT COMPLETE: %s%s%s: %s to %s: %s\n", json_string_value(json_object_get(e, "camera")),
		    st ? " " : "", st ? st : "", json_string_value(json_object_get(e, "from")),
		    json_string_value(json_object_get(e, "to")), json_string_value(json_object_get(e, "why")));
	}
	json_array_foreach(json_object_get(report, "damaged"), i, e) {
		printf("DAMAGED: %s %s seq %" JSON_INTEGER_FORMAT " (segment %s): %s; in the bundle all the same "
		       "(--allow-damaged)\n", json_string_value(json_object_get(e, "camera")),
		    json_string_value(json_object_get(e, "stream")), json_integer_value(json_object_get(e, "seq")),
		    json_string_value(json_object_get(e, "segment")), json_string_value(json_object_get(e, "why")));
	}
}

static int
run(struct nvr_ctl *ctl, const struct args *a)
{
	struct stg_export_req req = { .cameras = a->cameras, .ncameras = a->ncameras, .from = a->from,
		.to = a->to, .reason = a->reason, .address = "local", .allow_damaged = a->allow_damaged };
	struct stg_export_progress p = { 0 };
	struct stg_signer *sg = NULL;
	char actor[128], why[8192], id[NVR_UUID_STRLEN];
	json_t *holds = NULL, *report = NULL;
	nvr_err rc;
	int st = NVR_CTL_FAIL;

	nvr_ctl_actor(actor, sizeof(actor));
	req.actor = actor;
	if (nvr_ctl_config(ctl) == NULL || nvr_ctl_db(ctl) == NULL || nvr_uuid_new(&req.id) != NVR_OK)
		return NVR_CTL_FAIL;
	nvr_uuid_format(&req.id, id);
	if (stg_signer_load(ctl->cfg->signing_key, ctl->cfg->signing_cert, false, &sg) != NVR_OK) {
		nvr_ctl_error("run nvrctl as the user nvrd runs as (or root)",
		    "cannot read the recorder's signing key %s: an export must be signed", ctl->cfg->signing_key);
		return NVR_CTL_FAIL;
	}
	if ((rc = stg_export_prepare(ctl->db, &req, &holds, why, sizeof(why))) != NVR_OK) {
		nvr_ctl_error(rc == NVR_ERR_INVAL ? "nvrctl camera list; times as 2026-11-22T10:00:00Z" : NULL,
		    "cannot export: %s", why);
		goto out;
	}
	audit_holds(ctl->db, holds);
	audit(ctl->db, "export.create", &req, holds, NULL, NULL);
	if (write_file(ctl, sg, &req, holds, a->out, &p, &report, why, sizeof(why)) != NVR_OK) {
		audit(ctl->db, "export.failed", &req, holds, NULL, why);
		nvr_ctl_error("the evidence holds stay: release them with nvrctl hold release ID",
		    "export %s failed: %s", id, why);
		goto out;
	}
	audit(ctl->db, "export.done", &req, holds, a->out, NULL);
	printf("export %s: %s, %llu bytes of segments; %zu evidence hold%s taken\n", id, a->out,
	    (unsigned long long)atomic_load(&p.total), json_array_size(holds), json_array_size(holds) == 1 ? "" : "s");
	say_report(report);
	st = NVR_CTL_OK;
out:
	json_decref(report);
	json_decref(holds);
	stg_signer_free(sg);
	return st;
}

int
nvr_ctl_export(struct nvr_ctl *ctl, int argc, char **argv)
{
	static char name[] = "export";
	struct args a = { 0 };
	char **args = calloc((size_t)argc + 2, sizeof(*args));
	int st;

	if (args == NULL) {
		nvr_ctl_error(NULL, "out of memory");
		return NVR_CTL_FAIL;
	}
	args[0] = name;
	memcpy(args + 1, argv, (size_t)argc * sizeof(*args));
	st = parse(argc + 1, args, &a) != 0 ? NVR_CTL_USAGE : run(ctl, &a);
	free(args);
	return st;
}

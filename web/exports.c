/*
 * exports.c: the export job threads (exports.h). Each job has its own
 * PostgreSQL connection, for the length of one bundle, so a long export
 * never holds one of the request pool's.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvrd/log.h"
#include "storage/db.h"
#include "storage/fileio.h"
#include "web/exports.h"

struct job {
	struct web_exports *x;
	struct job *next;
	pthread_t thread;
	char id[NVR_UUID_STRLEN];
	struct stg_export_req req; /* pointing at the copies below */
	char **cameras, *from, *to, *reason, *actor, *address;
	json_t *holds;
	struct stg_export_progress p;
};

struct web_exports {
	const struct nvr_config *cfg;
	const struct stg_signer *signer;
	struct web_audit *audit;
	char dir[4096];
	pthread_mutex_t lock;
	pthread_cond_t gone; /* a job left the list */
	struct job *jobs;
	int running;
};

static void
job_free(struct job *j)
{
	for (size_t i = 0; j->cameras != NULL && i < j->req.ncameras; i++)
		free(j->cameras[i]);
	free(j->cameras);
	free(j->from);
	free(j->to);
	free(j->reason);
	free(j->actor);
	free(j->address);
	json_decref(j->holds);
	free(j);
}

/* Removes what a stopped run left half-written. */
static void
sweep(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strstr(e->d_name, ".tar.part") == NULL || unlinkat(dirfd(d), e->d_name, 0) != 0)
			continue;
		nvr_log(NVR_LOG_NOTICE, "exports: removed %s/%s, left by an export that did not finish", dir, e->d_name);
	}
	if (d != NULL)
		closedir(d);
}

nvr_err
web_exports_new(const struct nvr_config *cfg, const struct stg_signer *signer, struct web_audit *audit,
    struct web_exports **out)
{
	struct web_exports *x = calloc(1, sizeof(*x));

	*out = NULL;
	if (x == NULL)
		return NVR_ERR_NOMEM;
	x->cfg = cfg;
	x->signer = signer;
	x->audit = audit;
	snprintf(x->dir, sizeof(x->dir), "%s/" WEB_EXPORTS_DIR, cfg->storage_root);
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->gone, NULL);
	sweep(x->dir);
	*out = x;
	return NVR_OK;
}

/* Records how job j ended in its row; a row that cannot be updated stays
 * "running", which the API shows as interrupted once the job is gone. */
static void
finish_row(PGconn *db, struct job *j, const char *state, uint64_t size, const char *path, const char *error,
    const json_t *report)
{
	char sz[24], total[24], *rep = report != NULL ? json_dumps(report, JSON_COMPACT) : NULL;
	const char *p[7] = { j->id, state, sz, path, error, total, rep };
	PGresult *r;

	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
	snprintf(total, sizeof(total), "%llu", (unsigned long long)atomic_load(&j->p.total));
	if (size == 0)
		p[2] = NULL;
	r = PQexecParams(db,
	    "UPDATE exports SET state = $2, size = $3::bigint, path = $4, error = $5, bytes_total = $6::bigint,"
	    " report = $7::jsonb, finished_at = now() WHERE id = $1::uuid",
	    7, NULL, p, NULL, NULL, 0);
	if (stg_db_check(db, r, PGRES_COMMAND_OK, "recording how an export ended") == NVR_OK)
		PQclear(r);
	free(rep);
}

/* The bundle at exports/<id>.tar (its relative path to rel), *size its
 * size; storage/export.h makes it whole or not at all. */
static nvr_err
write_bundle(struct job *j, PGconn *db, char *rel, size_t relsize, uint64_t *size, json_t **report, char *why,
    size_t whysize)
{
	struct web_exports *x = j->x;
	char dest[4200];
	nvr_err rc;

	snprintf(dest, sizeof(dest), "%s/%s.tar", x->dir, j->id);
	if (stg_make_dirs(x->dir) != NVR_OK) {
		snprintf(why, whysize, "cannot make %s: %s", x->dir, strerror(errno));
		return NVR_ERR_IO;
	}
	rc = stg_export_to_file(db, x->cfg->storage_root, x->signer, &j->req, j->holds, dest, &j->p, size, report, why,
	    whysize);
	if (rc == NVR_OK)
		snprintf(rel, relsize, WEB_EXPORTS_DIR "/%s.tar", j->id);
	return rc;
}

static void
audit_end(struct job *j, const char *action, enum web_audit_outcome outcome, const char *rel, uint64_t size,
    const char *error)
{
	json_t *d = json_pack("{s:s, s:s}", "actor", j->req.actor, "reason", j->req.reason);
	char *text;

	if (d != NULL && rel != NULL)
		json_object_set_new(d, "file", json_string(rel));
	if (d != NULL && size > 0)
		json_object_set_new(d, "size", json_integer((json_int_t)size));
	if (d != NULL && error != NULL)
		json_object_set_new(d, "error", json_string(error));
	text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	web_audit_record(j->x->audit, &(struct web_audit_event){ .actor = "nvrd", .address = "local",
	    .action = action, .object = j->id, .outcome = outcome, .detail = text });
	free(text);
	json_decref(d);
}

static void
leave(struct job *j)
{
	struct web_exports *x = j->x;

	pthread_mutex_lock(&x->lock);
	for (struct job **pp = &x->jobs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	x->running--;
	pthread_cond_broadcast(&x->gone);
	pthread_mutex_unlock(&x->lock);
}

static void *
job_run(void *arg)
{
	struct job *j = arg;
	char why[8800] = "", rel[128] = "";
	uint64_t size = 0;
	PGconn *db = NULL;
	json_t *report = NULL;
	nvr_err rc;

	if ((rc = stg_db_connect(j->x->cfg->db_conninfo, 10000, -1, &db, why, sizeof(why))) == NVR_OK)
		rc = write_bundle(j, db, rel, sizeof(rel), &size, &report, why, sizeof(why));
	if (rc == NVR_OK) {
		nvr_log(NVR_LOG_NOTICE, "export %s: %s written, %llu bytes%s", j->id, rel, (unsigned long long)size,
		    json_is_true(json_object_get(report, "complete")) ? "" : "; NOT COMPLETE: it lacks part of the range "
		    "asked for, or holds damaged segments (GET /api/v1/exports/ID says what)");
		audit_end(j, "export.done", WEB_AUDIT_OK, rel, size, NULL);
	} else {
		nvr_log(NVR_LOG_ERROR, "export %s failed: %s", j->id, why);
		audit_end(j, "export.failed", WEB_AUDIT_FAILED, NULL, 0, why);
	}
	if (db != NULL)
		finish_row(db, j, rc == NVR_OK ? "done" : "failed", size, rc == NVR_OK ? rel : NULL,
		    rc == NVR_OK ? NULL : why, report);
	json_decref(report);
	PQfinish(db);
	leave(j);
	job_free(j);
	return NULL;
}

static char *
dup_or(const char *s, bool *ok)
{
	char *d = strdup(s != NULL ? s : "");

	*ok = *ok && d != NULL;
	return d;
}

/* A job owning copies of req's strings and the holds; NULL if out of memory. */
static struct job *
job_new(struct web_exports *x, const struct stg_export_req *req, json_t *holds)
{
	struct job *j = calloc(1, sizeof(*j));
	bool ok = j != NULL;

	if (j == NULL)
		return NULL;
	j->x = x;
	j->holds = holds;
	j->req = *req;
	nvr_uuid_format(&req->id, j->id);
	j->req.from = j->from = dup_or(req->from, &ok);
	j->req.to = j->to = dup_or(req->to, &ok);
	j->req.reason = j->reason = dup_or(req->reason, &ok);
	j->req.actor = j->actor = dup_or(req->actor, &ok);
	j->req.address = j->address = dup_or(req->address, &ok);
	j->req.allow_damaged = req->allow_damaged;
	if ((j->cameras = calloc(req->ncameras, sizeof(*j->cameras))) == NULL)
		ok = false;
	for (size_t i = 0; j->cameras != NULL && i < req->ncameras; i++)
		j->cameras[i] = dup_or(req->cameras[i], &ok);
	j->req.cameras = (const char *const *)j->cameras;
	if (!ok) {
		job_free(j);
		return NULL;
	}
	return j;
}

nvr_err
web_exports_start(struct web_exports *x, const struct stg_export_req *req, json_t *holds)
{
	struct job *j;
	pthread_attr_t a;
	int e;

	pthread_mutex_lock(&x->lock);
	if (x->running >= WEB_EXPORTS_RUNNING_MAX) {
		pthread_mutex_unlock(&x->lock);
		json_decref(holds);
		return NVR_ERR_TOOBIG;
	}
	if ((j = job_new(x, req, holds)) == NULL) {
		pthread_mutex_unlock(&x->lock);
		return NVR_ERR_NOMEM;
	}
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	j->next = x->jobs;
	x->jobs = j;
	x->running++;
	if ((e = pthread_create(&j->thread, &a, job_run, j)) != 0) {
		x->jobs = j->next;
		x->running--;
		job_free(j);
	}
	pthread_attr_destroy(&a);
	pthread_mutex_unlock(&x->lock);
	return e == 0 ? NVR_OK : NVR_ERR_INTERNAL;
}

bool
web_exports_progress(struct web_exports *x, const char *id, uint64_t *done, uint64_t *total)
{
	bool found = false;

	pthread_mutex_lock(&x->lock);
	for (struct job *j = x->jobs; j != NULL && !found; j = j->next) {
		if (strcmp(j->id, id) == 0) {
			*done = atomic_load(&j->p.done);
			*total = atomic_load(&j->p.total);
			found = true;
		}
	}
	pthread_mutex_unlock(&x->lock);
	return found;
}

void
web_exports_free(struct web_exports *x)
{
	if (x == NULL)
		return;
	pthread_mutex_lock(&x->lock);
	for (struct job *j = x->jobs; j != NULL; j = j->next)
		atomic_store(&j->p.cancel, true);
	while (x->running > 0)
		pthread_cond_wait(&x->gone, &x->lock);
	pthread_mutex_unlock(&x->lock);
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->gone);
	free(x);
}

/*
 * recorder.c: nvrd's running part: storage threads, ingest workers and
 * cameras, kept in step with the database, and what they report.
 * It must never start a camera with no key holder to seal its keys to,
 * never log a camera password, and never let the database being down stop
 * cameras that are recording.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ingest/camera.h"
#include "ingest/tls.h"
#include "ingest/worker.h"
#include "nvrd/encode.h"
#include "nvrd/log.h"
#include "nvrd/recorder.h"
#include "nvrd/util.h"
#include "storage/catalog.h"
#include "storage/db.h"
#include "storage/index.h"
#include "storage/reconcile.h"
#include "storage/retention.h"
#include "storage/secret.h"
#include "storage/sign.h"
#include "storage/stats.h"
#include "storage/writer.h"
#include "web/audit.h"

#define RELOAD_EVERY_MS 60000
#define STATUS_EVERY_MS 2000
#define STATS_EVERY_MS 5000
#define RECONNECT_EVERY_MS 5000
#define MAX_BUFFERS 4096 /* 128 KiB each: 512 MiB at most; a stream holds one, more only while a disk lags */

struct run_cam {
	struct run_cam *next;
	nvr_uuid id;
	char name[STG_NAME_MAX + 1];
	char updated_at[40];
	struct ing_worker *worker;
};

struct stream_ent {
	struct stream_ent *next;
	nvr_uuid camera, id;
	char name[16];
};

struct status_ent {
	struct status_ent *next;
	nvr_uuid camera;
	struct ing_cam_status st;
	bool dirty;
};

struct nvr_recorder {
	const struct nvr_config *cfg;
	struct stg_signer *signer;
	struct stg_secret *secret;
	struct stg_index *index;
	struct stg_writer *writer;
	struct stg_retention *retention;
	struct ing_worker **workers;
	int nworkers;
	PGconn *db; /* main thread only: LISTEN and catalog reads */
	pthread_mutex_t lock; /* protects streams, kh and statuses (worker threads call in) */
	struct stream_ent *streams;
	struct ing_keyholders *kh;
	struct status_ent *statuses;
	struct run_cam *cams; /* main thread only */
	int64_t next_reload_ms, next_status_ms, next_stats_ms, next_connect_ms;
	bool reload;
};

/* ---- services for cameras (called on worker threads) ------------------------- */

static nvr_err
svc_stream_id(void *ctx, const nvr_uuid *camera, const char *name, const char *codec, int clock_rate, nvr_uuid *out)
{
	struct nvr_recorder *r = ctx;
	struct stream_ent *e;
	nvr_err rc = NVR_OK;

	pthread_mutex_lock(&r->lock);
	for (e = r->streams; e != NULL; e = e->next) {
		if (memcmp(e->camera.b, camera->b, 16) == 0 && strcmp(e->name, name) == 0)
			break;
	}
	if (e == NULL) {
		/* a new stream, registered by the index thread. Its id is
		 * derived from camera and name: if a crash loses the row, the
		 * next start derives the same id for the segments on disk. */
		if ((e = calloc(1, sizeof(*e))) == NULL || nvr_uuid_name(camera, name, &e->id) != NVR_OK) {
			free(e);
			rc = NVR_ERR_NOMEM;
			goto out;
		}
		e->camera = *camera;
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->next = r->streams;
		r->streams = e;
		stg_index_stream(r->index, &e->id, camera, name, codec, clock_rate);
	}
	*out = e->id;
out:
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static void
kh_release(struct ing_keyholders *k)
{
	if (k == NULL || atomic_fetch_sub((atomic_int *)&k->refs, 1) != 1)
		return;
	for (size_t i = 0; i < k->n; i++)
		EVP_PKEY_free(k->h[i].pub);
	free(k);
}

static struct ing_keyholders *
svc_kh_get(void *ctx)
{
	struct nvr_recorder *r = ctx;
	struct ing_keyholders *k;

	pthread_mutex_lock(&r->lock);
	if ((k = r->kh) != NULL)
		atomic_fetch_add((atomic_int *)&k->refs, 1);
	pthread_mutex_unlock(&r->lock);
	return k;
}

static void
svc_kh_put(void *ctx, struct ing_keyholders *k)
{
	(void)ctx;
	kh_release(k);
}

static void
svc_status(void *ctx, const nvr_uuid *camera, const char *name, const struct ing_cam_status *s)
{
	struct nvr_recorder *r = ctx;
	struct status_ent *e;

	(void)name;
	pthread_mutex_lock(&r->lock);
	for (e = r->statuses; e != NULL; e = e->next) {
		if (memcmp(e->camera.b, camera->b, 16) == 0)
			break;
	}
	if (e == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
		e->camera = *camera;
		e->next = r->statuses;
		r->statuses = e;
	}
	if (e != NULL) {
		e->st = *s;
		e->dirty = true;
	}
	pthread_mutex_unlock(&r->lock);
}

/* ---- key holders and cameras (main thread) ------------------------------------- */

static void
reload_keyholders(struct nvr_recorder *r)
{
	struct stg_keyholder *v = NULL;
	struct ing_keyholders *k, *old;
	size_t n = 0;

	if (stg_catalog_keyholders(r->db, true, &v, &n) != NVR_OK)
		return;
	if ((k = calloc(1, sizeof(*k) + n * sizeof(k->h[0]))) == NULL) {
		stg_keyholders_free(v, n);
		return;
	}
	k->refs = 1;
	k->n = n;
	for (size_t i = 0; i < n; i++) {
		k->h[i].id = v[i].id;
		k->h[i].pub = v[i].pub;
		v[i].pub = NULL; /* moved */
	}
	stg_keyholders_free(v, n);
	pthread_mutex_lock(&r->lock);
	old = r->kh;
	r->kh = k;
	pthread_mutex_unlock(&r->lock);
	if ((old == NULL || old->n != k->n) && n > 0)
		nvr_log(NVR_LOG_INFO, "%zu key holder%s: new session keys are sealed to %s", n, n == 1 ? "" : "s",
		    n == 1 ? "it" : "each of them");
	kh_release(old);
}

/* The stored transport; an unknown name (a row written by hand) is tcp.
 * A tunnel URL overrides it in the ingest engine (ing_camera_new). */
static enum ing_transport
camera_transport(const struct stg_camera *sc)
{
	enum ing_transport t = ING_TRANSPORT_TCP;

	if (sc->transport[0] != '\0' && ing_transport_parse(sc->transport, &t) != NVR_OK)
		nvr_log(NVR_LOG_WARNING, "camera %s: unknown transport '%s', using tcp", sc->name, sc->transport);
	return t;
}

static nvr_err
camera_config(struct nvr_recorder *r, const struct stg_camera *sc, struct ing_camera_config *cfg)
{
	struct ing_rtsp_url u;
	const char *why;
	uint8_t *pw = NULL;
	size_t pwlen = 0;
	nvr_err rc;

	memset(cfg, 0, sizeof(*cfg));
	if (ing_rtsp_url_parse(sc->url, &u, &why) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "camera %s: bad url: %s", sc->name, why);
		return NVR_ERR_CONFIG;
	}
	cfg->transport = camera_transport(sc);
	cfg->id = sc->id;
	snprintf(cfg->name, sizeof(cfg->name), "%s", sc->name);
	snprintf(cfg->url, sizeof(cfg->url), "%s", sc->url);
	cfg->allow_basic = sc->allow_basic;
	cfg->plain_rtp = sc->plain_rtp;
	cfg->timeout_ms = r->cfg->ingest_timeout_ms;
	cfg->reconnect_max_ms = r->cfg->ingest_reconnect_max_ms;
	if (sc->username != NULL && (cfg->user = strdup(sc->username)) == NULL)
		return NVR_ERR_NOMEM;
	if (sc->password_sealed != NULL) {
		rc = stg_secret_open(r->secret, sc->id.b, 16, sc->password_sealed, sc->password_sealed_len, &pw, &pwlen);
		if (rc != NVR_OK) {
			nvr_log_ex(NVR_LOG_ERROR, NULL, "enter the password again: nvrctl camera remove, then add",
			    "camera %s: its password cannot be unsealed with this recorder's secret", sc->name);
			return NVR_ERR_CONFIG;
		}
		cfg->password = (char *)pw;
	}
	if (u.tls) { /* rtsps://, and the tunnel's https:// and rtspsh:// */
		rc = ing_tls_trust_new(sc->tls_ca_pem, sc->has_pin ? sc->pin : NULL, &cfg->trust);
		if (rc != NVR_OK) {
			nvr_log(NVR_LOG_ERROR, "camera %s: its CA bundle holds no usable certificate", sc->name);
			return NVR_ERR_CONFIG;
		}
	} else {
		nvr_log_ex(NVR_LOG_WARNING, NULL, "use rtsps:// if the camera can",
		    "camera %s: RTSP without TLS: its login exchange and SRTP keys cross the network in clear", sc->name);
	}
	return NVR_OK;
}

static struct ing_worker *
least_loaded(struct nvr_recorder *r)
{
	struct ing_worker *best = r->workers[0];

	for (int i = 1; i < r->nworkers; i++) {
		if (ing_worker_load(r->workers[i]) < ing_worker_load(best))
			best = r->workers[i];
	}
	return best;
}

/* What camera_config allocated, the password wiped first. */
static void
free_camera_config(struct ing_camera_config *cfg)
{
	if (cfg->password != NULL)
		OPENSSL_cleanse(cfg->password, strlen(cfg->password));
	free(cfg->password);
	free(cfg->user);
	ing_tls_trust_free(cfg->trust);
}

static void
start_camera(struct nvr_recorder *r, const struct stg_camera *sc)
{
	struct ing_services svc = { .ctx = r, .writer = r->writer, .index = r->index, .stream_id = svc_stream_id,
		.keyholders_get = svc_kh_get, .keyholders_put = svc_kh_put, .status = svc_status };
	struct ing_camera_config cfg;
	struct ing_camera *c;
	struct run_cam *rc;

	if (camera_config(r, sc, &cfg) != NVR_OK) {
		struct ing_cam_status st = { .state = ING_CAM_STREAM_ERROR };
		snprintf(st.error, sizeof(st.error), "cannot be started: see the log");
		svc_status(r, &sc->id, sc->name, &st);
		free_camera_config(&cfg);
		return;
	}
	if ((rc = calloc(1, sizeof(*rc))) == NULL) {
		free_camera_config(&cfg);
		return;
	}
	if (ing_camera_new(&cfg, &svc, &c) != NVR_OK) { /* it took cfg's pointers */
		free(rc);
		return;
	}
	rc->id = sc->id;
	snprintf(rc->name, sizeof(rc->name), "%s", sc->name);
	snprintf(rc->updated_at, sizeof(rc->updated_at), "%s", sc->updated_at);
	rc->worker = least_loaded(r);
	rc->next = r->cams;
	r->cams = rc;
	ing_worker_add(rc->worker, c);
}

static const struct stg_camera *
find_camera(const struct stg_camera *v, size_t n, const nvr_uuid *id)
{
	for (size_t i = 0; i < n; i++) {
		if (memcmp(v[i].id.b, id->b, 16) == 0)
			return &v[i];
	}
	return NULL;
}

static bool
running(const struct nvr_recorder *r, const nvr_uuid *id)
{
	for (const struct run_cam *c = r->cams; c != NULL; c = c->next) {
		if (memcmp(c->id.b, id->b, 16) == 0)
			return true;
	}
	return false;
}

/* Stops cameras that went away or changed, starts the new ones. */
static void
apply_cameras(struct nvr_recorder *r)
{
	struct stg_camera *v = NULL;
	size_t n = 0;
	bool keys;

	if (stg_catalog_cameras(r->db, &v, &n) != NVR_OK)
		return;
	for (struct run_cam **pp = &r->cams; *pp != NULL;) {
		const struct stg_camera *sc = find_camera(v, n, &(*pp)->id);
		if (sc != NULL && sc->enabled && strcmp(sc->updated_at, (*pp)->updated_at) == 0) {
			pp = &(*pp)->next;
			continue;
		}
		struct run_cam *gone = *pp;
		*pp = gone->next;
		ing_worker_remove(gone->worker, &gone->id);
		nvr_log(NVR_LOG_NOTICE, "camera %s: %s", gone->name,
		    sc == NULL ? "removed: stopped; its recordings and their index stay"
		    : !sc->enabled ? "disabled: stopped"
				   : "changed: restarting with the new settings");
		free(gone);
	}
	pthread_mutex_lock(&r->lock);
	keys = r->kh != NULL && r->kh->n > 0;
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].enabled || running(r, &v[i].id))
			continue;
		if (keys) {
			start_camera(r, &v[i]);
		} else {
			struct ing_cam_status st = { .state = ING_CAM_NO_KEY_HOLDER };
			snprintf(st.error, sizeof(st.error), "no key holder is registered");
			svc_status(r, &v[i].id, v[i].name, &st);
		}
	}
	if (!keys && n > 0)
		nvr_log_ex(NVR_LOG_WARNING, "nothing recorded could ever be viewed",
		    "on the key holder's machine: nvrctl keyholder new NAME; then here: nvrctl keyholder add NAME NAME.pub.pem",
		    "no key holder is registered: nvrd records nothing (%zu camera%s waiting)", n, n == 1 ? "" : "s");
	stg_cameras_free(v, n);
}

/* ---- periodic work ------------------------------------------------------------- */

static void
flush_statuses(struct nvr_recorder *r)
{
	pthread_mutex_lock(&r->lock);
	for (struct status_ent *e = r->statuses; e != NULL; e = e->next) {
		if (!e->dirty)
			continue;
		e->dirty = false;
		stg_index_status(r->index, &e->camera, ing_cam_state_name(e->st.state),
		    e->st.error[0] ? e->st.error : NULL, e->st.warning[0] ? e->st.warning : NULL, e->st.counters);
	}
	pthread_mutex_unlock(&r->lock);
}

/* The process's own figures beside the ingest counters, taken at the same
 * moment, so that a benchmark can divide one by the other exactly. */
static void
write_process(FILE *f, size_t cameras, struct stg_writer *w)
{
	size_t bufs = 0, bufs_used = 0;
	struct timespec now;
	struct rusage ru;
	long rss_pages = 0;
	char line[128];
	const char *p;
	FILE *statm = fopen("/proc/self/statm", "re");

	/* "size resident shared ..." in pages */
	if (statm != NULL) {
		if (fgets(line, sizeof(line), statm) != NULL && (p = strchr(line, ' ')) != NULL &&
		    !nvr_parse_num(p + 1, NULL, 0, LONG_MAX, &rss_pages))
			rss_pages = 0;
		fclose(statm);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	getrusage(RUSAGE_SELF, &ru);
	if (w != NULL)
		stg_writer_buffers(w, &bufs, &bufs_used);
	fprintf(f,
	    "{\"time\": %lld.%09ld, \"cameras\": %zu, \"cpu_user_s\": %ld.%06ld, \"cpu_sys_s\": %ld.%06ld, "
	    "\"rss_kib\": %ld, \"max_rss_kib\": %ld, \"buffers\": %zu, \"buffers_in_use\": %zu, \"ingest\": ",
	    (long long)now.tv_sec, now.tv_nsec, cameras, (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
	    (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, rss_pages * (sysconf(_SC_PAGESIZE) / 1024),
	    ru.ru_maxrss, bufs, bufs_used);
}

void
nvr_recorder_write_stats(const struct nvr_recorder *r)
{
	char tmp[PATH_MAX + 8];
	size_t cameras = 0;
	FILE *f;

	if (r == NULL || r->cfg->stats_file[0] == '\0')
		return;
	for (const struct run_cam *c = r->cams; c != NULL; c = c->next)
		cameras++;
	snprintf(tmp, sizeof(tmp), "%s.tmp", r->cfg->stats_file);
	if ((f = fopen(tmp, "we")) == NULL) {
		nvr_log(NVR_LOG_WARNING, "cannot write the statistics %s: %s", tmp, strerror(errno));
		return;
	}
	write_process(f, cameras, r->writer);
	stg_stats_json(f);
	fputs("}\n", f);
	if (fclose(f) == 0)
		rename(tmp, r->cfg->stats_file);
}

static bool
listen_db(struct nvr_recorder *r)
{
	char why[256];

	if (stg_db_connect(r->cfg->db_conninfo, 2000, -1, &r->db, why, sizeof(why)) != NVR_OK) {
		r->db = NULL;
		return false;
	}
	if (stg_db_exec(r->db, "LISTEN " STG_NOTIFY_CHANNEL, "listening for configuration changes") != NVR_OK) {
		PQfinish(r->db);
		r->db = NULL;
		return false;
	}
	return true;
}

const struct stg_secret *
nvr_recorder_secret(const struct nvr_recorder *r)
{
	return r->secret;
}

const struct stg_signer *
nvr_recorder_signer(const struct nvr_recorder *r)
{
	return r->signer;
}

int
nvr_recorder_fd(const struct nvr_recorder *r)
{
	return r->db ? PQsocket(r->db) : -1;
}

static void
take_notifications(struct nvr_recorder *r)
{
	PGnotify *n;

	if (PQconsumeInput(r->db) != 1) {
		nvr_log(NVR_LOG_WARNING, "lost the database connection that watches for changes; reconnecting");
		PQfinish(r->db);
		r->db = NULL;
		return;
	}
	while ((n = PQnotifies(r->db)) != NULL) {
		r->reload = true;
		PQfreemem(n);
	}
}

int64_t
nvr_recorder_poll(struct nvr_recorder *r, int64_t now)
{
	int64_t next;

	if (r->db != NULL)
		take_notifications(r);
	if (r->db == NULL && now >= r->next_connect_ms) {
		r->next_connect_ms = now + RECONNECT_EVERY_MS;
		r->reload |= listen_db(r);
	}
	if (r->db != NULL && (r->reload || now >= r->next_reload_ms)) {
		r->reload = false;
		r->next_reload_ms = now + RELOAD_EVERY_MS;
		reload_keyholders(r);
		apply_cameras(r);
	}
	if (now >= r->next_status_ms) {
		r->next_status_ms = now + STATUS_EVERY_MS;
		flush_statuses(r);
	}
	if (now >= r->next_stats_ms) {
		r->next_stats_ms = now + STATS_EVERY_MS;
		stg_writer_trim(r->writer);
		nvr_recorder_write_stats(r);
	}
	next = r->next_status_ms < r->next_stats_ms ? r->next_status_ms : r->next_stats_ms;
	if (r->db == NULL && r->next_connect_ms < next)
		next = r->next_connect_ms;
	return next > now ? next - now : 0;
}

/* ---- start and stop --------------------------------------------------------------- */

/* The signing certificate goes where verifiers look: <root>/certs/<sha256>.crt. */
static nvr_err
publish_cert(const struct nvr_recorder *r)
{
	char dir[PATH_MAX], path[PATH_MAX + 80], hex[65];
	const char *pem = stg_signer_cert_pem(r->signer);
	int fd;

	nvr_hex_encode(stg_signer_fingerprint(r->signer), 32, hex);
	snprintf(dir, sizeof(dir), "%s/certs", r->cfg->storage_root);
	snprintf(path, sizeof(path), "%s/%s.crt", dir, hex);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return NVR_ERR_IO;
	if (access(path, F_OK) == 0)
		return NVR_OK;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return NVR_ERR_IO;
	if (write(fd, pem, strlen(pem)) != (ssize_t)strlen(pem) || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return NVR_ERR_IO;
	}
	close(fd);
	nvr_log(NVR_LOG_INFO, "manifests are signed by the certificate %s", path);
	return NVR_OK;
}

/* Known streams and the head of each hash chain, from the index. */
static nvr_err
load_streams(struct nvr_recorder *r)
{
	PGresult *res = PQexec(r->db,
	    "SELECT s.id, s.camera_id, s.name, g.seq, encode(g.manifest_sha256, 'hex') FROM streams s"
	    " LEFT JOIN LATERAL (SELECT seq, manifest_sha256 FROM segments WHERE stream_id = s.id"
	    " ORDER BY seq DESC LIMIT 1) g ON true");
	uint8_t prev[32];
	nvr_err rc = stg_db_check(r->db, res, PGRES_TUPLES_OK, "reading the streams");

	for (int i = 0; rc == NVR_OK && i < PQntuples(res); i++) {
		struct stream_ent *e = calloc(1, sizeof(*e));
		if (e == NULL || nvr_uuid_parse(PQgetvalue(res, i, 0), &e->id) != NVR_OK ||
		    nvr_uuid_parse(PQgetvalue(res, i, 1), &e->camera) != NVR_OK) {
			free(e);
			rc = NVR_ERR_INTERNAL;
			break;
		}
		snprintf(e->name, sizeof(e->name), "%s", PQgetvalue(res, i, 2));
		e->next = r->streams;
		r->streams = e;
		if (!PQgetisnull(res, i, 3) && nvr_hex_decode(PQgetvalue(res, i, 4), prev, 32) == NVR_OK)
			stg_writer_seed(r->writer, &e->id, strtoull(PQgetvalue(res, i, 3), NULL, 10) + 1, true, prev);
	}
	if (rc == NVR_OK)
		PQclear(res);
	return rc;
}

static nvr_err
start_storage(struct nvr_recorder *r)
{
	const struct nvr_config *cfg = r->cfg;
	struct stg_writer_config wc = { .root = cfg->storage_root, .threads = (int)cfg->storage_writers,
		.segment_duration_ms = cfg->segment_duration_ms, .segment_max_bytes = cfg->segment_max_bytes,
		.max_buffers = MAX_BUFFERS };
	nvr_err rc;

	if (stg_signer_load(cfg->signing_key, cfg->signing_cert, true, &r->signer) != NVR_OK)
		return NVR_ERR_CONFIG;
	if (publish_cert(r) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "cannot write the signing certificate into %s/certs: %s", cfg->storage_root,
		    strerror(errno));
		return NVR_ERR_CONFIG;
	}
	if (stg_secret_load(cfg->secret_file, true, &r->secret) != NVR_OK)
		return NVR_ERR_CONFIG;
	if ((rc = stg_index_start(cfg->db_conninfo, cfg->db_connect_timeout_ms, &r->index)) != NVR_OK)
		return rc;
	wc.signer = r->signer;
	wc.index = r->index;
	if ((rc = stg_writer_start(&wc, &r->writer)) != NVR_OK)
		return rc;
	if ((rc = load_streams(r)) != NVR_OK)
		return rc;
	/* Before the reconciliation: it would index again the files of a
	 * segment whose deletion a crash interrupted. */
	if ((rc = stg_retention_recover(cfg->storage_root, r->db)) != NVR_OK)
		return rc;
	return stg_reconcile(cfg->storage_root, r->db, r->signer, r->index, r->writer);
}

/* Retention's audit rows, on its own connection: the recorder may run
 * without the API and its audit writer. */
static void
retention_audit(void *ctx, PGconn *db, const char *camera, const char *detail)
{
	struct nvr_recorder *r = ctx;
	struct web_audit_event ev = { .actor = "nvrd", .address = "local", .action = "retention.delete",
		.object = camera, .outcome = WEB_AUDIT_OK, .detail = detail };

	if (web_audit_append(db, &ev, 1, r->signer) != NVR_OK)
		nvr_log(NVR_LOG_ERROR, "retention: camera %s: the deletion is not in the audit log (see above)", camera);
}

static nvr_err
start_retention(struct nvr_recorder *r)
{
	struct stg_retention_config rc = { .root = r->cfg->storage_root, .conninfo = r->cfg->db_conninfo,
		.interval_ms = r->cfg->retention_interval_ms, .high_water = (int)r->cfg->high_water,
		.low_water = (int)r->cfg->low_water, .audit = retention_audit, .audit_ctx = r };

	return stg_retention_start(&rc, &r->retention);
}

nvr_err
nvr_recorder_start(const struct nvr_config *cfg, struct nvr_recorder **out)
{
	struct nvr_recorder *r = calloc(1, sizeof(*r));
	nvr_err rc;

	*out = NULL;
	if (r == NULL)
		return NVR_ERR_NOMEM;
	r->cfg = cfg;
	pthread_mutex_init(&r->lock, NULL);
	if ((rc = ing_tls_init()) != NVR_OK || !listen_db(r)) {
		nvr_log(NVR_LOG_ERROR, "cannot start the recorder: %s", rc == NVR_OK ? "no database connection" : "TLS");
		rc = rc == NVR_OK ? NVR_ERR_DB_UNREACHABLE : rc;
		goto fail;
	}
	if ((rc = start_storage(r)) != NVR_OK || (rc = start_retention(r)) != NVR_OK)
		goto fail;
	if ((r->workers = calloc((size_t)cfg->ingest_workers, sizeof(struct ing_worker *))) == NULL) {
		rc = NVR_ERR_NOMEM;
		goto fail;
	}
	for (int i = 0; i < (int)cfg->ingest_workers; i++) {
		if ((rc = ing_worker_start(cfg->sync_interval_ms, &r->workers[i])) != NVR_OK)
			goto fail;
		r->nworkers = i + 1;
	}
	r->reload = true;
	*out = r;
	return NVR_OK;
fail:
	nvr_recorder_stop(r);
	return rc;
}

void
nvr_recorder_stop(struct nvr_recorder *r)
{
	if (r == NULL)
		return;
	/* Retention first (it only deletes), then cameras (their segments are
	 * closed), then the writers (the manifests are written and indexed),
	 * then the index itself. */
	stg_retention_stop(r->retention);
	r->retention = NULL;
	for (int i = 0; i < r->nworkers; i++)
		ing_worker_stop(r->workers[i]);
	stg_writer_stop(r->writer);
	r->writer = NULL;
	flush_statuses(r);
	stg_index_stop(r->index, 3000);
	r->index = NULL;
	nvr_recorder_write_stats(r);
	while (r->cams != NULL) {
		struct run_cam *c = r->cams;
		r->cams = c->next;
		free(c);
	}
	while (r->streams != NULL) {
		struct stream_ent *e = r->streams;
		r->streams = e->next;
		free(e);
	}
	while (r->statuses != NULL) {
		struct status_ent *e = r->statuses;
		r->statuses = e->next;
		free(e);
	}
	kh_release(r->kh);
	if (r->db != NULL)
		PQfinish(r->db);
	free(r->workers);
	stg_secret_free(r->secret);
	stg_signer_free(r->signer);
	ing_tls_cleanup();
	pthread_mutex_destroy(&r->lock);
	free(r);
}

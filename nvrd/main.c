/*
 * main.c: nvrd, the recorder daemon: configuration, start-up, supervision.
 *
 * Start-up order: configuration, logging, signals, storage root, database
 * (waited for while it is down), migrations, then ready. Signals arrive on
 * a signalfd read by the main loop: SIGTERM and SIGINT stop, SIGHUP reloads,
 * SIGUSR1 writes the statistics file now.
 * It must never exit for one camera's or one client's failure, and never
 * log a secret.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "nvrd/backoff.h"
#include "nvrd/config.h"
#include "nvrd/log.h"
#include "nvrd/notify.h"
#include "nvrd/recorder.h"
#include "nvrd/util.h"
#include "storage/db.h"
#include "storage/schema.h"
#include "web/api.h"
#include "web/server.h"

/* Exit statuses; 78 is sysexits' EX_CONFIG, which the systemd unit lists in
 * RestartPreventExitStatus so that a broken configuration is not retried. */
enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_CONFIG = 78 };

#define DB_RETRY_BASE_MS 1000
#define DB_RETRY_CAP_MS 30000

struct nvrd {
	const char *config_path;
	struct nvr_config *cfg; /* owned; replaced only by the main thread */
	struct nvr_recorder *recorder;
	struct web_server *web; /* NULL when [web] listen is empty */
	int sigfd;
	bool stop;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: nvrd [-c PATH] [--check-config | --print-config] [--print-routes] [--version]\n"
	    "\n"
	    "  -c, --config PATH  configuration file (default " NVR_CONFIG_DEFAULT_PATH ")\n"
	    "      --check-config check the configuration, list every error, exit\n"
	    "      --print-config print the effective configuration (secrets hidden), exit\n"
	    "      --print-routes print the API's routes and the roles each allows, exit\n"
	    "  -V, --version      print the version and exit\n"
	    "  -h, --help         print this help and exit\n"
	    "\n"
	    "Runs in the foreground and logs to stderr. Signals: SIGTERM or SIGINT stop,\n"
	    "SIGHUP reloads the configuration, SIGUSR1 writes [nvrd] stats_file now.\n"
	    "Exit status: 0 stopped cleanly, 1 failed,\n"
	    "2 bad usage, 78 configuration, storage root or database schema unusable.\n");
}

/* "METHOD PATH ROLE,ROLE" per route (or "-" for none: it logs in), from the
 * one table in web/api.c: what tests/integration/roles.test walks. */
static int
print_routes(void)
{
	size_t n;
	const struct web_route *r = web_routes(&n);

	for (size_t i = 0; i < n; i++) {
		printf("%s %s ", r[i].method, r[i].path);
		if (r[i].roles == 0)
			printf("-");
		for (unsigned bit = 1, sep = 0; bit <= WEB_ROLE_AUDITOR; bit <<= 1) {
			if (r[i].roles & bit) {
				printf("%s%s", sep++ ? "," : "", web_role_name(bit));
			}
		}
		printf("\n");
	}
	return 0;
}

static void
print_version(void)
{
	printf("nvrd (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
	printf("  %s, libpq %d.%d\n", OpenSSL_version(OPENSSL_VERSION), PQlibVersion() / 10000,
	    PQlibVersion() % 10000);
	printf("  schema version %d\n", stg_schema_latest());
}

/* Loads the configuration, logging every error. Caller frees *out. */
static nvr_err
load_config(const char *path, struct nvr_config **out)
{
	struct nvr_config_errors errs = { 0 };
	nvr_err rc = nvr_config_load(path, out, &errs);

	for (size_t i = 0; i < errs.n; i++) {
		if (errs.v[i].line)
			nvr_log(NVR_LOG_ERROR, "%s:%u: %s", errs.v[i].file, errs.v[i].line, errs.v[i].msg);
		else
			nvr_log(NVR_LOG_ERROR, "%s: %s", errs.v[i].file, errs.v[i].msg);
	}
	nvr_config_errors_free(&errs);
	return rc;
}

/* --check-config: plain "file:line: reason" lines for a person or an editor. */
static int
check_config(const char *path)
{
	struct nvr_config_errors errs = { 0 };
	struct nvr_config *cfg = NULL;
	nvr_err rc = nvr_config_load(path, &cfg, &errs);
	int status = 0;

	if (rc == NVR_OK) {
		printf("%s: configuration is valid\n", path);
	} else {
		nvr_config_errors_print(&errs, stderr);
		fprintf(stderr, "%s: %zu error%s\n", path, errs.n, errs.n == 1 ? "" : "s");
		status = rc == NVR_ERR_NOMEM ? EXIT_RUNTIME : EXIT_CONFIG;
	}
	nvr_config_errors_free(&errs);
	nvr_config_free(cfg);
	return status;
}

static int
print_config(const char *path)
{
	struct nvr_config *cfg = NULL;

	if (load_config(path, &cfg) != NVR_OK)
		return EXIT_CONFIG;
	printf("# effective configuration from %s\n", path);
	nvr_config_print(cfg, stdout);
	nvr_config_free(cfg);
	return 0;
}

/* Signals are taken synchronously from a signalfd in the main loop, so no
 * handler ever runs in an arbitrary thread; threads started later inherit
 * the blocked mask. */
static nvr_err
setup_signals(int *fd)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return NVR_ERR_INTERNAL;
	*fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return *fd < 0 ? NVR_ERR_IO : NVR_OK;
}

/* SIGHUP: re-read the file; apply what can be applied live, say what needs
 * a restart, and keep running unchanged if the new file is broken. */
static void
reload(struct nvrd *d)
{
	struct nvr_config *next = NULL;
	const struct nvr_config_key *k;
	char val[256];

	nvr_notify("RELOADING=1");
	nvr_log(NVR_LOG_NOTICE, "SIGHUP: reloading %s", d->config_path);
	if (load_config(d->config_path, &next) != NVR_OK) {
		nvr_log_ex(NVR_LOG_ERROR, NULL, "fix the errors above and send SIGHUP again",
		    "reload failed; the running configuration is unchanged");
		goto out;
	}
	for (size_t i = 0; i < nvr_config_key_count(); i++) {
		k = nvr_config_key_at(i);
		if (nvr_config_key_equal(k, d->cfg, next))
			continue;
		if (k->flags & NVR_CFG_RELOAD) {
			nvr_config_key_format(k, next, val, sizeof(val));
			nvr_log(NVR_LOG_NOTICE, "[%s] %s is now %s", k->section, k->name, val);
		} else {
			nvr_log(NVR_LOG_WARNING, "[%s] %s changed; restart nvrd to apply it", k->section, k->name);
		}
	}
	d->cfg->log_level = next->log_level;
	nvr_log_set_level(next->log_level);
	if (strcmp(d->cfg->web_allow, next->web_allow) != 0 && web_server_set_allow(d->web, next->web_allow) == NVR_OK) {
		char *t = d->cfg->web_allow;
		d->cfg->web_allow = next->web_allow;
		next->web_allow = t;
	}
	web_server_reload_tls(d->web);
out:
	nvr_config_free(next);
	nvr_notify("READY=1");
}

/* Says who asked nvrd to stop: an unexpected stop is then traced to its
 * sender (a service manager, an operator's kill, a stray script). */
static void
log_stop_signal(const struct signalfd_siginfo *si)
{
	char path[64], comm[64] = "?";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/comm", si->ssi_pid);
	if (si->ssi_pid != 0 && (f = fopen(path, "re")) != NULL) {
		if (fgets(comm, sizeof(comm), f) != NULL)
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	nvr_log(NVR_LOG_NOTICE, "%s received from pid %" PRIu32 " (%s, uid %" PRIu32 "); stopping",
	    si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM", si->ssi_pid, comm, si->ssi_uid);
}

/* Drains pending signals. */
static void
handle_signals(struct nvrd *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(d);
		} else if (si.ssi_signo == SIGUSR1) {
			nvr_recorder_write_stats(d->recorder);
		} else if (!d->stop) {
			log_stop_signal(&si);
			d->stop = true;
		}
	}
}

/* Waits up to ms, serving signals meanwhile. Returns false once a stop is
 * requested. */
static bool
wait_or_stop(struct nvrd *d, int64_t ms)
{
	int64_t deadline = nvr_monotonic_ms() + ms;
	struct pollfd pfd = { .fd = d->sigfd, .events = POLLIN };
	int64_t left;

	while (!d->stop && (left = deadline - nvr_monotonic_ms()) > 0) {
		if (poll(&pfd, 1, left > 1000 ? 1000 : (int)left) > 0)
			handle_signals(d);
	}
	return !d->stop;
}

static nvr_err
check_storage_root(const char *root)
{
	struct stat st;
	const char *hint = "create it, owned by the user nvrd runs as, or set [storage] root";

	if (stat(root, &st) != 0) {
		nvr_log_ex(NVR_LOG_ERROR, strerror(errno), hint, "storage root %s is not usable", root);
		return NVR_ERR_CONFIG;
	}
	if (!S_ISDIR(st.st_mode)) {
		nvr_log_ex(NVR_LOG_ERROR, "not a directory", hint, "storage root %s is not usable", root);
		return NVR_ERR_CONFIG;
	}
	if (faccessat(AT_FDCWD, root, W_OK | X_OK, AT_EACCESS) != 0) {
		nvr_log_ex(NVR_LOG_ERROR, strerror(errno), hint, "storage root %s is not writable", root);
		return NVR_ERR_CONFIG;
	}
	return NVR_OK;
}

/* Connects, retrying with backoff while PostgreSQL is down; a stop request
 * ends the wait at once. */
static nvr_err
connect_db(struct nvrd *d, PGconn **out)
{
	struct nvr_backoff bo;
	char why[256], where[256];
	int64_t delay;
	nvr_err rc;

	nvr_backoff_init(&bo, DB_RETRY_BASE_MS, DB_RETRY_CAP_MS);
	for (;;) {
		rc = stg_db_connect(d->cfg->db_conninfo, d->cfg->db_connect_timeout_ms, d->sigfd, out,
		    why, sizeof(why));
		if (rc == NVR_OK)
			break;
		if (rc == NVR_ERR_INTERRUPTED) {
			handle_signals(d);
			if (d->stop)
				return rc;
			continue;
		}
		if (rc == NVR_ERR_NOMEM)
			return rc;
		delay = nvr_backoff_next(&bo);
		nvr_log_ex(NVR_LOG_WARNING, why, "check that PostgreSQL runs and [database] conninfo in the configuration",
		    "cannot connect to PostgreSQL; retrying in %.1f s", (double)delay / 1000.0);
		if (!wait_or_stop(d, delay))
			return NVR_ERR_INTERRUPTED;
	}
	stg_db_describe(*out, where, sizeof(where));
	nvr_log(NVR_LOG_INFO, "connected to PostgreSQL %d.%d at %s", PQserverVersion(*out) / 10000,
	    PQserverVersion(*out) % 10000, where);
	return NVR_OK;
}

static nvr_err
start(struct nvrd *d)
{
	struct stg_schema_result sr;
	PGconn *db = NULL;
	nvr_err rc;

	if ((rc = check_storage_root(d->cfg->storage_root)) != NVR_OK)
		return rc;
	if ((rc = connect_db(d, &db)) != NVR_OK)
		return rc;
	rc = stg_schema_migrate(db, &sr);
	if (rc == NVR_OK && sr.from_version == sr.to_version)
		nvr_log(NVR_LOG_INFO, "database schema is up to date (version %d)", sr.to_version);
	else if (rc == NVR_OK)
		nvr_log(NVR_LOG_NOTICE, "database schema migrated from version %d to %d",
		    sr.from_version, sr.to_version);
	PQfinish(db);
	if (rc == NVR_OK)
		rc = nvr_recorder_start(d->cfg, &d->recorder);
	if (rc == NVR_OK)
		rc = web_server_start(d->cfg, nvr_recorder_secret(d->recorder), nvr_recorder_signer(d->recorder), &d->web);
	return rc;
}

/* The main loop: signals, and the recorder's notifications and timers. */
static void
run(struct nvrd *d)
{
	struct pollfd pfd[2] = { { .fd = d->sigfd, .events = POLLIN }, { .events = POLLIN } };
	int64_t wait_ms = 0;

	while (!d->stop) {
		pfd[1].fd = nvr_recorder_fd(d->recorder);
		if (poll(pfd, pfd[1].fd >= 0 ? 2 : 1, wait_ms > 1000 ? 1000 : (int)wait_ms) > 0 &&
		    (pfd[0].revents & POLLIN))
			handle_signals(d);
		if (!d->stop)
			wait_ms = nvr_recorder_poll(d->recorder, nvr_monotonic_ms());
	}
}

static int
exit_status(nvr_err rc)
{
	switch (rc) {
	case NVR_OK:
	case NVR_ERR_INTERRUPTED:
		return 0;
	case NVR_ERR_CONFIG:
	case NVR_ERR_SCHEMA:
		return EXIT_CONFIG;
	default:
		return EXIT_RUNTIME;
	}
}

static int
daemon_main(const char *config_path)
{
	struct nvrd d = { .config_path = config_path, .sigfd = -1 };
	nvr_err rc;

	umask(027);
	if ((rc = load_config(config_path, &d.cfg)) != NVR_OK) {
		nvr_log_ex(NVR_LOG_ERROR, NULL, "run: nvrd --check-config -c <file>",
		    "configuration %s is invalid; nvrd not started", config_path);
		return rc == NVR_ERR_NOMEM ? EXIT_RUNTIME : EXIT_CONFIG;
	}
	nvr_log_set_level(d.cfg->log_level);
	nvr_log(NVR_LOG_NOTICE, "nvrd %s starting (configuration %s)", PACKAGE_VERSION, config_path);
	if (geteuid() == 0)
		nvr_log_ex(NVR_LOG_WARNING, NULL, "run it as the nvrd user, as contrib/systemd/nvrd.service does",
		    "nvrd is running as root");
	if ((rc = setup_signals(&d.sigfd)) != NVR_OK) {
		nvr_log(NVR_LOG_ERROR, "cannot set up signal handling: %s", strerror(errno));
		goto out;
	}
	if ((rc = start(&d)) != NVR_OK)
		goto out;
	nvr_notify("READY=1");
	nvr_log(NVR_LOG_NOTICE, "nvrd ready");
	run(&d);
out:
	nvr_notify("STOPPING=1");
	web_server_stop(d.web);
	nvr_recorder_stop(d.recorder);
	if (rc == NVR_OK || rc == NVR_ERR_INTERRUPTED)
		nvr_log(NVR_LOG_NOTICE, "nvrd stopped");
	else
		nvr_log(NVR_LOG_ERROR, "nvrd stopped: %s", nvr_err_str(rc));
	if (d.sigfd >= 0)
		close(d.sigfd);
	nvr_config_free(d.cfg);
	return exit_status(rc);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "print-config", no_argument, NULL, 'P' },
		{ "print-routes", no_argument, NULL, 'R' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NVR_CONFIG_DEFAULT_PATH;
	int opt, mode = 0;

	nvr_log_init("nvrd");
	while ((opt = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'C':
		case 'P':
		case 'R':
			mode = opt;
			break;
		case 'V':
			print_version();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "nvrd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (mode == 'C')
		return check_config(path);
	if (mode == 'P')
		return print_config(path);
	if (mode == 'R')
		return print_routes();
	return daemon_main(path);
}

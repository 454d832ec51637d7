/*
 * nvrctl.c: the recorder's command-line tool: main, shared set-up, and the
 * helpers every subcommand uses. It must never print or log a password,
 * and never leave a secret it read in memory it frees.
 */
#include "autoconfig.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <pwd.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "nvrd/ctl.h"
#include "nvrd/log.h"
#include "storage/db.h"
#include "web/audit.h"

void
nvr_ctl_error(const char *hint, const char *fmt, ...)
{
	va_list ap;

	fputs("nvrctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (hint != NULL)
		fprintf(stderr, "  hint: %s\n", hint);
}

struct nvr_config *
nvr_ctl_config(struct nvr_ctl *ctl)
{
	struct nvr_config_errors errs = { 0 };

	if (ctl->cfg != NULL)
		return ctl->cfg;
	if (nvr_config_load(ctl->config_path, &ctl->cfg, &errs) != NVR_OK) {
		nvr_config_errors_print(&errs, stderr);
		nvr_ctl_error("give the recorder's configuration with -c PATH", "cannot use the configuration %s",
		    ctl->config_path);
	}
	nvr_config_errors_free(&errs);
	return ctl->cfg;
}

PGconn *
nvr_ctl_db(struct nvr_ctl *ctl)
{
	struct nvr_config *cfg = nvr_ctl_config(ctl);
	char why[256];

	if (ctl->db != NULL || cfg == NULL)
		return ctl->db;
	if (stg_db_connect(cfg->db_conninfo, cfg->db_connect_timeout_ms, -1, &ctl->db, why, sizeof(why)) != NVR_OK) {
		nvr_ctl_error("check that PostgreSQL runs and [database] conninfo in the configuration",
		    "cannot connect to PostgreSQL: %s", why);
		ctl->db = NULL;
	}
	return ctl->db;
}

/* Made by root, the secret must still be readable by nvrd: it takes the
 * owner of its folder (/var/lib/nvrd belongs to nvrd). */
static void
own_like_folder(const char *path)
{
	char *copy = strdup(path);
	struct stat st;

	if (copy != NULL && geteuid() == 0 && stat(dirname(copy), &st) == 0 && chown(path, st.st_uid, st.st_gid) != 0)
		nvr_ctl_error(NULL, "cannot give %s to the owner of its folder: %s", path, strerror(errno));
	free(copy);
}

bool
nvr_ctl_fingerprint(const char *in, char out[65])
{
	const char *eq = strchr(in, '=');
	size_t n = 0;

	for (const char *p = eq != NULL ? eq + 1 : in; *p != '\0'; p++) {
		if (*p == ':' || *p == ' ' || *p == '\n')
			continue;
		if (n == 64 || !isxdigit((unsigned char)*p))
			return false;
		out[n++] = (char)tolower((unsigned char)*p);
	}
	out[n] = '\0';
	return n == 64;
}

void
nvr_ctl_actor(char *out, size_t size)
{
	/* nvrctl has one thread: getpwuid's static buffer is safe here. */
	// cppcheck-suppress getpwuidCalled
	struct passwd *pw = getpwuid(geteuid());

	snprintf(out, size, "nvrctl:%s", pw != NULL ? pw->pw_name : "?");
}

nvr_err
nvr_ctl_audit_change(PGconn *db, const char *action, const char *object, const char *detail)
{
	char who[80];
	struct web_audit_event ev = {
		.actor = who, .address = "local", .action = action, .object = object, .outcome = WEB_AUDIT_OK,
		.detail = detail,
	};
	nvr_err rc;

	nvr_ctl_actor(who, sizeof(who));
	if ((rc = web_audit_append(db, &ev, 1, NULL)) != NVR_OK)
		nvr_ctl_error("nvrctl audit verify", "the change is made, but the audit log could not record it");
	return rc;
}

struct stg_secret *
nvr_ctl_secret(struct nvr_ctl *ctl)
{
	struct nvr_config *cfg = nvr_ctl_config(ctl);
	bool existed;

	if (ctl->secret != NULL || cfg == NULL)
		return ctl->secret;
	existed = access(cfg->secret_file, F_OK) == 0;
	if (stg_secret_load(cfg->secret_file, true, &ctl->secret) != NVR_OK) {
		nvr_ctl_error("run nvrctl as the nvrd user or root", "cannot use the recorder secret %s", cfg->secret_file);
		return NULL;
	}
	if (!existed)
		own_like_folder(cfg->secret_file);
	return ctl->secret;
}

char *
nvr_ctl_read_secret_line(const char *path, const char *prompt)
{
	char buf[512];
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	struct termios old, quiet;
	bool tty = f == stdin && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	char *line = NULL;

	if (f == NULL) {
		nvr_ctl_error(NULL, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (tty) {
		fprintf(stderr, "%s: ", prompt);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	if (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\r\n")] = '\0';
		line = strdup(buf);
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (f != stdin)
		fclose(f);
	if (line == NULL || line[0] == '\0') {
		nvr_ctl_error(NULL, "no password in %s", strcmp(path, "-") == 0 ? "standard input" : path);
		free(line);
		return NULL;
	}
	return line;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: nvrctl [-c PATH] COMMAND ...\n"
	    "\n"
	    "  camera add NAME --url URL [--user USER --password-file FILE|-]\n"
	    "             [--ca FILE | --pin SHA256 | --system-ca] [--allow-basic] [--plain-rtp]\n"
	    "             [--insecure-rtsp] [--transport tcp|udp|tunnel] [--disabled]\n"
	    "  camera list\n"
	    "  camera show NAME\n"
	    "  camera set NAME [--keep-days N|none] [--keep-bytes SIZE|none] [--transport tcp|udp|tunnel]\n"
	    "                                      retention limits (none: no limit); how RTP travels\n"
	    "  camera remove NAME\n"
	    "  export --camera NAME [--camera NAME ...] --from TIME --to TIME --reason TEXT --out BUNDLE.tar\n"
	    "                                      an evidence bundle (holds the range; audited)\n"
	    "  hold add CAMERA --from TIME --to TIME --reason TEXT\n"
	    "                                      keep a range from retention (evidence hold)\n"
	    "  hold list [--all]\n"
	    "  hold release ID\n"
	    "  keyholder new NAME [--out DIR]      make a key pair here; only the public key leaves\n"
	    "  keyholder add NAME PUBKEY.pem\n"
	    "  keyholder list\n"
	    "  keyholder remove NAME\n"
	    "  verify PATH [--trust CERT] [--verbose]\n"
	    "                                      check segments, a camera folder or the storage root\n"
	    "  decrypt PATH --key KEYHOLDER.pem --out CLIP.mp4 [--camera NAME|ID] [--stream NAME]\n"
	    "          [--from TIME] [--to TIME] [--force]\n"
	    "                                      the key holder's MP4 of a verified camera stream\n"
	    "  user add NAME --role admin|operator|viewer|auditor [--password-file FILE|-]\n"
	    "           [--cameras all|NAME,...] [--keyholder NAME]\n"
	    "  user list\n"
	    "  user passwd NAME [--password-file FILE|-]\n"
	    "  user remove NAME\n"
	    "  audit verify [--trust CERT]         check the audit log's chain and checkpoints\n"
	    "  tls csr [--cn NAME] [--san DNS:name,IP:addr]\n"
	    "                                      a CSR for the API's key, to stdout\n"
	    "  tls install CERT.pem                the CA's certificate (and chain) for the API\n"
	    "\n"
	    "  -c, --config PATH  the recorder's configuration (default " NVR_CONFIG_DEFAULT_PATH ")\n"
	    "\n"
	    "Exit status: 0 success, 1 failure (verify: something did not verify; decrypt: nothing\n"
	    "written), 2 bad usage, 78 the configuration cannot be used.\n");
}

static int
dispatch(struct nvr_ctl *ctl, int argc, char **argv)
{
	if (argc < 1) {
		usage(stderr);
		return NVR_CTL_USAGE;
	}
	if (strcmp(argv[0], "camera") == 0)
		return nvr_ctl_camera(ctl, argc - 1, argv + 1);
	if (strcmp(argv[0], "export") == 0)
		return nvr_ctl_export(ctl, argc - 1, argv + 1);
	if (strcmp(argv[0], "hold") == 0)
		return nvr_ctl_hold(ctl, argc - 1, argv + 1);
	if (strcmp(argv[0], "keyholder") == 0)
		return nvr_ctl_keyholder(ctl, argc - 1, argv + 1);
	if (strcmp(argv[0], "verify") == 0)
		return nvr_ctl_verify(ctl, argc - 1, argv + 1);
	if (strcmp(argv[0], "decrypt") == 0)
		return nvr_ctl_decrypt(ctl, argc - 1, argv + 1);
	if (strcmp(argv[0], "user") == 0)
		return nvr_ctl_user(ctl, argc - 1, argv + 1);
	if (strcmp(argv[0], "audit") == 0)
		return nvr_ctl_audit(ctl, argc - 1, argv + 1);
	if (strcmp(argv[0], "tls") == 0)
		return nvr_ctl_tls(ctl, argc - 1, argv + 1);
	if (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		usage(stdout);
		return NVR_CTL_OK;
	}
	if (strcmp(argv[0], "--version") == 0) {
		printf("nvrctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return NVR_CTL_OK;
	}
	nvr_ctl_error("nvrctl --help lists the commands", "unknown command '%s'", argv[0]);
	return NVR_CTL_USAGE;
}

int
main(int argc, char **argv)
{
	struct nvr_ctl ctl = { .config_path = NVR_CONFIG_DEFAULT_PATH };
	int i = 1, status;

	nvr_log_init("nvrctl");
	nvr_log_set_level(NVR_LOG_WARNING);
	while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "-") != 0) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
			ctl.config_path = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
			   strcmp(argv[i], "--version") == 0) {
			break;
		} else {
			nvr_ctl_error("nvrctl --help lists the options", "unknown option '%s'", argv[i]);
			return NVR_CTL_USAGE;
		}
	}
	status = dispatch(&ctl, argc - i, argv + i);
	if (ctl.db != NULL)
		PQfinish(ctl.db);
	stg_secret_free(ctl.secret);
	nvr_config_free(ctl.cfg);
	return status;
}

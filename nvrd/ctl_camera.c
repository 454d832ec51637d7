/*
 * ctl_camera.c: nvrctl camera add|list|show|set|remove.
 * It must never print a camera password, nor accept one on the command
 * line (it would show in ps and shell history): only from a file or stdin.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ingest/camera.h"
#include "ingest/rtsp.h"
#include "nvrd/ctl.h"
#include "nvrd/encode.h"
#include "storage/catalog.h"

struct add_opts {
	const char *url, *user, *password_file, *ca_file, *pin, *transport;
	bool system_ca, allow_basic, plain_rtp, insecure_rtsp, disabled;
};

/* The transport to store for URL u: name (NULL: tcp) if it fits the URL.
 * A tunnel URL is always tunnelled, so tcp (or nothing) becomes tunnel
 * there, and udp is refused: the tunnel carries RTP on its own HTTP
 * connections. The API (web/api_admin_cameras.c) says the same. */
static bool
check_transport(const char *name, const struct ing_rtsp_url *u, char out[8])
{
	enum ing_transport t = ING_TRANSPORT_TCP;

	if (name != NULL && ing_transport_parse(name, &t) != NVR_OK) {
		nvr_ctl_error("tcp (interleaved on the RTSP connection, the default), udp, or tunnel (RTSP over HTTP(S))",
		    "unknown --transport '%s': give tcp, udp or tunnel", name);
		return false;
	}
	if (ing_transport_for_url(t, u, &t) != NVR_OK) {
		nvr_ctl_error("an https:// or http:// URL is always tunnelled: leave --transport out, or use rtsps://",
		    "UDP cannot go through an HTTP tunnel");
		return false;
	}
	snprintf(out, 8, "%s", ing_transport_name(t));
	return true;
}

/* Reads a PEM bundle and checks that it holds at least one certificate. */
static char *
read_ca_bundle(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0;

	if (f == NULL) {
		nvr_ctl_error(NULL, "cannot read the CA bundle %s", path);
		return NULL;
	}
	text = calloc(1, 1 << 20);
	if (text != NULL)
		len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	if (text == NULL || len == 0 || len >= (1 << 20) - 1 || !stg_catalog_ca_pem_ok(text, len))
		goto bad;
	return text;
bad:
	free(text);
	nvr_ctl_error("give a PEM file with the camera vendor's root (and intermediate) certificates",
	    "%s holds no PEM certificate", path);
	return NULL;
}

static int
check_add_opts(const char *name, const struct add_opts *o, char transport[8])
{
	struct ing_rtsp_url u;
	const char *why;
	int trust = (o->ca_file != NULL) + (o->pin != NULL) + o->system_ca;

	if ((why = stg_catalog_check_name(name, false)) != NULL) {
		nvr_ctl_error(NULL, "bad camera name '%s': %s", name, why);
		return NVR_CTL_USAGE;
	}
	if (o->url == NULL || ing_rtsp_url_parse(o->url, &u, &why) != NVR_OK) {
		nvr_ctl_error("e.g. --url rtsps://192.0.2.10:322/stream1", "bad or missing --url: %s", why ? why : "none given");
		return NVR_CTL_USAGE;
	}
	if (u.tls && trust != 1) {
		nvr_ctl_error("--ca FILE (the vendor's root), --pin SHA256 (the camera's own certificate) or --system-ca",
		    "an rtsps camera needs exactly one way to trust its certificate");
		return NVR_CTL_USAGE;
	}
	if (!u.tls && trust != 0) {
		nvr_ctl_error(NULL, "--ca, --pin and --system-ca apply to rtsps:// cameras only");
		return NVR_CTL_USAGE;
	}
	if (!u.tls && !o->insecure_rtsp) {
		nvr_ctl_error("use rtsps:// or https:// (TLS) if the camera can; add --insecure-rtsp to accept the risk",
		    "%s sends the camera's login exchange and its SRTP keys across the network in clear",
		    u.tunnel ? "http:// (a tunnel without TLS)" : "rtsp://");
		return NVR_CTL_USAGE;
	}
	if (!check_transport(o->transport, &u, transport))
		return NVR_CTL_USAGE;
	if ((o->user == NULL) != (o->password_file == NULL)) {
		nvr_ctl_error("the password is read from a file or standard input, never the command line",
		    "--user and --password-file go together");
		return NVR_CTL_USAGE;
	}
	return NVR_CTL_OK;
}

/* Seals the password to the camera id with the recorder secret. */
static int
seal_password(struct nvr_ctl *ctl, const char *path, struct stg_camera *c)
{
	struct stg_secret *s = nvr_ctl_secret(ctl);
	char *pw;
	nvr_err rc;

	if (s == NULL)
		return NVR_CTL_FAIL;
	if ((pw = nvr_ctl_read_secret_line(path, "camera password")) == NULL)
		return NVR_CTL_FAIL;
	rc = stg_catalog_camera_seal_password(s, c, pw);
	OPENSSL_cleanse(pw, strlen(pw));
	free(pw);
	return rc == NVR_OK ? NVR_CTL_OK : NVR_CTL_FAIL;
}

static int
parse_add(int argc, char **argv, struct add_opts *o)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' }, { "user", required_argument, NULL, 'U' },
		{ "password-file", required_argument, NULL, 'p' }, { "ca", required_argument, NULL, 'a' },
		{ "pin", required_argument, NULL, 'P' }, { "system-ca", no_argument, NULL, 's' },
		{ "allow-basic", no_argument, NULL, 'b' }, { "plain-rtp", no_argument, NULL, 'r' },
		{ "insecure-rtsp", no_argument, NULL, 'i' }, { "disabled", no_argument, NULL, 'd' },
		{ "transport", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': o->url = optarg; break;
		case 'U': o->user = optarg; break;
		case 'p': o->password_file = optarg; break;
		case 'a': o->ca_file = optarg; break;
		case 'P': o->pin = optarg; break;
		case 's': o->system_ca = true; break;
		case 'b': o->allow_basic = true; break;
		case 'r': o->plain_rtp = true; break;
		case 'i': o->insecure_rtsp = true; break;
		case 'd': o->disabled = true; break;
		case 't': o->transport = optarg; break;
		default: return -1;
		}
	}
	return optind;
}

static int
camera_add(struct nvr_ctl *ctl, int argc, char **argv)
{
	struct add_opts o = { 0 };
	struct stg_camera c = { 0 };
	PGconn *db;
	int idx = parse_add(argc, argv, &o), st;
	char id[NVR_UUID_STRLEN], detail[160];
	nvr_err rc;

	if (idx < 0 || idx != argc - 1) {
		nvr_ctl_error("nvrctl camera add NAME --url URL ...", "camera add takes one NAME and options");
		return NVR_CTL_USAGE;
	}
	if ((st = check_add_opts(argv[idx], &o, c.transport)) != NVR_CTL_OK)
		return st;
	snprintf(c.name, sizeof(c.name), "%s", argv[idx]);
	c.url = o.url != NULL ? strdup(o.url) : NULL; /* check_add_opts made sure of --url */
	c.username = o.user ? strdup(o.user) : NULL;
	if (c.url == NULL || (o.user != NULL && c.username == NULL)) {
		nvr_ctl_error(NULL, "out of memory");
		st = NVR_CTL_FAIL;
		goto out;
	}
	c.allow_basic = o.allow_basic;
	c.plain_rtp = o.plain_rtp;
	c.enabled = !o.disabled;
	if (o.pin != NULL && !(c.has_pin = stg_catalog_parse_pin(o.pin, c.pin))) {
		nvr_ctl_error("64 hex digits, colons allowed: openssl x509 -noout -fingerprint -sha256",
		    "bad --pin");
		st = NVR_CTL_USAGE;
		goto out;
	}
	st = NVR_CTL_FAIL;
	if ((o.ca_file && (c.tls_ca_pem = read_ca_bundle(o.ca_file)) == NULL) || nvr_uuid_new(&c.id) != NVR_OK)
		goto out;
	if (o.password_file && seal_password(ctl, o.password_file, &c) != NVR_CTL_OK)
		goto out;
	if ((db = nvr_ctl_db(ctl)) == NULL)
		goto out;
	if ((rc = stg_catalog_camera_add(db, &c)) == NVR_ERR_INVAL) {
		nvr_ctl_error("nvrctl camera list shows the names in use", "a camera named %s exists", c.name);
		goto out;
	}
	if (rc != NVR_OK || stg_catalog_notify(db) != NVR_OK)
		goto out;
	nvr_uuid_format(&c.id, id);
	/* As the API audits it: never the URL's or the password's text. */
	snprintf(detail, sizeof(detail), "{\"id\":\"%s\",\"enabled\":%s,\"plain_rtp\":%s,\"transport\":\"%s\"}", id,
	    c.enabled ? "true" : "false", c.plain_rtp ? "true" : "false", c.transport);
	(void)nvr_ctl_audit_change(db, "camera.add", c.name, detail);
	if (c.plain_rtp)
		(void)nvr_ctl_audit_change(db, "camera.plain_rtp", c.name, "{\"plain_rtp\":true}");
	printf("camera %s added (id %s)%s\n", c.name, id, c.enabled ? "" : ", disabled");
	if (o.transport == NULL && strcmp(c.transport, "tunnel") == 0)
		printf("  an http(s):// URL: RTSP is tunnelled over HTTP (transport tunnel)\n");
	if (!o.ca_file && !o.pin && o.system_ca)
		printf("  its certificate must chain to the system's CA store\n");
	st = NVR_CTL_OK;
out:
	stg_camera_clear(&c);
	return st;
}

static int
camera_list(struct nvr_ctl *ctl)
{
	struct stg_camera *v = NULL;
	size_t n = 0;
	PGconn *db = nvr_ctl_db(ctl);

	if (db == NULL || stg_catalog_cameras(db, &v, &n) != NVR_OK)
		return NVR_CTL_FAIL;
	printf("%-20s %-22s %s\n", "NAME", "STATE", "URL");
	for (size_t i = 0; i < n; i++) {
		printf("%-20s %-22s %s\n", v[i].name, v[i].enabled ? v[i].state : "disabled", v[i].url);
		if (v[i].last_error != NULL)
			printf("%-20s %-22s last error: %s\n", "", "", v[i].last_error);
		if (v[i].warning != NULL)
			printf("%-20s %-22s warning: %s\n", "", "", v[i].warning);
	}
	stg_cameras_free(v, n);
	return NVR_CTL_OK;
}

static void
print_trust(const struct stg_camera *c)
{
	char hex[65];

	if (c->has_pin) {
		nvr_hex_encode(c->pin, 32, hex);
		printf("tls trust:     certificate pinned, SHA-256 %s\n", hex);
	} else if (c->tls_ca_pem != NULL) {
		printf("tls trust:     the camera CA bundle given at add time\n");
	} else if (ing_rtsp_url_tls(c->url)) {
		printf("tls trust:     the system CA store\n");
	} else {
		printf("tls trust:     none: %s without TLS\n", strncmp(c->url, "rtsp:", 5) == 0 ? "rtsp://" : "http://");
	}
}

static int
camera_show(struct nvr_ctl *ctl, const char *name)
{
	struct stg_camera c;
	char id[NVR_UUID_STRLEN];
	PGconn *db = nvr_ctl_db(ctl);
	nvr_err rc;

	if (db == NULL)
		return NVR_CTL_FAIL;
	if ((rc = stg_catalog_camera_get(db, name, &c)) == NVR_ERR_INVAL) {
		nvr_ctl_error("nvrctl camera list", "no camera named %s", name);
		return NVR_CTL_FAIL;
	}
	if (rc != NVR_OK)
		return NVR_CTL_FAIL;
	nvr_uuid_format(&c.id, id);
	printf("name:          %s\nid:            %s\nurl:           %s\n", c.name, id, c.url);
	printf("user:          %s\npassword:      %s\n", c.username ? c.username : "(none)",
	    c.password_sealed ? "set (sealed with the recorder secret)" : "(none)");
	print_trust(&c);
	printf("basic auth:    %s\nplain rtp:     %s\n", c.allow_basic ? "allowed" : "refused",
	    c.plain_rtp ? "yes (encrypted at ingest)" : "no");
	printf("transport:     %s\nenabled:       %s\n", c.transport, c.enabled ? "yes" : "no");
	if (c.keep_days > 0)
		printf("keep:          %g days\n", c.keep_days);
	if (c.keep_bytes > 0)
		printf("keep at most:  %lld bytes\n", (long long)c.keep_bytes);
	printf("state:         %s\n", c.state);
	if (c.last_error != NULL)
		printf("last error:    %s\n", c.last_error);
	if (c.warning != NULL)
		printf("warning:       %s\n", c.warning);
	stg_camera_clear(&c);
	return NVR_CTL_OK;
}

/* --keep-days N (days, a fraction allowed) or --keep-bytes SIZE (1GiB,
 * 500MiB, or bytes), or "none": the text stored, "" for none. NULL after
 * saying what is wrong. */
static const char *
keep_value(const char *opt, const char *v, char *buf, size_t size)
{
	char *end;
	int64_t bytes;
	double d;

	if (strcmp(v, "none") == 0)
		return "";
	if (strcmp(opt, "keep-days") == 0) {
		d = strtod(v, &end);
		if (end != v && *end == '\0' && d > 0 && d < 1e6) {
			snprintf(buf, size, "%.9g", d);
			return buf;
		}
	} else if (nvr_config_parse_size(v, &bytes) == NVR_OK && bytes > 0) {
		snprintf(buf, size, "%lld", (long long)bytes);
		return buf;
	}
	nvr_ctl_error("e.g. --keep-days 30 --keep-bytes 500GiB, or none to remove a limit", "bad --%s '%s'", opt, v);
	return NULL;
}

/* camera set NAME --transport T: checked against the camera's URL as
 * camera add checks it; the camera restarts (its updated_at changes). */
static int
set_transport(PGconn *db, const char *name, const char *transport)
{
	struct stg_camera c = { 0 };
	struct ing_rtsp_url u;
	const char *why;
	char detail[64];
	int st = NVR_CTL_FAIL;
	nvr_err rc;

	if ((rc = stg_catalog_camera_get(db, name, &c)) == NVR_ERR_INVAL)
		nvr_ctl_error("nvrctl camera list", "no camera named %s", name);
	if (rc != NVR_OK)
		goto out;
	if (ing_rtsp_url_parse(c.url, &u, &why) != NVR_OK) {
		nvr_ctl_error("nvrctl camera remove, then add it again", "camera %s: bad url: %s", name, why);
		goto out;
	}
	if (!check_transport(transport, &u, c.transport)) {
		st = NVR_CTL_USAGE;
		goto out;
	}
	if ((rc = stg_catalog_camera_update(db, &c)) == NVR_ERR_INVAL)
		nvr_ctl_error("try again", "camera %s was changed or removed meanwhile", name);
	if (rc != NVR_OK || stg_catalog_notify(db) != NVR_OK)
		goto out;
	snprintf(detail, sizeof(detail), "{\"transport\":\"%s\"}", c.transport);
	(void)nvr_ctl_audit_change(db, "camera.change", name, detail);
	printf("camera %s: transport %s; nvrd restarts it\n", name, c.transport);
	st = NVR_CTL_OK;
out:
	stg_camera_clear(&c);
	return st;
}

/* camera set NAME [--keep-days N|none] [--keep-bytes SIZE|none]
 * [--transport tcp|udp|tunnel] */
static int
camera_set(struct nvr_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "keep-days", required_argument, NULL, 'd' },
		{ "keep-bytes", required_argument, NULL, 'b' }, { "transport", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 } };
	char dbuf[32], bbuf[32], detail[160];
	const char *days = NULL, *bytes = NULL, *transport = NULL;
	PGconn *db;
	nvr_err rc;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd' && (days = keep_value("keep-days", optarg, dbuf, sizeof(dbuf))) == NULL)
			return NVR_CTL_USAGE;
		if (c == 'b' && (bytes = keep_value("keep-bytes", optarg, bbuf, sizeof(bbuf))) == NULL)
			return NVR_CTL_USAGE;
		if (c == 't')
			transport = optarg;
		if (c != 'd' && c != 'b' && c != 't')
			return NVR_CTL_USAGE;
	}
	if (optind != argc - 1 || (days == NULL && bytes == NULL && transport == NULL)) {
		nvr_ctl_error("nvrctl camera set NAME [--keep-days N|none] [--keep-bytes SIZE|none] [--transport tcp|udp|tunnel]",
		    "camera set takes one NAME and at least one option");
		return NVR_CTL_USAGE;
	}
	if ((db = nvr_ctl_db(ctl)) == NULL)
		return NVR_CTL_FAIL;
	if (days == NULL && bytes == NULL)
		return set_transport(db, argv[optind], transport);
	if ((rc = stg_catalog_camera_retention(db, argv[optind], days, bytes)) == NVR_ERR_INVAL) {
		nvr_ctl_error("nvrctl camera list", "no camera named %s", argv[optind]);
		return NVR_CTL_FAIL;
	}
	if (rc != NVR_OK)
		return NVR_CTL_FAIL;
	/* As the API audits it: the limits as given, null for none. */
	snprintf(detail, sizeof(detail), "{\"retention\":{\"max_age_days\":%s,\"max_bytes\":%s}}",
	    days == NULL ? "\"unchanged\"" : days[0] ? days : "null", bytes == NULL ? "\"unchanged\"" : bytes[0] ? bytes : "null");
	(void)nvr_ctl_audit_change(db, "camera.change", argv[optind], detail);
	printf("camera %s: retention changed\n", argv[optind]);
	return transport != NULL ? set_transport(db, argv[optind], transport) : NVR_CTL_OK;
}

static int
camera_remove(struct nvr_ctl *ctl, const char *name)
{
	PGconn *db = nvr_ctl_db(ctl);
	nvr_err rc;

	if (db == NULL)
		return NVR_CTL_FAIL;
	if ((rc = stg_catalog_camera_remove(db, name)) == NVR_ERR_INVAL) {
		nvr_ctl_error("nvrctl camera list", "no camera named %s", name);
		return NVR_CTL_FAIL;
	}
	if (rc != NVR_OK || stg_catalog_notify(db) != NVR_OK)
		return NVR_CTL_FAIL;
	(void)nvr_ctl_audit_change(db, "camera.remove", name, NULL);
	printf("camera %s removed; its recordings are kept\n", name);
	return NVR_CTL_OK;
}

int
nvr_ctl_camera(struct nvr_ctl *ctl, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return camera_add(ctl, argc, argv);
	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return camera_list(ctl);
	if (argc == 2 && strcmp(argv[0], "show") == 0)
		return camera_show(ctl, argv[1]);
	if (argc == 2 && strcmp(argv[0], "remove") == 0)
		return camera_remove(ctl, argv[1]);
	if (argc >= 1 && strcmp(argv[0], "set") == 0)
		return camera_set(ctl, argc, argv);
	nvr_ctl_error("nvrctl --help", "camera takes add, list, show NAME, set NAME or remove NAME");
	return NVR_CTL_USAGE;
}

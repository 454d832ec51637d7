/*
 * ctl_keyholder.c: nvrctl keyholder new|add|list|remove.
 * `new` runs on the key holder's own machine and touches nothing but the
 * two files it writes: the private key never goes anywhere else.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "nvrd/ctl.h"
#include "nvrd/encode.h"
#include "storage/catalog.h"
#include "storage/seal.h"

/* Writes with O_EXCL: an existing key is never overwritten. */
static bool
write_key_file(const char *path, mode_t mode, EVP_PKEY *k, bool private)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	bool ok;

	if (f == NULL) {
		nvr_ctl_error(errno == EEXIST ? "choose another name or --out folder" : NULL, "cannot create %s: %s",
		    path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	ok = private ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1 : PEM_write_PUBKEY(f, k) == 1;
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
	fclose(f);
	if (!ok)
		unlink(path);
	return ok;
}

static void
print_fingerprint(EVP_PKEY *k)
{
	uint8_t fp[32];
	char hex[65];

	if (stg_seal_fingerprint(k, fp) == NVR_OK) {
		nvr_hex_encode(fp, 32, hex);
		printf("  fingerprint (SHA-256 of the public key): %s\n", hex);
	}
}

static int
keyholder_new(int argc, char **argv)
{
	static const struct option opts[] = { { "out", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 } };
	const char *dir = ".", *why;
	char priv[4096], pub[4096];
	EVP_PKEY *k = NULL;
	int c, st = NVR_CTL_FAIL;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'o')
			return NVR_CTL_USAGE;
		dir = optarg;
	}
	if (optind != argc - 1) {
		nvr_ctl_error(NULL, "keyholder new takes one NAME");
		return NVR_CTL_USAGE;
	}
	if ((why = stg_catalog_check_name(argv[optind], true)) != NULL) {
		nvr_ctl_error(NULL, "bad key holder name: %s", why);
		return NVR_CTL_USAGE;
	}
	snprintf(priv, sizeof(priv), "%s/%s.key", dir, argv[optind]);
	snprintf(pub, sizeof(pub), "%s/%s.pub.pem", dir, argv[optind]);
	if ((k = EVP_EC_gen("P-256")) == NULL)
		goto out;
	if (!write_key_file(priv, 0600, k, true))
		goto out;
	if (!write_key_file(pub, 0644, k, false)) {
		unlink(priv);
		goto out;
	}
	printf("key pair made for %s:\n  private key: %s (keep it here, back it up; it never leaves this machine)\n"
	       "  public key:  %s\n", argv[optind], priv, pub);
	print_fingerprint(k);
	printf("next, on the recorder: nvrctl keyholder add %s %s\n", argv[optind], pub);
	st = NVR_CTL_OK;
out:
	EVP_PKEY_free(k);
	return st;
}

static int
keyholder_add(struct nvr_ctl *ctl, const char *name, const char *path)
{
	struct stg_keyholder kh;
	char text[16384], id[NVR_UUID_STRLEN], hex[65], detail[160];
	const char *why;
	FILE *f;
	size_t n;
	PGconn *db;
	nvr_err rc;

	if ((why = stg_catalog_check_name(name, true)) != NULL) {
		nvr_ctl_error(NULL, "bad key holder name: %s", why);
		return NVR_CTL_USAGE;
	}
	if ((f = fopen(path, "re")) == NULL) {
		nvr_ctl_error(NULL, "cannot read %s: %s", path, strerror(errno));
		return NVR_CTL_FAIL;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if (strstr(text, "PRIVATE KEY") != NULL) {
		nvr_ctl_error("give the .pub.pem file that `nvrctl keyholder new` made; delete this copy of the private key",
		    "%s holds a private key: it must never be given to the recorder", path);
		return NVR_CTL_FAIL;
	}
	if ((db = nvr_ctl_db(ctl)) == NULL)
		return NVR_CTL_FAIL;
	rc = stg_catalog_keyholder_add(db, name, text, &kh);
	if (rc == NVR_ERR_INVAL) {
		nvr_ctl_error("nvrctl keyholder list", "%s is not a P-256 public key in PEM, or the name or key is already registered",
		    path);
		return NVR_CTL_FAIL;
	}
	if (rc != NVR_OK || stg_catalog_notify(db) != NVR_OK)
		return NVR_CTL_FAIL;
	nvr_uuid_format(&kh.id, id);
	nvr_hex_encode(kh.fingerprint, 32, hex);
	snprintf(detail, sizeof(detail), "{\"id\":\"%s\",\"fingerprint\":\"%s\"}", id, hex);
	(void)nvr_ctl_audit_change(db, "keyholder.add", name, detail);
	printf("key holder %s added (id %s)\n  fingerprint: %s\n  new recordings' keys are sealed to it from now on\n",
	    name, id, hex);
	return NVR_CTL_OK;
}

static int
keyholder_list(struct nvr_ctl *ctl)
{
	struct stg_keyholder *v = NULL;
	size_t n = 0;
	char hex[65];
	PGconn *db = nvr_ctl_db(ctl);

	if (db == NULL || stg_catalog_keyholders(db, false, &v, &n) != NVR_OK)
		return NVR_CTL_FAIL;
	printf("%-24s %-64s %s\n", "NAME", "FINGERPRINT (SHA-256)", "ADDED");
	for (size_t i = 0; i < n; i++) {
		nvr_hex_encode(v[i].fingerprint, 32, hex);
		printf("%-24s %-64s %s\n", v[i].name, hex, v[i].created_at);
	}
	if (n == 0)
		printf("(none: nvrd records nothing until one is added)\n");
	stg_keyholders_free(v, n);
	return NVR_CTL_OK;
}

static int
keyholder_remove(struct nvr_ctl *ctl, const char *name)
{
	PGconn *db = nvr_ctl_db(ctl);
	nvr_err rc;

	if (db == NULL)
		return NVR_CTL_FAIL;
	if ((rc = stg_catalog_keyholder_remove(db, name)) == NVR_ERR_INVAL) {
		nvr_ctl_error("nvrctl keyholder list", "no key holder named %s", name);
		return NVR_CTL_FAIL;
	}
	if (rc != NVR_OK || stg_catalog_notify(db) != NVR_OK)
		return NVR_CTL_FAIL;
	(void)nvr_ctl_audit_change(db, "keyholder.remove", name, NULL);
	printf("key holder %s removed: new keys are no longer sealed to it; keys already sealed stay readable by it\n",
	    name);
	return NVR_CTL_OK;
}

int
nvr_ctl_keyholder(struct nvr_ctl *ctl, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "new") == 0)
		return keyholder_new(argc, argv);
	if (argc == 3 && strcmp(argv[0], "add") == 0)
		return keyholder_add(ctl, argv[1], argv[2]);
	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return keyholder_list(ctl);
	if (argc == 2 && strcmp(argv[0], "remove") == 0)
		return keyholder_remove(ctl, argv[1]);
	nvr_ctl_error("nvrctl --help", "keyholder takes new NAME, add NAME PUBKEY.pem, list or remove NAME");
	return NVR_CTL_USAGE;
}

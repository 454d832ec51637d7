/*
 * ctl_user.c: nvrctl user add|list|passwd|remove: API accounts, made on
 * the machine (there is no default account, and the API refuses everything
 * until the first admin exists). Passwords are read from a file or the
 * terminal, never from the command line, and never printed.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "nvrd/ctl.h"
#include "nvrd/uuid.h"
#include "storage/db.h"
#include "web/api.h"
#include "web/audit.h"
#include "web/password.h"
#include "web/users.h"

struct user_opts {
	const char *role;
	const char *password_file;
	const char *cameras;   /* "all" or NAME,NAME */
	const char *keyholder; /* key holder name */
};

/* Reads and checks a new password; the caller wipes and frees it. */
static char *
new_password(const char *user, const char *path)
{
	char *pw = nvr_ctl_read_secret_line(path != NULL ? path : "-", "new password: ");
	const char *why;

	if (pw != NULL && (why = web_password_problem(user, pw)) != NULL) {
		nvr_ctl_error("8 to 32 characters, three of upper case, lower case, digits and symbols, without the user name",
		    "%s", why);
		OPENSSL_cleanse(pw, strlen(pw));
		free(pw);
		return NULL;
	}
	return pw;
}

/* Reads a new password for user id/name (checked against the policy),
 * hashes and seals it into *sp, and wipes it. NVR_CTL_OK, or the exit
 * status, with the reason printed. */
static int
store_password(struct nvr_ctl *ctl, const nvr_uuid *id, const char *name, const char *path,
    struct web_users_password *sp)
{
	struct nvr_config *cfg = nvr_ctl_config(ctl);
	struct stg_secret *secret = nvr_ctl_secret(ctl);
	char *pw;
	int st = NVR_CTL_OK;

	memset(sp, 0, sizeof(*sp));
	if (cfg == NULL || secret == NULL)
		return NVR_CTL_FAIL;
	if ((pw = new_password(name, path)) == NULL)
		return NVR_CTL_USAGE;
	if (web_users_password_make(secret, cfg->web_realm, id, name, pw, sp) != NVR_OK) {
		nvr_ctl_error(NULL, "cannot hash the password");
		st = NVR_CTL_FAIL;
	}
	OPENSSL_cleanse(pw, strlen(pw));
	free(pw);
	return st;
}

/* --cameras all|NAME,NAME as grants. g->names is *names, which points
 * into *copy; the caller frees both (also after a failure). */
static bool
parse_grants(const char *list, struct web_users_grants *g, char **copy, const char ***names)
{
	char *save = NULL, *name;
	size_t max = 1;

	memset(g, 0, sizeof(*g));
	*copy = NULL;
	*names = NULL;
	g->all = list != NULL && strcmp(list, "all") == 0;
	if (list == NULL || g->all)
		return true;
	for (const char *c = list; *c != '\0'; c++)
		max += *c == ',';
	if ((*copy = strdup(list)) == NULL || (*names = calloc(max, sizeof(**names))) == NULL)
		return false;
	for (name = strtok_r(*copy, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save))
		(*names)[g->n++] = name;
	g->names = *names;
	return true;
}

/* Prints why an insert was refused, as nvrctl always worded it. */
static void
insert_refused(const char *name, const struct user_opts *o, const struct web_users_why *why)
{
	if (why->what == WEB_USERS_NO_CAMERA) {
		nvr_ctl_error("nvrctl camera list", "no camera named %s", why->name);
		return;
	}
	nvr_ctl_error("nvrctl user list; nvrctl keyholder list",
	    o->keyholder != NULL ? "a user named %s exists, or there is no key holder named %s" : "a user named %s exists",
	    name, o->keyholder);
}

/* Inserts the user and its grants in one transaction. */
static bool
insert_user(PGconn *db, const nvr_uuid *id, const char *name, unsigned role, const struct web_users_password *sp,
    const struct user_opts *o)
{
	struct web_users_new u = { .id = *id, .name = name, .role = role, .key_holder = o->keyholder };
	struct web_users_why why = { 0 };
	const char **names;
	char *copy;
	nvr_err rc = NVR_ERR_NOMEM;

	if (!parse_grants(o->cameras, &u.cameras, &copy, &names))
		nvr_ctl_error(NULL, "out of memory");
	else if ((rc = web_users_insert(db, &u, sp, &why)) == NVR_ERR_INVAL)
		insert_refused(name, o, &why);
	free(names);
	free(copy);
	return rc == NVR_OK;
}

static int
parse_opts(int argc, char **argv, struct user_opts *o)
{
	static const struct option longopts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "cameras", required_argument, NULL, 'C' },
		{ "keyholder", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o->role = optarg; break;
		case 'p': o->password_file = optarg; break;
		case 'C': o->cameras = optarg; break;
		case 'k': o->keyholder = optarg; break;
		default: return -1;
		}
	}
	return optind;
}

static int
user_add(struct nvr_ctl *ctl, int argc, char **argv)
{
	struct user_opts o = { 0 };
	int idx = parse_opts(argc, argv, &o), st;
	const char *name, *why;
	struct web_users_password sp;
	char detail[160];
	unsigned role;
	nvr_uuid id;
	PGconn *db;

	if (idx < 0 || idx != argc - 1 || o.role == NULL) {
		nvr_ctl_error("nvrctl user add NAME --role admin|operator|viewer|auditor [--password-file FILE|-]",
		    "user add takes one NAME and --role");
		return NVR_CTL_USAGE;
	}
	name = argv[idx];
	if ((role = web_role_parse(o.role)) == 0) {
		nvr_ctl_error(NULL, "unknown role '%s': admin, operator, viewer or auditor", o.role);
		return NVR_CTL_USAGE;
	}
	if ((why = web_user_name_problem(name)) != NULL) {
		nvr_ctl_error(NULL, "bad user name: %s", why);
		return NVR_CTL_USAGE;
	}
	if ((db = nvr_ctl_db(ctl)) == NULL || nvr_uuid_new(&id) != NVR_OK)
		return NVR_CTL_FAIL;
	if ((st = store_password(ctl, &id, name, o.password_file, &sp)) != NVR_CTL_OK)
		return st;
	st = NVR_CTL_FAIL;
	if (!insert_user(db, &id, name, role, &sp, &o))
		goto out;
	snprintf(detail, sizeof(detail), "{\"role\":\"%s\",\"cameras\":\"%s\"}", web_role_name(role),
	    o.cameras != NULL && strcmp(o.cameras, "all") == 0 ? "all" : o.cameras != NULL ? "some" : "none");
	(void)nvr_ctl_audit_change(db, "user.add", name, detail);
	printf("user %s added with the role %s\n", name, web_role_name(role));
	st = NVR_CTL_OK;
out:
	web_users_password_clear(&sp);
	return st;
}

static int
user_list(struct nvr_ctl *ctl)
{
	PGconn *db = nvr_ctl_db(ctl);
	PGresult *res;

	if (db == NULL)
		return NVR_CTL_FAIL;
	res = PQexec(db,
	    "SELECT u.name, u.role, CASE WHEN u.all_cameras OR u.role = 'admin' THEN 'all' "
	    " ELSE coalesce((SELECT string_agg(c.name, ',' ORDER BY c.name) FROM user_cameras g "
	    "  JOIN cameras c ON c.id = g.camera_id WHERE g.user_id = u.id), '-') END, "
	    " coalesce(k.name, '-'), to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI\"Z\"') "
	    "FROM users u LEFT JOIN key_holders k ON k.id = u.key_holder_id "
	    "WHERE u.removed_at IS NULL ORDER BY u.name");
	if (stg_db_check(db, res, PGRES_TUPLES_OK, "listing users") != NVR_OK)
		return NVR_CTL_FAIL;
	printf("%-32s %-9s %-24s %-16s %s\n", "NAME", "ROLE", "CAMERAS", "KEY HOLDER", "ADDED");
	for (int i = 0; i < PQntuples(res); i++)
		printf("%-32s %-9s %-24s %-16s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
		    PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
	if (PQntuples(res) == 0)
		printf("(none: the API refuses every request until an admin is added)\n");
	PQclear(res);
	return NVR_CTL_OK;
}

/* The id of an active user, or false (message printed). */
static bool
user_id(PGconn *db, const char *name, nvr_uuid *id)
{
	struct web_users_row row;
	nvr_err rc = web_users_get(db, name, &row);

	if (rc == NVR_ERR_INVAL)
		nvr_ctl_error("nvrctl user list", "no user named %s", name);
	*id = row.id;
	return rc == NVR_OK;
}

static int
user_passwd(struct nvr_ctl *ctl, int argc, char **argv)
{
	struct user_opts o = { 0 };
	int idx = parse_opts(argc, argv, &o), st;
	struct web_users_password sp;
	nvr_uuid id;
	PGconn *db;

	if (idx < 0 || idx != argc - 1) {
		nvr_ctl_error("nvrctl user passwd NAME [--password-file FILE|-]", "user passwd takes one NAME");
		return NVR_CTL_USAGE;
	}
	if ((db = nvr_ctl_db(ctl)) == NULL || !user_id(db, argv[idx], &id))
		return NVR_CTL_FAIL;
	if ((st = store_password(ctl, &id, argv[idx], o.password_file, &sp)) != NVR_CTL_OK)
		return st;
	/* A new password ends the user's sessions too. */
	st = NVR_CTL_FAIL;
	if (web_users_set_password(db, &id, &sp) == NVR_OK) {
		nvr_ctl_audit_change(db, "user.passwd", argv[idx], NULL);
		printf("password of %s changed; its sessions are ended\n", argv[idx]);
		st = NVR_CTL_OK;
	}
	web_users_password_clear(&sp);
	return st;
}

static int
user_remove(struct nvr_ctl *ctl, const char *name)
{
	PGconn *db = nvr_ctl_db(ctl);
	nvr_uuid id;

	if (db == NULL || !user_id(db, name, &id))
		return NVR_CTL_FAIL;
	/* nvrctl may remove the last admin: it is how the machine's owner
	 * starts over (the API refuses that). */
	if (web_users_remove(db, &id, false, NULL) != NVR_OK)
		return NVR_CTL_FAIL;
	nvr_ctl_audit_change(db, "user.remove", name, NULL);
	printf("user %s removed; its sessions are ended\n", name);
	return NVR_CTL_OK;
}

int
nvr_ctl_user(struct nvr_ctl *ctl, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return user_add(ctl, argc, argv);
	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return user_list(ctl);
	if (argc >= 1 && strcmp(argv[0], "passwd") == 0)
		return user_passwd(ctl, argc, argv);
	if (argc == 2 && strcmp(argv[0], "remove") == 0)
		return user_remove(ctl, argv[1]);
	nvr_ctl_error("nvrctl --help", "user takes add NAME --role ROLE, list, passwd NAME or remove NAME");
	return NVR_CTL_USAGE;
}

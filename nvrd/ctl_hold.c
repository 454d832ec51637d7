/*
 * ctl_hold.c: nvrctl hold add|list|release: evidence holds, which keep a
 * camera's time range from retention until released. Every change is
 * audited (hold.add, hold.release), as the API's are.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrd/ctl.h"
#include "storage/hold.h"

#define USAGE_ADD "nvrctl hold add CAMERA --from TIME --to TIME --reason TEXT"

static const char *
field(json_t *h, const char *name)
{
	const char *s = json_string_value(json_object_get(h, name));

	return s != NULL ? s : "-";
}

/* The audit detail of a hold: the row as listed, as JSON text. */
static void
audit_hold(PGconn *db, const char *action, json_t *h)
{
	char *text = json_dumps(h, JSON_COMPACT);

	(void)nvr_ctl_audit_change(db, action, field(h, "id"), text);
	free(text);
}

static int
hold_add(struct nvr_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' }, { "reason", required_argument, NULL, 'r' }, { NULL, 0, NULL, 0 } };
	const char *from = NULL, *to = NULL, *reason = NULL, *why = NULL;
	char actor[128];
	json_t *h = NULL;
	PGconn *db;
	nvr_err rc;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'r': reason = optarg; break;
		default: return NVR_CTL_USAGE;
		}
	}
	if (optind != argc - 1 || from == NULL || to == NULL || reason == NULL) {
		nvr_ctl_error(USAGE_ADD, "hold add takes one CAMERA, --from, --to and --reason");
		return NVR_CTL_USAGE;
	}
	if ((db = nvr_ctl_db(ctl)) == NULL)
		return NVR_CTL_FAIL;
	nvr_ctl_actor(actor, sizeof(actor));
	if ((rc = stg_hold_add(db, argv[optind], from, to, reason, actor, &h, &why)) == NVR_ERR_INVAL) {
		nvr_ctl_error("nvrctl camera list; times as 2026-11-22T10:00:00Z", "cannot hold %s: %s", argv[optind], why);
		return NVR_CTL_FAIL;
	}
	if (rc != NVR_OK)
		return NVR_CTL_FAIL;
	audit_hold(db, "hold.add", h);
	printf("hold %s: camera %s from %s to %s is kept from retention\n", field(h, "id"), argv[optind],
	    field(h, "from"), field(h, "to"));
	json_decref(h);
	return NVR_CTL_OK;
}

static int
hold_list(struct nvr_ctl *ctl, bool all)
{
	PGconn *db = nvr_ctl_db(ctl);
	json_t *v = NULL, *h;
	size_t i;

	if (db == NULL || stg_hold_list(db, all, &v) != NVR_OK)
		return NVR_CTL_FAIL;
	printf("%-36s %-16s %-32s %-32s %s\n", "ID", "CAMERA", "FROM", "TO", "REASON");
	json_array_foreach(v, i, h) {
		printf("%-36s %-16s %-32s %-32s %s\n", field(h, "id"), field(h, "camera"), field(h, "from"), field(h, "to"),
		    field(h, "reason"));
		printf("%-36s held by %s at %s", "", field(h, "created_by"), field(h, "created_at"));
		if (json_is_string(json_object_get(h, "released_at")))
			printf(", released by %s at %s", field(h, "released_by"), field(h, "released_at"));
		printf("\n");
	}
	json_decref(v);
	return NVR_CTL_OK;
}

static int
hold_release(struct nvr_ctl *ctl, const char *id)
{
	PGconn *db = nvr_ctl_db(ctl);
	char actor[128];
	json_t *h = NULL;
	nvr_err rc;

	if (db == NULL)
		return NVR_CTL_FAIL;
	nvr_ctl_actor(actor, sizeof(actor));
	if ((rc = stg_hold_release(db, id, actor, &h)) == NVR_ERR_INVAL) {
		nvr_ctl_error("nvrctl hold list", "no active hold %s", id);
		return NVR_CTL_FAIL;
	}
	if (rc != NVR_OK)
		return NVR_CTL_FAIL;
	audit_hold(db, "hold.release", h);
	printf("hold %s released: retention may delete its range\n", id);
	json_decref(h);
	return NVR_CTL_OK;
}

int
nvr_ctl_hold(struct nvr_ctl *ctl, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return hold_add(ctl, argc, argv);
	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return hold_list(ctl, false);
	if (argc == 2 && strcmp(argv[0], "list") == 0 && strcmp(argv[1], "--all") == 0)
		return hold_list(ctl, true);
	if (argc == 2 && strcmp(argv[0], "release") == 0)
		return hold_release(ctl, argv[1]);
	nvr_ctl_error("nvrctl --help", "hold takes add, list [--all] or release ID");
	return NVR_CTL_USAGE;
}

/*
 * api_media.c: playback's calls beside the listing (listing.c): the bytes
 * of a segment (with HTTP Range), and the sealed session key for the
 * caller's key holder. What they serve is ciphertext and sealed keys
 * only: nothing here can decrypt. Every call is checked against the
 * caller's camera grants and audited.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvrd/log.h"
#include "nvrd/uuid.h"
#include "storage/db.h"
#include "storage/manifest.h"
#include "web/api.h"
#include "web/http.h"
#include "web/reqcheck.h"
#include "web/server_priv.h"

#define SEND_CHUNK ((size_t)256 * 1024)

/* ---- segment bytes ------------------------------------------------------ */

/* Writes [first, last] of fd; false if the file or the client failed. */
static bool
send_range(struct mg_connection *c, int fd, uint64_t first, uint64_t last)
{
	char *buf = malloc(SEND_CHUNK);
	uint64_t off = first;
	ssize_t n;
	bool ok = buf != NULL;

	while (ok && off <= last) {
		size_t want = last - off + 1 < SEND_CHUNK ? (size_t)(last - off + 1) : SEND_CHUNK;
		n = pread(fd, buf, want, (off_t)off);
		ok = n > 0 && mg_write(c, buf, (size_t)n) == (int)n;
		off += n > 0 ? (uint64_t)n : 0;
	}
	free(buf);
	return ok;
}

/* The segment's file (relative path) and camera, if it exists. */
static PGresult *
segment_query(struct web_req *r)
{
	const char *p[1] = { r->path_arg };

	return PQexecParams(r->db,
	    "SELECT g.path, s.camera_id FROM segments g JOIN streams s ON s.id = g.stream_id WHERE g.id = $1::uuid", 1,
	    NULL, p, NULL, NULL, 0);
}

int
web_send_file(struct web_req *r, int fd, uint64_t size, const char *type, const char *headers)
{
	uint64_t first = 0, last = size - 1;
	int range = web_range_parse(mg_get_header(r->conn, "Range"), size, &first, &last);
	char extra[512];

	if (range < 0) {
		snprintf(extra, sizeof(extra), "Content-Range: bytes */%llu\r\nAccept-Ranges: bytes\r\n",
		    (unsigned long long)size);
		return web_reply_error(r->conn, 416, "range", extra, "one range within the %llu bytes, like bytes=0-1023",
		    (unsigned long long)size);
	}
	snprintf(extra, sizeof(extra), "Accept-Ranges: bytes\r\n%s", headers != NULL ? headers : "");
	if (range > 0)
		snprintf(extra, sizeof(extra), "Accept-Ranges: bytes\r\nContent-Range: bytes %llu-%llu/%llu\r\n%s",
		    (unsigned long long)first, (unsigned long long)last, (unsigned long long)size,
		    headers != NULL ? headers : "");
	web_reply_head(r->conn, range > 0 ? 206 : 200, type, extra, size == 0 ? 0 : last - first + 1);
	if (size > 0 && strcmp(r->ri->request_method, "HEAD") != 0)
		send_range(r->conn, fd, first, last);
	return range > 0 ? 206 : 200;
}

int
web_api_segment(struct web_req *r)
{
	char path[4096];
	struct stat st;
	PGresult *res;
	int fd, status;

	if (!web_req_path_uuid(r, "segment"))
		return 404;
	res = segment_query(r);
	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "finding a segment for the API") != NVR_OK)
		return web_reply_db_error(r->conn);
	if (PQntuples(res) != 1 || !web_req_camera_allowed(r, PQgetvalue(res, 0, 1))) {
		PQclear(res);
		return web_req_not_found(r, "segment", "recording.read");
	}
	/* The path was written by nvrd (relative, checked at indexing). */
	snprintf(path, sizeof(path), "%s/%s", r->srv->cfg->storage_root, PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &st) != 0) {
		nvr_log(NVR_LOG_ERROR, "API: segment %s is indexed but %s cannot be read: %s", r->path_arg, path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		web_req_audit(r, "recording.read", r->path_arg, WEB_AUDIT_FAILED, "{\"reason\":\"file missing\"}");
		return web_reply_error(r->conn, 410, "gone", NULL, "the segment's file is missing; see nvrctl verify");
	}
	status = web_send_file(r, fd, (uint64_t)st.st_size, "application/vnd.nvr.segment", NULL);
	close(fd);
	web_req_audit(r, "recording.read", r->path_arg, status < 400 ? WEB_AUDIT_OK : WEB_AUDIT_DENIED, NULL);
	return status;
}

/* ---- sealed keys -------------------------------------------------------- */

/* keys/<key_id>.sealed.json (docs/FORMAT.md), the file a key holder's
 * tools read, with only the caller's entry in "sealed": the envelope (suite,
 * SSRC, rollover counter) is what decryption needs besides the key. */
static json_t *
sealed_for(struct web_req *r, const char *key_holder, json_error_t *err)
{
	char path[4096];
	json_t *j, *all, *mine = json_array();
	size_t i;
	json_t *e;

	snprintf(path, sizeof(path), "%s/keys/%s.sealed.json", r->srv->cfg->storage_root, r->path_arg);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, err);
	all = json_object_get(j, "sealed");
	if (j == NULL || !json_is_array(all) || mine == NULL) {
		json_decref(j);
		json_decref(mine);
		return NULL;
	}
	json_array_foreach(all, i, e) {
		if (json_is_string(json_object_get(e, "key_holder")) &&
		    strcmp(json_string_value(json_object_get(e, "key_holder")), key_holder) == 0)
			json_array_append(mine, e);
	}
	json_object_set_new(j, "sealed", mine);
	return j;
}

int
web_api_key(struct web_req *r)
{
	char kh[NVR_UUID_STRLEN];
	const char *p[2] = { r->path_arg, kh };
	PGresult *res;
	json_t *sealed;
	json_error_t err;

	if (!web_req_path_uuid(r, "key"))
		return 404;
	if (!r->user.has_key_holder) {
		web_req_audit(r, "key.read", r->path_arg, WEB_AUDIT_DENIED, "{\"reason\":\"no key holder\"}");
		return web_reply_error(r->conn, 403, "no_key_holder", NULL,
		    "this user is not a key holder: an admin links one with nvrctl user add ... --keyholder NAME");
	}
	nvr_uuid_format(&r->user.key_holder, kh);
	res = PQexecParams(r->db,
	    "SELECT 1, s.camera_id FROM sealed_keys k JOIN rtsp_sessions x ON x.key_id = k.key_id "
	    "JOIN streams s ON s.id = x.stream_id WHERE k.key_id = $1::uuid AND k.key_holder_id = $2::uuid",
	    2, NULL, p, NULL, NULL, 0);
	if (stg_db_check(r->db, res, PGRES_TUPLES_OK, "finding a sealed key for the API") != NVR_OK)
		return web_reply_db_error(r->conn);
	if (PQntuples(res) != 1 || !web_req_camera_allowed(r, PQgetvalue(res, 0, 1))) {
		PQclear(res);
		return web_req_not_found(r, "key sealed to this key holder", "key.read");
	}
	PQclear(res);
	if ((sealed = sealed_for(r, kh, &err)) == NULL) {
		nvr_log(NVR_LOG_ERROR, "API: the sealed key file of %s cannot be read: %s", r->path_arg, err.text);
		web_req_audit(r, "key.read", r->path_arg, WEB_AUDIT_FAILED, "{\"reason\":\"key file unreadable\"}");
		return web_reply_error(r->conn, 410, "gone", NULL, "the sealed key file is missing or damaged");
	}
	web_req_audit(r, "key.read", r->path_arg, WEB_AUDIT_OK, NULL);
	return web_reply_json(r->conn, 200, sealed, NULL);
}

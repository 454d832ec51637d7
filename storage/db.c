/*
 * db.c: PostgreSQL connections and checked statements.
 * It must never log a conninfo (it may hold a password) and never leave a
 * PGresult uncleared on an error path.
 */
#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "nvrd/log.h"
#include "nvrd/util.h"
#include "storage/db.h"

/* libpq messages end in a newline and may span lines; keep the first. */
static void
copy_message(char *dst, size_t size, const char *msg)
{
	size_t n;

	if (size == 0)
		return;
	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	n = strcspn(msg, "\n");
	if (n >= size)
		n = size - 1;
	memcpy(dst, msg, n);
	dst[n] = '\0';
}

/* Waits for the libpq socket in the direction asked, or for wake_fd.
 * Returns NVR_OK when the socket is ready. */
static nvr_err
wait_socket(PGconn *c, PostgresPollingStatusType st, int wake_fd, int64_t deadline)
{
	struct pollfd pfd[2];
	int64_t left;
	int n;

	pfd[0].fd = PQsocket(c);
	pfd[0].events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
	pfd[1].fd = wake_fd;
	pfd[1].events = POLLIN;
	for (;;) {
		left = deadline - nvr_monotonic_ms();
		if (left <= 0)
			return NVR_ERR_DB_UNREACHABLE;
		n = poll(pfd, wake_fd >= 0 ? 2 : 1, left > 1000 ? 1000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NVR_ERR_IO;
		if (wake_fd >= 0 && (pfd[1].revents & POLLIN))
			return NVR_ERR_INTERRUPTED;
		if (n > 0)
			return NVR_OK;
	}
}

/* Server notices (NOTICE, WARNING) go to our log instead of libpq's raw
 * stderr print: warnings stay visible, notices only at debug level. */
static void
notice_receiver(void *arg, const PGresult *r)
{
	const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	(void)arg;

	if (sev != NULL && strcmp(sev, "WARNING") == 0)
		nvr_log(NVR_LOG_WARNING, "PostgreSQL: %s", msg ? msg : "(no message)");
	else
		nvr_debug("PostgreSQL %s: %s", sev ? sev : "notice", msg ? msg : "(no message)");
}

nvr_err
stg_db_connect(const char *conninfo, int64_t timeout_ms, int wake_fd,
    PGconn **out, char *why, size_t whysize)
{
	int64_t deadline = nvr_monotonic_ms() + timeout_ms;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *c;
	nvr_err rc = NVR_OK;

	*out = NULL;
	copy_message(why, whysize, "");
	if ((c = PQconnectStart(conninfo)) == NULL)
		return NVR_ERR_NOMEM;
	if (PQstatus(c) == CONNECTION_BAD) {
		copy_message(why, whysize, PQerrorMessage(c));
		rc = NVR_ERR_DB_UNREACHABLE;
		goto out;
	}
	/* PQconnectPoll protocol: wait for the direction it names, then call
	 * it again, until it says OK or FAILED (libpq docs, 34.1). */
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED) {
			copy_message(why, whysize, PQerrorMessage(c));
			rc = NVR_ERR_DB_UNREACHABLE;
			goto out;
		}
		rc = wait_socket(c, st, wake_fd, deadline);
		if (rc == NVR_ERR_DB_UNREACHABLE)
			snprintf(why, whysize, "no answer within %lld ms", (long long)timeout_ms);
		if (rc != NVR_OK)
			goto out;
		st = PQconnectPoll(c);
	}
out:
	if (rc == NVR_OK) {
		PQsetNoticeReceiver(c, notice_receiver, NULL);
		*out = c;
	} else {
		PQfinish(c);
	}
	return rc;
}

nvr_err
stg_db_check(PGconn *c, PGresult *r, ExecStatusType want, const char *what)
{
	char msg[512];

	if (r != NULL && PQresultStatus(r) == want)
		return NVR_OK;
	if (r == NULL) {
		copy_message(msg, sizeof(msg), PQerrorMessage(c));
		nvr_log(NVR_LOG_ERROR, "%s: %s", what, msg);
		return NVR_ERR_DB;
	}
	/* libpq's own failures (a lost connection) have no primary field. */
	copy_message(msg, sizeof(msg),
	    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
	                                                          : PQresultErrorMessage(r));
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		snprintf(msg, sizeof(msg), "unexpected result status %s",
		    PQresStatus(PQresultStatus(r)));
	nvr_log_ex(NVR_LOG_ERROR, PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL),
	    PQresultErrorField(r, PG_DIAG_MESSAGE_HINT), "%s: %s", what, msg);
	PQclear(r);
	return NVR_ERR_DB;
}

nvr_err
stg_db_exec(PGconn *c, const char *sql, const char *what)
{
	PGresult *r = PQexec(c, sql);
	nvr_err rc = stg_db_check(c, r, PGRES_COMMAND_OK, what);

	if (rc == NVR_OK)
		PQclear(r);
	return rc;
}

void
stg_db_describe(PGconn *c, char *buf, size_t size)
{
	const char *host = PQhost(c), *port = PQport(c), *db = PQdb(c);

	if (host != NULL && host[0] == '/')
		snprintf(buf, size, "%s/.s.PGSQL.%s, database %s", host, port ? port : "5432", db ? db : "?");
	else
		snprintf(buf, size, "%s:%s, database %s", host ? host : "?", port ? port : "5432", db ? db : "?");
}

nvr_err
stg_db_prepare(PGconn *c, int n, const char *const *names, const char *const *sqls, const char *what)
{
	nvr_err rc = NVR_OK;

	for (int i = 0; i < n && rc == NVR_OK; i++) {
		PGresult *r = PQprepare(c, names[i], sqls[i], 0, NULL);
		if ((rc = stg_db_check(c, r, PGRES_COMMAND_OK, what)) == NVR_OK)
			PQclear(r);
	}
	return rc;
}

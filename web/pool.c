/*
 * pool.c: a small, fixed-size pool of PostgreSQL connections.
 * It never logs the conninfo (it may hold a password).
 */
#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-events.h>

#include "nvrd/log.h"
#include "storage/db.h"
#include "web/pool.h"

#define CONNECT_TIMEOUT_MS 5000
#define PREPARED_MAX 32 /* statements one connection keeps prepared */

/* What a pooled connection has prepared, attached to it with libpq's
 * instance data so it lives and dies with the connection (a connection
 * made again starts with nothing prepared). */
struct prepared {
	const struct web_stmt *stmt[PREPARED_MAX];
	int n;
};

struct web_pool {
	char *conninfo;
	int size;
	pthread_mutex_t lock; /* protects idle, nidle, out */
	pthread_cond_t freed;
	PGconn **idle;        /* connections not in use */
	int nidle;
	int out;              /* connections in use, or being made */
};

nvr_err
web_pool_new(const char *conninfo, int size, struct web_pool **out)
{
	struct web_pool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL || (p->conninfo = strdup(conninfo)) == NULL ||
	    (p->idle = calloc((size_t)size, sizeof(PGconn *))) == NULL) {
		web_pool_free(p);
		return NVR_ERR_NOMEM;
	}
	p->size = size;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->freed, NULL);
	*out = p;
	return NVR_OK;
}

void
web_pool_free(struct web_pool *p)
{
	if (p == NULL)
		return;
	if (p->idle != NULL) {
		for (int i = 0; i < p->nidle; i++)
			PQfinish(p->idle[i]);
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->freed);
	}
	free(p->idle);
	free(p->conninfo);
	free(p);
}

static int
prepared_event(PGEventId id, void *info, void *pass)
{
	(void)pass;
	if (id == PGEVT_CONNDESTROY)
		free(PQinstanceData(((PGEventConnDestroy *)info)->conn, prepared_event));
	return 1;
}

static PGconn *
connect_one(struct web_pool *p)
{
	PGconn *c = NULL;
	struct prepared *pr;
	char why[256];

	if (stg_db_connect(p->conninfo, CONNECT_TIMEOUT_MS, -1, &c, why, sizeof(why)) != NVR_OK) {
		nvr_log_ex(NVR_LOG_WARNING, why, NULL, "API: cannot connect to PostgreSQL");
		return NULL;
	}
	/* Without the instance data the connection still works, unprepared. */
	if ((pr = calloc(1, sizeof(*pr))) != NULL &&
	    (!PQregisterEventProc(c, prepared_event, "nvr-web-pool", NULL) || !PQsetInstanceData(c, prepared_event, pr)))
		free(pr);
	return c;
}

PGresult *
web_pool_exec(PGconn *c, const struct web_stmt *st, int n, const char *const *p, int binary)
{
	struct prepared *pr = PQinstanceData(c, prepared_event);
	PGresult *res;

	/* A failed PREPARE would abort a transaction the caller has open. */
	if (pr == NULL || PQtransactionStatus(c) != PQTRANS_IDLE)
		return PQexecParams(c, st->sql, n, NULL, p, NULL, NULL, binary);
	for (int i = 0; i < pr->n; i++)
		if (pr->stmt[i] == st)
			return PQexecPrepared(c, st->name, n, p, NULL, NULL, binary);
	if (pr->n == PREPARED_MAX)
		return PQexecParams(c, st->sql, n, NULL, p, NULL, NULL, binary);
	res = PQprepare(c, st->name, st->sql, n, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* Logged by the caller when the unprepared run fails the same way. */
		PQclear(res);
		return PQexecParams(c, st->sql, n, NULL, p, NULL, NULL, binary);
	}
	PQclear(res);
	pr->stmt[pr->n++] = st;
	return PQexecPrepared(c, st->name, n, p, NULL, NULL, binary);
}

/*
 * Whether an idle connection still has a server behind it. A backend that
 * PostgreSQL ended while the connection sat idle (a restart, a
 * pg_terminate_backend) has sent its FATAL notice and closed the socket:
 * the socket polls readable, and reading it turns the status bad. A live
 * idle connection has nothing to read, so this costs one poll(2), not a
 * round trip.
 */
static bool
still_alive(PGconn *c)
{
	struct pollfd pfd = { .fd = PQsocket(c), .events = POLLIN };

	if (PQstatus(c) != CONNECTION_OK || pfd.fd < 0)
		return false;
	if (poll(&pfd, 1, 0) == 0)
		return true;
	/* Readable while idle: an error notice or EOF; either ends it. */
	return (pfd.revents & (POLLHUP | POLLERR)) == 0 && PQconsumeInput(c) == 1 && PQstatus(c) == CONNECTION_OK;
}

PGconn *
web_pool_get(struct web_pool *p, int64_t timeout_ms)
{
	struct timespec until;
	PGconn *c = NULL;
	bool make = false;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&p->lock);
	while (p->nidle == 0 && p->out >= p->size)
		if (pthread_cond_timedwait(&p->freed, &p->lock, &until) == ETIMEDOUT)
			break;
	if (p->nidle > 0)
		c = p->idle[--p->nidle];
	else if (p->out < p->size)
		make = true;
	if (c != NULL || make)
		p->out++;
	pthread_mutex_unlock(&p->lock);
	if (c != NULL && !still_alive(c)) {
		nvr_log(NVR_LOG_NOTICE, "API: a pooled PostgreSQL connection was closed by the server; reconnecting");
		PQfinish(c);
		c = NULL;
		make = true;
	}
	if (make && (c = connect_one(p)) == NULL)
		web_pool_put(p, NULL); /* gives the slot back */
	return c;
}

void
web_pool_put(struct web_pool *p, PGconn *c)
{
	/* A connection left inside a transaction or broken is not reused. */
	if (c != NULL && (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE)) {
		PQfinish(c);
		c = NULL;
	}
	pthread_mutex_lock(&p->lock);
	p->out--;
	if (c != NULL)
		p->idle[p->nidle++] = c;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

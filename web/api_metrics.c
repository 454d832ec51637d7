/*
 * api_metrics.c: GET /metrics in Prometheus' text format (version 0.0.4):
 * cameras by state, what ingest received and dropped, how long packets
 * took to become durable, API requests by status and authentication
 * failures. Counts only: no camera name, user or address appears here.
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrd/util.h"
#include "storage/db.h"
#include "storage/retention.h"
#include "storage/stats.h"
#include "web/api.h"
#include "web/http.h"
#include "web/server_priv.h"

#define METRICS_MAX ((size_t)32 * 1024)

/* Prometheus buckets (seconds) over the 1 ms latency histogram. */
static const int latency_le_ms[] = { 10, 50, 100, 250, 500, 1000, 2000, 5000 };

struct out {
	char *buf;
	size_t len;
	bool full;
};

static void
put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, METRICS_MAX - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= METRICS_MAX - o->len)
		o->full = true;
	else
		o->len += (size_t)n;
}

static void
counter(struct out *o, const char *name, const char *help, atomic_uint_fast64_t *c)
{
	put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	    (unsigned long long)atomic_load_explicit(c, memory_order_relaxed));
}

static bool
cameras(struct out *o, PGconn *db)
{
	PGresult *res = PQexec(db,
	    "SELECT coalesce(s.state, 'unknown'), count(*) FROM cameras c "
	    "LEFT JOIN camera_status s ON s.camera_id = c.id WHERE c.removed_at IS NULL GROUP BY 1 ORDER BY 1");

	if (stg_db_check(db, res, PGRES_TUPLES_OK, "counting cameras for /metrics") != NVR_OK)
		return false;
	put(o, "# HELP nvr_cameras Cameras by ingest state.\n# TYPE nvr_cameras gauge\n");
	for (int i = 0; i < PQntuples(res); i++) /* states are nvrd's own words: no escaping needed */
		put(o, "nvr_cameras{state=\"%s\"} %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	return true;
}

static void
latency(struct out *o)
{
	uint64_t cum = 0, n;
	double sum = 0;
	size_t b = 0;

	put(o, "# HELP nvr_packet_durable_seconds Time from a packet's arrival to its durable write.\n"
	       "# TYPE nvr_packet_durable_seconds histogram\n");
	for (int ms = 0; ms <= STG_LAT_BUCKETS; ms++) {
		n = atomic_load_explicit(&stg_stats.latency[ms], memory_order_relaxed);
		while (b < sizeof(latency_le_ms) / sizeof(latency_le_ms[0]) && ms >= latency_le_ms[b])
			put(o, "nvr_packet_durable_seconds_bucket{le=\"%g\"} %llu\n", latency_le_ms[b++] / 1000.0,
			    (unsigned long long)cum);
		cum += n;
		sum += (double)n * (ms + 0.5) / 1000.0; /* bucket middles: 0.5 ms resolution */
	}
	put(o, "nvr_packet_durable_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	put(o, "nvr_packet_durable_seconds_sum %.3f\nnvr_packet_durable_seconds_count %llu\n", sum,
	    (unsigned long long)cum);
}

static void
api(struct out *o, struct web_server *s)
{
	uint64_t n, hits, misses;

	put(o, "# HELP nvr_api_requests_total API requests answered, by HTTP status.\n"
	       "# TYPE nvr_api_requests_total counter\n");
	for (int code = 100; code < WEB_STATUS_MAX; code++)
		if ((n = atomic_load_explicit(&s->requests[code], memory_order_relaxed)) > 0)
			put(o, "nvr_api_requests_total{code=\"%d\"} %llu\n", code, (unsigned long long)n);
	counter(o, "nvr_api_auth_failures_total", "Failed authentications (all reasons, audited).", &s->auth_failures);
	counter(o, "nvr_api_refused_connections_total",
	    "Connections closed when accepted, before TLS: address not allowed, or too many open from it.",
	    &s->refused_connections);
	counter(o, "nvr_api_lockout_untracked_total",
	    "Login failures the lock-out table had no room to count (their logins were refused).", &s->lockout_untracked);
	put(o, "# HELP nvr_api_lockout_keys User names and addresses with a live failure count or lock.\n"
	       "# TYPE nvr_api_lockout_keys gauge\nnvr_api_lockout_keys %d\n",
	    web_lockout_live(s->lockout, nvr_monotonic_ms()));
	web_listcache_counts(s->listings, &hits, &misses);
	put(o, "# HELP nvr_api_listing_cache_total Recording listings served from the listing cache (hit) or read.\n"
	       "# TYPE nvr_api_listing_cache_total counter\n"
	       "nvr_api_listing_cache_total{result=\"hit\"} %llu\nnvr_api_listing_cache_total{result=\"miss\"} %llu\n",
	    (unsigned long long)hits, (unsigned long long)misses);
}

int
web_api_metrics(struct web_req *r)
{
	struct out o = { .buf = malloc(METRICS_MAX) };
	int status;

	if (o.buf == NULL)
		return web_reply_error(r->conn, 503, "internal", NULL, "out of memory");
	if (!cameras(&o, r->db)) {
		free(o.buf);
		return web_reply_db_error(r->conn);
	}
	counter(&o, "nvr_ingest_packets_total", "RTP and RTCP packets received and kept.", &stg_stats.packets);
	counter(&o, "nvr_ingest_bytes_total", "Bytes of packets received and kept.", &stg_stats.bytes);
	counter(&o, "nvr_ingest_forged_packets_total", "Packets dropped: authentication tag wrong.", &stg_stats.forged);
	counter(&o, "nvr_ingest_replayed_packets_total", "Packets dropped: replayed.", &stg_stats.replayed);
	counter(&o, "nvr_ingest_lost_packets_total", "Packets the cameras sent that never arrived.", &stg_stats.lost);
	counter(&o, "nvr_storage_dropped_packets_total", "Packets dropped because storage was too slow.",
	    &stg_stats.dropped_storage);
	counter(&o, "nvr_segments_total", "Segments closed, signed and indexed.", &stg_stats.segments);
	put(&o, "# HELP nvr_storage_alarm 1 while the storage root is above its high-water mark and all of it is held.\n"
	        "# TYPE nvr_storage_alarm gauge\nnvr_storage_alarm %d\n",
	    stg_retention_alarm() != STG_RETENTION_OK);
	latency(&o);
	api(&o, r->srv);
	status = web_reply(r->conn, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, o.buf, o.len);
	free(o.buf);
	return status;
}

/*
 * stats.c: recorder-wide counters and the durability latency histogram.
 */
#include "autoconfig.h"

#include "storage/stats.h"

struct stg_stats stg_stats;

void
stg_stats_latency(int64_t us)
{
	int64_t ms = us < 0 ? 0 : us / 1000;

	stg_stat_add(&stg_stats.latency[ms < STG_LAT_BUCKETS ? ms : STG_LAT_BUCKETS], 1);
}

double
stg_stats_percentile(double p)
{
	uint64_t total = 0, seen = 0, want;

	for (int i = 0; i <= STG_LAT_BUCKETS; i++)
		total += atomic_load_explicit(&stg_stats.latency[i], memory_order_relaxed);
	if (total == 0)
		return -1;
	want = (uint64_t)((double)total * p);
	for (int i = 0; i <= STG_LAT_BUCKETS; i++) {
		seen += atomic_load_explicit(&stg_stats.latency[i], memory_order_relaxed);
		if (seen > want)
			return i + 0.5; /* the middle of the 1 ms bucket */
	}
	return STG_LAT_BUCKETS;
}

#define LOAD(c) ((unsigned long long)atomic_load_explicit(&stg_stats.c, memory_order_relaxed))

void
stg_stats_json(FILE *f)
{
	const char *sep = "";

	fprintf(f,
	    "{\"packets\": %llu, \"rtcp_packets\": %llu, \"bytes\": %llu, \"forged\": %llu, "
	    "\"replayed\": %llu, \"lost\": %llu, \"malformed\": %llu, \"dropped_storage\": %llu, "
	    "\"segments\": %llu, \"segment_bytes\": %llu, "
	    "\"durable_latency_ms\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"max_bucket\": %.1f}, ",
	    LOAD(packets), LOAD(rtcp_packets), LOAD(bytes), LOAD(forged), LOAD(replayed), LOAD(lost), LOAD(malformed),
	    LOAD(dropped_storage), LOAD(segments), LOAD(segment_bytes), stg_stats_percentile(0.5),
	    stg_stats_percentile(0.9), stg_stats_percentile(0.99), stg_stats_percentile(1.0));
	/* The histogram itself, non-empty 1 ms buckets as [ms, count] (the
	 * last bucket holds everything slower), so that a benchmark can take
	 * the percentiles of a window from two snapshots. */
	fputs("\"durable_latency_hist\": [", f);
	for (int i = 0; i <= STG_LAT_BUCKETS; i++) {
		unsigned long long n = (unsigned long long)atomic_load_explicit(&stg_stats.latency[i], memory_order_relaxed);
		if (n != 0) {
			fprintf(f, "%s[%d, %llu]", sep, i, n);
			sep = ", ";
		}
	}
	fputs("]}", f);
}

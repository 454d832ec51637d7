/*
 * stats.h: recorder-wide counters and the histogram of the time from a
 * packet's arrival to its durable write. Updated from every thread with
 * relaxed atomics (no locks on the packet path); read for the stats file,
 * camera status and benchmarks.
 */
#ifndef NVR_STG_STATS_H
#define NVR_STG_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define STG_LAT_BUCKETS 5000 /* 1 ms buckets: 0 .. 4.999 s, then the overflow */

struct stg_stats {
	atomic_uint_fast64_t packets, rtcp_packets, bytes;
	atomic_uint_fast64_t forged, replayed, lost, malformed;
	atomic_uint_fast64_t dropped_storage; /* no buffer: storage too slow */
	atomic_uint_fast64_t segments, segment_bytes;
	atomic_uint_fast64_t latency[STG_LAT_BUCKETS + 1];
};

extern struct stg_stats stg_stats;

static inline void
stg_stat_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline void
stg_stat_sub(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_sub_explicit(c, n, memory_order_relaxed);
}

/* Counts one packet that became durable us microseconds after it arrived. */
void stg_stats_latency(int64_t us);

/* The latency below which fraction p (0..1) of the packets fell, in ms;
 * -1 when nothing was recorded. */
double stg_stats_percentile(double p);

/* Writes the statistics as one JSON object (no newline after it). */
void stg_stats_json(FILE *f);

#endif

/*
 * export_cover.c: what an export will not hold of the range asked for
 * (export_priv.h), worked out from the index before a byte is written, so
 * that the bundle's README.txt and export.json, nvrctl export and the API
 * say so. A bundle shorter than asked must never look complete.
 *
 * Segments go into a bundle whole, and only once closed: a range that
 * ends "now" misses the segment being recorded; one that starts before
 * the camera was added, or after retention, misses that; a camera that
 * was disconnected leaves a gap between two segments.
 */
#include "autoconfig.h"

#include <string.h>

#include "storage/export_priv.h"
#include "storage/manifest.h"

/* The segment being recorded is closed within segment_duration (60 s by
 * default) plus the key frame it waits for: a range that ends this close
 * to the export is said to be still recording, not missing. */
#define RECENT_NS (120 * 1000000000LL)

static void
add(json_t *a, const char *camera, const char *stream, int64_t from, int64_t to, const char *why)
{
	char f[32], t[32];

	stg_time_format(from, f);
	stg_time_format(to, t);
	json_array_append_new(a, json_pack("{s:s, s:s?, s:s, s:s, s:s}", "camera", camera, "stream", stream, "from", f,
	    "to", t, "why", why));
}

/* One stream's segments segs[0..n) against [from, to). */
static void
stream_missing(json_t *a, const struct xseg *segs, size_t n, int64_t from, int64_t to, bool recording,
    int64_t created_ns)
{
	const char *cam = segs[0].camera, *st = segs[0].stream;

	if (segs[0].start_ns > from + STG_EXPORT_SLACK_NS)
		add(a, cam, st, from, segs[0].start_ns, "nothing recorded before the first segment (the camera was not "
		    "recording then, or retention deleted it)");
	for (size_t i = 1; i < n; i++) {
		const struct xseg *p = &segs[i - 1], *g = &segs[i];
		if (g->seq != p->seq + 1)
			add(a, cam, st, p->end_ns, g->start_ns, "segments are missing between two exported ones (deleted "
			    "by retention, or lost)");
		else if (g->start_ns > p->end_ns + STG_EXPORT_SLACK_NS)
			add(a, cam, st, p->end_ns, g->start_ns, "no packet came from the camera (disconnected or stopped)");
	}
	/* While the camera records, the open segment holds what follows the
	 * last closed one: any of the range after it is missing, however
	 * little. */
	if (recording && to > created_ns - RECENT_NS && segs[n - 1].end_ns < to)
		add(a, cam, st, segs[n - 1].end_ns, to, "still being recorded: the open segment goes into no bundle "
		    "until it closes; export again in a minute");
	else if (segs[n - 1].end_ns + STG_EXPORT_SLACK_NS < to)
		add(a, cam, st, segs[n - 1].end_ns, to, "nothing recorded after the last segment (the camera stopped, "
		    "or was not recording)");
}

json_t *
stg_export_missing(const struct stg_export_req *req, const struct xplan *pl, int64_t created_ns)
{
	json_t *a = json_array();
	int64_t from, to;
	size_t i = 0;

	if (a == NULL || stg_time_parse_utc(req->from, &from) != NVR_OK || stg_time_parse_utc(req->to, &to) != NVR_OK)
		return a;
	for (size_t c = 0; c < req->ncameras; c++) {
		size_t start = i;
		bool any = false;
		while (i < pl->nsegs && strcmp(pl->segs[i].camera, req->cameras[c]) == 0) {
			size_t j = i;
			while (j < pl->nsegs && strcmp(pl->segs[j].stream_id, pl->segs[i].stream_id) == 0)
				j++;
			stream_missing(a, &pl->segs[i], j - i, from, to, pl->recording[c], created_ns);
			i = j;
			any = true;
		}
		if (!any && start == i)
			add(a, req->cameras[c], NULL, from, to, "no segment of this camera in the range");
	}
	return a;
}

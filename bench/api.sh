#!/bin/bash
# api.sh: what an authenticated API request costs, measured with wrk.
# Starts a private PostgreSQL and nvrd with its HTTPS API (no cameras
# connected: the database holds --cameras of them), logs in once as an
# operator granted every camera, and runs wrk with --connections keep-alive
# TLS clients carrying the session cookie against:
#
#   reference  GET /api/v1/health   (TLS, host filter, session check)
#   cameras    GET /api/v1/cameras  (the same, plus a paged listing query)
#   recordings GET /api/v1/cameras/ID/recordings?from=..&to=.. (one hour of
#              one camera: 60 segments and their gaps, audited)
#
# The database is given --hours of 60 s segments for every camera (rows
# only: the listing never opens a file), interleaved in time order as a
# recorder writes them, and vacuumed as autovacuum would have done.
#
# and prints requests per second, latency and errors for each, and the
# listings as ratios of the reference run. WEB_THREADS and
# WEB_DB_CONNECTIONS set [web] threads and db_connections.
#
#   bench/api.sh [-B BUILD] [--connections 200] [--threads 2]
#                [--seconds 20] [--cameras 50] [--hours 24] [--dir DIR]
#
# Needs: wrk, curl, jq, a build. Figures go to stdout and DIR/results.txt.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/_build
CONN=200
THREADS=2
SECS=20
CAMS=50
HOURS=24
DIR=
while [ $# -gt 0 ]; do
	case $1 in
	-B) B=$(cd "$2" && pwd); shift ;;
	--connections) CONN=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--cameras) CAMS=$2; shift ;;
	--hours) HOURS=$2; shift ;;
	--dir) DIR=$2; shift ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "api.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
DIR=${DIR:-$B/bench-api}
for t in wrk curl jq; do
	command -v "$t" >/dev/null || { echo "api.sh: $t is missing (contrib/setup-debian.sh installs it)" >&2; exit 1; }
done
for p in nvrd/nvrd nvrd/nvrctl; do
	[ -x "$B/$p" ] || { echo "api.sh: $B/$p is missing: make -C $B" >&2; exit 1; }
done

rm -rf "$DIR"
mkdir -p "$DIR/state" "$DIR/storage"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$top/contrib/nvr-pg.sh" stop "$DIR/db" >/dev/null 2>&1 || true
}
trap cleanup EXIT

export PGHOST
PGHOST=$("$top/contrib/nvr-pg.sh" start "$DIR/db" --fast)
cat >"$DIR/nvrd.conf" <<EOF
[nvrd]
log_level = notice
secret_file = $DIR/state/secret.key
[database]
conninfo = "host=$PGHOST user=nvr dbname=postgres"
[signing]
key = $DIR/state/signing.key
certificate = $DIR/state/signing.crt
[web]
listen = 127.0.0.1:0
tls_certificate = $DIR/state/tls.crt
tls_key = $DIR/state/tls.key
threads = ${WEB_THREADS:-256}
db_connections = ${WEB_DB_CONNECTIONS:-8}
[storage]
root = $DIR/storage
EOF
"$B/nvrd/nvrd" -c "$DIR/nvrd.conf" >"$DIR/nvrd.log" 2>&1 &
NVRD=$!
pids="$pids $NVRD"
for _ in $(seq 300); do grep -q "nvrd ready" "$DIR/nvrd.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*HTTPS API listening on 127.0.0.1 port \([0-9]*\)$/\1/p' "$DIR/nvrd.log")
[ -n "$PORT" ] || { echo "api.sh: nvrd did not start; see $DIR/nvrd.log" >&2; exit 1; }

ctl() { "$B/nvrd/nvrctl" -c "$DIR/nvrd.conf" "$@" >>"$DIR/ctl.log" 2>&1; }
printf 'Load-Pass-42\n' >"$DIR/pw"
ctl user add bench --role operator --cameras all --password-file "$DIR/pw"
ctl user add benchadmin --role admin --password-file "$DIR/pw"
for i in $(seq "$CAMS"); do
	ctl camera add "cam$i" --url "rtsps://192.0.2.1/cam$i" --system-ca --disabled
done

# One "video" stream per camera and HOURS of 60 s segments ending an hour
# ago, with a 5 minute gap in the middle of the hour the listing asks for.
psql -qX -v ON_ERROR_STOP=1 -h "$PGHOST" -U nvr -d postgres -v hours="$HOURS" >>"$DIR/ctl.log" <<'SQL'
INSERT INTO streams (id, camera_id, name, codec, clock_rate)
  SELECT gen_random_uuid(), id, 'video', 'H264', 90000 FROM cameras;
INSERT INTO segments (id, stream_id, seq, key_id, path, time_range, bytes, packets, sha256,
                      manifest_sha256, clean_start, tag_verified)
  SELECT gen_random_uuid(), s.id, n, '00000000-0000-4000-8000-000000000000', 'bench/' || n,
         tstzrange(t, t + interval '60 s'), 30000000, 25000, sha256(n::text::bytea),
         sha256(n::text::bytea), true, true
  FROM streams s, generate_series(1, :hours * 60) AS n,
       LATERAL (SELECT date_trunc('hour', now()) - interval '1 hour' - (:hours * 60 - n) * interval '60 s' AS t) AS w
  WHERE extract(minute FROM w.t) NOT BETWEEN 30 AND 34 OR w.t < date_trunc('hour', now()) - interval '2 hours'
  ORDER BY n, s.id;
VACUUM ANALYZE streams;
VACUUM ANALYZE segments;
SQL
CAM=$(psql -qAtX -h "$PGHOST" -U nvr -d postgres -c "SELECT id FROM cameras ORDER BY name LIMIT 1")
T1=$(date -u -d "$(date -u +%Y-%m-%dT%H:00:00Z) - 1 hour" +%Y-%m-%dT%H:%M:%SZ)
T0=$(date -u -d "$(date -u +%Y-%m-%dT%H:00:00Z) - 2 hours" +%Y-%m-%dT%H:%M:%SZ)
REC="/api/v1/cameras/$CAM/recordings?from=$T0&to=$T1"

URL=https://127.0.0.1:$PORT
curl -sS --cacert "$DIR/state/tls.crt" -D "$DIR/login.h" -o "$DIR/login.json" \
	-H 'Content-Type: application/json' -d '{"user":"bench","password":"Load-Pass-42"}' "$URL/api/v1/session"
COOKIE=$(sed -n 's/^Set-Cookie: \(nvr_session=[0-9a-f]*\);.*/\1/p' "$DIR/login.h" | tr -d '\r')
[ -n "$COOKIE" ] || { echo "api.sh: login failed: $(cat "$DIR/login.json")" >&2; exit 1; }
n=$(curl -sS --cacert "$DIR/state/tls.crt" -H "Cookie: $COOKIE" "$URL/api/v1/cameras?limit=20" | jq .total)
[ "$n" = "$CAMS" ] || { echo "api.sh: the listing shows $n cameras, not $CAMS" >&2; exit 1; }
curl -sS --cacert "$DIR/state/tls.crt" -H "Cookie: $COOKIE" "$URL$REC" >"$DIR/recordings.json"
n=$(jq '.items | length' "$DIR/recordings.json")
g=$(jq '.gaps | length' "$DIR/recordings.json")
[ "$n" = 55 ] && [ "$g" = 1 ] || { echo "api.sh: the hour lists $n segments and $g gaps, not 55 and 1" >&2; exit 1; }

# cache_counts: "hits misses" of the listing cache, from /metrics.
cache_counts() {
	curl -sS --cacert "$DIR/state/tls.crt" --digest -u "benchadmin:Load-Pass-42" "$URL/metrics" |
		awk '/^nvr_api_listing_cache_total\{result="hit"\}/ {h = $2} /result="miss"/ {m = $2} END {print h + 0, m + 0}'
}

# run NAME PATH [WRK ARGS]: wrk for SECS seconds; prints "NAME rps p50 p99
# errors" and, for the listings, the share the listing cache answered.
run() {
	local name=$1 path=$2 out=$DIR/wrk-$1.txt rps p50 p99 errs non2xx before after hits=
	shift 2
	before=$(cache_counts)
	wrk -t "$THREADS" -c "$CONN" -d "${SECS}s" --latency -H "Cookie: $COOKIE" "$@" >"$out" 2>&1
	after=$(cache_counts)
	rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
	p50=$(awk '$1 == "50%" {print $2}' "$out")
	p99=$(awk '$1 == "99%" {print $2}' "$out")
	errs=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")
	non2xx=$(awk '/Non-2xx/ {print $5}' "$out")
	if [ "$before" != "$after" ]; then
		hits=$(echo "$before $after" | awk '{h = $3 - $1; m = $4 - $2; printf ", cache hits %.1f%%", 100 * h / (h + m)}')
	fi
	printf '%-10s %-44s %9s req/s  p50 %-8s p99 %-8s errors %s, non-2xx %s%s\n' "$name" "$path" "$rps" "$p50" \
		"$p99" "${errs:-0}" "${non2xx:-0}" "$hits"
	echo "$rps" >"$DIR/$name.rps"
}

FIRST=$(($(date -u -d "$T0" +%s) - 22 * 3600))
ALLCAMS=$(psql -qAtX -h "$PGHOST" -U nvr -d postgres -c "SELECT string_agg(id::text, ',') FROM cameras")
{
	echo "api.sh: wrk -t $THREADS -c $CONN, ${SECS} s each, session cookie, $(nproc) CPUs, $CAMS cameras, $HOURS h of segments"
	run reference /api/v1/health "$URL/api/v1/health"
	run cameras "/api/v1/cameras?limit=20" "$URL/api/v1/cameras?limit=20"
	run recordings "/api/v1/cameras/ID/recordings (one hour)" "$URL$REC"
	run uncached "/api/v1/cameras/*/recordings (any hour)" -s "$top/bench/recordings.lua" "$URL" -- "$ALLCAMS" "$FIRST"
	for t in cameras recordings uncached; do
		awk -v t=$t -v a="$(cat "$DIR/$t.rps")" -v b="$(cat "$DIR/reference.rps")" \
			'BEGIN { printf "%s / reference: %.2f\n", t, a / b }'
	done
	ps -o rss=,time= -p "$NVRD" | awk '{print "nvrd after the runs: RSS " $1 " KiB, CPU time " $2}'
} | tee "$DIR/results.txt"

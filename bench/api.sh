#!/bin/bash
# api.sh: what an authenticated API request costs, measured with wrk.
# Starts a private PostgreSQL and nvrd with its HTTPS API (no cameras
# connected: the database holds --cameras of them), logs in once as an
# operator granted every camera, and runs wrk with --connections keep-alive
# TLS clients carrying the session cookie against:
#
#   reference  GET /api/v1/health   (TLS, host filter, session check)
#   listing    GET /api/v1/cameras  (the same, plus a paged listing query)
#
# and prints requests per second, latency and errors for each, and the
# listing as a ratio of the reference run. WEB_THREADS and
# WEB_DB_CONNECTIONS set [web] threads and db_connections.
#
#   bench/api.sh [-B BUILD] [--connections 200] [--threads 2]
#                [--seconds 20] [--cameras 50] [--dir DIR]
#
# Needs: wrk, curl, jq, a build. Figures go to stdout and DIR/results.txt.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/_build
CONN=200
THREADS=2
SECS=20
CAMS=50
DIR=
while [ $# -gt 0 ]; do
	case $1 in
	-B) B=$(cd "$2" && pwd); shift ;;
	--connections) CONN=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--seconds) SECS=$2; shift ;;
	--cameras) CAMS=$2; shift ;;
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
threads = ${WEB_THREADS:-64}
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
for i in $(seq "$CAMS"); do
	ctl camera add "cam$i" --url "rtsps://192.0.2.1/cam$i" --system-ca --disabled
done

URL=https://127.0.0.1:$PORT
curl -sS --cacert "$DIR/state/tls.crt" -D "$DIR/login.h" -o "$DIR/login.json" \
	-H 'Content-Type: application/json' -d '{"user":"bench","password":"Load-Pass-42"}' "$URL/api/v1/session"
COOKIE=$(sed -n 's/^Set-Cookie: \(nvr_session=[0-9a-f]*\);.*/\1/p' "$DIR/login.h" | tr -d '\r')
[ -n "$COOKIE" ] || { echo "api.sh: login failed: $(cat "$DIR/login.json")" >&2; exit 1; }
n=$(curl -sS --cacert "$DIR/state/tls.crt" -H "Cookie: $COOKIE" "$URL/api/v1/cameras?limit=20" | jq .total)
[ "$n" = "$CAMS" ] || { echo "api.sh: the listing shows $n cameras, not $CAMS" >&2; exit 1; }

# run NAME PATH: wrk for SECS seconds; prints "NAME rps p50 p99 errors".
run() {
	local out=$DIR/wrk-$1.txt rps p50 p99 errs non2xx
	wrk -t "$THREADS" -c "$CONN" -d "${SECS}s" --latency -H "Cookie: $COOKIE" "$URL$2" >"$out" 2>&1
	rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
	p50=$(awk '$1 == "50%" {print $2}' "$out")
	p99=$(awk '$1 == "99%" {print $2}' "$out")
	errs=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")
	non2xx=$(awk '/Non-2xx/ {print $5}' "$out")
	printf '%-10s %-28s %10s req/s  p50 %-8s p99 %-8s errors %s, non-2xx %s\n' "$1" "$2" "$rps" "$p50" "$p99" \
		"${errs:-0}" "${non2xx:-0}"
	echo "$rps" >"$DIR/$1.rps"
}

{
	echo "api.sh: wrk -t $THREADS -c $CONN, ${SECS} s each, session cookie, $(nproc) CPUs, $CAMS cameras"
	run reference /api/v1/health
	run listing "/api/v1/cameras?limit=20"
	awk -v a="$(cat "$DIR/listing.rps")" -v b="$(cat "$DIR/reference.rps")" \
		'BEGIN { printf "listing / reference: %.2f\n", a / b }'
	ps -o rss=,time= -p "$NVRD" | awk '{print "nvrd after the runs: RSS " $1 " KiB, CPU time " $2}'
} | tee "$DIR/results.txt"

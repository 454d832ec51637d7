#!/bin/bash
# ingest.sh: what recording costs, measured. For each stream count, starts
# nvr-loadgen (a camera capture replayed as N RTSPS/SRTP cameras, MIKEY
# keys, Digest), a private PostgreSQL and nvrd recording all N, lets them
# settle, then measures a window between two SIGUSR1 snapshots of nvrd's
# own statistics (CPU time, RSS and ingest counters taken at one instant):
#
#   CPU-s/GB   nvrd's user+system CPU per GB of packets ingested
#   RSS/stream nvrd's resident memory divided by the streams
#   lost       packets the cameras sent that nvrd did not make durable
#              (sequence gaps, storage back-pressure drops, forgeries)
#   p50, p99   time from a packet's arrival to its durable write
#
# The same run records the first --gst-streams cameras with GStreamer's
# own recorder (rtspsrc ! rtph264depay ! h264parse ! splitmuxsink, which
# decrypts), and nvrd with the same streams, so the two read as a ratio.
#
# It also records --tunnel-streams cameras in Internet mode (row "nvrd
# https": https:// URLs, RTSP tunnelled over HTTPS, a GET and a POST
# connection per camera on the same loadgen port), right after the RTSPS
# row of the same stream count, and prints the ratio of the two. If no
# RTSPS row has that count (--gst-streams or --streams), one is added.
#
#   bench/ingest.sh [-B BUILD] [--streams "100 500"] [--mbit 4]
#                   [--seconds 30] [--warmup 15] [--gst-streams 10]
#                   [--tunnel-streams 10] [--dir DIR] [--keep]
#
# NVRD_CONF, if set, is added to the [storage] section of nvrd's
# configuration (e.g. "writers = 2"). NVRD_WRAP, if set, is put before
# nvrd's command (valgrind --tool=massif,
# perf record ...); the figures are then of the wrapped process.
#
# Needs: a build (make, make check builds nvr-test-play), jq. Disk: each
# stream writes --mbit/8 MB/s; a window's storage is removed after it is
# measured (--keep keeps it). Figures go to stdout and DIR/results.txt.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/_build
STREAMS="100 500"
MBIT=4
SECONDS_W=30
WARMUP=15
GST=10
TUNNEL=10
DIR=
KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	-B) B=$(cd "$2" && pwd); shift ;;
	--streams) STREAMS=$2; shift ;;
	--mbit) MBIT=$2; shift ;;
	--seconds) SECONDS_W=$2; shift ;;
	--warmup) WARMUP=$2; shift ;;
	--gst-streams) GST=$2; shift ;;
	--tunnel-streams) TUNNEL=$2; shift ;;
	--dir) DIR=$2; shift ;;
	--keep) KEEP=1 ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "ingest.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
DIR=${DIR:-$B/bench-ingest}

for p in nvrd/nvrd nvrd/nvrctl bench/nvr-loadgen bench/nvr-bench-capture contrib/camsim/nvr-camsim \
	tests/camsim/nvr-test-play; do
	[ -x "$B/$p" ] || { echo "ingest.sh: $B/$p is missing: make -C $B all bench-programs $p" >&2; exit 1; }
done
command -v jq >/dev/null || { echo "ingest.sh: needs jq (apt-get install jq)" >&2; exit 1; }

mkdir -p "$DIR"
chmod 0711 "$DIR"
exec 9>"$DIR/.lock"
flock -n 9 || { echo "ingest.sh: another run uses $DIR" >&2; exit 1; }
pids=""
cleanup() {
	local p
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$top/contrib/nvr-pg.sh" stop "$DIR/db" >/dev/null 2>&1 || true
	[ "$KEEP" = 1 ] || rm -rf "$DIR"/storage-* "$DIR"/gst-*
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf '%s\n' "$*" | tee -a "$DIR/results.txt"; }
: >"$DIR/results.txt"

# --- the camera: a capture at the bit rate asked for, made once ------------------------
cap=$B/bench-cache/cam-${MBIT}mbit.nvrcap
if [ ! -s "$cap" ]; then
	mkdir -p "$B/bench-cache"
	echo "making $cap (20 s of a ${MBIT} Mbit/s camera)"
	"$B/contrib/camsim/nvr-camsim" --plain --port 0 --port-file "$DIR/camsim.port" --bitrate $((MBIT * 1000)) \
		--pattern snow --gop 50 --fps 25 >"$DIR/camsim.log" 2>&1 &
	cpid=$!
	for _ in $(seq 50); do [ -s "$DIR/camsim.port" ] && break; sleep 0.1; done
	"$B/bench/nvr-bench-capture" --url "rtsp://127.0.0.1:$(cat "$DIR/camsim.port")/cam1" --output "$cap" \
		--duration 20 | tee "$DIR/capture.log"
	kill $cpid
	wait $cpid 2>/dev/null || true
fi

"$top/contrib/make-test-pki.sh" "$DIR/pki" >/dev/null
printf 'bench-secret\n' >"$DIR/password"
rm -rf "$DIR/db"
mkdir -p "$DIR/db"
PGHOST=$("$top/contrib/nvr-pg.sh" start "$DIR/db" --fast)
export PGHOST PGUSER=nvr

# cpu_of PID: user+system seconds from /proc
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }
rss_of() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }

# start_loadgen N TAG: N cameras; sets LG_PID, LG_PORT
start_loadgen() {
	local groups=$(($1 / 10))
	[ $groups -ge 1 ] || groups=1
	rm -f "$DIR/lg-$2.port"
	"$B/bench/nvr-loadgen" --capture "$cap" --cameras "$1" --groups $groups --cert "$DIR/pki/camera.crt" \
		--key "$DIR/pki/camera.key" --user admin --password-file "$DIR/password" --port 0 \
		--port-file "$DIR/lg-$2.port" --stats "$DIR/lg-$2.json" --log-level warning >"$DIR/lg-$2.log" 2>&1 &
	LG_PID=$!
	pids="$pids $LG_PID"
	for _ in $(seq 100); do [ -s "$DIR/lg-$2.port" ] && break; sleep 0.1; done
	LG_PORT=$(cat "$DIR/lg-$2.port")
}

# lg_snap TAG OUT: a loadgen statistics snapshot
lg_snap() {
	local before
	before=$(stat -c %Y.%y "$DIR/lg-$1.json" 2>/dev/null || echo none)
	kill -USR1 "$LG_PID"
	for _ in $(seq 50); do
		[ "$(stat -c %Y.%y "$DIR/lg-$1.json" 2>/dev/null || echo none)" != "$before" ] && break
		sleep 0.02
	done
	cp "$DIR/lg-$1.json" "$2"
}

stop_pid() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# --- nvrd -------------------------------------------------------------------------------
# nvrd_snap OUT: nvrd's statistics now (SIGUSR1; the file is renamed into place)
nvrd_snap() {
	local before
	before=$(stat -c %i "$DIR/nvrd-stats.json" 2>/dev/null || echo none)
	kill -USR1 "$NVRD_PID"
	for _ in $(seq 100); do
		[ "$(stat -c %i "$DIR/nvrd-stats.json" 2>/dev/null || echo none)" != "$before" ] && break
		sleep 0.02
	done
	cp "$DIR/nvrd-stats.json" "$1"
}

# run_nvrd N TAG [SCHEME]: records N loadgen cameras (rtsps:// URLs, or
# https:// for the HTTP tunnel) and prints one result line
run_nvrd() {
	local n=$1 tag=$2 scheme=${3:-rtsps} db=bench_$2 i added s0 s1 l0 l1 base
	start_loadgen "$n" "$tag"
	PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" \
		-c "CREATE DATABASE $db" >/dev/null
	rm -rf "$DIR/storage-$tag" "$DIR/state"
	mkdir -p "$DIR/storage-$tag" "$DIR/state"
	cat >"$DIR/nvrd-$tag.conf" <<EOF
[nvrd]
log_level = notice
secret_file = $DIR/state/secret.key
stats_file = $DIR/nvrd-stats.json
[database]
conninfo = "host=$PGHOST user=nvr dbname=$db"
[signing]
key = $DIR/state/signing.key
certificate = $DIR/state/signing.crt
[web]
listen =
[storage]
root = $DIR/storage-$tag
${NVRD_CONF:-}
EOF
	rm -f "$DIR/nvrd-stats.json"
	# shellcheck disable=SC2086 # NVRD_WRAP is words
	${NVRD_WRAP:-} "$B/nvrd/nvrd" -c "$DIR/nvrd-$tag.conf" >"$DIR/nvrd-$tag.log" 2>&1 &
	NVRD_PID=$!
	pids="$pids $NVRD_PID"
	for _ in $(seq 300); do grep -q "nvrd ready" "$DIR/nvrd-$tag.log" && break; sleep 0.1; done
	base=$(rss_of $NVRD_PID)
	ctl=("$B/nvrd/nvrctl" -c "$DIR/nvrd-$tag.conf")
	"${ctl[@]}" keyholder add bench "$DIR/pki/keyholder.pub.pem" >/dev/null
	for i in $(seq "$n"); do
		"${ctl[@]}" camera add "cam$i" --url "$scheme://127.0.0.1:$LG_PORT/cam$i" --user admin \
			--password-file "$DIR/password" --ca "$DIR/pki/camera-ca.crt" >/dev/null
	done
	for i in $(seq 600); do
		added=$(psql -X -At -d "$db" -c "SELECT count(*) FROM camera_status WHERE state = 'recording'")
		[ "$added" = "$n" ] && break
		sleep 0.2
	done
	[ "$added" = "$n" ] || echo "ingest.sh: only $added of $n cameras recording; see $DIR/nvrd-$tag.log" >&2
	sleep "$WARMUP"
	nvrd_snap "$DIR/nvrd-$tag-0.json"
	lg_snap "$tag" "$DIR/lg-$tag-0.json"
	read -r busy0 total0 < <(machine_busy)
	sleep "$SECONDS_W"
	nvrd_snap "$DIR/nvrd-$tag-1.json"
	lg_snap "$tag" "$DIR/lg-$tag-1.json"
	read -r busy1 total1 < <(machine_busy)
	report_nvrd "$n" "$tag" "$base" "$(( (busy1 - busy0) * 100 / (total1 - total0) ))" \
		"$([ "$scheme" = rtsps ] && echo nvrd || echo "nvrd $scheme")"
	stop_pid "$NVRD_PID"
	stop_pid "$LG_PID"
	"$B/nvrd/nvrctl" verify "$DIR/storage-$tag/$(psql -X -At -d "$db" -c "SELECT id FROM cameras WHERE name = 'cam1'")" \
		>"$DIR/verify-$tag.out" 2>&1 || echo "ingest.sh: nvrctl verify failed for cam1 ($DIR/verify-$tag.out)" >&2
	[ "$KEEP" = 1 ] || rm -rf "$DIR/storage-$tag"
}

# window percentile from the two histograms: P (0..1)
hist_pct() {
	jq -n --slurpfile a "$1" --slurpfile b "$2" --argjson p "$3" '
		([$a[0].ingest.durable_latency_hist[] | {key: (.[0] | tostring), value: .[1]}] | from_entries) as $h0
		| [$b[0].ingest.durable_latency_hist[] | [.[0], .[1] - ($h0[.[0] | tostring] // 0)]
		   | select(.[1] > 0)] as $d
		| ($d | map(.[1]) | add // 0) as $n
		| if $n == 0 then "n/a" else
		  (reduce $d[] as $x ({acc: 0, ms: null};
			if .ms == null and (.acc + $x[1]) >= $p * $n then .ms = $x[0] else . end
			| .acc += $x[1]) | .ms + 1) end'
}

report_nvrd() {
	local n=$1 tag=$2 base=$3 busy=$4 label=$5 a=$DIR/nvrd-$2-0.json b=$DIR/nvrd-$2-1.json
	local cpu bytes secs gb lost rss p50 p99 lgdrop lgcpu lgbytes
	cpu=$(jq -n --slurpfile a "$a" --slurpfile b "$b" '($b[0].cpu_user_s + $b[0].cpu_sys_s) - ($a[0].cpu_user_s + $a[0].cpu_sys_s)')
	bytes=$(jq -n --slurpfile a "$a" --slurpfile b "$b" '$b[0].ingest.bytes - $a[0].ingest.bytes')
	secs=$(jq -n --slurpfile a "$a" --slurpfile b "$b" '$b[0].time - $a[0].time')
	lost=$(jq -n --slurpfile a "$a" --slurpfile b "$b" '[ "lost", "dropped_storage", "forged", "malformed" ]
		| map($b[0].ingest[.] - $a[0].ingest[.]) | add')
	rss=$(jq -r .rss_kib "$b")
	p50=$(hist_pct "$a" "$b" 0.5)
	p99=$(hist_pct "$a" "$b" 0.99)
	lgdrop=$(jq -n --slurpfile a "$DIR/lg-$tag-0.json" --slurpfile b "$DIR/lg-$tag-1.json" \
		'$b[0].totals.packets_dropped - $a[0].totals.packets_dropped')
	lgcpu=$(jq -n --slurpfile a "$DIR/lg-$tag-0.json" --slurpfile b "$DIR/lg-$tag-1.json" \
		'($b[0].generator.cpu_user_s + $b[0].generator.cpu_sys_s) - ($a[0].generator.cpu_user_s + $a[0].generator.cpu_sys_s)')
	lgbytes=$(jq -n --slurpfile a "$DIR/lg-$tag-0.json" --slurpfile b "$DIR/lg-$tag-1.json" \
		'$b[0].totals.bytes_sent - $a[0].totals.bytes_sent')
	awk -v label="$label" -v n="$n" -v cpu="$cpu" -v bytes="$bytes" -v secs="$secs" -v lost="$lost" -v rss="$rss" -v base="$base" \
		-v p50="$p50" -v p99="$p99" -v lgdrop="$lgdrop" -v busy="$busy" -v lgcpu="$lgcpu" -v lgbytes="$lgbytes" 'BEGIN {
		gb = bytes / 1e9
		printf "%-10s %7d %8.1f %7.2f %9.2f %6.2f %10.0f %10.0f %7d %7s %7s %5d%%   loadgen %.2f CPU-s/GB, %d dropped\n",
			label, n, bytes * 8 / secs / 1e6, gb, cpu / gb, cpu / secs, rss / n, (rss - base) / n, lost,
			p50, p99, busy, lgcpu / (lgbytes / 1e9), lgdrop
	}' | tee -a "$DIR/results.txt"
	echo "$n $(awk -v c="$cpu" -v b="$bytes" 'BEGIN { print c / (b / 1e9) }') $(awk -v r="$rss" -v n="$n" 'BEGIN { print r / n }')" \
		>"$DIR/nvrd-$tag.figures"
}

# --- GStreamer's own recorder, same cameras ---------------------------------------------
run_gst() {
	local n=$1 tag=gst$1 i pipe="" pid s0 s1 c0 c1 r a b bytes secs gb lgdrop t0 t1 busy0 busy1 total0 total1
	start_loadgen "$n" "$tag"
	rm -rf "$DIR/gst-$tag"
	mkdir -p "$DIR/gst-$tag"
	for i in $(seq "$n"); do
		pipe="$pipe rtspsrc location=rtsps://127.0.0.1:$LG_PORT/cam$i protocols=tcp user-id=admin user-pw=bench-secret
			latency=200 ! rtph264depay ! h264parse ! splitmuxsink location=$DIR/gst-$tag/cam$i-%05d.mp4
			max-size-time=10000000000"
	done
	# shellcheck disable=SC2086 # the pipeline is words
	env ASAN_OPTIONS=detect_leaks=0 "$B/tests/camsim/nvr-test-play" --ca "$DIR/pki/camera-ca.crt" \
		--timeout $((WARMUP + SECONDS_W + 30)) $pipe >"$DIR/$tag.log" 2>&1 &
	pid=$!
	pids="$pids $pid"
	sleep "$WARMUP"
	lg_snap "$tag" "$DIR/lg-$tag-0.json"
	c0=$(cpu_of $pid)
	t0=$(date +%s.%N)
	read -r busy0 total0 < <(machine_busy)
	sleep "$SECONDS_W"
	lg_snap "$tag" "$DIR/lg-$tag-1.json"
	c1=$(cpu_of $pid)
	t1=$(date +%s.%N)
	read -r busy1 total1 < <(machine_busy)
	r=$(rss_of $pid)
	a=$DIR/lg-$tag-0.json
	b=$DIR/lg-$tag-1.json
	bytes=$(jq -n --slurpfile a "$a" --slurpfile b "$b" '$b[0].totals.bytes_sent - $a[0].totals.bytes_sent')
	lgdrop=$(jq -n --slurpfile a "$a" --slurpfile b "$b" '$b[0].totals.packets_dropped - $a[0].totals.packets_dropped')
	grep -q "^error:" "$DIR/$tag.log" && echo "ingest.sh: GStreamer failed: $(grep '^error:' "$DIR/$tag.log")" >&2
	awk -v n="$n" -v cpu="$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" -v bytes="$bytes" \
		-v secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v rss="$r" -v lgdrop="$lgdrop" \
		-v busy="$(( (busy1 - busy0) * 100 / (total1 - total0) ))" 'BEGIN {
		gb = bytes / 1e9
		printf "%-10s %7d %8.1f %7.2f %9.2f %6.2f %10.0f %10s %7d %7s %7s %5d%%\n",
			"gstreamer", n, bytes * 8 / secs / 1e6, gb, cpu / gb, cpu / secs, rss / n, "-", lgdrop, "-", "-", busy
	}' | tee -a "$DIR/results.txt"
	echo "$n $(awk -v c="$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" -v b="$bytes" 'BEGIN { print c / (b / 1e9) }') $(awk -v r="$r" -v n="$n" 'BEGIN { print r / n }')" \
		>"$DIR/$tag.figures"
	stop_pid "$pid"
	stop_pid "$LG_PID"
	[ "$KEEP" = 1 ] || rm -rf "$DIR/gst-$tag"
}

# tunnel_row N PLAIN: N cameras through the HTTPS tunnel, and the ratio of
# that row to the RTSPS row PLAIN of the same N (same capture and streams)
tunnel_done=0
tunnel_row() {
	local pc pr tc tr
	run_nvrd "$1" "tun$1" https
	read -r _ pc pr <"$DIR/nvrd-$2.figures"
	read -r _ tc tr <"$DIR/nvrd-tun$1.figures"
	say "$(awk -v pc="$pc" -v tc="$tc" -v pr="$pr" -v tr="$tr" -v n="$1" 'BEGIN {
		printf "tunnel (https) / RTSPS at %d streams: %.2fx the CPU per GB, %.2fx the RSS per stream", n, tc / pc, tr / pr }')"
	tunnel_done=1
}

say "bench/ingest.sh: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), ${MBIT} Mbit/s cameras, ${SECONDS_W} s windows after ${WARMUP} s"
[ -s "$DIR/capture.log" ] && say "$(cat "$DIR/capture.log")"
say "$(printf '%-10s %7s %8s %7s %9s %6s %10s %10s %7s %7s %7s %6s' recorder streams Mbit/s GB CPU-s/GB cores 'RSS/str KiB' '+RSS/str' lost 'p50 ms' 'p99 ms' machine)"
if [ "$GST" -gt 0 ]; then
	run_nvrd "$GST" "ref$GST"
	run_gst "$GST"
	read -r _ nc nr <"$DIR/nvrd-ref$GST.figures"
	read -r _ gc gr <"$DIR/gst$GST.figures"
	say "$(awk -v nc="$nc" -v gc="$gc" -v nr="$nr" -v gr="$gr" -v n="$GST" 'BEGIN {
		printf "GStreamer / nvrd at %d streams: %.1fx the CPU per GB, %.1fx the RSS per stream", n, gc / nc, gr / nr }')"
	if [ "$GST" = "$TUNNEL" ]; then tunnel_row "$GST" "ref$GST"; fi
fi
for n in $STREAMS; do
	run_nvrd "$n" "n$n"
	if [ "$n" = "$TUNNEL" ] && [ "$tunnel_done" = 0 ]; then tunnel_row "$n" "n$n"; fi
done
if [ "$TUNNEL" -gt 0 ] && [ "$tunnel_done" = 0 ]; then
	run_nvrd "$TUNNEL" "n$TUNNEL"
	tunnel_row "$TUNNEL" "n$TUNNEL"
fi

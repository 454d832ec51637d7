#!/bin/bash
# export.sh: evidence export and verification throughput, for one hour of
# one 4 Mbit/s camera, beside the physical reference on the same files in
# the same run: sha256sum (reading and hashing them) and tar (reading and
# writing them). The hour is recorded by nvrd from nvr-loadgen at --speed
# times real time (tests/integration/fastcams.sh), so the segments are the
# recorder's own, signed and indexed.
#
#   bench/export.sh [-B BUILD] [--minutes 60] [--kbps 4000] [--speed 40]
#
# Every step runs on a warm page cache (the files are read once first), so
# the figures compare the programs, not the disk. Prints MB/s (10^6 bytes
# of segment files a second) and each as a ratio of sha256sum's; openssl
# dgst is the same hash with OpenSSL's code (SHA extensions where the CPU
# has them), which the export and verify use.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/_build
MIN=60
KBPS=4000
SPEED=40
while [ $# -gt 0 ]; do
	case $1 in
	-B) B=$(cd "$2" && pwd); shift ;;
	--minutes) MIN=$2; shift ;;
	--kbps) KBPS=$2; shift ;;
	--speed) SPEED=$2; shift ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "export.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
export top_srcdir=$top top_builddir=$B
. "$top/tests/lib.sh"
. "$top/tests/integration/fastcams.sh"

"$MAKE_PKI" "$T/pki" >/dev/null || bail_out "make-test-pki.sh failed"
start_pg
start_recorder "segment_duration = 2s"
FASTCAMS_KBPS=$KBPS fastcams_record 1 $((MIN * 60)) "$SPEED" || bail_out "recording failed"
end=${FASTCAMS_END%.*}
from=$(date -u -d "@$((end - MIN * 60 - 60))" +%Y-%m-%dT%H:%M:%SZ)
to=$(date -u -d "@$((end + 60))" +%Y-%m-%dT%H:%M:%SZ)
files=$(find "$T/storage" -path "$T/storage/exports" -prune -o -type f \( -name '*.nvrseg' -o -name '*.manifest.json*' \) -print | sort)
bytes=$(echo "$files" | xargs cat | wc -c)
echo "$files" | xargs cat >/dev/null # warm the page cache

now() { date +%s.%N; }
rate() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f", b / 1e6 / s }'; }
# timed NAME COMMAND...: runs it, prints its seconds and rate
declare -A secs
timed() {
	local name=$1 t0 t1
	shift
	t0=$(now)
	"$@" >"$T/step.out" 2>&1 || { cat "$T/step.out" >&2; bail_out "$name failed"; }
	t1=$(now)
	secs[$name]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}
timed sha256sum sh -c "echo '$files' | xargs sha256sum"
timed "openssl dgst" sh -c "echo '$files' | xargs openssl dgst -sha256"
timed tar sh -c "echo '$files' | tar -cf '$T/ref.tar' --no-recursion -T -"
rm -f "$T/ref.tar"
timed export "${CTL[@]}" export --camera fastcam1 --from "$from" --to "$to" --reason bench --out "$T/b.tar"
cat "$T/b.tar" >/dev/null # the bundle on a warm page cache too
timed "sha256sum bundle" sha256sum "$T/b.tar"
timed verify "$NVRCTL" verify "$T/b.tar"

printf '%s minutes of one %s kbit/s camera: %d segment files, %.1f MB (%s)\n' "$MIN" "$KBPS" \
	"$(echo "$files" | grep -c nvrseg)" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" "$(uname -m), $(nproc) CPUs"
printf '%-28s %8s %8s %10s\n' step seconds MB/s "vs sha256sum"
for n in sha256sum "openssl dgst" tar export "sha256sum bundle" verify; do
	printf '%-28s %8s %8s %10s\n' "$n" "${secs[$n]}" "$(rate "${secs[$n]}")" \
		"$(awk -v a="${secs[$n]}" -v r="${secs[sha256sum]}" 'BEGIN { printf "%.2fx", r / a }')"
done
# The figure an examiner feels: nvrctl verify against sha256sum of the same
# bundle file, both on a warm page cache.
printf 'nvrctl verify takes %s times as long as sha256sum of the same bundle (%.1f MB)\n' \
	"$(awk -v v="${secs[verify]}" -v s="${secs[sha256sum bundle]}" 'BEGIN { printf "%.2f", v / s }')" \
	"$(awk -v b="$(stat -c %s "$T/b.tar")" 'BEGIN { print b / 1e6 }')"

#!/bin/bash
# slowloris.sh: how long an admitted client waits for GET /api/v1/health
# (new connection, TLS, Digest) while 1,000 slow or idle connections press
# on nvrd's API, against the same probes without them in the same run
# (bench/slowloris.py says what the 1,000 do).
#
#   bench/slowloris.sh [-B BUILD] [slowloris.py options, e.g. --probes 500]
#
# With the defaults ([web] threads = 256, connections_per_address = 32),
# admitted attacker addresses can hold at most 32 threads each: the
# default mix (4 + 2 admitted addresses) holds 192 of 256. More admitted
# addresses than threads / connections_per_address fill every thread, and
# then a client waits up to the 5 s request timeout (docs/CONFIG.md).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/_build
if [ "${1:-}" = -B ]; then B=$(cd "$2" && pwd); shift 2; fi
case "${1:-}" in -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
export top_srcdir=$top top_builddir=$B
. "$top/tests/lib.sh"
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || echo "slowloris.sh: cannot raise the open files limit; figures may show the limit" >&2

"$MAKE_PKI" "$T/pki" >/dev/null || bail_out "make-test-pki.sh failed"
start_pg
NVR_WEB_LISTEN="127.0.0.1:0" NVR_WEB_CONF="allow = 127.0.0.0/9" start_recorder
P=$(sed -n 's/.*HTTPS API listening on 127.0.0.1 port \([0-9]*\)$/\1/p' "$T/nvrd.log" | head -n 1)
[ -n "$P" ] || bail_out "nvrd did not log its API port"
printf 'Probe-Pass-42!\n' >"$T/pw"
"${CTL[@]}" user add bench --role viewer --cameras all --password-file "$T/pw" >"$T/ctl.out" 2>&1 || bail_out "cannot add the user: $(cat "$T/ctl.out")"
python3 "$top/bench/slowloris.py" --ca "$T/state/tls.crt" --port "$P" --user bench --password 'Probe-Pass-42!' "$@"
echo "($(uname -m), $(nproc) CPUs; nvrd and the load on the same machine)"

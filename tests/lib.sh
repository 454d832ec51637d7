# tests/lib.sh: helpers for the integration tests (bash, TAP output).
#
# A test sources this, calls `plan N`, then uses ok/is/like/unlike. Every
# test gets its own temporary folder ($T) and everything it starts is
# stopped and removed on exit, pass or fail; nothing outside $T is touched.
# Set NVR_TEST_KEEP=1 to keep $T for a post-mortem.

set -u

: "${top_srcdir:?run through make check}"
: "${top_builddir:?run through make check}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)

NVRD=$top_builddir/nvrd/nvrd
NVRCTL=$top_builddir/nvrd/nvrctl
MITM=$top_builddir/tests/ingest/nvr-test-mitm

NVR_PG=$top_srcdir/contrib/nvr-pg.sh
MAKE_PKI=$top_srcdir/contrib/make-test-pki.sh

# The date checks (make check-dates) run a test with a fake clock:
# NVR_FAKE_TIME ("YYYY-MM-DD HH:MM:SS", UTC) is the time every process the
# test starts (PostgreSQL, the cameras, nvrd, nvrctl, openssl, date ...)
# sees at the moment the test begins, advancing at the real rate from
# there. libfaketime (Debian package faketime) shifts the wall clock by
# one offset, the same for all of them, so that their clocks agree.
if [ -n "${NVR_FAKE_TIME:-}" ]; then
	_faketime_lib=$(dpkg -L libfaketime 2>/dev/null | grep -m1 '/libfaketimeMT\.so\.1$')
	if [ -z "$_faketime_lib" ]; then
		[ "${NVR_TEST_STRICT:-0}" = 1 ] && {
			echo "Bail out! libfaketime is missing (Debian package faketime), although contrib/setup-debian.sh installs it"
			exit 1
		}
		echo "1..0 # SKIP a fake clock needs libfaketime (Debian package faketime; contrib/setup-debian.sh installs it)"
		exit 0
	fi
	_fake_s=$(date -u -d "$NVR_FAKE_TIME" +%s) || { echo "Bail out! NVR_FAKE_TIME='$NVR_FAKE_TIME' is no date"; exit 1; }
	FAKETIME=$(printf '%+d' $((_fake_s - $(date -u +%s))))
	LD_PRELOAD=$_faketime_lib${LD_PRELOAD:+:$LD_PRELOAD}
	# The monotonic clock: GStreamer sleeps until absolute
	# CLOCK_MONOTONIC times, which libfaketime (0.9.10) does not convert
	# back when it fakes that clock, so it is left real for everything
	# (a process's monotonic clock means nothing to another). But with
	# it real, libfaketime returns at once from a wait on a condition
	# variable of CLOCK_MONOTONIC, and nvrd, whose threads wait so,
	# would spin: nvrd runs with it faked, by the same offset, which
	# only moves its origin ($T/nvrd-faketime, below).
	FAKETIME_DONT_FAKE_MONOTONIC=1
	# ASan wants its runtime first; libfaketime only wraps time calls
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
	# libfaketime (0.9.10) gives each process started without
	# FAKETIME_SHARED a segment in /dev/shm, never removed, and one made
	# by root (mode 0600) keeps PostgreSQL, run as nobody, from starting.
	# So the test makes one that all its processes share, opens it to
	# that user, and removes it at exit (_cleanup).
	FAKETIME_SHARED=$(FAKETIME=+0 LD_PRELOAD=$_faketime_lib sh -c 'echo "${FAKETIME_SHARED:-}"')
	read -r _ft_sem _ft_shm <<<"$FAKETIME_SHARED"
	if [ -n "${_ft_shm:-}" ]; then
		_ft_files="/dev/shm/sem.${_ft_sem#/} /dev/shm/${_ft_shm#/}"
		chmod 0666 $_ft_files
		export FAKETIME_SHARED
	fi
	export FAKETIME LD_PRELOAD FAKETIME_DONT_FAKE_MONOTONIC ASAN_OPTIONS
	echo "# fake clock: $(date -u '+%Y-%m-%d %H:%M:%S UTC') (TZ=${TZ:-unset}: $(date '+%Y-%m-%d %H:%M:%S %z'))"
fi

# The GStreamer-based tools (the simulator, GStreamer's client, the key
# holder's decrypt tool) run under ASan (--enable-sanitizers) without
# leak detection: GLib and GStreamer keep type registrations, caches and
# thread pools for the life of the process, built without frame pointers,
# so LeakSanitizer cannot tell them from leaks. nvrd and the unit tests
# keep leak detection on. Under a fake clock, ASan must also accept
# libfaketime loaded before it (above).
# `env` execs the tool, so a background job's pid is the tool's own.
NO_LEAKS=(env "ASAN_OPTIONS=detect_leaks=0${FAKETIME:+:verify_asan_link_order=0}")
CAMSIM=("${NO_LEAKS[@]}" "$top_builddir/contrib/camsim/nvr-camsim")
PLAY=("${NO_LEAKS[@]}" "$top_builddir/tests/camsim/nvr-test-play")
DECRYPT=("${NO_LEAKS[@]}" "$top_builddir/tests/ingest/nvr-test-decrypt")

T=$(mktemp -d "${TMPDIR:-/tmp}/nvr-test.XXXXXX")
# Traversable, not listable: the private PostgreSQL runs as another user
# when the tests run as root (contrib/nvr-pg.sh).
chmod 0711 "$T"
if [ -n "${FAKETIME:-}" ]; then
	printf '#!/bin/sh\nunset FAKETIME_DONT_FAKE_MONOTONIC\nexec "%s" "$@"\n' "$NVRD" >"$T/nvrd-faketime"
	chmod 0755 "$T/nvrd-faketime"
	NVRD=$T/nvrd-faketime
fi
_tap_n=0
_tap_failed=0
_bg_pids=""
_pg_dirs=""

plan() {
	_tap_plan=$1
	echo "1..$1"
}

# need COMMAND PACKAGE: the test cannot run without COMMAND, from Debian's
# PACKAGE. Call it before plan. Where COMMAND is missing, the test is
# skipped and says what to install; under contrib/test.sh, which has just
# installed every package (contrib/setup-debian.sh) and sets
# NVR_TEST_STRICT=1, a missing command means a broken set-up, and fails.
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	_unmet "$1 is missing (Debian package $2), although contrib/setup-debian.sh installs it" \
		"$1 is not installed (Debian package $2; contrib/setup-debian.sh installs it)"
}

# need_root WHY: the test must run as root (CI does), for WHY.
need_root() {
	[ "$(id -u)" = 0 ] && return 0
	_unmet "not root, but contrib/test.sh runs as root: $1 needs it" "not run as root, which $1 needs"
}

# _unmet STRICT-MESSAGE SKIP-REASON
_unmet() {
	[ "${NVR_TEST_STRICT:-0}" = 1 ] && bail_out "$1"
	echo "1..0 # SKIP $2"
	exit 0
}

# skip_rest REASON: the checks left in the plan cannot be made on this
# machine (for a reason outside the project, which REASON gives): each is
# reported skipped with it, and the test ends.
skip_rest() {
	while [ "$_tap_n" -lt "${_tap_plan:-0}" ]; do
		_tap_n=$((_tap_n + 1))
		echo "ok $_tap_n # SKIP $1"
	done
	exit 0
}
diag() { printf '# %s\n' "$*" | sed '2,$s/^/# /'; }

_result() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
		_recorder_alive
	fi
}

# ok "description" command...: passes when the command exits 0.
ok() {
	local d=$1
	shift
	if "$@"; then _result 0 "$d"; else _result 1 "$d"; fi
}

# is ACTUAL EXPECTED "description"
is() {
	if [ "$1" = "$2" ]; then
		_result 0 "$3"
	else
		_result 1 "$3"
		diag "expected: '$2'" "got: '$1'"
	fi
}

# like FILE-OR-TEXT REGEX "description": grep -E on a file, or on text.
like() {
	if { [ -f "$1" ] && grep -Eq -- "$2" "$1"; } || { [ ! -f "$1" ] && printf '%s' "$1" | grep -Eq -- "$2"; }; then
		_result 0 "$3"
	else
		_result 1 "$3"
		diag "no match for /$2/ in:"
		# a file without a final newline must not glue the next TAP line to it
		if [ -f "$1" ]; then tail -n 30 "$1" | sed 's/^/# /'; [ -z "$(tail -c 1 "$1")" ] || echo; else printf '%s\n' "$1" | tail -n 30 | sed 's/^/# /'; fi
	fi
}

unlike() {
	if { [ -f "$1" ] && grep -Eq -- "$2" "$1"; } || { [ ! -f "$1" ] && printf '%s' "$1" | grep -Eq -- "$2"; }; then
		_result 1 "$3"
		diag "unexpected match for /$2/"
	else
		_result 0 "$3"
	fi
}

bail_out() {
	echo "Bail out! $*"
	_tap_failed=$((_tap_failed + 1)) # so that the logs are shown
	exit 1
}

# bg NAME command...: starts a process in the background, output to
# $T/NAME.log; sets BG_PID. Stopped at exit if still running.
bg() {
	local name=$1
	shift
	"$@" >"$T/$name.log" 2>&1 &
	BG_PID=$!
	_bg_pids="$_bg_pids $BG_PID"
}

# wait_for FILE REGEX SECONDS: polls until the file matches.
wait_for() {
	local i=0 max=$(($3 * 10))
	while [ $i -lt $max ]; do
		[ -f "$1" ] && grep -Eq -- "$2" "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# running PID: true while PID is a background child of this test that has
# not ended. Only those are ever signalled: a PID that has ended may
# already belong to a process of another test running beside this one
# (PIDs are reused, quickly on a busy machine), and bash's job table,
# unlike `kill -0`, cannot mistake that process for ours.
running() {
	local p
	for p in $(jobs -rp) $(jobs -sp); do [ "$p" = "$1" ] && return 0; done
	return 1
}

# signal SIG PID...: sends SIG (TERM, KILL, HUP ...) to each PID that is a
# running child of this test, and to nothing else.
signal() {
	local sig=$1 p
	shift
	for p in "$@"; do running "$p" && kill -"$sig" "$p"; done
	return 0
}

# wait_exit PID SECONDS: waits for a background child to end and sets
# EXIT_STATUS to its status, or to "timeout" (leaving it running). Not for
# use inside $(...): a subshell cannot wait for its parent's children.
wait_exit() {
	local i=0 max=$(($2 * 20))
	EXIT_STATUS=timeout
	[ "$1" = "${_nvrd_watch%%:*}" ] && _nvrd_watch=
	while running "$1"; do
		[ $i -ge $max ] && return
		sleep 0.05
		i=$((i + 1))
	done
	wait "$1"
	EXIT_STATUS=$?
}

# start_pg NAME: a private PostgreSQL in $T/NAME; sets PGHOST.
start_pg() {
	local d=$T/${1:-db}
	if ! command -v psql >/dev/null || ! ls ${PG_BINDIR:-/usr/lib/postgresql/*/bin}/initdb >/dev/null 2>&1; then
		[ "${NVR_TEST_STRICT:-0}" = 1 ] &&
			bail_out "PostgreSQL is missing (Debian package postgresql-15), although contrib/setup-debian.sh installs it"
		skip_rest "PostgreSQL is not installed (Debian package postgresql-15; contrib/setup-debian.sh installs it)"
	fi
	mkdir -p "$d"
	_pg_dirs="$_pg_dirs $d"
	PGHOST=$("$NVR_PG" start "$d" --fast) || bail_out "cannot start PostgreSQL"
	export PGHOST PGUSER=nvr
}

stop_pg() { "$NVR_PG" stop "$T/${1:-db}"; }

psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "${PGDATABASE:-postgres}" -c "$1"; }

# start_camsim NAME ARGS...: nvr-camsim on a free port; sets CAMSIM_PORT.
start_camsim() {
	local name=$1
	shift
	rm -f "$T/$name.port"
	bg "$name" "${CAMSIM[@]}" --port 0 --port-file "$T/$name.port" "$@"
	local i=0
	while [ ! -s "$T/$name.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$T/$name.port" ] || { cat "$T/$name.log" >&2; bail_out "nvr-camsim $name did not start"; }
	CAMSIM_PORT=$(cat "$T/$name.port")
}

# start_recorder [EXTRA CONFIG LINES]: nvrd on the private database, with
# the test PKI's signing key, its storage under $T/storage; sets NVRD_PID
# and CTL (nvrctl with this configuration). Needs start_pg and $T/pki.
# The extra lines go into [storage]. No HTTPS API unless NVR_WEB_LISTEN is
# set; NVR_WEB_CONF adds lines to [web].
start_recorder() {
	mkdir -p "$T/storage" "$T/state"
	cat >"$T/nvrd.conf" <<EOF
[nvrd]
log_level = info
secret_file = $T/state/secret.key
stats_file = $T/stats.json
[database]
conninfo = "host=$PGHOST user=nvr dbname=postgres"
[signing]
key = $T/pki/recorder-signing.key
certificate = $T/pki/recorder-signing.crt
[ingest]
timeout = 5s
reconnect_max = 4s
[web]
listen = ${NVR_WEB_LISTEN:-}
tls_certificate = $T/state/tls.crt
tls_key = $T/state/tls.key
${NVR_WEB_CONF:-}
[storage]
root = $T/storage
${1:-}
EOF
	bg nvrd "$NVRD" -c "$T/nvrd.conf"
	NVRD_PID=$BG_PID
	CTL=("$NVRCTL" -c "$T/nvrd.conf")
	wait_for "$T/nvrd.log" "nvrd ready" 30 || bail_out "nvrd did not start"
	watch_recorder "$NVRD_PID" "$T/nvrd.log"
}

# watch_recorder PID LOG: from now on, a failing check while this nvrd has
# died without being told to stop ends the test with one message saying
# so (its status, who signalled it), instead of every later check failing
# for the same reason. start_recorder calls it; stop_recorder and
# wait_exit on PID end it.
watch_recorder() { _nvrd_watch=$1:$2; }

# stop_recorder [SIGNAL [SECONDS]]: signals $NVRD_PID (TERM) and waits for
# it (30 s); sets EXIT_STATUS as wait_exit does.
stop_recorder() {
	_nvrd_watch=
	signal "${1:-TERM}" "$NVRD_PID"
	wait_exit "$NVRD_PID" "${2:-30}"
}

_nvrd_watch=
_recorder_alive() {
	local pid=${_nvrd_watch%%:*} log=${_nvrd_watch#*:} st why
	[ -n "$pid" ] && ! running "$pid" || return 0
	_nvrd_watch=
	wait "$pid" 2>/dev/null
	st=$?
	[ $st -gt 128 ] && st="$st (signal $(kill -l $((st - 128)) 2>/dev/null))"
	# the stop signal's sender, as nvrd logged it, or its last line
	why=$(grep -E 'received from pid|] error: ' "$log" 2>/dev/null | tail -n 1)
	bail_out "nvrd (pid $pid) ended while the test still needed it, with status $st: ${why:-$(tail -n 1 "$log")}"
}

# camera_state NAME: its state as nvrd last reported it.
camera_state() {
	psql_q "SELECT s.state FROM camera_status s JOIN cameras c ON c.id = s.camera_id WHERE c.name = '$1' AND c.removed_at IS NULL"
}

# wait_state NAME STATE SECONDS
wait_state() {
	local i=0
	while [ $i -lt $(($3 * 5)) ]; do
		[ "$(camera_state "$1")" = "$2" ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	diag "camera $1 is '$(camera_state "$1")', not '$2'"
	return 1
}

# camera_counter NAME COLUMN: packets, forged, replayed, lost, reconnects
camera_counter() {
	psql_q "SELECT s.$2 FROM camera_status s JOIN cameras c ON c.id = s.camera_id WHERE c.name = '$1' AND c.removed_at IS NULL"
}

# manifest_field FILE KEY: a field of a manifest (one per line, as written)
manifest_field() {
	sed -n "s/^  \"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$1"
}

# camera_segments NAME: its segment files, in sequence order
camera_segments() {
	local id m
	id=$(psql_q "SELECT id FROM cameras WHERE name = '$1' AND removed_at IS NULL")
	for m in $(find "$T/storage/$id" -name '*.manifest.json' 2>/dev/null); do
		echo "$(manifest_field "$m" seq) ${m%.manifest.json}.nvrseg"
	done | sort -n | awk '{print $2}'
}

_cleanup() {
	local p d
	# Only children still running (see running()): a PID of ours that
	# ended may be another test's nvrd by now.
	for p in $_bg_pids; do signal TERM "$p" 2>/dev/null; done
	for p in $_bg_pids; do
		local i=0
		while running "$p" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		signal KILL "$p" 2>/dev/null
	done
	for d in $_pg_dirs; do "$NVR_PG" stop "$d" >/dev/null 2>&1; done
	# Daemons built with sanitizers report to their logs, not to the test:
	# a finding there fails the test.
	if grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*.log >"$T/sanitizer.found" 2>/dev/null; then
		echo "Bail out! sanitizer finding in $(tr '\n' ' ' <"$T/sanitizer.found")"
		_tap_failed=$((_tap_failed + 1))
	fi
	if [ $_tap_failed -gt 0 ]; then
		for f in "$T"/*.log "$T"/*/pg/postgres.log; do
			[ -f "$f" ] || continue
			echo "# --- last lines of $f"
			tail -n 40 "$f" | sed 's/^/#   /'
		done
	fi
	[ -z "${_ft_files:-}" ] || rm -f $_ft_files
	if [ "${NVR_TEST_KEEP:-0}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

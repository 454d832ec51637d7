#!/bin/sh
# quickstart.sh: try the NVR on this machine in one command.
#
# Does the set-up and build of contrib/test.sh (without running the tests),
# then starts, all under one state folder (default: _quickstart/):
#   - a private PostgreSQL (its own data folder, Unix socket only),
#   - nvr-camsim with 4 simulated cameras over RTSPS, SRTP and Digest,
#   - nvrd, configured for both,
# makes a demo key holder (its private key stays in the state folder) and
# adds the cameras, so that nvrd records them at once, and prints what runs
# where and what to try next. Ctrl-C stops all of it.
# Run it again to resume with the same state; remove the folder to start over.
#
# Environment: NVR_QUICKSTART_DIR (state folder), NVR_CAMERAS (default 4),
# NVR_CAMSIM_PORT (default 8554).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
state=${NVR_QUICKSTART_DIR:-$top/_quickstart}
cameras=${NVR_CAMERAS:-4}
port=${NVR_CAMSIM_PORT:-8554}
build=$top/_build
JOBS=$(nproc 2>/dev/null || echo 2)
pids=""

say() { printf '%s\n' "quickstart: $*"; }
die() { say "$*" >&2; exit 1; }

# --- set up and build --------------------------------------------------------
cd "$top"
if [ "$(id -u)" = 0 ]; then
	contrib/setup-debian.sh >/dev/null || die "setting up the machine failed; run contrib/setup-debian.sh to see why"
else
	contrib/setup-debian.sh >/dev/null 2>&1 || die "packages are missing; run once as root: sudo contrib/setup-debian.sh"
fi
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null
mkdir -p "$build"
if [ ! -f "$build/config.status" ]; then
	(cd "$build" && "$top/configure" >configure.out 2>&1) || die "configure failed; see $build/configure.out"
fi
say "building in $build ..."
make -C "$build" -j"$JOBS" all tests/camsim/nvr-test-play >"$build/make.out" 2>&1 ||
	die "build failed; see $build/make.out"

# --- state: keys, passwords, database ------------------------------------------
mkdir -p "$state"
chmod 0711 "$state"
contrib/make-test-pki.sh "$state/pki" >/dev/null
if [ ! -s "$state/camera-password" ]; then
	(umask 077 && openssl rand -base64 18 | tr -d '/+=' | cut -c1-16 >"$state/camera-password")
fi

# nvrd does not run as root: when we are root, it runs as nobody, like the
# private PostgreSQL (contrib/nvr-pg.sh).
run_as=""
if [ "$(id -u)" = 0 ]; then
	run_as="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups --inh-caps=-all --"
fi
mkdir -p "$state/storage" "$state/nvrd"
[ -z "$run_as" ] || chown nobody "$state/storage" "$state/nvrd"

sock=$(contrib/nvr-pg.sh start "$state")
if [ "$(psql -X -At -h "$sock" -U nvr -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'nvr'")" != 1 ]; then
	psql -X -q -h "$sock" -U nvr -d postgres -c "CREATE DATABASE nvr" || die "cannot create the database"
fi

cat >"$state/nvrd.conf" <<EOF
# Written by contrib/quickstart.sh; every key is in docs/CONFIG.md.
[nvrd]
log_level = info
secret_file = $state/nvrd/secret.key
stats_file = $state/nvrd/stats.json
[database]
conninfo = "host=$sock user=nvr dbname=nvr"
[signing]
key = $state/nvrd/signing.key
certificate = $state/nvrd/signing.crt
[web]
listen = 127.0.0.1:${NVR_API_PORT:-8443}
tls_certificate = $state/nvrd/tls.crt
tls_key = $state/nvrd/tls.key
[storage]
root = $state/storage
EOF
ctl() { "$build/nvrd/nvrctl" -c "$state/nvrd.conf" "$@"; }

# --- start everything; stop everything on Ctrl-C ---------------------------------
stop_all() {
	trap - INT TERM EXIT
	echo
	say "stopping ..."
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	contrib/nvr-pg.sh stop "$state" || true
	say "stopped; state kept in $state (remove it to start over)"
	exit 0
}
trap stop_all INT TERM EXIT

"$build/contrib/camsim/nvr-camsim" --port "$port" --cameras "$cameras" \
	--cert "$state/pki/camera.crt" --key "$state/pki/camera.key" \
	--user camera --password-file "$state/camera-password" >"$state/camsim.log" 2>&1 &
pids="$pids $!"

$run_as "$build/nvrd/nvrd" -c "$state/nvrd.conf" >"$state/nvrd.log" 2>&1 &
pids="$pids $!"

i=0
until grep -q "nvrd ready" "$state/nvrd.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 300 ] || { tail -n 20 "$state/nvrd.log"; die "nvrd did not become ready"; }
	grep -q "nvrd stopped" "$state/nvrd.log" 2>/dev/null && { tail -n 20 "$state/nvrd.log"; die "nvrd stopped"; }
	sleep 0.1
done
grep -q "serving" "$state/camsim.log" || { sleep 1; grep -q "serving" "$state/camsim.log" ||
	{ cat "$state/camsim.log"; die "the camera simulator did not start (port $port in use? set NVR_CAMSIM_PORT)"; }; }

# The demo key holder: on a real system its key pair is made on the key
# holder's own machine and only the public key comes here.
if [ ! -s "$state/keyholder/demo.key" ]; then
	mkdir -p "$state/keyholder"
	ctl keyholder new demo --out "$state/keyholder" >/dev/null || die "cannot make the demo key holder"
fi
ctl keyholder list | grep -q "^demo " || ctl keyholder add demo "$state/keyholder/demo.pub.pem" >/dev/null ||
	die "cannot register the demo key holder"
i=1
while [ $i -le "$cameras" ]; do
	ctl camera show "cam$i" >/dev/null 2>&1 ||
		ctl camera add "cam$i" --url "rtsps://127.0.0.1:$port/cam$i" --user camera \
			--password-file "$state/camera-password" --ca "$state/pki/camera-ca.crt" >/dev/null ||
		die "cannot add camera cam$i"
	i=$((i + 1))
done
sleep 3

cat <<EOF

The NVR is running and recording. State and logs are in $state/.

  PostgreSQL  private instance, socket $sock (no TCP port)
              psql -h $sock -U nvr nvr
  cameras     rtsps://127.0.0.1:$port/cam1 .. /cam$cameras
              user 'camera', password in $state/camera-password,
              certificate signed by the test camera CA $state/pki/camera-ca.crt
  nvrd        configuration $state/nvrd.conf, log $state/nvrd.log,
              recordings in $state/storage (still encrypted, signed)
  HTTPS API   https://127.0.0.1:${NVR_API_PORT:-8443}/api/v1/health (self-signed certificate:
              $state/nvrd/tls.crt); no account exists until you make one:
              nvrctl user add admin --role admin
  key holder  'demo': its private key is $state/keyholder/demo.key;
              every session key is sealed to it, and nothing else can
              open the recordings

$(ctl camera list)

Try (nvrctl is $build/nvrd/nvrctl -c $state/nvrd.conf):
  - the cameras' states:           nvrctl camera list
  - check every recording offline: nvrctl verify $state/storage
  - watch a camera with GStreamer's own client, trusting the test CA:
      $build/tests/camsim/nvr-test-play --ca $state/pki/camera-ca.crt \\
        rtspsrc location=rtsps://127.0.0.1:$port/cam1 user-id=camera \\
        user-pw="\$(cat $state/camera-password)" \\
        ! rtph264depay ! h264parse ! avdec_h264 ! identity eos-after=100 ! fakesink
  - the API, after user add:       curl --digest -u admin --cacert $state/nvrd/tls.crt \\
                                     https://localhost:${NVR_API_PORT:-8443}/api/v1/cameras
  - recording statistics:          cat $state/nvrd/stats.json
  - follow the logs:               tail -f $state/nvrd.log $state/camsim.log

Press Ctrl-C to stop everything.
EOF

# Wait for Ctrl-C, or for a process to die on its own.
while :; do
	for p in $pids; do
		# A child that exited stays a zombie until waited for: "Z" is dead too.
		if ! kill -0 "$p" 2>/dev/null || [ "$(ps -o stat= -p "$p" 2>/dev/null | cut -c1)" = Z ]; then
			say "a process stopped on its own; last lines of the logs:"
			tail -n 5 "$state/nvrd.log" "$state/camsim.log"
			stop_all
		fi
	done
	sleep 1
done

# tests/integration/fastcams.sh: minutes of recordings in seconds, for
# tests that need them (exports, listings, retention over long spans).
# Source it after tests/lib.sh.
#
# fastcams_record N D X
#   Records D seconds of camera time from N simulated RTSPS/SRTP cameras
#   (Digest, MIKEY, ONVIF times), sent X times faster than real time, and
#   returns once nvrd has closed, signed and indexed every segment of them.
#   The cameras' ONVIF times cover about [end - D, end), where end is the
#   wall time their last packet left: the recording looks like "the last D
#   seconds" of N real cameras. It takes about D/X seconds plus the
#   recorder's connect and close latency (a second or two).
#
#   Needs: start_pg, $T/pki from make-test-pki.sh, start_recorder (nvrd
#   running; CTL set). Registers key holder "fastcams" if none is. Segments
#   are cut by wall time, so each holds segment_duration * X seconds of
#   camera time: pass e.g. "segment_duration = 2s" to start_recorder.
#
#   Environment (optional): FASTCAMS_KBPS, the cameras' bit rate in kbit/s
#   (default 1000, read when the capture is made); FASTCAMS_PREFIX, the camera names' prefix
#   (default "fastcam": fastcam1 .. fastcamN); FASTCAMS_TIMEOUT, seconds to
#   wait for the index after the cameras ended (default 30).
#
#   Sets: FASTCAMS_NAMES (the camera names), FASTCAMS_SEND_S (wall seconds
#   from adding the cameras to the end of the last one's stream),
#   FASTCAMS_END (Unix time, with fractions, at which they all ended),
#   LOADGEN_PID, LOADGEN_STATS (its JSON statistics, written on SIGUSR1).
#   Returns non-zero, with a diag line, if a step fails or times out.
#
# The capture replayed is ~4 s of nvr-camsim at 1 Mbit/s (snow: the encoder
# cannot compress it below its bit rate), 25 fps, GOP 25,
# made once per test into $T (fastcams_capture); nvr-loadgen loops it with
# seamless sequence numbers and RTP times.

# nvr-loadgen and nvr-bench-capture use libgstsdp/GStreamer: see CAMSIM in
# lib.sh for why leak detection is off for them.
LOADGEN=("${NO_LEAKS[@]}" "$top_builddir/bench/nvr-loadgen")
BENCH_CAPTURE=("${NO_LEAKS[@]}" "$top_builddir/bench/nvr-bench-capture")

# fastcams_capture: $T/fastcams.nvrcap, if not there yet.
fastcams_capture() {
	local saved_port=${CAMSIM_PORT:-}
	[ -s "$T/fastcams.nvrcap" ] && return 0
	start_camsim fastcams-camsim --plain --bitrate "${FASTCAMS_KBPS:-1000}" --gop 25 --fps 25 --pattern snow
	local pid=$BG_PID
	"${BENCH_CAPTURE[@]}" --url "rtsp://127.0.0.1:$CAMSIM_PORT/cam1" --output "$T/fastcams.nvrcap" \
		--duration 4 >"$T/fastcams-capture.log" 2>&1
	local rc=$?
	signal TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	CAMSIM_PORT=$saved_port
	[ $rc = 0 ] && [ -s "$T/fastcams.nvrcap" ] || { diag "nvr-bench-capture failed"; return 1; }
}

# _fastcams_settled NAME: the camera's stream ended and every segment file
# of it has its manifest and its index row. A segment file exists from its
# first packet on, long before the camera ends, so "as many manifests and
# rows as files" cannot be met by a segment still being written.
_fastcams_settled() {
	local id files manifests rows
	[ "$(camera_state "$1")" != recording ] || return 1
	id=$(psql_q "SELECT id FROM cameras WHERE name = '$1' AND removed_at IS NULL")
	files=$(find "$T/storage/$id" -name '*.nvrseg' 2>/dev/null | wc -l)
	manifests=$(find "$T/storage/$id" -name '*.manifest.json' 2>/dev/null | wc -l)
	rows=$(psql_q "SELECT count(*) FROM segments s JOIN streams st ON st.id = s.stream_id
		WHERE st.camera_id = '$id'")
	[ "$files" -gt 0 ] && [ "$files" = "$manifests" ] && [ "$rows" = "$files" ]
}

fastcams_record() {
	local n=$1 d=$2 x=$3 prefix=${FASTCAMS_PREFIX:-fastcam} i t0 ended=0 left
	fastcams_capture || return 1
	[ -f "$T/fastcams.password" ] || printf 'Fast-Cams-7c1e!\n' >"$T/fastcams.password"
	rm -f "$T/fastcams.port"
	LOADGEN_STATS=$T/fastcams-stats.json
	# One SRTP group per camera: each camera's clock starts at its own PLAY.
	bg fastcams-loadgen "${LOADGEN[@]}" --capture "$T/fastcams.nvrcap" --cameras "$n" --groups "$n" \
		--speed "$x" --duration "$d" --cert "$T/pki/camera.crt" --key "$T/pki/camera.key" \
		--user admin --password-file "$T/fastcams.password" --port 0 --port-file "$T/fastcams.port" \
		--stats "$LOADGEN_STATS"
	LOADGEN_PID=$BG_PID
	wait_for "$T/fastcams.port" . 10 || { diag "nvr-loadgen did not start"; return 1; }
	if [ "$(psql_q "SELECT count(*) FROM key_holders WHERE removed_at IS NULL")" = 0 ]; then
		"${CTL[@]}" keyholder add fastcams "$T/pki/keyholder.pub.pem" >>"$T/fastcams-ctl.log" 2>&1 ||
			{ diag "nvrctl keyholder add failed"; return 1; }
	fi
	FASTCAMS_NAMES=
	t0=$(date +%s.%N)
	for i in $(seq "$n"); do
		"${CTL[@]}" camera add "$prefix$i" --url "rtsps://127.0.0.1:$(cat "$T/fastcams.port")/cam$i" \
			--user admin --password-file "$T/fastcams.password" --ca "$T/pki/camera-ca.crt" \
			>>"$T/fastcams-ctl.log" 2>&1 || { diag "nvrctl camera add $prefix$i failed"; return 1; }
		FASTCAMS_NAMES="${FASTCAMS_NAMES:+$FASTCAMS_NAMES }$prefix$i"
	done
	# Each camera ends D/X seconds after nvrd's PLAY; allow for connecting.
	left=$(awk -v d="$d" -v x="$x" 'BEGIN { printf "%d", (d / x + 20) * 10 }')
	while [ "$left" -gt 0 ]; do
		ended=$(grep -c "s of camera time sent; ending" "$T/fastcams-loadgen.log")
		[ "$ended" -ge "$n" ] && break
		sleep 0.1
		left=$((left - 1))
	done
	FASTCAMS_END=$(date +%s.%N)
	FASTCAMS_SEND_S=$(awk -v a="$t0" -v b="$FASTCAMS_END" 'BEGIN { printf "%.2f", b - a }')
	[ "$ended" -ge "$n" ] || { diag "only $ended of $n cameras ended their stream"; return 1; }
	left=$((${FASTCAMS_TIMEOUT:-30} * 10))
	for i in $FASTCAMS_NAMES; do
		while ! _fastcams_settled "$i"; do
			[ "$left" -gt 0 ] || { diag "$i: segments not all closed and indexed"; return 1; }
			sleep 0.1
			left=$((left - 1))
		done
	done
}

#!/bin/sh
# test.sh: from a fresh Debian 12 machine to a full test run, in one command.
#
#   1. installs what is missing (contrib/setup-debian.sh; needs root once)
#   2. builds with gcc and -Werror; make distcheck builds the release
#      tarball the same way and runs every test there (the suite's one gcc
#      run), installs and uninstalls it
#   3. the date-sensitive tests again under fake dates and a far time zone
#      (make check-dates, tests/check-dates.sh)
#   4. builds with AddressSanitizer + UndefinedBehaviorSanitizer, runs every
#      test again
#   5. make lint (clang-tidy, cppcheck)
#   6. builds the fuzz targets with clang/libFuzzer, runs each for
#      FUZZ_SECONDS (default 50), two at a time
# With SKIP containing distcheck, step 2 runs the tests in _build instead.
# The whole run stays under 30 minutes on 2 cores.
#
# Exits non-zero as soon as a step fails, after printing the failing tests'
# logs. Idempotent: build folders (_build, _build-asan, _build-fuzz) are
# reused, so a second run only rebuilds what changed.
#
# Environment: JOBS (default: number of CPUs), FUZZ_SECONDS, SKIP="dates asan
# fuzz distcheck lint" to leave steps out while developing (CI never sets it).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
FUZZ_SECONDS=${FUZZ_SECONDS:-50}
SKIP=${SKIP:-}
# Everything the tests need has just been installed (setup-debian.sh): a
# test that finds a tool missing fails instead of skipping (tests/lib.sh).
NVR_TEST_STRICT=1
export NVR_TEST_STRICT
t_start=$(date +%s)
summary=""

step() {
	step_name=$1
	step_t0=$(date +%s)
	printf '\n==> %s\n' "$1"
}

step_done() {
	summary="$summary$(printf '  %-52s %4ss' "$step_name" $(($(date +%s) - step_t0)))
"
}

skipped() {
	case " $SKIP " in *" $1 "*) echo "(skipped: SKIP contains $1)"; return 0 ;; esac
	return 1
}

# configure_build DIR CONFIGURE-ARGS...: (re)configure only when needed.
configure_build() {
	dir=$1
	shift
	mkdir -p "$dir"
	want="$*"
	if [ ! -f "$dir/config.status" ] || [ "$dir/config.status" -ot configure ] ||
	   [ "$(cat "$dir/.nvr-configure-args" 2>/dev/null)" != "$want" ]; then
		(cd "$dir" && "$top/configure" "$@" >configure.out 2>&1) || {
			tail -n 30 "$dir/configure.out"
			echo "test.sh: configure failed in $dir (full output: $dir/configure.out)"
			exit 1
		}
		echo "$want" >"$dir/.nvr-configure-args"
	fi
	make -C "$dir" -j"$JOBS" >"$dir/make.out" 2>&1 || {
		grep -E -B2 -A6 'error|warning' "$dir/make.out" | head -n 80
		echo "test.sh: build failed in $dir (full output: $dir/make.out)"
		exit 1
	}
}

# run_check DIR: make check, showing every failing test's log on failure.
run_check() {
	if make -C "$1" -j"$JOBS" check >"$1/check.out" 2>&1; then
		grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$1/check.out" | tr '\n' ' '
		echo
	else
		grep -E '^(FAIL|ERROR|XPASS):' "$1/check.out" || true
		echo "---- $1/test-suite.log ----"
		cat "$1/test-suite.log" 2>/dev/null || tail -n 60 "$1/check.out"
		echo "test.sh: tests failed in $1"
		exit 1
	fi
}

step "set up the machine"
if [ "$(id -u)" = 0 ]; then
	contrib/setup-debian.sh
else
	contrib/setup-debian.sh || {
		echo "test.sh: run once as root to install packages: sudo contrib/setup-debian.sh"
		exit 1
	}
fi
step_done

step "generate configure"
if [ ! -x configure ] || [ configure -ot configure.ac ] || [ -n "$(find . -name '*.am' -newer configure 2>/dev/null | head -n 1)" ] ||
   [ -n "$(find m4 -newer configure 2>/dev/null | head -n 1)" ]; then
	autoreconf -fi
fi
step_done

# distcheck_suite: make distcheck, whose `make check` is the gcc -Werror
# build's test run: the suite runs once, from the release tarball, which
# proves both that the code passes and that the tarball holds all it needs.
distcheck_suite() {
	make -C _build -j"$JOBS" distcheck >_build/distcheck.out 2>&1 || {
		grep -E '^(FAIL|ERROR|XPASS):' _build/distcheck.out || true
		log=$(find _build -path '*/_build/sub/test-suite.log' 2>/dev/null | head -n 1)
		if [ -n "$log" ]; then
			echo "---- $log ----"
			cat "$log"
		else
			tail -n 60 _build/distcheck.out
		fi
		echo "test.sh: distcheck failed (full output: _build/distcheck.out)"
		exit 1
	}
	grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' _build/distcheck.out | tr '\n' ' '
	echo
	grep -E 'archives ready for distribution' -A2 _build/distcheck.out || true
}

step "build with gcc -Werror; make distcheck runs every test on the release tarball"
configure_build _build --enable-werror
if skipped distcheck; then
	run_check _build
else
	distcheck_suite
fi
step_done

step "the date-sensitive tests under fake dates (make check-dates)"
if ! skipped dates; then
	make -C _build -j"$JOBS" check-dates || {
		echo "test.sh: the date checks failed in _build (logs: _build/check-dates-*.log)"
		exit 1
	}
fi
step_done

step "build with ASan+UBSan and run the tests"
if ! skipped asan; then
	configure_build _build-asan --enable-werror --enable-sanitizers
	# The gcc run (distcheck) makes the full sizes; here the same code
	# runs shorter, where ASan makes it ten times as slow: transports.test
	# records 30 s (still crossing a keep-alive: half the cameras' 60 s
	# session timeout), export-long.test 3 minutes, and mutate.test makes
	# 4 mutations of each kind instead of 30.
	NVR_TRANSPORTS_SECONDS=${NVR_TRANSPORTS_SECONDS:-30} NVR_EXPORT_MINUTES=${NVR_EXPORT_MINUTES:-3} \
	NVR_MUTATE_PER_KIND=${NVR_MUTATE_PER_KIND:-4} run_check _build-asan
fi
step_done

step "lint (clang-tidy, cppcheck)"
if ! skipped lint; then
	make -C _build lint LINT_JOBS="$JOBS"
fi
step_done

step "fuzz targets, ${FUZZ_SECONDS}s each (clang, libFuzzer, ASan)"
if ! skipped fuzz; then
	configure_build _build-fuzz CC=clang --enable-fuzzing
	make -C _build-fuzz fuzz-smoke FUZZ_SECONDS="$FUZZ_SECONDS" FUZZ_JOBS="$JOBS"
fi
step_done

printf '\n==> all passed in %ss\n%s' $(($(date +%s) - t_start)) "$summary"

#!/bin/sh
# smoke.sh TARGET SECONDS SRCDIR: runs one libFuzzer target (built in
# tests/fuzz/ of the current build folder) for SECONDS over its seed corpus
# and a scratch corpus in fuzz-corpus/TARGET; a crash goes to
# SRCDIR/tests/fuzz/ as crash-*, leak-* or timeout-* and fails the run.
# One input may take at most 10 s: a hang is a failure with its input,
# not a run that never ends (libFuzzer's default is 20 minutes).
# Prints one line of figures, or the end of the log on failure.
t=$1
secs=$2
src=$3
mkdir -p "fuzz-corpus/$t"
if ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$src/tests/fuzz/lsan-fuzz.supp:print_suppressions=0" \
	"./tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
	-artifact_prefix="$src/tests/fuzz/" "fuzz-corpus/$t" "$src/tests/fuzz/corpus/$t" >"fuzz-$t.log" 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz-$t.log")
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "fuzz-$t.log")
	cov=$(grep -o 'cov: [0-9]*' "fuzz-$t.log" | tail -n 1)
	echo "fuzz: $t clean: $runs runs in ${secs} s, $cov, peak RSS $rss MB"
else
	tail -n 60 "fuzz-$t.log"
	echo "fuzz: $t FAILED (log: fuzz-$t.log)"
	exit 1
fi

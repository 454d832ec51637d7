#!/bin/sh
# check-dates.sh: the tests whose outcome depends on the date or the time
# zone, run again under fake clocks (make check-dates; contrib/test.sh runs
# it after the gcc build's make check). Each test starts at the scenario's
# time (tests/lib.sh, NVR_FAKE_TIME: libfaketime shifts the wall clock of
# everything the test starts by one offset) in the scenario's TZ.
#
# Usage (from make): check-dates.sh MAKE
#
# Which tests, read from what they check (not found by trying):
#   decrypt.test      the clip's date tag (one digit of day or month lost
#                     it its zero), --from/--to and the comment's start
#                     time, all in UTC
#   export.test       a bundle's range and created times, its members in
#                     yyyy/mm/dd folders, the audit rows' times, the
#                     README's values; times given and read with `date -u`
#   bundle-sh.test    (the turn of a year only: no day or time zone of its
#                     own) verify.sh's walk of the yyyy/mm/dd folders and
#                     of each stream's chain, across two days when a
#                     recording crosses midnight
#   playback.test     listings of "the last ten minutes" (across midnight
#                     at 00:00:05), the gap before the first segment
#   openapi.test      (the time-zone scenario only: its windows are
#                     relative) every time the API writes, checked as
#                     RFC 3339 in UTC against docs/api.yaml, under a TZ far
#                     from UTC
#   midnight.test     (the time-zone scenario only: it always runs at the
#                     turn of 2026 under its own clock, in make check
#                     too) a recording across midnight and the new year
# Not date-sensitive, by reading: unit tests (fixed times, or intervals
# from now(); tests/storage/check_manifest.c covers the calendar itself),
# nvrd, camsim, systemd, configure, transports, faults, tls, web and admin
# (nothing compares dates), recording and sdes and plain (durations, never
# days), retention (ages in seconds), roles (an hour's window), and
# loadgen-speed (camera time relative to now). export-long.test (ten
# minutes of camera time ending now) crosses midnight in the first
# scenario, and passed there; it is left out for its length, as
# midnight.test exports and decrypts across midnight already.
set -u
MAKE=${1:-make}
TESTS_DATED="tests/integration/decrypt.test tests/integration/export.test tests/integration/playback.test"

# time (UTC) | TZ | what it shows | extra tests
scenarios='2027-03-01 00:00:05|UTC|the first of a month, one digit of day and month, after a 28 February|
2026-12-31 23:59:30|UTC|the turn of a year: recordings and windows across midnight into 2027|tests/integration/bundle-sh.test
2028-02-29 06:00:00|UTC|a leap day|
2027-01-09 22:00:00|Pacific/Chatham|a time zone of +13:45 where it is already 10 January|tests/integration/openapi.test tests/integration/midnight.test'

fail=0
n=0
IFS='
'
for s in $scenarios; do
	n=$((n + 1))
	when=$(echo "$s" | cut -d'|' -f1)
	tz=$(echo "$s" | cut -d'|' -f2)
	what=$(echo "$s" | cut -d'|' -f3)
	extra=$(echo "$s" | cut -d'|' -f4)
	echo "check-dates $n: $when UTC, TZ=$tz: $what"
	# shellcheck disable=SC2086
	if ! env NVR_FAKE_TIME="$when" TZ="$tz" "$MAKE" check TESTS="$(echo $TESTS_DATED $extra)" \
		TEST_SUITE_LOG="check-dates-$n.log" >"check-dates-$n.out" 2>&1; then
		grep -E '^(FAIL|ERROR|XPASS):' "check-dates-$n.out"
		cat "check-dates-$n.log" 2>/dev/null
		echo "check-dates $n failed ($when UTC, TZ=$tz): see check-dates-$n.log"
		fail=1
		break
	fi
	grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' "check-dates-$n.out" | tr '\n' ' '
	echo
done
exit $fail

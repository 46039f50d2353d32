#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# run-fuzzer.sh FUZZER SEEDS REGRESS DICT ARTIFACTS
#
# Runs one libFuzzer target for $FUZZ_SECONDS seconds (default 10) from the
# checked-in seeds and regression inputs, which it reads but never writes:
# new inputs go to a temporary directory, gone on exit. A crash, leak,
# sanitizer report or timeout leaves the input in ARTIFACTS/ and fails the
# test; copy it to regress/TARGET/ once fixed. Prints the executions done.
set -eu

[ $# -eq 5 ] || { echo "usage: $0 FUZZER SEEDS REGRESS DICT ARTIFACTS" >&2; exit 99; }
fuzzer=$1 seeds=$2 regress=$3 dict=$4 artifacts=$5
secs=${FUZZ_SECONDS:-10}
case $secs in
'' | *[!0-9]*) echo "FUZZ_SECONDS must be a number of seconds, not '$secs'" >&2; exit 99 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oyster-fuzz.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
work=$tmp/corpus log=$tmp/log
mkdir -- "$work"
mkdir -p -- "$artifacts"
dirs=("$seeds")
[ ! -d "$regress" ] || dirs+=("$regress")
opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
	-artifact_prefix="$artifacts/")
[ ! -f "$dict" ] || opts+=(-dict="$dict")

rc=0
# Beyond its own -max_total_time, a hard bound in case libFuzzer itself hangs.
timeout --kill-after=10 $((secs * 2 + 60)) \
	"$fuzzer" "${opts[@]}" "$work" "${dirs[@]}" 2>"$log" || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
grep -E '^(INFO: seed corpus|#[0-9]+ +DONE|stat::|==[0-9]+==ERROR|SUMMARY)' "$log" || true
if [ "$rc" -ne 0 ]; then
	tail -n 60 "$log" >&2
	echo "$(basename -- "$fuzzer"): FAILED (exit status $rc) after ${execs:-?} executions; input kept in $artifacts/" >&2
	exit 1
fi
echo "$(basename -- "$fuzzer"): ${execs:-?} executions in ${secs} s, no finding"

#!/usr/bin/env bash
# Run the libFuzzer targets, each for a set time, starting from the seed
# corpus in tests/fuzz/corpus/<target>/ (read only: new inputs go to
# BUILD/fuzz-corpus/<target>/). Prints "ok - fuzz TARGET ..." or
# "not ok - fuzz TARGET ..." per target and exits non-zero when any target
# crashed, leaked, hung or failed an assertion; the input that did it is in
# BUILD/fuzz-artifacts/<target>/, the log in BUILD/fuzz-logs/<target>.log.
#
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#   reproduce: BUILD/fuzz/fuzz_TARGET BUILD/fuzz-artifacts/TARGET/crash-...
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
shift 2 2>/dev/null || shift $#
TARGETS=${*:-record pem x509 verify crl server client server_ch}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan.supp}

failed=0
for t in $TARGETS; do
  bin="$BUILD/fuzz/fuzz_$t"
  if [ ! -x "$bin" ]; then
    echo "not ok - fuzz $t: $bin not built (make fuzz builds it)"
    failed=$((failed + 1))
    continue
  fi
  work="$BUILD/fuzz-corpus/$t"
  art="$BUILD/fuzz-artifacts/$t"
  log="$BUILD/fuzz-logs/$t.log"
  mkdir -p "$work" "$art" "$(dirname "$log")"
  seeds="tests/fuzz/corpus/$t"
  [ -d "$seeds" ] || seeds=""
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix="$art/" "$work" $seeds >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  units=$(find "$work" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    echo "ok - fuzz $t: ${execs:-?} runs in ${SECONDS_EACH}s, coverage ${cov:-?} edges / ${ft:-?} features, corpus $units"
  else
    echo "not ok - fuzz $t: exit $rc after ${execs:-?} runs; input in $art/, log $log"
    grep -E 'ERROR|SUMMARY|runtime error|^fuzz|Test unit written|#[0-9]+ 0x' "$log" | head -20 | sed 's/^/#   /'
    failed=$((failed + 1))
  fi
done
[ "$failed" -eq 0 ]

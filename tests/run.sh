#!/usr/bin/env bash
# Run the whole suite: unit test programs, then every test script. Each
# prints "ok - NAME" / "not ok - NAME" lines; this counts them and ends with
# "N passed, N failed". Usage: tests/run.sh BUILD_DIR [FILTER]
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
FILTER=${2:-}
export HASP_BUILD="$PWD/$BUILD"
export HASP="$PWD/$BUILD/hasp"
OUT=tests/out
mkdir -p "$OUT"
: >"$OUT/all.log"
passed=0
failed=0

run_one() { # name, command...
  local name=$1
  shift
  [ -n "$FILTER" ] && [[ "$name" != *$FILTER* ]] && return
  echo "== $name"
  local log="$OUT/$name.log"
  local start=$SECONDS
  "$@" >"$log" 2>"$log.err"
  local rc=$?
  local p f
  p=$(grep -c '^ok - ' "$log")
  f=$(grep -c '^not ok - ' "$log")
  grep '^not ok - ' "$log" | sed 's/^/   /'
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "   not ok - $name exited with status $rc"
    tail -5 "$log.err" | sed 's/^/     /'
    f=1
  fi
  echo "   $p passed, $f failed ($((SECONDS - start))s)"
  cat "$log" >>"$OUT/all.log"
  passed=$((passed + p))
  failed=$((failed + f))
}

for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  if [ -n "${HASP_VALGRIND:-}" ]; then
    run_one "$(basename "$t")" valgrind -q --error-exitcode=99 --leak-check=full "$t"
  else
    run_one "$(basename "$t")" "$t"
  fi
done
for s in tests/*.sh tests/interop/*.sh; do
  [ -f "$s" ] || continue
  [ "$(basename "$s")" = run.sh ] && continue
  case "$(basename "$s")" in _*) continue ;; esac
  run_one "$(basename "$s" .sh)" bash "$s" "$BUILD"
done
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

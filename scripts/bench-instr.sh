#!/usr/bin/env bash
# Instructions per handshake (and per 16 KiB record for the bulk cases),
# client and server side apart, for hasp and OpenSSL's libssl, counted by
# valgrind --tool=callgrind: stable where wall-clock timing is noisy.
#
# Usage: scripts/bench-instr.sh [BUILD_DIR] [N] [CASE...]
#   N     handshakes (records) counted per side, default 10 (env BENCH_INSTR_N)
#   CASE  default: every handshake case and every bulk case
#
# Each (case, library) is one run of `hasp-bench --instr CASE --lib LIB --n N`
# under callgrind with instrumentation off until the measured loop; the
# bench collects only inside the chosen side's calls and dumps "client"
# then "server" (see bench/README.md). Connection setup, warm-up and the
# PKI generation are not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-${BENCH_INSTR_N:-10}}
shift $(($# < 2 ? $# : 2))
BIN=$BUILD/hasp-bench
if [ ! -x "$BIN" ]; then
  echo "bench-instr: $BIN not found (run make)" >&2
  exit 1
fi
command -v valgrind >/dev/null || {
  echo "bench-instr: valgrind not found (apt-get install valgrind)" >&2
  exit 1
}
if [ $# -gt 0 ]; then
  CASES=("$@")
else
  CASES=(tls13-ecdsa-full tls13-rsa-full tls12-ecdsa-full tls12-rsa-full tls12-resume-id
    tls12-resume-ticket tls13-resume bulk-aes128gcm bulk-aes256gcm bulk-chacha20)
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hasp-instr.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# run CASE LIB: leaves TMP/CASE.LIB.{client,server} with a count or "n/a"
run() {
  local c=$1 lib=$2 out=$TMP/$1.$2
  if valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
    --callgrind-out-file="$out.cg" "$BIN" --instr "$c" --lib "$lib" --n "$N" \
    >"$out.log" 2>"$out.err"; then
    for side in client server; do
      local f total
      f=$(grep -l "^desc: Trigger: Client Request: $side\$" "$out".cg.* 2>/dev/null | head -n 1)
      total=$([ -n "$f" ] && awk '/^totals:/ {print $2}' "$f")
      echo "${total:-n/a}" >"$out.$side"
    done
  else
    echo n/a >"$out.client"
    echo n/a >"$out.server"
    sed -n '1p' "$out.log" >"$out.why"
  fi
}

echo "instructions per operation (callgrind Ir), N=$N per side; ratio = OpenSSL/hasp"
printf '%-20s %-6s %-10s %14s %14s %7s\n' case side per hasp OpenSSL ratio
for c in "${CASES[@]}"; do
  run "$c" hasp &
  run "$c" openssl &
  wait
  per=handshake
  sides=(client server)
  case $c in bulk-*) per=record sides=(send recv) ;; esac
  i=0
  for side in client server; do
    h=$(cat "$TMP/$c.hasp.$side")
    o=$(cat "$TMP/$c.openssl.$side")
    awk -v c="$c" -v s="${sides[$i]}" -v per="$per" -v h="$h" -v o="$o" -v n="$N" 'BEGIN {
      hv = (h == "n/a") ? "n/a" : sprintf("%d", h / n)
      ov = (o == "n/a") ? "n/a" : sprintf("%d", o / n)
      r = (h == "n/a" || o == "n/a" || h == 0) ? "n/a" : sprintf("%.2fx", o / h)
      printf "%-20s %-6s %-10s %14s %14s %7s\n", c, s, per, hv, ov, r
    }'
    i=$((i + 1))
  done
  for lib in hasp openssl; do
    if [ -s "$TMP/$c.$lib.why" ]; then
      echo "  $c $lib: $(cat "$TMP/$c.$lib.why")"
    fi
  done
done

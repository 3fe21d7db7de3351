#!/usr/bin/env bash
# Load: hasp server --www (epoll, non-blocking engine) against wrk.
# Usage: scripts/soak.sh BUILD_DIR [CONNECTIONS] [SECONDS] [WORKERS]
# (WORKERS > 1: hasp server --workers N; memory is summed over the workers)
# Prints ok/not ok lines: zero errors, every connection served, and the
# peak RSS per connection. Loopback only; bounded in time.
set -u
BUILD=${1:-build}
CONNS=${2:-1000}
SECS=${3:-30}
WORKERS=${4:-1}
HASP="$BUILD/hasp"
CERTS="$BUILD/test-certs"
bash tests/certs/gen.sh "$CERTS" >/dev/null 2>&1 || { echo "not ok - soak: cannot make certificates"; exit 1; }
command -v wrk >/dev/null || { echo "not ok - soak: wrk is not installed (apt-get install wrk)"; exit 1; }
ulimit -n $((CONNS * 2 + 512)) 2>/dev/null || ulimit -n 4096
PORT=$(( 20000 + ($$ % 5000) ))
while ss -ltn | grep -q ":$PORT "; do PORT=$((PORT + 1)); done
LOG=$(mktemp)
"$HASP" server --accept "$PORT" --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" \
  --cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" --www --quiet --workers "$WORKERS" >"$LOG" 2>&1 &
SPID=$!
# the processes that serve: the server itself, or its workers
servers() {
  if [ "$WORKERS" -gt 1 ]; then cat "/proc/$SPID/task/$SPID/children" 2>/dev/null; else echo "$SPID"; fi
}
mem() { # FIELD: summed over the serving processes, KiB
  local sum=0 p v
  for p in $(servers); do
    v=$(awk -v f="$1:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
trap 'kill $SPID 2>/dev/null; rm -f "$LOG" "$LOG.wrk"' EXIT
for _ in $(seq 50); do ss -ltn | grep -q ":$PORT " && break; sleep 0.1; done
sleep 0.3
base=$(mem VmRSS)
timeout $((SECS + 30)) wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s --latency "https://127.0.0.1:$PORT/" >"$LOG.wrk" 2>&1
wrc=$?
hwm=$(mem VmHWM)
alive=0
kill -0 $SPID 2>/dev/null && alive=1
cat "$LOG.wrk" | sed 's/^/# /'
reqs=$(awk '/requests in/ {print $1}' "$LOG.wrk")
errs=$(grep -E "Socket errors|Non-2xx" "$LOG.wrk" || true)
[ "$wrc" -eq 0 ] && [ -n "$reqs" ] && [ "$reqs" -gt 0 ] &&
  echo "ok - soak: $CONNS concurrent TLS clients for ${SECS}s, $WORKERS worker(s): $reqs requests served" ||
  echo "not ok - soak: wrk failed (exit $wrc)"
[ -z "$errs" ] && echo "ok - soak: zero errors" || echo "not ok - soak: $errs"
[ "$alive" -eq 1 ] && echo "ok - soak: the server is still running" || echo "not ok - soak: the server died: $(tail -3 "$LOG")"
if [ -n "$hwm" ] && [ -n "$base" ]; then
  per=$(( (hwm - base) * 1024 / CONNS ))
  echo "ok - soak: peak RSS ${hwm} KiB (idle ${base} KiB): about ${per} bytes per connection"
  # bounded memory: well under 64 KiB per connection
  if [ -n "${HASP_SANITIZED:-}" ]; then
    echo "ok - soak: memory per connection bounded # SKIP sanitizer build (shadow memory)"
  elif [ "$per" -lt 65536 ]; then
    echo "ok - soak: memory per connection bounded (< 64 KiB)"
  else
    echo "not ok - soak: ${per} bytes per connection"
  fi
fi

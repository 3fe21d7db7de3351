#!/usr/bin/env bash
# The fleet's numbers (make bench-fleet): new TLS connections per second
# from wrk ("Connection: close": one handshake per request) against
# `hasp server --www --workers 1` and `--workers 2`, and the resumption hit
# rate across two servers that share --ticket-keys and a memcached
# (session IDs and tickets, each connection going to the other server).
# Usage: scripts/fleet-bench.sh BUILD_DIR [SECONDS] [CONNECTIONS]
set -u
BUILD=${1:-build}
SECS=${2:-10}
CONNS=${3:-64}
HASP="$BUILD/hasp"
CERTS="$BUILD/test-certs"
bash tests/certs/gen.sh "$CERTS" >/dev/null 2>&1 || { echo "fleet-bench: cannot make certificates"; exit 1; }
for t in wrk memcached; do command -v $t >/dev/null || { echo "fleet-bench: $t is not installed"; exit 1; }; done
T=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
free_port() {
  local p=$(( 21000 + RANDOM % 20000 ))
  while ss -ltn | grep -q ":$p "; do p=$((p + 1)); done
  echo $p
}
wait_port() { for _ in $(seq 50); do ss -ltn | grep -q ":$1 " && return 0; sleep 0.1; done; return 1; }

echo "new connections per second (wrk -t2 -c$CONNS -d${SECS}s, Connection: close, ECDSA P-256, TLS 1.3):"
for w in 1 2; do
  port=$(free_port)
  "$HASP" server --accept "$port" --www --quiet --workers "$w" \
    --cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" >/dev/null 2>&1 &
  PIDS+=($!)
  wait_port "$port" || { echo "  --workers $w: the server did not start"; continue; }
  rate=$(wrk -t2 -c"$CONNS" -d"${SECS}s" -H "Connection: close" "https://127.0.0.1:$port/" 2>/dev/null |
    awk '/Requests\/sec/ {print $2}')
  printf '  --workers %d: %s\n' "$w" "${rate:-?}"
  kill "${PIDS[-1]}"
  wait "${PIDS[-1]}" 2>/dev/null
done

head -c 80 /dev/urandom >"$T/k" && chmod 600 "$T/k"
mport=$(free_port)
memcached -u "$(id -un)" -l 127.0.0.1 -p "$mport" -U 0 -m 16 &
PIDS+=($!)
wait_port "$mport"
ports=()
for s in a b; do
  p=$(free_port)
  "$HASP" server --accept "$p" --www --quiet --ticket-keys "$T/k" \
    --session-cache "memcached://127.0.0.1:$mport" --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" \
    >/dev/null 2>&1 &
  PIDS+=($!)
  wait_port "$p"
  ports+=("$p")
done
printf 'GET / HTTP/1.0\r\n\r\n' >"$T/get"
echo "resumption across two servers (one --ticket-keys file, one memcached), 50 connections each:"
for mode in "session ID:--tls1_2 --no-ticket" "TLS 1.2 ticket:--tls1_2" "TLS 1.3 ticket:--tls1_3"; do
  label=${mode%%:*}
  args=${mode#*:}
  # shellcheck disable=SC2086
  "$HASP" client "127.0.0.1:${ports[0]}" --insecure --ign-eof $args --sess-out "$T/s" <"$T/get" >/dev/null 2>&1
  hits=0
  for i in $(seq 1 50); do
    p=${ports[$((i % 2))]}
    # shellcheck disable=SC2086
    "$HASP" client "127.0.0.1:$p" --insecure --ign-eof $args --sess-in "$T/s" --sess-out "$T/s2" \
      <"$T/get" >/dev/null 2>"$T/err"
    grep -qE '^hasp: resumed: (session-id|ticket|psk)$' "$T/err" && hits=$((hits + 1))
    [ -s "$T/s2" ] && mv "$T/s2" "$T/s"
  done
  printf '  %s: %d of 50 resumed (%d%%)\n' "$label" "$hits" $((hits * 2))
done

#!/usr/bin/env bash
# hasp demo: a TLS handshake between hasp's own client and server on
# 127.0.0.1, traced message by message, then the page the server sent back.
# Shows TLS 1.2 and, when the tool has it, TLS 1.3.
# Usage: scripts/demo.sh [BUILD_DIR]   (default: build; `make demo` runs it)
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
HASP="$PWD/$BUILD/hasp"
CERTS="$PWD/$BUILD/demo-certs"

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'; else B="" G="" R="" D="" N=""; fi
head1() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
head2() { printf '\n%s-- %s%s\n' "$B" "$*" "$N"; }
say() { printf '%s\n' "$*"; }
die() { printf '%sdemo: %s%s\n' "$R" "$*" "$N" >&2; exit 1; }

[ -x "$HASP" ] || die "$HASP not found: build it first (make)"
command -v openssl >/dev/null || die "openssl not found (apt-get install openssl); it makes the demo certificates"

W=$(mktemp -d "${TMPDIR:-/tmp}/hasp-demo.XXXXXX")
SPID=""
cleanup() {
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
    kill "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
  fi
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port on 127.0.0.1 below the ephemeral range: none of the sockets in
# /proc/net/tcp{,6} uses it.
port_used() {
  local hex f _a loc _b
  printf -v hex '%04X' "$1"
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    while read -r _a loc _b; do [[ "$loc" == *:"$hex" ]] && return 0; done <"$f"
  done
  return 1
}
free_port() {
  local p=$((20000 + RANDOM % 10000)) i
  for ((i = 0; i < 500; i++)); do
    port_used "$p" || { echo "$p"; return 0; }
    p=$((p + 1))
  done
  return 1
}
# wait_ready ERRFILE PID: until the server says it is listening (max 10 s).
wait_ready() {
  local i
  for ((i = 0; i < 500; i++)); do
    grep -q '^hasp: listening on ' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}

head1 "hasp demo: hasp client <-> hasp server on 127.0.0.1"
say "$("$HASP" version 2>/dev/null | head -n 1)"
head2 "test certificates (a private CA, leaves for 'localhost') in $BUILD/demo-certs"
bash tests/certs/gen.sh "$CERTS" || die "could not generate the certificates"
say "root CA ca.pem, intermediate int.pem, server chains rsa.pem (RSA-2048) and ecdsa.pem (ECDSA P-256)"

# run_demo LABEL TOOL-VERSION-FLAG: one server, one client, one handshake.
run_demo() {
  local label=$1 vflag=$2 port
  port=$(free_port) || die "no free port found"
  head1 "$label handshake"
  local sargs=(server --accept "$port" --www --naccept 1 "$vflag"
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key")
  local cargs=(client "127.0.0.1:$port" --servername localhost --cafile "$CERTS/ca.pem" --trace "$vflag")
  head2 "server (in the background)"
  say "${D}\$ hasp ${sargs[*]}${N}" | sed "s|$CERTS/||g"
  timeout 30 "$HASP" "${sargs[@]}" >"$W/srv.out" 2>"$W/srv.err" </dev/null &
  SPID=$!
  wait_ready "$W/srv.err" "$SPID" || { cat "$W/srv.err" >&2; die "the server did not start"; }
  sed 's/^/  /' "$W/srv.err"
  head2 "client: sends an HTTP GET; --trace draws the handshake"
  say "${D}\$ printf 'GET / HTTP/1.0\\r\\n\\r\\n' | hasp ${cargs[*]}${N}" | sed "s|$CERTS/||g"
  printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 "$HASP" "${cargs[@]}" >"$W/cli.out" 2>"$W/cli.err"
  local rc=$?
  # The trace and the summary lines are on stderr, the page on stdout.
  cat "$W/cli.err"
  head2 "the page the server sent back"
  tr -d '\r' <"$W/cli.out" | sed 's/^/  /'
  local i
  for ((i = 0; i < 250; i++)); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.02; done
  kill "$SPID" 2>/dev/null
  wait "$SPID" 2>/dev/null
  SPID=""
  head2 "server log"
  grep -v '^hasp: listening' "$W/srv.err" | sed 's/^/  /'
  local proto suite
  proto=$(sed -n 's/^hasp: protocol: //p' "$W/cli.err" | head -n 1)
  suite=$(sed -n 's/^hasp: cipher: //p' "$W/cli.err" | head -n 1)
  if [ "$rc" -eq 0 ] && [ -n "$proto" ]; then
    printf '\n%s%s ok: %s, %s, certificate verified%s\n' "$G$B" "$label" "$proto" "$suite" "$N"
    return 0
  fi
  printf '\n%s%s FAILED (client exit status %s): %s%s\n' "$R$B" "$label" "$rc" \
    "$(grep -m1 '^hasp: error' "$W/cli.err")" "$N"
  return 1
}

status=0
run_demo "TLS 1.2" --tls1_2 || status=1
if "$HASP" --help 2>&1 | grep -q -- '--tls1_3'; then
  run_demo "TLS 1.3" --tls1_3 || status=1
fi
echo
exit $status

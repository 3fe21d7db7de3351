#!/usr/bin/env bash
# `hasp server --www`: both HTTP loops (the event loop, and the blocking loop
# that --renegotiate selects) share one request reader. Each answers a
# bare-LF request, a CRLF request with a 16 KiB header, two pipelined
# HTTP/1.1 requests on one connection, and 400 Bad Request to a first line
# that is no request line. The peer is openssl s_client.
# Usage: bash tests/interop/www.sh BUILD_DIR
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl
need_hasp
gen_certs

# www_case NAME MODE-FLAGS REQUEST-FILE GREP-PATTERN COUNT
www_case() {
  local name=$1 flags=$2 req=$3 pat=$4 want=$5
  new_case "$name"
  next_port
  # shellcheck disable=SC2086
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 --www $flags \
    --cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key"
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  note_cmd openssl s_client -connect "127.0.0.1:$PORT" -quiet -ign_eof "<$req"
  timeout "$TMO" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$CERTS/ca.pem" -verify_return_error -quiet -ign_eof <"$req" >"$C/cli.out" 2>"$C/cli.err"
  local crc=$?
  bg_wait "$spid" 5
  local got why=""
  got=$(tr -d '\r' <"$C/cli.out" | grep -cE "$pat")
  [ $crc -eq 0 ] || [ $crc -eq 1 ] || why="s_client exited $crc (124 = the server did not answer and close);"
  [ "$got" -eq "$want" ] || why="$why want $want line(s) matching '$pat', got $got;"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
}

printf 'GET / HTTP/1.0\n\n' >"$T/lf"
printf 'hello there\r\n\r\n' >"$T/junk"
{
  printf 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Pad: '
  head -c 16384 /dev/zero | tr '\0' a
  printf '\r\nConnection: close\r\n\r\n'
} >"$T/big"
printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\nGET /2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' \
  >"$T/pipe"

for mode in event blocking; do
  flags=""
  [ $mode = blocking ] && flags="--renegotiate"
  www_case "$mode loop: a bare-LF HTTP/1.0 request gets the page" "$flags" "$T/lf" '^HTTP/1\.0 200 ok$' 1
  www_case "$mode loop: a first line that is no request line gets 400 Bad Request" "$flags" "$T/junk" \
    '^HTTP/1\.1 400 Bad Request$' 1
  www_case "$mode loop: a request with a 16 KiB header gets the page" "$flags" "$T/big" '^HTTP/1\.1 200 ok$' 1
  www_case "$mode loop: two pipelined HTTP/1.1 requests get two pages on one connection" "$flags" \
    "$T/pipe" '^HTTP/1\.1 200 ok$' 2
done
finish

#!/usr/bin/env bash
# TLS 1.3 0-RTT early data and psk_ke against real peers (issue 5), both
# directions:
#   (a) openssl s_client / gnutls-cli -> hasp server --early-data: accepted,
#       echoed; refused by a restarted server (its ticket key is gone): the
#       client is told, the server skips the records it cannot read and
#       completes the handshake.
#   (b) hasp client --early-data -> openssl s_server -early_data and
#       gnutls-serv --earlydata: accepted; a restarted s_server refuses and
#       hasp sends the data again after the handshake.
#   (c) psk_ke (no (EC)DHE) with -allow_no_dhe_kex, both directions.
# Usage: bash tests/interop/early_data.sh BUILD_DIR   (env HASP overrides the tool)
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl gnutls-serv gnutls-cli
need_hasp
gen_certs

EARLY="$T/early"
printf 'early hello over 0-RTT\n' >"$EARLY"
NEARLY=$(fsize "$EARLY")

# hasp_server NACCEPT ARGS...: a hasp echo server with --trace on a port (new
# unless KEEP_PORT=1); sets SPID.
hasp_server() {
  local n=$1
  shift
  [ "${KEEP_PORT:-0}" = 1 ] || next_port
  local base
  base="$C/srv$n$RANDOM$RANDOM" # a known name: see sserver
  bg_start "$base" /dev/null "$HASP" server --accept "127.0.0.1:$PORT" --naccept "$n" \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --trace "$@"
  SPID=$BGPID
  SLOG="$base.err"
  wait_listen "$PORT" "$SPID" || { WHY="hasp server did not start: $WHY"; return 1; }
}

# s_client OUT ARGS...: openssl s_client to $PORT; stdin stays open 1.5 s (the
# echo comes back meanwhile).
s_client() {
  local out=$1
  shift
  note_cmd openssl s_client -connect "127.0.0.1:$PORT" -servername localhost "$@"
  { nap 1.5; } | timeout -k 2 "$TMO" openssl s_client -connect "127.0.0.1:$PORT" \
    -servername localhost -CAfile "$CERTS/ca.pem" -verify_return_error "$@" >"$out.out" 2>"$out.err"
  CRC=$?
}

# ---------------------------------------------- (a) peers' clients -> hasp server

sclient_early_ok() {
  [ "$CRC" -eq 0 ] || fail "s_client exited $CRC: $(tail -n 2 "$C/c2.err")" || return
  has_text "$C/c2.out" "Reused, TLSv1.3" || fail "s_client did not resume: $(first_line "$C/c2.out" '^(New|Reused)')" || return
  has_line "$C/c2.out" "Early data was accepted" || fail "s_client: $(first_line "$C/c2.out" 'Early data')" || return
  has_text "$C/c2.out" "early hello over 0-RTT" || fail "the early data was not echoed back" || return
  has_line "$SLOG" "hasp:   early data: accepted" || fail "hasp server: $(first_line "$SLOG" 'early data|failed')" || return
  has_text "$SLOG" "EndOfEarlyData" || fail "no EndOfEarlyData in the server's trace" || return
}
NAME="openssl s_client -early_data -> hasp server --early-data: accepted, read, echoed"
new_case "$NAME"
if hasp_server 2 --early-data; then
  s_client "$C/c1" -sess_out "$C/sess"
  s_client "$C/c2" -sess_in "$C/sess" -early_data "$EARLY"
  check "$NAME" sclient_early_ok || keep_case "$NAME"
else
  notok "$NAME" "$WHY"
fi
bg_stop "$SPID"

sclient_refused_ok() {
  [ "$CRC" -eq 0 ] || fail "s_client exited $CRC: $(tail -n 2 "$C/c2.err")" || return
  has_line "$C/c2.out" "Early data was rejected" || fail "s_client: $(first_line "$C/c2.out" 'Early data')" || return
  has_text "$C/c2.out" "New, TLSv1.3" || fail "expected a full handshake" || return
  has_text "$SLOG" "early data skipped" || fail "the server did not say it skipped the early records" || return
  has_text "$SLOG" "hasp:   early data: rejected: the server did not resume the ticket" ||
    fail "hasp server: $(first_line "$SLOG" 'early data: |failed')" || return
  ! has_text "$SLOG" "failed" || fail "hasp server: $(first_line "$SLOG" 'failed')" || return
}
NAME="openssl s_client -early_data -> restarted hasp server: refused, skipped, full handshake"
new_case "$NAME"
if hasp_server 1 --early-data; then
  s_client "$C/c1" -sess_out "$C/sess"
  bg_wait_for "$SPID" 5
  if KEEP_PORT=1 hasp_server 1 --early-data; then
    s_client "$C/c2" -sess_in "$C/sess" -early_data "$EARLY"
    check "$NAME" sclient_refused_ok || keep_case "$NAME"
  else
    notok "$NAME" "$WHY"
  fi
else
  notok "$NAME" "$WHY"
fi
bg_stop "$SPID"

gnutls_early_ok() {
  [ "$CRC" -eq 0 ] || fail "gnutls-cli exited $CRC: $(tail -n 2 "$C/g.err")" || return
  has_text "$C/g.out" "This is a resumed session" || fail "gnutls-cli did not resume" || return
  has_text "$C/g.out" "early hello over 0-RTT" || fail "the early data was not echoed back" || return
  has_line "$SLOG" "hasp:   early data: accepted" || fail "hasp server: $(first_line "$SLOG" 'early data|failed')" || return
}
NAME="gnutls-cli --resume --earlydata -> hasp server --early-data: accepted, echoed"
new_case "$NAME"
if hasp_server 2 --early-data; then
  note_cmd gnutls-cli -p "$PORT" 127.0.0.1 --resume --earlydata="$EARLY"
  { nap 2; } | timeout -k 2 "$TMO" gnutls-cli -p "$PORT" 127.0.0.1 --sni-hostname localhost \
    --x509cafile "$CERTS/ca.pem" --resume --earlydata="$EARLY" >"$C/g.out" 2>"$C/g.err"
  CRC=$?
  check "$NAME" gnutls_early_ok || keep_case "$NAME"
else
  notok "$NAME" "$WHY"
fi
bg_stop "$SPID"

# ---------------------------------------------- (b) hasp client -> peers' servers

sserver() { # NACCEPT ARGS... (KEEP_PORT=1: same port)
  local n=$1
  shift
  [ "${KEEP_PORT:-0}" = 1 ] || next_port
  # stdin held open: s_server ends a connection when its stdin ends
  local fifo="$C/in$RANDOM"
  mkfifo "$fifo"
  { nap "$TMO"; } >"$fifo" &
  bg_track $!
  # The log's name is known here: the background shell may not have
  # created the file yet, so no listing of the folder can find it (a
  # listing once picked the previous server's log, which said "No early
  # data received" for the first connection).
  local base
  base="$C/os$RANDOM$RANDOM"
  bg_start "$base" "$fifo" openssl s_server -accept "127.0.0.1:$PORT" -naccept "$n" \
    -cert "$CERTS/rsa-leaf.pem" -key "$CERTS/rsa.key" -cert_chain "$CERTS/int.pem" "$@"
  SPID=$BGPID
  OSLOG="$base.out"
  wait_listen "$PORT" "$SPID" || { WHY="openssl s_server did not start: $WHY"; return 1; }
}
run_hasp() { # OUT ARGS...
  local out=$1
  shift
  note_cmd "$HASP" client "127.0.0.1:$PORT" "$@"
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" "$@" </dev/null >"$out.out" 2>"$out.err"
  HRC=$?
}

hasp_sserver_ok() {
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/h2.err")" || return
  has_line "$C/h2.err" "hasp: early data: sent $NEARLY of $NEARLY bytes with the ClientHello" ||
    fail "hasp: $(first_line "$C/h2.err" 'early data')" || return
  has_line "$C/h2.err" "hasp: resumed: psk" || fail "hasp did not resume" || return
  has_line "$C/h2.err" "hasp: early data: accepted" || fail "hasp: $(first_line "$C/h2.err" 'early data: [ar]')" || return
  bg_wait_for "$SPID" 5
  has_line "$OSLOG" "Early data received:" || fail "s_server: $(first_line "$OSLOG" '[Ee]arly data')" || return
  has_text "$OSLOG" "early hello over 0-RTT" || fail "s_server did not print the early data" || return
}
NAME="hasp client --early-data -> openssl s_server -early_data: accepted, received as early data"
new_case "$NAME"
if sserver 2 -early_data; then
  run_hasp "$C/h1" --sess-out "$C/sess"
  run_hasp "$C/h2" --sess-in "$C/sess" --early-data "$EARLY"
  check "$NAME" hasp_sserver_ok || keep_case "$NAME"
else
  notok "$NAME" "$WHY"
fi
bg_stop "$SPID"

hasp_refused_ok() {
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/h2.err")" || return
  has_text "$C/h2.err" "hasp: early data: rejected: " || fail "hasp: $(first_line "$C/h2.err" 'early data: [ar]')" || return
  has_text "$C/h2.err" "(sending it again)" || fail "hasp did not send the data again" || return
  bg_wait_for "$SPID" 5
  has_line "$OSLOG" "Early data was rejected" || fail "s_server: $(first_line "$OSLOG" '[Ee]arly data')" || return
  has_text "$OSLOG" "early hello over 0-RTT" || fail "s_server did not get the data after the handshake" || return
}
NAME="hasp client --early-data -> restarted openssl s_server: refused, sent again after the handshake"
new_case "$NAME"
if sserver 1 -early_data; then
  run_hasp "$C/h1" --sess-out "$C/sess"
  bg_wait_for "$SPID" 5
  if KEEP_PORT=1 sserver 1 -early_data; then
    run_hasp "$C/h2" --sess-in "$C/sess" --early-data "$EARLY"
    check "$NAME" hasp_refused_ok || keep_case "$NAME"
  else
    notok "$NAME" "$WHY"
  fi
else
  notok "$NAME" "$WHY"
fi
bg_stop "$SPID"

hasp_gserv_ok() {
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/h2.err")" || return
  has_line "$C/h2.err" "hasp: resumed: psk" || fail "hasp did not resume" || return
  has_line "$C/h2.err" "hasp: early data: accepted" || fail "hasp: $(first_line "$C/h2.err" 'early data')" || return
}
NAME="hasp client --early-data -> gnutls-serv --earlydata: accepted"
new_case "$NAME"
next_port
bg_start "$C/gs" /dev/null gnutls-serv --echo -p "$PORT" --x509certfile "$CERTS/rsa.pem" \
  --x509keyfile "$CERTS/rsa.key" --earlydata
SPID=$BGPID
if wait_listen "$PORT" "$SPID"; then
  run_hasp "$C/h1" --sess-out "$C/sess"
  run_hasp "$C/h2" --sess-in "$C/sess" --early-data "$EARLY"
  check "$NAME" hasp_gserv_ok || keep_case "$NAME"
else
  notok "$NAME" "gnutls-serv did not start: $WHY"
fi
bg_stop "$SPID"

# ---------------------------------------------- (c) psk_ke

NAME="openssl s_client -allow_no_dhe_kex -> hasp server --psk-modes psk_ke: resumed with psk_ke"
new_case "$NAME"
psk_ke_server_ok() {
  [ "$CRC" -eq 0 ] || fail "s_client exited $CRC" || return
  has_text "$C/c2.out" "Reused, TLSv1.3" || fail "s_client did not resume" || return
  has_text "$SLOG" "resumption = psk_ke" || fail "hasp server: $(first_line "$SLOG" 'resumption =')" || return
  has_text "$C/c2.out" "hello" || fail "no echo" || return
}
if hasp_server 2 --psk-modes psk_ke; then
  printf 'hello\n' >"$C/hello"
  s_client "$C/c1" -sess_out "$C/sess" -allow_no_dhe_kex
  { printf 'hello\n'; nap 1.5; } | timeout -k 2 "$TMO" openssl s_client -connect "127.0.0.1:$PORT" \
    -servername localhost -CAfile "$CERTS/ca.pem" -sess_in "$C/sess" -allow_no_dhe_kex \
    >"$C/c2.out" 2>"$C/c2.err"
  CRC=$?
  check "$NAME" psk_ke_server_ok || keep_case "$NAME"
else
  notok "$NAME" "$WHY"
fi
bg_stop "$SPID"

NAME="hasp client --psk-modes psk_ke -> openssl s_server -allow_no_dhe_kex: resumed without a group"
new_case "$NAME"
psk_ke_client_ok() {
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/h2.err")" || return
  has_line "$C/h2.err" "hasp: resumed: psk" || fail "hasp did not resume" || return
  ! has_text "$C/h2.err" "hasp: group:" || fail "a key exchange group was used: $(first_line "$C/h2.err" 'group:')" || return
}
if sserver 2 -allow_no_dhe_kex -www; then
  printf 'GET / HTTP/1.0\r\n\r\n' >"$C/get"
  note_cmd "$HASP" client "127.0.0.1:$PORT" --psk-modes psk_ke
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" --servername localhost --cafile "$CERTS/ca.pem" \
    --psk-modes psk_ke --sess-out "$C/sess" --ign-eof <"$C/get" >"$C/h1.out" 2>"$C/h1.err"
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" --servername localhost --cafile "$CERTS/ca.pem" \
    --psk-modes psk_ke --sess-in "$C/sess" --ign-eof <"$C/get" >"$C/h2.out" 2>"$C/h2.err"
  HRC=$?
  check "$NAME" psk_ke_client_ok || keep_case "$NAME"
else
  notok "$NAME" "$WHY"
fi
bg_stop "$SPID"

finish

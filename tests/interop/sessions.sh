#!/usr/bin/env bash
# Session resumption interop (issue 4), both directions:
#   (a) openssl s_client / gnutls-cli -> hasp server: resumed by ticket and by
#       session ID (TLS 1.2), by PSK (TLS 1.3); hasp's own trace says how.
#   (b) hasp client -> openssl s_server / gnutls-serv: --reconnect and
#       --sess-out/--sess-in resume by ticket, session ID and PSK, and the
#       server agrees (s_server -www page, gnutls-serv's "resumed" line).
#   (c) what must not resume: a session whose connection ended without
#       close_notify (server side: its cache entry is gone; client side: no
#       session is saved), and a ticket/session a server does not know
#       (a full handshake, not an error).
# Usage: bash tests/interop/sessions.sh BUILD_DIR   (env HASP overrides the tool)
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl gnutls-serv gnutls-cli
need_hasp
gen_certs

SUITE12=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
OSSL12=ECDHE-RSA-AES128-GCM-SHA256
SUITE13=TLS_AES_128_GCM_SHA256
GPRIO12="NORMAL:-VERS-ALL:+VERS-TLS1.2"
GPRIO13="NORMAL:-VERS-ALL:+VERS-TLS1.3"
LINE="$T/line"
printf 'hello over a resumed session\n' >"$LINE"
NLINE=$(fsize "$LINE")
GET="$T/get"
printf 'GET / HTTP/1.0\r\n\r\n' >"$GET"

# ------------------------------------------------------------- helpers

# hasp_server NACCEPT ARGS...: hasp server (with --trace: it prints
# "hasp:   resumed: no|session-id|ticket|psk" per connection) on a new port;
# sets SPID. Fails (WHY set) when it does not listen.
hasp_server() {
  local n=$1
  shift
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept "$n" \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --trace "$@"
  SPID=$BGPID
  wait_listen "$PORT" "$SPID" || { WHY="hasp server did not start: $WHY $(tail -n 2 "$C/srv.err")"; return 1; }
}
# resumed_lines FILE: the server's "resumed:" verdicts, one word per line.
resumed_list() { sed -n 's/^hasp:   resumed: //p' "$1" | tr '\n' ' ' | sed 's/ $//'; }
# server_ok [RC]: the hasp server exited 0 and logged no failed connection.
server_ok() {
  bg_wait_for "$SPID" 5
  [ "$BGRC" -eq 0 ] || fail "hasp server exited $BGRC ($([ "$BGRC" = 124 ] && echo 'it waited for more connections'))" || return
  ! grep -qE '^hasp: connection [0-9]+ failed' "$C/srv.err" ||
    fail "hasp server: $(first_line "$C/srv.err" '^hasp: connection [0-9]+ failed')" || return
}
# s_client_once OUTPREFIX WATCHFILE BYTES ARGS...: openssl s_client to the
# hasp server on $PORT; stdin stays open until WATCHFILE holds BYTES bytes
# (the echo came back, or the session file was written) or s_client exits.
s_client_once() {
  local out=$1 watch=$2 bytes=$3
  shift 3
  rm -f "$out.in"
  mkfifo "$out.in"
  bg_start "$out" "$out.in" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$CERTS/ca.pem" -verify_return_error "$@"
  local cpid=$BGPID
  {
    cat "$LINE"
    wait_for "$WAIT" "$cpid" size_at_least "$out.out" "$NLINE"
    [ "$watch" = - ] || wait_for "$WAIT" "$cpid" size_at_least "$watch" "$bytes"
  } >"$out.in" &
  bg_track $!
  bg_wait_for "$cpid" "$TMO"
  CRC=$BGRC
}
# The session line s_client prints: "New, TLSv1.2, Cipher is ..." / "Reused, ...".
sclient_session() { first_line "$1" '^(New|Reused), '; }

# ------------------------------------ (a) peers' clients -> hasp server

# openssl s_client -reconnect: 1 full handshake and 5 resumptions.
# sclient_reconnect NAME HOW(ticket|session-id) SERVER_ARGS -- CLIENT_ARGS
sclient_reconnect() {
  local name=$1 how=$2
  shift 2
  local sargs=() cargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sargs+=("$1"); shift; done
  shift
  cargs=("$@")
  new_case "$name"
  if ! hasp_server 6 --tls1_2 "${sargs[@]}"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  note_cmd openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$CERTS/ca.pem" \
    -verify_return_error -tls1_2 -reconnect "${cargs[@]}"
  timeout -k 2 "$TMO" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$CERTS/ca.pem" -verify_return_error -tls1_2 -reconnect "${cargs[@]}" \
    <"$LINE" >"$C/cli.out" 2>"$C/cli.err"
  CRC=$?
  check "$name" sclient_reconnect_ok "$how" || keep_case "$name"
  bg_stop "$SPID"
}
sclient_reconnect_ok() {
  local how=$1
  [ "$CRC" -eq 0 ] || fail "openssl s_client exited $CRC: $(grep -m1 -iE 'error|alert' "$C/cli.err")" || return
  local new reused
  new=$(count_lines "$C/cli.out" "^New, TLSv1\.2, Cipher is $OSSL12\$")
  reused=$(count_lines "$C/cli.out" "^Reused, TLSv1\.2, Cipher is $OSSL12\$")
  [ "$new" -eq 1 ] && [ "$reused" -eq 5 ] ||
    fail "s_client printed $new 'New' and $reused 'Reused' lines, expected 1 and 5" || return
  server_ok || return
  local got
  got=$(resumed_list "$C/srv.err")
  [ "$got" = "no $how $how $how $how $how" ] ||
    fail "hasp server's resumed: lines say '$got', expected 'no' then 5 x '$how'" || return
  # --trace shows the abbreviated handshakes as such
  [ "$(count_lines "$C/srv.err" '<-+ ServerHello .* resumed ')" -eq 5 ] ||
    fail "the trace marks $(count_lines "$C/srv.err" '<-+ ServerHello .* resumed ') ServerHellos as resumed, expected 5" || return
}
sclient_reconnect "openssl s_client -reconnect -> hasp server: TLS 1.2 resumed by ticket (5 of 5)" \
  ticket --
sclient_reconnect "openssl s_client -reconnect -no_ticket -> hasp server: TLS 1.2 resumed by session ID (5 of 5)" \
  session-id -- -no_ticket
sclient_reconnect "openssl s_client -reconnect -> hasp server --no-ticket: TLS 1.2 resumed by session ID (5 of 5)" \
  session-id --no-ticket --

# TLS 1.3 (s_client -reconnect does not wait for tickets): -sess_out, then -sess_in.
# sclient_sess_case NAME VERSIONFLAG EXPECT_HOW EXPECT_PROTO [s_client args...]
sclient_sess_case() {
  local name=$1 vflag=$2 how=$3 proto=$4
  shift 4
  new_case "$name"
  if ! hasp_server 2 "-$vflag"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  s_client_once "$C/cli1" "$C/sess.pem" 1 "$vflag" -sess_out "$C/sess.pem" "$@"
  local crc1=$CRC
  s_client_once "$C/cli2" - 0 "$vflag" -sess_in "$C/sess.pem" "$@"
  check "$name" sclient_sess_ok "$crc1" "$how" "$proto" || keep_case "$name"
  bg_stop "$SPID"
}
sclient_sess_ok() {
  local crc1=$1 how=$2 proto=$3
  [ "$crc1" -eq 0 ] || fail "first s_client exited $crc1: $(grep -m1 -iE 'error|alert' "$C/cli1.err")" || return
  [ -s "$C/sess.pem" ] || fail "s_client -sess_out wrote no session" || return
  [ "$CRC" -eq 0 ] || fail "second s_client exited $CRC: $(grep -m1 -iE 'error|alert' "$C/cli2.err")" || return
  has_text "$C/cli1.out" "$(cat "$LINE")" || fail "first connection: data not echoed" || return
  has_text "$C/cli2.out" "$(cat "$LINE")" || fail "resumed connection: data not echoed" || return
  [[ "$(sclient_session "$C/cli2.out")" == "Reused, $proto, "* ]] ||
    fail "s_client -sess_in printed '$(sclient_session "$C/cli2.out")', expected 'Reused, $proto, ...'" || return
  server_ok || return
  local got
  got=$(resumed_list "$C/srv.err")
  [ "$got" = "no $how" ] || fail "hasp server's resumed: lines say '$got', expected 'no $how'" || return
}
sclient_sess_case "openssl s_client -sess_out/-sess_in -> hasp server: TLS 1.3 resumed by PSK" \
  -tls1_3 psk TLSv1.3
sclient_sess_case "openssl s_client -sess_out/-sess_in -> hasp server: TLS 1.2 resumed by ticket" \
  -tls1_2 ticket TLSv1.2

# gnutls-cli --resume: connects, closes, connects again offering the session.
# gnutls_resume_case NAME PRIORITY HOW [gnutls-cli args...]
gnutls_resume_case() {
  local name=$1 prio=$2 how=$3
  shift 3
  new_case "$name"
  if ! hasp_server 2; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  note_cmd gnutls-cli -p "$PORT" 127.0.0.1 --x509cafile "$CERTS/ca.pem" --verify-hostname localhost \
    --priority "$prio" --resume "$@"
  timeout -k 2 "$TMO" gnutls-cli -p "$PORT" 127.0.0.1 --x509cafile "$CERTS/ca.pem" \
    --verify-hostname localhost --priority "$prio" --resume "$@" <"$LINE" >"$C/cli.out" 2>"$C/cli.err"
  CRC=$?
  check "$name" gnutls_resume_ok "$how" || keep_case "$name"
  bg_stop "$SPID"
}
gnutls_resume_ok() {
  local how=$1
  [ "$CRC" -eq 0 ] || fail "gnutls-cli exited $CRC: $(grep -m1 -iE 'error|alert|fail' "$C/cli.err" "$C/cli.out")" || return
  has_line "$C/cli.out" "*** This is a resumed session" ||
    fail "gnutls-cli did not print '*** This is a resumed session' ($(grep -m1 -iE 'resum' "$C/cli.out"))" || return
  server_ok || return
  local got
  got=$(resumed_list "$C/srv.err")
  [ "$got" = "no $how" ] || fail "hasp server's resumed: lines say '$got', expected 'no $how'" || return
}
gnutls_resume_case "gnutls-cli --resume -> hasp server: TLS 1.2 resumed by ticket" "$GPRIO12" ticket
gnutls_resume_case "gnutls-cli --resume (%NO_TICKETS) -> hasp server: TLS 1.2 resumed by session ID" \
  "$GPRIO12:%NO_TICKETS" session-id
gnutls_resume_case "gnutls-cli --resume --waitresumption -> hasp server: TLS 1.3 resumed by PSK" \
  "$GPRIO13" psk --waitresumption

# A session the server does not know (another hasp server process: other
# ticket keys, empty cache) gives a full handshake, not an error.
# unknown_session_case NAME VERSIONFLAG PROTO
unknown_session_case() {
  local name=$1 vflag=$2 proto=$3
  new_case "$name"
  if ! hasp_server 1 "-$vflag"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  s_client_once "$C/cli1" "$C/sess.pem" 1 "$vflag" -sess_out "$C/sess.pem"
  local crc1=$CRC
  bg_wait_for "$SPID" 5
  mv "$C/srv.err" "$C/srv1.err"
  if ! hasp_server 1 "-$vflag"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  s_client_once "$C/cli2" - 0 "$vflag" -sess_in "$C/sess.pem"
  check "$name" unknown_session_ok "$crc1" "$proto" || keep_case "$name"
  bg_stop "$SPID"
}
unknown_session_ok() {
  local crc1=$1 proto=$2
  [ "$crc1" -eq 0 ] && [ -s "$C/sess.pem" ] || fail "first connection: s_client exited $crc1, session file $(fsize "$C/sess.pem") bytes" || return
  [ "$CRC" -eq 0 ] || fail "s_client -sess_in exited $CRC: $(grep -m1 -iE 'error|alert' "$C/cli2.err") / hasp: $(first_line "$C/srv.err" 'failed')" || return
  [[ "$(sclient_session "$C/cli2.out")" == "New, $proto, "* ]] ||
    fail "s_client printed '$(sclient_session "$C/cli2.out")', expected 'New, $proto, ...' (a full handshake)" || return
  has_text "$C/cli2.out" "$(cat "$LINE")" || fail "data not echoed after the full handshake" || return
  server_ok || return
  [ "$(resumed_list "$C/srv.err")" = no ] || fail "second server: resumed: $(resumed_list "$C/srv.err")" || return
}
unknown_session_case "openssl s_client offers a TLS 1.2 ticket/session ID from another hasp server: full handshake" \
  -tls1_2 TLSv1.2
unknown_session_case "openssl s_client offers a TLS 1.3 ticket from another hasp server: full handshake" \
  -tls1_3 TLSv1.3

# No close_notify, server side. On one hasp server (session IDs, no tickets):
#   1. s_client -sess_out A, clean close     2. s_client -sess_in A: Reused (control)
#   3. s_client -sess_out B, then killed (SIGKILL: no close_notify, the server
#      reads EOF and must drop B from its cache)
#   4. s_client -sess_in B: New (not resumed).
no_close_notify_server_case() {
  local name="hasp server does not resume a session whose client vanished without close_notify (session ID)"
  new_case "$name"
  if ! hasp_server 4 --tls1_2 --no-ticket; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  s_client_once "$C/c1" "$C/a.pem" 1 -tls1_2 -sess_out "$C/a.pem"
  local rc1=$CRC
  s_client_once "$C/c2" - 0 -tls1_2 -sess_in "$C/a.pem"
  local rc2=$CRC
  # 3: keep stdin open (no data) until the session is written, then SIGKILL.
  mkfifo "$C/c3.in"
  bg_start "$C/c3" "$C/c3.in" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$CERTS/ca.pem" -verify_return_error -tls1_2 -sess_out "$C/b.pem"
  local c3=$BGPID
  wait_for "$TMO" "$c3" false >"$C/c3.in" & # holds stdin open, sends nothing
  local holder=$!
  bg_track "$holder"
  wait_for "$WAIT" "$c3" size_at_least "$C/b.pem" 1
  local had_b=$?
  # the hasp server logs the connection once its handshake is done
  wait_for "$WAIT" "$SPID" has_lines "$C/srv.err" '^hasp: connection 3: ' 1
  kill_hard "$c3"
  bg_stop "$holder"
  s_client_once "$C/c4" - 0 -tls1_2 -sess_in "$C/b.pem"
  check "$name" no_close_notify_server_ok "$rc1" "$rc2" "$had_b" || keep_case "$name"
  bg_stop "$SPID"
}
no_close_notify_server_ok() {
  local rc1=$1 rc2=$2 had_b=$3
  [ "$rc1" -eq 0 ] && [ -s "$C/a.pem" ] || fail "connection 1: s_client exited $rc1, no session written" || return
  [ "$rc2" -eq 0 ] || fail "connection 2: s_client exited $rc2" || return
  [[ "$(sclient_session "$C/c2.out")" == "Reused, TLSv1.2, "* ]] ||
    fail "control: a cleanly closed session was not resumed: '$(sclient_session "$C/c2.out")'" || return
  [ "$had_b" -eq 0 ] || fail "connection 3: s_client wrote no session before it was killed" || return
  has_text "$C/srv.err" "hasp: connection 3: the client closed the connection without close_notify" ||
    fail "hasp server did not notice the missing close_notify on connection 3 ($(first_line "$C/srv.err" '^hasp: connection 3'))" || return
  [ "$CRC" -eq 0 ] || fail "connection 4: s_client exited $CRC: $(grep -m1 -iE 'error|alert' "$C/c4.err")" || return
  [[ "$(sclient_session "$C/c4.out")" == "New, TLSv1.2, "* ]] ||
    fail "the session of the connection without close_notify was resumed: s_client printed '$(sclient_session "$C/c4.out")'" || return
  bg_wait_for "$SPID" 5
  local got
  got=$(resumed_list "$C/srv.err")
  [ "$got" = "no session-id no no" ] || fail "hasp server's resumed: lines say '$got', expected 'no session-id no no'" || return
}
no_close_notify_server_case

# ------------------------------------ (b) hasp client -> peers' servers

# s_server -www: the page tells whether the server resumed ("Reused, ...").
sserver_www() { # NACCEPT ARGS...
  local n=$1
  shift
  next_port
  bg_start "$C/srv" /dev/null openssl s_server -accept "127.0.0.1:$PORT" -naccept "$n" -www -quiet \
    -cert "$CERTS/rsa-leaf.pem" -key "$CERTS/rsa.key" -cert_chain "$CERTS/int.pem" "$@"
  SPID=$BGPID
  wait_listen "$PORT" "$SPID" || { WHY="openssl s_server did not start: $WHY $(tail -n 2 "$C/srv.err")"; return 1; }
}
gserv() { # ARGS...: gnutls-serv --echo (serves until stopped)
  next_port
  bg_start "$C/srv" /dev/null gnutls-serv --echo -p "$PORT" \
    --x509certfile "$CERTS/rsa.pem" --x509keyfile "$CERTS/rsa.key" "$@"
  SPID=$BGPID
  wait_listen "$PORT" "$SPID" || { WHY="gnutls-serv did not start: $WHY $(tail -n 2 "$C/srv.err")"; return 1; }
}
# run_hasp OUTPREFIX STDINFILE ARGS...: hasp client to $PORT, bounded.
run_hasp() {
  local out=$1 in=$2
  shift 2
  note_cmd "$HASP" client "127.0.0.1:$PORT" --servername localhost --cafile "$CERTS/ca.pem" "$@"
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" "$@" <"$in" >"$out.out" 2>"$out.err"
  HRC=$?
}
# reconnect_lines FILE: how each --reconnect resumed, space-separated.
reconnect_list() { sed -n 's/^hasp: reconnect: .*, resumed: //p' "$1" | tr '\n' ' ' | sed 's/ $//'; }
page_session() { tr -d '\r' <"$1" | grep -m1 -E '^(New|Reused), '; }

# hasp client --reconnect 2 -> s_server -www
# reconnect_sserver_case NAME HOW PROTO SUITE [hasp args...]
reconnect_sserver_case() {
  local name=$1 how=$2 proto=$3 suite=$4
  shift 4
  new_case "$name"
  if ! sserver_www 3; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  run_hasp "$C/cli" "$GET" --reconnect 2 --ign-eof "$@"
  check "$name" reconnect_sserver_ok "$how" "$proto" "$suite" || keep_case "$name"
  bg_stop "$SPID"
}
reconnect_sserver_ok() {
  local how=$1 proto=$2 suite=$3
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/cli.err")" || return
  has_line "$C/cli.err" "hasp: resumed: no" || fail "first connection: $(first_line "$C/cli.err" '^hasp: (resumed|error)')" || return
  [[ "$(page_session "$C/cli.out")" == "New, $proto, "* ]] ||
    fail "s_server's page says '$(page_session "$C/cli.out")', expected 'New, $proto, ...'" || return
  local got
  got=$(reconnect_list "$C/cli.err")
  [ "$got" = "$how $how" ] || fail "hasp: reconnect lines say resumed '$got', expected '$how $how'" || return
  [ "$(count_lines "$C/cli.err" "^hasp: reconnect: $proto $suite, resumed: $how\$")" -eq 2 ] ||
    fail "reconnect lines: $(grep '^hasp: reconnect' "$C/cli.err" | tr '\n' ';')" || return
  bg_wait_for "$SPID" 5
  [ "$BGRC" -eq 0 ] || fail "openssl s_server exited $BGRC: $(grep -m1 -iE 'error' "$C/srv.err")" || return
}
reconnect_sserver_case "hasp client --reconnect 2 -> openssl s_server: TLS 1.2 resumed by ticket" \
  ticket TLSv1.2 "$SUITE12" --tls1_2
reconnect_sserver_case "hasp client --reconnect 2 --no-ticket -> openssl s_server: TLS 1.2 resumed by session ID" \
  session-id TLSv1.2 "$SUITE12" --tls1_2 --no-ticket
reconnect_sserver_case "hasp client --reconnect 2 -> openssl s_server: TLS 1.3 resumed by PSK" \
  psk TLSv1.3 "$SUITE13" --tls1_3

# --sess-out, then --sess-in (two hasp processes) -> s_server -www.
# sessfile_sserver_case NAME HOW PROTO [hasp args...]
sessfile_sserver_case() {
  local name=$1 how=$2 proto=$3
  shift 3
  new_case "$name"
  if ! sserver_www 2; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  run_hasp "$C/cli1" "$GET" --ign-eof --sess-out "$C/sess" "$@"
  local rc1=$HRC
  run_hasp "$C/cli2" "$GET" --ign-eof --sess-in "$C/sess" "$@"
  check "$name" sessfile_sserver_ok "$rc1" "$how" "$proto" || keep_case "$name"
  bg_stop "$SPID"
}
sessfile_sserver_ok() {
  local rc1=$1 how=$2 proto=$3
  [ "$rc1" -eq 0 ] || fail "hasp client --sess-out exited $rc1: $(hasp_error "$C/cli1.err")" || return
  [ -s "$C/sess" ] || fail "--sess-out wrote no session file" || return
  [ "$(stat -c %a "$C/sess")" = 600 ] || fail "the session file has mode $(stat -c %a "$C/sess"), expected 600" || return
  [ "$HRC" -eq 0 ] || fail "hasp client --sess-in exited $HRC: $(hasp_error "$C/cli2.err")" || return
  has_line "$C/cli2.err" "hasp: resumed: $how" ||
    fail "hasp client --sess-in: '$(first_line "$C/cli2.err" '^hasp: (resumed|error)')', expected 'hasp: resumed: $how'" || return
  [[ "$(page_session "$C/cli2.out")" == "Reused, $proto, "* ]] ||
    fail "s_server's page says '$(page_session "$C/cli2.out")', expected 'Reused, $proto, ...'" || return
}
sessfile_sserver_case "hasp client --sess-out/--sess-in -> openssl s_server: TLS 1.2 ticket, server agrees" \
  ticket TLSv1.2 --tls1_2
sessfile_sserver_case "hasp client --sess-out/--sess-in --no-ticket -> openssl s_server: TLS 1.2 session ID, server agrees" \
  session-id TLSv1.2 --tls1_2 --no-ticket
sessfile_sserver_case "hasp client --sess-out/--sess-in -> openssl s_server: TLS 1.3 PSK, server agrees" \
  psk TLSv1.3 --tls1_3

# hasp client --reconnect 2 -> gnutls-serv --echo (it prints
# "*** This is a resumed session" when it resumes).
# reconnect_gserv_case NAME PRIORITY HOW PROTO SUITE [hasp args...]
reconnect_gserv_case() {
  local name=$1 prio=$2 how=$3 proto=$4 suite=$5
  shift 5
  new_case "$name"
  if ! gserv --priority "$prio"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  run_hasp "$C/cli" "$LINE" --reconnect 2 "$@"
  # gnutls-serv logs each connection's end; let the last one land.
  wait_for 2 "$SPID" has_lines "$C/srv.out" '^\*\*\* This is a resumed session' 2
  check "$name" reconnect_gserv_ok "$how" "$proto" "$suite" || keep_case "$name"
  bg_stop "$SPID"
}
reconnect_gserv_ok() {
  local how=$1 proto=$2 suite=$3
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/cli.err")" || return
  same_bytes "$LINE" "$C/cli.out" "echoed data" || return
  local got
  got=$(reconnect_list "$C/cli.err")
  [ "$got" = "$how $how" ] || fail "hasp: reconnect lines say resumed '$got', expected '$how $how'" || return
  [ "$(count_lines "$C/cli.err" "^hasp: reconnect: $proto $suite, resumed: $how\$")" -eq 2 ] ||
    fail "reconnect lines: $(grep '^hasp: reconnect' "$C/cli.err" | tr '\n' ';')" || return
  local n
  n=$(count_lines "$C/srv.out" '^\*\*\* This is a resumed session')
  [ "$n" -eq 2 ] || fail "gnutls-serv reports $n resumed sessions, expected 2" || return
}
reconnect_gserv_case "hasp client --reconnect 2 -> gnutls-serv: TLS 1.2 resumed by ticket" \
  "$GPRIO12" ticket TLSv1.2 "$SUITE12"
reconnect_gserv_case "hasp client --reconnect 2 --no-ticket -> gnutls-serv: TLS 1.2 resumed by session ID" \
  "$GPRIO12" session-id TLSv1.2 "$SUITE12" --no-ticket
reconnect_gserv_case "hasp client --reconnect 2 -> gnutls-serv: TLS 1.3 resumed by PSK" \
  "$GPRIO13" psk TLSv1.3 "$SUITE13"

# --sess-out / --sess-in -> gnutls-serv.
sessfile_gserv_case() { # NAME PRIORITY HOW [hasp args...]
  local name=$1 prio=$2 how=$3
  shift 3
  new_case "$name"
  if ! gserv --priority "$prio"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  run_hasp "$C/cli1" "$LINE" --sess-out "$C/sess" "$@"
  local rc1=$HRC
  run_hasp "$C/cli2" "$LINE" --sess-in "$C/sess" "$@"
  wait_for 2 "$SPID" has_lines "$C/srv.out" '^\*\*\* This is a resumed session' 1
  check "$name" sessfile_gserv_ok "$rc1" "$how" || keep_case "$name"
  bg_stop "$SPID"
}
sessfile_gserv_ok() {
  local rc1=$1 how=$2
  [ "$rc1" -eq 0 ] && [ -s "$C/sess" ] || fail "hasp client --sess-out exited $rc1 ($(hasp_error "$C/cli1.err")), session file $(fsize "$C/sess") bytes" || return
  [ "$HRC" -eq 0 ] || fail "hasp client --sess-in exited $HRC: $(hasp_error "$C/cli2.err")" || return
  has_line "$C/cli2.err" "hasp: resumed: $how" ||
    fail "hasp client --sess-in: '$(first_line "$C/cli2.err" '^hasp: (resumed|error)')', expected 'hasp: resumed: $how'" || return
  same_bytes "$LINE" "$C/cli2.out" "echoed data" || return
  [ "$(count_lines "$C/srv.out" '^\*\*\* This is a resumed session')" -eq 1 ] ||
    fail "gnutls-serv did not report the second connection as resumed" || return
}
sessfile_gserv_case "hasp client --sess-out/--sess-in -> gnutls-serv: TLS 1.2 ticket" "$GPRIO12" ticket
sessfile_gserv_case "hasp client --sess-out/--sess-in -> gnutls-serv: TLS 1.3 PSK" "$GPRIO13" psk

# A session the server cannot resume (from an s_server that is gone): a full
# handshake, exit 0.
client_unknown_session_case() {
  local name="hasp client --sess-in with a session the server does not know: full handshake"
  new_case "$name"
  if ! sserver_www 1; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  run_hasp "$C/cli1" "$GET" --ign-eof --tls1_2 --sess-out "$C/sess"
  local rc1=$HRC
  bg_wait_for "$SPID" 5
  mv "$C/srv.err" "$C/srv1.err"
  if ! sserver_www 1; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  run_hasp "$C/cli2" "$GET" --ign-eof --tls1_2 --sess-in "$C/sess"
  check "$name" client_unknown_session_ok "$rc1" || keep_case "$name"
  bg_stop "$SPID"
}
client_unknown_session_ok() {
  [ "$1" -eq 0 ] && [ -s "$C/sess" ] || fail "first connection exited $1, session file $(fsize "$C/sess") bytes" || return
  [ "$HRC" -eq 0 ] || fail "hasp client --sess-in exited $HRC: $(hasp_error "$C/cli2.err")" || return
  has_line "$C/cli2.err" "hasp: resumed: no" || fail "$(first_line "$C/cli2.err" '^hasp: (resumed|error)')" || return
  [[ "$(page_session "$C/cli2.out")" == "New, TLSv1.2, "* ]] ||
    fail "s_server's page says '$(page_session "$C/cli2.out")', expected 'New, TLSv1.2, ...'" || return
}
client_unknown_session_case

# No close_notify, client side: s_server is killed (SIGKILL) in the middle of
# the connection. hasp client must fail ("without close_notify"), write no
# session for --sess-out and not reconnect.
no_close_notify_client_case() {
  local name="hasp client saves no session when the server vanished without close_notify"
  new_case "$name"
  next_port
  mkfifo "$C/srv.in" "$C/cli.in"
  bg_start "$C/srv" "$C/srv.in" openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -quiet -tls1_2 \
    -cert "$CERTS/rsa-leaf.pem" -key "$CERTS/rsa.key" -cert_chain "$CERTS/int.pem"
  SPID=$BGPID
  { cat "$LINE"; wait_for "$TMO" "$SPID" false; } >"$C/srv.in" &
  bg_track $!
  if ! wait_listen "$PORT" "$SPID"; then notok "$name" "s_server did not start: $WHY"; keep_case "$name"; return; fi
  bg_start "$C/cli" "$C/cli.in" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" --tls1_2 --sess-out "$C/sess" --reconnect 1
  local cpid=$BGPID
  wait_for "$TMO" "$cpid" false >"$C/cli.in" & # stdin open, no data
  bg_track $!
  # the server's line arrived: the handshake is over and data flowed
  wait_for "$WAIT" "$cpid" size_at_least "$C/cli.out" "$NLINE"
  kill_hard "$SPID"
  bg_wait_for "$cpid" "$WAIT"
  HRC=$BGRC
  check "$name" no_close_notify_client_ok || keep_case "$name"
}
no_close_notify_client_ok() {
  same_bytes "$LINE" "$C/cli.out" "data before the server vanished" || return
  [ "$HRC" -eq 1 ] || fail "hasp client exited $HRC, expected 1" || return
  has_text "$C/cli.err" "hasp: error: the server closed the connection without close_notify" ||
    fail "hasp client said '$(hasp_error "$C/cli.err")'" || return
  [ ! -e "$C/sess" ] || fail "hasp client wrote a session file ($(fsize "$C/sess") bytes) for a truncated connection" || return
  ! grep -q '^hasp: reconnect:' "$C/cli.err" || fail "hasp client reconnected: $(first_line "$C/cli.err" '^hasp: reconnect')" || return
}
no_close_notify_client_case

# TLS 1.3 servers send their tickets after the handshake. Input typed after
# they arrived must still go out (the client must not sit in a read that
# waits for application data while stdin has some).
late_input_case() {
  local name="hasp client (TLS 1.3) forwards stdin that arrives after the server's tickets (gnutls-serv --echo)"
  new_case "$name"
  if ! gserv --priority "$GPRIO13"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" --tls1_3 --trace
  local cpid=$BGPID
  {
    wait_for "$WAIT" "$cpid" has_lines "$C/cli.err" 'NewSessionTicket' 1
    sleep 0.2
    cat "$LINE"
    wait_for 5 "$cpid" size_at_least "$C/cli.out" "$NLINE"
  } >"$C/cli.in" &
  bg_track $!
  bg_wait_for "$cpid" 8
  HRC=$BGRC
  check "$name" late_input_ok || keep_case "$name"
  bg_stop "$SPID"
}
late_input_ok() {
  has_lines "$C/cli.err" 'NewSessionTicket' 1 || fail "no NewSessionTicket arrived" || return
  same_bytes "$LINE" "$C/cli.out" "echoed data (sent after the tickets)" ||
    fail "$WHY; hasp client $([ "$HRC" = 124 ] && echo 'hung (blocked reading the socket after the tickets?)' || echo "exited $HRC: $(hasp_error "$C/cli.err")")" || return
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/cli.err")" || return
}
late_input_case

finish

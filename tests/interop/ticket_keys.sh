#!/usr/bin/env bash
# Ticket keys shared by servers (issue 18, part 1): two hasp servers on two
# ports stand for two machines and read one --ticket-keys file. A session
# from A resumes on B (TLS 1.2 ticket, TLS 1.3 PSK; hasp client and openssl
# s_client); after a rotation (a new key prepended, SIGHUP) old tickets
# still resume until their key is dropped, then a full handshake follows; a
# key file others can read, or of a wrong size, is refused with a sentence;
# a bad file at SIGHUP keeps the keys in use. A runs the event loop (--www),
# B the blocking loop (--www --trace), so both reload paths are covered.
# Usage: bash tests/interop/ticket_keys.sh BUILD_DIR
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl
need_hasp
gen_certs

GET="$T/get"
printf 'GET / HTTP/1.0\r\n\r\n' >"$GET"
K1="$T/k1.key"
K2="$T/k2.key"
K48="$T/k48.key"
head -c 80 /dev/urandom >"$K1"
head -c 80 /dev/urandom >"$K2"
head -c 48 /dev/urandom >"$K48"
chmod 600 "$K1" "$K2" "$K48"

# start_server VAR OUT ARGS...: hasp server --www on a new port; VAR_PID, VAR_PORT.
start_server() {
  local var=$1 out=$2
  shift 2
  next_port
  bg_start "$out" /dev/null "$HASP" server --accept "$PORT" --www \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" "$@"
  local pid=$BGPID
  wait_listen "$PORT" "$pid" || { WHY="hasp server did not start: $WHY $(tail -n 2 "$out.err")"; return 1; }
  printf -v "${var}_PID" '%s' "$pid"
  printf -v "${var}_PORT" '%s' "$PORT"
}
# hasp_get PORT OUT ARGS...: hasp client GET / to PORT; HRC, the verdict in RESUMED.
hasp_get() {
  local port=$1 out=$2
  shift 2
  note_cmd "$HASP" client "127.0.0.1:$port" --servername localhost --cafile "$CERTS/ca.pem" --ign-eof "$@"
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$port" --servername localhost \
    --cafile "$CERTS/ca.pem" --ign-eof "$@" <"$GET" >"$out.out" 2>"$out.err"
  HRC=$?
  RESUMED=$(sed -n 's/^hasp: resumed: //p' "$out.err" | head -n 1)
}
# resumes_on PORT SESSFILE HOW VERSIONFLAG: hasp client --sess-in resumes as HOW.
resumes_on() {
  local port=$1 sess=$2 how=$3 vflag=$4
  hasp_get "$port" "$C/resume-$RANDOM" --sess-in "$sess" "$vflag"
  [ "$HRC" -eq 0 ] || fail "hasp client --sess-in exited $HRC" || return
  [ "$RESUMED" = "$how" ] || fail "hasp client --sess-in on port $port: resumed: '$RESUMED', expected '$how'" || return
}
new_session() { # PORT SESSFILE VERSIONFLAG
  hasp_get "$1" "$C/new-$RANDOM" --sess-out "$2" "$3"
  [ "$HRC" -eq 0 ] || fail "hasp client --sess-out exited $HRC" || return
  [ "$RESUMED" = no ] || fail "the first connection says resumed: '$RESUMED'" || return
  [ -s "$2" ] || fail "--sess-out wrote no session" || return
}

# ---------------------------------------------------- across two servers

across_ok() {
  local vflag=$1 how=$2
  new_session "$A_PORT" "$C/sess" "$vflag" || return
  resumes_on "$B_PORT" "$C/sess" "$how" "$vflag" || return
  resumes_on "$A_PORT" "$C/sess" "$how" "$vflag" || return
}
across_case() { # NAME KEYFILE VERSIONFLAG HOW
  local name=$1 key=$2 vflag=$3 how=$4
  new_case "$name"
  start_server A "$C/a" --ticket-keys "$key" || { notok "$name" "$WHY"; keep_case "$name"; return; }
  start_server B "$C/b" --ticket-keys "$key" --trace || { notok "$name" "$WHY"; keep_case "$name"; return; }
  check "$name" across_ok "$vflag" "$how" || keep_case "$name"
  bg_stop "$A_PID"
  bg_stop "$B_PID"
}
across_case "hasp client: a TLS 1.2 ticket from server A resumes on server B (one 80-byte key file)" \
  "$K1" --tls1_2 ticket
across_case "hasp client: a TLS 1.3 ticket from server A resumes on server B (psk)" "$K1" --tls1_3 psk
across_case "hasp client: a TLS 1.3 ticket from A resumes on B with a 48-byte key file" "$K48" --tls1_3 psk

# openssl s_client -sess_out on A, -sess_in on B.
sclient() { # PORT OUT ARGS...
  local port=$1 out=$2
  shift 2
  note_cmd openssl s_client -connect "127.0.0.1:$port" -servername localhost -CAfile "$CERTS/ca.pem" "$@"
  timeout -k 2 "$TMO" openssl s_client -connect "127.0.0.1:$port" -servername localhost \
    -CAfile "$CERTS/ca.pem" -verify_return_error -ign_eof "$@" <"$GET" >"$out.out" 2>"$out.err"
  CRC=$?
}
sclient_ok() {
  local vflag=$1 proto=$2
  sclient "$A_PORT" "$C/s1" "$vflag" -sess_out "$C/sess.pem"
  [ "$CRC" -eq 0 ] || fail "s_client to A exited $CRC: $(grep -m1 -iE 'error|alert' "$C/s1.err")" || return
  [ -s "$C/sess.pem" ] || fail "s_client -sess_out wrote no session" || return
  sclient "$B_PORT" "$C/s2" "$vflag" -sess_in "$C/sess.pem"
  [ "$CRC" -eq 0 ] || fail "s_client to B exited $CRC: $(grep -m1 -iE 'error|alert' "$C/s2.err")" || return
  local line
  line=$(grep -m1 -E '^(New|Reused), ' "$C/s2.out")
  [[ "$line" == "Reused, $proto, "* ]] || fail "s_client -sess_in on B printed '$line', expected 'Reused, $proto, ...'" || return
  has_text "$C/s2.out" "HTTP/1.0 200" || fail "B sent no page on the resumed connection" || return
}
sclient_case() { # NAME VERSIONFLAG PROTO
  local name=$1
  new_case "$name"
  start_server A "$C/a" --ticket-keys "$K1" || { notok "$name" "$WHY"; keep_case "$name"; return; }
  start_server B "$C/b" --ticket-keys "$K1" --trace || { notok "$name" "$WHY"; keep_case "$name"; return; }
  check "$name" sclient_ok "$2" "$3" || keep_case "$name"
  bg_stop "$A_PID"
  bg_stop "$B_PID"
}
sclient_case "openssl s_client -sess_out on A, -sess_in on B: TLS 1.2 ticket reused" -tls1_2 TLSv1.2
sclient_case "openssl s_client -sess_out on A, -sess_in on B: TLS 1.3 ticket reused" -tls1_3 TLSv1.3

# ---------------------------------------------------- rotation by SIGHUP

# sighup PID OUTFILE N: send SIGHUP to the hasp server under PID (the
# `timeout` bg_start runs it in: signalling timeout itself would arm its
# kill timer); wait for the Nth "SIGHUP:" line.
sighup() {
  local child
  child=$(cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{print $1}')
  [ -n "$child" ] || fail "no hasp server under pid $1" || return
  kill -HUP "$child"
  wait_for 5 "$1" has_lines "$2" '^hasp: SIGHUP: ' "$3" || fail "no 'hasp: SIGHUP:' line $3 in $(basename "$2")" || return
}
rotation_ok() {
  local vflag=$1 how=$2
  new_session "$A_PORT" "$C/old" "$vflag" || return # sealed with K1
  cat "$K2" "$K1" >"$C/keys.new" && chmod 600 "$C/keys.new" && mv "$C/keys.new" "$C/keys"
  sighup "$A_PID" "$C/a.err" 1 || return
  sighup "$B_PID" "$C/b.err" 1 || return
  has_line "$C/a.err" "hasp: SIGHUP: ticket keys read again from $C/keys" ||
    fail "A says '$(first_line "$C/a.err" '^hasp: SIGHUP')'" || return
  new_session "$A_PORT" "$C/new" "$vflag" || return # sealed with K2
  resumes_on "$B_PORT" "$C/new" "$how" "$vflag" || return
  resumes_on "$B_PORT" "$C/old" "$how" "$vflag" || return
  # a bad file at SIGHUP: the keys in use stay
  chmod 644 "$C/keys"
  sighup "$B_PID" "$C/b.err" 2 || return
  has_text "$C/b.err" "hasp: SIGHUP: kept the ticket keys in use: '$C/keys' is readable by its group or others" ||
    fail "B says '$(grep '^hasp: SIGHUP' "$C/b.err" | tail -n 1)'" || return
  resumes_on "$B_PORT" "$C/old" "$how" "$vflag" || return
  # K1 dropped: its tickets get a full handshake, K2's still resume
  cp "$K2" "$C/keys" && chmod 600 "$C/keys"
  sighup "$B_PID" "$C/b.err" 3 || return
  resumes_on "$B_PORT" "$C/old" no "$vflag" || return
  resumes_on "$B_PORT" "$C/new" "$how" "$vflag" || return
  ! grep -qE '^hasp: connection [0-9]+ failed' "$C/a.err" "$C/b.err" ||
    fail "a connection failed: $(grep -hE '^hasp: connection [0-9]+ failed' "$C/a.err" "$C/b.err" | head -n 1)" || return
}
rotation_case() { # NAME VERSIONFLAG HOW
  local name=$1
  new_case "$name"
  cp "$K1" "$C/keys" && chmod 600 "$C/keys"
  start_server A "$C/a" --ticket-keys "$C/keys" || { notok "$name" "$WHY"; keep_case "$name"; return; }
  start_server B "$C/b" --ticket-keys "$C/keys" --trace || { notok "$name" "$WHY"; keep_case "$name"; return; }
  check "$name" rotation_ok "$2" "$3" || keep_case "$name"
  bg_stop "$A_PID"
  bg_stop "$B_PID"
}
rotation_case "rotation by SIGHUP (TLS 1.2): new key first, old tickets resume until their key is dropped, then a full handshake" \
  --tls1_2 ticket
rotation_case "rotation by SIGHUP (TLS 1.3): new key first, old tickets resume until their key is dropped, then a full handshake" \
  --tls1_3 psk

# A SIGHUP drops no connection: a keep-alive connection open across it
# gets its second page.
inflight_ok() {
  rm -f "$C/cli.in"
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" "$HASP" client "127.0.0.1:$A_PORT" --servername localhost \
    --cafile "$CERTS/ca.pem"
  local cpid=$BGPID
  exec 7>"$C/cli.in"
  printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' >&7
  wait_for 5 "$cpid" has_lines "$C/cli.out" '^HTTP/1.1 200' 1 || { exec 7>&-; fail "no first page"; return; }
  sighup "$A_PID" "$C/a.err" 1 || { exec 7>&-; return 1; }
  printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&7
  wait_for 5 "$cpid" has_lines "$C/cli.out" '^HTTP/1.1 200' 2
  local pages
  pages=$(count_lines "$C/cli.out" '^HTTP/1.1 200')
  exec 7>&-
  bg_wait_for "$cpid" 5
  [ "$pages" -eq 2 ] || fail "the connection open across SIGHUP got $pages pages, expected 2" || return
  [ "$BGRC" -eq 0 ] || fail "hasp client exited $BGRC: $(hasp_error "$C/cli.err")" || return
}
name="SIGHUP drops no connection: a keep-alive connection open across it gets its second page"
new_case "$name"
cp "$K1" "$C/keys" && chmod 600 "$C/keys"
if start_server A "$C/a" --ticket-keys "$C/keys"; then check "$name" inflight_ok || keep_case "$name"; else notok "$name" "$WHY"; keep_case "$name"; fi
bg_stop "$A_PID"

# ---------------------------------------------------- refused key files

refused_ok() {
  local phrase=$1
  [ "$SRC" -eq 2 ] || fail "hasp server exited $SRC, expected 2 (a usage error)" || return
  grep -qF -- "$phrase" "$C/srv.err" || fail "hasp server said '$(head -c 300 "$C/srv.err")', expected '$phrase'" || return
}
refused_case() { # NAME FILE PHRASE
  local name=$1 file=$2 phrase=$3
  new_case "$name"
  next_port
  note_cmd "$HASP" server --accept "$PORT" --www --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --ticket-keys "$file"
  timeout -k 2 5 "$HASP" server --accept "$PORT" --www --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" \
    --ticket-keys "$file" </dev/null >"$C/srv.out" 2>"$C/srv.err"
  SRC=$?
  check "$name" refused_ok "$phrase" || keep_case "$name"
}
cp "$K1" "$T/open.key" && chmod 644 "$T/open.key"
refused_case "--ticket-keys with a file others can read is refused" "$T/open.key" \
  "'$T/open.key' is readable by its group or others (mode 644): ticket keys are secrets; chmod 600"
head -c 50 /dev/urandom >"$T/short.key" && chmod 600 "$T/short.key"
refused_case "--ticket-keys with a 50-byte file is refused" "$T/short.key" \
  "'$T/short.key' has 50 bytes: a ticket key file holds 80-byte or 48-byte keys"
refused_case "--ticket-keys with a missing file is refused" "$T/none.key" "cannot open '$T/none.key'"
cat "$K1" "$K1" >"$T/twice.key" && chmod 600 "$T/twice.key"
refused_case "--ticket-keys with one key twice is refused" "$T/twice.key" \
  "ticket keys 1 and 2 have the same name"

finish

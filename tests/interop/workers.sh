#!/usr/bin/env bash
# hasp server --www --workers N (issue 18, part 3): N processes on one port
# (SO_REUSEPORT) that share the TLS 1.2 session cache and the ticket keys.
# A session made on one worker resumes on another (session ID, TLS 1.2
# ticket, TLS 1.3 PSK; hasp client and openssl s_client); a worker killed
# with SIGKILL is restarted and logged, and the sessions survive it; SIGTERM
# drains (the keep-alive connection gets close_notify, the server exits 0);
# the combinations that cannot be right are refused with a sentence.
# Each page names the worker that served it ("Worker: N (pid P)").
# Usage: bash tests/interop/workers.sh BUILD_DIR
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl
need_hasp
gen_certs

GET="$T/get"
printf 'GET / HTTP/1.0\r\n\r\n' >"$GET"

start_workers() { # OUT ARGS...: hasp server --www --workers 2; SPID (the timeout wrapper), PARENT
  local out=$1
  shift
  next_port
  bg_start "$out" /dev/null "$HASP" server --accept "$PORT" --www --workers 2 \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" "$@"
  SPID=$BGPID
  wait_listen "$PORT" "$SPID" || { WHY="hasp server did not start: $WHY $(tail -n 2 "$out.err")"; return 1; }
  PARENT=$(awk '{print $1}' "/proc/$SPID/task/$SPID/children" 2>/dev/null)
  [ -n "$PARENT" ] || { WHY="no hasp server under $SPID"; return 1; }
}
# get OUT ARGS...: hasp client GET /; HRC, WORKER (the pid that served), HOW (resumed how).
get() {
  local out=$1
  shift
  note_cmd "$HASP" client "127.0.0.1:$PORT" --servername localhost --cafile "$CERTS/ca.pem" --ign-eof "$@"
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" --ign-eof "$@" <"$GET" >"$out.out" 2>"$out.err"
  HRC=$?
  WORKER=$(sed -n 's/^Worker: [0-9]* (pid \([0-9]*\))$/\1/p' "$out.out" | head -n 1)
  HOW=$(sed -n 's/^hasp: resumed: //p' "$out.err" | head -n 1)
}
# resumed_elsewhere SESS HOW ARGS...: resume SESS until a worker other than
# FIRST serves it (at most 16 tries); every try must resume as HOW.
resumed_elsewhere() {
  local sess=$1 how=$2
  shift 2
  local i
  for i in $(seq 1 16); do
    get "$C/r$i" --sess-in "$sess" "$@"
    [ "$HRC" -eq 0 ] || fail "resumption $i: hasp client exited $HRC: $(hasp_error "$C/r$i.err")" || return
    [ "$HOW" = "$how" ] || fail "resumption $i (worker pid $WORKER): resumed: '$HOW', expected '$how'" || return
    [ -n "$WORKER" ] || fail "the page names no worker" || return
    [ "$WORKER" != "$FIRST" ] && return 0
  done
  fail "16 connections all landed on worker pid $FIRST: SO_REUSEPORT did not spread them"
}
across_ok() {
  local how=$1
  shift
  get "$C/first" --sess-out "$C/sess" "$@"
  [ "$HRC" -eq 0 ] || fail "first connection: hasp client exited $HRC: $(hasp_error "$C/first.err")" || return
  [ "$HOW" = no ] || fail "first connection resumed: '$HOW'" || return
  FIRST=$WORKER
  resumed_elsewhere "$C/sess" "$how" "$@" || return
}
across_case() { # NAME HOW CLIENT-ARGS...
  local name=$1 how=$2
  shift 2
  new_case "$name"
  start_workers "$C/srv" || { notok "$name" "$WHY"; keep_case "$name"; return; }
  check "$name" across_ok "$how" "$@" || keep_case "$name"
  bg_stop "$SPID"
}
across_case "--workers 2: a TLS 1.2 session ID made on one worker resumes on the other" \
  session-id --tls1_2 --no-ticket
across_case "--workers 2: a TLS 1.2 ticket made on one worker resumes on the other" ticket --tls1_2
across_case "--workers 2: a TLS 1.3 ticket made on one worker resumes on the other" psk --tls1_3

# openssl s_client: -sess_out, then -sess_in until another worker answers.
sclient_ok() {
  timeout -k 2 "$TMO" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$CERTS/ca.pem" -verify_return_error -ign_eof -tls1_2 -no_ticket -sess_out "$C/sess.pem" \
    <"$GET" >"$C/s0.out" 2>"$C/s0.err" || fail "s_client -sess_out failed: $(grep -m1 -iE 'error|alert' "$C/s0.err")" || return
  local first i w
  first=$(sed -n 's/^Worker: [0-9]* (pid \([0-9]*\))$/\1/p' "$C/s0.out")
  for i in $(seq 1 16); do
    timeout -k 2 "$TMO" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
      -CAfile "$CERTS/ca.pem" -verify_return_error -ign_eof -tls1_2 -no_ticket -sess_in "$C/sess.pem" \
      <"$GET" >"$C/s$i.out" 2>"$C/s$i.err" || fail "s_client -sess_in $i failed" || return
    grep -q '^Reused, TLSv1.2, ' "$C/s$i.out" ||
      fail "s_client -sess_in $i: '$(grep -m1 -E '^(New|Reused), ' "$C/s$i.out")', expected 'Reused, TLSv1.2, ...'" || return
    w=$(sed -n 's/^Worker: [0-9]* (pid \([0-9]*\))$/\1/p' "$C/s$i.out")
    [ -n "$w" ] && [ "$w" != "$first" ] && return 0
  done
  fail "16 connections all landed on worker pid $first"
}
name="openssl s_client -sess_out/-sess_in -> --workers 2: the session ID resumes on the other worker"
new_case "$name"
if start_workers "$C/srv"; then check "$name" sclient_ok || keep_case "$name"; else notok "$name" "$WHY"; keep_case "$name"; fi
bg_stop "$SPID"

# A worker killed with SIGKILL: logged, started again; the sessions survive.
restart_ok() {
  get "$C/first" --sess-out "$C/sess" --tls1_2 --no-ticket
  [ "$HRC" -eq 0 ] && [ -n "$WORKER" ] || fail "first connection failed ($HRC)" || return
  local victim=$WORKER
  kill -KILL "$victim"
  wait_for 5 - has_lines "$C/srv.err" "^hasp: worker [12] \\(pid $victim\\) died of signal 9 \\(Killed\\); started it again \\(pid [0-9]+\\)\$" 1 ||
    fail "no restart line for pid $victim: $(grep '^hasp: worker [12] (' "$C/srv.err" | head -n 1)" || return
  local i ok=0 seen=""
  for i in $(seq 1 8); do
    get "$C/after$i" --sess-in "$C/sess" --tls1_2 --no-ticket
    [ "$HRC" -eq 0 ] || fail "connection $i after the kill: hasp client exited $HRC" || return
    [ "$HOW" = session-id ] || fail "connection $i after the kill: resumed '$HOW', expected session-id" || return
    [ "$WORKER" != "$victim" ] || fail "the killed worker (pid $victim) served connection $i" || return
    seen="$seen $WORKER"
    ok=$((ok + 1))
  done
  [ "$(printf '%s\n' $seen | sort -u | wc -l)" -eq 2 ] ||
    fail "after the restart only worker pid(s)$seen answered: the new worker takes no connections" || return
}
name="--workers 2: a worker killed with SIGKILL is logged and started again; its sessions survive"
new_case "$name"
if start_workers "$C/srv"; then check "$name" restart_ok || keep_case "$name"; else notok "$name" "$WHY"; keep_case "$name"; fi
bg_stop "$SPID"

# SIGTERM drains: an idle keep-alive connection gets close_notify, the server exits 0.
drain_ok() {
  rm -f "$C/cli.in"
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" --trace
  local cpid=$BGPID
  {
    printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'
    sleep 30
  } >"$C/cli.in" &
  bg_track $!
  wait_for 5 "$cpid" has_text "$C/cli.out" "</html>" || fail "no page on the keep-alive connection" || return
  kill -TERM "$PARENT"
  bg_wait_for "$cpid" 15
  local crc=$BGRC
  bg_wait_for "$SPID" 15
  [ "$BGRC" -eq 0 ] || fail "hasp server exited $BGRC after SIGTERM, expected 0" || return
  has_line "$C/srv.err" "hasp: the workers stopped" || fail "no 'hasp: the workers stopped' line" || return
  [ "$crc" -eq 0 ] || fail "hasp client exited $crc: $(hasp_error "$C/cli.err")" || return
  grep -qE 'alert close_notify\(0\) \(warning\) from the server' "$C/cli.err" ||
    fail "the client saw no close_notify: $(tail -n 2 "$C/cli.err" | tr '\n' ' ')" || return
}
name="--workers 2: SIGTERM drains (the idle keep-alive connection gets close_notify, exit 0)"
new_case "$name"
if start_workers "$C/srv"; then check "$name" drain_ok || keep_case "$name"; else notok "$name" "$WHY"; keep_case "$name"; fi
bg_stop "$SPID"

# --workers auto: one per core.
auto_ok() {
  wait_for 5 - has_line "$C/srv.err" "hasp: $(nproc) workers on $PORT" ||
    fail "expected 'hasp: $(nproc) workers on $PORT', got '$(first_line "$C/srv.err" 'workers on')'" || return
}
name="--workers auto: one worker per core ($(nproc))"
new_case "$name"
next_port
bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --www --workers auto \
  --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key"
SPID=$BGPID
if wait_listen "$PORT" "$SPID"; then check "$name" auto_ok || keep_case "$name"; else notok "$name" "did not start: $WHY"; keep_case "$name"; fi
bg_stop "$SPID"

# Refused, with the reason.
refused_ok() {
  [ "$SRC" -eq 2 ] || fail "hasp server exited $SRC, expected 2" || return
  grep -qF -- "$1" "$C/srv.err" || fail "hasp server said '$(head -c 300 "$C/srv.err")', expected '$1'" || return
}
refused_case() { # NAME PHRASE ARGS...
  local name=$1 phrase=$2
  shift 2
  new_case "$name"
  next_port
  timeout -k 2 5 "$HASP" server --accept "$PORT" --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" "$@" \
    </dev/null >"$C/srv.out" 2>"$C/srv.err"
  SRC=$?
  check "$name" refused_ok "$phrase" || keep_case "$name"
}
refused_case "--workers 2 without --www is refused" "--workers 2 needs --www (the event loop)" --workers 2
refused_case "--workers 2 with --early-data is refused (replay memory per worker)" \
  "so a replay sent to another worker would be accepted" --www --workers 2 --early-data
refused_case "--workers 0 is refused" "--workers needs a number from 1 to 256, or 'auto'" --www --workers 0

finish

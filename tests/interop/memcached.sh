#!/usr/bin/env bash
# hasp server --session-cache memcached:// (issue 18, parts 2 and 4): two
# servers (two machines) with one --ticket-keys file and one memcached
# (started here on a free loopback port). A TLS 1.2 session ID from A
# resumes on B (hasp client, openssl s_client); memcached holds no master
# secret in clear; memcached killed: handshakes go on as full ones with one
# warning, and resumption comes back with it; a corrupted entry and an entry
# sealed by another fleet's keys are misses, not failures; with --workers 2
# the workers share it; a missing --ticket-keys is refused.
# Usage: bash tests/interop/memcached.sh BUILD_DIR
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl python3 memcached
need_hasp
gen_certs
if "$HASP" server --accept 1 --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" \
  --session-cache memcached://127.0.0.1:1 2>&1 </dev/null | grep -q "built without libmemcached"; then
  skip "memcached session cache" "this hasp was built without libmemcached (apt-get install libmemcached-dev)"
  finish
fi

GET="$T/get"
printf 'GET / HTTP/1.0\r\n\r\n' >"$GET"
head -c 80 /dev/urandom >"$T/k1" && chmod 600 "$T/k1"
head -c 80 /dev/urandom >"$T/k2" && chmod 600 "$T/k2"
# mc.py PORT dump|corrupt: the hasp-s: entries (key, length, hex value) / flip a byte of each
cat >"$T/mc.py" <<'EOF'
import socket, sys
port, what = int(sys.argv[1]), sys.argv[2]
def talk(cmd, end=b"END\r\n"):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(cmd)
    buf = b""
    while not buf.endswith(end) and not buf.endswith(b"STORED\r\n") and not buf.endswith(b"ERROR\r\n"):
        d = s.recv(65536)
        if not d: break
        buf += d
    s.close()
    return buf
from urllib.parse import unquote
keys = [unquote(l.split(b" ")[0][4:].decode()) for l in talk(b"lru_crawler metadump all\r\n").split(b"\n")
        if l.startswith(b"key=hasp-s")]
for k in keys:
    r = talk(b"get " + k.encode() + b"\r\n")
    head, rest = r.split(b"\r\n", 1)
    n = int(head.split()[3])
    v = rest[:n]
    if what == "dump":
        print(k, n, v.hex())
    else:
        v = bytearray(v); v[len(v) // 2] ^= 1
        talk(b"set " + k.encode() + b" 0 600 %d\r\n" % n + bytes(v) + b"\r\n", b"STORED\r\n")
        print("corrupted", k)
EOF

start_memcached() {
  next_port
  MPORT=$PORT
  bg_start "$C/mc" /dev/null memcached -u "$(id -un)" -l 127.0.0.1 -p "$MPORT" -U 0 -m 16
  MPID=$BGPID
  wait_listen "$MPORT" "$MPID" || { WHY="memcached did not start: $WHY"; return 1; }
}
start_server() { # VAR OUT ARGS...: VAR_PORT, VAR_PID
  local var=$1 out=$2
  shift 2
  next_port
  bg_start "$out" /dev/null "$HASP" server --accept "$PORT" --www \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --session-cache "memcached://127.0.0.1:$MPORT" "$@"
  local pid=$BGPID
  wait_listen "$PORT" "$pid" || { WHY="hasp server did not start: $WHY $(tail -n 2 "$out.err")"; return 1; }
  printf -v "${var}_PORT" '%s' "$PORT"
  printf -v "${var}_PID" '%s' "$pid"
}
get() { # PORT OUT ARGS...: HRC, HOW
  local port=$1 out=$2
  shift 2
  note_cmd "$HASP" client "127.0.0.1:$port" --servername localhost --cafile "$CERTS/ca.pem" --ign-eof --tls1_2 --no-ticket "$@"
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$port" --servername localhost --cafile "$CERTS/ca.pem" \
    --ign-eof --tls1_2 --no-ticket "$@" <"$GET" >"$out.out" 2>"$out.err"
  HRC=$?
  HOW=$(sed -n 's/^hasp: resumed: //p' "$out.err" | head -n 1)
}
expect() { # WHAT HOW: the last get resumed as HOW and exited 0
  [ "$HRC" -eq 0 ] || fail "$1: hasp client exited $HRC" || return
  [ "$HOW" = "$2" ] || fail "$1: resumed: '$HOW', expected '$2'" || return
}
no_failed() {
  ! grep -qE '^hasp: connection [0-9]+ failed' "$@" ||
    fail "$(grep -hE '^hasp: connection [0-9]+ failed' "$@" | head -n 1)" || return
}
setup() { # NAME: memcached, A and B with k1
  new_case "$1"
  start_memcached && start_server A "$C/a" --ticket-keys "$T/k1" && start_server B "$C/b" --ticket-keys "$T/k1"
}
teardown() { bg_stop "$A_PID"; bg_stop "$B_PID"; bg_stop "$MPID"; }

# 1. across servers, and what memcached holds
across_ok() {
  SSLKEYLOGFILE="$C/keylog" get "$A_PORT" "$C/c1" --sess-out "$C/sess"
  expect "first connection, on A" no || return
  get "$B_PORT" "$C/c2" --sess-in "$C/sess"
  expect "the session from A, on B" session-id || return
  get "$A_PORT" "$C/c3" --sess-in "$C/sess"
  expect "the session from A, on A" session-id || return
  python3 "$T/mc.py" "$MPORT" dump >"$C/dump" || fail "cannot read memcached" || return
  [ "$(wc -l <"$C/dump")" -ge 1 ] || fail "memcached holds no hasp-s: entry" || return
  local ms name
  ms=$(awk '$1 == "CLIENT_RANDOM" {print $3}' "$C/keylog" | head -n 1 | tr 'A-F' 'a-f')
  [ ${#ms} -eq 96 ] || fail "no master secret in the key log (SSLKEYLOGFILE)" || return
  ! grep -q "$ms" "$C/dump" || fail "memcached holds the master secret in clear" || return
  name=$(head -c 16 "$T/k1" | od -An -tx1 | tr -d ' \n')
  awk '{print $3}' "$C/dump" | grep -q "^$name" ||
    fail "the entries do not start with the ticket key's name $name" || return
  no_failed "$C/a.err" "$C/b.err" || return
}
name="memcached: a TLS 1.2 session ID from server A resumes on server B; memcached holds it encrypted"
if setup "$name"; then check "$name" across_ok || keep_case "$name"; else notok "$name" "$WHY"; keep_case "$name"; fi
teardown

sclient_ok() {
  timeout -k 2 "$TMO" openssl s_client -connect "127.0.0.1:$A_PORT" -servername localhost -CAfile "$CERTS/ca.pem" \
    -verify_return_error -ign_eof -tls1_2 -no_ticket -sess_out "$C/sess.pem" <"$GET" >"$C/s1.out" 2>&1 ||
    fail "s_client to A failed" || return
  timeout -k 2 "$TMO" openssl s_client -connect "127.0.0.1:$B_PORT" -servername localhost -CAfile "$CERTS/ca.pem" \
    -verify_return_error -ign_eof -tls1_2 -no_ticket -sess_in "$C/sess.pem" <"$GET" >"$C/s2.out" 2>&1 ||
    fail "s_client to B failed" || return
  grep -q '^Reused, TLSv1.2, ' "$C/s2.out" ||
    fail "s_client -sess_in on B: '$(grep -m1 -E '^(New|Reused), ' "$C/s2.out")', expected 'Reused, TLSv1.2, ...'" || return
}
name="memcached: openssl s_client -no_ticket -sess_out on A, -sess_in on B: Reused"
if setup "$name"; then check "$name" sclient_ok || keep_case "$name"; else notok "$name" "$WHY"; keep_case "$name"; fi
teardown

# 2. memcached killed mid-run, then back
outage_ok() {
  get "$A_PORT" "$C/c1" --sess-out "$C/sess"
  expect "before the outage" no || return
  bg_stop "$MPID"
  local i
  for i in 1 2 3; do
    get "$B_PORT" "$C/d$i" --sess-in "$C/sess"
    expect "connection $i during the outage" no || return
  done
  [ "$(count_lines "$C/b.err" '^hasp: warning: session cache .* does not answer')" -eq 1 ] ||
    fail "B logged $(count_lines "$C/b.err" '^hasp: warning: session cache .* does not answer') outage warnings for one outage, expected 1" || return
  bg_start "$C/mc2" /dev/null memcached -u "$(id -un)" -l 127.0.0.1 -p "$MPORT" -U 0 -m 16
  MPID=$BGPID
  wait_listen "$MPORT" "$MPID" || fail "memcached did not start again" || return
  sleep 1.2 # libmemcached's retry timeout (1 s)
  get "$A_PORT" "$C/c2" --sess-out "$C/sess2"
  expect "after the outage, on A" no || return
  get "$B_PORT" "$C/c3" --sess-in "$C/sess2"
  expect "after the outage, a new session from A on B" session-id || return
  has_text "$C/b.err" "answers again" || fail "B did not log that memcached answers again" || return
  no_failed "$C/a.err" "$C/b.err" || return
}
name="memcached killed: full handshakes, no failed connection, one warning; resumption comes back with it"
if setup "$name"; then check "$name" outage_ok || keep_case "$name"; else notok "$name" "$WHY"; keep_case "$name"; fi
teardown

# 2b. memcached that accepts and never answers (hung, or far too slow)
slow_ok() {
  local t0=$SECONDS i
  for i in 1 2 3; do
    get "$S_PORT" "$C/c$i" --sess-out "$C/sess$i"
    expect "connection $i to a server whose memcached never answers" no || return
  done
  get "$S_PORT" "$C/c4" --sess-in "$C/sess1"
  expect "resuming while memcached hangs" no || return
  [ $((SECONDS - t0)) -le 10 ] || fail "4 connections took $((SECONDS - t0)) s: the cache's timeouts do not bound them" || return
  [ "$(count_lines "$C/s.err" '^hasp: warning: session cache .* does not answer')" -eq 1 ] ||
    fail "$(count_lines "$C/s.err" '^hasp: warning: session cache .* does not answer') outage warnings, expected 1" || return
  no_failed "$C/s.err" || return
}
name="memcached that never answers: full handshakes within the timeouts, one warning, no failure"
new_case "$name"
next_port
MPORT=$PORT
bg_start "$C/hole" /dev/null python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)  # accept, read nothing, answer nothing
' "$MPORT"
MPID=$BGPID
if wait_listen "$MPORT" "$MPID" && start_server S "$C/s" --ticket-keys "$T/k1"; then
  check "$name" slow_ok || keep_case "$name"
else notok "$name" "$WHY"; keep_case "$name"; fi
bg_stop "$S_PID"
bg_stop "$MPID"

# 3. a corrupted entry, and one sealed by another fleet's keys
bad_entry_ok() {
  get "$A_PORT" "$C/c1" --sess-out "$C/sess"
  expect "first connection" no || return
  start_server X "$C/x" --ticket-keys "$T/k2" || return
  get "$X_PORT" "$C/c2" --sess-in "$C/sess"
  expect "another fleet's server (other ticket keys)" no || return
  has_text "$C/x.err" "sealed with a key this server does not have" ||
    fail "X did not say why: $(grep 'session cache' "$C/x.err" | head -n 1)" || return
  python3 "$T/mc.py" "$MPORT" corrupt >"$C/corrupt" && [ -s "$C/corrupt" ] || fail "could not corrupt the entry" || return
  get "$B_PORT" "$C/c3" --sess-in "$C/sess"
  expect "a corrupted entry" no || return
  has_text "$C/b.err" "did not open (corrupted or forged)" ||
    fail "B did not say why: $(grep 'session cache' "$C/b.err" | head -n 1)" || return
  no_failed "$C/a.err" "$C/b.err" "$C/x.err" || return
  bg_stop "$X_PID"
}
name="memcached: a corrupted entry and another fleet's entry give full handshakes, with the reason logged"
if setup "$name"; then check "$name" bad_entry_ok || keep_case "$name"; else notok "$name" "$WHY"; keep_case "$name"; fi
teardown

# 4. --workers 2 share memcached
workers_ok() {
  get "$W_PORT" "$C/c0" --sess-out "$C/sess"
  expect "first connection" no || return
  local first i w
  first=$(sed -n 's/^Worker: [0-9]* (pid \([0-9]*\))$/\1/p' "$C/c0.out")
  for i in $(seq 1 16); do
    get "$W_PORT" "$C/w$i" --sess-in "$C/sess"
    expect "resumption $i" session-id || return
    w=$(sed -n 's/^Worker: [0-9]* (pid \([0-9]*\))$/\1/p' "$C/w$i.out")
    [ -n "$w" ] && [ "$w" != "$first" ] && return 0
  done
  fail "16 connections all landed on worker pid $first"
}
name="memcached with --workers 2: a session from one worker resumes on the other"
new_case "$name"
if start_memcached && start_server W "$C/w" --ticket-keys "$T/k1" --workers 2; then
  check "$name" workers_ok || keep_case "$name"
else notok "$name" "$WHY"; keep_case "$name"; fi
bg_stop "$W_PID"
bg_stop "$MPID"

# 5. refused
refused_case() { # NAME PHRASE ARGS...
  local name=$1 phrase=$2
  shift 2
  new_case "$name"
  next_port
  timeout -k 2 5 "$HASP" server --accept "$PORT" --www --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" "$@" \
    </dev/null >"$C/srv.out" 2>"$C/srv.err"
  local src=$?
  if [ "$src" -eq 2 ] && grep -qF -- "$phrase" "$C/srv.err"; then ok "$name"; else
    notok "$name" "exit $src, said '$(head -c 300 "$C/srv.err")', expected 2 and '$phrase'"; keep_case "$name"; fi
}
refused_case "--session-cache without --ticket-keys is refused" \
  "--session-cache needs --ticket-keys FILE" --session-cache memcached://127.0.0.1:11211
refused_case "--session-cache with a URL that is not memcached:// is refused" \
  "--session-cache takes memcached://HOST:PORT" --session-cache redis://127.0.0.1 --ticket-keys "$T/k1"

finish

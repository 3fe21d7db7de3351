#!/usr/bin/env bash
# The key log (SSLKEYLOGFILE), proved right by a third party: a hasp server
# and a hasp client talk over loopback while tshark captures; tshark then
# decrypts the capture with each side's key log and must show the
# application data both ways (TLS 1.3 with SHA-256 and SHA-384 suites, after
# a KeyUpdate, 0-RTT early data, and TLS 1.2). Also checked without tshark: the file's mode is
# 0600 even under umask 000, it is appended to, the lines are the NSS labels
# with the right lengths and the connection's client random, both sides log
# the same secrets, and the --trace output contains none of them.
# (That nothing is written without hasp_config_allow_keylog, the library
# default, is checked by build/tests/test_rfc8448; the tool always allows it
# when SSLKEYLOGFILE is set.)
# One tshark capture covers all the connections (starting tshark takes
# seconds); each is then decrypted by its port. If capturing on lo is
# impossible here (no permission), the capture checks are replaced by one
# "ok - keylog: skipped capture (reason)" and the file checks still run.
# Usage: bash tests/keylog.sh BUILD_DIR   (env HASP overrides the tool)
. "$(dirname "$0")/interop/_lib.sh" "$@"
need_hasp
gen_certs
need_tool tshark

MSG_UP="hasp keylog check: client to server, $$-$RANDOM"

# ----------------------------------------------------------- capture setup

CAPTURE_OK=1
CAPTURE_WHY=""
CAPDIR="$T/capture"
PCAP="$CAPDIR/lo.pcapng"
mkdir -p "$CAPDIR"
# One capture for every connection of this script: tshark on lo for the next
# 50 ports next_port will hand out (starting tshark takes seconds). Sets
# TSPID; returns 1 if capturing is impossible here (CAPTURE_OK=0 and
# CAPTURE_WHY say why) or failed otherwise (CAPTURE_WHY).
start_capture() {
  local lo=$((PORT_NEXT + 1)) hi=$((PORT_NEXT + 50))
  [ "$hi" -le 32767 ] || { PORT_NEXT=10000; lo=10001; hi=10050; }
  printf 'tshark -i lo -f "tcp portrange %s-%s" -w %s\n' "$lo" "$hi" "$PCAP" >"$CAPDIR/cmds"
  timeout -k 2 600 tshark -i lo -f "tcp portrange $lo-$hi" -w "$PCAP" >"$CAPDIR/tshark.out" 2>"$CAPDIR/tshark.err" &
  TSPID=$!
  bg_track "$TSPID"
  local i=0
  while [ $i -lt $((WAIT * 50)) ]; do
    grep -q "^Capturing on" "$CAPDIR/tshark.err" && return 0
    if ! kill -0 "$TSPID" 2>/dev/null; then
      CAPTURE_WHY=$(grep -v -e '^Running as user' "$CAPDIR/tshark.err" | head -n 2 | tr '\n' ' ')
      if grep -qiE "permission|not permitted|privilege|couldn't run|no such device|denied" "$CAPDIR/tshark.err"; then
        CAPTURE_OK=0
      fi
      return 1
    fi
    sleep 0.02
    i=$((i + 1))
  done
  CAPTURE_WHY="tshark did not start capturing within ${WAIT}s"
  return 1
}
stop_capture() {
  sleep 0.3 # let the last segments reach the capture
  kill -INT "$TSPID" 2>/dev/null
  bg_wait "$TSPID" 10
}
# decrypted PORT KEYLOG OUT: the application data tshark decrypts on PORT, as text.
decrypted() {
  local port=$1 keys=$2 out=$3
  note_cmd tshark -r "$PCAP" -d "tcp.port==$port,tls" -o "tls.keylog_file:$keys" -Y "tcp.port==$port && data" -T fields -e data.data
  timeout -k 2 30 tshark -r "$PCAP" -d "tcp.port==$port,tls" -o "tls.keylog_file:$keys" \
    -Y "tcp.port==$port && data" -T fields -e data.data 2>"$out.err" |
    tr -d ' \n:,' | perl -ne 'print pack("H*", $_)' >"$out"
}
# Without any key log, tshark must not see the plaintext (the check is real).
undecrypted() {
  local port=$1 out=$2
  timeout -k 2 30 tshark -r "$PCAP" -d "tcp.port==$port,tls" -Y "tcp.port==$port && data" \
    -T fields -e data.data 2>/dev/null | tr -d ' \n:,' | perl -ne 'print pack("H*", $_)' >"$out"
}

# ----------------------------------------------------------- file checks

# keylog_lines_ok FILE VERSION SECRET_HEX_LEN: labels, lengths, one client random.
keylog_lines_ok() {
  local f=$1 ver=$2 slen=$3 want labels l
  [ -s "$f" ] || fail "$(basename "$f") is empty or missing" || return
  if [ "$ver" = 1.3 ]; then
    want="CLIENT_HANDSHAKE_TRAFFIC_SECRET SERVER_HANDSHAKE_TRAFFIC_SECRET CLIENT_TRAFFIC_SECRET_0 SERVER_TRAFFIC_SECRET_0 EXPORTER_SECRET"
  else
    want="CLIENT_RANDOM"
  fi
  for l in $want; do
    [ "$(grep -c "^$l " "$f")" -eq 1 ] ||
      fail "$(basename "$f"): $(grep -c "^$l " "$f") '$l' lines, expected 1" || return
  done
  labels=$(cut -d' ' -f1 "$f" | sort -u | tr '\n' ' ')
  [ "$labels" = "$(echo $want | tr ' ' '\n' | sort | tr '\n' ' ')" ] ||
    fail "$(basename "$f") has labels '$labels', expected '$want'" || return
  # LABEL <64 hex: client random> <secret hex>
  ! grep -vqE "^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{$slen}\$" "$f" ||
    fail "$(basename "$f") has a malformed line: '$(grep -vE "^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{$slen}\$" "$f" | head -n 1 | cut -c1-80)...'" || return
  [ "$(cut -d' ' -f2 "$f" | sort -u | wc -l)" -eq 1 ] ||
    fail "$(basename "$f") names more than one client random for one connection" || return
}
mode_ok() {
  local m
  m=$(stat -c %a "$1")
  [ "$m" = 600 ] || fail "$(basename "$1") has mode $m, expected 600" || return
}

# ----------------------------------------------------------- one connection

# keylog_case NAME VERSION SECRET_HEX_LEN HASP_CLIENT_ARGS...
keylog_case() {
  local name=$1 ver=$2 slen=$3
  shift 3
  new_case "$name"
  next_port
  printf '%s\n' "$MSG_UP" >"$C/up"
  # Both processes under umask 000: the file must still be 0600.
  (
    umask 000
    SSLKEYLOGFILE="$C/srv.keys" exec timeout -k 2 "$TMO" "$HASP" server --accept "$PORT" --naccept 1 \
      --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --ciphers ALL
  ) </dev/null >"$C/srv.out" 2>"$C/srv.err" &
  local spid=$!
  bg_track "$spid"
  if ! wait_listen "$PORT" "$spid"; then
    notok "$name" "hasp server did not start: $WHY $(tail -n 2 "$C/srv.err")"
    keep_case "$name"
    return
  fi
  note_cmd SSLKEYLOGFILE="$C/cli.keys" "$HASP" client "127.0.0.1:$PORT" "$@" --trace
  (
    umask 000
    SSLKEYLOGFILE="$C/cli.keys" exec timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" \
      --servername localhost --cafile "$CERTS/ca.pem" "$@" --trace
  ) <"$C/up" >"$C/cli.out" 2>"$C/cli.err"
  local crc=$?
  bg_wait "$spid" 5
  local src=$BGRC
  CAP_CASES+=("$C|$PORT|$name")

  check "$name: the connection works (TLSv$ver, data echoed)" conn_ok "$crc" "$src" "$ver" || keep_case "$name"
  check "$name: client key log lines" keylog_lines_ok "$C/cli.keys" "$ver" "$slen" || keep_case "$name"
  check "$name: server key log lines" keylog_lines_ok "$C/srv.keys" "$ver" "$slen" || keep_case "$name"
  check "$name: both key logs have mode 0600 (created under umask 000)" both_modes_ok || keep_case "$name"
  check "$name: client and server logged the same secrets" same_secrets || keep_case "$name"
  check "$name: the --trace output contains no secret" trace_clean || keep_case "$name"
}
conn_ok() {
  local crc=$1 src=$2 ver=$3
  [ "$crc" -eq 0 ] || fail "hasp client exited $crc: $(hasp_error "$C/cli.err")" || return
  has_line "$C/cli.err" "hasp: protocol: TLSv$ver" ||
    fail "hasp client: $(first_line "$C/cli.err" '^hasp: (protocol|error)')" || return
  same_bytes "$C/up" "$C/cli.out" "echoed data" || return
  [ "$src" -eq 0 ] || fail "hasp server exited $src" || return
}
both_modes_ok() { mode_ok "$C/cli.keys" && mode_ok "$C/srv.keys"; }
same_secrets() {
  cmp -s <(sort "$C/cli.keys") <(sort "$C/srv.keys") ||
    fail "the client's and the server's key logs differ" || return
}
trace_clean() {
  local s
  for s in $(cut -d' ' -f3 "$C/cli.keys"); do
    ! grep -qi "$s" "$C/cli.err" || fail "the trace contains a secret from the key log" || return
  done
}
capture_ok() {
  local keys=$1 port=$2 n
  decrypted "$port" "$C/$keys" "$C/dec.$keys"
  n=$(grep -cF -- "$MSG_UP" "$C/dec.$keys")
  [ "$n" -ge 2 ] ||
    fail "decrypted application data has the message $n times (expected 2: sent and echoed); tshark: $(head -c 300 "$C/dec.$keys.err"); packets on port $port: $(timeout 20 tshark -r "$PCAP" -Y "tcp.port==$port" 2>/dev/null | wc -l)" || return
}
capture_opaque() {
  undecrypted "$1" "$C/dec.none"
  ! grep -qF -- "$MSG_UP" "$C/dec.none" || fail "the message is visible without keys" || return
}

CAP_CASES=()
CAPTURING=0
if start_capture; then
  CAPTURING=1
elif [ "$CAPTURE_OK" -eq 1 ]; then
  notok "keylog: tshark captures on lo" "$CAPTURE_WHY"
fi
keylog_case "TLS 1.3 TLS_AES_128_GCM_SHA256" 1.3 64 --ciphersuites TLS_AES_128_GCM_SHA256
keylog_case "TLS 1.3 TLS_AES_256_GCM_SHA384 (48-byte secrets)" 1.3 96 --ciphersuites TLS_AES_256_GCM_SHA384
keylog_case "TLS 1.3 TLS_CHACHA20_POLY1305_SHA256 after a KeyUpdate" 1.3 64 \
  --ciphersuites TLS_CHACHA20_POLY1305_SHA256 --keyupdate
keylog_case "TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256" 1.2 96 --tls1_2 --ciphers ECDHE-RSA-AES128-GCM-SHA256
keylog_case "TLS 1.2 ECDHE-RSA-AES128-SHA256 (CBC)" 1.2 96 --tls1_2 --ciphers ECDHE-RSA-AES128-SHA256

# 0-RTT: two connections, the second sends its data as early data; the
# client's key log must decrypt it (CLIENT_EARLY_TRAFFIC_SECRET), and
# without that line tshark sees one copy fewer.
EARLY_MSG="hasp keylog 0-RTT check $$-$RANDOM"
early_case() {
  EARLY_NAME="TLS 1.3 0-RTT early data"
  new_case "$EARLY_NAME"
  next_port
  printf '%s\n' "$EARLY_MSG" >"$C/early"
  bg_start "$C/srv" /dev/null env SSLKEYLOGFILE="$C/srv.keys" "$HASP" server --accept "$PORT" \
    --naccept 2 --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --early-data
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$EARLY_NAME" "hasp server did not start: $WHY"; keep_case "$EARLY_NAME"; return; }
  note_cmd SSLKEYLOGFILE="$C/cli.keys" "$HASP" client "127.0.0.1:$PORT" --reconnect 1 --early-data "$C/early"
  SSLKEYLOGFILE="$C/cli.keys" timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" --tls1_3 --reconnect 1 --early-data "$C/early" </dev/null >"$C/cli.out" 2>"$C/cli.err"
  local crc=$?
  bg_wait "$spid" 5
  EARLY_CASE="$C|$PORT"
  early_sent() {
    [ "$crc" -eq 0 ] || fail "hasp client exited $crc: $(hasp_error "$C/cli.err")" || return
    has_text "$C/cli.err" "hasp: early data: sent " || fail "no early data sent: $(first_line "$C/cli.err" 'early')" || return
    [ "$(grep -c '^CLIENT_EARLY_TRAFFIC_SECRET ' "$C/cli.keys")" -eq 1 ] ||
      fail "$(grep -c '^CLIENT_EARLY_TRAFFIC_SECRET ' "$C/cli.keys") CLIENT_EARLY_TRAFFIC_SECRET lines, expected 1" || return
    cmp -s <(grep '^CLIENT_EARLY' "$C/cli.keys") <(grep '^CLIENT_EARLY' "$C/srv.keys") ||
      fail "client and server logged different early secrets" || return
  }
  check "$EARLY_NAME: sent, and both sides log the same CLIENT_EARLY_TRAFFIC_SECRET" early_sent || keep_case "$EARLY_NAME"
}
EARLY_CASE=""
early_case
early_decrypts() {
  local port=$1 n m
  decrypted "$port" "$C/cli.keys" "$C/dec.all"
  grep -v '^CLIENT_EARLY_TRAFFIC_SECRET ' "$C/cli.keys" >"$C/noearly.keys"
  decrypted "$port" "$C/noearly.keys" "$C/dec.noearly"
  n=$(grep -cF -- "$EARLY_MSG" "$C/dec.all")
  m=$(grep -cF -- "$EARLY_MSG" "$C/dec.noearly")
  # first connection: sent after the handshake + echo; second: early + echo
  [ "$n" -eq 4 ] && [ "$m" -eq 3 ] ||
    fail "the message decrypts $n times with the key log (expected 4) and $m without its early secret (expected 3)" || return
}

# The capture, decrypted with each side's key log, per connection.
if [ "$CAPTURING" = 1 ]; then
  stop_capture
  if [ -n "$EARLY_CASE" ]; then
    C=${EARLY_CASE%%|*}
    check "$EARLY_NAME: tshark decrypts the early data with CLIENT_EARLY_TRAFFIC_SECRET" \
      early_decrypts "${EARLY_CASE#*|}" || keep_case "$EARLY_NAME"
  fi
  for cc in "${CAP_CASES[@]}"; do
    C=${cc%%|*}
    rest=${cc#*|}
    port=${rest%%|*}
    name=${rest#*|}
    failed=0
    check "$name: tshark decrypts the capture with the client's key log" capture_ok cli.keys "$port" || failed=1
    check "$name: tshark decrypts the capture with the server's key log" capture_ok srv.keys "$port" || failed=1
    check "$name: without a key log tshark does not see the data" capture_opaque "$port" || failed=1
    if [ $failed = 1 ]; then
      cp "$PCAP" "$CAPDIR/tshark.err" "$C/" 2>/dev/null
      keep_case "$name"
    fi
  done
elif [ "$CAPTURE_OK" -eq 0 ]; then
  ok "keylog: skipped capture ($CAPTURE_WHY)"
fi

# Appending: two connections into one file keep both sets of lines.
append_case() {
  local name="key log: a second connection appends to the file"
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 2 --cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key"
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  local why="" i
  for i in 1 2; do
    echo "hello $i" | SSLKEYLOGFILE="$C/both.keys" timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" \
      --servername localhost --cafile "$CERTS/ca.pem" >"$C/cli$i.out" 2>"$C/cli$i.err" ||
      why="$why connection $i failed: $(hasp_error "$C/cli$i.err");"
    [ $i = 1 ] && cp "$C/both.keys" "$C/first.keys" 2>/dev/null
  done
  bg_wait "$spid" 5
  [ "$(wc -l <"$C/both.keys" 2>/dev/null)" -eq 10 ] ||
    why="$why $(wc -l <"$C/both.keys" 2>/dev/null) lines after two TLS 1.3 connections, expected 10;"
  [ "$(cut -d' ' -f2 "$C/both.keys" | sort -u | wc -l)" -eq 2 ] || why="$why not two client randoms;"
  head -n 5 "$C/both.keys" | cmp -s - "$C/first.keys" || why="$why the first connection's lines were not kept;"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
}
append_case

# Without SSLKEYLOGFILE nothing is written anywhere we can see (the tool
# allows the key log only when the variable is set).
nolog_case() {
  local name="key log: nothing is written when SSLKEYLOGFILE is unset or empty"
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null env -u SSLKEYLOGFILE "$HASP" server --accept "$PORT" --naccept 1 \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key"
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  local why=""
  (cd "$C" && echo hi | SSLKEYLOGFILE= timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" \
    --servername localhost --cafile "$CERTS/ca.pem" >cli.out 2>cli.err) || why="client failed: $(hasp_error "$C/cli.err");"
  bg_wait "$spid" 5
  [ "$(find "$C" -newer "$C/name" -type f ! -name 'cli.*' ! -name 'srv.*' ! -name cmds | wc -l)" -eq 0 ] ||
    why="$why files appeared: $(find "$C" -newer "$C/name" -type f ! -name 'cli.*' ! -name 'srv.*' ! -name cmds | tr '\n' ' ');"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
}
nolog_case

finish

#!/usr/bin/env bash
# TLS 1.2 failures that must be clean, named and bounded:
#   - no shared cipher suite, hasp client and hasp server: handshake_failure(40)
#     on both sides, and a hasp server keeps serving after a failed handshake
#   - a server whose only certificate cannot serve the client's suites
#   - hellos offering only SSL 3.0 / TLS 1.0 / TLS 1.1: protocol_version(70),
#     checked with openssl s_client -tls1 and with raw hello bytes
#   - plain HTTP to the hasp server, and hasp client to a plain HTTP server:
#     "not speaking TLS"
#   - certificate errors on the client: unknown CA (no --cafile, wrong
#     --cafile), wrong --servername; the client tells the server with an alert
# Usage: bash tests/interop/tls12_negative.sh BUILD_DIR   (env HASP overrides the tool)
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl python3
need_hasp
gen_certs
PY=$(command -v python3)

# --------------------------------------------------------------- helpers

# s_server on $PORT with the RSA certificate, TLS 1.2; extra args in "$@".
# Sets SPID; stdin is /dev/null: with -naccept 1 it serves one connection.
start_s_server() {
  next_port
  bg_start "$C/srv" /dev/null openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -quiet -tls1_2 \
    -cert "$CERTS/rsa-leaf.pem" -key "$CERTS/rsa.key" -cert_chain "$CERTS/int.pem" "$@"
  SPID=$BGPID
  wait_listen "$PORT" "$SPID"
}
# hasp server on $PORT; args in "$@". Sets SPID.
start_hasp_server() {
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" "$@"
  SPID=$BGPID
  wait_listen "$PORT" "$SPID"
}
# hasp client to $PORT, stdin one line; args in "$@". Sets HRC.
run_hasp_client() {
  note_cmd "$HASP" client "127.0.0.1:$PORT" "$@"
  printf 'hello\n' | timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" "$@" >"$C/cli.out" 2>"$C/cli.err"
  HRC=$?
}
# hasp client must fail: exit status 1 and an error line matching REGEX.
# hasp_failed REGEX WHAT
hasp_failed() {
  [ "$HRC" -eq 1 ] || fail "hasp client exited $HRC, expected 1 ($(hasp_error "$C/cli.err"))" || return
  grep -qE -- "^hasp: error: .*($1)" "$C/cli.err" ||
    fail "hasp's error does not mention $2: '$(hasp_error "$C/cli.err")'" || return
  ! grep -q '^hasp: cipher:' "$C/cli.err" ||
    fail "hasp reported a negotiated suite although the handshake failed" || return
}
finish_case() { # NAME FUNC ARGS...: run the check, keep files on failure
  local name=$1
  shift
  if check "$name" "$@"; then :; else keep_case "$name"; fi
}
# Raw ClientHello sender (python3): connects to PORT, sends a hello whose
# only version is VERSION (0x0300, 0x0301, 0x0302), prints the hex of the
# first bytes the server answers ("EOF" if it closed without a word).
RAW_HELLO='
import os, socket, sys
port, ver = int(sys.argv[1]), int(sys.argv[2], 16)
suites = [0xc02f, 0xc013, 0xc014, 0x002f, 0x0035, 0x000a]
body = ver.to_bytes(2, "big") + os.urandom(32) + b"\x00"
body += (2 * len(suites)).to_bytes(2, "big") + b"".join(s.to_bytes(2, "big") for s in suites)
body += b"\x01\x00"
if ver >= 0x0301:
    groups = b"\x00\x0a\x00\x06\x00\x04\x00\x1d\x00\x17"   # supported_groups x25519, P-256
    points = b"\x00\x0b\x00\x02\x01\x00"                   # ec_point_formats uncompressed
    ext = groups + points
    body += len(ext).to_bytes(2, "big") + ext
hs = b"\x01" + len(body).to_bytes(3, "big") + body
rec = b"\x16" + min(ver, 0x0301).to_bytes(2, "big") + len(hs).to_bytes(2, "big") + hs
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(rec)
got = b""
try:
    while len(got) < 7:
        d = s.recv(7 - len(got))
        if not d:
            break
        got += d
except OSError as e:
    print("ERROR %s %s" % (got.hex(), e))
    sys.exit(0)
print(got.hex() if got else "EOF")
'
# Plain-TCP helpers (python3).
# HTTP_CLIENT PORT: send an HTTP request, print how the connection ended and
# the hex of what came back.
HTTP_CLIENT='
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
got = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            print("closed " + got.hex()); break
        got += d
except ConnectionResetError:
    print("reset " + got.hex())
except socket.timeout:
    print("timeout " + got.hex())
'
# HTTP_SERVER PORT: accept one connection, read what comes, answer like a web
# server that does not speak TLS, close.
HTTP_SERVER='
import socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(1)
ls.settimeout(10)
c, _ = ls.accept()
c.settimeout(5)
try:
    c.recv(4096)
except OSError:
    pass
c.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/html\r\n\r\n<html>bad request</html>\r\n")
c.close()
'

# ------------------------------------------- no shared cipher suite: client

t_noshared_client() {
  hasp_failed 'handshake_failure\(40\)' 'handshake_failure(40)' || return
  bg_wait "$SPID" 5
  grep -q 'no shared cipher' "$C/srv.err" ||
    fail "openssl s_server did not report 'no shared cipher': $(grep -m1 -i error "$C/srv.err")" || return
}
name="no shared suite: hasp client (AES128-GCM only) -> openssl s_server (AES256-GCM only)"
new_case "$name"
if start_s_server -cipher ECDHE-RSA-AES256-GCM-SHA384; then
  run_hasp_client --servername localhost --cafile "$CERTS/ca.pem" --tls1_2 \
    --ciphers TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
  finish_case "$name" t_noshared_client
else
  notok "$name" "openssl s_server did not start: $WHY"
fi

# ------------------------------------------- no shared cipher suite: server

# One hasp server, three connections: two failures, then a good one.
#  1. s_client offers a suite the server does not allow
#  2. s_client offers only RSA-certificate suites; the server has only ECDSA
#  3. s_client that works: the server survived both failures
t_noshared_server() {
  [ "$C1RC" -ne 0 ] || fail "openssl s_client succeeded, expected a handshake failure" || return
  grep -qE 'alert handshake failure|alert number 40' "$C/cli1.err" ||
    fail "openssl s_client did not receive handshake_failure(40): $(grep -m1 -iE 'error|alert' "$C/cli1.err")" || return
  grep -qE '^hasp: connection 1 failed: .*handshake_failure\(40\)' "$C/srv.err" ||
    fail "hasp server did not log 'connection 1 failed: ... handshake_failure(40)': $(first_line "$C/srv.err" 'connection 1')" || return
}
t_nocert_server() {
  [ "$C2RC" -ne 0 ] || fail "openssl s_client succeeded with an RSA suite against an ECDSA-only server" || return
  grep -qE 'alert handshake failure|alert number 40' "$C/cli2.err" ||
    fail "openssl s_client did not receive handshake_failure(40): $(grep -m1 -iE 'error|alert' "$C/cli2.err")" || return
  grep -qE '^hasp: connection 2 failed: ' "$C/srv.err" ||
    fail "hasp server did not log 'connection 2 failed: ...': $(first_line "$C/srv.err" 'connection 2')" || return
}
t_survives() {
  [ "$C3RC" -eq 0 ] || fail "openssl s_client exited $C3RC: $(grep -m1 -iE 'error|alert' "$C/cli3.err")" || return
  has_line "$C/cli3.out" "hello" || fail "no echo from the hasp server" || return
  grep -q '^hasp: connection 3: TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 ' "$C/srv.err" ||
    fail "hasp server did not log connection 3: $(first_line "$C/srv.err" 'connection 3')" || return
  [ "$SRC" -eq 0 ] || fail "hasp server exited $SRC after --naccept 3" || return
}
s_client_line() { # N ARGS...: one line through s_client, sets C<N>RC
  local n=$1
  shift
  note_cmd openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -tls1_2 \
    -CAfile "$CERTS/ca.pem" -verify_return_error -brief -nocommands "$@"
  printf 'hello\n' | timeout -k 2 "$TMO" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -tls1_2 -CAfile "$CERTS/ca.pem" -verify_return_error -brief -nocommands "$@" \
    >"$C/cli$n.out" 2>"$C/cli$n.err"
  printf -v "C${n}RC" '%s' $?
}
name="no shared suite: openssl s_client (AES256-GCM only) -> hasp server (AES128-GCM only)"
new_case "$name"
if start_hasp_server --naccept 3 --cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" \
  --ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384; then
  s_client_line 1 -cipher ECDHE-ECDSA-AES256-GCM-SHA384
  s_client_line 2 -cipher ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384
  # s_client quits on stdin EOF; give the echo time to arrive first.
  mkfifo "$C/cli3.in"
  bg_start "$C/cli3" "$C/cli3.in" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -tls1_2 -CAfile "$CERTS/ca.pem" -verify_return_error -brief -nocommands -cipher ECDHE-ECDSA-AES128-GCM-SHA256
  cpid=$BGPID
  printf 'hello\n' >"$C/hello"
  feed "$C/cli3.in" "$C/hello" "$C/cli3.out" 6 "$cpid"
  bg_wait "$cpid" "$TMO"
  C3RC=$BGRC
  bg_wait "$SPID" 5
  SRC=$BGRC
  finish_case "$name" t_noshared_server
  finish_case "hasp server with only an ECDSA certificate refuses RSA-only suites with handshake_failure" t_nocert_server
  finish_case "hasp server keeps serving after failed handshakes" t_survives
else
  notok "$name" "hasp server did not start: $WHY"
fi

# ------------------------------------------- old protocol versions

t_tls10_sclient() {
  [ "$C1RC" -ne 0 ] || fail "openssl s_client -tls1 succeeded against hasp" || return
  grep -qE 'alert protocol version|alert number 70' "$C/cli1.err" ||
    fail "openssl s_client did not receive protocol_version(70): $(grep -m1 -iE 'error|alert' "$C/cli1.err")" || return
  grep -qE '^hasp: connection 1 failed: .*protocol_version' "$C/srv.err" ||
    fail "hasp server did not log 'connection 1 failed: ... protocol_version': $(first_line "$C/srv.err" 'connection 1')" || return
}
name="TLS 1.0-only openssl s_client -> hasp server: protocol_version(70)"
new_case "$name"
if openssl ciphers 'DEFAULT@SECLEVEL=0' >/dev/null 2>&1 && start_hasp_server --naccept 4 \
  --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key"; then
  note_cmd openssl s_client -connect "127.0.0.1:$PORT" -tls1 -cipher 'DEFAULT@SECLEVEL=0'
  printf 'hello\n' | timeout -k 2 "$TMO" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -tls1 -cipher 'DEFAULT@SECLEVEL=0' -brief -nocommands >"$C/cli1.out" 2>"$C/cli1.err"
  C1RC=$?
  finish_case "$name" t_tls10_sclient
  # Raw hellos offering only one old version each, on the same server.
  n=1
  for v in 0300:SSL3.0 0301:TLS1.0 0302:TLS1.1; do
    n=$((n + 1))
    ver=${v%%:*} vname=${v#*:}
    name="$vname-only raw ClientHello -> hasp server answers with a protocol_version(70) alert record"
    note_cmd "$PY" - "$PORT" "$ver" "(RAW_HELLO)"
    reply=$(timeout -k 2 "$TMO" "$PY" -c "$RAW_HELLO" "$PORT" "$ver" 2>"$C/raw$n.err")
    printf '%s\n' "$reply" >"$C/raw$n.out"
    # 15 = alert, 03 0x = record version, 0002 = length, 02 = fatal, 46 = 70
    if [[ "$reply" =~ ^1503(00|01|02|03)00020246$ ]]; then
      ok "$name"
    else
      notok "$name" "got '${reply:-nothing}' ($(head -c 200 "$C/raw$n.err")), expected an alert record 15 03 0x 00 02 02 46"
      keep_case "$name"
    fi
  done
  bg_wait "$SPID" 5
else
  notok "$name" "openssl cannot do TLS 1.0 here or hasp server did not start: $WHY"
fi

# ------------------------------------------- not speaking TLS

t_http_to_server() {
  [[ "$HTTPRES" == closed* || "$HTTPRES" == reset* ]] ||
    fail "the connection was not closed: '$HTTPRES'" || return
  grep -qE '^hasp: connection 1 failed: .*not speaking TLS' "$C/srv.err" ||
    fail "hasp server did not log 'connection 1 failed: ... not speaking TLS': $(first_line "$C/srv.err" 'connection 1')" || return
}
name="plain HTTP request -> hasp server: closed, logged as 'not speaking TLS'"
new_case "$name"
if start_hasp_server --naccept 1 --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key"; then
  note_cmd "$PY" -c "(HTTP_CLIENT)" "$PORT"
  HTTPRES=$(timeout -k 2 "$TMO" "$PY" -c "$HTTP_CLIENT" "$PORT" 2>"$C/http.err")
  printf '%s\n' "$HTTPRES" >"$C/http.out"
  bg_wait "$SPID" 5
  finish_case "$name" t_http_to_server
else
  notok "$name" "hasp server did not start: $WHY"
fi

t_client_to_http() {
  hasp_failed 'not speaking TLS' "'not speaking TLS'" || return
}
name="hasp client -> plain HTTP server: 'not speaking TLS'"
new_case "$name"
next_port
note_cmd "$PY" -c "(HTTP_SERVER)" "$PORT"
timeout -k 2 "$TMO" "$PY" -c "$HTTP_SERVER" "$PORT" >"$C/srv.out" 2>"$C/srv.err" &
SPID=$!
bg_track "$SPID"
if wait_listen "$PORT" "$SPID"; then
  run_hasp_client --servername localhost --cafile "$CERTS/ca.pem" --tls1_2
  bg_wait "$SPID" 5
  finish_case "$name" t_client_to_http
else
  notok "$name" "python HTTP server did not start: $WHY"
fi

# ------------------------------------------- certificate errors (client side)

# cert_case NAME REGEX WHAT ALERTREGEX ALERTNAME HASP-ARGS...
cert_case() {
  local name=$1 re=$2 what=$3 are=$4 aname=$5
  shift 5
  new_case "$name"
  if ! start_s_server; then
    notok "$name" "openssl s_server did not start: $WHY"
    return
  fi
  run_hasp_client "$@"
  bg_wait "$SPID" 5
  finish_case "$name" t_cert "$re" "$what" "$are" "$aname"
}
t_cert() {
  hasp_failed "$1" "$2" || return
  grep -qE -- "$3" "$C/srv.err" ||
    fail "openssl s_server did not receive $4: $(grep -m1 -iE 'error|alert' "$C/srv.err")" || return
}
cert_case "hasp client without --cafile: server's CA is not trusted (unknown_ca)" \
  'unknown_ca|unknown issuer|trusted root' 'an unknown CA' 'alert unknown ca|alert number 48' 'unknown_ca(48)' \
  --servername localhost --tls1_2
cert_case "hasp client with the wrong --cafile: unknown_ca" \
  'unknown_ca|unknown issuer|trusted root' 'an unknown CA' 'alert unknown ca|alert number 48' 'unknown_ca(48)' \
  --servername localhost --cafile "$CERTS/other-ca.pem" --tls1_2
cert_case "hasp client with a wrong --servername: name mismatch" \
  'mismatch|does not match' 'a name mismatch' 'alert bad certificate|alert number 42|alert certificate unknown|alert number 46' \
  'bad_certificate(42) or certificate_unknown(46)' \
  --servername wrong.example --cafile "$CERTS/ca.pem" --tls1_2

finish

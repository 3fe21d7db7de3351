#!/usr/bin/env bash
# TLS 1.2 renegotiation interop (issue 4, RFC 5746), started by each side:
#   openssl s_client "R"          -> hasp server --allow-renegotiation
#   hasp client --renegotiate     -> openssl s_server -client_renegotiation
#   hasp server --renegotiate     -> openssl s_client (HelloRequest), also asking
#                                    for a client certificate (--reneg-verify-client)
#   openssl s_server "r" / "R"    -> hasp client --allow-renegotiation (R: with a
#                                    client certificate requested in the renegotiation)
#   gnutls-cli --rehandshake      -> hasp server; gnutls-serv **REHANDSHAKE** -> hasp client
# with data before and after, checked byte for byte; the default refusal
# (no_renegotiation warning) in both roles; the rate limit on peer-initiated
# renegotiations.
#
# The payloads are digits only: s_client and s_server, with their commands
# on, act on a read from stdin that starts with a letter. The peers run with
# -nbio: with a blocking socket, OpenSSL's SSL_read finishes a renegotiation
# and then waits for application data (SSL_MODE_AUTO_RETRY), and s_client
# stops reading stdin (an s_client artefact, seen with any server).
# Usage: bash tests/interop/renegotiation.sh BUILD_DIR   (env HASP overrides the tool)
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl gnutls-serv gnutls-cli
need_hasp
gen_certs

SUITE=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
for f in up1 up2 down1 down2; do make_digits "$T/$f" 300; done
UP1="$T/up1" UP2="$T/up2" DOWN1="$T/down1" DOWN2="$T/down2"
cat "$UP1" "$UP2" >"$T/up"
cat "$DOWN1" "$DOWN2" >"$T/down"
N1=$(fsize "$UP1")
NUP=$(fsize "$T/up")
ND1=$(fsize "$DOWN1")
NDOWN=$(fsize "$T/down")

# ------------------------------------------------------------- helpers

# What the --trace output is matched on, loosely (its layout may change): a
# handshake or renegotiation completed, alerts by direction and level.
SRV_DONE='(handshake|renegotiation) complete \(server side'
CLI_DONE='(handshake|renegotiation) complete \(client side'
# alert_re DIRECTION NAME LEVEL: a trace line for an alert; DIRECTION "<" =
# sent by the server, ">" = sent by the client (client on the left).
alert_re() {
  local name=${2//(/\\(}
  name=${name//)/\\)}
  if [ "$1" = "<" ]; then printf '<-+ alert %s[ ,(]+%s' "$name" "$3"; else printf -- '-+> alert %s[ ,(]+%s' "$name" "$3"; fi
}
# data_of FILE: the payload lines in a peer's stdout (s_server without -quiet
# mixes its own messages in; the payload is the lines of digits and spaces).
data_of() { grep -aE '^[0-9 ]+$' "$1" 2>/dev/null; }
data_size_at_least() { [ "$(data_of "$1" | wc -c)" -ge "$2" ]; }
same_data() { # EXPECTED FILE WHAT
  data_of "$2" >"$2.data"
  same_bytes "$1" "$2.data" "$3"
}
# hasp_server ARGS...: hasp server --naccept 1 --tls1_2 --trace; sets SPID.
hasp_server() {
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 --tls1_2 \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --trace "$@"
  SPID=$BGPID
  wait_listen "$PORT" "$SPID" || { WHY="hasp server did not start: $WHY $(tail -n 2 "$C/srv.err")"; return 1; }
}
# s_client ARGS...: openssl s_client -nbio (commands on) to $PORT, stdin
# $C/cli.in (a fifo, created here); sets CPID.
s_client() {
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -tls1_2 -CAfile "$CERTS/ca.pem" -verify_return_error -brief -nbio "$@"
  CPID=$BGPID
}
# writer PID: run the rest of the line's commands in the background, stdout
# into a fifo (see the cases); killed at exit.
track() { bg_track "$1"; }
# server_clean: the hasp server exited 0 and logged no failure.
server_clean() {
  bg_wait_for "$SPID" 5
  [ "$BGRC" -eq 0 ] || fail "hasp server exited $BGRC" || return
  ! grep -qE '^hasp: connection 1( failed)?: .*(alert|failed|error|truncated|refused)' "$C/srv.err" ||
    fail "hasp server: $(grep -m1 -E '^hasp: connection 1( failed)?: .*(alert|failed|error|truncated|refused)' "$C/srv.err")" || return
}

# ----------------------------- openssl s_client "R" -> hasp server (allowed)

sclient_r_case() {
  local name="openssl s_client renegotiates (R) with hasp server --allow-renegotiation: data before and after"
  new_case "$name"
  hasp_server --allow-renegotiation || { notok "$name" "$WHY"; keep_case "$name"; return; }
  s_client
  {
    cat "$UP1"
    wait_for "$WAIT" "$CPID" size_at_least "$C/cli.out" "$N1"
    printf 'R\n'
    wait_for "$WAIT" "$CPID" has_lines "$C/srv.err" "$SRV_DONE" 2
    cat "$UP2"
    wait_for "$WAIT" "$CPID" size_at_least "$C/cli.out" "$NUP"
  } >"$C/cli.in" &
  track $!
  bg_wait_for "$CPID" "$TMO"
  CRC=$BGRC
  check "$name" sclient_r_ok || keep_case "$name"
  bg_stop "$SPID"
}
sclient_r_ok() {
  [ "$CRC" -eq 0 ] || fail "s_client exited $CRC: $(grep -m1 -iE 'error|alert' "$C/cli.err")" || return
  has_line "$C/cli.err" "RENEGOTIATING" || fail "s_client did not renegotiate" || return
  same_bytes "$T/up" "$C/cli.out" "echoed data" || return
  has_text "$C/srv.err" "renegotiation = the client asked" ||
    fail "hasp server's trace shows no renegotiation" || return
  [ "$(count_lines "$C/srv.err" "$SRV_DONE")" -eq 2 ] ||
    fail "hasp server completed $(count_lines "$C/srv.err" "$SRV_DONE") handshakes, expected 2" || return
  grep -qE -- '-> ClientHello .*\[encrypted\]' "$C/srv.err" ||
    fail "the second ClientHello was not encrypted under the first handshake's keys" || return
  server_clean || return
}
sclient_r_case

# ------------- hasp client --renegotiate -> openssl s_server -client_renegotiation

# s_server sends DOWN1 right after the handshake, while hasp renegotiates
# (delivered, RFC 5246 allows it), DOWN2 after; hasp sends UP after.
hclient_reneg_case() {
  local name="hasp client --renegotiate -> openssl s_server -client_renegotiation: data during and after"
  new_case "$name"
  next_port
  mkfifo "$C/srv.in"
  bg_start "$C/srv" "$C/srv.in" openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -quiet -nbio \
    -tls1_2 -client_renegotiation -cert "$CERTS/rsa-leaf.pem" -key "$CERTS/rsa.key" \
    -cert_chain "$CERTS/int.pem"
  SPID=$BGPID
  {
    cat "$DOWN1"
    wait_for "$WAIT" "$SPID" has_text "$C/cli.err" "hasp: renegotiated:"
    cat "$DOWN2"
    wait_for "$WAIT" "$SPID" size_at_least "$C/srv.out" "$NUP"
    wait_for "$WAIT" "$SPID" size_at_least "$C/cli.out" "$NDOWN"
  } >"$C/srv.in" &
  track $!
  wait_listen "$PORT" "$SPID" || { notok "$name" "s_server did not start: $WHY"; keep_case "$name"; return; }
  note_cmd "$HASP" client "127.0.0.1:$PORT" --servername localhost --cafile "$CERTS/ca.pem" \
    --tls1_2 --renegotiate --ign-eof --trace
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" --tls1_2 --renegotiate --ign-eof --trace <"$T/up" >"$C/cli.out" 2>"$C/cli.err"
  HRC=$?
  bg_wait_for "$SPID" 5
  local src=$BGRC
  check "$name" hclient_reneg_ok "$src" || keep_case "$name"
}
hclient_reneg_ok() {
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/cli.err")" || return
  has_line "$C/cli.err" "hasp: renegotiated: TLSv1.2 $SUITE" ||
    fail "hasp client: $(first_line "$C/cli.err" '^hasp: (renegotiated|error)')" || return
  [ "$(count_lines "$C/cli.err" "$CLI_DONE")" -eq 2 ] || fail "hasp client completed $(count_lines "$C/cli.err" "$CLI_DONE") handshakes" || return
  same_bytes "$T/down" "$C/cli.out" "server->client data" || return
  same_bytes "$T/up" "$C/srv.out" "client->server data" || return
  [ "$1" -eq 0 ] || fail "s_server exited $1: $(grep -m1 -i error "$C/srv.err")" || return
}
hclient_reneg_case

# ------- hasp client --renegotiate -> openssl s_server (refuses by default)

hclient_refused_case() {
  local name="hasp client --renegotiate -> openssl s_server without -client_renegotiation: refusal reported"
  new_case "$name"
  next_port
  mkfifo "$C/srv.in"
  bg_start "$C/srv" "$C/srv.in" openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -quiet -nbio \
    -tls1_2 -cert "$CERTS/rsa-leaf.pem" -key "$CERTS/rsa.key" -cert_chain "$CERTS/int.pem"
  SPID=$BGPID
  wait_for "$TMO" "$SPID" false >"$C/srv.in" &
  track $!
  wait_listen "$PORT" "$SPID" || { notok "$name" "s_server did not start: $WHY"; keep_case "$name"; return; }
  note_cmd "$HASP" client "127.0.0.1:$PORT" --servername localhost --cafile "$CERTS/ca.pem" --tls1_2 --renegotiate
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" --tls1_2 --renegotiate <"$UP1" >"$C/cli.out" 2>"$C/cli.err"
  HRC=$?
  check "$name" hclient_refused_ok || keep_case "$name"
  bg_stop "$SPID"
}
hclient_refused_ok() {
  # a refusal is reported, and the connection goes on (exit 0 after a clean close)
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC, expected 0" || return
  has_text "$C/cli.err" "hasp: renegotiation refused: the server refused to renegotiate (no_renegotiation)" ||
    fail "hasp client said '$(hasp_error "$C/cli.err")'" || return
}
hclient_refused_case

# ---------------- hasp server --renegotiate (HelloRequest) -> openssl s_client

# sreneg_case NAME CLIENTCERT(yes|no) VERIFY(|optional|require) EXPECT(ok|fail)
sreneg_case() {
  local name=$1 ccert=$2 verify=$3 expect=$4
  new_case "$name"
  local sargs=(--renegotiate)
  [ -n "$verify" ] && sargs+=(--reneg-verify-client "$verify" --cafile "$CERTS/ca.pem")
  hasp_server "${sargs[@]}" || { notok "$name" "$WHY"; keep_case "$name"; return; }
  local cargs=()
  [ "$ccert" = yes ] && cargs=(-cert "$CERTS/client-rsa.pem" -key "$CERTS/client-rsa.key" -cert_chain "$CERTS/int.pem")
  s_client "${cargs[@]}"
  if [ "$expect" = ok ]; then
    {
      cat "$UP1" # on its way while the server sends HelloRequest
      wait_for "$WAIT" "$CPID" has_lines "$C/srv.err" "$SRV_DONE" 2
      wait_for "$WAIT" "$CPID" size_at_least "$C/cli.out" "$N1"
      cat "$UP2"
      wait_for "$WAIT" "$CPID" size_at_least "$C/cli.out" "$NUP"
    } >"$C/cli.in" &
  else
    wait_for "$TMO" "$CPID" false >"$C/cli.in" &
  fi
  track $!
  bg_wait_for "$CPID" "$TMO"
  CRC=$BGRC
  check "$name" sreneg_ok "$verify" "$expect" || keep_case "$name"
  bg_stop "$SPID"
}
sreneg_ok() {
  local verify=$1 expect=$2
  has_line "$C/srv.err" "hasp: connection 1: sent HelloRequest" ||
    fail "hasp server: $(first_line "$C/srv.err" '^hasp: connection 1')" || return
  # the first handshake asked for no certificate
  local hr cr
  hr=$(grep -n -m1 'HelloRequest' "$C/srv.err" | cut -d: -f1)
  cr=$(grep -n -m1 'CertificateRequest' "$C/srv.err" | cut -d: -f1)
  if [ -n "$verify" ]; then
    [ -n "$cr" ] && [ "$cr" -gt "$hr" ] ||
      fail "CertificateRequest at trace line ${cr:-none}, HelloRequest at line $hr: not asked in the renegotiation" || return
  fi
  if [ "$expect" = fail ]; then
    has_text "$C/srv.err" "hasp: connection 1: the client sent no certificate, and this server requires one (sent handshake_failure(40) to the client)" ||
      fail "hasp server: $(grep -m1 -E '^hasp: connection 1: (the|client)' "$C/srv.err")" || return
    [ "$CRC" -ne 0 ] && has_text "$C/cli.err" "SSL alert number 40" ||
      fail "s_client exited $CRC: $(grep -m1 -iE 'error|alert' "$C/cli.err")" || return
    return 0
  fi
  [ "$CRC" -eq 0 ] || fail "s_client exited $CRC: $(grep -m1 -iE 'error|alert' "$C/cli.err")" || return
  same_bytes "$T/up" "$C/cli.out" "echoed data" || return
  [ "$(count_lines "$C/srv.err" "$SRV_DONE")" -eq 2 ] ||
    fail "hasp server completed $(count_lines "$C/srv.err" "$SRV_DONE") handshakes, expected 2" || return
  case "$verify" in
    require) has_line "$C/srv.err" "hasp: connection 1: client certificate: ok" ||
      fail "hasp server: $(first_line "$C/srv.err" 'client certificate')" || return ;;
    optional) has_line "$C/srv.err" "hasp: connection 1: client certificate: no client certificate" ||
      fail "hasp server: $(first_line "$C/srv.err" 'client certificate')" || return ;;
  esac
  server_clean || return
}
sreneg_case "hasp server --renegotiate (HelloRequest) -> openssl s_client: data before and after" no "" ok
sreneg_case "hasp server --renegotiate --reneg-verify-client require -> openssl s_client -cert: certificate asked in the renegotiation" \
  yes require ok
sreneg_case "hasp server --renegotiate --reneg-verify-client optional -> openssl s_client without certificate: goes on" \
  no optional ok
sreneg_case "hasp server --renegotiate --reneg-verify-client require -> openssl s_client without certificate: handshake_failure" \
  no require fail

# ---------- openssl s_server "r" / "R" -> hasp client --allow-renegotiation

# s_server reads its commands from stdin when not -quiet; it then prints its
# own messages on stdout too (data_of picks the payload out).
# sserver_r_case NAME CMD(r|R) HASP_ALLOW(yes|no) CERTREQ [s_server args...]
# CERTREQ: where s_server asks for the client certificate: none, reneg (only
# in the renegotiation: "R"), initial (-Verify: in the first handshake).
sserver_r_case() {
  local name=$1 cmd=$2 allow=$3 certreq=$4
  shift 4
  new_case "$name"
  next_port
  mkfifo "$C/srv.in" "$C/cli.in"
  bg_start "$C/srv" "$C/srv.in" openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -nbio -tls1_2 \
    -cert "$CERTS/rsa-leaf.pem" -key "$CERTS/rsa.key" -cert_chain "$CERTS/int.pem" \
    -CAfile "$CERTS/ca.pem" -verify_return_error "$@"
  SPID=$BGPID
  # the server's script (s_server opens its stdin fifo before it listens)
  {
    cat "$DOWN1"
    wait_for "$WAIT" "$SPID" size_at_least "$C/cli.out" "$ND1"
    wait_for "$WAIT" "$SPID" data_size_at_least "$C/srv.out" "$N1"
    printf '%s\n' "$cmd"
    wait_for "$WAIT" "$SPID" has_lines "$C/cli.err" "$CLI_DONE" 2
    cat "$DOWN2"
    wait_for "$TMO" "$SPID" false # until s_server exits
  } >"$C/srv.in" &
  track $!
  wait_listen "$PORT" "$SPID" || { notok "$name" "s_server did not start: $WHY"; keep_case "$name"; return; }
  local hargs=(--servername localhost --cafile "$CERTS/ca.pem" --tls1_2 --trace
    --cert "$CERTS/client-rsa.pem" --key "$CERTS/client-rsa.key")
  [ "$allow" = yes ] && hargs+=(--allow-renegotiation)
  bg_start "$C/cli" "$C/cli.in" "$HASP" client "127.0.0.1:$PORT" "${hargs[@]}"
  CPID=$BGPID
  # the client's script
  {
    cat "$UP1"
    wait_for "$WAIT" "$CPID" has_lines "$C/cli.err" "$CLI_DONE" 2
    cat "$UP2"
    wait_for "$WAIT" "$CPID" size_at_least "$C/cli.out" "$NDOWN"
    wait_for "$WAIT" "$CPID" data_size_at_least "$C/srv.out" "$NUP"
  } >"$C/cli.in" &
  track $!
  bg_wait_for "$CPID" "$TMO"
  HRC=$BGRC
  bg_wait_for "$SPID" 5
  local src=$BGRC
  check "$name" sserver_r_ok "$certreq" "$allow" "$src" || keep_case "$name"
}
sserver_r_ok() {
  local certreq=$1 allow=$2 src=$3
  if [ "$allow" = no ]; then
    # hasp refuses with a warning; OpenSSL 3 then ends the connection itself
    # (handshake_failure): see the refusal cases below.
    has_text "$C/cli.err" 'renegotiation refused = the configuration refuses renegotiation' ||
      fail "hasp client did not refuse: $(first_line "$C/cli.err" 'renegotiation')" || return
    grep -qE -- "$(alert_re '>' 'no_renegotiation(100)' warning)" "$C/cli.err" ||
      fail "hasp client sent no no_renegotiation warning" || return
    ! grep -qE -- "$(alert_re '>' '[a-z_]+([0-9]+)' fatal)" "$C/cli.err" ||
      fail "hasp client sent a fatal alert: $(grep -m1 -E -- "$(alert_re '>' '[a-z_]+([0-9]+)' fatal)" "$C/cli.err")" || return
    has_text "$C/srv.err" "no renegotiation" || fail "s_server did not see the refusal: $(grep -m1 -i error "$C/srv.err")" || return
    has_text "$C/cli.err" "hasp: error: the server sent a fatal alert: handshake_failure(40)" ||
      fail "hasp client said '$(hasp_error "$C/cli.err")'" || return
    same_bytes "$DOWN1" "$C/cli.out" "server->client data before the refusal" || return
    return 0
  fi
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/cli.err")" || return
  has_text "$C/cli.err" "renegotiation = the server asked" || fail "hasp client did not renegotiate" || return
  [ "$(count_lines "$C/cli.err" "$CLI_DONE")" -eq 2 ] ||
    fail "hasp client completed $(count_lines "$C/cli.err" "$CLI_DONE") handshakes, expected 2" || return
  same_bytes "$T/down" "$C/cli.out" "server->client data" || return
  same_data "$T/up" "$C/srv.out" "client->server data" || return
  [ "$src" -eq 0 ] || fail "s_server exited $src: $(grep -m1 -i error "$C/srv.err")" || return
  local done1 cr
  done1=$(grep -n -m1 -E "$CLI_DONE" "$C/cli.err" | cut -d: -f1)
  cr=$(grep -n -m1 'CertificateRequest' "$C/cli.err" | cut -d: -f1)
  case "$certreq" in
    none) [ -z "$cr" ] || fail "s_server asked for a certificate" || return ;;
    reneg)
      # asked for in the renegotiation, not in the first handshake
      [ -n "$cr" ] && [ "$cr" -gt "$done1" ] ||
        fail "CertificateRequest at trace line ${cr:-none}, first handshake done at line $done1" || return
      grep -qE -- '-> Certificate .*\[encrypted\].*certificates=2' "$C/cli.err" ||
        fail "hasp client did not send its certificate in the renegotiation" || return
      ;;
    initial)
      [ -n "$cr" ] && [ "$cr" -lt "$done1" ] ||
        fail "CertificateRequest at trace line ${cr:-none}, first handshake done at line $done1" || return
      ;;
  esac
  if [ "$certreq" != none ]; then
    has_text "$C/srv.err" "depth=0 O = hasp tests, CN = hasp test client rsa" ||
      fail "s_server did not verify the client certificate: $(grep -m1 -iE 'depth=0|error' "$C/srv.err")" || return
  fi
}
sserver_r_case "openssl s_server renegotiates (r) with hasp client --allow-renegotiation: data before and after" \
  r yes none
sserver_r_case "openssl s_server renegotiates asking for a client certificate (R) with hasp client --cert --allow-renegotiation" \
  R yes reneg
sserver_r_case "openssl s_server -Verify 1 renegotiates (R) a mutually authenticated connection with hasp client --cert" \
  R yes initial -Verify 1

# ----------------------------------------------------- refusals (default)

# openssl s_client "R" -> hasp server without --allow-renegotiation: hasp
# answers with a no_renegotiation warning and keeps the connection; OpenSSL 3
# treats a refused renegotiation as fatal and sends handshake_failure itself.
sclient_refused_case() {
  local name="hasp server refuses openssl s_client's renegotiation by default: no_renegotiation warning, hasp does not end the connection"
  new_case "$name"
  hasp_server || { notok "$name" "$WHY"; keep_case "$name"; return; }
  s_client
  {
    cat "$UP1"
    wait_for "$WAIT" "$CPID" size_at_least "$C/cli.out" "$N1"
    printf 'R\n'
    wait_for "$TMO" "$CPID" false
  } >"$C/cli.in" &
  track $!
  bg_wait_for "$CPID" "$TMO"
  CRC=$BGRC
  bg_wait_for "$SPID" 5
  local src=$BGRC
  check "$name" sclient_refused_ok "$src" || keep_case "$name"
}
sclient_refused_ok() {
  same_bytes "$UP1" "$C/cli.out" "echoed data before the renegotiation" || return
  has_text "$C/srv.err" "renegotiation refused = the configuration refuses renegotiation" ||
    fail "hasp server did not refuse: $(first_line "$C/srv.err" 'renegotiation')" || return
  grep -qE -- "$(alert_re '<' 'no_renegotiation(100)' warning)" "$C/srv.err" ||
    fail "hasp server sent no no_renegotiation warning" || return
  ! grep -qE -- "$(alert_re '<' '[a-z_]+([0-9]+)' fatal)" "$C/srv.err" ||
    fail "hasp server sent a fatal alert: $(grep -m1 -E -- "$(alert_re '<' '[a-z_]+([0-9]+)' fatal)" "$C/srv.err")" || return
  has_text "$C/cli.err" "no renegotiation" || fail "s_client did not report the refusal: $(grep -m1 -iE 'error|alert' "$C/cli.err")" || return
  # it was OpenSSL that ended the connection
  has_text "$C/srv.err" "hasp: connection 1: the client sent a fatal alert: handshake_failure(40)" ||
    fail "hasp server: $(grep -m1 -E '^hasp: connection 1: the' "$C/srv.err")" || return
  [ "$1" -eq 0 ] || fail "hasp server exited $1" || return
}
sclient_refused_case

# hasp client (default) refusing openssl s_server's "r".
sserver_r_case "hasp client refuses openssl s_server's renegotiation by default: no_renegotiation warning (OpenSSL then aborts)" \
  r no none

# hasp server --renegotiate -> hasp client (default refuses): the
# connection goes on, data before and after, both exit 0.
hasp_refusal_goes_on_case() {
  local name="hasp client refuses hasp server's HelloRequest: the connection goes on, data byte for byte"
  new_case "$name"
  hasp_server --renegotiate || { notok "$name" "$WHY"; keep_case "$name"; return; }
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" --trace
  CPID=$BGPID
  {
    cat "$UP1"
    wait_for "$WAIT" "$CPID" size_at_least "$C/cli.out" "$N1"
    wait_for "$WAIT" "$CPID" has_lines "$C/srv.err" "$(alert_re '>' 'no_renegotiation(100)' warning)" 1
    cat "$UP2"
    wait_for "$WAIT" "$CPID" size_at_least "$C/cli.out" "$NUP"
  } >"$C/cli.in" &
  track $!
  bg_wait_for "$CPID" "$TMO"
  HRC=$BGRC
  check "$name" hasp_refusal_ok || keep_case "$name"
  bg_stop "$SPID"
}
hasp_refusal_ok() {
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/cli.err")" || return
  has_text "$C/cli.err" "renegotiation refused = the configuration refuses renegotiation" ||
    fail "hasp client did not refuse" || return
  grep -qE -- "$(alert_re '>' 'no_renegotiation(100)' warning)" "$C/srv.err" ||
    fail "hasp server did not receive the warning" || return
  same_bytes "$T/up" "$C/cli.out" "echoed data" || return
  [ "$(count_lines "$C/srv.err" "$SRV_DONE")" -eq 1 ] || fail "a second handshake happened" || return
  server_clean || return
}
hasp_refusal_goes_on_case

# -------------------------------------------------------------- rate limit

# Peer-initiated renegotiations: at most 3 a minute (the tool's setting).
rate_limit_case() {
  local name="hasp server --allow-renegotiation allows 3 renegotiations a minute, refuses the 4th (openssl s_client R x4)"
  new_case "$name"
  hasp_server --allow-renegotiation || { notok "$name" "$WHY"; keep_case "$name"; return; }
  s_client
  {
    cat "$UP1"
    wait_for "$WAIT" "$CPID" size_at_least "$C/cli.out" "$N1"
    local k
    for k in 2 3 4; do
      printf 'R\n'
      wait_for "$WAIT" "$CPID" has_lines "$C/srv.err" "$SRV_DONE" "$k"
    done
    printf 'R\n'
    wait_for "$TMO" "$CPID" false
  } >"$C/cli.in" &
  track $!
  bg_wait_for "$CPID" "$TMO"
  CRC=$BGRC
  check "$name" rate_limit_ok || keep_case "$name"
  bg_stop "$SPID"
}
rate_limit_ok() {
  [ "$(count_lines "$C/srv.err" "$SRV_DONE")" -eq 4 ] ||
    fail "hasp server completed $(count_lines "$C/srv.err" "$SRV_DONE") handshakes, expected 1 + 3 renegotiations" || return
  has_text "$C/srv.err" "renegotiation refused = the peer renegotiates too often" ||
    fail "the 4th renegotiation was not refused: $(grep -m1 'refused' "$C/srv.err")" || return
  grep -qE -- "$(alert_re '<' 'no_renegotiation(100)' warning)" "$C/srv.err" ||
    fail "no no_renegotiation warning" || return
}
rate_limit_case

# ------------------------------------------------------------------ GnuTLS

# gnutls-cli --rehandshake renegotiates right after the handshake.
gcli_rehandshake_case() {
  local name="gnutls-cli --rehandshake -> hasp server --allow-renegotiation: data after"
  new_case "$name"
  hasp_server --allow-renegotiation || { notok "$name" "$WHY"; keep_case "$name"; return; }
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" gnutls-cli -p "$PORT" 127.0.0.1 --x509cafile "$CERTS/ca.pem" \
    --verify-hostname localhost --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2" --rehandshake --logfile "$C/cli.log"
  CPID=$BGPID
  feed "$C/cli.in" "$T/up" "$C/cli.out" "$NUP" "$CPID"
  bg_wait_for "$CPID" "$TMO"
  CRC=$BGRC
  check "$name" gcli_rehandshake_ok || keep_case "$name"
  bg_stop "$SPID"
  bg_stop "$FEEDPID"
}
gcli_rehandshake_ok() {
  [ "$CRC" -eq 0 ] || fail "gnutls-cli exited $CRC: $(grep -h -m1 -iE 'error|fail' "$C/cli.log" "$C/cli.err")" || return
  grep -q 'ReHandshake was completed' "$C/cli.log" "$C/cli.err" 2>/dev/null || fail "gnutls-cli did not rehandshake" || return
  same_bytes "$T/up" "$C/cli.out" "echoed data" || return
  [ "$(count_lines "$C/srv.err" "$SRV_DONE")" -eq 2 ] ||
    fail "hasp server completed $(count_lines "$C/srv.err" "$SRV_DONE") handshakes, expected 2" || return
  server_clean || return
}
gcli_rehandshake_case

# gnutls-serv --echo sends HelloRequest when it reads "**REHANDSHAKE**".
# gserv_rehandshake_case NAME PRIORITY
gserv_rehandshake_case() {
  local name=$1 prio=$2
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null gnutls-serv --echo -p "$PORT" --x509certfile "$CERTS/rsa.pem" \
    --x509keyfile "$CERTS/rsa.key" --priority "$prio"
  SPID=$BGPID
  wait_listen "$PORT" "$SPID" || { notok "$name" "gnutls-serv did not start: $WHY"; keep_case "$name"; return; }
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" --allow-renegotiation --trace
  CPID=$BGPID
  {
    cat "$UP1"
    wait_for "$WAIT" "$CPID" data_size_at_least "$C/cli.out" "$N1"
    printf '**REHANDSHAKE**\n'
    wait_for "$WAIT" "$CPID" has_lines "$C/cli.err" "$CLI_DONE" 2
    cat "$UP2"
    wait_for 5 "$CPID" data_size_at_least "$C/cli.out" "$NUP"
  } >"$C/cli.in" &
  track $!
  bg_wait_for "$CPID" 10
  HRC=$BGRC
  check "$name" gserv_rehandshake_ok || keep_case "$name"
  bg_stop "$SPID"
}
gserv_rehandshake_ok() {
  [ "$(count_lines "$C/cli.err" "$CLI_DONE")" -eq 2 ] ||
    fail "hasp client completed $(count_lines "$C/cli.err" "$CLI_DONE") handshakes, expected 2 ($(hasp_error "$C/cli.err"))" || return
  same_data "$T/up" "$C/cli.out" "echoed data" ||
    fail "$WHY; hasp client $([ "$HRC" = 124 ] && echo 'hung after the renegotiation' || echo "exited $HRC: $(hasp_error "$C/cli.err")")" || return
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/cli.err")" || return
}
gserv_rehandshake_case "gnutls-serv rehandshake (HelloRequest) -> hasp client --allow-renegotiation: data before and after" \
  "NORMAL:-VERS-ALL:+VERS-TLS1.2"
gserv_rehandshake_case "gnutls-serv rehandshake (%NO_TICKETS) -> hasp client --allow-renegotiation: data before and after" \
  "NORMAL:-VERS-ALL:+VERS-TLS1.2:%NO_TICKETS"

# --------------------------------------------------------------- TLS 1.3

tls13_case() {
  local name="hasp client --renegotiate on a TLS 1.3 connection: a clear error (renegotiation is TLS 1.2 only)"
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -quiet -tls1_3 \
    -cert "$CERTS/rsa-leaf.pem" -key "$CERTS/rsa.key" -cert_chain "$CERTS/int.pem"
  SPID=$BGPID
  wait_listen "$PORT" "$SPID" || { notok "$name" "s_server did not start: $WHY"; keep_case "$name"; return; }
  note_cmd "$HASP" client "127.0.0.1:$PORT" --servername localhost --cafile "$CERTS/ca.pem" --renegotiate
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" --renegotiate <"$UP1" >"$C/cli.out" 2>"$C/cli.err"
  HRC=$?
  check "$name" tls13_ok || keep_case "$name"
  bg_stop "$SPID"
}
tls13_ok() {
  has_line "$C/cli.err" "hasp: protocol: TLSv1.3" || fail "not TLS 1.3: $(hasp_error "$C/cli.err")" || return
  [ "$HRC" -eq 1 ] || fail "hasp client exited $HRC, expected 1" || return
  grep -qiE '^hasp: error: .*TLS 1\.2' "$C/cli.err" ||
    fail "hasp client said '$(hasp_error "$C/cli.err")', expected a message that renegotiation is TLS 1.2 only" || return
}
tls13_case

finish

#!/usr/bin/env bash
# TLS 1.3 interop with OpenSSL, both directions:
#   (a) hasp client -> openssl s_server, (b) openssl s_client -> hasp server,
# for every TLS 1.3 suite x every group (x25519, P-256, P-384, ffdhe2048) x
# both certificate types (RSA, ECDSA), data both ways checked byte for byte;
# then single cases: HelloRetryRequest forced both ways, client authentication (required, optional, missing
# -> certificate_required, untrusted -> unknown_ca), KeyUpdate both ways
# (hasp client --keyupdate; s_client's 'k' and 'K' commands), version
# fallback to TLS 1.2 against a peer limited to 1.2 and protocol_version
# when hasp is limited to 1.3, --www, and the --trace ladder.
# Usage: bash tests/interop/tls13_openssl.sh BUILD_DIR   (env HASP overrides the tool)
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl
need_hasp
gen_certs

UP="$T/up"     # client -> server payload
DOWN="$T/down" # server -> client payload
make_payload "$UP"
make_payload "$DOWN"
NUP=$(fsize "$UP")

SUITES13="TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256 TLS_AES_128_CCM_SHA256 TLS_AES_128_CCM_8_SHA256"
GROUPS13="x25519 secp256r1 secp384r1 ffdhe2048"
# The TLS 1.3 signature scheme each certificate type signs with.
sig_for() { case "$1" in rsa) echo rsa_pss_rsae_sha256 ;; ecdsa) echo ecdsa_secp256r1_sha256 ;; esac; }
# How s_client -brief reports the server's key share in TLS 1.3.
tempkey13() {
  case "$1" in ffdhe2048) echo "Server Temp Key: DH, 2048 bits" ;;
    *) group_sclient_tempkey "$1" ;; esac
}

# --------------------------------------------------------------- helpers

# wait_text FILE TEXT [SECONDS] [PID]: poll until FILE contains TEXT.
wait_text() {
  local f=$1 text=$2 limit=${3:-$WAIT} pid=${4:-} i=0
  local n=$((limit * 50))
  while [ $i -lt $n ]; do
    has_text "$f" "$text" && return 0
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && { has_text "$f" "$text"; return; }
    sleep 0.02
    i=$((i + 1))
  done
  return 1
}
count_text() { grep -cF -- "$2" "$1" 2>/dev/null || true; }

# s_server for certificate type CERT, TLS 1.3 unless SVERS says otherwise;
# SEXTRA: more s_server arguments. Sets SARGS.
s_server_args() {
  SARGS=(openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -quiet "${SVERS[@]}"
    -cert "$CERTS/$1-leaf.pem" -key "$CERTS/$1.key" -cert_chain "$CERTS/int.pem"
    -msg -msgfile "$C/srv.msg" "${SEXTRA[@]}")
}

# hasp client -> s_server: HEXTRA = hasp client arguments after HOST:PORT.
# Sets HRC (hasp exit status) and SRC (s_server exit status).
# client_run NAME CERT
client_run() {
  local name=$1 cert=$2
  new_case "$name"
  next_port
  s_server_args "$cert"
  mkfifo "$C/srv.in"
  bg_start "$C/srv" "$C/srv.in" "${SARGS[@]}"
  local spid=$BGPID
  feed "$C/srv.in" "$DOWN" "$C/srv.out" "$NUP" "$spid"
  if ! wait_listen "$PORT" "$spid"; then
    HRC=99 SRC=99
    WHY="openssl s_server did not start: $WHY $(tail -n 2 "$C/srv.err")"
    return 1
  fi
  note_cmd "$HASP" client "127.0.0.1:$PORT" "${HEXTRA[@]}" --ign-eof
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" "${HEXTRA[@]}" --ign-eof \
    <"$UP" >"$C/cli.out" 2>"$C/cli.err"
  HRC=$?
  bg_wait "$spid" 5
  SRC=$BGRC
  bg_stop "$FEEDPID"
  return 0
}
# The normal outcome: handshake in PROTO, data both ways, clean exits.
# client_ok PROTO IANA GROUP SIG
client_ok() {
  local proto=$1 iana=$2 group=$3 sig=$4
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/cli.err")" || return
  has_line "$C/cli.err" "hasp: protocol: $proto" ||
    fail "hasp did not print 'hasp: protocol: $proto' (got: $(first_line "$C/cli.err" '^hasp: (protocol|error)'))" || return
  [ "$iana" = - ] || has_line "$C/cli.err" "hasp: cipher: $iana ($iana)" ||
    fail "hasp did not print 'hasp: cipher: $iana ($iana)' (got: $(first_line "$C/cli.err" '^hasp: (cipher|error)'))" || return
  [ "$group" = - ] || has_line "$C/cli.err" "hasp: group: $group" ||
    fail "hasp did not print 'hasp: group: $group' (got: $(first_line "$C/cli.err" '^hasp: (group|error)'))" || return
  [ "$sig" = - ] || has_line "$C/cli.err" "hasp: signature: $sig" ||
    fail "hasp did not print 'hasp: signature: $sig' (got: $(first_line "$C/cli.err" '^hasp: (signature|error)'))" || return
  has_line "$C/cli.err" "hasp: verify: ok" ||
    fail "hasp did not print 'hasp: verify: ok' (got: $(first_line "$C/cli.err" '^hasp: verify'))" || return
  same_bytes "$UP" "$C/srv.out" "client->server data" || return
  same_bytes "$DOWN" "$C/cli.out" "server->client data" || return
  [ "$SRC" -eq 0 ] || fail "openssl s_server exited $SRC: $(grep -m1 -iE 'error|alert' "$C/srv.err")" || return
}
# client_case NAME CERT PROTO IANA GROUP SIG [EXTRA_CHECK_FN]
client_case() {
  local name=$1 cert=$2 extra=${7:-}
  if ! client_run "$name" "$cert"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  if check "$name" client_checks "$3" "$4" "$5" "$6" "$extra"; then :; else keep_case "$name"; fi
}
client_checks() {
  client_ok "$1" "$2" "$3" "$4" || return
  [ -z "$5" ] || "$5" || return
}

# s_client -> hasp server (echo). SVEXTRA: hasp server arguments; CEXTRA:
# s_client arguments. Sets CRC, SRC.
server_run() {
  local name=$1
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 "${SVEXTRA[@]}"
  local spid=$BGPID
  if ! wait_listen "$PORT" "$spid"; then
    CRC=99 SRC=99
    WHY="hasp server did not start: $WHY $(tail -n 2 "$C/srv.err")"
    return 1
  fi
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$CERTS/ca.pem" -verify_return_error -verify_hostname localhost \
    -brief -nocommands -msg -msgfile "$C/cli.msg" "${CEXTRA[@]}"
  local cpid=$BGPID
  feed "$C/cli.in" "$UP" "$C/cli.out" "$NUP" "$cpid"
  bg_wait "$cpid" "$TMO"
  CRC=$BGRC
  bg_wait "$spid" 5
  SRC=$BGRC
  bg_stop "$FEEDPID"
  return 0
}
# server_ok PROTO IANA TEMPKEY
server_ok() {
  local proto=$1 iana=$2 tempkey=$3
  [ "$CRC" -eq 0 ] ||
    fail "openssl s_client exited $CRC: $(grep -m1 -iE 'error|alert' "$C/cli.err") / hasp server: $(first_line "$C/srv.err" 'failed|error')" || return
  has_line "$C/cli.err" "Protocol version: $proto" ||
    fail "s_client negotiated '$(first_line "$C/cli.err" '^Protocol version')', expected $proto" || return
  [ "$iana" = - ] || has_line "$C/cli.err" "Ciphersuite: $iana" ||
    fail "s_client negotiated '$(first_line "$C/cli.err" '^Ciphersuite')', expected $iana" || return
  has_line "$C/cli.err" "Verification: OK" || fail "s_client: $(first_line "$C/cli.err" '^Verif')" || return
  [ -z "$tempkey" ] || has_line "$C/cli.err" "$tempkey" ||
    fail "s_client saw '$(first_line "$C/cli.err" 'Temp Key')', expected '$tempkey'" || return
  same_bytes "$UP" "$C/cli.out" "echoed data" || return
  [ "$SRC" -eq 0 ] || fail "hasp server exited $SRC ($([ "$SRC" = 124 ] && echo 'still running after the client left')): $(first_line "$C/srv.err" 'failed|error')" || return
  [ "$iana" = - ] || has_line "$C/srv.err" "hasp: connection 1: $proto $iana ($iana)" ||
    fail "hasp server did not log 'hasp: connection 1: $proto $iana ($iana)' (got: $(first_line "$C/srv.err" '^hasp: connection'))" || return
  ! grep -q 'connection 1 failed' "$C/srv.err" ||
    fail "hasp server logged: $(first_line "$C/srv.err" 'connection 1 failed')" || return
}
# server_case NAME PROTO IANA TEMPKEY [EXTRA_CHECK_FN]
server_case() {
  local name=$1 extra=${5:-}
  if ! server_run "$name"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  if check "$name" server_checks "$2" "$3" "$4" "$extra"; then :; else keep_case "$name"; fi
}
server_checks() {
  server_ok "$1" "$2" "$3" || return
  [ -z "$4" ] || "$4" || return
}

# ------------------------------------------------------------- the matrix

SVERS=(-tls1_3)
for cert in rsa ecdsa; do
  for s in $SUITES13; do
    for g in $GROUPS13; do
      # (a) hasp client offers its defaults for versions (1.3 and 1.2)
      SEXTRA=(-ciphersuites "$s" -groups "$(group_openssl "$g")")
      HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --ciphersuites "$s" --groups "$g")
      client_case "hasp client -> openssl s_server: TLSv1.3 $s $g ($cert)" "$cert" \
        TLSv1.3 "$s" "$g" "$(sig_for "$cert")"
      # (b)
      SVEXTRA=(--cert "$CERTS/$cert.pem" --key "$CERTS/$cert.key" --ciphersuites "$s" --groups "$g")
      CEXTRA=(-tls1_3 -ciphersuites "$s" -groups "$(group_openssl "$g")")
      server_case "openssl s_client -> hasp server: TLSv1.3 $s $g ($cert)" \
        TLSv1.3 "$s" "$(tempkey13 "$g")"
    done
  done
done

# ---------------------------------------------------------- defaults

# Both sides with their defaults negotiate TLS 1.3.
SEXTRA=()
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem")
client_case "hasp client with default settings -> openssl s_server (default): TLSv1.3" rsa \
  TLSv1.3 TLS_AES_128_GCM_SHA256 x25519 rsa_pss_rsae_sha256
SVEXTRA=(--cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key")
CEXTRA=()
server_case "openssl s_client (default) -> hasp server with default settings: TLSv1.3" TLSv1.3 - ""
# --tls1_3 on both hasp sides.
SEXTRA=(-ciphersuites TLS_CHACHA20_POLY1305_SHA256)
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --tls1_3)
client_case "hasp client --tls1_3 -> openssl s_server" ecdsa TLSv1.3 TLS_CHACHA20_POLY1305_SHA256 x25519 \
  ecdsa_secp256r1_sha256
SVEXTRA=(--cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --tls1_3)
CEXTRA=()
server_case "openssl s_client -> hasp server --tls1_3" TLSv1.3 - ""

# ---------------------------------------------------------- HelloRetryRequest

# s_client's first key share (X25519) is not one the hasp server takes.
hrr_server_side() {
  has_text "$C/srv.err" "HelloRetryRequest" ||
    fail "hasp server --trace shows no HelloRetryRequest" || return
  [ "$(grep -cE '^>>> .*, ClientHello' "$C/cli.msg")" -eq 2 ] ||
    fail "s_client sent $(grep -cE '^>>> .*, ClientHello' "$C/cli.msg") ClientHellos, expected 2 (-msg)" || return
  # the HelloRetryRequest random (RFC 8446 4.1.3) in s_client's message dump
  grep -q 'cf 21 ad 74 e5 9a 61 11' "$C/cli.msg" ||
    fail "s_client -msg shows no ServerHello with the HelloRetryRequest random" || return
}
SVEXTRA=(--cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --groups P-384 --trace)
CEXTRA=(-tls1_3 -groups X25519:P-384)
server_case "HelloRetryRequest: openssl s_client -groups X25519:P-384 -> hasp server --groups P-384" \
  TLSv1.3 TLS_AES_128_GCM_SHA256 "$(tempkey13 secp384r1)" hrr_server_side
SVEXTRA=(--cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" --groups ffdhe2048 --trace)
CEXTRA=(-tls1_3 -groups X25519:P-256:ffdhe2048)
server_case "HelloRetryRequest: openssl s_client -groups X25519:P-256:ffdhe2048 -> hasp server --groups ffdhe2048" \
  TLSv1.3 TLS_AES_128_GCM_SHA256 "$(tempkey13 ffdhe2048)" hrr_server_side

# hasp client's first key share (x25519) is not one s_server takes.
hrr_client_side() {
  grep -q 'HelloRetryRequest' "$C/cli.err" ||
    fail "hasp client --trace shows no HelloRetryRequest" || return
  [ "$(grep -cE '^<<< .*, ClientHello' "$C/srv.msg")" -eq 2 ] ||
    fail "s_server received $(grep -cE '^<<< .*, ClientHello' "$C/srv.msg") ClientHellos, expected 2 (-msg)" || return
}
SEXTRA=(-groups P-384)
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --groups x25519:P-384 --trace)
client_case "HelloRetryRequest: hasp client --groups x25519:P-384 -> openssl s_server -groups P-384" rsa \
  TLSv1.3 TLS_AES_128_GCM_SHA256 secp384r1 rsa_pss_rsae_sha256 hrr_client_side
SEXTRA=(-groups ffdhe2048)
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --groups x25519:P-256:ffdhe2048 --trace)
client_case "HelloRetryRequest: hasp client --groups x25519:P-256:ffdhe2048 -> openssl s_server -groups ffdhe2048" ecdsa \
  TLSv1.3 TLS_AES_128_GCM_SHA256 ffdhe2048 ecdsa_secp256r1_sha256 hrr_client_side
# ---------------------------------------------------------- client authentication

# hasp server requires a certificate; s_client presents one.
client_cert_seen() {
  grep -q 'CertificateVerify' "$C/srv.err" ||
    fail "hasp server --trace shows no client CertificateVerify" || return
  [ "$(grep -cE '^>>> .*, Certificate$' "$C/cli.msg")" -ge 1 ] ||
    fail "s_client sent no Certificate (-msg)" || return
}
for cc in rsa ecdsa; do
  SVEXTRA=(--cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --verify-client require --cafile "$CERTS/ca.pem" --trace)
  CEXTRA=(-tls1_3 -cert "$CERTS/client-$cc.pem" -key "$CERTS/client-$cc.key" -cert_chain "$CERTS/int.pem")
  server_case "client auth: openssl s_client -cert client-$cc.pem -> hasp server --verify-client require" \
    TLSv1.3 - "" client_cert_seen
done
SVEXTRA=(--cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" --verify-client optional --cafile "$CERTS/ca.pem")
CEXTRA=(-tls1_3)
server_case "client auth: openssl s_client without a certificate -> hasp server --verify-client optional" \
  TLSv1.3 - ""

# Failures: no certificate -> certificate_required; untrusted -> unknown_ca.
# server_fail_case NAME EXPECT_SRV_TEXT EXPECT_CLI_REGEX
server_fail_case() {
  local name=$1 srvtext=$2 clire=$3
  if ! server_run "$name"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  if check "$name" server_fail_ok "$srvtext" "$clire"; then :; else keep_case "$name"; fi
}
server_fail_ok() {
  has_text "$C/srv.err" "connection 1 failed" ||
    fail "hasp server did not log a failed connection (got: $(first_line "$C/srv.err" '^hasp: connection'))" || return
  grep 'connection 1 failed' "$C/srv.err" | grep -qiE -- "$1" ||
    fail "hasp server failed with '$(first_line "$C/srv.err" 'connection 1 failed')', expected /$1/" || return
  grep -qiE -- "$2" "$C/cli.err" ||
    fail "s_client did not report /$2/: $(grep -m1 -iE 'error|alert' "$C/cli.err")" || return
  [ "$SRC" -eq 0 ] || fail "hasp server exited $SRC" || return
}
SVEXTRA=(--cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --verify-client require --cafile "$CERTS/ca.pem")
CEXTRA=(-tls1_3)
server_fail_case "client auth: openssl s_client without a certificate -> hasp server --verify-client require: certificate_required" \
  "requires|certificate_required|no certificate" "certificate required"
CEXTRA=(-tls1_3 -cert "$CERTS/bad-client.pem" -key "$CERTS/bad-client.key")
server_fail_case "client auth: openssl s_client with an untrusted certificate -> hasp server: unknown_ca" \
  "unknown issuer|unknown_ca|trust" "unknown ca"

# hasp client presents a certificate to s_server -Verify 1 (required).
client_sent_cert() {
  [ "$(grep -cE '^<<< .*, CertificateVerify' "$C/srv.msg")" -ge 1 ] ||
    fail "s_server received no client CertificateVerify (-msg)" || return
}
SEXTRA=(-Verify 1 -verify_return_error -CAfile "$CERTS/ca.pem")
for cc in ecdsa rsa; do
  HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --cert "$CERTS/client-$cc.pem" --key "$CERTS/client-$cc.key")
  client_case "client auth: hasp client --cert client-$cc.pem -> openssl s_server -Verify 1" rsa \
    TLSv1.3 TLS_AES_128_GCM_SHA256 x25519 rsa_pss_rsae_sha256 client_sent_cert
done
# hasp client without a certificate: s_server answers certificate_required.
client_fail_case() { # NAME CERT EXPECT_REGEX
  local name=$1 cert=$2 re=$3
  if ! client_run "$name" "$cert"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  if check "$name" client_fail_ok "$re"; then :; else keep_case "$name"; fi
}
client_fail_ok() {
  [ "$HRC" -eq 1 ] || fail "hasp client exited $HRC, expected 1" || return
  hasp_error "$C/cli.err" | grep -qE -- "$1" ||
    fail "hasp client: '$(hasp_error "$C/cli.err")', expected /$1/" || return
}
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem")
client_fail_case "client auth: hasp client without a certificate -> openssl s_server -Verify 1: certificate_required" rsa \
  "certificate_required\\(116\\)"

# ---------------------------------------------------------- KeyUpdate

# hasp client --keyupdate (update_requested): s_server receives a KeyUpdate,
# answers with its own, and the data after it goes through both ways.
keyupdate_client() {
  has_line "$C/cli.err" "hasp: sent KeyUpdate (update_requested)" ||
    fail "hasp client did not say it sent a KeyUpdate" || return
  grep -qE '^<<< .*KeyUpdate' "$C/srv.msg" || fail "s_server received no KeyUpdate (-msg)" || return
  grep -qE '^>>> .*KeyUpdate' "$C/srv.msg" ||
    fail "s_server sent no KeyUpdate in answer to update_requested (-msg)" || return
}
SEXTRA=()
for s in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256; do
  SEXTRA=(-ciphersuites "$s")
  HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --keyupdate)
  client_case "KeyUpdate: hasp client --keyupdate -> openssl s_server ($s)" ecdsa \
    TLSv1.3 "$s" x25519 ecdsa_secp256r1_sha256 keyupdate_client
done

# s_client's 'k' (update_not_requested) and 'K' (update_requested) commands
# against the hasp echo server: data before and after each must echo.
keyupdate_cmd_case() { # NAME CMD
  local name=$1 cmd=$2
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --trace
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -tls1_3 -CAfile "$CERTS/ca.pem" -verify_return_error -brief -msg -msgfile "$C/cli.msg"
  local cpid=$BGPID
  exec 7>"$C/cli.in"
  local why=""
  printf 'before the key update\n' >&7
  wait_size "$C/cli.out" 22 "$WAIT" "$cpid" || why="no echo before the KeyUpdate;"
  printf '%s\n' "$cmd" >&7
  wait_text "$C/cli.err" "KEYUPDATE" "$WAIT" "$cpid" || why="$why s_client did not run its $cmd command;"
  printf 'after the key update\n' >&7
  wait_size "$C/cli.out" 43 "$WAIT" "$cpid" || why="$why no echo after the KeyUpdate;"
  # and once more, so that hasp's answer (if any) has been processed
  printf 'third line\n' >&7
  wait_size "$C/cli.out" 54 "$WAIT" "$cpid" || why="$why no echo of the third line;"
  exec 7>&-
  bg_wait "$cpid" "$TMO"
  local crc=$BGRC
  bg_wait "$spid" 5
  local src=$BGRC
  [ "$(cat "$C/cli.out" 2>/dev/null)" = "$(printf 'before the key update\nafter the key update\nthird line')" ] ||
    why="$why echoed text differs: '$(head -c 200 "$C/cli.out" | tr '\n' '|')';"
  grep -qE '^>>> .*KeyUpdate' "$C/cli.msg" || why="$why s_client sent no KeyUpdate (-msg);"
  grep -qE 'KeyUpdate.*update_requested|update_requested.*KeyUpdate|<-.*KeyUpdate|KeyUpdate' "$C/srv.err" ||
    why="$why hasp server --trace shows no KeyUpdate;"
  if [ "$cmd" = K ]; then
    grep -qE '^<<< .*KeyUpdate' "$C/cli.msg" ||
      why="$why hasp server did not answer update_requested with its own KeyUpdate (s_client -msg);"
  else
    ! grep -qE '^<<< .*KeyUpdate' "$C/cli.msg" ||
      why="$why hasp server answered update_not_requested with a KeyUpdate;"
  fi
  [ "$crc" -eq 0 ] || why="$why s_client exited $crc: $(grep -m1 -iE 'error|alert' "$C/cli.err");"
  [ "$src" -eq 0 ] || why="$why hasp server exited $src: $(first_line "$C/srv.err" 'failed|error');"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
}
keyupdate_cmd_case "KeyUpdate: openssl s_client 'k' (update_not_requested) -> hasp server" k
keyupdate_cmd_case "KeyUpdate: openssl s_client 'K' (update_requested) -> hasp server" K

# ---------------------------------------------------------- versions

# A peer limited to TLS 1.2: hasp (1.2 and 1.3 allowed) falls back.
SVERS=(-tls1_2)
SEXTRA=()
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem")
client_case "fallback: hasp client -> openssl s_server -tls1_2 negotiates TLSv1.2" rsa \
  TLSv1.2 - x25519 -
SVEXTRA=(--cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key")
CEXTRA=(-tls1_2)
server_case "fallback: openssl s_client -tls1_2 -> hasp server negotiates TLSv1.2" TLSv1.2 - ""

# hasp limited to TLS 1.3 against a 1.2-only peer: protocol_version.
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --tls1_3)
client_fail_case "hasp client --tls1_3 -> openssl s_server -tls1_2: protocol_version" rsa \
  "protocol_version\\(70\\)"
SVERS=(-tls1_3)
SVEXTRA=(--cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --tls1_3)
CEXTRA=(-tls1_2)
server_fail_case "openssl s_client -tls1_2 -> hasp server --tls1_3: protocol_version" \
  "protocol|version" "protocol version"

# ---------------------------------------------------------- --www, --trace

www13_case() {
  local name="openssl s_client GET -> hasp server --www shows TLSv1.3 and the suite"
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 --www \
    --cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" --ciphersuites TLS_AES_256_GCM_SHA384
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  note_cmd openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -tls1_3 -ign_eof
  printf 'GET / HTTP/1.0\r\n\r\n' | timeout "$TMO" openssl s_client -connect "127.0.0.1:$PORT" \
    -servername localhost -tls1_3 -CAfile "$CERTS/ca.pem" -verify_return_error -brief -ign_eof \
    >"$C/cli.out" 2>"$C/cli.err"
  local crc=$?
  bg_wait "$spid" 5
  local why=""
  [ $crc -eq 0 ] || why="s_client exited $crc: $(grep -m1 -iE 'error|alert' "$C/cli.err");"
  tr -d '\r' <"$C/cli.out" | grep -qF 'Protocol: TLSv1.3' || why="$why page lacks 'Protocol: TLSv1.3';"
  tr -d '\r' <"$C/cli.out" | grep -qF 'Cipher: TLS_AES_256_GCM_SHA384' ||
    why="$why page lacks 'Cipher: TLS_AES_256_GCM_SHA384';"
  [ "$BGRC" -eq 0 ] || why="$why hasp server exited $BGRC;"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
}
www13_case

# The --trace ladder shows what travels encrypted: ServerHello in the clear,
# EncryptedExtensions, Certificate, CertificateVerify, Finished protected.
trace_ladder() {
  local line m
  line=$(grep -E '^trace .*<-+ ServerHello ' "$C/cli.err" | head -n 1)
  [ -n "$line" ] || fail "no ServerHello line in the trace" || return
  [[ "$line" != *"[encrypted]"* ]] || fail "the trace marks the ServerHello as encrypted: '$line'" || return
  for m in EncryptedExtensions Certificate CertificateVerify Finished; do
    line=$(grep -E "^trace .*<-+ $m " "$C/cli.err" | head -n 1)
    [[ "$line" == *"[encrypted]"* ]] || fail "the trace does not mark the server's $m as encrypted: '$line'" || return
  done
  line=$(grep -E '^trace .*-+> ClientHello ' "$C/cli.err" | head -n 1)
  [[ -n "$line" && "$line" != *"[encrypted]"* ]] || fail "ClientHello line: '$line'" || return
  line=$(grep -E '^trace .*-+> Finished ' "$C/cli.err" | head -n 1)
  [[ "$line" == *"[encrypted]"* ]] || fail "the trace does not mark the client's Finished as encrypted: '$line'" || return
}
SVERS=(-tls1_3)
SEXTRA=()
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --trace)
client_case "hasp client --trace shows the TLS 1.3 ladder and which messages are encrypted" rsa \
  TLSv1.3 TLS_AES_128_GCM_SHA256 x25519 rsa_pss_rsae_sha256 trace_ladder

finish

#!/usr/bin/env bash
# TLS 1.2 interop with OpenSSL, both directions, every suite hasp has x the
# certificate type it needs x each group:
#   (a) hasp client  -> openssl s_server : data both ways, suite/group/verify lines
#   (b) openssl s_client -> hasp server  : data echoed byte for byte, suite/group
# plus a few single cases: --www, two certificates on one server, PKCS#8 keys,
# --insecure, default settings, IP-address verification.
# Usage: bash tests/interop/tls12_openssl.sh BUILD_DIR   (env HASP overrides the tool)
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl
need_hasp
gen_certs

UP="$T/up"     # client -> server payload
DOWN="$T/down" # server -> client payload
make_payload "$UP"
make_payload "$DOWN"
NUP=$(fsize "$UP")

# --------------------------------------------------------------- helpers

# s_server_args CERT GROUP: openssl s_server arguments for certificate type
# CERT (rsa|ecdsa) and hasp group GROUP ("-" = none); sets SARGS.
s_server_args() {
  local cert=$1 group=$2
  SARGS=(openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -quiet "${SVERS:--tls1_2}"
    -cert "$CERTS/$cert-leaf.pem" -key "$CERTS/$cert.key" -cert_chain "$CERTS/int.pem")
  case "$group" in
    -) ;;
    ffdhe*) SARGS+=(-dhparam "$CERTS/$group.pem") ;;
    *) SARGS+=(-groups "$(group_openssl "$group")") ;;
  esac
}

# run_hasp_client OUTPREFIX ARGS...: hasp client with stdin $UP, bounded.
run_hasp_client() {
  local out=$1
  shift
  note_cmd "$HASP" client "$@"
  timeout -k 2 "$TMO" "$HASP" client "$@" <"$UP" >"$out.out" 2>"$out.err"
  HRC=$?
}

# hasp client -> s_server; SEXTRA: extra s_server args, HEXTRA: extra hasp args.
# client_case NAME CERT GROUP EXPECT_IANA EXPECT_OSSL EXPECT_GROUP VERIFYLINE
client_case() {
  local name=$1 cert=$2 group=$3 iana=$4 ossl=$5 egroup=$6 vline=$7
  new_case "$name"
  next_port
  s_server_args "$cert" "$group"
  SARGS+=("${SEXTRA[@]}")
  mkfifo "$C/srv.in"
  bg_start "$C/srv" "$C/srv.in" "${SARGS[@]}"
  local spid=$BGPID
  feed "$C/srv.in" "$DOWN" "$C/srv.out" "$NUP" "$spid"
  if ! wait_listen "$PORT" "$spid"; then
    notok "$name" "openssl s_server did not start: $WHY $(tail -n 2 "$C/srv.err")"
    keep_case "$name"
    return
  fi
  run_hasp_client "$C/cli" "127.0.0.1:$PORT" "${HEXTRA[@]}" --ign-eof
  bg_wait "$spid" 5
  local src=$BGRC
  if check "$name" client_case_ok "$iana" "$ossl" "$egroup" "$vline" "$src"; then :; else keep_case "$name"; fi
  bg_stop "$FEEDPID"
}
client_case_ok() {
  local iana=$1 ossl=$2 egroup=$3 vline=$4 src=$5
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/cli.err")" || return
  hasp_client_reported "$C/cli.err" "$iana" "$ossl" "$egroup" || return
  has_line "$C/cli.err" "$vline" ||
    fail "hasp did not print '$vline' (got: $(first_line "$C/cli.err" '^hasp: verify'))" || return
  same_bytes "$UP" "$C/srv.out" "client->server data" || return
  same_bytes "$DOWN" "$C/cli.out" "server->client data" || return
  [ "$src" -eq 0 ] || fail "openssl s_server exited $src: $(grep -m1 -i error "$C/srv.err")" || return
}

# s_client -> hasp server (echo). Globals: SVEXTRA (extra hasp server args),
# CEXTRA (extra s_client args).
# server_case NAME EXPECT_IANA EXPECT_OSSL TEMPKEY_LINE
server_case() {
  local name=$1 iana=$2 ossl=$3 tempkey=$4
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 "${SVEXTRA[@]}"
  local spid=$BGPID
  if ! wait_listen "$PORT" "$spid"; then
    notok "$name" "hasp server did not start: $WHY $(tail -n 2 "$C/srv.err")"
    keep_case "$name"
    return
  fi
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    "${CVERS:--tls1_2}" -CAfile "$CERTS/ca.pem" -verify_return_error -verify_hostname localhost \
    -brief -nocommands "${CEXTRA[@]}"
  local cpid=$BGPID
  feed "$C/cli.in" "$UP" "$C/cli.out" "$NUP" "$cpid"
  bg_wait "$cpid" "$TMO"
  local crc=$BGRC
  bg_wait "$spid" 5
  local src=$BGRC
  if check "$name" server_case_ok "$iana" "$ossl" "$tempkey" "$crc" "$src"; then :; else keep_case "$name"; fi
  bg_stop "$FEEDPID"
}
server_case_ok() {
  local iana=$1 ossl=$2 tempkey=$3 crc=$4 src=$5
  [ "$crc" -eq 0 ] ||
    fail "openssl s_client exited $crc: $(grep -m1 -iE 'error|alert' "$C/cli.err") / hasp server: $(first_line "$C/srv.err" 'failed|error')" || return
  has_line "$C/cli.err" "Protocol version: TLSv1.2" || fail "s_client did not negotiate TLSv1.2" || return
  has_line "$C/cli.err" "Ciphersuite: $ossl" ||
    fail "s_client negotiated $(first_line "$C/cli.err" '^Ciphersuite'), expected $ossl" || return
  has_line "$C/cli.err" "Verification: OK" || fail "s_client: $(first_line "$C/cli.err" '^Verif')" || return
  if [ -n "$tempkey" ]; then
    has_line "$C/cli.err" "$tempkey" ||
      fail "s_client saw '$(first_line "$C/cli.err" 'Temp Key')', expected '$tempkey'" || return
  fi
  same_bytes "$UP" "$C/cli.out" "echoed data" || return
  [ "$src" -eq 0 ] || fail "hasp server exited $src ($([ "$src" = 124 ] && echo 'still running after the client left')): $(first_line "$C/srv.err" 'failed|error')" || return
  has_line "$C/srv.err" "hasp: connection 1: TLSv1.2 $iana ($ossl)" ||
    fail "hasp server did not log 'hasp: connection 1: TLSv1.2 $iana ($ossl)' (got: $(first_line "$C/srv.err" '^hasp: connection'))" || return
  ! grep -q 'connection 1 failed' "$C/srv.err" ||
    fail "hasp server logged: $(first_line "$C/srv.err" 'connection 1 failed')" || return
}

# ------------------------------------------------------------- the matrix

for ((i = 0; i < NSUITES; i++)); do
  iana=${S_IANA[i]} ossl=${S_OSSL[i]} cert=${S_CERT[i]} kx=${S_KX[i]}
  for g in $(groups_for "$kx"); do
    gl=" $g"
    [ "$g" = - ] && gl=""
    na="hasp client -> openssl s_server: $iana$gl ($cert)"
    nb="openssl s_client -> hasp server: $iana$gl ($cert)"
    if ! openssl_has_suite "$ossl"; then
      skip "$na" "this openssl has no $ossl"
      skip "$nb" "this openssl has no $ossl"
      continue
    fi
    # (a) hasp names the suite by its IANA name
    SEXTRA=(-cipher "$ossl")
    HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --tls1_2 --ciphers "$iana")
    [ "$g" != - ] && HEXTRA+=(--groups "$(client_groups "$cert" "$g")")
    client_case "$na" "$cert" "$g" "$iana" "$ossl" "$g" "hasp: verify: ok"
    # (b) hasp server names the suite by its OpenSSL name
    SVEXTRA=(--cert "$CERTS/$cert.pem" --key "$CERTS/$cert.key" --ciphers "$ossl")
    CEXTRA=(-cipher "$ossl")
    tk=""
    if [ "$g" != - ]; then
      SVEXTRA+=(--groups "$g")
      [ "$kx" = ecdhe ] && CEXTRA+=(-groups "$(client_groups "$cert" "$g" openssl)")
      tk=$(group_sclient_tempkey "$g")
    fi
    server_case "$nb" "$iana" "$ossl" "$tk"
  done
done

# ---------------------------------------------------------- single cases

# hasp client with its default suites and groups (only the server pins the
# suite; OpenSSL follows the client's group order, and x25519 is hasp's first).
SEXTRA=(-cipher ECDHE-RSA-AES128-GCM-SHA256)
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem")
client_case "hasp client with default suites and groups -> openssl s_server" rsa - \
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 ECDHE-RSA-AES128-GCM-SHA256 x25519 "hasp: verify: ok"

# No --servername: the name checked is the IP address (cert has IP:127.0.0.1).
SEXTRA=(-cipher ECDHE-ECDSA-AES128-GCM-SHA256 -groups P-256)
HEXTRA=(--cafile "$CERTS/ca.pem" --ciphers TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 --groups secp256r1)
client_case "hasp client verifies IP SAN 127.0.0.1 (no --servername)" ecdsa - \
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 ECDHE-ECDSA-AES128-GCM-SHA256 secp256r1 "hasp: verify: ok"

# --insecure: no CA file, verification skipped and said so.
SEXTRA=(-cipher ECDHE-RSA-CHACHA20-POLY1305 -groups P-384)
HEXTRA=(--servername localhost --insecure --ciphers ECDHE-RSA-CHACHA20-POLY1305 --groups P-384)
client_case "hasp client --insecure (OpenSSL cipher name, P-384 alias)" rsa - \
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 ECDHE-RSA-CHACHA20-POLY1305 secp384r1 \
  "hasp: verify: skipped (--insecure)"

# OpenSSL with TLS 1.3 enabled against hasp limited to TLS 1.2 (--tls1_2),
# both ways: TLS 1.2 is negotiated; s_server's downgrade sentinel does not
# upset a hasp client limited to 1.2, and a hasp server limited to 1.2 sets
# none that would make s_client abort.
SVERS=-no_ssl3 # i.e. no version limit: TLS 1.3 and 1.2
SEXTRA=(-cipher ECDHE-RSA-AES256-GCM-SHA384)
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --tls1_2 --groups x25519)
client_case "hasp client --tls1_2 -> openssl s_server (TLS 1.3 capable) negotiates TLS 1.2" rsa - \
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 ECDHE-RSA-AES256-GCM-SHA384 x25519 "hasp: verify: ok"
SVERS=""
CVERS=-no_ssl3
SVEXTRA=(--tls1_2 --cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" --groups secp256r1)
CEXTRA=(-cipher ECDHE-ECDSA-AES256-GCM-SHA384)
server_case "openssl s_client (TLS 1.3 capable) -> hasp server --tls1_2 negotiates TLS 1.2" \
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 ECDHE-ECDSA-AES256-GCM-SHA384 "$(group_sclient_tempkey secp256r1)"
CVERS=""

# PKCS#8 server keys.
for cert in rsa ecdsa; do
  if [ $cert = rsa ]; then s=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 o=ECDHE-RSA-AES256-GCM-SHA384; else
    s=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 o=ECDHE-ECDSA-AES256-GCM-SHA384; fi
  SVEXTRA=(--cert "$CERTS/$cert.pem" --key "$CERTS/$cert-pkcs8.key" --ciphers "$s")
  CEXTRA=(-cipher "$o" -groups "$(client_groups "$cert" x25519 openssl)")
  server_case "openssl s_client -> hasp server with a PKCS#8 $cert key" "$s" "$o" \
    "$(group_sclient_tempkey x25519)"
done

# Two certificates on one server: the suite picks the certificate.
two_certs_case() {
  local name="hasp server with RSA and ECDSA certificates picks by suite"
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 2 \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" \
    --ciphers ALL
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  local o n=0 why=""
  for o in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256; do
    n=$((n + 1))
    note_cmd openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -tls1_2 -cipher "$o" \
      -CAfile "$CERTS/ca.pem" -verify_return_error -brief
    printf 'hello\n' | timeout "$TMO" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
      -tls1_2 -cipher "$o" -CAfile "$CERTS/ca.pem" -verify_return_error -brief \
      >"$C/cli$n.out" 2>"$C/cli$n.err"
    has_line "$C/cli$n.err" "Ciphersuite: $o" ||
      why="$why s_client -cipher $o: $(grep -m1 -iE 'error|alert|Ciphersuite' "$C/cli$n.err");"
  done
  bg_wait "$spid" 5
  [ "$BGRC" -eq 0 ] || why="$why hasp server exited $BGRC;"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
}
two_certs_case

# --www: an HTTP GET gets a page describing the connection.
www_case() {
  local name="openssl s_client GET -> hasp server --www shows protocol and suite"
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 --www \
    --cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" --ciphers TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  note_cmd openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -tls1_2 \
    -CAfile "$CERTS/ca.pem" -verify_return_error -brief -ign_eof
  printf 'GET / HTTP/1.0\r\n\r\n' | timeout "$TMO" openssl s_client -connect "127.0.0.1:$PORT" \
    -servername localhost -tls1_2 -CAfile "$CERTS/ca.pem" -verify_return_error -brief -ign_eof \
    >"$C/cli.out" 2>"$C/cli.err"
  local crc=$?
  bg_wait "$spid" 5
  local why=""
  [ $crc -eq 0 ] || why="s_client exited $crc: $(grep -m1 -iE 'error|alert' "$C/cli.err");"
  head -n 1 "$C/cli.out" | tr -d '\r' | grep -q '^HTTP/1\.0 200 ok$' ||
    why="$why first line is '$(head -n 1 "$C/cli.out" | tr -d '\r')', expected 'HTTP/1.0 200 ok';"
  tr -d '\r' <"$C/cli.out" | grep -qF 'Protocol: TLSv1.2' || why="$why page lacks 'Protocol: TLSv1.2';"
  tr -d '\r' <"$C/cli.out" | grep -qF 'Cipher: TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (ECDHE-ECDSA-CHACHA20-POLY1305)' ||
    why="$why page lacks 'Cipher: TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (ECDHE-ECDSA-CHACHA20-POLY1305)';"
  [ "$BGRC" -eq 0 ] || why="$why hasp server exited $BGRC;"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
}
www_case

finish

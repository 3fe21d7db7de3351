#!/usr/bin/env bash
# TLS 1.3 interop with GnuTLS, both directions:
#   (a) hasp client -> gnutls-serv --echo, (b) gnutls-cli -> hasp server (echo),
# for every TLS 1.3 suite x every group (x25519, P-256, P-384, ffdhe2048) x
# both certificate types (RSA, ECDSA), data echoed byte for byte; then single
# cases: HelloRetryRequest forced both ways, client authentication (required,
# missing -> certificate_required), KeyUpdate both ways (hasp client
# --keyupdate; gnutls-cli's ^rekey^ and ^rekey1^ inline commands), version
# fallback to TLS 1.2 against a peer limited to 1.2 (-VERS-TLS1.3) and
# protocol_version when hasp is limited to 1.3.
# Usage: bash tests/interop/tls13_gnutls.sh BUILD_DIR   (env HASP overrides the tool)
. "$(dirname "$0")/_lib.sh" "$@"
need_tool gnutls-serv gnutls-cli
need_hasp
gen_certs

UP="$T/up"
make_payload "$UP"
NUP=$(fsize "$UP")

SUITES13="TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256"
GROUPS13="x25519 secp256r1 secp384r1 ffdhe2048"
sig_for() { case "$1" in rsa) echo rsa_pss_rsae_sha256 ;; ecdsa) echo ecdsa_secp256r1_sha256 ;; esac; }
gnutls_cipher() {
  case "$1" in TLS_AES_128_GCM_SHA256) echo AES-128-GCM ;; TLS_AES_256_GCM_SHA384) echo AES-256-GCM ;;
    TLS_CHACHA20_POLY1305_SHA256) echo CHACHA20-POLY1305 ;; esac
}
# GnuTLS's "- Description:" key exchange part for a TLS 1.3 group.
gnutls_kx13() {
  case "$1" in x25519) echo ECDHE-X25519 ;; secp256r1) echo ECDHE-SECP256R1 ;;
    secp384r1) echo ECDHE-SECP384R1 ;; ffdhe2048) echo DHE-FFDHE2048 ;; esac
}
gnutls_sig() { case "$1" in rsa) echo RSA-PSS-RSAE-SHA256 ;; ecdsa) echo ECDSA-SECP256R1-SHA256 ;; esac; }
# prio13 SUITE GROUPS...: TLS 1.3 only, one suite, these groups (hasp names) in order.
prio13() {
  local s=$1 g p
  shift
  p="NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+$(gnutls_cipher "$s"):-GROUP-ALL"
  for g in "$@"; do p="$p:+$(group_gnutls "$g")"; done
  echo "$p"
}

wait_text() { # FILE TEXT [SECONDS] [PID]
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

# --------------------------------------------------------------- helpers

# hasp client -> gnutls-serv --echo. Globals: SPRIO, SEXTRA (gnutls-serv
# args), CERT, HEXTRA (hasp client args). Sets HRC.
client_run() {
  local name=$1 cert=$2
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null gnutls-serv --echo -p "$PORT" -d 4 \
    --x509certfile "$CERTS/$cert.pem" --x509keyfile "$CERTS/$cert.key" --priority "$SPRIO" "${SEXTRA[@]}"
  SPID=$BGPID
  if ! wait_listen "$PORT" "$SPID"; then
    HRC=99
    WHY="gnutls-serv did not start: $WHY $(tail -n 2 "$C/srv.err")"
    return 1
  fi
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" "$HASP" client "127.0.0.1:$PORT" "${HEXTRA[@]}"
  local cpid=$BGPID
  feed "$C/cli.in" "$UP" "$C/cli.out" "$NUP" "$cpid"
  bg_wait "$cpid" "$TMO"
  HRC=$BGRC
  bg_stop "$SPID"
  bg_stop "$FEEDPID"
  return 0
}
# client_ok PROTO DESC_PART IANA GROUP SIG
client_ok() {
  local proto=$1 desc=$2 iana=$3 group=$4 sig=$5 d
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
  d=$(first_line "$C/srv.out" '^- Description:')
  [[ "$d" == *"$desc"* ]] || fail "gnutls-serv: '$d', expected '$desc'" || return
  same_bytes "$UP" "$C/cli.out" "echoed data" || return
}
# client_case NAME CERT PROTO DESC IANA GROUP SIG [EXTRA_CHECK_FN]
client_case() {
  local name=$1 cert=$2 extra=${8:-}
  if ! client_run "$name" "$cert"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  if check "$name" client_checks "$3" "$4" "$5" "$6" "$7" "$extra"; then :; else keep_case "$name"; fi
}
client_checks() {
  client_ok "$1" "$2" "$3" "$4" "$5" || return
  [ -z "$6" ] || "$6" || return
}
# A hasp client that must fail: client_fail_case NAME CERT REGEX
client_fail_case() {
  local name=$1 cert=$2 re=$3
  if ! client_run "$name" "$cert"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  if check "$name" client_fail_ok "$re"; then :; else keep_case "$name"; fi
}
client_fail_ok() {
  [ "$HRC" -eq 1 ] || fail "hasp client exited $HRC, expected 1" || return
  hasp_error "$C/cli.err" | grep -qE -- "$1" ||
    fail "hasp client: '$(hasp_error "$C/cli.err")', expected /$1/" || return
}

# gnutls-cli -> hasp server (echo). Globals: CPRIO, CEXTRA (gnutls-cli args),
# SVEXTRA (hasp server args). Sets CRC, SRC.
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
  bg_start "$C/cli" "$C/cli.in" gnutls-cli 127.0.0.1 -p "$PORT" --sni-hostname localhost \
    --verify-hostname localhost --x509cafile "$CERTS/ca.pem" --priority "$CPRIO" --logfile "$C/cli.log" \
    "${CEXTRA[@]}"
  local cpid=$BGPID
  feed "$C/cli.in" "$UP" "$C/cli.out" "$NUP" "$cpid"
  bg_wait "$cpid" "$TMO"
  CRC=$BGRC
  bg_wait "$spid" 5
  SRC=$BGRC
  bg_stop "$FEEDPID"
  return 0
}
# server_ok PROTO DESC_PART IANA
server_ok() {
  local proto=$1 desc=$2 iana=$3 d
  [ "$CRC" -eq 0 ] ||
    fail "gnutls-cli exited $CRC: $(grep -m1 -iE 'error|alert|fail' "$C/cli.log" "$C/cli.err") / hasp server: $(first_line "$C/srv.err" 'failed|error')" || return
  has_text "$C/cli.log" "- Status: The certificate is trusted." ||
    fail "gnutls-cli: $(first_line "$C/cli.log" 'Status')" || return
  d=$(first_line "$C/cli.log" '^- Description:')
  [[ "$d" == *"$desc"* ]] || fail "gnutls-cli: '$d', expected '$desc'" || return
  same_bytes "$UP" "$C/cli.out" "echoed data" || return
  [ "$SRC" -eq 0 ] || fail "hasp server exited $SRC ($([ "$SRC" = 124 ] && echo 'still running after the client left')): $(first_line "$C/srv.err" 'failed|error')" || return
  has_text "$C/srv.err" "hasp: connection 1: $proto ${iana/#-/}" ||
    fail "hasp server did not log 'hasp: connection 1: $proto $iana' (got: $(first_line "$C/srv.err" '^hasp: connection'))" || return
}
server_case() { # NAME PROTO DESC IANA [EXTRA_CHECK_FN]
  local name=$1 extra=${5:-}
  if ! server_run "$name"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  if check "$name" server_checks "$2" "$3" "$4" "$extra"; then :; else keep_case "$name"; fi
}
server_checks() {
  server_ok "$1" "$2" "$3" || return
  [ -z "$4" ] || "$4" || return
}
server_fail_case() { # NAME SRV_REGEX CLI_REGEX
  local name=$1
  if ! server_run "$name"; then notok "$name" "$WHY"; keep_case "$name"; return; fi
  if check "$name" server_fail_ok "$2" "$3"; then :; else keep_case "$name"; fi
}
server_fail_ok() {
  grep 'connection 1 failed' "$C/srv.err" | grep -qiE -- "$1" ||
    fail "hasp server: '$(first_line "$C/srv.err" '^hasp: connection')', expected a failure matching /$1/" || return
  grep -qiE -- "$2" "$C/cli.log" "$C/cli.err" ||
    fail "gnutls-cli did not report /$2/: $(grep -m1 -iE 'error|alert|fail' "$C/cli.log" "$C/cli.err")" || return
  [ "$CRC" -ne 0 ] || fail "gnutls-cli exited 0" || return
  [ "$SRC" -eq 0 ] || fail "hasp server exited $SRC" || return
}

# ------------------------------------------------------------- the matrix

SEXTRA=()
CEXTRA=()
for cert in rsa ecdsa; do
  for s in $SUITES13; do
    for g in $GROUPS13; do
      desc="(TLS1.3-X.509)-($(gnutls_kx13 "$g"))-($(gnutls_sig "$cert"))-($(gnutls_cipher "$s"))"
      SPRIO=$(prio13 "$s" "$g")
      HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --ciphersuites "$s" --groups "$g")
      client_case "hasp client -> gnutls-serv: TLSv1.3 $s $g ($cert)" "$cert" \
        TLSv1.3 "$desc" "$s" "$g" "$(sig_for "$cert")"
      CPRIO=$(prio13 "$s" "$g")
      SVEXTRA=(--cert "$CERTS/$cert.pem" --key "$CERTS/$cert.key" --ciphersuites "$s" --groups "$g")
      server_case "gnutls-cli -> hasp server: TLSv1.3 $s $g ($cert)" TLSv1.3 "$desc" "$s"
    done
  done
done

# Defaults on both sides: TLS 1.3.
SPRIO=NORMAL
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem")
client_case "hasp client with default settings -> gnutls-serv NORMAL: TLSv1.3" ecdsa \
  TLSv1.3 "(TLS1.3-X.509)-(ECDHE-X25519)-(ECDSA-SECP256R1-SHA256)" - x25519 ecdsa_secp256r1_sha256
CPRIO=NORMAL
SVEXTRA=(--cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key")
server_case "gnutls-cli NORMAL -> hasp server with default settings: TLSv1.3" TLSv1.3 "(TLS1.3-X.509)-" -

# ---------------------------------------------------------- HelloRetryRequest

hrr_server_side() {
  has_text "$C/srv.err" "HelloRetryRequest" || fail "hasp server --trace shows no HelloRetryRequest" || return
}
SVEXTRA=(--cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --groups P-384 --trace)
CPRIO=$(prio13 TLS_AES_128_GCM_SHA256 x25519 secp384r1)
CEXTRA=(--single-key-share)
server_case "HelloRetryRequest: gnutls-cli (share x25519; groups x25519, P-384) -> hasp server --groups P-384" \
  TLSv1.3 "(TLS1.3-X.509)-(ECDHE-SECP384R1)-" TLS_AES_128_GCM_SHA256 hrr_server_side
SVEXTRA=(--cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" --groups ffdhe2048 --trace)
CPRIO=$(prio13 TLS_CHACHA20_POLY1305_SHA256 secp256r1 ffdhe2048)
server_case "HelloRetryRequest: gnutls-cli (share P-256; groups P-256, ffdhe2048) -> hasp server --groups ffdhe2048" \
  TLSv1.3 "(TLS1.3-X.509)-(DHE-FFDHE2048)-" TLS_CHACHA20_POLY1305_SHA256 hrr_server_side
CEXTRA=()

hrr_client_side() {
  grep -q 'HelloRetryRequest' "$C/cli.err" || fail "hasp client --trace shows no HelloRetryRequest" || return
  grep -q 'hello retry request' "$C/srv.err" || fail "gnutls-serv -d 4 shows no hello retry request" || return
}
SPRIO=$(prio13 TLS_AES_256_GCM_SHA384 secp384r1)
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --groups x25519:P-384 --trace)
client_case "HelloRetryRequest: hasp client --groups x25519:P-384 -> gnutls-serv (P-384 only)" rsa \
  TLSv1.3 "(TLS1.3-X.509)-(ECDHE-SECP384R1)-" - secp384r1 rsa_pss_rsae_sha256 hrr_client_side
SPRIO=$(prio13 TLS_AES_128_GCM_SHA256 ffdhe2048)
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --groups x25519:ffdhe2048 --trace)
client_case "HelloRetryRequest: hasp client --groups x25519:ffdhe2048 -> gnutls-serv (ffdhe2048 only)" ecdsa \
  TLSv1.3 "(TLS1.3-X.509)-(DHE-FFDHE2048)-" - ffdhe2048 ecdsa_secp256r1_sha256 hrr_client_side

# ---------------------------------------------------------- client authentication

client_cert_seen() {
  grep -q 'CertificateVerify' "$C/srv.err" || fail "hasp server --trace shows no client CertificateVerify" || return
}
CPRIO=NORMAL
for cc in rsa ecdsa; do
  SVEXTRA=(--cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" --verify-client require --cafile "$CERTS/ca.pem" --trace)
  CEXTRA=(--x509certfile "$CERTS/client-$cc.pem" --x509keyfile "$CERTS/client-$cc.key")
  server_case "client auth: gnutls-cli with client-$cc.pem -> hasp server --verify-client require" \
    TLSv1.3 "(TLS1.3-X.509)-" - client_cert_seen
done
CEXTRA=()
SVEXTRA=(--cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key" --verify-client require --cafile "$CERTS/ca.pem")
server_fail_case "client auth: gnutls-cli without a certificate -> hasp server --verify-client require: certificate_required" \
  "requires|certificate_required|no certificate" "certificate.*required|116"

SPRIO=NORMAL
SEXTRA=(--require-client-cert --verify-client-cert --x509cafile "$CERTS/ca.pem")
gnutls_got_client_cert() {
  grep -qF 'CERTIFICATE VERIFY (15) was received' "$C/srv.err" ||
    fail "gnutls-serv -d 4 shows no client CertificateVerify" || return
}
for cc in rsa ecdsa; do
  HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --cert "$CERTS/client-$cc.pem" --key "$CERTS/client-$cc.key")
  client_case "client auth: hasp client --cert client-$cc.pem -> gnutls-serv --require-client-cert" rsa \
    TLSv1.3 "(TLS1.3-X.509)-" - x25519 rsa_pss_rsae_sha256 gnutls_got_client_cert
done
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem")
client_fail_case "client auth: hasp client without a certificate -> gnutls-serv --require-client-cert: certificate_required" \
  rsa "certificate_required\\(116\\)"
SEXTRA=()

# ---------------------------------------------------------- KeyUpdate

keyupdate_client() {
  has_line "$C/cli.err" "hasp: sent KeyUpdate (update_requested)" ||
    fail "hasp client did not say it sent a KeyUpdate" || return
  grep -q 'received TLS 1.3 key update (1)' "$C/srv.err" ||
    fail "gnutls-serv -d 4 did not log 'received TLS 1.3 key update (1)'" || return
  grep -q 'sending key update (0)' "$C/srv.err" ||
    fail "gnutls-serv did not answer update_requested ('sending key update (0)' not logged)" || return
}
for s in $SUITES13; do
  SPRIO=$(prio13 "$s" x25519)
  HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --keyupdate)
  client_case "KeyUpdate: hasp client --keyupdate -> gnutls-serv ($s)" rsa \
    TLSv1.3 "(TLS1.3-X.509)-" "$s" x25519 rsa_pss_rsae_sha256 keyupdate_client
done

# gnutls-cli --inline-commands: ^rekey^ (update_requested: both sides
# update) and ^rekey1^ (update_not_requested: only gnutls-cli's sending
# keys), with data echoed before and after.
rekey_case() { # NAME CMD
  local name=$1 cmd=$2
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --trace
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" gnutls-cli 127.0.0.1 -p "$PORT" --sni-hostname localhost \
    --verify-hostname localhost --x509cafile "$CERTS/ca.pem" --logfile "$C/cli.log" \
    --inline-commands -d 4
  local cpid=$BGPID
  exec 7>"$C/cli.in"
  local why=""
  printf 'before the key update\n' >&7
  wait_size "$C/cli.out" 22 "$WAIT" "$cpid" || why="no echo before the KeyUpdate;"
  printf '^%s^\n' "$cmd" >&7
  printf 'after the key update\n' >&7
  wait_size "$C/cli.out" 43 "$WAIT" "$cpid" || why="$why no echo after the KeyUpdate;"
  printf 'third line\n' >&7
  wait_size "$C/cli.out" 54 "$WAIT" "$cpid" || why="$why no echo of the third line;"
  exec 7>&-
  bg_wait "$cpid" "$TMO"
  local crc=$BGRC
  bg_wait "$spid" 5
  local src=$BGRC
  [ "$(cat "$C/cli.out" 2>/dev/null)" = "$(printf 'before the key update\nafter the key update\nthird line')" ] ||
    why="$why echoed text differs: '$(head -c 200 "$C/cli.out" | tr '\n' '|')';"
  grep -qE 'KeyUpdate +5 bytes .*update_(not_)?requested' "$C/srv.err" ||
    why="$why hasp server --trace shows no KeyUpdate received;"
  if [ "$cmd" = rekey ]; then
    grep -q 'received TLS 1.3 key update' "$C/cli.err" ||
      why="$why gnutls-cli received no KeyUpdate in answer to update_requested;"
  else
    ! grep -q 'received TLS 1.3 key update' "$C/cli.err" ||
      why="$why hasp server answered update_not_requested with a KeyUpdate;"
  fi
  [ "$crc" -eq 0 ] || why="$why gnutls-cli exited $crc: $(grep -m1 -iE 'error|alert' "$C/cli.log");"
  [ "$src" -eq 0 ] || why="$why hasp server exited $src: $(first_line "$C/srv.err" 'failed|error');"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
}
rekey_case "KeyUpdate: gnutls-cli ^rekey^ (update_requested) -> hasp server" rekey
rekey_case "KeyUpdate: gnutls-cli ^rekey1^ (update_not_requested) -> hasp server" rekey1

# ---------------------------------------------------------- versions

SPRIO="NORMAL:-VERS-TLS1.3"
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem")
client_case "fallback: hasp client -> gnutls-serv -VERS-TLS1.3 negotiates TLSv1.2" rsa \
  TLSv1.2 "(TLS1.2-X.509)-" - - -
CPRIO="NORMAL:-VERS-TLS1.3"
SVEXTRA=(--cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key")
server_case "fallback: gnutls-cli -VERS-TLS1.3 -> hasp server negotiates TLSv1.2" TLSv1.2 "(TLS1.2-X.509)-" -

# A TLS 1.2 server ignores supported_versions (RFC 8446 4.2.1) and, finding
# no TLS 1.2 suite in a 1.3-only ClientHello, GnuTLS answers
# handshake_failure rather than protocol_version: either is right.
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --tls1_3)
client_fail_case "hasp client --tls1_3 -> gnutls-serv -VERS-TLS1.3: protocol_version or handshake_failure" rsa \
  "protocol_version\\(70\\)|handshake_failure\\(40\\)"
SVEXTRA=(--cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --tls1_3)
server_fail_case "gnutls-cli -VERS-TLS1.3 -> hasp server --tls1_3: protocol_version" \
  "protocol|version" "protocol version|not supported|70"

finish

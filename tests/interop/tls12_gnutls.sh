#!/usr/bin/env bash
# TLS 1.2 interop with GnuTLS, both directions, every suite hasp has x the
# certificate type it needs x each group:
#   (a) hasp client -> gnutls-serv --echo : hasp pins suite and group; data
#       echoed byte for byte; hasp's report and GnuTLS's description agree
#   (b) gnutls-cli -> hasp server (echo)  : a priority string pins suite and
#       group; data echoed byte for byte; both sides report the same suite
# plus single cases: negotiated options (extended master secret, safe
# renegotiation, encrypt-then-MAC), a server that requests a client
# certificate, and GnuTLS defaults (which include TLS 1.3) against hasp
# limited to TLS 1.2.
# For speed, (a) uses one long-running gnutls-serv per certificate type that
# allows every suite and group; the hasp client's offer selects the case.
# Usage: bash tests/interop/tls12_gnutls.sh BUILD_DIR   (env HASP overrides the tool)
. "$(dirname "$0")/_lib.sh" "$@"
need_tool gnutls-serv gnutls-cli stdbuf
need_hasp
gen_certs

UP="$T/up"
make_payload "$UP"
NUP=$(fsize "$UP")

# --------------------------------------------------------------- helpers

# gnutls_priority IDX GNUTLS_GROUPS: a priority string allowing exactly suite
# IDX of the table, TLS 1.2 only, and the given groups (colon-separated GnuTLS
# names, may be empty).
gnutls_priority() {
  local i=$1 groups=$2 p g
  p="NONE:+VERS-TLS1.2:+${S_GKX[i]}:+${S_GCIPHER[i]}:+${S_GMAC[i]}:+SIGN-ALL:+COMP-NULL:+CTYPE-X509"
  for g in ${groups//:/ }; do p="$p:+$g"; done
  echo "$p"
}
# gnutls_desc_ok FILE IDX GROUP: the "- Description:" line GnuTLS printed
# names the expected key exchange/group, cipher and MAC, e.g.
# (TLS1.2-X.509)-(ECDHE-X25519)-(RSA-SHA256)-(AES-128-GCM)[-(SHA1)]
gnutls_desc_ok() {
  local f=$1 i=$2 group=$3 d want_kx want_tail
  d=$(first_line "$f" '^- Description:')
  [ -n "$d" ] || fail "GnuTLS printed no '- Description:' line ($(grep -m1 -iE 'error|alert|fail' "$f"))" || return
  want_kx="(TLS1.2-X.509)-($(gnutls_kx_desc "${S_GKX[i]}" "$group"))-"
  if [ "${S_GMAC[i]}" = AEAD ]; then want_tail="-(${S_GCIPHER[i]})"; else
    want_tail="-(${S_GCIPHER[i]})-(${S_GMAC[i]})"; fi
  [[ "$d" == *"$want_kx"* && "$d" == *"$want_tail" ]] ||
    fail "GnuTLS: '$d', expected $want_kx...$want_tail" || return
}
# gnutls_opts_ok FILE OPTS...: GnuTLS's "- Options:" line lists each option.
gnutls_opts_ok() {
  local f=$1 o line
  shift
  line=$(first_line "$f" '^- Options:')
  for o in "$@"; do
    [[ "$line" == *"$o"* ]] || fail "GnuTLS options line '$line' lacks '$o'" || return
  done
}

# gnutls-serv instances. serv_start KEY CERT PRIORITY ARGS...: start one (or
# reuse it if already running) and make it current: SRV_PORT, SRV_OUT.
declare -A SERV_PID SERV_PORT
serv_start() {
  local key=$1 cert=$2 prio=$3
  shift 3
  SRV_OUT="$T/serv-$key"
  if [ -n "${SERV_PID[$key]:-}" ] && kill -0 "${SERV_PID[$key]}" 2>/dev/null; then
    SRV_PORT=${SERV_PORT[$key]}
    return 0
  fi
  next_port
  printf '%q ' gnutls-serv --echo -p "$PORT" --x509certfile "$CERTS/$cert.pem" \
    --x509keyfile "$CERTS/$cert.key" --priority "$prio" "$@" >"$SRV_OUT.cmd"
  # Line-buffered so each connection's "- Description:" is in the file at once.
  timeout -k 2 600 stdbuf -oL gnutls-serv --echo -p "$PORT" --x509certfile "$CERTS/$cert.pem" \
    --x509keyfile "$CERTS/$cert.key" --priority "$prio" "$@" >>"$SRV_OUT" 2>>"$SRV_OUT.err" </dev/null &
  SERV_PID[$key]=$!
  bg_track "${SERV_PID[$key]}"
  SERV_PORT[$key]=$PORT
  SRV_PORT=$PORT
  wait_listen "$PORT" "${SERV_PID[$key]}"
}
serv_stop() { # KEY
  [ -n "${SERV_PID[$1]:-}" ] && bg_stop "${SERV_PID[$1]}"
  SERV_PID[$1]=""
}

# hasp client -> the current gnutls-serv (echo).
# Globals: HEXTRA (hasp client args after HOST:PORT), EXPECT_OPTS (array:
# options GnuTLS must report). client_case NAME IDX GROUP  (IDX "-": any suite)
client_case() {
  local name=$1 i=$2 group=$3
  if [ -z "${SRV_PORT:-}" ] || ! port_listening "$SRV_PORT"; then
    notok "$name" "gnutls-serv is not running: $(tail -n 2 "$SRV_OUT.err" 2>/dev/null)"
    return
  fi
  new_case "$name"
  { cat "$SRV_OUT.cmd"; echo; } >>"$C/cmds"
  local off
  off=$(fsize "$SRV_OUT")
  mkfifo "$C/cli.in"
  bg_start "$C/cli" "$C/cli.in" "$HASP" client "127.0.0.1:$SRV_PORT" "${HEXTRA[@]}"
  local cpid=$BGPID
  feed "$C/cli.in" "$UP" "$C/cli.out" "$NUP" "$cpid"
  bg_wait "$cpid" "$TMO"
  HRC=$BGRC
  # This connection's part of the server's log.
  tail -c +"$((off + 1))" "$SRV_OUT" | grep -a '^- ' >"$C/srv.out"
  tail -n 5 "$SRV_OUT.err" >"$C/srv.err" 2>/dev/null
  if check "$name" client_case_ok "$i" "$group"; then :; else keep_case "$name"; fi
  bg_stop "$FEEDPID"
}
client_case_ok() {
  local i=$1 group=$2
  [ "$HRC" -eq 0 ] || fail "hasp client exited $HRC: $(hasp_error "$C/cli.err")" || return
  if [ "$i" != - ]; then
    hasp_client_reported "$C/cli.err" "${S_IANA[i]}" "${S_OSSL[i]}" "$group" || return
    gnutls_desc_ok "$C/srv.out" "$i" "$group" || return
  else
    has_line "$C/cli.err" "hasp: protocol: TLSv1.2" ||
      fail "hasp did not print 'hasp: protocol: TLSv1.2' (got: $(first_line "$C/cli.err" '^hasp: (protocol|error)'))" || return
    has_text "$C/srv.out" "- Description: (TLS1.2-" ||
      fail "gnutls-serv: $(first_line "$C/srv.out" 'Description|Error')" || return
  fi
  has_line "$C/cli.err" "hasp: verify: ok" ||
    fail "hasp did not print 'hasp: verify: ok' (got: $(first_line "$C/cli.err" '^hasp: verify'))" || return
  same_bytes "$UP" "$C/cli.out" "echoed data" || return
  [ "${#EXPECT_OPTS[@]}" -eq 0 ] || gnutls_opts_ok "$C/srv.out" "${EXPECT_OPTS[@]}" || return
}

# gnutls-cli -> hasp server (echo).
# Globals: CPRIO (gnutls-cli priority), SVEXTRA (hasp server args), EXPECT_OPTS.
# server_case NAME IDX GROUP   (IDX "-": any suite)
server_case() {
  local name=$1 i=$2 group=$3
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
  bg_start "$C/cli" "$C/cli.in" gnutls-cli 127.0.0.1 -p "$PORT" --sni-hostname localhost \
    --verify-hostname localhost --x509cafile "$CERTS/ca.pem" --priority "$CPRIO" --logfile "$C/cli.log"
  local cpid=$BGPID
  feed "$C/cli.in" "$UP" "$C/cli.out" "$NUP" "$cpid"
  bg_wait "$cpid" "$TMO"
  local crc=$BGRC
  bg_wait "$spid" 5
  local src=$BGRC
  if check "$name" server_case_ok "$i" "$group" "$crc" "$src"; then :; else keep_case "$name"; fi
  bg_stop "$FEEDPID"
}
server_case_ok() {
  local i=$1 group=$2 crc=$3 src=$4
  [ "$crc" -eq 0 ] ||
    fail "gnutls-cli exited $crc: $(grep -h -m1 -iE 'error|alert|fail' "$C/cli.log" "$C/cli.err") / hasp server: $(first_line "$C/srv.err" 'failed|error')" || return
  has_text "$C/cli.log" "- Status: The certificate is trusted." ||
    fail "gnutls-cli: $(first_line "$C/cli.log" 'Status')" || return
  if [ "$i" != - ]; then
    gnutls_desc_ok "$C/cli.log" "$i" "$group" || return
  else
    has_text "$C/cli.log" "- Description: (TLS1.2-" || fail "gnutls-cli: $(first_line "$C/cli.log" 'Description')" || return
  fi
  [ "${#EXPECT_OPTS[@]}" -eq 0 ] || gnutls_opts_ok "$C/cli.log" "${EXPECT_OPTS[@]}" || return
  same_bytes "$UP" "$C/cli.out" "echoed data" || return
  [ "$src" -eq 0 ] || fail "hasp server exited $src ($([ "$src" = 124 ] && echo 'still running after the client left')): $(first_line "$C/srv.err" 'failed|error')" || return
  if [ "$i" != - ]; then
    has_line "$C/srv.err" "hasp: connection 1: TLSv1.2 ${S_IANA[i]} (${S_OSSL[i]})" ||
      fail "hasp server did not log 'hasp: connection 1: TLSv1.2 ${S_IANA[i]} (${S_OSSL[i]})' (got: $(first_line "$C/srv.err" '^hasp: connection'))" || return
  else
    grep -q '^hasp: connection 1: TLSv1.2 ' "$C/srv.err" ||
      fail "hasp server did not log 'hasp: connection 1: TLSv1.2 ...' (got: $(first_line "$C/srv.err" '^hasp: connection'))" || return
  fi
  ! grep -q 'connection 1 failed' "$C/srv.err" ||
    fail "hasp server logged: $(first_line "$C/srv.err" 'connection 1 failed')" || return
}

# ------------------------------------------------------------- the matrix

EXPECT_OPTS=()
for ((i = 0; i < NSUITES; i++)); do
  iana=${S_IANA[i]} ossl=${S_OSSL[i]} cert=${S_CERT[i]} kx=${S_KX[i]}
  for g in $(groups_for "$kx"); do
    gl=" $g"
    [ "$g" = - ] && gl=""
    na="hasp client -> gnutls-serv: $iana$gl ($cert)"
    nb="gnutls-cli -> hasp server: $iana$gl ($cert)"
    if ! gnutls_has_suite "$i"; then
      skip "$na" "this gnutls has no $iana"
      skip "$nb" "this gnutls has no $iana"
      continue
    fi
    # (a) hasp offers one suite (by OpenSSL name) and GROUP (+P-256 for ECDSA)
    serv_start "all-$cert" "$cert" "$GNUTLS_ALL" -a
    HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --tls1_2 --ciphers "$ossl")
    [ "$g" != - ] && HEXTRA+=(--groups "$(client_groups "$cert" "$g")")
    client_case "$na" "$i" "$g"
    # (b) hasp server allows one suite (by IANA name) and GROUP
    CPRIO=$(gnutls_priority "$i" "$([ "$g" = - ] || client_groups "$cert" "$g" gnutls)")
    SVEXTRA=(--cert "$CERTS/$cert.pem" --key "$CERTS/$cert.key" --ciphers "$iana")
    [ "$g" != - ] && SVEXTRA+=(--groups "$g")
    server_case "$nb" "$i" "$g"
  done
done

# ---------------------------------------------------------- single cases

# Negotiated options, as GnuTLS reports them: RFC 7627 extended master secret
# and RFC 5746 safe renegotiation always, RFC 7366 encrypt-then-MAC with CBC.
for s in TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA; do
  i=$(suite_index "$s")
  cert=${S_CERT[i]}
  EXPECT_OPTS=("extended master secret" "safe renegotiation")
  [ "${S_GMAC[i]}" = AEAD ] || EXPECT_OPTS+=(EtM)
  what=$(printf '%s, ' "${EXPECT_OPTS[@]}")
  serv_start "all-$cert" "$cert" "$GNUTLS_ALL" -a
  HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --ciphers "$s" --groups "$(client_groups "$cert" x25519)")
  client_case "hasp client -> gnutls-serv negotiates ${what%, } ($s)" "$i" x25519
  CPRIO=$(gnutls_priority "$i" "$(client_groups "$cert" x25519 gnutls)")
  SVEXTRA=(--cert "$CERTS/$cert.pem" --key "$CERTS/$cert.key" --ciphers "$s" --groups x25519)
  server_case "gnutls-cli -> hasp server negotiates ${what%, } ($s)" "$i" x25519
done
EXPECT_OPTS=()
serv_stop all-rsa
serv_stop all-ecdsa

# A server that requests a client certificate: hasp client has none, answers
# with an empty Certificate message and the handshake completes.
i=$(suite_index TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)
serv_start certreq rsa "$(gnutls_priority "$i" GROUP-SECP256R1)" --x509cafile "$CERTS/ca.pem"
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --ciphers TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 --groups secp256r1)
client_case "hasp client without a certificate -> gnutls-serv requesting one" "$i" secp256r1
serv_stop certreq

# GnuTLS defaults (NORMAL: TLS 1.3 and 1.2) against hasp limited to TLS 1.2
# (--tls1_2, default suites and groups), both ways: TLS 1.2 is negotiated, a
# TLS 1.3-capable gnutls-serv's downgrade sentinel does not upset a hasp client
# that is limited to 1.2, and a hasp server limited to 1.2 sets no sentinel
# that would make gnutls-cli abort.
serv_start normal rsa NORMAL -a
HEXTRA=(--servername localhost --cafile "$CERTS/ca.pem" --tls1_2)
client_case "hasp client --tls1_2 (defaults) -> gnutls-serv NORMAL (TLS 1.3 capable) negotiates TLS 1.2" - -
serv_stop normal
CPRIO=NORMAL
SVEXTRA=(--tls1_2 --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --cert "$CERTS/ecdsa.pem" --key "$CERTS/ecdsa.key")
server_case "gnutls-cli NORMAL (offers TLS 1.3) -> hasp server --tls1_2 (defaults, two certs) negotiates TLS 1.2" - -

finish

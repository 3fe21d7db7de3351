#!/usr/bin/env bash
# hasp probe (issue 8) against servers hasp did not write, started with
# known settings: openssl s_server and gnutls-serv with two suites in a
# known order, one group, ALPN, tickets on or off; an old openssl limited to
# TLS 1.0 for the hand-made ClientHello. The report must match the settings.
# Usage: bash tests/probe.sh BUILD_DIR
. "$(dirname "$0")/interop/_lib.sh" "$@"
need_hasp
need_tool openssl gnutls-serv
gen_certs

# ---------------------------------------------------------------- helpers

# ossl_server ARGS...: openssl s_server on a new port, stdin held open (it
# drops the connection at stdin EOF). Sets SPID.
ossl_server() {
  next_port
  mkfifo "$C/s.in"
  bg_start "$C/srv" "$C/s.in" openssl s_server -accept "$PORT" -quiet "$@"
  SPID=$BGPID
  sleep "$TMO" >"$C/s.in" &
  bg_track $!
  wait_listen "$PORT" "$SPID" || { WHY="openssl s_server did not start: $WHY $(tail -n 2 "$C/srv.err")"; return 1; }
}
# gnutls_server ARGS...: gnutls-serv --echo on a new port. Sets SPID.
gnutls_server() {
  next_port
  bg_start "$C/srv" /dev/null gnutls-serv --echo -p "$PORT" --disable-client-cert "$@"
  SPID=$BGPID
  wait_listen "$PORT" "$SPID" || { WHY="gnutls-serv did not start: $WHY $(tail -n 2 "$C/srv.err")"; return 1; }
}
# run_probe [ARGS...]: hasp probe 127.0.0.1:$PORT, report in $C/probe.out.
# shellcheck disable=SC2120
run_probe() {
  note_cmd "$HASP" probe "127.0.0.1:$PORT" --servername localhost --cafile "$CERTS/ca.pem" "$@"
  timeout -k 2 40 "$HASP" probe "127.0.0.1:$PORT" --servername localhost \
    --cafile "$CERTS/ca.pem" --timeout 3 "$@" >"$C/probe.out" 2>"$C/probe.err"
  PRC=$?
}
# sect TITLE: the lines of the report section whose title starts with TITLE.
sect() {
  awk -v t="$1" 'index($0, t) == 1 { on = 1; next } /^$/ { on = 0 } on' "$C/probe.out"
}
# value SECTION KEY: the value of "  KEY   VALUE" in a section.
value() {
  sect "$1" | awk -v k="$2" '{ line = $0; sub(/^  /, "", line) }
    index(line, k " ") == 1 { v = substr(line, length(k) + 1); sub(/^ +/, "", v); print v; exit }'
}
# order SECTION: the numbered suites of a section, space-separated.
order() { sect "$1" | sed -n 's/^  [0-9]*\. //p' | tr '\n' ' ' | sed 's/ $//'; }
# expect WHAT GOT WANT: exact match (WANT may be a glob when it holds '*').
expect() {
  # shellcheck disable=SC2053
  [[ "$2" == $3 ]] || fail "$1: '$2', expected '$3'" || return
}
probe_ran() {
  [ "$PRC" -eq 0 ] || fail "hasp probe exited $PRC: $(tail -n 2 "$C/probe.err" "$C/probe.out" | tr '\n' ' ')" || return
}

# ---------------------------------------------------------------- openssl s_server, server order

case_openssl_serverpref() {
  local name="openssl s_server (2 suites per version, -serverpref, P-256, ALPN http/1.1)"
  new_case "$name"
  if ! ossl_server -cert "$CERTS/rsa.pem" -cert_chain "$CERTS/rsa.pem" -key "$CERTS/rsa.key" \
    -cipher ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256 \
    -ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256 -serverpref \
    -groups P-256 -alpn http/1.1; then
    notok "$name" "$WHY"
    keep_case "$name"
    return
  fi
  run_probe
  bg_stop "$SPID"
  versions() {
    probe_ran || return
    expect "TLSv1.3" "$(value "protocol versions" TLSv1.3)" "yes" &&
      expect "TLSv1.2" "$(value "protocol versions" TLSv1.2)" "yes" &&
      expect "TLSv1.1" "$(value "protocol versions" TLSv1.1)" "no (*)" &&
      expect "TLSv1.0" "$(value "protocol versions" TLSv1.0)" "no (*)"
  }
  check "$name: versions 1.3 and 1.2 yes, 1.1 and 1.0 refused" versions || keep_case "$name"
  suites() {
    expect "TLS 1.3 order" "$(order "cipher suites, TLSv1.3")" "TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256" &&
      expect "TLS 1.3 preference" "$(value "cipher suites, TLSv1.3" order)" "the server's*" &&
      expect "TLS 1.2 order" "$(order "cipher suites, TLSv1.2")" \
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" &&
      expect "TLS 1.2 preference" "$(value "cipher suites, TLSv1.2" order)" "the server's*"
  }
  check "$name: suites in the server's order, server preference detected" suites || keep_case "$name"
  groups_sigs() {
    expect "groups 1.3" "$(value "key exchange groups" TLSv1.3)" "secp256r1" &&
      expect "groups 1.2" "$(value "key exchange groups" TLSv1.2)" "secp256r1" &&
      expect "schemes 1.3" "$(value "signature schemes" TLSv1.3)" "rsa_pss_rsae_sha256 rsa_pss_rsae_sha384 rsa_pss_rsae_sha512" &&
      expect "schemes 1.2" "$(value "signature schemes" TLSv1.2)" "rsa_pss_rsae_sha256 *rsa_pkcs1_sha256*"
  }
  check "$name: group P-256 only; RSA signature schemes (no PKCS#1 in TLS 1.3)" groups_sigs || keep_case "$name"
  cert() {
    expect "verdict" "$(value "certificate chain" verdict)" "ok" &&
      sect "certificate chain" | grep -qE '^    \[0\] CN=localhost, O=hasp tests +sent by the peer$' &&
      sect "certificate chain" | grep -qE '^    \[2\] CN=hasp test root CA, O=hasp tests +from the trust store \(the anchor\)$' ||
      fail "chain lines: $(sect "certificate chain" | tr '\n' ';')" || return
  }
  check "$name: certificate chain and its verdict" cert || keep_case "$name"
  rest() {
    expect "session ID" "$(value "session resumption" "session ID (TLSv1.2)")" "yes" &&
      expect "ticket" "$(value "session resumption" "session ticket (TLSv1.2)")" "yes" &&
      expect "PSK" "$(value "session resumption" "PSK from a ticket (TLSv1.3)")" "yes" &&
      expect "secure renegotiation" "$(value "renegotiation" "secure renegotiation")" "yes (RFC 5746)" &&
      expect "client-initiated renegotiation (OpenSSL 3 refuses by default)" \
        "$(value "renegotiation" "client-initiated")" "refused*" &&
      expect "ALPN" "$(value "extensions" "ALPN (offered h2,http/1.1)")" "http/1.1" &&
      expect "EMS" "$(value "extensions" "extended master secret")" "yes (RFC 7627)"
  }
  check "$name: resumption (ID, ticket, PSK), renegotiation, ALPN, EMS" rest || keep_case "$name"
}
case_openssl_serverpref

# ---------------------------------------------------------------- openssl s_server, client order, TLS 1.2 only

case_openssl_clientpref() {
  local name="openssl s_server -tls1_2 (client order, X25519:P-384, no tickets, client renegotiation allowed)"
  new_case "$name"
  if ! ossl_server -cert "$CERTS/rsa.pem" -cert_chain "$CERTS/rsa.pem" -key "$CERTS/rsa.key" -tls1_2 \
    -cipher AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384 -groups X25519:P-384 -no_ticket \
    -client_renegotiation; then
    notok "$name" "$WHY"
    keep_case "$name"
    return
  fi
  run_probe
  bg_stop "$SPID"
  clientpref() {
    probe_ran || return
    expect "TLSv1.3" "$(value "protocol versions" TLSv1.3)" "no (*)" &&
      expect "TLSv1.2" "$(value "protocol versions" TLSv1.2)" "yes" &&
      ! grep -q '^cipher suites, TLSv1.3' "$C/probe.out" &&
      expect "TLS 1.2 order (hasp's offer order)" "$(order "cipher suites, TLSv1.2")" \
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 TLS_RSA_WITH_AES_128_GCM_SHA256" &&
      expect "TLS 1.2 preference" "$(value "cipher suites, TLSv1.2" order)" "the client's*" &&
      expect "groups 1.2" "$(value "key exchange groups" TLSv1.2)" "x25519 secp384r1" &&
      expect "session ID" "$(value "session resumption" "session ID (TLSv1.2)")" "yes" &&
      expect "ticket" "$(value "session resumption" "session ticket (TLSv1.2)")" "no*" &&
      expect "client-initiated renegotiation" "$(value "renegotiation" "client-initiated")" "accepted" &&
      expect "ALPN" "$(value "extensions" "ALPN (offered h2,http/1.1)")" "none chosen"
  }
  check "$name: 1.2 only, client's order, groups, no ticket, renegotiation accepted" clientpref ||
    keep_case "$name"
}
case_openssl_clientpref

# ---------------------------------------------------------------- TLS 1.0 by hand

case_tls10() {
  local name="openssl s_server -tls1 (TLS 1.0 only): found by the hand-made ClientHello"
  new_case "$name"
  if ! ossl_server -cert "$CERTS/rsa.pem" -key "$CERTS/rsa.key" -tls1 -cipher 'DEFAULT:@SECLEVEL=0'; then
    notok "$name" "$WHY"
    keep_case "$name"
    return
  fi
  run_probe
  bg_stop "$SPID"
  tls10() {
    # exit 1: nothing hasp can speak
    [ "$PRC" -eq 1 ] || fail "hasp probe exited $PRC" || return
    expect "TLSv1.0" "$(value "protocol versions" TLSv1.0)" "yes (*)" &&
      expect "TLSv1.1" "$(value "protocol versions" TLSv1.1)" "no (*)" &&
      expect "TLSv1.2" "$(value "protocol versions" TLSv1.2)" "no (*)" &&
      expect "TLSv1.3" "$(value "protocol versions" TLSv1.3)" "no (*)"
  }
  check "$name" tls10 || keep_case "$name"
}
case_tls10

# ---------------------------------------------------------------- gnutls-serv

GPRIO_BASE="NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305:+AES-128-GCM:-KX-ALL:+ECDHE-ECDSA:-GROUP-ALL:+GROUP-SECP384R1"

case_gnutls_serverpref() {
  local name="gnutls-serv (ECDSA, CHACHA20 then AES-128-GCM, %SERVER_PRECEDENCE, P-384, ALPN h2)"
  new_case "$name"
  if ! gnutls_server --x509certfile "$CERTS/ecdsa.pem" --x509keyfile "$CERTS/ecdsa.key" --alpn h2 \
    --priority "$GPRIO_BASE:%SERVER_PRECEDENCE"; then
    notok "$name" "$WHY"
    keep_case "$name"
    return
  fi
  run_probe
  bg_stop "$SPID"
  gserv() {
    probe_ran || return
    expect "TLSv1.3" "$(value "protocol versions" TLSv1.3)" "yes" &&
      expect "TLSv1.2" "$(value "protocol versions" TLSv1.2)" "yes" &&
      expect "TLSv1.1" "$(value "protocol versions" TLSv1.1)" "no (protocol_version(70) from the server)" &&
      expect "TLSv1.0" "$(value "protocol versions" TLSv1.0)" "no (protocol_version(70) from the server)" &&
      expect "TLS 1.3 order" "$(order "cipher suites, TLSv1.3")" "TLS_CHACHA20_POLY1305_SHA256 TLS_AES_128_GCM_SHA256" &&
      expect "TLS 1.3 preference" "$(value "cipher suites, TLSv1.3" order)" "the server's*" &&
      expect "TLS 1.2 order" "$(order "cipher suites, TLSv1.2")" \
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" &&
      expect "TLS 1.2 preference" "$(value "cipher suites, TLSv1.2" order)" "the server's*" &&
      expect "groups 1.3" "$(value "key exchange groups" TLSv1.3)" "secp384r1" &&
      expect "schemes 1.3 (a P-256 key)" "$(value "signature schemes" TLSv1.3)" "ecdsa_secp256r1_sha256" &&
      expect "verdict" "$(value "certificate chain" verdict)" "ok" &&
      expect "session ID" "$(value "session resumption" "session ID (TLSv1.2)")" "yes" &&
      expect "ticket" "$(value "session resumption" "session ticket (TLSv1.2)")" "yes" &&
      expect "PSK" "$(value "session resumption" "PSK from a ticket (TLSv1.3)")" "yes" &&
      expect "secure renegotiation" "$(value "renegotiation" "secure renegotiation")" "yes (RFC 5746)" &&
      expect "ALPN" "$(value "extensions" "ALPN (offered h2,http/1.1)")" "h2"
  }
  check "$name: versions, suites in order, group, scheme, chain, resumption, ALPN" gserv || keep_case "$name"
}
case_gnutls_serverpref

case_gnutls_clientpref() {
  local name="gnutls-serv (client precedence, --noticket)"
  new_case "$name"
  if ! gnutls_server --x509certfile "$CERTS/ecdsa.pem" --x509keyfile "$CERTS/ecdsa.key" --noticket \
    --priority "$GPRIO_BASE"; then
    notok "$name" "$WHY"
    keep_case "$name"
    return
  fi
  run_probe
  bg_stop "$SPID"
  gclient() {
    probe_ran || return
    # hasp offers AES-128-GCM before CHACHA20 (its default order)
    expect "TLS 1.3 order" "$(order "cipher suites, TLSv1.3")" "TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256" &&
      expect "TLS 1.3 preference" "$(value "cipher suites, TLSv1.3" order)" "the client's*" &&
      expect "TLS 1.2 preference" "$(value "cipher suites, TLSv1.2" order)" "the client's*" &&
      expect "session ID" "$(value "session resumption" "session ID (TLSv1.2)")" "yes" &&
      expect "ticket" "$(value "session resumption" "session ticket (TLSv1.2)")" "no*" &&
      expect "ALPN" "$(value "extensions" "ALPN (offered h2,http/1.1)")" "none chosen"
  }
  check "$name: the client's order, no ticket" gclient || keep_case "$name"
}
case_gnutls_clientpref

# ---------------------------------------------------------------- nothing there

closed_port() {
  next_port
  timeout -k 2 20 "$HASP" probe "127.0.0.1:$PORT" --timeout 2 >"$T/cp.out" 2>&1
  local rc=$?
  [ $rc -eq 1 ] || fail "exit $rc" || return
  grep -q '^error: cannot connect' "$T/cp.out" || fail "$(tail -n 1 "$T/cp.out")" || return
}
check "hasp probe of a closed port: exit 1, 'error: cannot connect'" closed_port
usage() {
  "$HASP" probe >/dev/null 2>"$T/u.err"
  [ $? -eq 2 ] && grep -q "HOST:PORT is required; see 'hasp probe --help'" "$T/u.err" || fail "$(head -n 1 "$T/u.err")" || return
}
check "hasp probe without a target: says so, points at --help, exit 2" usage

finish

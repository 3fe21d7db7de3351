#!/usr/bin/env bash
# Mutual TLS interop (issue 4), TLS 1.2 and TLS 1.3, both directions:
#   (a) openssl s_client / gnutls-cli -> hasp server --verify-client require|optional
#   (b) hasp client --cert -> openssl s_server -Verify|-verify, gnutls-serv
#       --require-client-cert|--verify-client-cert
# with a good client certificate (RSA and ECDSA), none, and one from a CA the
# server does not trust. Each case checks both ends: data echoed byte for byte
# when it should work; the alert and the error message on both sides when it
# should not (handshake_failure / certificate_required when required and
# missing, unknown_ca for an untrusted issuer).
# Usage: bash tests/interop/mtls.sh BUILD_DIR   (env HASP overrides the tool)
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl gnutls-serv gnutls-cli
need_hasp
gen_certs

UP="$T/up"
DOWN="$T/down"
make_payload "$UP"
make_payload "$DOWN"
NUP=$(fsize "$UP")

# The client identities, as each tool takes them. The client certificate
# files hold leaf + intermediate; s_client -cert reads only the first, so it
# gets the intermediate with -cert_chain.
ossl_cert() { # good-rsa|good-ecdsa|none|bad
  case "$1" in
    good-rsa) echo "-cert $CERTS/client-rsa.pem -key $CERTS/client-rsa.key -cert_chain $CERTS/int.pem" ;;
    good-ecdsa) echo "-cert $CERTS/client-ecdsa.pem -key $CERTS/client-ecdsa.key -cert_chain $CERTS/int.pem" ;;
    bad) echo "-cert $CERTS/bad-client.pem -key $CERTS/bad-client.key" ;;
  esac
}
gnutls_cert() {
  case "$1" in
    good-rsa) echo "--x509certfile $CERTS/client-rsa.pem --x509keyfile $CERTS/client-rsa.key" ;;
    good-ecdsa) echo "--x509certfile $CERTS/client-ecdsa.pem --x509keyfile $CERTS/client-ecdsa.key" ;;
    bad) echo "--x509certfile $CERTS/bad-client.pem --x509keyfile $CERTS/bad-client.key" ;;
  esac
}
hasp_cert() {
  case "$1" in
    good-rsa) echo "--cert $CERTS/client-rsa.pem --key $CERTS/client-rsa.key" ;;
    good-ecdsa) echo "--cert $CERTS/client-ecdsa.pem --key $CERTS/client-ecdsa.key" ;;
    bad) echo "--cert $CERTS/bad-client.pem --key $CERTS/bad-client.key" ;;
  esac
}
# expect MODE CERT VERSION: sets OUTCOME (ok|fail), ALERT (the alert hasp
# sends as a server, name(number)), SRVLINE (hasp server's client
# certificate line or failure text).
expect() {
  local mode=$1 cert=$2 v=$3
  OUTCOME=ok ALERT="" SRVLINE=""
  case "$cert" in
    good-*) SRVLINE="client certificate: ok" ;;
    none)
      if [ "$mode" = optional ]; then
        SRVLINE="client certificate: no client certificate"
      else
        OUTCOME=fail SRVLINE="the client sent no certificate, and this server requires one"
        if [ "$v" = 1.2 ]; then ALERT="handshake_failure(40)"; else ALERT="certificate_required(116)"; fi
      fi
      ;;
    bad) OUTCOME=fail ALERT="unknown_ca(48)" SRVLINE="certificate verify failed: unknown issuer 'CN=hasp untrusted other CA" ;;
  esac
}
alert_num() { sed 's/.*(\([0-9]*\))/\1/' <<<"$1"; }

# ------------------------------------------------ (a) peer clients -> hasp server

# server_case NAME PEER(openssl|gnutls) VERSION MODE CERT
server_case() {
  local name=$1 peer=$2 v=$3 mode=$4 cert=$5
  expect "$mode" "$cert" "$v"
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 --tls"${v/./_}" \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --verify-client "$mode" --cafile "$CERTS/ca.pem"
  local spid=$BGPID
  if ! wait_listen "$PORT" "$spid"; then
    notok "$name" "hasp server did not start: $WHY $(tail -n 2 "$C/srv.err")"
    keep_case "$name"
    return
  fi
  mkfifo "$C/cli.in"
  if [ "$peer" = openssl ]; then
    # shellcheck disable=SC2046
    bg_start "$C/cli" "$C/cli.in" openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
      -tls"${v/./_}" -CAfile "$CERTS/ca.pem" -verify_return_error -brief -nocommands $(ossl_cert "$cert")
  else
    # shellcheck disable=SC2046
    bg_start "$C/cli" "$C/cli.in" gnutls-cli 127.0.0.1 -p "$PORT" --sni-hostname localhost \
      --verify-hostname localhost --x509cafile "$CERTS/ca.pem" --logfile "$C/cli.log" \
      --priority "NORMAL:-VERS-ALL:+VERS-TLS$v" $(gnutls_cert "$cert")
  fi
  local cpid=$BGPID
  if [ "$OUTCOME" = ok ]; then
    feed "$C/cli.in" "$UP" "$C/cli.out" "$NUP" "$cpid"
  else
    # send nothing, so that the client reads the server's alert (it would
    # otherwise race its own write against the server's close)
    wait_for "$TMO" "$cpid" false >"$C/cli.in" &
    FEEDPID=$!
    bg_track "$FEEDPID"
  fi
  bg_wait_for "$cpid" "$TMO"
  local crc=$BGRC
  bg_wait_for "$spid" 5
  local src=$BGRC
  check "$name" server_case_ok "$peer" "$v" "$crc" "$src" || keep_case "$name"
  bg_stop "$FEEDPID"
}
server_case_ok() {
  local peer=$1 v=$2 crc=$3 src=$4 clog
  clog="$C/cli.err"
  [ "$peer" = gnutls ] && clog="$C/cli.log"
  [ "$src" -eq 0 ] || fail "hasp server exited $src" || return
  if [ "$OUTCOME" = ok ]; then
    [ "$crc" -eq 0 ] ||
      fail "$peer client exited $crc: $(grep -h -m1 -iE 'error|alert' "$clog" "$C/cli.err") / hasp server: $(first_line "$C/srv.err" 'failed|error')" || return
    same_bytes "$UP" "$C/cli.out" "echoed data" || return
    grep -q "^hasp: connection 1: TLSv$v " "$C/srv.err" ||
      fail "hasp server: $(first_line "$C/srv.err" '^hasp: connection')" || return
    has_line "$C/srv.err" "hasp: connection 1: $SRVLINE" ||
      fail "hasp server said '$(first_line "$C/srv.err" 'client certificate|failed')', expected '$SRVLINE'" || return
    return 0
  fi
  # the server's side: the reason and the alert it sent
  local line
  line=$(first_line "$C/srv.err" '^hasp: connection 1 failed: ')
  [ -n "$line" ] || fail "hasp server did not fail the connection ($(first_line "$C/srv.err" '^hasp: connection 1'))" || return
  [[ "$line" == *"$SRVLINE"* ]] || fail "hasp server said '$line', expected '$SRVLINE...'" || return
  [[ "$line" == *"(sent $ALERT to the client)"* ]] || fail "hasp server said '$line', expected '(sent $ALERT to the client)'" || return
  # the client's side: it received that alert
  [ "$crc" -ne 0 ] || fail "$peer client exited 0 although the server refused its certificate" || return
  [ "$crc" -ne 124 ] || fail "$peer client hung after the server's alert" || return
  if [ "$peer" = openssl ]; then
    has_text "$C/cli.err" "SSL alert number $(alert_num "$ALERT")" ||
      fail "s_client did not report alert $ALERT: $(grep -m1 -iE 'error|alert' "$C/cli.err")" || return
  else
    grep -qE "Received alert \[$(alert_num "$ALERT")\]" "$C/cli.log" "$C/cli.err" "$C/cli.out" 2>/dev/null ||
      fail "gnutls-cli did not report alert $ALERT: $(grep -h -m1 -iE 'alert|error' "$C/cli.log" "$C/cli.err")" || return
  fi
  [ ! -s "$C/cli.out" ] || fail "the client received application data: $(head -c 80 "$C/cli.out")" || return
}

for v in 1.2 1.3; do
  for peer in openssl gnutls; do
    pn=$([ $peer = openssl ] && echo "openssl s_client" || echo "gnutls-cli")
    for mode in require optional; do
      for cert in good-rsa good-ecdsa none bad; do
        # one good certificate type per peer and mode is enough for optional
        [ "$mode" = optional ] && [ "$cert" = good-ecdsa ] && continue
        case $cert in good-*) what="${cert#good-} certificate" ;; none) what="no certificate" ;;
          bad) what="untrusted certificate" ;; esac
        expect "$mode" "$cert" "$v"
        res=$([ "$OUTCOME" = ok ] && echo "accepted" || echo "refused with $ALERT")
        server_case "$pn -> hasp server --verify-client $mode, TLS $v, $what: $res" "$peer" "$v" "$mode" "$cert"
      done
    done
  done
done

# ------------------------------------------------ (b) hasp client -> peer servers

# What the peer servers send and log (their choice, not hasp's):
#   openssl: handshake_failure(40) (TLS 1.2) / certificate_required(116)
#            (TLS 1.3) when required and missing; unknown_ca(48) for an
#            untrusted issuer. Logs "peer did not return a certificate" /
#            "certificate verify failed".
#   GnuTLS 3.7: decode_error(50) (TLS 1.2) / certificate_required(116) (TLS
#            1.3) when required and missing; access_denied(49) for an
#            untrusted issuer. Logs "No certificate was found" / "Certificate
#            is required" / "Error in the certificate".
peer_expect() { # PEER MODE CERT VERSION: sets OUTCOME, PALERT (regex), PLOG (regex)
  local peer=$1 mode=$2 cert=$3 v=$4
  OUTCOME=ok PALERT="" PLOG=""
  case "$cert" in
    none)
      [ "$mode" = optional ] && return
      OUTCOME=fail
      if [ "$peer" = openssl ]; then
        PLOG="peer did not return a certificate"
        PALERT=$([ "$v" = 1.2 ] && echo 'handshake_failure\(40\)' || echo 'certificate_required\(116\)')
      else
        PLOG="No certificate was found|Certificate is required"
        PALERT=$([ "$v" = 1.2 ] && echo '(handshake_failure\(40\)|decode_error\(50\))' || echo 'certificate_required\(116\)')
      fi
      ;;
    bad)
      OUTCOME=fail
      if [ "$peer" = openssl ]; then
        PLOG="certificate verify failed" PALERT='unknown_ca\(48\)'
      else
        PLOG="Error in the certificate" PALERT='(unknown_ca\(48\)|access_denied\(49\)|bad_certificate\(42\))'
      fi
      ;;
  esac
}

# client_case NAME PEER VERSION MODE CERT
client_case() {
  local name=$1 peer=$2 v=$3 mode=$4 cert=$5
  peer_expect "$peer" "$mode" "$cert" "$v"
  new_case "$name"
  next_port
  local spid
  if [ "$peer" = openssl ]; then
    mkfifo "$C/srv.in"
    bg_start "$C/srv" "$C/srv.in" openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -quiet \
      -tls"${v/./_}" -cert "$CERTS/rsa-leaf.pem" -key "$CERTS/rsa.key" -cert_chain "$CERTS/int.pem" \
      "$([ "$mode" = require ] && echo -Verify || echo -verify)" 1 -CAfile "$CERTS/ca.pem" -verify_return_error
    spid=$BGPID
    if [ "$OUTCOME" = ok ]; then
      feed "$C/srv.in" "$DOWN" "$C/srv.out" "$NUP" "$spid"
    else
      wait_for "$TMO" "$spid" false >"$C/srv.in" &
      FEEDPID=$!
      bg_track "$FEEDPID"
    fi
  else
    local gm=(--verify-client-cert)
    [ "$mode" = require ] && gm+=(--require-client-cert)
    bg_start "$C/srv" /dev/null gnutls-serv --echo -p "$PORT" --x509certfile "$CERTS/rsa.pem" \
      --x509keyfile "$CERTS/rsa.key" --x509cafile "$CERTS/ca.pem" "${gm[@]}" \
      --priority "NORMAL:-VERS-ALL:+VERS-TLS$v"
    spid=$BGPID
  fi
  if ! wait_listen "$PORT" "$spid"; then
    notok "$name" "$peer server did not start: $WHY $(tail -n 2 "$C/srv.err")"
    keep_case "$name"
    bg_stop "$spid"
    return
  fi
  local hargs
  # shellcheck disable=SC2207 # the certificate options are words without spaces
  hargs=(--servername localhost --cafile "$CERTS/ca.pem" --tls"${v/./_}" $(hasp_cert "$cert"))
  local cpid hrc
  if [ "$OUTCOME" = ok ] && [ "$peer" = openssl ]; then
    # data both ways; s_server closes (close_notify) once it has all of UP
    note_cmd "$HASP" client "127.0.0.1:$PORT" "${hargs[@]}" --ign-eof
    timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" "${hargs[@]}" --ign-eof \
      <"$UP" >"$C/cli.out" 2>"$C/cli.err"
    hrc=$?
  else
    mkfifo "$C/cli.in"
    bg_start "$C/cli" "$C/cli.in" "$HASP" client "127.0.0.1:$PORT" "${hargs[@]}"
    cpid=$BGPID
    local cfeed
    if [ "$OUTCOME" = ok ]; then
      feed "$C/cli.in" "$UP" "$C/cli.out" "$NUP" "$cpid"
      cfeed=$FEEDPID
    else
      wait_for "$TMO" "$cpid" false >"$C/cli.in" &
      cfeed=$!
      bg_track "$cfeed"
    fi
    bg_wait_for "$cpid" "$TMO"
    hrc=$BGRC
    bg_stop "$cfeed"
  fi
  local src=0
  if [ "$peer" = openssl ]; then
    bg_wait_for "$spid" 5
    src=$BGRC
    bg_stop "$FEEDPID"
  else
    # gnutls-serv logs a refused handshake a moment after the client left
    [ "$OUTCOME" = ok ] || wait_for 2 "$spid" has_text "$C/srv.err" "Error in handshake"
    bg_stop "$spid"
  fi
  check "$name" client_case_ok "$peer" "$cert" "$hrc" "$src" || keep_case "$name"
}
client_case_ok() {
  local peer=$1 cert=$2 hrc=$3 src=$4
  if [ "$OUTCOME" = ok ]; then
    [ "$hrc" -eq 0 ] || fail "hasp client exited $hrc: $(hasp_error "$C/cli.err")" || return
    has_line "$C/cli.err" "hasp: verify: ok" || fail "hasp: $(first_line "$C/cli.err" '^hasp: (verify|error)')" || return
    if [ "$peer" = openssl ]; then
      same_bytes "$UP" "$C/srv.out" "client->server data" || return
      same_bytes "$DOWN" "$C/cli.out" "server->client data" || return
      [ "$src" -eq 0 ] || fail "openssl s_server exited $src: $(grep -m1 -i error "$C/srv.err")" || return
      if [ "$cert" = none ]; then
        ! grep -q '^depth=0' "$C/srv.err" || fail "s_server verified a client certificate: $(first_line "$C/srv.err" '^depth=0')" || return
      else
        has_text "$C/srv.err" "depth=0 O = hasp tests, CN = hasp test client ${cert#good-}" ||
          fail "s_server did not verify the client certificate: $(grep -m1 -iE 'depth=0|error' "$C/srv.err")" || return
      fi
    else
      same_bytes "$UP" "$C/cli.out" "echoed data" || return
      if [ "$cert" = none ]; then
        ! grep -q 'Got a certificate list' "$C/srv.out" || fail "gnutls-serv got a client certificate" || return
      else
        has_text "$C/srv.out" "- Got a certificate list of 2 certificates." ||
          fail "gnutls-serv did not get the client's chain: $(first_line "$C/srv.out" 'certificate list|Status')" || return
        has_text "$C/srv.out" "- Status: The certificate is trusted." ||
          fail "gnutls-serv: $(first_line "$C/srv.out" 'Status')" || return
      fi
    fi
    return 0
  fi
  # refused: hasp names the peer's alert, the peer logs its reason
  [ "$hrc" -eq 1 ] || fail "hasp client exited $hrc, expected 1 ($(hasp_error "$C/cli.err"))" || return
  grep -qE "^hasp: error: the server sent a fatal alert: $PALERT" "$C/cli.err" ||
    fail "hasp client said '$(hasp_error "$C/cli.err")', expected 'the server sent a fatal alert: ${PALERT//\\/}'" || return
  grep -qE "$PLOG" "$C/srv.err" ||
    fail "$peer server did not log '$PLOG': $(grep -m1 -iE 'error' "$C/srv.err")" || return
  [ ! -s "$C/cli.out" ] || fail "hasp client received application data" || return
}

for v in 1.2 1.3; do
  for peer in openssl gnutls; do
    if [ $peer = openssl ]; then pn="openssl s_server"; else pn="gnutls-serv"; fi
    for mode in require optional; do
      if [ $peer = openssl ]; then
        mn=$([ $mode = require ] && echo "-Verify" || echo "-verify")
      else
        mn=$([ $mode = require ] && echo "--require-client-cert" || echo "--verify-client-cert")
      fi
      for cert in good-rsa good-ecdsa none bad; do
        [ "$mode" = optional ] && [ "$cert" = good-ecdsa ] && continue
        case $cert in good-*) what="${cert#good-} certificate" ;; none) what="no certificate" ;;
          bad) what="untrusted certificate" ;; esac
        peer_expect "$peer" "$mode" "$cert" "$v"
        res=$([ "$OUTCOME" = ok ] && echo "accepted" || echo "refused (${PALERT//\\/})")
        client_case "hasp client -> $pn $mn, TLS $v, $what: $res" "$peer" "$v" "$mode" "$cert"
      done
    done
  done
done

finish

#!/usr/bin/env bash
# hasp client against servers that break one rule each (RFC 8446, RFC
# 5246): tests/interop/bad_server.py answers the ClientHello with a
# ServerHello or HelloRetryRequest that offers what was not offered, an
# HRR that changes nothing or comes twice, a downgrade, an empty or
# oversized Certificate, a ServerKeyExchange signed with a scheme the
# client did not offer, ALPN the client did not ask for. Each case asserts
# the alert hasp sends (read off the wire by the bad server), that hasp
# fails, and the sentence hasp prints.
# Usage: bash tests/interop/client_misbehaving.sh BUILD_DIR
. "$(dirname "$0")/_lib.sh" "$@"
need_tool python3
need_tool openssl
need_hasp
gen_certs
openssl x509 -in "$CERTS/rsa-leaf.pem" -outform DER -out "$T/leaf.der" 2>/dev/null
export BAD_SERVER_CERT_DER="$T/leaf.der"

# bad_case CASE "HASP-ARGS" ALERT-DESC PHRASE WHAT
bad_case() {
  local cs=$1 args=$2 desc=$3 phrase=$4 what=$5
  local name="hasp client -> server with $what: $(alert_name "$desc")($desc)"
  new_case "$name"
  next_port
  bg_start "$C/bad" /dev/null python3 "$LIB_DIR/bad_server.py" "$PORT" "$cs"
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "bad_server did not start: $WHY"; keep_case "$name"; return; }
  # shellcheck disable=SC2086
  note_cmd "$HASP" client "127.0.0.1:$PORT" --servername localhost --insecure $args
  # shellcheck disable=SC2086
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" --servername localhost --insecure $args \
    </dev/null >"$C/cli.out" 2>"$C/cli.err"
  local crc=$?
  bg_wait "$spid" 12
  local got why=""
  got=$(cat "$C/bad.out" 2>/dev/null | tail -1)
  [ "$got" = "ALERT 2 $desc" ] || why="the server saw '$got', not 'ALERT 2 $desc';"
  [ $crc -ne 0 ] && [ $crc -ne 124 ] || why="$why hasp client exited $crc;"
  grep -qiF -- "$phrase" "$C/cli.err" || why="$why hasp did not say '$phrase' ($(head -c 300 "$C/cli.err" | tr '\n' ' '));"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
}
alert_name() {
  case "$1" in 10) echo unexpected_message ;; 40) echo handshake_failure ;; 47) echo illegal_parameter ;;
    50) echo decode_error ;; 70) echo protocol_version ;; 110) echo unsupported_extension ;; *) echo "alert" ;; esac
}

# RFC 8446 4.2.1
bad_case tls13-version-not-offered "" 47 "version" "a supported_versions value it was not offered"
# RFC 8446 4.1.3
bad_case tls13-suite-not-offered "" 47 "suite" "a TLS 1.3 cipher suite it was not offered"
# RFC 8446 4.2.8
bad_case tls13-group-not-offered "" 47 "group" "a key share for a group it was not offered"
bad_case tls13-share-not-sent "" 47 "share" "a key share for a group the client sent no share for"
# RFC 8446 4.2
bad_case tls13-extension-not-offered "" 110 "extension" "an extension it was not offered"
# RFC 8446 4.1.4
bad_case hrr-no-change "" 47 "HelloRetryRequest" "a HelloRetryRequest that changes nothing"
bad_case hrr-group-not-offered "" 47 "HelloRetryRequest" "a HelloRetryRequest for a group it was not offered"
bad_case hrr-twice "" 10 "second HelloRetryRequest" "a second HelloRetryRequest"
# RFC 8446 4.1.3
bad_case downgrade-sentinel "" 47 "downgrade" "a TLS 1.2 ServerHello carrying the downgrade sentinel"
# RFC 8996, RFC 5246 E.1
bad_case version-tls11 "" 70 "TLS1.1" "a TLS 1.1 ServerHello"
# RFC 7301 3.2, RFC 5246 7.4.1.4
bad_case tls12-alpn-not-offered "--tls1_2" 110 "application_layer_protocol_negotiation" "ALPN it was not offered"
# RFC 5246 7.4.2 (RFC 8446 4.4.2.4 for TLS 1.3)
bad_case tls12-empty-certificate "--tls1_2" 50 "empty Certificate" "an empty Certificate"
# hasp's limit on one handshake message (hasp_config_set_limits)
bad_case tls12-oversized-certificate "--tls1_2" 40 "limit" "a Certificate announcing 16 MiB"
# RFC 5246 7.4.1.4.1, RFC 8446 4.2.3
bad_case tls12-ske-scheme-not-offered "--tls1_2" 47 "not offer" "a ServerKeyExchange signed with a scheme it was not offered (rsa_pkcs1_sha1)"
finish

#!/usr/bin/env bash
# RSASSA-PSS certificates (id-RSASSA-PSS keys, RFC 8446 4.2.3) in TLS 1.2
# and TLS 1.3, both roles against OpenSSL: such a key signs only with
# rsa_pss_pss_*, serves ECDHE_RSA and DHE_RSA suites, and never RSA key
# exchange; a server with an RSA and an RSA-PSS certificate serves a client
# that accepts only rsa_pss_pss_sha256 with the PSS one.
# Usage: bash tests/interop/pss_cert.sh BUILD_DIR
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl
need_hasp
gen_certs

P="$T/pss"
openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out "$P.key" 2>/dev/null
openssl req -new -key "$P.key" -subj /CN=localhost -out "$P.csr" 2>/dev/null
openssl x509 -req -in "$P.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -days 30 -sha256 \
  -extfile <(printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n') -out "$P.pem" 2>/dev/null
[ -s "$P.pem" ] || { notok "making an RSA-PSS certificate" "openssl failed"; finish; }

# srv_case NAME "HASP-SERVER-ARGS" "S_CLIENT-ARGS" WANT-SIGNATURE [WANT-CIPHER]
srv_case() {
  local name=$1 sargs=$2 cargs=$3 sig=$4 cipher=${5:-}
  new_case "$name"
  next_port
  # shellcheck disable=SC2086
  bg_start "$C/srv" /dev/null "$HASP" server --accept "127.0.0.1:$PORT" --naccept 1 --www $sargs
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "hasp server did not start: $WHY"; return; }
  # shellcheck disable=SC2086
  printf 'GET / HTTP/1.0\r\n\r\n' | timeout "$TMO" openssl s_client -connect "127.0.0.1:$PORT" \
    -servername localhost -CAfile "$CERTS/ca.pem" -verify_return_error -quiet -ign_eof $cargs \
    >"$C/cli.out" 2>"$C/cli.err"
  bg_wait "$spid" 5
  local why=""
  tr -d '\r' <"$C/cli.out" | grep -qx "Signature: $sig" || why="the page does not say 'Signature: $sig' ($(grep -m1 -i error "$C/cli.err"));"
  [ -z "$cipher" ] || tr -d '\r' <"$C/cli.out" | grep -q "^Cipher: $cipher " || why="$why not $cipher;"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
}
srv_case "openssl s_client -tls1_2 -> hasp server with an RSA-PSS certificate: rsa_pss_pss_sha256" \
  "--cert $P.pem --key $P.key" "-tls1_2" rsa_pss_pss_sha256 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
srv_case "openssl s_client -tls1_2 DHE -> hasp server with an RSA-PSS certificate" \
  "--cert $P.pem --key $P.key" "-tls1_2 -cipher DHE-RSA-AES256-GCM-SHA384" rsa_pss_pss_sha256 \
  TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
srv_case "openssl s_client -tls1_3 -> hasp server with an RSA-PSS certificate: rsa_pss_pss_sha256" \
  "--cert $P.pem --key $P.key" "-tls1_3" rsa_pss_pss_sha256
srv_case "openssl s_client -tls1_2 -sigalgs rsa_pss_pss_sha256 -> hasp server with RSA and RSA-PSS certificates" \
  "--cert $CERTS/rsa.pem --key $CERTS/rsa.key --cert $P.pem --key $P.key" \
  "-tls1_2 -sigalgs rsa_pss_pss_sha256" rsa_pss_pss_sha256
srv_case "openssl s_client -tls1_2 -sigalgs rsa_pss_rsae_sha256 -> hasp server with RSA and RSA-PSS certificates" \
  "--cert $CERTS/rsa.pem --key $CERTS/rsa.key --cert $P.pem --key $P.key" \
  "-tls1_2 -sigalgs rsa_pss_rsae_sha256" rsa_pss_rsae_sha256

name="openssl s_client -tls1_2 -cipher AES128-SHA (RSA key exchange) -> hasp server with only an RSA-PSS certificate: handshake_failure"
new_case "$name"
next_port
bg_start "$C/srv" /dev/null "$HASP" server --accept "127.0.0.1:$PORT" --naccept 1 --www \
  --ciphers ALL --cert "$P.pem" --key "$P.key"
spid=$BGPID
if wait_listen "$PORT" "$spid"; then
  printf 'GET / HTTP/1.0\r\n\r\n' | timeout "$TMO" openssl s_client -connect "127.0.0.1:$PORT" \
    -tls1_2 -cipher AES128-SHA -quiet >"$C/cli.out" 2>"$C/cli.err"
  bg_wait "$spid" 5
  if grep -q "alert handshake failure" "$C/cli.err"; then ok "$name"; else
    notok "$name" "s_client: $(grep -m1 -i 'error\|alert' "$C/cli.err")"; keep_case "$name"; fi
else
  notok "$name" "hasp server did not start: $WHY"
fi

for v in 1_2 1_3; do
  name="hasp client --tls$v -> openssl s_server with an RSA-PSS certificate: rsa_pss_pss_sha256"
  new_case "$name"
  next_port
  bg_start "$C/os" /dev/null openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -www \
    -cert "$P.pem" -key "$P.key"
  spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "s_server did not start: $WHY"; continue; }
  printf 'GET / HTTP/1.0\r\n\r\n' | timeout "$TMO" "$HASP" client "127.0.0.1:$PORT" \
    --servername localhost --cafile "$CERTS/ca.pem" "--tls$v" >"$C/cli.out" 2>"$C/cli.err"
  crc=$?
  bg_wait "$spid" 5
  if [ $crc -eq 0 ] && grep -qx "hasp: signature: rsa_pss_pss_sha256" "$C/cli.err"; then ok "$name"; else
    notok "$name" "hasp exited $crc: $(head -c 300 "$C/cli.err" | tr '\n' ' ')"; keep_case "$name"; fi
done
finish

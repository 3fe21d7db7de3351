#!/usr/bin/env bash
# The 29 failures a user meets most, each through the tool as a user
# would meet it (hasp client against hasp server, or against the wrong kind
# of peer), asserting the sentence each side prints: the cause, both sides'
# values where a negotiation failed, and the flag that would change it.
# Usage: tests/errors.sh BUILD_DIR
. "$(dirname "$0")/interop/_lib.sh" "$@"
need_tool openssl python3
need_hasp
gen_certs

# ---------------------------------------------------------------- certificates
# An expired server certificate, a self-signed one, a client-only one, and a
# CRL from the intermediate revoking the RSA client certificate.
W="$T/pki"
mkdir -p "$W/new"
: >"$W/index.txt"
echo 1000 >"$W/crlnumber"
openssl rand -hex 8 >"$W/serial"
cat >"$W/ca.cnf" <<X
[ca]
default_ca = this
[this]
dir = $W
database = $W/index.txt
new_certs_dir = $W/new
serial = $W/serial
crlnumber = $W/crlnumber
certificate = $CERTS/ca.pem
private_key = $CERTS/ca.key
default_md = sha256
default_crl_days = 7
policy = any
unique_subject = no
crl_extensions = crl_ext
[int]
certificate = $CERTS/int.pem
private_key = $CERTS/int.key
[any]
commonName = supplied
[crl_ext]
authorityKeyIdentifier = keyid:always
[server_cert]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost
[client_only]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost
X
sed 's|^certificate = .*ca.pem$|certificate = '"$CERTS"'/int.pem|; s|^private_key = .*ca.key$|private_key = '"$CERTS"'/int.key|' \
  "$W/ca.cnf" >"$W/int.cnf"
mkpki() {
  openssl req -new -newkey rsa:2048 -nodes -keyout "$W/expired.key" -subj "/CN=localhost" \
    -out "$W/expired.csr" 2>/dev/null &&
    openssl ca -batch -config "$W/ca.cnf" -extensions server_cert -notext \
      -startdate 20200101000000Z -enddate 20200201000000Z \
      -in "$W/expired.csr" -out "$W/expired.pem" >/dev/null 2>&1 &&
    openssl req -new -newkey rsa:2048 -nodes -keyout "$W/clientonly.key" -subj "/CN=localhost" \
      -out "$W/clientonly.csr" 2>/dev/null &&
    openssl ca -batch -config "$W/ca.cnf" -extensions client_only -notext -days 30 \
      -in "$W/clientonly.csr" -out "$W/clientonly.pem" >/dev/null 2>&1 &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/self.key" -subj "/CN=localhost" \
      -days 30 -addext "subjectAltName=DNS:localhost" -addext "basicConstraints=critical,CA:FALSE" \
      -out "$W/self.pem" 2>/dev/null &&
    openssl x509 -in "$CERTS/client-rsa.pem" -out "$W/client-leaf.pem" 2>/dev/null &&
    openssl ca -config "$W/int.cnf" -revoke "$W/client-leaf.pem" -crl_reason keyCompromise \
      >/dev/null 2>&1 &&
    openssl ca -config "$W/int.cnf" -revoke "$CERTS/rsa-leaf.pem" -crl_reason superseded \
      >/dev/null 2>&1 &&
    openssl ca -config "$W/int.cnf" -gencrl -out "$W/int.crl" >/dev/null 2>&1
}
if ! mkpki; then
  notok "errors: make the extra certificates" "openssl ca failed"
  finish
fi

SRV_CERT="--cert $CERTS/rsa.pem --key $CERTS/rsa.key"
CLI_CA="--cafile $CERTS/ca.pem --servername localhost"

# pair NAME "SERVER ARGS" "CLIENT ARGS" CLIENT_SAYS SERVER_SAYS: hasp server
# with SERVER ARGS (certificate included), hasp client with CLIENT ARGS
# (trust and name included); the client must exit 1 and print CLIENT_SAYS,
# the server print SERVER_SAYS ("-": the server is not checked).
pair() {
  local name=$1 sargs=$2 cargs=$3 csays=$4 ssays=$5
  new_case "$name"
  next_port
  # shellcheck disable=SC2086
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 $sargs
  local spid=$BGPID
  if ! wait_listen "$PORT" "$spid"; then
    notok "$name" "hasp server did not start: $WHY $(tail -n 2 "$C/srv.err")"
    return
  fi
  # shellcheck disable=SC2086
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" $cargs </dev/null >"$C/cli.out" 2>"$C/cli.err"
  local crc=$?
  bg_wait_for "$spid" 5
  check "$name" said "$crc" 1 "$csays" "$ssays" || keep_case "$name"
}
# said RC WANT CLIENT_SAYS SERVER_SAYS
said() {
  [ "$1" -eq "$2" ] || fail "hasp client exited $1, not $2: $(head -c 300 "$C/cli.err")" || return
  grep -qF -- "$3" "$C/cli.err" ||
    fail "the client did not say '$3': $(grep -m1 error "$C/cli.err" | head -c 400)" || return
  [ "$4" = - ] || grep -qF -- "$4" "$C/srv.err" ||
    fail "the server did not say '$4': $(grep -m1 failed "$C/srv.err" | head -c 400)" || return
}
# alone NAME WANT_RC SAYS CMD...: one hasp command, its exit status and sentence
alone() {
  local name=$1 want=$2 says=$3
  shift 3
  new_case "$name"
  timeout -k 2 "$TMO" "$@" </dev/null >"$C/cli.out" 2>"$C/cli.err"
  local rc=$?
  check "$name" said "$rc" "$want" "$says" - || keep_case "$name"
}

# 1-2: cipher suites
pair "no cipher suite in common (TLS 1.2)" \
  "$SRV_CERT --tls1_2 --ciphers ECDHE-RSA-AES128-GCM-SHA256" \
  "$CLI_CA --tls1_2 --ciphers ECDHE-RSA-AES256-GCM-SHA384" \
  "handshake_failure(40), while this side waited for ServerHello; the server found no cipher suite, group or signature scheme in common with this client's offer (its log says which; 'hasp probe HOST:PORT' lists what it supports)" \
  "no cipher suite in common: the client offered ECDHE-RSA-AES256-GCM-SHA384; this server allows ECDHE-RSA-AES128-GCM-SHA256 (sent handshake_failure(40) to the client); --ciphers (TLS 1.2) and --ciphersuites (TLS 1.3) set either side's list"
pair "no cipher suite in common (TLS 1.3)" \
  "$SRV_CERT --tls1_3 --ciphersuites TLS_AES_128_GCM_SHA256" \
  "$CLI_CA --tls1_3 --ciphersuites TLS_AES_256_GCM_SHA384" \
  "handshake_failure(40)" \
  "no TLS 1.3 cipher suite in common: the client offered TLS_AES_256_GCM_SHA384; this server allows TLS_AES_128_GCM_SHA256"
# 3-4: groups
pair "no group in common (TLS 1.3)" "$SRV_CERT --groups x25519:secp256r1" "$CLI_CA --groups secp384r1" \
  "handshake_failure(40)" \
  "no group in common: the client offered secp384r1; this server allows x25519, secp256r1 (sent handshake_failure(40) to the client); --groups sets either side's list"
pair "no group in common (TLS 1.2 ECDHE)" "$SRV_CERT --tls1_2 --groups x25519" "$CLI_CA --tls1_2 --groups secp384r1" \
  "handshake_failure(40)" \
  "no group in common for the cipher suites both sides have: the client offered secp384r1; this server allows x25519"
# a client (openssl s_client) that offers only groups hasp does not have:
# named by code point, not "0 groups"
foreign_groups() {
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 $SRV_CERT --groups x25519
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || return
  timeout -k 2 "$TMO" openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -groups brainpoolP256r1:brainpoolP384r1 \
    </dev/null >"$C/cli.out" 2>"$C/cli.err"
  bg_wait_for "$spid" 5
  grep -qF "no group in common for the cipher suites both sides have: the client offered 0x001a, 0x001b; this server allows x25519 (sent handshake_failure(40) to the client); --groups sets either side's list" "$C/srv.err" ||
    fail "the server said: $(grep -m1 failed "$C/srv.err")"
}
new_case "client offers only groups hasp lacks"
check "client offers only groups hasp lacks" foreign_groups || keep_case "client offers only groups hasp lacks"
# 5: signature schemes
pair "no signature scheme in common" "$SRV_CERT --sigalgs rsa_pss_rsae_sha256" "$CLI_CA --sigalgs ecdsa_secp256r1_sha256" \
  "handshake_failure(40)" \
  "no signature scheme in common: the client accepts ecdsa_secp256r1_sha256; this server's certificates can sign with rsa_pss_rsae_sha256 (sent handshake_failure(40) to the client); --sigalgs sets the client's list"
# 6-7: versions
pair "TLS 1.2 client, TLS 1.3-only server" "$SRV_CERT --tls1_3" "$CLI_CA --tls1_2" \
  "protocol_version(70), while this side waited for ServerHello; the server allows none of the versions offered (--tls1_2, --tls1_3)" \
  "no protocol version in common: the client offered TLS 1.2 only (no supported_versions); this server allows TLS 1.3 only (sent protocol_version(70) to the client); --tls1_2 or --tls1_3"
pair "TLS 1.3 client, TLS 1.2-only server" "$SRV_CERT --tls1_2" "$CLI_CA --tls1_3" \
  "protocol_version(70)" \
  "no protocol version in common: the client offered TLS1.3; this server allows TLS1.2"
# 8: ALPN
pair "no application protocol in common" "$SRV_CERT --alpn h2" "$CLI_CA --alpn http/1.1" \
  "no_application_protocol(120), while this side waited for ServerHello; the server allows none of the protocols given with --alpn" \
  "no application protocol in common: the client offered http/1.1; this server allows h2 (sent no_application_protocol(120) to the client); --alpn sets either side's list"
# 9-14: the server's certificate
pair "name mismatch" "$SRV_CERT" "--cafile $CERTS/ca.pem --servername www.example.com" \
  "certificate verify failed: certificate 'CN=localhost, O=hasp tests' does not match 'www.example.com': it holds DNS:localhost, IP:127.0.0.1 (sent bad_certificate(42) to the server); --servername NAME checks the certificate against another name" \
  "the client sent a fatal alert: bad_certificate(42), while this side waited for Finished; the client refused this server's certificate (its log says why)"
pair "expired server certificate" "--cert $W/expired.pem --key $W/expired.key" "$CLI_CA" \
  "certificate verify failed: certificate 'CN=localhost' expired on 2020-02-01 00:00:00 UTC (validation time " \
  "certificate_expired(45)"
pair "unknown CA" "$SRV_CERT" "--cafile $CERTS/other-ca.pem --servername localhost" \
  "certificate verify failed: no path from certificate 'CN=localhost, O=hasp tests' to a trusted root: its issuer 'CN=hasp test intermediate CA, O=hasp tests' is not in the trust store" \
  "unknown_ca(48)"
pair "self-signed server certificate" "--cert $W/self.pem --key $W/self.key" "$CLI_CA" \
  "certificate verify failed: certificate 'CN=localhost' is self-signed and not in the trust store (sent unknown_ca(48) to the server); --cafile FILE trusts the CA that issued it (--insecure skips the check: dangerous)" \
  "unknown_ca(48)"
pair "server sends no intermediate" "--cert $CERTS/rsa-leaf.pem --key $CERTS/rsa.key" "$CLI_CA" \
  "certificate verify failed: unknown issuer 'CN=hasp test intermediate CA, O=hasp tests' of certificate 'CN=localhost, O=hasp tests': not in the trust store and the peer sent no intermediates" \
  "unknown_ca(48)"
pair "server certificate for clients only" "--cert $W/clientonly.pem --key $W/clientonly.key" "$CLI_CA" \
  "certificate verify failed: certificate 'CN=localhost' is not for serverAuth (TLS server): its extendedKeyUsage does not include it" \
  "unsupported_certificate(43)"
# 15-17: client certificates
pair "client certificate missing" "$SRV_CERT --verify-client require --cafile $CERTS/ca.pem" "$CLI_CA" \
  "certificate_required(116); the server requires a client certificate: give one with --cert FILE --key FILE" \
  "the client sent no certificate, and this server requires one (sent certificate_required(116) to the client); the client gives one with --cert FILE --key FILE; --verify-client optional makes it optional"
pair "client certificate from an untrusted CA" "$SRV_CERT --verify-client require --cafile $CERTS/ca.pem" \
  "$CLI_CA --cert $CERTS/bad-client.pem --key $CERTS/bad-client.key" \
  "unknown_ca(48); the server refused this client's certificate (its log says why)" \
  "certificate verify failed: unknown issuer 'CN=hasp untrusted other CA, O=hasp tests' of certificate 'CN=hasp bad client, O=hasp tests': not in the trust store and the peer sent no intermediates (sent unknown_ca(48) to the client); --cafile FILE on this server names the CA that issues client certificates"
pair "revoked client certificate (CRL)" "$SRV_CERT --verify-client require --cafile $CERTS/ca.pem --crl $W/int.crl" \
  "$CLI_CA --cert $CERTS/client-rsa.pem --key $CERTS/client-rsa.key" \
  "certificate_revoked(44); the server refused this client's certificate (its log says why)" \
  ") was revoked by 'CN=hasp test intermediate CA, O=hasp tests' on "
pair "revoked server certificate (CRL)" "$SRV_CERT" "$CLI_CA --crl $W/int.crl --crl-check leaf" \
  ") was revoked by 'CN=hasp test intermediate CA, O=hasp tests' on " \
  "the client sent a fatal alert: certificate_revoked(44)"
pair "client requires a CRL it lacks" "$SRV_CERT" "$CLI_CA --crl-check leaf" \
  "no CRL from 'CN=hasp test intermediate CA, O=hasp tests' covers certificate 'CN=localhost, O=hasp tests', and the revocation policy (crl_check leaf) requires one (sent certificate_unknown(46) to the server); --crl FILE gives the issuer's current CRL" \
  "certificate_unknown(46)"
# 18-19: the wrong protocol on the port
http_to_tls() {
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 $SRV_CERT
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || return
  # a subshell that ignores SIGPIPE: the server may hang up before the
  # whole request is written, which is fine
  (
    trap '' PIPE
    exec 7<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' >&7 2>/dev/null
    timeout 5 cat <&7 >/dev/null 2>&1
    exit 0
  ) || fail "cannot connect to the server" || return
  bg_wait_for "$spid" 5
  grep -qF "the peer is not speaking TLS (its first bytes look like an HTTP request" "$C/srv.err" &&
    grep -qF "the client speaks plain HTTP to a TLS port: use https:// or hasp client" "$C/srv.err" ||
    fail "the server said: $(grep -m1 failed "$C/srv.err")"
}
new_case "HTTP spoken to a TLS port"
check "HTTP spoken to a TLS port" http_to_tls || keep_case "HTTP spoken to a TLS port"
tls_to_plain() {
  next_port
  bg_start "$C/plain" /dev/null python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); c.recv(4096); c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"); c.close()' "$PORT"
  local ppid=$BGPID
  wait_listen "$PORT" "$ppid" || return
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" $CLI_CA </dev/null >"$C/cli.out" 2>"$C/cli.err"
  local rc=$?
  bg_wait_for "$ppid" 5
  said "$rc" 1 "the peer is not speaking TLS (its first bytes look like an HTTP response); the port serves another protocol: check HOST:PORT" -
}
new_case "TLS spoken to a plain HTTP port"
check "TLS spoken to a plain HTTP port" tls_to_plain || keep_case "TLS spoken to a plain HTTP port"
# 20-21: nothing there
next_port
alone "nothing listens on the port" 1 "hasp: error: cannot connect to 127.0.0.1:$PORT: Connection refused (nothing listens on that port)" \
  "$HASP" client "127.0.0.1:$PORT" $CLI_CA
alone "unknown host" 1 "hasp: error: cannot resolve no-such-host.invalid" \
  "$HASP" client no-such-host.invalid:443 $CLI_CA
port_taken() {
  next_port
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept 1 $SRV_CERT
  local spid=$BGPID
  wait_listen "$PORT" "$spid" || return
  timeout -k 2 "$TMO" "$HASP" server --accept "$PORT" $SRV_CERT </dev/null >"$C/cli.out" 2>"$C/cli.err"
  local rc=$?
  bg_stop "$spid"
  said "$rc" 1 "cannot listen on 127.0.0.1:$PORT: Address already in use (another process listens there: choose another port with --accept)" -
}
new_case "the port is taken"
check "the port is taken" port_taken || keep_case "the port is taken"
# 22-25: configuration and usage
alone "key does not match the certificate" 2 "the private key does not belong to the first certificate of the chain (certificate '$CERTS/rsa.pem', key '$CERTS/ecdsa.key')" \
  "$HASP" server --accept 1 --cert "$CERTS/rsa.pem" --key "$CERTS/ecdsa.key"
alone "trust file missing" 2 "cannot load trust anchors from '$T/none.pem': cannot open '$T/none.pem'" \
  "$HASP" client 127.0.0.1:1 --cafile "$T/none.pem"
alone "unknown option" 2 "hasp server: unknown option '--port'; see 'hasp server --help'" \
  "$HASP" server --port 4433
alone "an option of the other command" 2 "hasp client: --accept is an option of hasp server, not of hasp client; see 'hasp client --help'" \
  "$HASP" client --accept 4433
finish

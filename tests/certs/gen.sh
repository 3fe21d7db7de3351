#!/usr/bin/env bash
# Generate the test PKI with the openssl command. Usage: tests/certs/gen.sh OUTDIR
#
# Idempotent: does nothing when OUTDIR/.done exists. Files written to OUTDIR:
#   ca.pem ca.key                 root CA (RSA-2048), the trust anchor
#   int.pem int.key               intermediate CA (ECDSA P-256), signed by the root
#   rsa.pem rsa.key               server "localhost" RSA-2048: chain leaf+intermediate,
#                                 key PKCS#1 ("BEGIN RSA PRIVATE KEY")
#   ecdsa.pem ecdsa.key           server "localhost" ECDSA P-256: chain leaf+intermediate,
#                                 key SEC1 ("BEGIN EC PRIVATE KEY")
#   rsa-leaf.pem ecdsa-leaf.pem   the server leaves alone
#   rsa-pkcs8.key ecdsa-pkcs8.key the same server keys as PKCS#8 ("BEGIN PRIVATE KEY")
#   client-rsa.pem/.key           client certs (EKU clientAuth), chain leaf+intermediate,
#   client-ecdsa.pem/.key         keys PKCS#8
#   other-ca.pem other-ca.key     a second CA (ECDSA P-256) that nobody trusts
#   bad-client.pem/.key           client cert issued by other-ca (key PKCS#8)
#   ffdhe2048.pem ffdhe3072.pem   RFC 7919 DH parameters (for openssl s_server -dhparam)
# Server leaves: CN=localhost, SAN DNS:localhost + IP:127.0.0.1, EKU serverAuth,
# keyUsage digitalSignature (+keyEncipherment for RSA). All certificates are
# valid from yesterday for 10 years.
set -eu
OUT=${1:?usage: gen.sh OUTDIR}
[ -f "$OUT/.done" ] && exit 0
command -v openssl >/dev/null || { echo "gen.sh: openssl not found" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Serialise concurrent runs on the same OUTDIR.
if command -v flock >/dev/null; then
  exec 9>"$OUT/.lock"
  flock -w 120 9 || { echo "gen.sh: could not lock $OUT/.lock" >&2; exit 1; }
  [ -f "$OUT/.done" ] && exit 0
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/hasp-certs.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

START=$(date -u -d 'yesterday' +%Y%m%d%H%M%SZ)
END=$(date -u -d '+10 years -1 day' +%Y%m%d%H%M%SZ)

cat >ca.cnf <<EOF
[ ca ]
default_ca = testca
[ testca ]
dir = $W
database = $W/index.txt
new_certs_dir = $W/newcerts
serial = $W/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied
organizationName = optional
organizationalUnitName = optional
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ v3_root ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_int ]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_server_rsa ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_server_ec ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_client ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
mkdir newcerts
: >index.txt
echo 1000 >serial

q() { # run quietly, show output only on failure
  local log
  log=$("$@" 2>&1) || { echo "gen.sh: failed: $*" >&2; echo "$log" >&2; exit 1; }
}
key_rsa() { q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
key_ec() {
  q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt ec_param_enc:named_curve -out "$1"
}
# sign SUBJECT KEY EXT OUTCERT ISSUERCERT ISSUERKEY   (ISSUERCERT "-" = self-signed)
sign() {
  local subj=$1 key=$2 ext=$3 out=$4 icert=$5 ikey=$6
  q openssl req -new -config ca.cnf -key "$key" -subj "$subj" -out "$out.csr"
  if [ "$icert" = - ]; then
    q openssl ca -batch -notext -config ca.cnf -selfsign -keyfile "$key" -in "$out.csr" \
      -out "$out" -extensions "$ext" -startdate "$START" -enddate "$END" -preserveDN
  else
    q openssl ca -batch -notext -config ca.cnf -cert "$icert" -keyfile "$ikey" -in "$out.csr" \
      -out "$out" -extensions "$ext" -startdate "$START" -enddate "$END" -preserveDN
  fi
  rm -f "$out.csr"
}

# Root (RSA) and intermediate (ECDSA): every chain exercises both algorithms.
key_rsa ca.key
sign "/O=hasp tests/CN=hasp test root CA" ca.key v3_root ca.pem - -
key_ec int.key
sign "/O=hasp tests/CN=hasp test intermediate CA" int.key v3_int int.pem ca.pem ca.key

# Server leaves.
key_rsa rsa-pkcs8.key
q openssl rsa -in rsa-pkcs8.key -traditional -out rsa.key
sign "/O=hasp tests/CN=localhost" rsa.key v3_server_rsa rsa-leaf.pem int.pem int.key
cat rsa-leaf.pem int.pem >rsa.pem
key_ec ecdsa-pkcs8.key
q openssl ec -in ecdsa-pkcs8.key -out ecdsa.key
sign "/O=hasp tests/CN=localhost" ecdsa.key v3_server_ec ecdsa-leaf.pem int.pem int.key
cat ecdsa-leaf.pem int.pem >ecdsa.pem

# Client certificates (PKCS#8 keys).
key_rsa client-rsa.key
sign "/O=hasp tests/CN=hasp test client rsa" client-rsa.key v3_client client-rsa-leaf.pem int.pem int.key
cat client-rsa-leaf.pem int.pem >client-rsa.pem
key_ec client-ecdsa.key
sign "/O=hasp tests/CN=hasp test client ecdsa" client-ecdsa.key v3_client client-ecdsa-leaf.pem int.pem int.key
cat client-ecdsa-leaf.pem int.pem >client-ecdsa.pem

# An untrusted CA and a client certificate from it.
key_ec other-ca.key
sign "/O=hasp tests/CN=hasp untrusted other CA" other-ca.key v3_root other-ca.pem - -
key_ec bad-client.key
sign "/O=hasp tests/CN=hasp bad client" bad-client.key v3_client bad-client.pem other-ca.pem other-ca.key

# RFC 7919 groups as DH parameter files.
q openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out ffdhe2048.pem
q openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe3072 -out ffdhe3072.pem

# Sanity: the chains verify and the key formats are the ones promised.
for c in rsa ecdsa client-rsa client-ecdsa; do
  q openssl verify -CAfile ca.pem -untrusted int.pem "$c.pem"
done
q openssl verify -CAfile other-ca.pem bad-client.pem
grep -q 'BEGIN RSA PRIVATE KEY' rsa.key
grep -q 'BEGIN EC PRIVATE KEY' ecdsa.key
grep -q 'BEGIN PRIVATE KEY' client-rsa.key

chmod 600 ./*.key
for f in ca.pem ca.key int.pem int.key rsa.pem rsa.key rsa-leaf.pem rsa-pkcs8.key \
  ecdsa.pem ecdsa.key ecdsa-leaf.pem ecdsa-pkcs8.key client-rsa.pem client-rsa.key \
  client-ecdsa.pem client-ecdsa.key other-ca.pem other-ca.key bad-client.pem bad-client.key \
  ffdhe2048.pem ffdhe3072.pem; do
  cp -p "$f" "$OUT/$f"
done
touch "$OUT/.done"

#!/usr/bin/env bash
# Revocation with CRLs (RFC 5280 5, 6.3) through hasp verify, with CRLs
# made by `openssl ca -gencrl`: a revoked leaf, a revoked intermediate, an
# expired CRL, a CRL signed by the wrong key, the --crl-check policies; each
# asserting the sentence the user sees. Usage: tests/crl.sh BUILD_DIR
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
HASP="$BUILD/hasp"
T=$(mktemp -d)
[ -n "${KEEP_TMP:-}" ] || trap 'rm -rf "$T"' EXIT; [ -n "${KEEP_TMP:-}" ] && echo "# keeping $T"
fails=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }
die() { echo "not ok - crl setup: $*"; exit 1; }

# ca_dir NAME: an `openssl ca` database for CA NAME (its cert and key in $T)
ca_dir() {
  mkdir -p "$T/$1.db/new"
  : >"$T/$1.db/index.txt"
  echo 1000 >"$T/$1.db/crlnumber"
  cat >"$T/$1.cnf" <<X
[ca]
default_ca = this
[this]
dir = $T/$1.db
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = $T/$1.pem
private_key = $T/$1.key
default_md = sha256
default_days = 30
default_crl_days = 7
policy = any
unique_subject = no
copy_extensions = none
crl_extensions = crl_ext
[any]
commonName = supplied
[crl_ext]
authorityKeyIdentifier = keyid:always
[ca_cert]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_dp]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:\${ENV::SAN}
crlDistributionPoints = URI:http://crl.example.test/int.crl
[leaf_cert]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:\${ENV::SAN}
X
  openssl rand -hex 8 >"$T/$1.db/serial"
}

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1.key" 2>/dev/null; }

# issue NAME CN ISSUER EXT [SAN]
issue() {
  key "$1"
  openssl req -new -key "$T/$1.key" -subj "/CN=$2" -out "$T/$1.csr" 2>/dev/null || die "csr $1"
  SAN=${5:-unused.test} openssl ca -batch -config "$T/$3.cnf" -extensions "$4" -notext \
    -in "$T/$1.csr" -out "$T/$1.pem" >/dev/null 2>&1 || die "issue $1"
}
# revoke ISSUER NAME REASON
revoke() {
  SAN=x openssl ca -config "$T/$1.cnf" -revoke "$T/$2.pem" -crl_reason "$3" >/dev/null 2>&1 ||
    die "revoke $2"
}
# crl ISSUER OUT [openssl ca options]
crl() {
  local ca=$1 out=$2
  shift 2
  SAN=x openssl ca -config "$T/$ca.cnf" -gencrl -out "$T/$out" "$@" >/dev/null 2>&1 || die "gencrl $out"
}

key root
openssl req -x509 -new -key "$T/root.key" -subj "/CN=crl test root" -days 3650 -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$T/root.pem" 2>/dev/null || die root
ca_dir root
issue int "crl test intermediate" root ca_cert
issue int2 "crl test intermediate 2" root ca_cert
ca_dir int
ca_dir int2
issue good "good" int leaf_cert good.example.test
issue bad "revoked" int leaf_cert revoked.example.test
issue under2 "under revoked intermediate" int2 leaf_cert under2.example.test
revoke int bad keyCompromise
revoke root int2 cessationOfOperation
crl int int.crl
crl root root.crl
crl int int-1h.crl -crlhours 1
# a CA with the intermediate's name but another key: its CRL is not the intermediate's
key fake
openssl req -x509 -new -key "$T/fake.key" -subj "/CN=crl test intermediate" -days 30 -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$T/fake.pem" 2>/dev/null || die fake
ca_dir fake
sed -i 's/^authorityKeyIdentifier = keyid:always$/# no AKI: only the signature tells/' "$T/fake.cnf"
crl fake fake.crl
openssl crl -in "$T/int.crl" -outform DER -out "$T/int.crl.der" 2>/dev/null || die der
# CRL scope (issuingDistributionPoint), an unknown critical extension, a delta CRL
issue dp "with a distribution point" int leaf_dp dp.example.test
revoke int dp superseded
with_crl_ext() { # NAME EXT_LINE [SECTION]: a CRL of int with one more crl_extension
  sed "s|^\[crl_ext\]\$|[crl_ext]\n$2|" "$T/int.cnf" >"$T/int-$1.cnf"
  [ -n "${3:-}" ] && printf '%b\n' "$3" >>"$T/int-$1.cnf"
  SAN=x openssl ca -config "$T/int-$1.cnf" -gencrl -out "$T/$1.crl" >/dev/null 2>&1 || die "gencrl $1"
}
with_crl_ext onlyca 'issuingDistributionPoint = critical,@idp_ca' '[idp_ca]\nonlyCA = TRUE'
with_crl_ext dpuri 'issuingDistributionPoint = critical,@idp_uri' '[idp_uri]\nfullname = URI:http://crl.example.test/int.crl'
with_crl_ext unknown '1.2.3.4 = critical,ASN1:NULL'
with_crl_ext delta '2.5.29.27 = critical,ASN1:INTEGER:1000'
cat "$T/dp.pem" "$T/int.pem" >"$T/dp_chain.pem"
cat "$T/good.pem" "$T/int.pem" >"$T/good_chain.pem"
cat "$T/bad.pem" "$T/int.pem" >"$T/bad_chain.pem"
cat "$T/under2.pem" "$T/int2.pem" >"$T/under2_chain.pem"
LATER=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)

expect() { # NAME STATUS PATTERN ARGS...
  local name=$1 want=$2 pat=$3
  shift 3
  local out rc
  out=$("$HASP" verify "$@" 2>&1)
  rc=$?
  if [ "$rc" -eq "$want" ] && printf '%s' "$out" | grep -q -- "$pat"; then
    ok "$name"
  else
    notok "$name (exit $rc, wanted $want and '$pat'): $(printf '%s' "$out" | head -3 | tr '\n' ' ')"
  fi
}
R="--cafile $T/root.pem --purpose server"
expect "good leaf, its issuer's CRL given" 0 "verify: OK" $R --crl "$T/int.crl" --crl-check leaf "$T/good_chain.pem"
expect "good leaf, CRL as DER" 0 "verify: OK" $R --crl "$T/int.crl.der" --crl-check leaf "$T/good_chain.pem"
expect "revoked leaf" 1 "certificate 'CN=revoked' (serial [0-9A-F]*) was revoked by 'CN=crl test intermediate' on .*, reason keyCompromise(1)" $R --crl "$T/int.crl" "$T/bad_chain.pem"
expect "revoked leaf: the code" 1 "HASP_ERR_CERT_REVOKED" $R --crl "$T/int.crl" "$T/bad_chain.pem"
expect "revoked leaf without its CRL passes (no policy)" 0 "verify: OK" $R "$T/bad_chain.pem"
expect "revoked intermediate (chain policy)" 1 "certificate 'CN=crl test intermediate 2' (serial [0-9A-F]*) was revoked by 'CN=crl test root' on .*, reason cessationOfOperation(5)" $R --crl "$T/root.crl" --crl "$T/int.crl" "$T/under2_chain.pem"
expect "revoked intermediate found whenever the root's CRL is given" 1 "HASP_ERR_CERT_REVOKED" $R --crl "$T/root.crl" "$T/under2_chain.pem"
expect "chain policy: the intermediate lacks a CRL" 1 "no CRL from 'CN=crl test root' covers certificate 'CN=crl test intermediate', and the revocation policy (crl_check chain" $R --crl "$T/int.crl" --crl-check chain "$T/good_chain.pem"
expect "chain policy: both CRLs given" 0 "verify: OK" $R --crl "$T/int.crl" --crl "$T/root.crl" --crl-check chain "$T/good_chain.pem"
expect "leaf policy: no CRL for the leaf" 1 "no CRL from 'CN=crl test intermediate' covers certificate 'CN=good', and the revocation policy (crl_check leaf) requires one; give it with --crl FILE, or drop --crl-check" $R --crl "$T/root.crl" --crl-check leaf "$T/good_chain.pem"
expect "leaf policy without any CRL" 1 "HASP_ERR_CERT_CRL" $R --crl-check leaf "$T/good_chain.pem"
expect "expired CRL" 1 "the revocation status of certificate 'CN=good' is unknown: the CRL from 'CN=crl test intermediate' expired: its nextUpdate was .* (validation time .*), so a current one from the issuer is needed" $R --crl "$T/int-1h.crl" --at-time "$LATER" "$T/good_chain.pem"
expect "expired CRL: the code" 1 "HASP_ERR_CERT_CRL" $R --crl "$T/int-1h.crl" --at-time "$LATER" "$T/good_chain.pem"
expect "an expired CRL next to a current one is not needed" 0 "verify: OK" $R --crl "$T/int-1h.crl" --crl "$T/int.crl" --crl-check leaf "$T/good_chain.pem"
expect "CRL signed by the wrong key" 1 "the revocation status of certificate 'CN=good' is unknown: the CRL of .* in the name of 'CN=crl test intermediate' does not verify with that issuer's key" $R --crl "$T/fake.crl" "$T/good_chain.pem"
expect "a CRL for CA certificates only does not cover the leaf" 1 "no CRL from 'CN=crl test intermediate' covers certificate 'CN=good' (the one given does not: it covers CA certificates only), and the revocation policy (crl_check leaf) requires one" $R --crl "$T/onlyca.crl" --crl-check leaf "$T/good_chain.pem"
expect "a CRL for CA certificates only, no policy" 0 "verify: OK" $R --crl "$T/onlyca.crl" "$T/good_chain.pem"
expect "a distribution point CRL covers the certificate that names it" 1 "certificate 'CN=with a distribution point' (serial [0-9A-F]*) was revoked by 'CN=crl test intermediate' on .*, reason superseded(4)" $R --crl "$T/dpuri.crl" "$T/dp_chain.pem"
expect "a distribution point CRL does not cover another certificate" 1 "(the one given does not: its issuingDistributionPoint names none of the certificate's CRL distribution points)" $R --crl "$T/dpuri.crl" --crl-check leaf "$T/good_chain.pem"
expect "a CRL with an unknown critical extension fails closed" 1 "the revocation status of certificate 'CN=good' is unknown: the CRL of .* from 'CN=crl test intermediate' cannot be used: it has an unknown critical extension 1.2.3.4, so hasp cannot tell what it covers" $R --crl "$T/unknown.crl" "$T/good_chain.pem"
expect "a delta CRL is refused" 2 "is a delta CRL (deltaCRLIndicator); hasp uses complete CRLs only" $R --crl "$T/delta.crl" "$T/good_chain.pem"
expect "usage: bad --crl-check" 2 "'leaf' or 'chain'" $R --crl-check all "$T/good_chain.pem"
expect "usage: a certificate as --crl" 2 "no CRL found" $R --crl "$T/root.pem" "$T/good_chain.pem"
expect "usage: missing --crl file" 2 "cannot open" $R --crl "$T/nope.crl" "$T/good_chain.pem"

[ -n "${CRL_SHOW:-}" ] && for a in "--crl $T/int.crl $T/bad_chain.pem" "--crl $T/root.crl $T/under2_chain.pem" "--crl $T/int-1h.crl --at-time $LATER $T/good_chain.pem" "--crl $T/fake.crl $T/good_chain.pem" "--crl $T/root.crl --crl-check leaf $T/good_chain.pem"; do "$HASP" verify $R $a | head -1; done
[ "$fails" -eq 0 ]

#!/usr/bin/env bash
# hasp verify against chains made here with the openssl command: each rule
# of the validator, valid and broken. Usage: tests/x509.sh BUILD_DIR
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

# key NAME: a P-256 key
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1.key" 2>/dev/null; }

# ca NAME SUBJECT [EXTRA_EXT_LINES]: a self-signed root
root() {
  key "$1"
  cat >"$T/$1.ext" <<X
[v3]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
${3:-}
X
  openssl req -x509 -new -key "$T/$1.key" -subj "$2" -days 3650 -sha256 \
    -config "$T/$1.ext" -extensions v3 -out "$T/$1.pem" 2>/dev/null ||
    { echo "# could not make $1"; exit 1; }
}

# issue NAME SUBJECT ISSUER DAYS EXT_LINES: a certificate signed by ISSUER
issue() {
  key "$1"
  printf '[v3]\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n%b\n' "$5" >"$T/$1.ext"
  openssl req -new -key "$T/$1.key" -subj "$2" -out "$T/$1.csr" 2>/dev/null &&
    openssl x509 -req -in "$T/$1.csr" -CA "$T/$3.pem" -CAkey "$T/$3.key" -set_serial "0x$(openssl rand -hex 8)" \
      -days "$4" -sha256 -extfile "$T/$1.ext" -extensions v3 -out "$T/$1.pem" 2>/dev/null ||
    { echo "# could not make $1"; exit 1; }
}

CA_EXT='basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign'
LEAF_EXT='basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth'

root root "/CN=hasp test root"
issue int "/CN=hasp test intermediate" root 3650 "$CA_EXT"
issue leaf "/CN=leaf" int 30 "$LEAF_EXT\nsubjectAltName=DNS:www.example.test,DNS:example.test,IP:127.0.0.1"
issue wild "/CN=wild" int 30 "$LEAF_EXT\nsubjectAltName=DNS:*.example.test"
issue client "/CN=client" int 30 "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:www.example.test"
issue notca "/CN=not a ca" root 3650 "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature"
issue leaf_notca "/CN=leaf under not-a-ca" notca 30 "$LEAF_EXT\nsubjectAltName=DNS:www.example.test"
issue pl0 "/CN=pathlen 0" root 3650 "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign"
issue pl0_sub "/CN=below pathlen 0" pl0 3650 "$CA_EXT"
issue leaf_pl "/CN=leaf too deep" pl0_sub 30 "$LEAF_EXT\nsubjectAltName=DNS:www.example.test"
issue nc "/CN=constrained" root 3650 "$CA_EXT\nnameConstraints=critical,permitted;DNS:allowed.test,excluded;DNS:bad.allowed.test"
issue nc_ok "/CN=nc ok" nc 30 "$LEAF_EXT\nsubjectAltName=DNS:www.allowed.test"
issue nc_out "/CN=nc outside" nc 30 "$LEAF_EXT\nsubjectAltName=DNS:www.other.test"
issue nc_excl "/CN=nc excluded" nc 30 "$LEAF_EXT\nsubjectAltName=DNS:x.bad.allowed.test"
issue rootleaf "/CN=direct" root 30 "$LEAF_EXT\nsubjectAltName=DNS:direct.example.test"
# profile differences (docs/x509.md): a CA as the leaf, a leaf without EKU,
# non-critical nameConstraints
issue caleaf "/CN=ca as leaf" root 30 "$CA_EXT\nsubjectAltName=DNS:ca.example.test"
issue noeku "/CN=no eku" root 30 "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=DNS:noeku.example.test"
issue critceku "/CN=critical eku" root 30 "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,serverAuth\nsubjectAltName=DNS:ceku.example.test"
root ekuroot "/CN=root with eku" "extendedKeyUsage=serverAuth"
issue ekuroot_leaf "/CN=under a root with eku" ekuroot 30 "$LEAF_EXT\nsubjectAltName=DNS:ekuroot.example.test"
issue ncnc "/CN=non-critical nc" root 3650 "$CA_EXT\nnameConstraints=permitted;DNS:allowed.test"
issue ncnc_leaf "/CN=under non-critical nc" ncnc 30 "$LEAF_EXT\nsubjectAltName=DNS:www.allowed.test"
# a self-signed leaf
key self
openssl req -x509 -new -key "$T/self.key" -subj "/CN=self" -days 30 -sha256 \
  -addext "subjectAltName=DNS:www.example.test" -addext "basicConstraints=critical,CA:FALSE" \
  -out "$T/self.pem" 2>/dev/null || { echo "# could not make self"; exit 1; }
# a leaf with one byte of its signature flipped
openssl x509 -in "$T/leaf.pem" -outform DER -out "$T/leaf.der"
python3 - "$T/leaf.der" "$T/badsig.der" <<'PY' || cp "$T/leaf.der" "$T/badsig.der"
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
d[-5] ^= 0x01
open(sys.argv[2], 'wb').write(d)
PY
# leaf + intermediate as one file (what a server sends)
cat "$T/leaf.pem" "$T/int.pem" >"$T/leaf_chain.pem"

# other key and signature types: Ed25519, P-384, RSA-PSS
issue_with() { # NAME SUBJECT ISSUER KEYALG-OPTS SIGOPTS EXT
  openssl genpkey $4 -out "$T/$1.key" 2>/dev/null
  printf '[v3]\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n%b\n' "$6" >"$T/$1.ext"
  openssl req -new -key "$T/$1.key" -subj "$2" -out "$T/$1.csr" 2>/dev/null &&
    openssl x509 -req -in "$T/$1.csr" -CA "$T/$3.pem" -CAkey "$T/$3.key" -set_serial "0x$(openssl rand -hex 8)" \
      -days 30 $5 -extfile "$T/$1.ext" -extensions v3 -out "$T/$1.pem" 2>/dev/null ||
    { echo "# could not make $1"; exit 1; }
}
issue_with ed_int "/CN=ed25519 intermediate" root "-algorithm ED25519" "-sha256" "$CA_EXT"
issue_with ed_leaf "/CN=ed25519 leaf" ed_int "-algorithm EC -pkeyopt ec_paramgen_curve:P-384" "" "$LEAF_EXT\nsubjectAltName=DNS:ed.example.test"
issue_with rsa_int "/CN=rsa intermediate" root "-algorithm RSA -pkeyopt rsa_keygen_bits:2048" "-sha384" "$CA_EXT"
issue_with pss_leaf "/CN=pss leaf" rsa_int "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" "-sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest" "$LEAF_EXT\nsubjectAltName=DNS:pss.example.test"
issue_with weak_leaf "/CN=weak" root "-algorithm RSA -pkeyopt rsa_keygen_bits:1024" "-sha256" "$LEAF_EXT\nsubjectAltName=DNS:weak.example.test"

NOW=$(date -u +%s)
LATER=$((NOW + 60 * 86400))

# expect NAME STATUS PATTERN ARGS...: run hasp verify, check the exit
# status and that the output contains PATTERN.
expect() {
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

R="--cafile $T/root.pem"
expect "valid chain, intermediate sent with the leaf" 0 "verify: OK" $R --host www.example.test "$T/leaf_chain.pem"
expect "valid chain prints the path" 0 "CN=hasp test intermediate" $R --host www.example.test "$T/leaf_chain.pem"
expect "valid chain, intermediate from --untrusted" 0 "from --untrusted" $R --untrusted "$T/int.pem" --host example.test "$T/leaf.pem"
expect "host names are case-insensitive" 0 "verify: OK" $R --host WWW.Example.TEST "$T/leaf_chain.pem"
expect "IP address in iPAddress SAN" 0 "verify: OK" $R --ip 127.0.0.1 "$T/leaf_chain.pem"
expect "IP address not in the SANs" 1 "does not match" $R --ip 127.0.0.2 "$T/leaf_chain.pem"
expect "wrong host lists the names held" 1 "DNS:www.example.test" $R --host other.test "$T/leaf_chain.pem"
expect "wrong host fails" 1 "HASP_ERR_CERT_NAME" $R --host other.test "$T/leaf_chain.pem"
expect "missing intermediate: unknown issuer" 1 "unknown issuer 'CN=hasp test intermediate'" $R --host www.example.test "$T/leaf.pem"
expect "untrusted root" 1 "UNKNOWN_CA" --cafile "$T/nc.pem" --host www.example.test "$T/leaf_chain.pem"
expect "expired leaf" 1 "expired on" $R --host www.example.test --at-time "$LATER" "$T/leaf_chain.pem"
expect "not yet valid" 1 "is not valid before" $R --host www.example.test --at-time 2000-01-01T00:00:00Z "$T/leaf_chain.pem"
expect "wildcard matches one label" 0 "verify: OK" $R --untrusted "$T/int.pem" --host a.example.test "$T/wild.pem"
expect "wildcard does not match two labels" 1 "does not match" $R --untrusted "$T/int.pem" --host a.b.example.test "$T/wild.pem"
expect "wildcard does not match the bare domain" 1 "does not match" $R --untrusted "$T/int.pem" --host example.test "$T/wild.pem"
expect "clientAuth-only leaf refused for a server" 1 "HASP_ERR_CERT_USAGE" $R --untrusted "$T/int.pem" --purpose server --host www.example.test "$T/client.pem"
expect "clientAuth-only leaf accepted for a client" 0 "verify: OK" $R --untrusted "$T/int.pem" --purpose client "$T/client.pem"
expect "CA:FALSE intermediate" 1 "is not a CA" $R --untrusted "$T/notca.pem" --host www.example.test "$T/leaf_notca.pem"
cat "$T/pl0.pem" "$T/pl0_sub.pem" >"$T/pl_chain.pem"
expect "pathlen violation (chain)" 1 "pathLenConstraint" $R --untrusted "$T/pl_chain.pem" --host www.example.test "$T/leaf_pl.pem"
expect "name constraints: permitted" 0 "verify: OK" $R --untrusted "$T/nc.pem" --host www.allowed.test "$T/nc_ok.pem"
expect "name constraints: outside permitted" 1 "outside the names permitted" $R --untrusted "$T/nc.pem" --host www.other.test "$T/nc_out.pem"
expect "name constraints: excluded" 1 "excluded" $R --untrusted "$T/nc.pem" --host x.bad.allowed.test "$T/nc_excl.pem"
expect "bad signature" 1 "does not verify" $R --untrusted "$T/int.pem" --host www.example.test "$T/badsig.der"
expect "self-signed leaf" 1 "self-signed" $R --host www.example.test "$T/self.pem"
expect "self-signed leaf in the trust store is trusted directly" 0 "verify: OK" --cafile "$T/self.pem" --host www.example.test "$T/self.pem"
expect "a leaf in the trust store is trusted directly" 0 "verify: OK" --cafile "$T/leaf.pem" --host www.example.test "$T/leaf.pem"
expect "Ed25519-signed leaf, P-384 key" 0 "verify: OK" $R --untrusted "$T/ed_int.pem" --host ed.example.test "$T/ed_leaf.pem"
expect "RSA-PSS-signed leaf" 0 "verify: OK" $R --untrusted "$T/rsa_int.pem" --host pss.example.test "$T/pss_leaf.pem"
expect "RSA-1024 key refused" 1 "1024-bit RSA" $R --host weak.example.test "$T/weak_leaf.pem"
expect "max depth 0 refuses an intermediate" 1 "maximum depth" $R --max-depth 0 --host www.example.test "$T/leaf_chain.pem"
expect "max depth 0 allows a leaf under the root" 0 "verify: OK" $R --max-depth 0 --host direct.example.test "$T/rootleaf.pem"
# --max-depth N counts as openssl verify -verify_depth N does
for n in 0 1; do
  openssl verify -CAfile "$T/root.pem" -untrusted "$T/int.pem" -verify_depth $n "$T/leaf.pem" >/dev/null 2>&1
  o=$?
  "$HASP" verify --cafile "$T/root.pem" --untrusted "$T/int.pem" --max-depth $n "$T/leaf.pem" >/dev/null 2>&1
  h=$?
  if [ $((o == 0)) -eq $((h == 0)) ]; then ok "--max-depth $n agrees with openssl verify -verify_depth $n (hasp exit $h)"; else
    notok "--max-depth $n: hasp exits $h, openssl verify -verify_depth $n exits $o"
  fi
done
expect "max depth 255 is accepted" 0 "verify: OK" $R --max-depth 255 --host www.example.test "$T/leaf_chain.pem"
expect "usage: max depth 256" 2 "from 0 to 255" $R --max-depth 256 "$T/leaf_chain.pem"
expect "webpki: CA certificate as a server leaf refused" 1 "CA certificate used as a TLS server" $R --purpose server --host ca.example.test "$T/caleaf.pem"
expect "rfc5280: CA certificate as a server leaf accepted" 0 "verify: OK" $R --profile rfc5280 --purpose server --host ca.example.test "$T/caleaf.pem"
expect "webpki: server leaf without EKU refused" 1 "no extendedKeyUsage" $R --purpose server --host noeku.example.test "$T/noeku.pem"
expect "rfc5280: server leaf without EKU accepted" 0 "verify: OK" $R --profile rfc5280 --purpose server --host noeku.example.test "$T/noeku.pem"
expect "webpki: non-critical nameConstraints honoured" 0 "verify: OK" $R --untrusted "$T/ncnc.pem" --host www.allowed.test "$T/ncnc_leaf.pem"
expect "rfc5280: non-critical nameConstraints refused" 1 "non-critical nameConstraints" $R --profile rfc5280 --untrusted "$T/ncnc.pem" --host www.allowed.test "$T/ncnc_leaf.pem"
expect "a webpki refusal points at --profile rfc5280" 1 "; --profile rfc5280 validates by RFC 5280 alone" $R --purpose server --host noeku.example.test "$T/noeku.pem"
expect "an rfc5280 refusal points at --profile webpki" 1 "; --profile webpki validates by the web PKI's rules" $R --profile rfc5280 --untrusted "$T/ncnc.pem" --host www.allowed.test "$T/ncnc_leaf.pem"
expect "a self-signed leaf points at --cafile" 1 "; to trust it, give it with --cafile FILE" $R --host www.example.test "$T/self.pem"
expect "webpki: critical EKU on a server leaf refused" 1 "critical extendedKeyUsage" $R --purpose server --host ceku.example.test "$T/critceku.pem"
expect "rfc5280: critical EKU on a server leaf accepted" 0 "verify: OK" $R --profile rfc5280 --purpose server --host ceku.example.test "$T/critceku.pem"
expect "webpki: a root with EKU refused" 1 "trust anchor 'CN=root with eku' has an extendedKeyUsage" --cafile "$T/ekuroot.pem" --purpose server --host ekuroot.example.test "$T/ekuroot_leaf.pem"
expect "rfc5280: a root with EKU serverAuth accepted for a server" 0 "verify: OK" --cafile "$T/ekuroot.pem" --profile rfc5280 --purpose server --host ekuroot.example.test "$T/ekuroot_leaf.pem"
expect "rfc5280: a root with EKU serverAuth refused for a client" 1 "has an extendedKeyUsage without clientAuth" --cafile "$T/ekuroot.pem" --profile rfc5280 --purpose client "$T/ekuroot_leaf.pem"
expect "usage: bad profile" 2 "'webpki' or 'rfc5280'" $R --profile strict "$T/leaf.pem"
expect "help exits 0" 0 "--profile webpki|rfc5280" --help
expect "no host: chain only" 0 "verify: OK" $R "$T/leaf_chain.pem"
expect "usage: no --cafile" 2 "required" "$T/leaf.pem"
expect "usage: bad option" 2 "unknown option" $R --bogus "$T/leaf.pem"
expect "usage: bad time" 2 "RFC 3339" $R --at-time yesterday "$T/leaf.pem"
expect "usage: --host and --ip" 2 "not both" $R --host a --ip 127.0.0.1 "$T/leaf.pem"

[ "$fails" -eq 0 ]

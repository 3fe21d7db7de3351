#!/usr/bin/env bash
# tlsfuzzer against `hasp server`: make the certificates the config names,
# fill in their folder, run ../shared/tlsfuzzer/run.
#   tests/conformance/run.sh BUILD [CONFIG.json] [SCRIPT.py]
# CONFIG defaults to tests/conformance/tlsfuzzer.json (every script);
# tests/conformance/ci.json is the subset .ci/run uses. In a config, @DIR@
# stands for the folder of generated keys and certificates, @TF@ for the
# tlsfuzzer folder. Ends with the runner's line "tlsfuzzer: scripts passed
# X/Y, cases passed A/B"; exits non-zero when any script failed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
CONFIG=${2:-tests/conformance/tlsfuzzer.json}
SCRIPT=${3:-}
TF=$(cd ../shared/tlsfuzzer 2>/dev/null && pwd) || {
    echo "conformance: ../shared/tlsfuzzer is missing" >&2; exit 2; }
HASP_BIN=$PWD/$BUILD/hasp
[ -x "$HASP_BIN" ] || { echo "conformance: build $HASP_BIN first (make)" >&2; exit 2; }
DIR=$PWD/$BUILD/conformance
mkdir -p "$DIR"

# Fresh certificates on tlsfuzzer's own keys (its certificates expired years
# ago; the keys are what the scripts know). The client certificate is
# self-signed and is also the CA the server trusts for client certificates.
mk() { # key out subject [extra openssl args...]
    local key=$1 out=$2 subj=$3
    shift 3
    [ -s "$out" ] && return 0
    openssl req -new -x509 -key "$key" -out "$out" -days 3650 -subj "$subj" \
        -addext "subjectAltName=DNS:localhost" "$@" 2>/dev/null
}
mk "$TF/tests/serverX509Key.pem" "$DIR/server-rsa.pem" /CN=localhost -sha256
mk "$TF/tests/serverRSAPSSKey.pem" "$DIR/server-pss.pem" /CN=localhost \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sha256
mk "$TF/tests/serverECKey.pem" "$DIR/server-ec.pem" /CN=localhost -sha256
mk "$TF/tests/serverEd25519Key.pem" "$DIR/server-ed25519.pem" /CN=localhost
mk "$TF/tests/clientX509Key.pem" "$DIR/client-rsa.pem" "/CN=Some Client" -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=digitalSignature,keyCertSign" \
    -addext "extendedKeyUsage=clientAuth"
mk "$TF/tests/clientRSAPSSKey.pem" "$DIR/client-pss.pem" "/CN=Some Client PSS" \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=digitalSignature,keyCertSign" \
    -addext "extendedKeyUsage=clientAuth"
# ECDSA and Ed25519 client certificates on the server keys (tlsfuzzer has
# no client keys of those types).
mk "$TF/tests/serverECKey.pem" "$DIR/client-ec.pem" "/CN=Some Client EC" -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=digitalSignature,keyCertSign" \
    -addext "extendedKeyUsage=clientAuth"
mk "$TF/tests/serverEd25519Key.pem" "$DIR/client-ed25519.pem" "/CN=Some Client Ed25519" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=digitalSignature,keyCertSign" \
    -addext "extendedKeyUsage=clientAuth"
cat "$DIR"/client-{rsa,pss,ec,ed25519}.pem >"$DIR/client-cas.pem"
for f in server-rsa server-pss server-ec server-ed25519 client-rsa client-pss client-ec client-ed25519; do
    [ -s "$DIR/$f.pem" ] || { echo "conformance: could not make $DIR/$f.pem" >&2; exit 2; }
done

sed -e "s|@DIR@|$DIR|g" -e "s|@TF@|$TF|g" "$CONFIG" >"$DIR/$(basename "$CONFIG")"
export TLSFUZZER_LOG=${TLSFUZZER_LOG:-$PWD/$BUILD/conformance/tlsfuzzer.log}
exec "$TF/run" "$DIR/$(basename "$CONFIG")" "$HASP_BIN" ${SCRIPT:+"$SCRIPT"}

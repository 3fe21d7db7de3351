#!/usr/bin/env bash
# Real hasp traces for docs/handshake.md: hasp server and hasp client on
# loopback with --trace, one handshake per case. Prints each trace between
# <!-- trace:NAME --> and <!-- /trace:NAME --> markers; with --update FILE
# it replaces those blocks in FILE (the prose around them stays).
#
# Usage: scripts/make-traces.sh [BUILD_DIR] [--update docs/handshake.md] [--svg-dir DIR]
#   BUILD_DIR   where the hasp tool is (default: build)
#   --svg-dir   also write NAME.svg (--trace-out) for each case into DIR
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build
UPDATE=""
SVGDIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --update) UPDATE=${2:?--update needs a file}; shift 2 ;;
    --svg-dir) SVGDIR=${2:?--svg-dir needs a directory}; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) BUILD=$1; shift ;;
  esac
done
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
HASP=${HASP:-$BUILD/hasp}
[ -x "$HASP" ] || { echo "make-traces: $HASP not found (make build)" >&2; exit 1; }
CERTS=${HASP_TEST_CERTS:-$BUILD/test-certs}
bash "$ROOT/tests/certs/gen.sh" "$CERTS" >/dev/null || { echo "make-traces: gen.sh failed" >&2; exit 1; }
[ -n "$SVGDIR" ] && mkdir -p "$SVGDIR"
W=$(mktemp -d "${TMPDIR:-/tmp}/hasp-traces.XXXXXX")
SPID=""
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

PORT=$((20000 + $$ % 5000))
port_listening() {
  local hex
  hex=$(printf '%04X' "$1")
  grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# run NAME SIDE CONN "SERVER ARGS" CLIENT ARGS...: one server and one client
# run; keeps the ladder of connection CONN as seen by SIDE (client|server).
run() {
  local name=$1 side=$2 conn=$3 sargs=$4
  shift 4
  PORT=$((PORT + 1))
  while port_listening "$PORT"; do PORT=$((PORT + 1)); done
  local sout=()
  [ -n "$SVGDIR" ] && [ "$side" = server ] && sout=(--trace-out "$SVGDIR/$name.svg")
  # shellcheck disable=SC2086
  timeout 20 "$HASP" server --accept "127.0.0.1:$PORT" --naccept "$conn" --cert "$CERTS/rsa.pem" \
    --key "$CERTS/rsa.key" --trace "${sout[@]}" $sargs </dev/null >/dev/null 2>"$W/srv.err" &
  SPID=$!
  local i=0
  while ! port_listening "$PORT" && [ $i -lt 250 ]; do sleep 0.02; i=$((i + 1)); done
  local cout=()
  [ -n "$SVGDIR" ] && [ "$side" = client ] && cout=(--trace-out "$SVGDIR/$name.svg")
  timeout 20 "$HASP" client "127.0.0.1:$PORT" --cafile "$CERTS/ca.pem" --trace "${cout[@]}" "$@" \
    </dev/null >/dev/null 2>"$W/cli.err"
  wait "$SPID" 2>/dev/null
  SPID=""
  local f="$W/cli.err"
  [ "$side" = server ] && f="$W/srv.err"
  {
    printf '<!-- trace:%s -->\n```text\n' "$name"
    awk -v want="$conn" '
      /^trace ==== connection [0-9]+,/ { c = $4; sub(",", "", c); on = (c + 0 == want) }
      on && /^trace / { sub(/^trace /, ""); print }
      /^trace ==== connection [0-9]+ ended/ { on = 0 }' "$f"
    printf '```\n<!-- /trace:%s -->\n' "$name"
  } >"$W/$name.md"
  cat "$W/$name.md"
  echo
}

run tls12-full client 1 "" --servername localhost --tls1_2
run tls12-resumed client 2 "" --servername localhost --tls1_2 --reconnect 1
run tls12-session-id client 2 "--no-ticket" --servername localhost --tls1_2 --reconnect 1
run tls12-mutual server 1 "--verify-client require --cafile $CERTS/ca.pem --no-ticket" \
  --servername localhost --tls1_2 --cert "$CERTS/client-ecdsa.pem" --key "$CERTS/client-ecdsa.key"
run tls12-renegotiation client 1 "--allow-renegotiation --no-ticket" --servername localhost --tls1_2 \
  --renegotiate
run tls13-full client 1 "" --servername localhost --tls1_3
run tls13-hrr client 1 "--groups P-384" --servername localhost --tls1_3
run tls13-psk client 2 "" --servername localhost --tls1_3 --reconnect 1
printf 'GET / HTTP/1.0\r\n\r\n' >"$W/early.txt"
run tls13-0rtt server 2 "--early-data" --servername localhost --tls1_3 --reconnect 1 \
  --early-data "$W/early.txt"
run failure-name client 1 "" --servername wrong.example --tls1_2

if [ -n "$UPDATE" ]; then
  python3 - "$UPDATE" "$W" <<'EOF'
import os, re, sys
path, w = sys.argv[1], sys.argv[2]
doc = open(path).read()
n = 0
for f in sorted(os.listdir(w)):
    if not f.endswith('.md'):
        continue
    name = f[:-3]
    block = open(os.path.join(w, f)).read().rstrip('\n')
    pat = re.compile(r'<!-- trace:%s -->.*?<!-- /trace:%s -->' % (re.escape(name), re.escape(name)), re.S)
    doc, k = pat.subn(lambda m: block, doc)
    n += k
open(path, 'w').write(doc)
print('make-traces: %d trace blocks updated in %s' % (n, path), file=sys.stderr)
EOF
fi
